"""Tests of the HTML listening report, checked in a real headless Chromium.

The browser tests need Debian's ``chromium`` (``/usr/bin/chromium``) and
the ``playwright`` Python package (which drives it; no browser download).

Authors
 * speechbrain_rnncodec team 2026
"""

import math
import os
import pathlib

import pytest
import torch

from speechbrain_rnncodec.cli import evaluate
from speechbrain_rnncodec.cli import main as cli
from speechbrain_rnncodec.evaluation import report

pytestmark = pytest.mark.slow

CHROMIUM = pathlib.Path(os.environ.get("RNNCODEC_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SR = 16000
SECONDS = 1.0
CODECS = {"opus@6": 6.1, "opus@12": 11.9, "rnncodec@1.5": 1.52}
EXAMPLES = ["1089-134686-0000", "1089-134686-0001"]
# Text that must come out escaped, never as markup.
COMMAND = "rnncodec evaluate --tag '<b>x</b>' & echo \"<script>alert(1)</script>\""


def _signal(seed):
    """A 1 s chirp with some noise: speech-like enough for a spectrogram."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(SR * SECONDS)) / SR
    chirp = 0.4 * torch.sin(2 * math.pi * (200 + 1500 * t) * t)
    return chirp * (0.6 + 0.4 * torch.sin(2 * math.pi * 3 * t)) + 0.01 * torch.randn(
        len(t), generator=g
    )


def _fake():
    """A ``(results, audio)`` pair as :func:`evaluate.evaluate` returns."""
    rows = {"original": {"dnsmos": 3.3, "wer": 4.0}}
    utterances = {
        u: {"original": {"dnsmos": 3.3, "transcript": "hello world"}} for u in EXAMPLES
    }
    audio = {}
    for name, kbps in CODECS.items():
        rows[name] = dict(
            kbps=kbps,
            pesq=1.5 + kbps / 6,
            stoi=0.8 + kbps / 100,
            mel_distance=1.0 / kbps,
            si_sdr=float("nan") if name.startswith("rnn") else kbps,
            dnsmos=3.0,
            speaker_similarity=0.9,
            wer=4.0 + 10 / kbps,
            wer_increase=10 / kbps,
            encode_x=200.0,
            decode_x=300.0,
        )
        for u in EXAMPLES:
            utterances[u][name] = dict(
                kbps=kbps + 0.01, pesq=2.0, transcript=f"hello {name}"
            )
    for j, u in enumerate(EXAMPLES):
        wav = _signal(j)
        audio[u, "original"] = wav
        for i, name in enumerate(CODECS):
            g = torch.Generator().manual_seed(100 * j + i)
            noise = (0.3 / CODECS[name]) * torch.randn(len(wav), generator=g)
            audio[u, name] = wav + noise
    return {"rows": rows, "utterances": utterances}, audio


META = {"command": COMMAND, "date": "2026-01-02 03:04", "machine": "test box"}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The report written once for the module: (html path, results, audio)."""
    results, audio = _fake()
    out = tmp_path_factory.mktemp("report")
    path = report.write_report(results, audio, out, META, "| codec |\n|---|")
    return path, results, audio


def _assert_png(path, min_size=(200, 100)):
    from PIL import Image

    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size[0] >= min_size[0] and image.size[1] >= min_size[1]
        lo_hi = image.convert("L").getextrema()
        assert lo_hi[0] < lo_hi[1], "uniform image"


def test_write_report_files(written):
    path, results, audio = written
    assert path.name == "report.html" and path.is_file()
    _assert_png(path.parent / report.RATE_DISTORTION_PNG)
    _assert_png(path.parent / report.SPECTROGRAMS_PNG)
    text = path.read_text(encoding="utf-8")
    # Self-contained: no URL other than data: URIs, nothing external.
    assert "http://" not in text and "https://" not in text
    assert "<script" not in text.lower().replace("&lt;script", "")
    assert text.count("<audio ") == len(EXAMPLES) * (len(CODECS) + 1)
    assert "&lt;b&gt;x&lt;/b&gt;" in text


def test_rate_distortion_without_wer(tmp_path):
    results, _ = _fake()
    for row in results["rows"].values():
        row.pop("wer", None)
    path = report.plot_rate_distortion(results, tmp_path / "rd.png")
    _assert_png(path)
    from PIL import Image

    with (
        Image.open(path) as one,
        Image.open(
            report.plot_rate_distortion(_fake()[0], tmp_path / "rd2.png")
        ) as two,
    ):
        assert one.size[0] < two.size[0]  # one panel instead of two


def test_spectrograms_unknown_utterance(tmp_path):
    _, audio = _fake()
    with pytest.raises(KeyError):
        report.plot_spectrograms(audio, "nope", tmp_path / "s.png")


# --------------------------------------------------------------------------
# In a real browser.

_CHECK_JS = """
async () => {
  const wait = (a) => new Promise((resolve) => {
    const done = (why) => resolve({
      codec: a.closest('figure').dataset.codec,
      why, duration: a.duration, error: a.error ? a.error.code : null,
      readyState: a.readyState,
    });
    if (a.error) return done('error');
    if (a.readyState >= 3) return done('ready');
    a.addEventListener('canplay', () => done('canplay'), {once: true});
    a.addEventListener('error', () => done('error'), {once: true});
    setTimeout(() => done('timeout'), 20000);
    a.preload = 'auto';
    a.load();
  });
  const decode = async (a) => {
    // Decode the WAV itself with Web Audio: no fetch, the CSP stays strict.
    const b64 = a.getAttribute('src').split(',')[1];
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const ctx = new OfflineAudioContext(1, 1, 16000);
    const buf = await ctx.decodeAudioData(bytes.buffer);
    const x = buf.getChannelData(0);
    let energy = 0;
    for (let i = 0; i < x.length; i++) energy += x[i] * x[i];
    const rms = Math.sqrt(energy / x.length);
    return {length: buf.length, rate: buf.sampleRate, rms};
  };
  const audios = Array.from(document.querySelectorAll('audio'));
  const media = await Promise.all(audios.map(wait));
  const decoded = await Promise.all(audios.map(decode));
  const images = Array.from(document.images).map((i) => ({
    complete: i.complete, width: i.naturalWidth, height: i.naturalHeight}));
  const rows = Array.from(document.querySelectorAll('table.results tbody tr'))
    .map((r) => r.querySelector('th').textContent);
  const captions = Array.from(document.querySelectorAll('figcaption'))
    .map((c) => c.textContent);
  return {media, decoded, images, rows, captions,
          meta: document.querySelector('dl.meta').innerText,
          scripts: document.scripts.length};
}
"""


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    """One headless Chromium for the module's page tests (Playwright's sync
    API allows one running instance at a time)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found (Debian: apt-get install chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright Python package drives Chromium"
    )
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


def open_page(context, path):
    """``path`` open in a new tab; returns the page, the errors it logs and
    the URLs it requests (both lists fill as the page runs)."""
    errors, requests = [], []
    page = context.new_page()
    page.on(
        "console",
        lambda m: (
            errors.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "assert")
            else None
        ),
    )
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("requestfailed", lambda r: errors.append(f"requestfailed: {r.url[:80]}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(pathlib.Path(path).as_uri(), wait_until="load")
    return page, errors, requests


@pytest.fixture(scope="module")
def browser_page(written, chromium):
    """The report open in headless Chromium, with the errors it logged."""
    return open_page(chromium, written[0])


def test_report_in_browser(browser_page, written):
    page, errors, requests = browser_page
    _, results, audio = written
    found = page.evaluate(_CHECK_JS)

    n_audio = len(EXAMPLES) * (len(CODECS) + 1)
    assert len(found["media"]) == n_audio
    for m in found["media"]:
        assert m["error"] is None and m["why"] in ("ready", "canplay"), m
        assert abs(m["duration"] - SECONDS) < 0.01, m
    for d in found["decoded"]:
        assert d["length"] == int(SR * SECONDS) and d["rate"] == SR, d
        assert d["rms"] > 0.05, d

    assert found["rows"] == list(results["rows"])
    assert len(found["images"]) == 2
    assert all(
        i["complete"] and i["width"] > 0 and i["height"] > 0 for i in found["images"]
    )

    # Captions: the codec name, and measured kbps for the coded ones.
    assert found["captions"][: len(CODECS) + 1] == ["original"] + [
        f"{name} \u00b7 {kbps + 0.01:.2f} kbps" for name, kbps in CODECS.items()
    ]
    # Escaped text shows literally and runs nothing.
    assert COMMAND in found["meta"]
    assert found["scripts"] == 0

    # Self-contained: only the file itself and data: URIs were requested.
    assert [u for u in requests if not u.startswith(("data:", "file:"))] == []
    assert errors == []


def test_report_screenshot(browser_page, tmp_path):
    page, errors, _ = browser_page
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    from PIL import Image

    with Image.open(shot) as image:
        assert image.format == "PNG"
        width, height = image.size
        assert width >= 800 and height > 900  # full page, longer than the viewport
        grey = image.convert("L")
        assert grey.getextrema()[0] < grey.getextrema()[1]
        assert len(grey.getcolors(maxcolors=256)) > 16  # not a blank page
    assert errors == []


LISTEN_PAGE = pathlib.Path(__file__).parents[2] / "docs" / "samples" / "listen.html"


def test_the_committed_listening_page_plays(chromium, codec):
    """docs/samples/listen.html (``rnncodec listen``, the default model):
    every player loads and decodes in Chromium, the page is small and loads
    nothing else."""
    assert LISTEN_PAGE.stat().st_size < 1_000_000
    page, errors, requests = open_page(chromium, LISTEN_PAGE)
    found = page.evaluate(_CHECK_JS)
    players = evaluate.with_model_rates(
        "rnncodec," + ",".join(evaluate.LISTEN_PEERS), codec
    )
    assert found["captions"] == ["original", *players]
    seconds = found["media"][0]["duration"]
    assert seconds > 2.5  # a few seconds of speech, the same in every player
    for m in found["media"]:
        assert m["error"] is None and m["why"] in ("ready", "canplay"), m
        assert abs(m["duration"] - seconds) < 0.01, m
    for d in found["decoded"]:
        assert d["rate"] == SR and d["rms"] > 0.01, d
    assert "rnncodec listen" in found["meta"]
    assert [u for u in requests if not u.startswith(("data:", "file:"))] == []
    assert errors == []


def test_listen_command_codes_every_peer(tmp_path, capsys):
    page = tmp_path / "listen.html"
    codecs = "rnncodec@1.5,codec2@3200,opus@6"
    assert cli.main(["listen", str(page), "--seconds", "1", "--codecs", codecs]) == 0
    assert "4 players" in capsys.readouterr().out
    text = page.read_text()
    assert text.count("<audio") == 4 and text.count("data:audio/flac") == 4
    assert "rnncodec@1.5</figcaption>" in text and " kbps</div>" in text
