"""Reading audio for the codec: any format soundfile reads, any rate and
channel count, with clear errors for what cannot be coded.

Authors
 * speechbrain_rnncodec team 2026
"""

import io
import logging

import numpy as np
import soundfile as sf
import torch
import torchaudio

logger = logging.getLogger(__name__)


class AudioError(ValueError):
    """Audio that cannot be read or coded (the message says why)."""


def check_waveform(wav):
    """Raises :class:`AudioError` unless every sample is finite.

    Arguments
    ---------
    wav : torch.Tensor
        Samples, any shape.

    Returns
    -------
    torch.Tensor
        ``wav`` unchanged.

    Example
    -------
    >>> check_waveform(torch.tensor([float("nan")]))
    Traceback (most recent call last):
    ...
    speechbrain_rnncodec.audio.io.AudioError: audio holds 1 NaN or infinite samples
    """
    bad = int((~torch.isfinite(wav)).sum())
    if bad:
        raise AudioError(f"audio holds {bad} NaN or infinite samples")
    return wav


def pcm16(samples):
    """16-bit PCM of float samples: the one rule of the package, libsndfile's
    (as a .wav written by soundfile): scaled by 32768, rounded, clipped;
    NaN becomes 0.

    Arguments
    ---------
    samples : numpy.ndarray or torch.Tensor
        Float samples, any shape (interleaved frames stay interleaved).

    Returns
    -------
    numpy.ndarray
        int16 samples, flat.

    Example
    -------
    >>> pcm16(np.array([0.5, -1.0, 2.0, float("nan")])).tolist()
    [16384, -32768, 32767, 0]
    """
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    samples = np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0)
    buffer = io.BytesIO()
    sf.write(buffer, samples, 16000, format="RAW", subtype="PCM_16", endian="LITTLE")
    return np.frombuffer(buffer.getvalue(), dtype="<i2")


def to_mono_at(wav, rate, sample_rate, name="audio"):
    """Downmixes [T, C] or [T] samples and resamples them to ``sample_rate``.

    Arguments
    ---------
    wav : torch.Tensor
        Samples [T] or [T, C].
    rate : int
        Their sampling rate.
    sample_rate : int
        The rate wanted.
    name : str
        What to call the audio in notices.

    Returns
    -------
    torch.Tensor
        Mono samples [T'] at ``sample_rate``.

    Example
    -------
    >>> to_mono_at(torch.ones(800, 2), 8000, 16000).shape
    torch.Size([1600])
    """
    if wav.dim() == 2:
        if wav.shape[1] > 1:
            logger.info("%s: downmixing %d channels to mono", name, wav.shape[1])
        wav = wav.mean(dim=1)
    if rate != sample_rate:
        logger.info("%s: resampling from %d Hz to %d Hz", name, rate, sample_rate)
        wav = torchaudio.functional.resample(wav, rate, sample_rate)
    return wav


def read_audio(path, sample_rate=16000, start=0.0, duration=None):
    """Reads (part of) an audio file as mono float samples at ``sample_rate``.

    Arguments
    ---------
    path : str
        Any file soundfile (libsndfile) reads: WAV, FLAC, OGG, ...
    sample_rate : int
        Rate of the returned samples (resampled with a notice if needed).
    start : float
        Offset in seconds.
    duration : float, optional
        Seconds to read (default: to the end).

    Returns
    -------
    torch.Tensor
        Samples [T].
    """
    try:
        with sf.SoundFile(str(path)) as f:
            rate = f.samplerate
            f.seek(int(round(start * rate)))
            frames = -1 if duration is None else int(round(duration * rate))
            data = f.read(frames, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise AudioError(f"cannot read {path}: {err}") from err
    wav = to_mono_at(torch.from_numpy(data), rate, sample_rate, name=str(path))
    return check_waveform(wav)
