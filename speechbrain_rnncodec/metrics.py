"""Speech quality metrics as functions and SpeechBrain ``MetricStats``.

Authors
 * speechbrain_rnncodec team 2026
"""

import math

import numpy as np
import torch
from speechbrain.utils.metric_stats import MetricStats


def _signals(decoded, reference, lengths):
    """Yields unpadded (decoded, reference) NumPy pairs of a batch."""
    n = min(decoded.shape[1], reference.shape[1])
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
    for deg, ref in _signals(decoded, reference, lengths):
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
            for deg, ref in _signals(decoded, reference, lengths)
        ]
    )


def quality_stats():
    """A ``MetricStats`` per metric: ``{"pesq": ..., "stoi": ...}``.

    Use ``stats[name].append(ids, decoded, reference, lengths)`` then
    ``stats[name].summarize("average")`` (NaN scores are skipped).

    Returns
    -------
    dict
        Fresh MetricStats objects.
    """
    return {
        "pesq": NanSkippingMetricStats(metric=pesq_wb, batch_eval=True),
        "stoi": NanSkippingMetricStats(metric=stoi, batch_eval=True),
    }


class NanSkippingMetricStats(MetricStats):
    """``MetricStats`` whose summary ignores undefined (NaN) scores.

    Example
    -------
    >>> stats = NanSkippingMetricStats(metric=lambda x: x)
    >>> stats.append(["a", "b"], torch.tensor([1.0, float("nan")]))
    >>> stats.summarize("average")
    1.0
    """

    def summarize(self, field=None):
        """Average, min and max over the defined scores."""
        scores = np.array([float(s) for s in self.scores])
        valid = scores[~np.isnan(scores)]
        summary = {
            "average": float(valid.mean()) if len(valid) else math.nan,
            "min_score": float(valid.min()) if len(valid) else math.nan,
            "max_score": float(valid.max()) if len(valid) else math.nan,
            "count": len(valid),
        }
        return summary[field] if field else summary
