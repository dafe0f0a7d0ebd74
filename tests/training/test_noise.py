"""Noise for denoising: kinds, SNR, reproducibility, babble talkers."""

import pytest
import torch

from speechbrain_rnncodec.training.noise import (
    NoiseMixer,
    NoisyCopies,
    make_noise,
    mix_at_snr,
)


def snr_db(clean, noisy):
    return float(10 * torch.log10(clean.pow(2).sum() / (noisy - clean).pow(2).sum()))


@pytest.mark.parametrize("kind", ["white", "pink", "babble"])
def test_each_kind_mixes_at_the_asked_snr(kind):
    gen = torch.Generator().manual_seed(0)
    clean = torch.randn(4000) * 0.1
    talkers = [torch.randn(1000), torch.randn(7000)]  # looped or cut
    noise = make_noise(kind, 4000, gen, talkers)
    assert noise.shape == (4000,) and noise.abs().max() > 0
    assert snr_db(clean, mix_at_snr(clean, noise, 7.5)) == pytest.approx(7.5, abs=1e-3)
    with pytest.raises(ValueError):
        make_noise("brown", 10, gen)
    with pytest.raises(ValueError, match="other talkers"):
        make_noise("babble", 10, gen, [])


def test_mixer_keeps_padding_and_snr_range():
    mixer = NoiseMixer(snr_low=0, snr_high=20)
    clean = torch.randn(6, 1600)
    lens = torch.tensor([1.0, 1.0, 0.5, 1.0, 1.0, 1.0])
    clean[2, 800:] = 0
    noisy = mixer(clean, lens, torch.Generator().manual_seed(1))
    assert torch.all(noisy[2, 800:] == 0)
    for b in range(6):
        n = int(lens[b] * 1600)
        assert -0.01 <= snr_db(clean[b, :n], noisy[b, :n]) <= 20.01
    again = mixer(clean, lens, torch.Generator().manual_seed(1))
    assert torch.equal(noisy, again)


def test_noisy_copies_are_reproducible_and_babble_is_other_speakers():
    pool = {"1-1-0": torch.randn(3000), "1-1-1": torch.randn(3000)}
    same_speaker = NoisyCopies(pool, kinds=["babble"])
    wav = torch.randn(2000)
    _, description = same_speaker("1-1-2", wav)
    assert description.startswith("white")  # no other speaker to babble
    pool["2-5-0"] = torch.full((3000,), 0.5)
    copies = NoisyCopies(pool, snr_low=10, snr_high=10, kinds=["babble"])
    noisy, description = copies("1-1-2", wav)
    assert description == "babble 10.0 dB"
    assert torch.equal(copies("1-1-2", wav)[0], noisy)
    white = NoisyCopies(pool, kinds=["white"])
    assert torch.equal(white("1-1-2", wav)[0], white("1-1-2", wav)[0])
    assert not torch.equal(white("1-1-3", wav)[0], white("1-1-2", wav)[0])
    # The only other speaker is a constant: babble is a (scaled) constant.
    residual = noisy - wav
    assert torch.allclose(residual, residual[0].expand_as(residual))
