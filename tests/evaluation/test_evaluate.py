"""The evaluation tool, end to end on two shipped utterances."""

import json
import pathlib
import subprocess
import sys

import pytest

from speechbrain_rnncodec.audio.corpus import find_utterances
from speechbrain_rnncodec.evaluation.evaluate import markdown_table

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEST_SPLIT = ROOT / "tests" / "samples" / "LibriSpeech" / "test-clean-5"


def test_find_utterances_reads_transcripts():
    utts = find_utterances(TEST_SPLIT)
    assert [u.id for u in utts] == ["1970-28415-0023", "3242-8112-0024"]
    assert utts[0].text == "WHERE PEOPLE WERE MAKING THEIR GIFTS TO GOD"
    assert len(find_utterances(TEST_SPLIT, max_utterances=1)) == 1


def test_find_utterances_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        find_utterances(tmp_path / "missing")
    with pytest.raises(ValueError, match="no .flac"):
        find_utterances(tmp_path)


def test_markdown_table_marks_missing_values():
    results = {"rows": {"original": {"wer": 3.0}, "x@1": {"kbps": 1.0, "wer": 5.0}}}
    table = markdown_table(results)
    assert table.splitlines()[0] == "| codec | measured kbps | WER % |"
    assert "| original | - | 3.00 |" in table
    assert "| x@1 | 1.00 | 5.00 |" in table


def test_eval_command_end_to_end(tmp_path):
    codecs = "rnncodec@1.5,rnncodec@6,opus@6,codec2@3200"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "speechbrain_rnncodec.cli.main",
            "eval",
            f"--data={TEST_SPLIT}",
            f"--codecs={codecs}",
            f"--output={tmp_path}",
            "--examples=1",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    rows = results["rows"]
    assert list(rows) == ["original", *codecs.split(",")]
    # real .rnc bytes: the token prior codes below the nominal rates
    assert 0.8 < rows["rnncodec@1.5"]["kbps"] < 1.5
    assert 5.0 < rows["rnncodec@6"]["kbps"] < 6.0
    assert 3.1 < rows["codec2@3200"]["kbps"] < 3.4
    for name in codecs.split(","):
        row = rows[name]
        assert 1.0 <= row["pesq"] <= 4.64 and 0 < row["stoi"] <= 1
        assert row["encode_x"] > 1 and row["decode_x"] > 1
        assert row["wer"] >= 0 and "wer_increase" in row
    assert rows["original"]["wer"] < 20
    assert set(results["utterances"]) == {"1970-28415-0023", "3242-8112-0024"}
    assert "| opus@6 |" in proc.stdout
    for name in ("results.md", "report.html"):
        assert (tmp_path / name).stat().st_size > 0


def test_noisy_evaluation_scores_against_clean_speech(tmp_path):
    """--noisy: codecs code reproducible noisy copies; a noisy row scores
    the noisy input itself against the clean speech."""
    from speechbrain_rnncodec.cli import main as cli

    args = [
        "eval",
        f"--data={TEST_SPLIT}",
        "--codecs=opus@12",
        "--asr=none",
        f"--output={tmp_path}",
        "--examples=0",
        "--quiet",
        "--noisy=0,5",
    ]
    assert cli.main(args) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    rows = results["rows"]
    assert list(rows) == ["original", "noisy", "opus@12"]
    # Opus at 12 kbps alone scores above 3.5 on clean speech.
    assert rows["noisy"]["pesq"] < 2.5 and rows["opus@12"]["pesq"] < 2.5
    assert "dB SNR" in results["meta"]["noise"]
    utt = results["utterances"]["1970-28415-0023"]
    assert utt["noisy"]["noise"].endswith(" dB")
    assert 0.0 <= float(utt["noisy"]["noise"].split()[1]) <= 5.0
