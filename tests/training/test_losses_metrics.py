"""Tests for the spectral loss and the quality metrics.

The speech is a copy of a real LibriSpeech utterance
(/work/shared/data/LibriSpeech, CC BY 4.0); tests needing it are skipped when
the data is absent.
"""

import math

import pytest
import soundfile as sf
import torch

from speechbrain_rnncodec.evaluation.demo import SAMPLE as FLAC  # a shipped utterance
from speechbrain_rnncodec.metrics.signal import pesq_wb, stoi
from speechbrain_rnncodec.metrics.stats import NanSkippingMetricStats, metric_stats
from speechbrain_rnncodec.training.losses import (
    BandEnergyLoss,
    MultiResolutionSpectralLoss,
    PesqDistanceLoss,
    SpectralBalanceLoss,
    StoiLoss,
)


@pytest.fixture(scope="module")
def speech():
    data, rate = sf.read(str(FLAC), dtype="float32")
    assert rate == 16000
    return torch.from_numpy(data)


def noisy(x, snr_db, seed=0):
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(x.shape, generator=gen)
    noise = noise * x.pow(2).mean().sqrt() / noise.pow(2).mean().sqrt()
    return x + noise * 10 ** (-snr_db / 20)


def total(terms):
    return sum(terms.values())


# ---------------------------------------------------------------------- loss
def test_spectral_loss_zero_for_identical_signals():
    torch.manual_seed(0)
    y = torch.randn(2, 8000)
    terms = MultiResolutionSpectralLoss()(y, y)
    assert sorted(terms) == ["complex", "convergence", "log_mag", "mel"]
    assert all(float(v) == 0.0 for v in terms.values())


def test_spectral_loss_grows_with_noise():
    loss = MultiResolutionSpectralLoss()
    torch.manual_seed(0)
    t = torch.arange(8000) / 16000
    y = (torch.sin(2 * math.pi * 220 * t) + 0.1 * torch.randn(8000))[None]
    values = [total(loss(noisy(y, snr), y)) for snr in (30, 15, 0)]
    assert 0 < values[0] < values[1] < values[2], values


def test_spectral_loss_is_differentiable():
    loss = MultiResolutionSpectralLoss(n_ffts=(256, 512), n_mels=(40, 64))
    torch.manual_seed(0)
    y = torch.randn(2, 4000)
    y_hat = (y + 0.1 * torch.randn(2, 4000)).requires_grad_()
    total(loss(y_hat, y)).backward()
    assert y_hat.grad is not None
    assert torch.isfinite(y_hat.grad).all()
    assert y_hat.grad.abs().sum() > 0
    # Also finite from an all-zero (silent) estimate, where magnitudes clamp.
    silent = torch.zeros(1, 4000, requires_grad=True)
    total(loss(silent, y[:1])).backward()
    assert torch.isfinite(silent.grad).all()


# ------------------------------------------------------------------- metrics
def test_band_energy_loss_sees_levels_not_the_noise_fine_structure():
    torch.manual_seed(0)
    a, b = torch.randn(2, 1, 16000)  # two noises of the same level
    per_bin = MultiResolutionSpectralLoss(n_ffts=(320,), n_mels=(64,))(a, b)
    same_level = float(BandEnergyLoss()(a, b))
    # in energy (twice the log-magnitude), averaged over the bins of a band
    assert same_level < 0.75 * 2 * float(per_bin["log_mag"])
    assert float(BandEnergyLoss()(2 * a, b)) > same_level + 0.5  # 6 dB louder
    silent = torch.zeros(1, 16000, requires_grad=True)
    BandEnergyLoss()(silent, a).backward()
    assert torch.isfinite(silent.grad).all()


def test_spectral_balance_loss_sees_a_coloration_not_the_frames_randomness():
    torch.manual_seed(0)
    a, b = torch.randn(2, 1, 32000)  # two noises of one spectrum
    balance = SpectralBalanceLoss()
    assert float(balance(a, b)) < 0.1 < float(BandEnergyLoss()(a, b))
    soft_highs = torch.nn.functional.conv1d(  # a first-order low-pass
        a[:, None], torch.tensor([[[0.5, 1.0]]]), padding=1
    )[:, 0, 1:]
    assert float(balance(soft_highs, b)) > 0.5
    estimate = soft_highs.clone().requires_grad_()
    balance(estimate, b).backward()
    assert torch.isfinite(estimate.grad).all()


def test_pesq_distance_loss_ranks_as_pesq_does_and_has_gradients(speech):
    loss = PesqDistanceLoss()
    ref = speech[None]
    degraded = [noisy(speech, snr)[None] for snr in (30, 10, 0)]
    distances = [float(loss(d, ref)) for d in degraded]
    scores = [float(pesq_wb(d, ref, torch.ones(1))[0]) for d in degraded]
    assert distances == sorted(distances), distances  # more noise, more distance
    assert scores == sorted(scores, reverse=True), scores
    assert float(loss(ref, ref)) < 1e-3 < distances[0]
    # A fixed coloration (a first-order high-pass) is nearly free: the
    # spectral terms, not this one, keep it away.
    colored = torch.nn.functional.conv1d(
        ref[:, None], torch.tensor([[[-0.9, 1.0]]]), padding=1
    )[:, 0, 1:]
    assert float(loss(colored, ref)) < 0.1 * distances[0]
    estimate = degraded[1].clone().requires_grad_()
    loss(estimate, ref).backward()
    assert torch.isfinite(estimate.grad).all() and estimate.grad.abs().sum() > 0
    # A silent output (P.862's level alignment would divide by zero) is left
    # out of the mean; a batch of only silent outputs gives 0.
    silent = torch.zeros(1, ref.shape[1], requires_grad=True)
    both = loss(torch.cat([degraded[1], silent]), ref.expand(2, -1))
    torch.testing.assert_close(both, loss(degraded[1], ref))
    alone = loss(silent, ref)
    alone.backward()
    assert float(alone.detach()) == 0.0 and torch.isfinite(silent.grad).all()


def test_stoi_loss_is_one_minus_the_metric_and_has_gradients(speech):
    loss = StoiLoss()
    ref = speech[None]
    degraded = torch.cat([noisy(speech, snr)[None] for snr in (10, 0, -5)])
    values = [float(loss(d[None], ref)) for d in degraded]
    scores = stoi(degraded, ref.expand(3, -1), torch.ones(3))
    torch.testing.assert_close(torch.tensor(values), 1 - scores, atol=0.01, rtol=0)
    assert values == sorted(values), values  # more noise, more loss
    assert float(loss(ref, ref)) < 1e-3
    estimate = degraded[:1].clone().requires_grad_()
    loss(estimate, ref).backward()
    assert torch.isfinite(estimate.grad).all() and estimate.grad.abs().sum() > 0
    # A silent target is left out of the mean; only silent targets give 0.
    silent = torch.zeros_like(ref)
    both = loss(torch.cat([degraded[:1], ref]), torch.cat([ref, silent]))
    torch.testing.assert_close(both, loss(degraded[:1], ref))
    assert float(loss(ref, silent)) == 0.0


def test_pesq_and_stoi_rank_clean_above_noisy(speech):
    ref = speech.expand(3, -1)
    dec = torch.stack([speech, noisy(speech, 20), noisy(speech, 0)])
    lens = torch.ones(3)
    p = pesq_wb(dec, ref, lens)
    s = stoi(dec, ref, lens)
    assert p.shape == s.shape == (3,)
    assert p[0] > 4.4 and s[0] > 0.99
    assert p[0] > p[1] > p[2], p
    assert s[0] > s[1] > s[2], s


def test_metrics_ignore_padding(speech):
    n = speech.shape[0]
    padded = torch.cat([speech, torch.zeros(8000)])
    deg = noisy(speech, 10)
    deg_padded = torch.cat([deg, torch.randn(8000)])  # garbage past the end
    lens = torch.tensor([n / padded.shape[0]])
    for metric in (pesq_wb, stoi):
        expected = metric(deg[None], speech[None], torch.ones(1))
        got = metric(deg_padded[None], padded[None], lens)
        torch.testing.assert_close(got, expected)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_metric_stats_skip_undefined_pesq(speech):
    stats = metric_stats(["pesq", "stoi"])
    ref = torch.stack([speech, torch.zeros_like(speech)])  # silence: no PESQ
    dec = torch.stack([noisy(speech, 20), torch.zeros_like(speech)])
    lens = torch.ones(2)
    stats["pesq"].append(["speech", "silence"], dec, ref, lens)
    scores = [float(s) for s in stats["pesq"].scores]
    assert not math.isnan(scores[0]) and math.isnan(scores[1])
    summary = stats["pesq"].summarize()
    assert summary["count"] == 1
    assert summary["average"] == pytest.approx(scores[0])
    assert summary["min_score"] == summary["max_score"] == pytest.approx(scores[0])


def test_nan_skipping_summary():
    stats = NanSkippingMetricStats(metric=lambda x: x)
    stats.append(["a", "b", "c", "d"], torch.tensor([1.0, math.nan, 3.0, math.nan]))
    assert stats.summarize("average") == pytest.approx(2.0)
    assert stats.summarize("min_score") == 1.0
    assert stats.summarize("max_score") == 3.0
    assert stats.summarize("count") == 2
    empty = NanSkippingMetricStats(metric=lambda x: x)
    empty.append(["a"], torch.tensor([math.nan]))
    assert math.isnan(empty.summarize("average"))
    assert empty.summarize("count") == 0
