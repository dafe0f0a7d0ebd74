"""Speaker similarity: cosine of Resemblyzer's GE2E embeddings (weights
in the wheel).

Authors
 * speechbrain_rnncodec team 2026
"""

import math
import warnings

import numpy as np
import torch

from speechbrain_rnncodec.metrics.signal import cached_model, paired_signals, resampled


def _import_resemblyzer():
    """Imports ``resemblyzer``, quiet about its dependencies' deprecations.

    (``webrtcvad`` imports ``pkg_resources``, hence ``setuptools<81``;
    resemblyzer imports ``scipy.ndimage.morphology``.)
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "pkg_resources is deprecated")
        warnings.filterwarnings("ignore", "Please import `binary_dilation`")
        import resemblyzer
    return resemblyzer


def _load_voice_encoder():
    """Resemblyzer's GE2E speaker encoder (weights inside the package), CPU."""
    return _import_resemblyzer().VoiceEncoder(device="cpu", verbose=False)


def _speaker_embedding(wav, sample_rate):
    """Resemblyzer embedding of a signal (unit norm), or None if silent."""
    resemblyzer = _import_resemblyzer()
    from resemblyzer.hparams import audio_norm_target_dBFS

    wav = resampled(wav, sample_rate).astype(np.float32)
    if not np.any(wav):
        return None
    encoder = cached_model("voice_encoder", _load_voice_encoder)
    speech = resemblyzer.preprocess_wav(wav)  # volume normalised, long silences trimmed
    if len(speech) < 1600:  # the VAD found (almost) no speech: keep it all
        speech = resemblyzer.normalize_volume(
            wav, audio_norm_target_dBFS, increase_only=True
        )
    embedding = encoder.embed_utterance(speech.astype(np.float32))
    return embedding if np.isfinite(embedding).all() else None


def speaker_similarity(decoded, reference, lengths, sample_rate=16000):
    """Cosine similarity of speaker embeddings per utterance.

    Embeddings from Resemblyzer's GE2E speaker encoder (weights shipped in
    the ``resemblyzer`` package, loaded once per process, run on the CPU at
    16 kHz), after its standard preprocessing (volume normalisation and
    trimming of long silences). The embeddings are non-negative, so scores
    lie in [0, 1]; 1 for identical signals. Higher is better.

    Arguments
    ---------
    decoded : torch.Tensor
        Decoded waveforms [B, T].
    reference : torch.Tensor
        Original waveforms [B, T].
    lengths : torch.Tensor
        Relative lengths [B].
    sample_rate : int
        Sampling rate (resampled to 16 kHz if different).

    Returns
    -------
    torch.Tensor
        Scores [B]; NaN where a signal is silent.

    Example
    -------
    >>> x = 0.1 * torch.randn(1, 16000)
    >>> round(float(speaker_similarity(x, x, torch.ones(1))), 4)
    1.0
    """
    scores = []
    for deg, ref in paired_signals(decoded, reference, lengths):
        a = _speaker_embedding(deg, sample_rate)
        b = _speaker_embedding(ref, sample_rate)
        if a is None or b is None:
            scores.append(math.nan)
        else:
            scores.append(float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b)))
    return torch.tensor(scores)


# ------------------------------------------------------------ ASR and WER
