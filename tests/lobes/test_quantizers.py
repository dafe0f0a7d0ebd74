"""lobes.quantizers: hub folders exported before the move to
lobes.quantization name the residual VQ by its old path, and still load as
the same model."""

import pathlib
import shutil

import torch

from speechbrain_rnncodec.inference.pretrained import RNNCodec
from speechbrain_rnncodec.inference.shipped import SHIPPED_FOLDER
from speechbrain_rnncodec.lobes import quantizers
from speechbrain_rnncodec.lobes.quantization.residual import ResidualVectorQuantizer
from speechbrain_rnncodec.utils.identity import model_hash

ROOT = pathlib.Path(__file__).resolve().parents[2]
VQ_MODEL = SHIPPED_FOLDER / "rnn_vq_16k"  # the model that wrote BEFORE
BEFORE = ROOT / "tests" / "samples" / "rnn_vq_16k_before_refactor.rnc"
NEW_PATH = "speechbrain_rnncodec.lobes.quantization.residual.ResidualVectorQuantizer"
OLD_PATH = "speechbrain_rnncodec.lobes.quantizers.ResidualVectorQuantizer"


def test_the_old_path_names_the_moved_class():
    assert quantizers.__all__ == ["ResidualVectorQuantizer"]
    assert quantizers.ResidualVectorQuantizer is ResidualVectorQuantizer


def test_a_hub_folder_naming_the_old_path_loads_as_the_same_model(tmp_path):
    codec = RNNCodec.from_hparams(source=str(VQ_MODEL))
    copy = tmp_path / VQ_MODEL.name
    shutil.copytree(VQ_MODEL, copy)
    yaml = copy / "hyperparams.yaml"
    text = yaml.read_text()
    assert NEW_PATH in text
    yaml.write_text(text.replace(NEW_PATH, OLD_PATH))
    old = RNNCodec.from_hparams(source=str(copy), savedir=str(tmp_path / "saved"))
    assert type(old.mods.quantizer) is ResidualVectorQuantizer
    assert old.model_fingerprint() == codec.model_fingerprint()
    # The hash covers class names, not import paths (the shipped one was
    # recorded once, so compare the yaml's hash before and after the rewrite).
    assert model_hash(yaml.read_text(), old.mods) == model_hash(text, codec.mods)
    data = BEFORE.read_bytes()
    assert torch.equal(old.decompress(data), codec.decompress(data))
