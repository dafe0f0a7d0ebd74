"""Intrusive signal metrics of decoded speech against the original:
PESQ-WB, STOI, mel distance, SI-SDR (and the model cache of the others).

Authors
 * speechbrain_rnncodec team 2026
"""

import functools
import math

import numpy as np
import torch

# Models loaded once per process, on first use (see ``cached_model``).
_MODELS = {}


def paired_signals(decoded, reference, lengths):
    """Yields unpadded (decoded, reference) NumPy pairs of a batch.

    ``lengths`` relative to ``reference``; None for full lengths.
    """
    n = min(decoded.shape[1], reference.shape[1])
    if lengths is None:
        lengths = torch.ones(len(reference))
    for deg, ref, rel in zip(decoded, reference, lengths, strict=True):
        keep = min(n, int(round(float(rel) * reference.shape[1])))
        yield (
            deg[:keep].detach().float().cpu().numpy(),
            ref[:keep].detach().float().cpu().numpy(),
        )


def pesq_wb(decoded, reference, lengths, sample_rate=16000):
    """Wide-band PESQ (ITU-T P.862.2) per utterance; NaN where undefined.

    Arguments
    ---------
    decoded : torch.Tensor
        Decoded waveforms [B, T].
    reference : torch.Tensor
        Original waveforms [B, T].
    lengths : torch.Tensor
        Relative lengths [B].
    sample_rate : int
        16000 (wide-band PESQ is defined at 16 kHz).

    Returns
    -------
    torch.Tensor
        Scores [B] (from -0.5 to 4.64).

    Example
    -------
    >>> t = torch.arange(32000) / 16000
    >>> x = torch.sin(2 * math.pi * 220 * t) * (1 + torch.sin(2 * math.pi * 3 * t))
    >>> float(pesq_wb(x[None], x[None], torch.ones(1))) > 4.5
    True
    """
    from pesq import PesqError, pesq

    scores = []
    for deg, ref in paired_signals(decoded, reference, lengths):
        try:
            scores.append(pesq(sample_rate, ref, deg, "wb"))
        except PesqError:  # e.g. no speech found in the reference
            scores.append(math.nan)
    return torch.tensor(scores)


def stoi(decoded, reference, lengths, sample_rate=16000):
    """Short-time objective intelligibility per utterance (0 to 1).

    Arguments
    ---------
    decoded : torch.Tensor
        Decoded waveforms [B, T].
    reference : torch.Tensor
        Original waveforms [B, T].
    lengths : torch.Tensor
        Relative lengths [B].
    sample_rate : int
        Sampling rate.

    Returns
    -------
    torch.Tensor
        Scores [B].

    Example
    -------
    >>> x = torch.randn(1, 32000)
    >>> float(stoi(x, x, torch.ones(1))) > 0.99
    True
    """
    from pystoi import stoi as pystoi

    return torch.tensor(
        [
            float(pystoi(ref, deg, sample_rate, extended=False))
            for deg, ref in paired_signals(decoded, reference, lengths)
        ]
    )


def unpadded(wavs, lengths):
    """Yields the unpadded signals of a batch [B, T] as NumPy arrays."""
    if wavs.dim() == 1:
        wavs = wavs[None]
    if lengths is None:
        lengths = torch.ones(len(wavs))
    for wav, rel in zip(wavs, lengths, strict=True):
        keep = min(wavs.shape[1], int(round(float(rel) * wavs.shape[1])))
        yield wav[:keep].detach().float().cpu().numpy()


def resampled(wav, sample_rate, target_rate=16000):
    """A NumPy signal at ``target_rate``."""
    if sample_rate == target_rate:
        return wav
    import torchaudio

    wav = torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))
    return torchaudio.functional.resample(wav, sample_rate, target_rate).numpy()


def cached_model(key, load):
    """Returns ``_MODELS[key]``, calling ``load()`` the first time."""
    if key not in _MODELS:
        _MODELS[key] = load()
    return _MODELS[key]


@functools.lru_cache(maxsize=32)
def _mel_filters(n_fft, n_mels, sample_rate):
    """Slaney mel filters [n_fft // 2 + 1, n_mels] (as librosa's)."""
    import torchaudio

    return torchaudio.functional.melscale_fbanks(
        n_fft // 2 + 1,
        0.0,
        sample_rate / 2,
        n_mels,
        sample_rate,
        norm="slaney",
        mel_scale="slaney",
    )


def mel_distance(
    decoded,
    reference,
    lengths,
    sample_rate=16000,
    window_lengths=(32, 64, 128, 256, 512, 1024, 2048),
    n_mels=(5, 10, 20, 40, 80, 160, 320),
    eps=1e-5,
):
    """Multi-scale log-mel L1 distance per utterance (lower is better).

    As DAC's mel loss and Codec-SUPERB's mel distance: for each window
    length (Hann window, hop a quarter of it, zero-padded centred frames),
    magnitude spectra go through a Slaney mel filterbank, are clamped at
    ``eps`` and taken as ``log10``; the mean absolute difference between
    the two log-mel spectrograms is summed over the scales. 0 for
    identical signals.

    Arguments
    ---------
    decoded : torch.Tensor
        Decoded waveforms [B, T].
    reference : torch.Tensor
        Original waveforms [B, T].
    lengths : torch.Tensor
        Relative lengths [B].
    sample_rate : int
        Sampling rate (the mel filters span 0 to ``sample_rate / 2``).
    window_lengths : tuple of int
        STFT sizes, one per scale.
    n_mels : tuple of int
        Mel bands, one per scale.
    eps : float
        Floor of the mel magnitudes before the logarithm.

    Returns
    -------
    torch.Tensor
        Distances [B]; NaN for empty signals.

    Example
    -------
    >>> x = torch.randn(2, 16000)
    >>> mel_distance(x, x, torch.ones(2)).tolist()
    [0.0, 0.0]
    >>> d = mel_distance(x + 0.5 * torch.randn(2, 16000), x, torch.ones(2))
    >>> bool((d > 0).all())
    True
    """
    scores = []
    for deg, ref in paired_signals(decoded, reference, lengths):
        if len(ref) == 0:
            scores.append(math.nan)
            continue
        pair = torch.from_numpy(np.stack([deg, ref]))
        total = 0.0
        for n_fft, mels in zip(window_lengths, n_mels, strict=True):
            spec = torch.stft(
                pair,
                n_fft,
                hop_length=n_fft // 4,
                window=torch.hann_window(n_fft),
                center=True,
                pad_mode="constant",
                return_complex=True,
            ).abs()
            mel = _mel_filters(n_fft, mels, sample_rate).T @ spec
            log_mel = mel.clamp_min(eps).log10()
            total += float((log_mel[0] - log_mel[1]).abs().mean())
        scores.append(total)
    return torch.tensor(scores)


def si_sdr(decoded, reference, lengths, sample_rate=16000, eps=1e-8):
    """Scale-invariant signal-to-distortion ratio per utterance, in dB.

    Both signals are made zero-mean; the reference is scaled to best
    match the decoded signal and the ratio of its energy to that of the
    rest is taken (Le Roux et al., 2019). Higher is better.

    Arguments
    ---------
    decoded : torch.Tensor
        Decoded waveforms [B, T].
    reference : torch.Tensor
        Original waveforms [B, T].
    lengths : torch.Tensor
        Relative lengths [B].
    sample_rate : int
        Unused (the metric does not depend on it), for a uniform signature.
    eps : float
        Added to both energies so silence gives finite values.

    Returns
    -------
    torch.Tensor
        Scores [B] in dB; NaN for empty signals.

    Example
    -------
    >>> x = torch.randn(1, 16000)
    >>> float(si_sdr(x, x, torch.ones(1))) > 80
    True
    >>> round(float(si_sdr(0.5 * x + 0.1 * x.roll(1), x, torch.ones(1))), 1)
    14.0
    """
    scores = []
    for deg, ref in paired_signals(decoded, reference, lengths):
        if len(ref) == 0:
            scores.append(math.nan)
            continue
        deg = deg.astype(np.float64) - deg.mean(dtype=np.float64)
        ref = ref.astype(np.float64) - ref.mean(dtype=np.float64)
        target = ref * (np.dot(deg, ref) / (np.dot(ref, ref) + eps))
        noise = deg - target
        ratio = (np.dot(target, target) + eps) / (np.dot(noise, noise) + eps)
        scores.append(10 * math.log10(ratio))
    return torch.tensor(scores)
