"""SpeechBrain ``MetricStats`` of every metric by name, for Brains and
evaluation.

Authors
 * speechbrain_rnncodec team 2026
"""

import functools
import math

import numpy as np
import torch
from speechbrain.utils.metric_stats import ErrorRateStats, MetricStats

from speechbrain_rnncodec.metrics.asr import WhisperASR, append_transcripts
from speechbrain_rnncodec.metrics.dnsmos import dnsmos_scores
from speechbrain_rnncodec.metrics.signal import mel_distance, pesq_wb, si_sdr, stoi
from speechbrain_rnncodec.metrics.speaker import speaker_similarity


def _dnsmos_field(decoded, reference, lengths, sample_rate=16000, field="ovrl"):
    """One DNSMOS score of ``decoded`` (``reference`` is not used)."""
    return dnsmos_scores(decoded, lengths, sample_rate)[field]


_METRICS = {
    "pesq": pesq_wb,
    "stoi": stoi,
    "mel_distance": mel_distance,
    "si_sdr": si_sdr,
    "speaker_similarity": speaker_similarity,
    "dnsmos": functools.partial(_dnsmos_field, field="ovrl"),
    "dnsmos_sig": functools.partial(_dnsmos_field, field="sig"),
    "dnsmos_bak": functools.partial(_dnsmos_field, field="bak"),
}
METRIC_NAMES = tuple(_METRICS) + ("wer",)


def metric_stats(names, sample_rate=16000, asr=None):
    """A ``MetricStats`` per metric name, for use in a Brain.

    Every one takes ``stats[name].append(ids, decoded, reference, lengths)``
    (waveforms [B, T], relative lengths [B]) and gives its mean over the
    utterances with ``stats[name].summarize("average")`` (NaN scores are
    skipped). Names: "pesq", "stoi", "mel_distance", "si_sdr",
    "speaker_similarity", "dnsmos" (OVRL), "dnsmos_sig", "dnsmos_bak" (each
    DNSMOS name runs the model again) and "wer" (a ``WerStats``, whose
    ``reference`` may also be the list of true transcripts).

    Arguments
    ---------
    names : iterable of str
        Metrics wanted, from ``METRIC_NAMES``.
    sample_rate : int
        Sampling rate of the waveforms that will be appended.
    asr : WhisperASR, optional
        Recogniser for "wer" (default: ``WhisperASR()``, Whisper-base).

    Returns
    -------
    dict
        Fresh stats objects by name.

    Example
    -------
    >>> stats = metric_stats(["si_sdr", "mel_distance"])
    >>> x = torch.randn(2, 8000)
    >>> for s in stats.values():
    ...     s.append(["a", "b"], x, x, torch.ones(2))
    >>> stats["mel_distance"].summarize("average")
    0.0
    """
    stats = {}
    for name in names:
        if name == "wer":
            stats[name] = WerStats(asr=asr, sample_rate=sample_rate)
        elif name in _METRICS:
            metric = functools.partial(_METRICS[name], sample_rate=sample_rate)
            stats[name] = NanSkippingMetricStats(metric=metric, batch_eval=True)
        else:
            raise ValueError(f"unknown metric {name!r}; known: {METRIC_NAMES}")
    return stats


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


class WerStats(MetricStats):
    """``MetricStats``-like corpus WER of an ASR on decoded speech.

    ``append(ids, decoded, reference, lengths)`` transcribes ``decoded``
    with the ASR and scores it against ``reference``: a list of true
    transcripts, or waveforms [B, T] whose own ASR transcripts then serve
    as references (WER relative to the original audio). Transcripts are
    normalised with ``normalize_text``. ``summarize("average")`` (or
    "error_rate", "WER") is the corpus WER in percent; ``summarize()`` also
    gives SpeechBrain's counts (insertions, deletions, substitutions, ...).

    Arguments
    ---------
    asr : WhisperASR, optional
        Any object with ``transcribe(wavs, lengths, sample_rate)``
        (default: ``WhisperASR()``, made on first use).
    sample_rate : int
        Sampling rate of the appended waveforms.
    normalize : bool
        Whether to normalise transcripts before scoring.

    Example
    -------
    >>> class Echo:  # a stand-in ASR
    ...     def transcribe(self, wavs, lengths=None, sample_rate=16000):
    ...         return ["the cat sat down"] * len(wavs)
    >>> stats = WerStats(asr=Echo())
    >>> stats.append(["a"], torch.zeros(1, 10), ["The cat sat UP."], torch.ones(1))
    >>> stats.summarize("average")
    25.0
    >>> stats.hypotheses, stats.references
    (['the cat sat down'], ['The cat sat UP.'])
    """

    def __init__(self, asr=None, sample_rate=16000, normalize=True):
        self.asr = asr
        self.sample_rate = sample_rate
        self.normalize = normalize
        self.clear()

    def clear(self):
        """Removes all appended utterances."""
        self.ids = []
        self.hypotheses = []
        self.references = []
        self.error_stats = ErrorRateStats()
        self.scores = self.error_stats.scores
        self.summary = {}

    def append(self, ids, decoded, reference, lengths=None):
        """Transcribes a batch and stores its word alignments.

        Arguments
        ---------
        ids : list
            Utterance ids.
        decoded : torch.Tensor
            Decoded waveforms [B, T].
        reference : list of str or torch.Tensor
            True transcripts, or original waveforms [B, T] to transcribe.
        lengths : torch.Tensor, optional
            Relative lengths [B] of the waveforms.
        """
        if self.asr is None:
            self.asr = WhisperASR()
        hypotheses = self.asr.transcribe(decoded, lengths, self.sample_rate)
        if isinstance(reference, torch.Tensor):
            reference = self.asr.transcribe(reference, lengths, self.sample_rate)
        reference = list(reference)
        if not len(ids) == len(hypotheses) == len(reference):
            raise ValueError("ids, decoded and reference differ in batch size")
        self.ids.extend(ids)
        self.hypotheses.extend(hypotheses)
        self.references.extend(reference)
        append_transcripts(self.error_stats, ids, hypotheses, reference, self.normalize)

    def summarize(self, field=None):
        """Corpus WER ("average", "error_rate" or "WER", in percent) and counts.

        Arguments
        ---------
        field : str, optional
            One entry of the summary (default: all of it, as a dict).

        Returns
        -------
        float or dict
            The entry, or the whole summary.
        """
        self.summary = dict(self.error_stats.summarize())
        self.summary["average"] = self.summary["error_rate"]
        return self.summary[field] if field else self.summary

    def write_stats(self, filestream):
        """Writes the WER summary and the alignments, as ErrorRateStats does.

        Arguments
        ---------
        filestream : file-like
            Where to write.
        """
        self.error_stats.write_stats(filestream)
