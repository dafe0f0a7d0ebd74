"""Runs the speaker identification recipe (codec tokens and MFCCs) end to
end on a small LibriSpeech-layout corpus made from the shipped samples."""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

ROOT = pathlib.Path(__file__).resolve().parents[2]
RECIPE = ROOT / "recipes" / "LibriSpeech" / "speaker_id"
SAMPLES = ROOT / "tests" / "samples" / "LibriSpeech"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Two speakers with 12 utterances each (copies of the samples), so
    that every speaker has training, validation and test utterances."""
    root = tmp_path_factory.mktemp("corpus")
    for speaker, source in enumerate(sorted(SAMPLES.rglob("*.flac"))[:2]):
        chapter = root / "train-clean-5" / f"{speaker + 1}" / "10"
        chapter.mkdir(parents=True)
        lines = []
        for i in range(12):
            name = f"{speaker + 1}-10-{i:04d}"
            shutil.copy(source, chapter / f"{name}.flac")
            lines.append(f"{name} SOME WORDS")
        (chapter / f"{speaker + 1}-10.trans.txt").write_text("\n".join(lines) + "\n")
    return root


@pytest.mark.parametrize(
    "hparams,args",
    [("lstm_mfcc.yaml", []), ("lstm_tokens.yaml", ["--num_codebooks=3"])],
)
def test_debug_run(corpus, tmp_path, hparams, args):
    cmd = [
        sys.executable,
        "train.py",
        f"hparams/{hparams}",
        f"--data_folder={corpus}",
        f"--output_folder={tmp_path / 'run'}",
        f"--data_prep_folder={tmp_path / 'prep'}",
        "--num_speakers=2",
        "--hidden_size=16",
        "--crop_seconds=1.0",
        "--noprogressbar",
        "--debug",
        *args,
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        cmd, cwd=RECIPE, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = (tmp_path / "run" / "train_log.txt").read_text()
    assert "epoch: 2" in log and "valid error_rate" in log and "test error_rate" in log
    for name in ("train.csv", "valid.csv", "test.csv"):
        assert (tmp_path / "prep" / name).is_file()
