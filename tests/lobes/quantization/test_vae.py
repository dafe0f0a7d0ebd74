"""Tests for the Gaussian VAE bottleneck: its learned rate, the rate
weights' adaptation, and the entropy coder that shares its prior."""

import numpy as np
import pytest
import torch

from speechbrain_rnncodec.entropy import gaussian
from speechbrain_rnncodec.entropy.coding import decode_packet, encode_packet
from speechbrain_rnncodec.inference.file_coding import bottleneck_entropy_model
from speechbrain_rnncodec.lobes.quantization.vae import FLOOR, GaussianVAEBottleneck

DIM = 16


def make_vae(**kwargs):
    torch.manual_seed(0)
    args = dict(num_quantizers=8, max_symbol=15, train_num_quantizers=[4, 8])
    args.update(target_bitrates=[0.5, 1.0])
    return GaussianVAEBottleneck(DIM, **dict(args, **kwargs))


def test_vae_rate_term_falls(overfit):
    vae = make_vae(rate_weight=1.0, rate_control=0.0)
    history = overfit(vae, DIM, steps=200)
    rates = [h[2]["kbps_8"] for h in history if "kbps_8" in h[2]]
    assert np.mean(rates[-10:]) < 0.5 * np.mean(rates[:5])
    assert all(np.isfinite(h[1]) and h[1] > 0 for h in history)


def test_vae_rate_weight_rises_while_the_rate_exceeds_its_target():
    vae = make_vae(target_bitrates=[0.01, 0.02], rate_control=0.1)
    before = vae.log_rate_weights.clone()
    vae.train()(torch.randn(8, 10, DIM) * 10)
    assert torch.all(vae.log_rate_weights > before)
    vae.eval()(torch.randn(8, 10, DIM))  # eval does not adapt
    assert torch.all(vae.log_rate_weights > before)


def test_vae_file_bits_match_its_rate_term(overfit):
    """The entropy coder uses the prior the loss measures: a packet's real
    size matches the rate the bottleneck reports."""
    vae = make_vae()
    overfit(vae, DIM, steps=60)
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
    assert FLOOR == gaussian.FLOOR
