"""Packet loss: seeded loss patterns, and our concealment beside silence and
Opus's own concealment under the same pattern (``rnncodec bench --loss``);
the transport payload's size (``rnncodec bench --transport``).

Loss patterns mark 20 ms packets lost:

* ``random``: each packet is lost with probability ``rate`` (Bernoulli).
* ``gilbert``: the Gilbert model (Gilbert-Elliott with no loss in the good
  state and every packet lost in the bad one): from good, the bad state
  follows with probability ``p = rate / (mean_burst * (1 - rate))``; from
  bad, good follows with ``r = 1 / mean_burst``. Bursts last ``mean_burst``
  packets on average (geometric), the long-run loss is ``rate``, and the
  first state is drawn from the stationary distribution.

Our codec sends one 20 ms frame per packet (:mod:`.bitstream.transport`,
raw payload) and is decoded by a :class:`ConcealingDecoder`; Opus (libopus
through ``opuslib``, 20 ms packets, VBR) gets the same mask and runs its own
packet loss concealment for each missing packet. Both are scored against
the original with PESQ-WB, STOI and DNSMOS (P.835 overall).

Authors
 * speechbrain_rnncodec team 2026
"""

import statistics

import numpy as np
import torch

from speechbrain_rnncodec.bitstream.transport import Packetizer, StreamParams
from speechbrain_rnncodec.evaluation.opus import OpusCodec
from speechbrain_rnncodec.inference.concealment import conceal_decode
from speechbrain_rnncodec.inference.file_coding import narrowed
from speechbrain_rnncodec.metrics.dnsmos import dnsmos
from speechbrain_rnncodec.metrics.signal import pesq_wb, stoi

KINDS = ("random", "gilbert")
MEAN_BURST = 3.0
DEFAULT_PATTERNS = tuple(f"{k}@{r}" for k in KINDS for r in (5, 10, 20))
SCORES = ("pesq", "stoi", "dnsmos")


def loss_mask(kind, num_packets, rate, seed=0, mean_burst=MEAN_BURST):
    """Lost packets (bool [num_packets]) of a seeded loss pattern.

    Arguments
    ---------
    kind : str
        ``"random"`` or ``"gilbert"`` (see the module's docstring).
    num_packets : int
        Packets sent.
    rate : float
        Average loss, 0 <= rate < 1.
    seed : int
        Seed of the pattern.
    mean_burst : float
        ``gilbert``: mean packets per burst (>= 1).

    Returns
    -------
    numpy.ndarray
        True where a packet is lost.

    Example
    -------
    >>> mask = loss_mask("gilbert", 100000, 0.1, seed=1)
    >>> round(float(mask.mean()), 2)
    0.1
    >>> bursts = np.diff(np.flatnonzero(np.diff(np.r_[0, mask, 0])))[::2]
    >>> round(float(bursts.mean()), 1)
    3.0
    """
    if not 0 <= rate < 1:
        raise ValueError(f"loss rate must lie in [0, 1), not {rate}")
    rng = np.random.default_rng(seed)
    draws = rng.random(num_packets)
    if kind == "random":
        return draws < rate
    if kind != "gilbert":
        raise ValueError(f"loss kind must be one of {KINDS}, not {kind!r}")
    if mean_burst < 1:
        raise ValueError(f"mean_burst must be at least 1, not {mean_burst}")
    to_bad = rate / (mean_burst * (1.0 - rate))
    to_good = 1.0 / mean_burst
    if to_bad > 1:
        raise ValueError(f"a {rate:g} loss needs bursts longer than {mean_burst:g}")
    lost = np.zeros(num_packets, dtype=bool)
    bad = rng.random() < rate
    for i, draw in enumerate(draws):
        lost[i] = bad
        bad = draw >= to_good if bad else draw < to_bad
    return lost


def parse_pattern(spec):
    """``"gilbert@10"`` -> ``("gilbert", 0.1)``.

    Example
    -------
    >>> parse_pattern("random@5")
    ('random', 0.05)
    """
    kind, sep, percent = str(spec).strip().partition("@")
    try:
        rate = float(percent) / 100
    except ValueError:
        rate = None
    if not sep or kind not in KINDS or rate is None:
        raise ValueError(f"loss pattern {spec!r} is not KIND@PERCENT, KIND in {KINDS}")
    return kind, rate


def _scores(decoded, reference, sample_rate):
    """PESQ-WB, STOI and DNSMOS of one decoded utterance [T]."""

    deg, ref, ones = decoded[None].float(), reference[None].float(), torch.ones(1)
    return {
        "pesq": float(pesq_wb(deg, ref, ones, sample_rate)),
        "stoi": float(stoi(deg, ref, ones, sample_rate)),
        "dnsmos": float(dnsmos(deg, ones, sample_rate)),
    }


def handover_jumps(decoded, clean, lost, hop, delay):
    """Largest sample-to-sample step around each resumption, over the same
    window of the loss-free decoding (1: no click added).

    Arguments
    ---------
    decoded : torch.Tensor
        Samples [T] decoded under loss.
    clean : torch.Tensor
        Samples [T] decoded without loss.
    lost : numpy.ndarray
        Lost frames [frames].
    hop : int
        Samples per frame.
    delay : int
        The decoder's overlap-add delay (the window starts that early).

    Returns
    -------
    list of float
        One ratio per resumption.
    """
    starts = np.flatnonzero(lost[:-1] & ~lost[1:]) + 1
    out = []
    for frame in starts:
        low, high = max(frame * hop - delay, 0), min((frame + 1) * hop, len(clean))
        if high - low < 2:
            continue
        ours = decoded[low:high].diff().abs().max()
        ref = clean[low:high].diff().abs().max().clamp(min=1e-4)
        out.append(float(ours / ref))
    return out


def _row(name, pattern, per_utt, jumps=None):
    row = {"what": name, "pattern": pattern}
    for key in SCORES:
        values = [s[key] for s in per_utt if np.isfinite(s[key])]
        row[key] = statistics.median(values) if values else float("nan")
    row["jump"] = statistics.median(jumps) if jumps else float("nan")
    return row


def loss_benchmark(
    codec,
    wavs,
    patterns=DEFAULT_PATTERNS,
    methods=("prior", "repeat", "silence"),
    bitrate=3.0,
    opus_kbps=6.0,
    seed=0,
    mean_burst=MEAN_BURST,
    progress=False,
):
    """Scores of each concealment and Opus under each loss pattern.

    Arguments
    ---------
    codec : RNNCodec
        The loaded codec.
    wavs : list of torch.Tensor
        Utterances [T] at 16 kHz.
    patterns : list of str
        ``KIND@PERCENT`` loss patterns (see :func:`parse_pattern`).
    methods : list of str
        Concealment methods of :class:`ConcealingDecoder`.
    bitrate : float
        Our codec's kbps.
    opus_kbps : float, optional
        Opus's target kbps (None: no Opus rows).
    seed : int
        Utterance ``i`` of a pattern is lost with seed ``seed + i``.
    mean_burst : float
        Mean burst of the ``gilbert`` patterns.
    progress : bool
        Shows a progress bar.

    Returns
    -------
    list of dict
        Rows: ``what``, ``pattern``, ``pesq``, ``stoi``, ``dnsmos`` (medians
        over the utterances), ``jump`` (median hand-over step ratio, see
        :func:`handover_jumps`), ``loss`` (share of packets lost).
    """

    parsed = [(spec, *parse_pattern(spec)) for spec in patterns]
    opus = OpusCodec(opus_kbps, in_process=True) if opus_kbps else None
    ours_name = f"rnncodec@{bitrate:g}"
    names = [(ours_name, None)] + [(f"{ours_name} {m}", m) for m in methods]
    if opus:
        names += [(opus.name, None), (f"{opus.name} plc", "opus")]
    scores = {(n, spec): [] for n, _ in names for spec in ["none", *patterns]}
    jumps = {key: [] for key in scores}
    losses = {spec: [] for spec in patterns}
    hop = codec.mods.encoder.samples_per_frame
    delay = codec.mods.decoder.delay_samples
    items = enumerate(wavs)
    if progress:
        from tqdm import tqdm

        items = tqdm(items, total=len(wavs), unit="utt", desc="loss")
    for i, wav in items:
        tokens, _ = codec.encode(wav[None], bitrate=bitrate)
        frames = tokens.shape[1]
        clean = codec.decode(tokens)[0, : len(wav)].cpu()
        scores[ours_name, "none"].append(_scores(clean, wav, codec.sample_rate))
        if opus:
            data = opus.encode(wav)
            opus_clean = opus.decode(data)
            scores[opus.name, "none"].append(_scores(opus_clean, wav, 16000))
        for spec, kind, rate in parsed:
            count = max(frames, len(opus.packet_sizes(data)) if opus else 0)
            mask = loss_mask(kind, count, rate, seed + i, mean_burst)
            losses[spec].append(mask[:frames].mean())
            lost = torch.as_tensor(mask[:frames])[None]
            for name, method in names:
                if method is None:
                    continue
                if method == "opus":
                    out, ref, gone = opus.decode_lost(data, mask), opus_clean, mask
                else:
                    out = conceal_decode(codec, tokens, lost, method=method)
                    out, ref, gone = out[0, : len(wav)].cpu(), clean, mask[:frames]
                scores[name, spec].append(_scores(out, wav, codec.sample_rate))
                jumps[name, spec] += handover_jumps(out, ref, gone, hop, delay)
    rows = []
    for spec in ["none", *patterns]:
        for name, method in names:
            if (method is None) == (spec == "none"):
                row = _row(name, spec, scores[name, spec], jumps[name, spec])
                row["loss"] = float(np.mean(losses[spec])) if spec != "none" else 0.0
                rows.append(row)
    return rows


def transport_overhead(codec, wavs, bitrates=None, frames_per_packet=(1, 2, 5, 50)):
    """Payload bytes per packet and kbps of the transport packets, raw
    and entropy-coded (the codec's entropy model, restarted per packet).

    Arguments
    ---------
    codec : RNNCodec
        The loaded codec.
    wavs : list of torch.Tensor
        Utterances [T].
    bitrates : list of float, optional
        kbps (default: every one the codec serves).
    frames_per_packet : list of int
        Packet sizes in frames.

    Returns
    -------
    list of dict
        Per bitrate and packet size: ``kbps``, ``frames_per_packet``,
        ``ms``, ``raw`` and ``entropy`` (each a dict of
        :func:`overhead_row`), ``saved`` (percent of
        the raw payload the entropy coder saves).
    """
    rows = []
    model = narrowed(codec, codec.entropy_model)  # a narrowed column's own codes
    for kbps in bitrates or codec.bitrates:
        codes = [codec.encode(w[None], bitrate=kbps)[0][0].cpu().numpy() for w in wavs]
        frames = sum(len(c) for c in codes)
        for fpp in frames_per_packet:
            row = {"kbps": kbps, "frames_per_packet": fpp}
            for coding in ("raw", "entropy"):
                params = StreamParams.for_codec(codec, kbps, fpp, coding)
                payloads = []
                for utt in codes:
                    sender = Packetizer(params, model)
                    payloads += [p for _, p in sender.push(utt) + sender.flush()]
                row[coding] = overhead_row(params, payloads, frames)
            row["ms"] = 1000.0 * fpp / params.frame_rate
            row["saved"] = 100 * (1 - row["entropy"]["kbps"] / row["raw"]["kbps"])
            rows.append(row)
    return rows


def overhead_row(params, payloads, frames):
    """Bytes per packet and kbps of payloads against the token rate.

    Arguments
    ---------
    params : StreamParams
        The stream they belong to.
    payloads : list of bytes
        Packets' payloads.
    frames : int
        Token frames they hold.

    Returns
    -------
    dict
        ``bytes_per_packet``, ``kbps``, ``token_kbps``, ``overhead``
        (percent above the token rate).

    Example
    -------
    >>> params = StreamParams(16000, 320, 6, 1024)
    >>> row = overhead_row(params, [bytes(8)] * 50, 50)
    >>> row["kbps"], round(row["overhead"], 1)
    (3.2, 6.7)
    """
    size = sum(len(p) for p in payloads)
    kbps = size * 8 * params.frame_rate / max(frames, 1) / 1e3
    return {
        "bytes_per_packet": size / max(len(payloads), 1),
        "kbps": kbps,
        "token_kbps": params.token_kbps,
        "overhead": 100 * (kbps / params.token_kbps - 1),
    }
