"""Runs the entropy-model (prior) recipe end to end on the LibriSpeech
samples shipped in ``tests/samples``, then codes a file with its output."""

import os
import pathlib
import subprocess
import sys

import pytest

from speechbrain_rnncodec.entropy.learned import LearnedPriorModel
from speechbrain_rnncodec.inference import RNNCodec
from speechbrain_rnncodec.inference.shipped import DEFAULT_MODEL, model_source

pytestmark = pytest.mark.slow

ROOT = pathlib.Path(__file__).resolve().parents[2]
RECIPE = ROOT / "recipes" / "LibriSpeech" / "prior"
SAMPLES = ROOT / "tests" / "samples" / "LibriSpeech"


def run_recipe(tmp_path, name, *options):
    cmd = [
        sys.executable,
        "train.py",
        "hparams/gru_prior.yaml",
        f"--data_folder={SAMPLES}",
        f"--output_folder={tmp_path / name}",
        f"--data_prep_folder={tmp_path / 'prep'}",
        "--noprogressbar",
        "--debug",
        *options,
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        cmd, cwd=RECIPE, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return LearnedPriorModel.load(tmp_path / name / "token_prior.npz")


def test_debug_run_writes_a_usable_prior(tmp_path):
    prior = run_recipe(tmp_path, "run")
    log = (tmp_path / "run" / "train_log.txt").read_text()
    assert "valid saved_1.5kbps" in log and "set: test-clean-5" in log
    codec = RNNCodec.from_hparams()
    assert prior.meta["model_hash"] == codec.model_fingerprint()[1].hex()
    assert "test-clean-5" in prior.meta["measured"]
    codec.set_entropy_model(tmp_path / "run" / "token_prior.npz")
    try:
        wav = codec.decompress(codec.compress(str(next(SAMPLES.rglob("*.flac")))))
    finally:
        codec.set_entropy_model(None)
    assert len(wav) > 16000


def test_a_run_can_start_from_a_trained_prior(tmp_path):
    """Two debug steps from the shipped prior code the default model's
    tokens far better than two steps from random weights."""
    shipped = DEFAULT_MODEL / "token_prior.npz"
    shape = ["--hidden_size=128", "--code_groups=32"]  # the shipped prior's
    fresh = run_recipe(tmp_path, "fresh", *shape)
    warm = run_recipe(tmp_path, "warm", f"--init_from={shipped}", *shape)
    bits = [m.meta["measured"]["test-clean-5"]["bits_per_code"] for m in (fresh, warm)]
    assert bits[1] < bits[0] - 1.0, bits


def test_rate_contexts_train_on_each_bitrate_s_codes(tmp_path):
    """A run with --rate_contexts writes a usable prior; validation scores
    1.5 kbps with 3 context codes, so its saving there is not the one the
    bits per code with all 12 give."""
    prior = run_recipe(tmp_path, "rates", "--rate_contexts=true")
    test = prior.meta["measured"]["test-clean-5"]
    full = 100 * (1 - sum(test[f"bits_{k}"] for k in (1, 2, 3)) / 30)
    assert abs(test["saved_1.5kbps"] - full) > 1e-3, (test, full)


def test_a_one_softmax_prior_becomes_a_two_level_one(tmp_path):
    """--code_groups on a one-softmax prior: its codes are grouped by its
    head, which keeps most of what it learned."""
    folder = model_source("rnn_sf_pitch_sub_so762_e192_d192_pesq_16k")
    source = pathlib.Path(folder) / "token_prior.npz"
    assert LearnedPriorModel.load(source).code_groups is None
    fresh = run_recipe(tmp_path, "fresh", "--code_groups=32")
    warm = run_recipe(tmp_path, "warm", f"--init_from={source}", "--code_groups=32")
    assert warm.code_groups == 32
    bits = [m.meta["measured"]["test-clean-5"]["bits_per_code"] for m in (fresh, warm)]
    assert bits[1] < bits[0] - 1.0, bits
