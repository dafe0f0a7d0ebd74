"""Tests for the reference pitch: tracking, caching, targets and errors."""

import math
import pathlib

import numpy as np
import pytest
import torch

from speechbrain_rnncodec.audio.io import read_audio
from speechbrain_rnncodec.lobes.excitation import pitch_from_bins
from speechbrain_rnncodec.lobes.source_filter import SourceFilterDecoder
from speechbrain_rnncodec.training.codec_brain import pitch_losses
from speechbrain_rnncodec.training.pitch import cache_pitch, pitch_errors, pitch_targets

SAMPLES = pathlib.Path(__file__).parents[1] / "samples" / "LibriSpeech"
FEMALE = SAMPLES / "test-clean-5/1970/28415/1970-28415-0023.flac"  # speaker 1970 F
MALE = SAMPLES / "test-clean-5/3242/8112/3242-8112-0024.flac"  # speaker 3242 M


def test_cache_tracks_real_speech_once(tmp_path):
    rows = [("f", str(FEMALE)), ("m", str(MALE))]
    assert cache_pitch(rows, tmp_path, read_audio) == 2
    female, male = (np.load(tmp_path / f"{name}.npy") for name in "fm")
    assert len(female) == len(read_audio(FEMALE)) // 160 + 1
    assert 0.3 < (female > 0).mean() < 0.9  # speech has voiced and unvoiced frames
    assert np.median(female[female > 0]) > 1.3 * np.median(male[male > 0])
    assert 70 < np.median(male[male > 0]) < 180
    assert cache_pitch(rows, tmp_path, read_audio) == 0  # resumes: nothing to do
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_targets_follow_the_crop_start():
    track = np.abs(np.sin(np.arange(300) / 7.0)).astype(np.float32) * 200
    track[track < 40] = 0
    whole = pitch_targets(track, 0, 400, 80)
    crop = pitch_targets(track, 80 * 30, 100, 80)
    assert torch.allclose(crop, whole[30:130])


def test_targets_without_voiced_frames():
    targets = pitch_targets(np.zeros(50, dtype=np.float32), 0, 20, 80)
    assert torch.all(targets[:, 1] == 0)
    assert torch.all(torch.isfinite(targets))


def test_errors_count_gross_fine_and_voicing():
    ref = torch.tensor(
        [[math.log(100.0), 1.0], [math.log(100.0), 1.0], [math.log(100.0), 0.0]]
    )
    pred = torch.tensor(
        [[math.log(100.0 * 2 ** (10 / 1200)), 2.0], [math.log(150.0), 2.0], [0.0, 2.0]]
    )
    errors = pitch_errors(pred, ref)
    assert errors["gross"] == 0.5 and errors["frames"] == 2
    assert abs(errors["cents"] - 10) < 1e-3
    assert abs(errors["voicing"] - 1 / 3) < 1e-6
    masked = pitch_errors(pred, ref, torch.tensor([True, False, False]))
    assert masked["gross"] == 0 and masked["voicing"] == 0


@pytest.mark.parametrize("pitch_bins", [0, 96])
def test_pitch_losses_skip_padding_and_unvoiced_frames(pitch_bins):
    dec = SourceFilterDecoder(latent_dim=8, hidden_size=16, pitch_bins=pitch_bins)
    with torch.no_grad():
        _, state = dec(torch.randn(1, 1, 8))
    ref = torch.stack([state.pitch[..., 0], torch.tensor([[1.0, 0.0, 1.0, 1.0]])], -1)
    ref[0, 1, 0] += 1.0  # unvoiced: its F0 does not count
    ref[0, 3, 0] += 1.0  # padding: does not count
    terms = pitch_losses(dec, state, ref, torch.tensor([0.75]))
    exact = dec.pitch_loss(state, ref[..., 0])[0, [0, 2]].mean()
    assert torch.isclose(terms["pitch"], exact)
    ref[0, 0, 0] += 0.5  # a voiced frame off by 0.5 in log F0 costs more
    assert pitch_losses(dec, state, ref, torch.tensor([0.75]))["pitch"] > exact
    assert terms["voicing"] > 0


def test_classified_pitch_reads_back_the_bin_target():
    dec = SourceFilterDecoder(latent_dim=8, hidden_size=16, pitch_bins=96)
    target = torch.tensor([math.log(110.0), math.log(230.0)])
    logits = -((dec.pitch_centres - target[:, None]) ** 2) / 0.001
    assert torch.allclose(pitch_from_bins(logits, dec.pitch_centres), target, atol=0.01)
