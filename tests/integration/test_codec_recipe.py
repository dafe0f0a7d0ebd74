"""Runs the codec recipe end to end on the LibriSpeech samples shipped in
``tests/samples`` (debug runs, a resumed run, adversarial training)."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
RECIPE = ROOT / "recipes" / "LibriSpeech" / "codec"
SAMPLES = ROOT / "tests" / "samples" / "LibriSpeech"


def run_recipe(hparams, output_folder, *args):
    """Runs train.py in a subprocess; returns its combined output."""
    cmd = [
        sys.executable,
        "train.py",
        f"hparams/{hparams}",
        f"--data_folder={SAMPLES}",
        f"--output_folder={output_folder}",
        "--batch_size=2",
        "--crops_per_utterance=1",
        "--noprogressbar",
        *args,
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        cmd, cwd=RECIPE, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.mark.parametrize("hparams", ["rnn_vq.yaml", "rnn_ae.yaml"])
def test_debug_run(tmp_path, hparams):
    run_recipe(hparams, tmp_path, "--debug")
    log = (tmp_path / "train_log.txt").read_text()
    assert "epoch: 2" in log
    assert "set: dev-clean-5" in log and "set: test-clean-5" in log
    if hparams == "rnn_vq.yaml":
        for kbps in ("1.5", "3", "6"):
            assert f"valid {kbps}kbps_pesq" in log
            assert f"test {kbps}kbps_stoi" in log
        assert "train perplexity_1" in log
    else:
        assert "valid continuous_pesq" in log
    for name in ("train.csv", "dev-clean-5.csv", "test-clean-5.csv", "env.log"):
        assert (tmp_path / name).exists()


def test_adversarial_debug_run(tmp_path):
    run_recipe("rnn_vq.yaml", tmp_path, "--debug", "--adversarial=True")
    log = (tmp_path / "train_log.txt").read_text()
    assert "train adversarial" in log and "train feature_matching" in log


def test_resume_from_checkpoint(tmp_path):
    run_recipe("rnn_vq.yaml", tmp_path, "--number_of_epochs=1")
    assert list((tmp_path / "save").glob("CKPT+*"))
    out = run_recipe("rnn_vq.yaml", tmp_path, "--number_of_epochs=2")
    assert "Loading a checkpoint" in out
    log = (tmp_path / "train_log.txt").read_text()
    assert log.count("epoch: 1,") == 1
    assert log.count("epoch: 2,") == 1


def test_new_run_starts_from_exported_weights(tmp_path):
    import re

    from speechbrain_rnncodec.inference import DEFAULT_MODEL

    run_recipe("rnn_vq.yaml", tmp_path, "--debug", f"--init_from={DEFAULT_MODEL}")
    log = (tmp_path / "train_log.txt").read_text()
    # A random codec starts near 8; the shipped one is far below.
    first_loss = float(re.search(r"epoch: 1,.*? train loss: ([0-9.]+)", log)[1])
    assert first_loss < 6.0, log


def test_decoder_only_training_keeps_the_tokens(tmp_path):
    import torch

    from speechbrain_rnncodec.inference import DEFAULT_MODEL

    run_recipe(
        "rnn_vq.yaml",
        tmp_path,
        "--number_of_epochs=1",
        f"--init_from={DEFAULT_MODEL}",
        "--frozen_modules=[encoder, quantizer]",
    )
    ckpt = sorted((tmp_path / "save").glob("CKPT+*"))[-1]
    for name in ("encoder", "quantizer", "decoder"):
        trained = torch.load(ckpt / f"{name}.ckpt", map_location="cpu")
        shipped = torch.load(f"{DEFAULT_MODEL}/{name}.ckpt", map_location="cpu")
        same = all(
            torch.equal(trained[k].float(), shipped[k].float()) for k in shipped
        )
        assert same == (name != "decoder"), name
