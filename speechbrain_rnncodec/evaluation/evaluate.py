"""Side-by-side evaluation of codecs on a LibriSpeech-layout folder.

Every codec codes every utterance in-process; the bitrate is measured from
the bytes the codec returns, speed from the wall time of encode and decode
(run with one torch thread for comparable numbers), quality with the
metrics of :mod:`speechbrain_rnncodec.metrics` and intelligibility as the
word error rate of Whisper on the decoded speech.

Authors
 * speechbrain_rnncodec team 2026
"""

import json
import math
import pathlib
import time

import torch
from tqdm import tqdm

from speechbrain_rnncodec.audio.io import read_audio
from speechbrain_rnncodec.metrics.stats import metric_stats

QUALITY = ("pesq", "stoi", "mel_distance", "si_sdr", "speaker_similarity", "dnsmos")
ORIGINAL = "original"
NOISY = "noisy"


class _Tally:
    """Bytes, seconds and timings of one codec over the utterances."""

    def __init__(self, metrics, asr):
        self.stats = metric_stats(metrics, asr=asr)
        self.bytes = self.samples = 0
        self.encode_s = self.decode_s = 0.0

    def summary(self, sample_rate):
        seconds = self.samples / sample_rate
        row = {name: s.summarize("average") for name, s in self.stats.items()}
        if self.bytes:
            row["kbps"] = self.bytes * 8 / seconds / 1000
            row["encode_x"] = seconds / self.encode_s
            row["decode_x"] = seconds / self.decode_s
        return row


def evaluate(codecs, utterances, asr=None, examples=(), progress=True, noise=None):
    """Codes every utterance with every codec and scores the results.

    Arguments
    ---------
    codecs : list of peer_codec.Codec
        The codecs (``make_codec("opus@6")``, ...).
    utterances : list of Utterance
        What to code.
    asr : WhisperASR, optional
        Recogniser for the word error rate (None: no WER).
    examples : collection of str
        Utterance IDs whose decoded audio is kept for a listening report.
    progress : bool
        Show a progress bar.
    noise : callable, optional
        ``noise(utterance ID, waveform) -> (noisy waveform, description)``
        (a :class:`~speechbrain_rnncodec.training.noise.NoisyCopies`): the codecs
        then code the noisy speech and are scored against the clean one
        (denoising), and a ``noisy`` row scores the noisy input itself.

    Returns
    -------
    results : dict
        ``rows``: codec name -> metric averages, measured ``kbps``,
        ``encode_x`` / ``decode_x`` (times real time) and ``wer``; the
        ``original`` row scores the uncoded speech. ``utterances``: per
        utterance and codec, the metric values and measured kbps.
    audio : dict
        ``(utterance ID, codec name) -> waveform`` for ``examples`` (the
        codec name ``original`` holds the input).
    """
    scored = QUALITY + (("wer",) if asr else ())
    tallies = {ORIGINAL: _Tally(("dnsmos",) + (("wer",) if asr else ()), asr)}
    if noise is not None:
        tallies[NOISY] = _Tally(scored, asr)
    tallies.update({c.name: _Tally(scored, asr) for c in codecs})
    per_utt, audio = {}, {}
    bar = tqdm(total=len(utterances) * len(tallies), disable=not progress)
    one = torch.ones(1)
    for utt in utterances:
        wav = read_audio(utt.path)
        ref = wav[None]
        per_utt[utt.id] = {}
        tallies[ORIGINAL].samples += len(wav)
        _append(tallies[ORIGINAL], utt, ref, ref, one, per_utt)
        if utt.id in examples:
            audio[utt.id, ORIGINAL] = wav
        bar.update()
        if noise is not None:
            wav, description = noise(utt.id, wav)
            tallies[NOISY].samples += len(wav)
            _append(tallies[NOISY], utt, wav[None], ref, one, per_utt, NOISY)
            per_utt[utt.id][NOISY]["noise"] = description
            if utt.id in examples:
                audio[utt.id, NOISY] = wav
            bar.update()
        for codec in codecs:
            tally = tallies[codec.name]
            start = time.perf_counter()
            data = codec.encode(wav)
            middle = time.perf_counter()
            decoded = codec.decode(data, num_samples=len(wav))
            tally.encode_s += middle - start
            tally.decode_s += time.perf_counter() - middle
            tally.bytes += len(data)
            tally.samples += len(wav)
            _append(tally, utt, decoded[None], ref, one, per_utt, codec.name)
            per_utt[utt.id][codec.name]["kbps"] = codec.kbps(data, len(wav))
            if utt.id in examples:
                audio[utt.id, codec.name] = decoded
            bar.update()
    bar.close()
    rows = {name: t.summary(16000) for name, t in tallies.items()}
    if asr:
        for row in rows.values():
            row["wer_increase"] = row["wer"] - rows[ORIGINAL]["wer"]
    return {"rows": rows, "utterances": per_utt}, audio


def _append(tally, utt, decoded, ref, lengths, per_utt, name=ORIGINAL):
    """Adds one utterance to a codec's stats and to the per-utterance log."""
    scores = per_utt[utt.id].setdefault(name, {})
    for metric, stats in tally.stats.items():
        if metric == "wer":
            stats.append([utt.id], decoded, [utt.text], lengths)
            scores["transcript"] = stats.hypotheses[-1]
        else:
            stats.append([utt.id], decoded, ref, lengths)
            scores[metric] = float(stats.scores[-1])


COLUMNS = [
    ("kbps", "measured kbps", "{:.2f}"),
    ("pesq", "PESQ-WB", "{:.2f}"),
    ("stoi", "STOI", "{:.3f}"),
    ("mel_distance", "mel dist.", "{:.2f}"),
    ("si_sdr", "SI-SDR dB", "{:.1f}"),
    ("dnsmos", "DNSMOS", "{:.2f}"),
    ("speaker_similarity", "spk sim.", "{:.3f}"),
    ("wer", "WER %", "{:.2f}"),
    ("wer_increase", "WER +%", "{:+.2f}"),
    ("encode_x", "enc x RT", "{:.0f}"),
    ("decode_x", "dec x RT", "{:.0f}"),
]


def markdown_table(results):
    """The results as a Markdown table, one row per codec.

    Arguments
    ---------
    results : dict
        What :func:`evaluate` returned.

    Returns
    -------
    str
        The table.
    """
    rows = results["rows"]
    columns = [c for c in COLUMNS if any(c[0] in r for r in rows.values())]
    lines = [
        "| codec | " + " | ".join(title for _, title, _ in columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for name, row in rows.items():
        cells = []
        for key, _, fmt in columns:
            value = row.get(key)
            ok = value is not None and not math.isnan(value)
            cells.append(fmt.format(value) if ok else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_results(results, output_folder, meta):
    """Writes ``results.json`` and ``results.md`` to ``output_folder``.

    Arguments
    ---------
    results : dict
        What :func:`evaluate` returned.
    output_folder : str
        Created if needed.
    meta : dict
        Command, date, machine, ... stored with the results.

    Returns
    -------
    str
        The Markdown table.
    """
    out = pathlib.Path(output_folder)
    out.mkdir(parents=True, exist_ok=True)
    table = markdown_table(results)
    (out / "results.json").write_text(json.dumps(dict(meta=meta, **results), indent=1))
    header = "\n".join(f"- {k}: {v}" for k, v in meta.items())
    (out / "results.md").write_text(f"{header}\n\n{table}\n")
    return table
