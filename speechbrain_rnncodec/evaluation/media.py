"""Waveforms as the bytes a self-contained page embeds: WAV and FLAC
files, and ``data:`` URIs.

Authors
 * speechbrain_rnncodec team 2026
"""

import base64
import io
import wave

import numpy as np

from speechbrain_rnncodec.audio.io import pcm16

SAMPLE_RATE = 16000


def as_numpy(wav):
    """A 1-D float64 NumPy copy of a tensor or array.

    Example
    -------
    >>> import torch
    >>> as_numpy(torch.ones(2, 1))
    array([1., 1.])
    """
    if hasattr(wav, "detach"):
        wav = wav.detach().cpu().double().numpy()
    return np.asarray(wav, dtype=np.float64).reshape(-1)


def wav_bytes(wav, sample_rate=SAMPLE_RATE):
    """A waveform as the bytes of a mono 16-bit PCM WAV file.

    Arguments
    ---------
    wav : torch.Tensor or numpy.ndarray
        Samples in [-1, 1] (clipped beyond; NaN becomes 0).
    sample_rate : int
        Written in the header.

    Returns
    -------
    bytes
        The WAV file.

    Example
    -------
    >>> data = wav_bytes(np.zeros(160))
    >>> data[:4], data[8:12], len(data)
    (b'RIFF', b'WAVE', 364)
    """
    pcm = pcm16(as_numpy(wav))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def flac_bytes(wav, sample_rate=SAMPLE_RATE):
    """A waveform as the bytes of a 16-bit FLAC file (about half a WAV's).

    Example
    -------
    >>> flac_bytes(np.zeros(1600))[:4]
    b'fLaC'
    """
    import soundfile as sf

    samples = np.clip(np.nan_to_num(np.asarray(wav, dtype=np.float32)), -1.0, 1.0)
    out = io.BytesIO()
    sf.write(out, samples.reshape(-1), sample_rate, format="FLAC", subtype="PCM_16")
    return out.getvalue()


def data_uri(mime, data):
    """A base64 ``data:`` URI.

    Example
    -------
    >>> data_uri("image/png", b"PNG")
    'data:image/png;base64,UE5H'
    """
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
