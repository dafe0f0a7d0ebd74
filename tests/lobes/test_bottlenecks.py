"""lobes.bottlenecks: the old class paths of the scalar, VQ-VAE and VAE
bottlenecks (hub folders exported before the move to lobes.quantization)
build the moved classes."""

import pytest
from hyperpyyaml import load_hyperpyyaml

from speechbrain_rnncodec.lobes import bottlenecks
from speechbrain_rnncodec.lobes.quantization.group_vq import GroupVectorQuantizer
from speechbrain_rnncodec.lobes.quantization.scalar import ScalarQuantizer
from speechbrain_rnncodec.lobes.quantization.vae import GaussianVAEBottleneck


@pytest.mark.parametrize(
    "cls", [ScalarQuantizer, GroupVectorQuantizer, GaussianVAEBottleneck]
)
def test_an_old_yaml_path_builds_the_moved_class(cls):
    assert cls.__name__ in bottlenecks.__all__
    yaml = f"quantizer: !new:speechbrain_rnncodec.lobes.bottlenecks.{cls.__name__}\n"
    built = load_hyperpyyaml(yaml + "    dim: 8\n")["quantizer"]
    assert type(built) is cls
