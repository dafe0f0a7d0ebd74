"""Tests for the grouped bottlenecks' interface (nested dropout, bitrates,
decoding) through its three kinds: scalar, shared codebook (VQ-VAE), VAE."""

import numpy as np
import pytest
import torch

from speechbrain_rnncodec.lobes.quantization.group_vq import GroupVectorQuantizer
from speechbrain_rnncodec.lobes.quantization.scalar import ScalarQuantizer
from speechbrain_rnncodec.lobes.quantization.vae import GaussianVAEBottleneck

DIM = 16


def make(kind, **kwargs):
    torch.manual_seed(0)
    if kind == "scalar":
        args = dict(num_quantizers=8, levels=8, train_num_quantizers=[2, 4, 8])
        return ScalarQuantizer(DIM, **dict(args, **kwargs))
    if kind == "vqvae":
        args = dict(num_quantizers=6, group_dim=4, codebook_size=32)
        args.update(train_num_quantizers=[2, 6])
        return GroupVectorQuantizer(DIM, **dict(args, **kwargs))
    args = dict(num_quantizers=8, max_symbol=15, train_num_quantizers=[4, 8])
    args.update(target_bitrates=[0.5, 1.0])
    return GaussianVAEBottleneck(DIM, **dict(args, **kwargs))


KINDS = ["scalar", "vqvae", "vae"]


@pytest.mark.parametrize("kind", KINDS)
def test_shapes_codes_and_decode(kind):
    bottleneck = make(kind)
    bottleneck.train()(torch.randn(4, 20, DIM))  # initialises the codebook
    bottleneck.eval()
    x = torch.randn(3, 7, DIM)
    for count in bottleneck.train_num_quantizers:
        out = bottleneck(x, num_quantizers=count)
        assert out.quantized.shape == x.shape
        assert out.codes.shape == (3, 7, count) and out.codes.dtype == torch.long
        assert 0 <= out.codes.min() and out.codes.max() < bottleneck.codebook_size
        # The decoder side needs nothing but the codes.
        torch.testing.assert_close(bottleneck.decode(out.codes), out.quantized)
        assert torch.isfinite(out.loss)
    with pytest.raises(ValueError, match="code columns"):
        bottleneck.decode(torch.zeros(1, 2, bottleneck.num_quantizers + 1).long())
    with pytest.raises(ValueError, match="codes must lie"):
        bottleneck.decode(torch.full((1, 2, 1), bottleneck.codebook_size))


def test_bitrate_accounting():
    scalar, vqvae, vae = (make(kind) for kind in KINDS)
    # Raw rates: columns x log2(codebook size) x 50 Hz.
    assert scalar.bitrate(4) == pytest.approx(4 * 3 * 50 / 1000)
    assert scalar.num_quantizers_for(1.2) == 8
    assert vqvae.bitrate(6) == pytest.approx(6 * 5 * 50 / 1000)
    assert vqvae.num_quantizers_for(0.5) == 2
    # The VAE serves its targets; its real rate is the entropy coder's.
    assert vae.num_quantizers_for(0.5) == 4 and vae.bitrate(8) == 1.0
    for bottleneck in (scalar, vqvae, vae):
        with pytest.raises(ValueError, match="not served"):
            bottleneck.num_quantizers_for(0.7)


@pytest.mark.parametrize("kind", KINDS)
def test_nested_dropout_zeroes_the_columns_not_sent(kind):
    """In training each utterance keeps a drawn number of columns: its
    output must not depend on the values of the columns beyond them."""
    bottleneck = make(kind).train()
    x = torch.randn(16, 5, DIM)
    torch.manual_seed(3)
    out = bottleneck(x)
    fewest = min(bottleneck.train_num_quantizers)
    bottleneck.eval()
    low = bottleneck(x, num_quantizers=fewest)
    matches = [
        torch.allclose(out.quantized[b], low.quantized[b], atol=1e-5) for b in range(16)
    ]
    assert 0 < sum(matches) < 16  # some utterances drew the lowest rate


@pytest.mark.parametrize("kind", KINDS)
def test_tiny_overfit_reconstruction_falls(kind, overfit):
    history = overfit(make(kind), DIM)
    first, last = history[0][0], np.mean([h[0] for h in history[-10:]])
    assert np.isfinite(last) and last < 0.7 * first
    assert all(np.isfinite(h[1]) for h in history)
