"""Runs the CTC ASR recipe (codec tokens and filterbanks) end to end on the
LibriSpeech samples shipped in ``tests/samples`` (debug runs)."""

import os
import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

ROOT = pathlib.Path(__file__).resolve().parents[2]
RECIPE = ROOT / "recipes" / "LibriSpeech" / "ASR"
SAMPLES = ROOT / "tests" / "samples" / "LibriSpeech"


def run_recipe(hparams, tmp_path, *args, launcher=(), debug=True):
    """Runs train.py (through ``launcher``, e.g. torchrun) in a subprocess;
    returns its train_log.txt."""
    cmd = [
        sys.executable,
        *launcher,
        "train.py",
        f"hparams/{hparams}",
        f"--data_folder={SAMPLES}",
        f"--output_folder={tmp_path / 'run'}",
        f"--data_prep_folder={tmp_path / 'prep'}",
        "--hidden_size=32",
        "--noprogressbar",
        *(["--debug"] if debug else []),
        *args,
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        cmd, cwd=RECIPE, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return (tmp_path / "run" / "train_log.txt").read_text()


@pytest.mark.parametrize(
    "hparams,args",
    [
        ("ctc_fbank.yaml", []),
        ("ctc_tokens.yaml", ["--num_codebooks=3", "--checkpoint_metric=CER"]),
    ],
)
def test_debug_run(tmp_path, hparams, args):
    log = run_recipe(hparams, tmp_path, *args)
    assert "epoch: 2" in log and "valid WER" in log
    assert "set: dev-clean-5" in log and "set: test-clean-5" in log
    assert "test WER_beam" in log and "test CER" in log
    assert "==== test-clean-5 (beam) ====" in (tmp_path / "run" / "wer.txt").read_text()
    if hparams == "ctc_tokens.yaml":
        tokens = tmp_path / "prep" / "tokens"
        assert (tokens / "tokens.json").is_file()
        assert len(list(tokens.glob("*.npy"))) == 6  # train, dev and test samples


def test_two_process_ddp_run(tmp_path):
    """torchrun with 2 CPU processes (gloo) and dynamic batches split between
    them: the run ends cleanly, rank 0 alone writes the log; checkpoints
    record valid WER and CER (here kept on CER)."""
    log = run_recipe(
        "ctc_fbank.yaml",
        tmp_path,
        "--number_of_epochs=1",
        # Four utterances, one per batch: two batches per process.
        "--train_splits=[train-clean-5, dev-clean-5]",
        "--max_batch_seconds=1",
        "--distributed_backend=gloo",
        "--checkpoint_metric=CER",
        launcher=("-m", "torch.distributed.run", "--nproc_per_node=2"),
        debug=False,
    ).splitlines()
    assert sum(line.startswith("epoch: 1,") for line in log) == 1
    assert sum("set: test-clean-5" in line for line in log) == 1
    (meta,) = [p.read_text() for p in (tmp_path / "run").glob("save/CKPT*/CKPT.yaml")]
    assert "WER:" in meta and "CER:" in meta
