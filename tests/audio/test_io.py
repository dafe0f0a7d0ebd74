"""Tests for speechbrain_rnncodec.audio.io.

The FLAC file is a copy of a real LibriSpeech utterance
(/work/shared/data/LibriSpeech, CC BY 4.0); tests needing it are skipped when
the data is absent.
"""

import logging
import math
import re
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch

from speechbrain_rnncodec.audio.io import AudioError, check_waveform, read_audio
from speechbrain_rnncodec.evaluation.demo import SAMPLE as FLAC  # a shipped utterance


@pytest.fixture
def flac(tmp_path):
    path = tmp_path / FLAC.name
    shutil.copy(FLAC, path)
    return path


def test_reads_librispeech_flac(flac, caplog):
    caplog.set_level(logging.INFO, logger="speechbrain_rnncodec.audio.io")
    wav = read_audio(flac)
    info = sf.info(str(flac))
    assert info.samplerate == 16000
    assert wav.dtype == torch.float32
    assert wav.dim() == 1
    assert wav.shape[0] == info.frames
    assert 0 < wav.abs().max() <= 1.0
    assert "resampling" not in caplog.text and "downmixing" not in caplog.text


def test_stereo_44k_is_downmixed_and_resampled(tmp_path, caplog):
    rate, seconds = 44100, 1.5
    t = np.arange(int(rate * seconds)) / rate
    tone = np.sin(2 * np.pi * 300 * t)
    stereo = np.stack([0.4 * tone, 0.2 * tone], axis=1)  # mean: 0.3 * tone
    path = tmp_path / "stereo.wav"
    sf.write(str(path), stereo, rate, subtype="FLOAT")

    caplog.set_level(logging.INFO, logger="speechbrain_rnncodec.audio.io")
    wav = read_audio(path)
    assert wav.dim() == 1 and wav.dtype == torch.float32
    assert abs(wav.shape[0] - 16000 * seconds) <= 1
    t16 = torch.arange(wav.shape[0]) / 16000
    expected = 0.3 * torch.sin(2 * math.pi * 300 * t16)
    inner = slice(400, -400)  # away from the resampling filter's edges
    torch.testing.assert_close(wav[inner], expected[inner], atol=1e-2, rtol=0)
    assert "downmixing 2 channels" in caplog.text
    assert "resampling from 44100 Hz to 16000 Hz" in caplog.text


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_samples_raise(tmp_path, bad):
    data = np.zeros(1600, dtype=np.float32)
    data[[10, 700]] = bad
    path = tmp_path / "bad.wav"
    sf.write(str(path), data, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="2 NaN or infinite"):
        read_audio(path)
    with pytest.raises(AudioError):
        check_waveform(torch.from_numpy(data))


def test_corrupt_file_raises_with_path(tmp_path):
    path = tmp_path / "corrupt.wav"
    path.write_bytes(np.random.default_rng(0).bytes(4000))
    with pytest.raises(AudioError, match=re.escape(str(path))):
        read_audio(path)


def test_truncated_flac_raises_with_path(flac, tmp_path):
    path = tmp_path / "truncated.flac"
    path.write_bytes(flac.read_bytes()[:100])
    with pytest.raises(AudioError, match=re.escape(str(path))):
        read_audio(path)


def test_missing_file_raises(tmp_path):
    path = tmp_path / "missing.wav"
    with pytest.raises(AudioError, match=re.escape(str(path))):
        read_audio(path)


def test_start_and_duration_select_segment(tmp_path):
    ramp = (np.arange(32000) / 32000).astype(np.float32)  # 2 s at 16 kHz
    path = tmp_path / "ramp.wav"
    sf.write(str(path), ramp, 16000, subtype="FLOAT")
    seg = read_audio(path, start=0.5, duration=0.25)
    assert torch.equal(seg, torch.from_numpy(ramp[8000:12000]))
    tail = read_audio(path, start=1.5)
    assert torch.equal(tail, torch.from_numpy(ramp[24000:]))
    assert torch.equal(read_audio(path), torch.from_numpy(ramp))


def test_start_and_duration_are_in_seconds_of_the_file_rate(tmp_path):
    rate = 8000
    ramp = (np.arange(2 * rate) / (2 * rate)).astype(np.float32)
    path = tmp_path / "ramp8k.wav"
    sf.write(str(path), ramp, rate, subtype="FLOAT")
    seg = read_audio(path, start=1.0, duration=0.5)
    assert seg.shape[0] == 8000  # 0.5 s at 16 kHz
    # The segment starts at the middle of the ramp (value 0.5), not at 0.
    assert abs(float(seg[400:-400].min()) - 0.5) < 0.02
    assert abs(float(seg[400:-400].max()) - 0.75) < 0.02
