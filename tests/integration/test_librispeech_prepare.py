"""Tests for recipes/LibriSpeech/librispeech_prepare.py.

The fake corpora are built in tmp_path from copies of the LibriSpeech samples
shipped with the repository (tests/samples/LibriSpeech, CC BY 4.0; V.
Panayotov, G. Chen, D. Povey, S. Khudanpur, "LibriSpeech: an ASR corpus based
on public domain audio books", ICASSP 2015).
"""

import csv
import json
import shutil
import sys
from pathlib import Path

import pytest
import soundfile

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "recipes" / "LibriSpeech"))

from librispeech_prepare import prepare_librispeech  # noqa: E402

SAMPLES = REPO_ROOT / "tests" / "samples" / "LibriSpeech"
HEADER = ["ID", "duration", "wav", "spk_id", "wrd"]

# Utterances shipped per split (see tests/samples/LibriSpeech/README.md).
SAMPLE_SPLITS = {
    "train-clean-5": ["118-47824-0035", "1737-146161-0007"],
    "train-clean-100-extra": ["403-126855-0000"],
    "dev-clean-5": ["19-198-0000", "2136-5147-0012"],
    "test-clean-5": ["1970-28415-0023", "3242-8112-0024"],
}

# Transcribed utterances (train-clean-5, two chapters) of the tiny corpus,
# with custom transcripts containing a comma and quotes (CSV escaping).
TRANSCRIBED = SAMPLE_SPLITS["train-clean-5"]
WORDS = {
    TRANSCRIBED[0]: 'HELLO, "WORLD"',
    TRANSCRIBED[1]: "SECOND UTTERANCE",
}
# Audio-only utterances of the tiny corpus: the train-clean-100-extra sample
# and a dev-clean-5 sample copied without its transcript.
AUDIO_ONLY = [
    ("train-clean-100-extra", "403-126855-0000"),
    ("dev-clean-5", "19-198-0000"),
]


def _utt_path(split, utt):
    """Path of a shipped sample flac, from its split and utterance ID."""
    spk, chap, _ = utt.split("-")
    return SAMPLES / split / spk / chap / f"{utt}.flac"


def _copy(src, dst):
    """Copies a file's bytes only (the samples may be read-only)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def _copy_split(split, dst_root):
    """Copies a whole shipped sample split (files only)."""
    src_root = SAMPLES / split
    for src in src_root.rglob("*"):
        if src.is_file():
            _copy(src, dst_root / split / src.relative_to(src_root))


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [dict(zip(header, row, strict=True)) for row in reader]
    return header, rows


def test_samples_present():
    """The shipped samples match what the other tests expect."""
    for split, utts in SAMPLE_SPLITS.items():
        flacs = sorted(p.stem for p in (SAMPLES / split).rglob("*.flac"))
        assert flacs == utts, split


@pytest.fixture
def corpus(tmp_path):
    """Tiny corpus: 'train-a' with transcripts, 'train-extra' without."""
    root = tmp_path / "LibriSpeech"
    for utt in TRANSCRIBED:
        spk, chap, _ = utt.split("-")
        chapter_dir = root / "train-a" / spk / chap
        _copy(_utt_path("train-clean-5", utt), chapter_dir / f"{utt}.flac")
        (chapter_dir / f"{spk}-{chap}.trans.txt").write_text(
            f"{utt} {WORDS[utt]}\n", encoding="utf-8"
        )
    for split, utt in AUDIO_ONLY:
        spk, chap, _ = utt.split("-")
        dst = root / "train-extra" / spk / chap / f"{utt}.flac"
        _copy(_utt_path(split, utt), dst)
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


def test_header_and_rows(corpus, tmp_path):
    save = tmp_path / "save"
    _prepare(corpus, save)
    header, rows = _read_csv(save / "train-a.csv")
    assert header == HEADER
    assert [r["ID"] for r in rows] == sorted(TRANSCRIBED)
    for row in rows:
        wav = Path(row["wav"])
        assert wav.is_absolute() and wav.is_file()
        assert wav.is_relative_to(corpus)
        assert wav.name == f"{row['ID']}.flac"
        assert row["spk_id"] == row["ID"].split("-")[0]
        assert row["wrd"] == WORDS[row["ID"]]
        data, sr = soundfile.read(str(wav))
        assert abs(float(row["duration"]) - len(data) / sr) < 0.01
        assert len(row["duration"].split(".")[1]) == 3
    # The comma and quotes are escaped in the raw file.
    raw = (save / "train-a.csv").read_text(encoding="utf-8")
    assert '"HELLO, ""WORLD"""' in raw


def test_split_without_transcripts(corpus, tmp_path):
    save = tmp_path / "save"
    _prepare(corpus, save)
    header, rows = _read_csv(save / "train-extra.csv")
    assert header == HEADER
    assert [r["ID"] for r in rows] == sorted(utt for _, utt in AUDIO_ONLY)
    for row in rows:
        assert row["wrd"] == ""
        assert row["spk_id"] == row["ID"].split("-")[0]
        assert float(row["duration"]) > 0


def test_merged_csv(corpus, tmp_path):
    save = tmp_path / "save"
    _prepare(corpus, save)
    header, rows = _read_csv(save / "train.csv")
    assert header == HEADER
    _, rows_a = _read_csv(save / "train-a.csv")
    _, rows_extra = _read_csv(save / "train-extra.csv")
    assert len(rows) == len(rows_a) + len(rows_extra) == 4
    assert rows == rows_a + rows_extra


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
        prepare_librispeech(str(missing), str(tmp_path / "save"), tr_splits=["train-a"])


def test_missing_split_folder(corpus, tmp_path):
    with pytest.raises(FileNotFoundError, match="dev-nope"):
        _prepare(corpus, tmp_path / "save", dev_splits=["dev-nope"])


def test_empty_split(tmp_path):
    root = tmp_path / "LibriSpeech"
    (root / "dev-empty" / "19" / "198").mkdir(parents=True)
    with pytest.raises(ValueError, match="dev-empty"):
        prepare_librispeech(str(root), str(tmp_path / "save"), dev_splits=["dev-empty"])


def test_merge_requires_name(tmp_path):
    with pytest.raises(ValueError, match="merge_name"):
        prepare_librispeech(
            str(tmp_path),
            str(tmp_path / "save"),
            tr_splits=["a"],
            merge_lst=["a"],
        )


def _sample_transcripts(split):
    """Maps each utterance ID of a shipped split to its trans.txt line."""
    lines = {}
    for trans in (SAMPLES / split).rglob("*.trans.txt"):
        for line in trans.read_text(encoding="utf-8").splitlines():
            if line.strip():
                lines[line.split(maxsplit=1)[0]] = line
    return lines


def test_whole_sample_corpus(tmp_path):
    """All the shipped splits, copied to tmp_path, with a merged train."""
    root = tmp_path / "LibriSpeech"
    for split in SAMPLE_SPLITS:
        _copy_split(split, root)
    save = tmp_path / "save"
    prepare_librispeech(
        str(root),
        str(save),
        tr_splits=["train-clean-5", "train-clean-100-extra"],
        dev_splits=["dev-clean-5"],
        te_splits=["test-clean-5"],
        merge_lst=["train-clean-5", "train-clean-100-extra"],
        merge_name="train.csv",
    )

    all_rows = []
    for split, utts in SAMPLE_SPLITS.items():
        header, rows = _read_csv(save / f"{split}.csv")
        assert header == HEADER
        ids = [r["ID"] for r in rows]
        assert ids == sorted(utts) == sorted(ids)
        assert {r["spk_id"] for r in rows} == {
            p.name for p in (SAMPLES / split).iterdir() if p.is_dir()
        }
        trans = _sample_transcripts(split)
        for row in rows:
            assert row["spk_id"] == row["ID"].split("-")[0]
            assert Path(row["wav"]).is_relative_to(root)
            assert Path(row["wav"]).is_file()
            assert float(row["duration"]) > 0
            if split == "train-clean-100-extra":
                assert row["ID"] not in trans and row["wrd"] == ""
            else:
                assert row["wrd"] and row["wrd"] == row["wrd"].upper()
                assert trans[row["ID"]] == f"{row['ID']} {row['wrd']}"
        all_rows += rows
    assert len(all_rows) == 7

    header, merged = _read_csv(save / "train.csv")
    assert header == HEADER
    _, train5 = _read_csv(save / "train-clean-5.csv")
    _, extra = _read_csv(save / "train-clean-100-extra.csv")
    assert len(merged) == 3
    assert merged == train5 + extra
    assert json.loads((save / "prepare_opts.json").read_text())["splits"] == [
        "train-clean-5",
        "train-clean-100-extra",
        "dev-clean-5",
        "test-clean-5",
    ]
