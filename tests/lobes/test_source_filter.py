"""Tests for the source-filter decoder: excitation, filters, state, pitch."""

import math

import pytest
import torch

from speechbrain_rnncodec.lobes.excitation import (
    band_interpolation,
    harmonic_excitation,
)
from speechbrain_rnncodec.lobes.source_filter import SourceFilterDecoder
from speechbrain_rnncodec.lobes.streaming import StreamingDecoder, decode_latents

FRAME = 320
DELAY = 240
RATE = 16000


def make_decoder(seed=0, **kwargs):
    torch.manual_seed(seed)
    dec = SourceFilterDecoder(latent_dim=8, hidden_size=16, **kwargs).eval()
    if dec.residual:  # zero at initialisation: give the residual a say
        with torch.no_grad():
            dec.residual_head.weight.normal_(0.0, 0.01)
    return dec


def spectrum(wav):
    """Magnitude spectrum with 1 Hz bins of a 1 s signal."""
    return torch.fft.rfft(wav[:RATE] * torch.hann_window(RATE)).abs()


def test_shapes_and_pitch_controls():
    dec = make_decoder()
    assert (dec.samples_per_frame, dec.delay_samples) == (FRAME, DELAY)
    with torch.no_grad():
        wav, state = dec(torch.randn(2, 7, 8))
    assert wav.shape == (2, 7 * FRAME - DELAY)
    assert state.pitch.shape == (2, 28, 2)
    assert dec.flush(state).shape == (2, DELAY)


@pytest.mark.parametrize("pitch_bins, min_phase", [(0, False), (96, False), (0, True)])
@pytest.mark.parametrize("chunk", [1, 3, "mixed"])
def test_streaming_matches_whole_decode(chunk, pitch_bins, min_phase):
    dec = make_decoder(pitch_bins=pitch_bins, min_phase=min_phase)
    latents = torch.randn(2, 23, 8)
    with torch.no_grad():
        wav, whole_state = dec(latents)
        whole = torch.cat([wav, dec.flush(whole_state)], dim=1)
    sizes = [1, 2, 5] if chunk == "mixed" else [chunk]
    stream, out, pitches, pos, i = StreamingDecoder(dec), [], [], 0, 0
    while pos < latents.shape[1]:
        out.append(stream.push(latents[:, pos : pos + sizes[i % len(sizes)]]))
        pitches.append(stream.state.pitch)
        pos, i = pos + sizes[i % len(sizes)], i + 1
    out.append(stream.flush())
    streamed = torch.cat(out, dim=1)
    # The pitch, which the phase integrates, is exactly the same.
    assert torch.equal(torch.cat(pitches, dim=1), whole_state.pitch)
    assert streamed.shape == whole.shape == (2, 23 * FRAME)
    assert (streamed - whole).abs().max() <= 1e-5 * whole.abs().max()


def test_decoding_is_deterministic():
    latents = torch.randn(1, 20, 8)
    with torch.no_grad():
        first = decode_latents(make_decoder(), latents)
        second = decode_latents(make_decoder(), latents)
    assert torch.equal(first, second)
    assert first.abs().max() > 0


def test_causality():
    dec = make_decoder()
    latents = torch.randn(1, 10, 8)
    changed = latents.clone()
    changed[:, 4] += 1.0
    with torch.no_grad():
        diff = (decode_latents(dec, latents) - decode_latents(dec, changed)).abs()[0]
    assert diff[: 4 * FRAME - DELAY].max() == 0
    assert diff[4 * FRAME - DELAY :].max() > 0


def test_teacher_pitch_drives_the_harmonics():
    dec = make_decoder(residual=False, noise=False)
    teacher = torch.tensor([math.log(200.0), 1.0]).expand(1, 200, 2)
    with torch.no_grad():
        wav = decode_latents_with(dec, torch.randn(1, 50, 8), teacher)
    spec = spectrum(wav[0])
    harmonics = spec[[200, 400, 1000, 3000, 6000]]
    between = spec[[300, 500, 1100, 3100, 6100]]
    assert (harmonics > 10 * between).all()


def test_unvoiced_without_noise_is_silent():
    dec = make_decoder(residual=False, noise=False)
    teacher = torch.tensor([math.log(200.0), 0.0]).expand(1, 40, 2)
    with torch.no_grad():
        wav = decode_latents_with(dec, torch.randn(1, 10, 8), teacher)
    assert wav.abs().max() == 0


def decode_latents_with(dec, latents, teacher):
    wav, state = dec(latents, teacher_pitch=teacher)
    return torch.cat([wav, dec.flush(state)], dim=1)


def test_excitation_is_band_limited_and_continuous_across_chunks():
    f0 = torch.linspace(90.0, 310.0, 200)[None]
    zero = torch.zeros(1, dtype=torch.float64)
    whole, _ = harmonic_excitation(f0, zero, f0[:, 0], 80, RATE, 4000.0)
    first, phase = harmonic_excitation(f0[:, :77], zero, f0[:, 0], 80, RATE, 4000.0)
    rest, _ = harmonic_excitation(f0[:, 77:], phase, f0[:, 76], 80, RATE, 4000.0)
    assert torch.allclose(torch.cat([first, rest], dim=1), whole, atol=1e-3)
    spec = spectrum(whole[0])
    assert spec[4400:].max() < 1e-3 * spec[:4000].max()


def test_band_interpolation_is_smooth_and_identity_per_bin():
    m = band_interpolation(16, 161, RATE)
    assert torch.allclose(m.sum(0), torch.ones(161))
    assert (m >= 0).all() and (m <= 1).all()
    assert torch.equal(band_interpolation(161, 161, RATE), torch.eye(161))


def test_gradients_reach_the_filters_not_the_excitation():
    dec = SourceFilterDecoder(latent_dim=8, hidden_size=16)
    latents = torch.randn(1, 5, 8, requires_grad=True)
    teacher = torch.tensor([math.log(120.0), 1.0]).expand(1, 20, 2)
    wav = decode_latents_with(dec, latents, teacher)
    wav.square().sum().backward()
    assert dec.envelope_head.weight.grad.abs().sum() > 0
    assert latents.grad.abs().sum() > 0


def harmonics_at_200hz(**options):
    """Latents of 1 s, a voiced 200 Hz teacher pitch, and two decoders of
    harmonics only (no noise, no residual): a plain one and one with
    ``options``."""
    latents = torch.randn(1, 50, 8)
    teacher = torch.tensor([math.log(200.0), 1.0]).expand(1, 200, 2)
    plain = make_decoder(residual=False, noise=False)
    return latents, teacher, plain, make_decoder(residual=False, noise=False, **options)


def test_bin_correction_starts_neutral_and_shapes_single_bins():
    latents, teacher, plain, corrected = harmonics_at_200hz(bin_correction=True)
    with torch.no_grad():
        before = decode_latents_with(plain, latents, teacher)
        assert torch.equal(decode_latents_with(corrected, latents, teacher), before)
        # Lift one 50 Hz bin (the harmonic at 3 kHz: bin 60) by e.
        bias = corrected.correction_head.bias.view(4, 161)
        bias[:, 60] = 1.0
        after = decode_latents_with(corrected, latents, teacher)
    gain = spectrum(after[0]) / spectrum(before[0])
    assert 2.0 < gain[3000] < 3.0
    assert abs(gain[1000] - 1.0) < 0.01 and abs(gain[6000] - 1.0) < 0.01


def test_min_phase_keeps_the_magnitude_and_moves_the_pulse_energy():
    latents, teacher, zero, minimum = harmonics_at_200hz(min_phase=True)
    with torch.no_grad():
        # A steady envelope with a formant at 500 Hz: its phase is not flat.
        for dec in (zero, minimum):
            dec.envelope_head.weight.zero_()
            bias = dec.envelope_head.bias.view(4, 2, 64)
            bias[:, 0] = -4.0 + 3.0 * torch.exp(-((torch.arange(64) - 12.0) ** 2) / 8)
        a = decode_latents_with(zero, latents, teacher)[0]
        b = decode_latents_with(minimum, latents, teacher)[0]
    ratio = spectrum(b)[200:4001:200] / spectrum(a)[200:4001:200]
    assert torch.all((ratio > 0.8) & (ratio < 1.1))  # harmonics: same level
    assert (a - b).abs().max() > 0.1 * a.abs().max()  # another waveform
