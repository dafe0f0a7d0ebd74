"""A self-contained HTML listening report of a codec evaluation.

What :func:`~speechbrain_rnncodec.evaluation.evaluate.evaluate` returns
becomes ``rate_distortion.png``, ``spectrograms.png`` and ONE
``report.html`` that needs nothing else: the plots and the example audio
(16-bit PCM WAV) are embedded as base64 ``data:`` URIs (:mod:`.media`), and a
Content-Security-Policy forbids the page from loading anything else.

matplotlib is imported inside the plotting functions (Agg canvas, no
pyplot, so no global backend state is touched).

Authors
 * speechbrain_rnncodec team 2026
"""

import html
import math
import pathlib

from speechbrain_rnncodec.evaluation.evaluate import COLUMNS, ORIGINAL
from speechbrain_rnncodec.evaluation.media import (
    SAMPLE_RATE,
    as_numpy,
    data_uri,
    flac_bytes,
    wav_bytes,
)
from speechbrain_rnncodec.utils.atomic import write_bytes

RATE_DISTORTION_PNG = "rate_distortion.png"
SPECTROGRAMS_PNG = "spectrograms.png"
REPORT_HTML = "report.html"
_MARKERS = "osD^vP*Xph<>"

# Nothing but inline styles and data: images and audio may load.
_CSP = "default-src 'none'; img-src data:; media-src data:; style-src 'unsafe-inline'"


def family(name):
    """The codec family: the part of a codec name before ``@``.

    Arguments
    ---------
    name : str
        A codec name such as ``"opus@6"``.

    Returns
    -------
    str
        The family (``"opus"``).

    Example
    -------
    >>> family("codec2@3200"), family("original")
    ('codec2', 'original')
    """
    return name.partition("@")[0]


def _finite(value):
    """Whether ``value`` is a real number that is not NaN or infinite."""
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _codec_rows(results):
    """Codec name -> row of every codec (not the original)."""
    return {n: r for n, r in results["rows"].items() if n != ORIGINAL}


def _families(results, key):
    """Family -> sorted ``(kbps, value, setting)``, kbps and value finite."""
    points = {}
    for name, row in _codec_rows(results).items():
        kbps, value = row.get("kbps"), row.get(key)
        if _finite(kbps) and _finite(value):
            setting = name.partition("@")[2]
            points.setdefault(family(name), []).append((kbps, value, setting))
    return {f: sorted(p) for f, p in points.items()}


def plot_rate_distortion(results, path):
    """Plots PESQ-WB and WER against the measured bitrate, one line a family.

    Arguments
    ---------
    results : dict
        What :func:`~speechbrain_rnncodec.evaluation.evaluate.evaluate` returned; uses
        ``kbps``, ``pesq`` and ``wer`` of ``results["rows"]``.
    path : str or pathlib.Path
        The PNG to write.

    Returns
    -------
    pathlib.Path
        ``path``. The WER panel is left out when no codec has a WER; the
        original's WER is drawn as a horizontal dashed line.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    panels = [("pesq", "PESQ-WB")]
    if _families(results, "wer"):
        panels.append(("wer", "WER (%)"))
    fig = Figure(figsize=(5.5 * len(panels), 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    all_kbps = [
        r["kbps"] for r in _codec_rows(results).values() if _finite(r.get("kbps"))
    ]
    for ax, (key, label) in zip(axes, panels, strict=True):
        families = _families(results, key)
        for i, (fam, points) in enumerate(sorted(families.items())):
            kbps, values, _ = zip(*points, strict=True)
            ax.plot(
                kbps,
                values,
                marker=_MARKERS[i % len(_MARKERS)],
                color=f"C{i % 10}",
                label=fam,
            )
            for x, y, setting in points:
                ax.annotate(
                    setting,
                    (x, y),
                    textcoords="offset points",
                    xytext=(4, 4),
                    fontsize="x-small",
                    color=f"C{i % 10}",
                )
        original = results["rows"].get(ORIGINAL, {}).get(key)
        if _finite(original):
            ax.axhline(original, color="0.3", linestyle="--", label=ORIGINAL)
        if not families:
            ax.text(
                0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes
            )
        if all_kbps and max(all_kbps) > 4 * min(all_kbps):
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.margins(x=0.08, y=0.1)
        ax.set_xlabel("measured bitrate (kbps)")
        ax.set_ylabel(label)
        ax.set_title(f"{label} vs bitrate")
        ax.grid(True, which="both", alpha=0.3)
        if families or _finite(original):
            ax.legend(fontsize="small")
    fig.savefig(path, dpi=100)
    return pathlib.Path(path)


def _log_mel(wav, sample_rate, n_fft=512, hop=128, n_mels=80):
    """The log-mel spectrogram (dB, mels x frames) of a 1-D waveform."""
    import torch
    import torchaudio

    wav = torch.as_tensor(as_numpy(wav), dtype=torch.float32)
    if len(wav) < n_fft:
        wav = torch.nn.functional.pad(wav, (0, n_fft - len(wav)))
    spec = (
        torch.stft(
            wav,
            n_fft,
            hop_length=hop,
            window=torch.hann_window(n_fft),
            return_complex=True,
        ).abs()
        ** 2
    )
    fbanks = torchaudio.functional.melscale_fbanks(
        n_fft // 2 + 1, 0.0, sample_rate / 2, n_mels, sample_rate
    )
    mel = fbanks.T @ spec
    return (10 * torch.log10(mel.clamp_min(1e-10))).numpy()


def _example_names(audio, utterance_id):
    """The codec names of one utterance in ``audio``, original first."""
    names = [c for u, c in audio if u == utterance_id]
    return sorted(names, key=lambda c: c != ORIGINAL)


def plot_spectrograms(audio, utterance_id, path, results=None, sample_rate=SAMPLE_RATE):
    """Plots the log-mel spectrograms of one utterance, original first.

    Arguments
    ---------
    audio : dict
        ``(utterance ID, codec name) -> 1-D waveform``, as returned by
        :func:`~speechbrain_rnncodec.evaluation.evaluate.evaluate`.
    utterance_id : str
        The utterance to plot.
    path : str or pathlib.Path
        The PNG to write.
    results : dict, optional
        When given, titles carry the measured kbps of the utterance.
    sample_rate : int
        Of the waveforms.

    Returns
    -------
    pathlib.Path
        ``path``. One panel per signal, stacked, all with one colour scale
        (the loudest bin of all at the top, 80 dB below it at the bottom).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = _example_names(audio, utterance_id)
    if not names:
        raise KeyError(f"no audio for utterance {utterance_id!r}")
    specs = [_log_mel(audio[utterance_id, n], sample_rate) for n in names]
    vmax = max(float(s.max()) for s in specs)
    vmin = vmax - 80
    fig = Figure(figsize=(9, 1.7 * len(names) + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
    for ax, name, spec in zip(axes, names, specs, strict=True):
        seconds = len(as_numpy(audio[utterance_id, name])) / sample_rate
        image = ax.imshow(
            spec,
            origin="lower",
            aspect="auto",
            extent=(0, seconds, 0, spec.shape[0]),
            vmin=vmin,
            vmax=vmax,
            cmap="magma",
            interpolation="nearest",
        )
        kbps = _utterance_kbps(results, utterance_id, name) if results else None
        ax.set_title(
            name + (f" ({kbps:.2f} kbps)" if kbps is not None else ""),
            fontsize="medium",
        )
        ax.set_ylabel("mel band")
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(f"Log-mel spectrograms of {utterance_id}")
    fig.colorbar(image, ax=list(axes), label="dB", shrink=0.9)
    fig.savefig(path, dpi=100)
    return pathlib.Path(path)


def _utterance_kbps(results, utterance_id, name):
    """Measured kbps of one coded utterance, else the codec average."""
    if name == ORIGINAL:
        return None
    kbps = results.get("utterances", {}).get(utterance_id, {}).get(name, {}).get("kbps")
    if not _finite(kbps):
        kbps = results["rows"].get(name, {}).get("kbps")
    return float(kbps) if _finite(kbps) else None


def _table_html(results):
    """``results["rows"]`` as an HTML table, columns as in the Markdown one."""
    rows = results["rows"]
    columns = [c for c in COLUMNS if any(c[0] in r for r in rows.values())]
    e = html.escape
    head = "".join(f'<th scope="col">{e(title)}</th>' for _, title, _ in columns)
    lines = [
        '<table class="results">',
        f'<thead><tr><th scope="col">codec</th>{head}</tr></thead>',
        "<tbody>",
    ]
    for name, row in rows.items():
        cells = []
        for key, _, fmt in columns:
            value = row.get(key)
            cells.append(e(fmt.format(value)) if _finite(value) else "&ndash;")
        tds = "".join(f"<td>{c}</td>" for c in cells)
        lines.append(f'<tr><th scope="row">{e(name)}</th>{tds}</tr>')
    lines += ["</tbody>", "</table>"]
    return "\n".join(lines)


def _players_html(results, audio, utterance_id, sample_rate):
    """One ``<figure>`` with a labelled ``<audio controls>`` per signal."""
    e = html.escape
    figures = []
    for name in _example_names(audio, utterance_id):
        kbps = _utterance_kbps(results, utterance_id, name)
        label = e(name) + (f" &middot; {kbps:.2f} kbps" if kbps is not None else "")
        transcript = (
            results.get("utterances", {})
            .get(utterance_id, {})
            .get(name, {})
            .get("transcript")
        )
        src = data_uri("audio/wav", wav_bytes(audio[utterance_id, name], sample_rate))
        said = (
            f'<div class="said">&ldquo;{e(transcript)}&rdquo;</div>'
            if transcript
            else ""
        )
        figures.append(
            f'<figure data-codec="{e(name)}"><figcaption>{label}</figcaption>'
            f'<audio controls preload="metadata" src="{src}"></audio>{said}</figure>'
        )
    return (
        f'<section class="example"><h3>{e(utterance_id)}</h3>'
        f'<div class="players">{"".join(figures)}</div></section>'
    )


def _page_head(title, meta):
    """The HTML lines of a page's head, title and ``meta`` list."""
    e = html.escape
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        '<dl class="meta">',
        *(f"<dt>{e(str(k))}</dt><dd>{e(str(v))}</dd>" for k, v in meta.items()),
        "</dl>",
    ]


def write_listening_page(path, title, meta, samples, sample_rate=SAMPLE_RATE):
    """A self-contained HTML page of audio players (generated samples).

    Arguments
    ---------
    path : str or pathlib.Path
        The ``.html`` file to write.
    title : str
        Page title.
    meta : dict
        Command, model, ... shown at the top.
    samples : list of tuple
        ``(label, waveform, caption)`` per player.
    sample_rate : int
        Of the waveforms.

    Returns
    -------
    pathlib.Path
        The page (audio as base64 FLAC ``data:`` URIs; it loads nothing
        else).
    """
    e = html.escape
    figures = [
        f"<figure><figcaption>{e(label)}</figcaption>"
        f'<audio controls preload="metadata" '
        f'src="{data_uri("audio/flac", flac_bytes(wav, sample_rate))}"></audio>'
        f'<div class="said">{e(caption)}</div></figure>'
        for label, wav, caption in samples
    ]
    parts = [
        *_page_head(title, meta),
        f'<div class="players">{"".join(figures)}</div>',
        "</body></html>\n",
    ]
    return write_bytes(path, "\n".join(parts).encode("utf-8"))


_STYLE = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1200px;
  padding: 0 1em; color: #222; }
table.results { border-collapse: collapse; font-size: 0.9em; }
table.results th, table.results td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
table.results td { text-align: right; font-variant-numeric: tabular-nums; }
table.results thead th { background: #eee; }
table.results tbody th { text-align: left; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dl.meta dt { font-weight: bold; }
dl.meta dd { margin: 0; font-family: monospace; white-space: pre-wrap;
  word-break: break-all; }
img { max-width: 100%; height: auto; display: block; margin: 0.5em 0; }
.players { display: flex; flex-wrap: wrap; gap: 0.8em; }
figure { margin: 0; padding: 0.4em; border: 1px solid #ddd; border-radius: 4px; }
figcaption { font-weight: bold; margin-bottom: 0.3em; }
.said { font-size: 0.8em; color: #555; max-width: 300px; margin-top: 0.3em; }
pre { background: #f6f6f6; padding: 0.5em; overflow-x: auto; }
"""


def write_report(
    results,
    audio,
    output_folder,
    meta,
    table_markdown=None,
    title="Speech codec evaluation",
    sample_rate=SAMPLE_RATE,
):
    """Writes the plots and a self-contained ``report.html``.

    Arguments
    ---------
    results : dict
        What :func:`~speechbrain_rnncodec.evaluation.evaluate.evaluate` returned.
    audio : dict
        ``(utterance ID, codec name) -> 1-D waveform`` of the example
        utterances (the codec name ``original`` holds the input).
    output_folder : str or pathlib.Path
        Created if needed; receives ``rate_distortion.png``,
        ``spectrograms.png`` (first example utterance, when there is
        audio) and ``report.html``.
    meta : dict
        Command, date, machine, ... shown at the top.
    table_markdown : str, optional
        The Markdown table (``evaluate.write_results``);
        shown folded, as text to copy. The page's table is rendered from
        ``results["rows"]``.
    title : str
        The page title.
    sample_rate : int
        Of the waveforms in ``audio``.

    Returns
    -------
    pathlib.Path
        The path of ``report.html``. Images and audio (16-bit PCM WAV) are
        base64 ``data:`` URIs; the page loads nothing else.
    """
    out = pathlib.Path(output_folder)
    out.mkdir(parents=True, exist_ok=True)
    e = html.escape
    examples = list(dict.fromkeys(u for u, _ in audio))

    rd_png = plot_rate_distortion(results, out / RATE_DISTORTION_PNG)
    plots = [(rd_png, "Rate-distortion: PESQ-WB and WER against measured bitrate")]
    if examples:
        sp_png = plot_spectrograms(
            audio, examples[0], out / SPECTROGRAMS_PNG, results, sample_rate
        )
        plots.append((sp_png, f"Log-mel spectrograms of {examples[0]}"))

    parts = [
        *_page_head(title, meta),
        "<h2>Results</h2>",
        _table_html(results),
    ]
    if table_markdown:
        parts.append(
            f"<details><summary>Markdown</summary><pre>{e(table_markdown)}</pre></details>"
        )
    parts.append("<h2>Plots</h2>")
    for png, alt in plots:
        uri = data_uri("image/png", png.read_bytes())
        parts.append(f'<img src="{uri}" alt="{e(alt)}">')
    if examples:
        parts.append("<h2>Listen</h2>")
        parts += [_players_html(results, audio, u, sample_rate) for u in examples]
    parts.append("</body></html>\n")

    path = out / REPORT_HTML
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
