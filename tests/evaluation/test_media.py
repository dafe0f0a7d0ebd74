"""Tests for the waveforms a self-contained page embeds."""

import io
import wave

import numpy as np
import torch

from speechbrain_rnncodec.evaluation.media import wav_bytes


def test_wav_bytes_roundtrip():
    wav = torch.tensor([0.0, 0.5, -0.5, 2.0, -2.0, float("nan")])
    with wave.open(io.BytesIO(wav_bytes(wav, 8000))) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    assert pcm.tolist() == [0, 16384, -16384, 32767, -32768, 0]  # libsndfile rule
