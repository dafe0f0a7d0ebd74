"""rnncodec tokens: a corpus's tokens on disk, in parallel, resumable."""

import csv
import pathlib

import numpy as np
import pytest

from speechbrain_rnncodec.cli import main as cli
from speechbrain_rnncodec.inference import RNNCodec
from speechbrain_rnncodec.training.tokens import extract_tokens, load_tokens

SAMPLES = pathlib.Path(__file__).resolve().parents[1] / "samples" / "LibriSpeech"


@pytest.fixture
def manifest(tmp_path):
    files = sorted(SAMPLES.rglob("*.flac"))[:3]
    path = tmp_path / "dev.csv"
    with open(path, "w", newline="") as fout:
        writer = csv.writer(fout)
        writer.writerow(["ID", "duration", "wav", "wrd"])
        for f in files:
            writer.writerow([f.stem, "1.0", str(f), "SOME WORDS"])
    return path


def read(path):
    with open(path, newline="") as fin:
        return list(csv.DictReader(fin))


def test_tokens_match_the_codec_and_resume(manifest, tmp_path, capsys):
    out = tmp_path / "tokens"
    args = ["tokens", str(manifest), "--output", str(out), "--bitrate", "3"]
    assert cli.main(args + ["--workers", "2", "--quiet"]) == 0
    rows = read(out / "dev.csv")
    assert [r["wrd"] for r in rows] == ["SOME WORDS"] * 3
    codec = RNNCodec.from_hparams()
    first = load_tokens(rows[0]["tokens_file"])
    expected = codec.encode_file(rows[0]["wav"], 3)[0]
    assert np.array_equal(first.numpy(), expected.numpy())
    assert first.shape[1] == 6
    # Resume: a missing file is made again, the others are kept as they are.
    pathlib.Path(rows[1]["tokens_file"]).unlink()
    stamp = pathlib.Path(rows[0]["tokens_file"]).stat().st_mtime_ns
    extract_tokens([manifest], out, bitrate=3, progress=False)
    assert pathlib.Path(rows[1]["tokens_file"]).is_file()
    assert pathlib.Path(rows[0]["tokens_file"]).stat().st_mtime_ns == stamp
    assert not list(out.glob(".*"))  # no temporary file left
    # Another bitrate into the same folder is refused.
    assert cli.main(["tokens", str(manifest), "--output", str(out), "--quiet"]) == 1
    assert "another model or bitrate" in capsys.readouterr().err


def test_unreadable_file_is_reported(manifest, tmp_path):
    rows = read(manifest)
    bad = tmp_path / "bad.flac"
    bad.write_bytes(b"not audio")
    with open(manifest, "a", newline="") as fout:
        csv.writer(fout).writerow(["bad", "1.0", str(bad), "X"])
    with pytest.raises(ValueError, match="1 file.*bad.flac"):
        extract_tokens([manifest], tmp_path / "t", bitrate=1.5, progress=False)
    assert len(list((tmp_path / "t").glob("*.npy"))) == len(rows)
