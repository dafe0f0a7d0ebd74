"""rnncodec encode / decode / info / fit-entropy: files, pipes, folders and
every kind of bad input (one line on stderr, exit code 1, no output)."""

import dataclasses
import glob
import io
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from speechbrain_rnncodec.audio.io import read_audio
from speechbrain_rnncodec.audio.level import active_level_db
from speechbrain_rnncodec.bitstream.container import RNCReader
from speechbrain_rnncodec.bitstream.header import (
    INTS,
    MAGIC,
    VERSION,
    crc16,
    entropy_bytes,
    varint,
)
from speechbrain_rnncodec.cli import common
from speechbrain_rnncodec.cli import main as cli
from speechbrain_rnncodec.evaluation.demo import SAMPLE
from speechbrain_rnncodec.inference import RNNCodec
from speechbrain_rnncodec.inference.concealment import SILENT_AFTER_MS
from speechbrain_rnncodec.inference.shipped import DEFAULT_MODEL

ROOT = pathlib.Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "samples" / "LibriSpeech"
V1_FILE = ROOT / "tests" / "samples" / "rnn_vq_16k_before_refactor.rnc"  # format 1
ENV = dict(os.environ, OMP_NUM_THREADS="1")
RNCCODEC = [sys.executable, "-m", "speechbrain_rnncodec.cli.main"]


@pytest.fixture
def fast_cli(codec, monkeypatch):
    """main() in-process, with the model loaded once."""
    monkeypatch.setattr(common, "load_model", lambda args: codec)
    codec.set_entropy_model("uniform")
    yield
    codec.set_entropy_model("uniform")


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "clip.wav"
    sf.write(path, read_audio(SAMPLE)[:24000].numpy(), 16000, subtype="PCM_16")
    return path


def run(*args, stdin=None):
    return subprocess.run(
        RNCCODEC + [str(a) for a in args],
        input=stdin,
        capture_output=True,
        env=ENV,
        cwd=ROOT,
        timeout=120,
    )


def one_error_line(stderr):
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("rnncodec: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_encode_decode_info_and_a_pipe(clip, tmp_path, codec, capsys):
    rnc, wav, piped = tmp_path / "a.rnc", tmp_path / "a.wav", tmp_path / "piped.wav"
    done = run("encode", clip, rnc, "--bitrate", "3")
    assert done.returncode == 0, done.stderr
    assert b"kbps" in done.stdout and not done.stderr
    # a pipe through stdin and stdout, packet by packet
    shell = (
        f"cat {clip} | {sys.executable} -m speechbrain_rnncodec.cli.main encode - - "
        f"--bitrate 3 | {sys.executable} -m speechbrain_rnncodec.cli.main decode - - "
        f"> {piped}"
    )
    done = subprocess.run(shell, shell=True, capture_output=True, env=ENV, timeout=120)
    assert done.returncode == 0, done.stderr
    assert not done.stderr
    # a damaged file: one line, exit code 1, no output file
    bad = bytearray(rnc.read_bytes())
    bad[len(bad) // 2] ^= 0x20
    (tmp_path / "bad.rnc").write_bytes(bytes(bad))
    done = run("decode", tmp_path / "bad.rnc", tmp_path / "out.wav")
    assert done.returncode == 1
    assert "corrupted (CRC mismatch)" in one_error_line(done.stderr.decode())
    assert not (tmp_path / "out.wav").exists()
    # the rest in-process: file decode, info
    codec.set_entropy_model("uniform")
    assert cli.main(["decode", str(rnc), str(wav)]) == 0
    decoded, rate = sf.read(wav, dtype="int16")
    assert rate == 16000 and len(decoded) == 24000
    streamed, rate = sf.read(piped, dtype="int16")
    assert rate == 16000 and np.array_equal(streamed, decoded)
    capsys.readouterr()
    assert cli.main(["info", str(rnc)]) == 0
    text = capsys.readouterr().out
    for field in (
        f"model: {DEFAULT_MODEL.name}",
        "6 codebooks of 1024",
        "samples: 24000",
    ):
        assert field in text
    assert "real bitrate: " in text and "prior2-" in text  # the shipped prior


def test_stdin_that_is_not_wav(fast_cli, monkeypatch, capsys):
    class Stdio:
        buffer = io.BytesIO(b"just text, not a wav")

    out = io.BytesIO()
    monkeypatch.setattr(sys, "stdin", Stdio)
    monkeypatch.setattr(sys, "stdout", type("Out", (), {"buffer": out})())
    assert cli.main(["encode", "-", "-"]) == 1
    assert "not a WAV stream" in one_error_line(capsys.readouterr().err)
    assert not out.getvalue()


def forged_header(data, **changes):
    """``data`` with header fields changed (to any value), CRC redone."""
    reader = RNCReader(io.BytesIO(data))
    fields = {**dataclasses.asdict(reader.header), **changes}
    head = MAGIC + bytes([VERSION]) + b"".join(varint(fields[f]) for f in INTS)
    head += fields["gain_db"].to_bytes(1, "little", signed=True)
    head += fields["model_hash"] + entropy_bytes(fields["entropy_id"])
    return head + crc16(head).to_bytes(2, "little") + data[reader.header_size :]


BAD_RNC = {
    "truncated": (lambda d: d[: len(d) - 30], "truncated"),
    "corrupted": (lambda d: d[:100] + bytes([d[100] ^ 1]) + d[101:], "CRC mismatch"),
    "wrong magic": (lambda d: b"RIFF" + d[4:], "not an .rnc file"),
    "unknown version": (lambda d: d[:4] + b"\x09" + d[5:], "version 9"),
    "another model": (
        lambda d: forged_header(d, model_hash=b"\x07" * 8),
        "made by a model that is not shipped",
    ),
    "absurd codebooks": (
        lambda d: forged_header(d, num_codebooks=250),
        "num_codebooks = 250",
    ),
    "absurd sample rate": (
        lambda d: forged_header(d, sample_rate=10**9),
        "sample_rate",
    ),
    "empty": (lambda d: b"", "empty"),
    "trailing garbage": (lambda d: d + b"junk", "trailing"),
}


@pytest.mark.parametrize("case", sorted(BAD_RNC))
def test_bad_rnc_files(case, clip, tmp_path, fast_cli, capsys):
    rnc = tmp_path / "a.rnc"
    assert cli.main(["encode", str(clip), str(rnc), "--quiet"]) == 0
    mutate, message = BAD_RNC[case]
    rnc.write_bytes(mutate(rnc.read_bytes()))
    capsys.readouterr()
    out = tmp_path / "out.wav"
    assert cli.main(["decode", str(rnc), str(out)]) == 1
    captured = capsys.readouterr()
    assert message in one_error_line(captured.err)
    assert not out.exists() and not captured.out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.rnc", "clip.wav"]


def test_bad_audio_inputs(tmp_path, fast_cli, capsys):
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0), 16000)
    junk = tmp_path / "junk.flac"
    junk.write_bytes(b"fLaC but not really")
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.array([0.0, np.nan, 0.0]), 16000, subtype="FLOAT")
    cases = {
        empty: "no audio samples",
        junk: "cannot read",
        nan: "NaN",
        tmp_path / "missing.wav": "no such audio file",
    }
    for source, message in cases.items():
        out = tmp_path / "out.rnc"
        assert cli.main(["encode", str(source), str(out)]) == 1
        captured = capsys.readouterr()
        assert message in one_error_line(captured.err)
        assert not out.exists()
    assert (
        cli.main(["encode", str(nan), str(tmp_path / "x.rnc"), "--bitrate", "2"]) == 1
    )
    assert "not served" in one_error_line(capsys.readouterr().err)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["empty.wav", "junk.flac", "nan.wav"]


def test_conceal_and_info_of_a_damaged_file(clip, tmp_path, fast_cli, capsys):
    rnc, out = tmp_path / "a.rnc", tmp_path / "out.flac"
    assert cli.main(["encode", str(clip), str(rnc), "--frames-per-packet", "25"]) == 0
    data = bytearray(rnc.read_bytes())
    reader = RNCReader(io.BytesIO(bytes(data)))
    first = next(reader.packets())
    data[reader.header_size + first.size + 20] ^= 0x40  # packet 1
    rnc.write_bytes(bytes(data))
    capsys.readouterr()
    assert cli.main(["decode", str(rnc), str(out), "--conceal"]) == 0
    captured = capsys.readouterr()
    assert "packet 1 (frames 25 to 49) is corrupted" in captured.err
    wav, _ = sf.read(out)
    assert len(wav) == 24000 and np.all(
        wav[8000 + int(16 * SILENT_AFTER_MS) : 16000] == 0
    )
    assert np.abs(wav[8000:8640]).max() > 0  # continued, then faded out
    assert cli.main(["info", str(rnc), "--packets"]) == 1
    captured = capsys.readouterr()
    assert "CORRUPTED" in captured.out
    assert "1 packet(s) are corrupted" in one_error_line(captured.err)


def test_folders_and_globs(tmp_path, fast_cli, capsys):
    src = tmp_path / "in"
    for path in sorted(
        glob.glob(str(SAMPLES / "test-clean-5/**/*.flac"), recursive=True)
    ):
        rel = pathlib.Path(path).relative_to(SAMPLES / "test-clean-5")
        (src / rel.parent).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, src / rel)
    (src / "notes.txt").write_text("not audio")
    assert (
        cli.main(["encode", str(src), str(tmp_path / "rnc"), "--bitrate", "1.5"]) == 0
    )
    made = sorted(
        p.relative_to(tmp_path / "rnc") for p in (tmp_path / "rnc").rglob("*.rnc")
    )
    assert len(made) == 2 and all(p.parent.name for p in made)
    parallel = run(
        "encode",
        src,
        tmp_path / "par",
        "--bitrate",
        "1.5",
        "--workers",
        2,
        "--entropy",
        "uniform",
    )
    assert parallel.returncode == 0, parallel.stderr
    for rel in made:
        assert (tmp_path / "par" / rel).read_bytes() == (
            tmp_path / "rnc" / rel
        ).read_bytes()
    assert cli.main(["decode", str(tmp_path / "rnc"), str(tmp_path / "wav")]) == 0
    assert len(list((tmp_path / "wav").rglob("*.wav"))) == 2
    pattern = str(src / "**" / "*.flac")
    assert cli.main(["encode", pattern, str(tmp_path / "flat"), "--quiet"]) == 0
    assert len(list((tmp_path / "flat").glob("*.rnc"))) == 2
    capsys.readouterr()
    assert cli.main(["encode", str(src), "-"]) == 1
    assert "output folder" in one_error_line(capsys.readouterr().err)


def test_fit_entropy_then_code_with_it(clip, tmp_path, fast_cli, capsys):
    table = tmp_path / "token_frequencies.json"
    args = ["fit-entropy", "--data", str(SAMPLES), "--output", str(table)]
    assert cli.main(args + ["--max-files", "3", "--quiet"]) == 0
    assert "fitted freq1-" in capsys.readouterr().out
    rnc, wav = tmp_path / "a.rnc", tmp_path / "a.wav"
    assert cli.main(["encode", str(clip), str(rnc), "--entropy", str(table)]) == 0
    assert "freq1-" in capsys.readouterr().out
    assert cli.main(["decode", str(rnc), str(wav), "--entropy", "uniform"]) == 1
    assert "entropy-coded with freq1-" in one_error_line(capsys.readouterr().err)
    assert cli.main(["decode", str(rnc), str(wav), "--entropy", str(table)]) == 0
    assert len(sf.read(wav)[0]) == 24000


def test_usage_errors_and_missing_files_get_one_clear_line(tmp_path):
    from speechbrain_rnncodec.cli import main as cli

    done = subprocess.run(
        [sys.executable, "-m", "speechbrain_rnncodec"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "usage: rnncodec" in done.stderr and "a command is required" in done.stderr
    missing = str(tmp_path / "nope.rnc")
    done = subprocess.run(
        [sys.executable, "-m", "speechbrain_rnncodec", "info", missing],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    expected = f"rnncodec: error: {missing}: No such file or directory"
    assert done.stderr.strip() == expected
    assert cli.main(["info", missing]) == 1


def test_outputs_are_kept_unless_forced(clip, tmp_path, fast_cli, capsys):
    rnc, wav = tmp_path / "a.rnc", tmp_path / "a.wav"
    assert cli.main(["encode", str(clip), str(rnc), "--quiet"]) == 0
    first = rnc.read_bytes()
    assert cli.main(["encode", str(clip), str(rnc), "--bitrate", "1.5"]) == 1
    assert "exists; use -f/--force" in one_error_line(capsys.readouterr().err)
    assert rnc.read_bytes() == first
    args = ["encode", str(clip), str(rnc), "--bitrate", "1.5", "--quiet", "-f"]
    assert cli.main(args) == 0
    assert len(rnc.read_bytes()) < len(first)
    wav.write_bytes(b"keep me")
    assert cli.main(["decode", str(rnc), str(wav)]) == 1
    assert wav.read_bytes() == b"keep me"
    assert cli.main(["decode", str(rnc), str(wav), "--force"]) == 0
    assert sf.info(wav).frames == 24000


def test_device_option_reaches_the_model(monkeypatch):
    seen = {}

    def fake(source=None, run_opts=None, **kwargs):
        seen.update(run_opts)
        raise ValueError("stop here")

    monkeypatch.setattr(RNNCodec, "from_hparams", staticmethod(fake))
    assert cli.main(["encode", str(SAMPLE), "x.rnc", "--device", "cuda:1"]) == 1
    assert seen["device"] == "cuda:1"
    assert cli.main(["decode", "x.rnc", "x.wav"]) == 1  # no such file: no model
    assert cli.main(["encode", str(SAMPLE), "x.rnc"]) == 1
    assert seen["device"] == "cpu"


def test_conceal_keeps_every_whole_packet_before_a_cut(
    clip, tmp_path, fast_cli, capsys
):
    rnc, out = tmp_path / "a.rnc", tmp_path / "out.wav"
    args = ["encode", str(clip), str(rnc), "--frames-per-packet", "25", "--quiet"]
    assert cli.main(args) == 0
    data = rnc.read_bytes()
    reader = RNCReader(io.BytesIO(data))
    sizes = [p.size for p in reader.packets()]
    cut = data[: reader.header_size + sizes[0] + sizes[1] + 5]  # 2 packets, a cut
    (tmp_path / "cut.rnc").write_bytes(cut)
    assert cli.main(["decode", str(tmp_path / "cut.rnc"), str(out)]) == 1
    assert "truncated" in one_error_line(capsys.readouterr().err)
    assert not out.exists()
    assert cli.main(["decode", str(tmp_path / "cut.rnc"), str(out), "--conceal"]) == 0
    err = capsys.readouterr().err
    assert "truncated" in err and "kept the 1.000 s before the cut" in err
    wav, rate = sf.read(out, dtype="int16")
    assert len(wav) == 16000
    assert np.abs(wav[:15000]).max() > 1000  # speech before the cut


def test_a_cut_version_1_file_keeps_the_length_its_header_gives(tmp_path, capsys):
    """Version 1 headers may hold the length: silence fills it after a cut."""
    data = V1_FILE.read_bytes()
    reader = RNCReader(io.BytesIO(data))
    assert reader.header.version == 1 and reader.header.num_samples == 44480
    sizes = [p.size for p in reader.packets()]
    cut = tmp_path / "cut.rnc"
    cut.write_bytes(data[: reader.header_size + sizes[0] + sizes[1] + 5])
    out = tmp_path / "out.wav"
    args = ["decode", str(cut), str(out), "--conceal", "--model", "rnn_vq_16k"]
    assert cli.main(args) == 0
    err = capsys.readouterr().err
    assert "kept the 2.000 s before the cut, 0.780 s of silence after it" in err
    wav, _ = sf.read(out, dtype="int16")
    assert len(wav) == 44480 and np.all(wav[32000:] == 0)
    assert np.abs(wav[:31000]).max() > 1000


def test_a_long_single_file_shows_progress_in_seconds_of_audio(monkeypatch):
    from speechbrain_rnncodec.cli.files import with_progress

    for seconds, shown in ((90, True), (30, False)):
        err = io.StringIO()
        monkeypatch.setattr(sys, "stderr", err)
        chunks = [np.zeros((16000, 2), dtype=np.float32)] * seconds
        assert len(list(with_progress(iter(chunks), seconds * 16000, 16000))) == seconds
        assert (f"{seconds}/{seconds} s audio" in err.getvalue()) is shown


def test_decode_restores_the_original_rate_and_channels(tmp_path, fast_cli, capsys):
    speech = read_audio(SAMPLE)[:16000].numpy()
    stereo = torchaudio_resample(speech, 16000, 44100)
    src = tmp_path / "stereo.wav"
    sf.write(src, np.stack([stereo, 0.5 * stereo], axis=1), 44100, subtype="PCM_16")
    rnc, out = tmp_path / "a.rnc", tmp_path / "a.wav"
    assert cli.main(["encode", str(src), str(rnc), "--quiet"]) == 0
    assert cli.main(["decode", str(rnc), str(out), "--rate", "original"]) == 0
    info = sf.info(out)
    assert (info.samplerate, info.channels) == (44100, 2)
    assert abs(info.frames - len(stereo)) <= 3
    restored, _ = sf.read(out)
    assert np.array_equal(restored[:, 0], restored[:, 1])  # the mix, twice
    assert np.abs(restored).max() > 0.05
    # the same through a pipe: a WAV stream with the original format
    piped = io.BytesIO()
    with open(rnc, "rb") as fin:
        monkey_stdio(fin, piped, ["decode", "-", "-", "--rate", "original"])
    data, rate = sf.read(io.BytesIO(piped.getvalue()))
    assert rate == 44100 and data.shape == restored.shape
    assert np.allclose(data, restored, atol=1 / 32768)
    assert cli.main(["decode", str(rnc), str(tmp_path / "b.wav")]) == 0
    assert (
        sf.info(tmp_path / "b.wav").samplerate,
        sf.info(tmp_path / "b.wav").channels,
    ) == (16000, 1)


def torchaudio_resample(samples, orig, new):
    import torch
    import torchaudio

    return torchaudio.functional.resample(torch.from_numpy(samples), orig, new).numpy()


def monkey_stdio(stdin, stdout, args):
    """Runs cli.main with binary stdin / stdout streams."""

    class Binary:
        def __init__(self, raw):
            self.buffer = raw

        def isatty(self):
            return False

        def write(self, text):
            pass

        def flush(self):
            pass

    saved = sys.stdin, sys.stdout
    sys.stdin, sys.stdout = Binary(stdin), Binary(stdout)
    try:
        assert cli.main(args) == 0
    finally:
        sys.stdin, sys.stdout = saved


def test_a_quiet_file_is_coded_louder_and_decoded_at_its_level(tmp_path, fast_cli):
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, 0.02 * read_audio(SAMPLE)[:24000].numpy(), 16000, subtype="FLOAT")
    rnc, out = tmp_path / "quiet.rnc", tmp_path / "out.wav"
    assert cli.main(["encode", str(quiet), str(rnc), "--quiet"]) == 0
    assert RNCReader(io.BytesIO(rnc.read_bytes())).header.gain_db > 20
    assert cli.main(["decode", str(rnc), str(out)]) == 0
    levels = [active_level_db([sf.read(p)[0]], 16000) for p in (quiet, out)]
    assert abs(levels[0] - levels[1]) < 2.0
