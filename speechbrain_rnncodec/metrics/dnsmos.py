"""DNSMOS P.835 (SIG, BAK, OVRL): non-intrusive quality from the ONNX
models that ship in PyPI's ``speechmos``.

Authors
 * speechbrain_rnncodec team 2026
"""

import math
from pathlib import Path

import numpy as np
import torch

from speechbrain_rnncodec.metrics.signal import cached_model, resampled, unpadded


def _load_dnsmos():
    """DNSMOS P.835 (and P.808) ONNX models of ``speechmos``, on the CPU."""
    import onnxruntime as ort
    from speechmos import dnsmos as speechmos_dnsmos

    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    folder = Path(speechmos_dnsmos.__file__).parent / "dnsmos_models"

    class DNSMOS(speechmos_dnsmos.DNSMOS):
        """speechmos' DNSMOS with sessions limited to torch's thread count."""

        def __init__(self, primary_model_path, p808_model_path):
            self.primary_model_path = str(primary_model_path)
            self.onnx_sess = ort.InferenceSession(
                str(primary_model_path), options, providers=["CPUExecutionProvider"]
            )
            self.p808_onnx_sess = ort.InferenceSession(
                str(p808_model_path), options, providers=["CPUExecutionProvider"]
            )

    return DNSMOS(folder / "sig_bak_ovr.onnx", folder / "model_v8.onnx")


def dnsmos_scores(decoded, lengths, sample_rate=16000):
    """DNSMOS P.835 scores per utterance (non-intrusive, no reference).

    Microsoft's DNSMOS models as shipped by the ``speechmos`` package
    (non-personalised P.835 model plus the P.808 model), run with ONNX
    Runtime on the CPU and loaded once per process. Signals are resampled
    to 16 kHz and clipped to [-1, 1]; each score is the mean over 9.01 s
    windows with a 1 s hop, and shorter signals are repeated up to 9.01 s
    (as speechmos does).

    Arguments
    ---------
    decoded : torch.Tensor
        Waveforms [B, T].
    lengths : torch.Tensor
        Relative lengths [B].
    sample_rate : int
        Sampling rate of ``decoded``.

    Returns
    -------
    dict
        ``{"ovrl": ..., "sig": ..., "bak": ..., "p808": ...}``, each a
        tensor [B] of MOS (1 to 5) for overall quality, speech signal,
        background noise and P.808 overall quality; NaN for empty signals.

    Example
    -------
    >>> scores = dnsmos_scores(0.1 * torch.randn(1, 16000), torch.ones(1))
    >>> sorted(scores)
    ['bak', 'ovrl', 'p808', 'sig']
    >>> 1 <= float(scores["ovrl"]) <= 5
    True
    """
    model = cached_model("dnsmos", _load_dnsmos)
    fields = {
        "ovrl": "ovrl_mos",
        "sig": "sig_mos",
        "bak": "bak_mos",
        "p808": "p808_mos",
    }
    scores = {name: [] for name in fields}
    for wav in unpadded(decoded, lengths):
        wav = np.clip(resampled(wav, sample_rate), -1.0, 1.0).astype(np.float32)
        if len(wav) == 0:
            result = {}
        else:
            result = model(wav, 16000, False)
        for name, key in fields.items():
            scores[name].append(float(result.get(key, math.nan)))
    return {name: torch.tensor(values) for name, values in scores.items()}


def dnsmos(decoded, lengths, sample_rate=16000):
    """DNSMOS P.835 overall quality (OVRL, 1 to 5) per utterance.

    See ``dnsmos_scores`` for the signal and background scores.

    Arguments
    ---------
    decoded : torch.Tensor
        Waveforms [B, T].
    lengths : torch.Tensor
        Relative lengths [B].
    sample_rate : int
        Sampling rate of ``decoded``.

    Returns
    -------
    torch.Tensor
        Scores [B].

    Example
    -------
    >>> score = dnsmos(0.1 * torch.randn(1, 16000), torch.ones(1))
    >>> 1 <= float(score) <= 5
    True
    """
    return dnsmos_scores(decoded, lengths, sample_rate)["ovrl"]
