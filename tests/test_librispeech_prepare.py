"""Tests for recipes/LibriSpeech/librispeech_prepare.py.

The fake corpora are built in tmp_path from copies of real LibriSpeech files
(/work/shared/data/LibriSpeech, CC BY 4.0; V. Panayotov, G. Chen, D. Povey,
S. Khudanpur, "LibriSpeech: an ASR corpus based on public domain audio
books", ICASSP 2015). Tests needing the data are skipped when it is absent.
"""

import csv
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
import soundfile

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "recipes" / "LibriSpeech"))

from librispeech_prepare import prepare_librispeech  # noqa: E402

LIBRISPEECH = Path("/work/shared/data/LibriSpeech")
HEADER = ["ID", "duration", "wav", "spk_id", "wrd"]

# Transcribed chapter (train-clean-5) and audio-only utterances
# (train-clean-100-extra) used by the tiny fake corpus.
SPK, CHAPTER = "1088", "134315"
TRANSCRIBED = [f"{SPK}-{CHAPTER}-0000", f"{SPK}-{CHAPTER}-0001"]
# Custom transcripts with a comma and quotes, to check CSV escaping.
WORDS = {
    TRANSCRIBED[0]: 'HELLO, "WORLD"',
    TRANSCRIBED[1]: "SECOND UTTERANCE",
}

needs_data = pytest.mark.skipif(
    not LIBRISPEECH.is_dir(), reason=f"{LIBRISPEECH} not available"
)


def _copy(src, dst):
    """Copies a file's bytes only (the source tree is read-only)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def _copy_split(split, dst_root):
    """Copies a whole split of the shared corpus (files only)."""
    src_root = LIBRISPEECH / split
    for src in src_root.rglob("*"):
        if src.is_file():
            _copy(src, dst_root / split / src.relative_to(src_root))


def _extra_utts(n):
    """Returns n (speaker, chapter, utt_id) of train-clean-100-extra."""
    flacs = sorted((LIBRISPEECH / "train-clean-100-extra").rglob("*.flac"))
    return [(f.parent.parent.name, f.parent.name, f.stem) for f in flacs[:n]]


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [dict(zip(header, row)) for row in reader]
    return header, rows


@pytest.fixture
def corpus(tmp_path):
    """Tiny corpus: 'train-a' with transcripts, 'train-extra' without."""
    root = tmp_path / "LibriSpeech"
    chapter_dir = root / "train-a" / SPK / CHAPTER
    src_dir = LIBRISPEECH / "train-clean-5" / SPK / CHAPTER
    for utt in TRANSCRIBED:
        _copy(src_dir / f"{utt}.flac", chapter_dir / f"{utt}.flac")
    (chapter_dir / f"{SPK}-{CHAPTER}.trans.txt").write_text(
        "".join(f"{utt} {WORDS[utt]}\n" for utt in TRANSCRIBED),
        encoding="utf-8",
    )
    for spk, chap, utt in _extra_utts(2):
        src = LIBRISPEECH / "train-clean-100-extra" / spk / chap / f"{utt}.flac"
        _copy(src, root / "train-extra" / spk / chap / f"{utt}.flac")
    return root


def _prepare(corpus, save, **kwargs):
    opts = dict(
        data_folder=str(corpus),
        save_folder=str(save),
        tr_splits=["train-a", "train-extra"],
        merge_lst=["train-a", "train-extra"],
        merge_name="train.csv",
    )
    opts.update(kwargs)
    prepare_librispeech(**opts)


@needs_data
def test_header_and_rows(corpus, tmp_path):
    save = tmp_path / "save"
    _prepare(corpus, save)
    header, rows = _read_csv(save / "train-a.csv")
    assert header == HEADER
    assert [r["ID"] for r in rows] == TRANSCRIBED
    for row in rows:
        wav = Path(row["wav"])
        assert wav.is_absolute() and wav.is_file()
        assert wav.name == f"{row['ID']}.flac"
        assert row["spk_id"] == SPK
        assert row["wrd"] == WORDS[row["ID"]]
        data, sr = soundfile.read(str(wav))
        assert abs(float(row["duration"]) - len(data) / sr) < 0.01
        assert len(row["duration"].split(".")[1]) == 3


@needs_data
def test_split_without_transcripts(corpus, tmp_path):
    save = tmp_path / "save"
    _prepare(corpus, save)
    header, rows = _read_csv(save / "train-extra.csv")
    assert header == HEADER
    expected = sorted(utt for _, _, utt in _extra_utts(2))
    assert [r["ID"] for r in rows] == expected
    for row in rows:
        assert row["wrd"] == ""
        assert row["spk_id"] == row["ID"].split("-")[0]
        assert float(row["duration"]) > 0


@needs_data
def test_merged_csv(corpus, tmp_path):
    save = tmp_path / "save"
    _prepare(corpus, save)
    header, rows = _read_csv(save / "train.csv")
    assert header == HEADER
    _, rows_a = _read_csv(save / "train-a.csv")
    _, rows_extra = _read_csv(save / "train-extra.csv")
    assert len(rows) == len(rows_a) + len(rows_extra) == 4
    assert rows == rows_a + rows_extra


@needs_data
def test_idempotent_and_rerun_on_new_options(corpus, tmp_path):
    save = tmp_path / "save"
    _prepare(corpus, save)
    csv_path = save / "train-a.csv"
    opts_path = save / "prepare_opts.json"
    assert json.loads(opts_path.read_text())["merge_name"] == "train.csv"
    mtime = csv_path.stat().st_mtime_ns

    _prepare(corpus, save)  # same options: nothing is rewritten
    assert csv_path.stat().st_mtime_ns == mtime

    # Tag the file: a rewrite (new options) must drop the tag.
    with open(csv_path, "a", encoding="utf-8") as f:
        f.write("TAG\n")
    _prepare(corpus, save)
    assert csv_path.read_text().endswith("TAG\n")

    _prepare(corpus, save, merge_name="train_all.csv")
    assert not csv_path.read_text().endswith("TAG\n")
    assert (save / "train_all.csv").is_file()
    assert json.loads(opts_path.read_text())["merge_name"] == "train_all.csv"
    assert not list(save.glob("*.tmp"))


@needs_data
def test_rerun_when_output_missing(corpus, tmp_path):
    save = tmp_path / "save"
    _prepare(corpus, save)
    (save / "train.csv").unlink()
    _prepare(corpus, save)
    assert (save / "train.csv").is_file()


def test_skip_prep(tmp_path):
    save = tmp_path / "save"
    prepare_librispeech(
        str(tmp_path / "does-not-exist"),
        str(save),
        tr_splits=["train-clean-100"],
        skip_prep=True,
    )
    assert not save.exists()


def test_missing_data_folder(tmp_path):
    missing = tmp_path / "does-not-exist"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        prepare_librispeech(
            str(missing), str(tmp_path / "save"), tr_splits=["train-a"]
        )


@needs_data
def test_missing_split_folder(corpus, tmp_path):
    with pytest.raises(FileNotFoundError, match="dev-nope"):
        _prepare(corpus, tmp_path / "save", dev_splits=["dev-nope"])


def test_empty_split(tmp_path):
    root = tmp_path / "LibriSpeech"
    (root / "dev-empty" / "19" / "198").mkdir(parents=True)
    with pytest.raises(ValueError, match="dev-empty"):
        prepare_librispeech(
            str(root), str(tmp_path / "save"), dev_splits=["dev-empty"]
        )


def test_merge_requires_name(tmp_path):
    with pytest.raises(ValueError, match="merge_name"):
        prepare_librispeech(
            str(tmp_path),
            str(tmp_path / "save"),
            tr_splits=["a"],
            merge_lst=["a"],
        )


@needs_data
def test_real_splits_copied(tmp_path):
    """Whole dev-clean-5 and train-clean-100-extra, copied to tmp_path."""
    root = tmp_path / "LibriSpeech"
    for split in ("dev-clean-5", "train-clean-100-extra"):
        _copy_split(split, root)
    save = tmp_path / "save"
    prepare_librispeech(
        str(root),
        str(save),
        tr_splits=["train-clean-100-extra"],
        dev_splits=["dev-clean-5"],
    )

    _, dev = _read_csv(save / "dev-clean-5.csv")
    n_dev = len(list((LIBRISPEECH / "dev-clean-5").rglob("*.flac")))
    assert len(dev) == n_dev
    assert [r["ID"] for r in dev] == sorted(r["ID"] for r in dev)
    assert all(r["wrd"] and r["wrd"] == r["wrd"].upper() for r in dev)
    assert {r["spk_id"] for r in dev} == {
        p.name for p in (LIBRISPEECH / "dev-clean-5").iterdir() if p.is_dir()
    }
    first = dev[0]
    trans = next(Path(first["wav"]).parent.glob("*.trans.txt"))
    line = next(
        ln for ln in trans.read_text().splitlines() if ln.startswith(first["ID"])
    )
    assert line == f"{first['ID']} {first['wrd']}"

    _, extra = _read_csv(save / "train-clean-100-extra.csv")
    n_extra = len(list((LIBRISPEECH / "train-clean-100-extra").rglob("*.flac")))
    assert len(extra) == n_extra
    assert all(r["wrd"] == "" for r in extra)
    assert all(str(root) in r["wav"] for r in dev + extra)
