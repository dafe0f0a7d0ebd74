"""Tests for the scalar, shared-codebook (VQ-VAE) and VAE bottlenecks."""

import numpy as np
import pytest
import torch

from speechbrain_rnncodec.entropy import gaussian
from speechbrain_rnncodec.entropy.coding import decode_packet, encode_packet
from speechbrain_rnncodec.inference.file_coding import bottleneck_entropy_model
from speechbrain_rnncodec.lobes import bottlenecks
from speechbrain_rnncodec.lobes.bottlenecks import (
    GaussianVAEBottleneck,
    GroupVectorQuantizer,
    ScalarQuantizer,
)

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


def _overfit(bottleneck, steps=150):
    """Trains encoder/decoder layers around ``bottleneck`` on fixed data;
    returns the (reconstruction, bottleneck loss, stats) of every step."""
    torch.manual_seed(1)
    data = torch.randn(8, 10, DIM)
    enc, dec = torch.nn.Linear(DIM, DIM), torch.nn.Linear(DIM, DIM)
    params = [*enc.parameters(), *dec.parameters(), *bottleneck.parameters()]
    opt = torch.optim.Adam(params, lr=1e-2)
    history = []
    bottleneck.train()
    for _ in range(steps):
        out = bottleneck(enc(data))
        mse = ((dec(out.quantized) - data) ** 2).mean()
        (mse + out.loss).backward()
        opt.step()
        opt.zero_grad()
        history.append((mse.item(), out.loss.item(), out.stats))
    return history


@pytest.mark.parametrize("kind", KINDS)
def test_tiny_overfit_reconstruction_falls(kind):
    history = _overfit(make(kind))
    first, last = history[0][0], np.mean([h[0] for h in history[-10:]])
    assert np.isfinite(last) and last < 0.7 * first
    assert all(np.isfinite(h[1]) for h in history)


def test_vae_rate_term_falls():
    vae = make("vae", rate_weight=1.0, rate_control=0.0)
    history = _overfit(vae, steps=200)
    rates = [h[2]["kbps_8"] for h in history if "kbps_8" in h[2]]
    assert np.mean(rates[-10:]) < 0.5 * np.mean(rates[:5])
    assert all(np.isfinite(h[1]) and h[1] > 0 for h in history)


def test_vae_rate_weight_rises_while_the_rate_exceeds_its_target():
    vae = make("vae", target_bitrates=[0.01, 0.02], rate_control=0.1)
    before = vae.log_rate_weights.clone()
    vae.train()(torch.randn(8, 10, DIM) * 10)
    assert torch.all(vae.log_rate_weights > before)
    vae.eval()(torch.randn(8, 10, DIM))  # eval does not adapt
    assert torch.all(vae.log_rate_weights > before)


def test_vae_file_bits_match_its_rate_term():
    """The entropy coder uses the prior the loss measures: a packet's real
    size matches the rate the bottleneck reports."""
    vae = make("vae")
    _overfit(vae, steps=60)
    vae.eval()
    torch.manual_seed(4)
    out = vae(torch.randn(1, 50, DIM) * 3)
    codes = out.codes[0].numpy()
    model = bottleneck_entropy_model(vae)
    data = encode_packet(codes, model)
    assert np.array_equal(decode_packet(data, 50, 8, model), codes)
    real_kbps = len(data) * 8 / 50 * vae.frame_rate / 1000
    assert real_kbps == pytest.approx(out.stats["kbps_8"], rel=0.05, abs=0.04)


def test_rate_term_and_coder_share_the_floor():
    assert bottlenecks.FLOOR == gaussian.FLOOR
