"""Runs the codec recipe end to end on the LibriSpeech samples shipped in
``tests/samples`` (debug runs, a resumed run, adversarial training)."""

import os
import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

ROOT = pathlib.Path(__file__).resolve().parents[2]
RECIPE = ROOT / "recipes" / "LibriSpeech" / "codec"
SAMPLES = ROOT / "tests" / "samples" / "LibriSpeech"


def recipe_command(hparams, output_folder, *args):
    """The train.py command line; ``args`` may override the small batches."""
    given = {a.split("=")[0] for a in args}
    small = [
        a
        for a in ("--batch_size=2", "--crops_per_utterance=1")
        if a.split("=")[0] not in given
    ]
    return [
        sys.executable,
        "train.py",
        f"hparams/{hparams}",
        f"--data_folder={SAMPLES}",
        f"--output_folder={output_folder}",
        "--noprogressbar",
        *small,
        *args,
    ]


def run_recipe(hparams, output_folder, *args):
    """Runs train.py in a subprocess; returns its combined output."""
    cmd = recipe_command(hparams, output_folder, *args)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        cmd, cwd=RECIPE, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


LOGGED = {
    "rnn_vq.yaml": "train perplexity_1",
    "rnn_ae.yaml": "train mel",
    "rnn_vqvae.yaml": "train perplexity",
    "rnn_vae.yaml": "train kbps_32",
    "rnn_vq_denoise.yaml": "train perplexity_1",
    "rnn_sf.yaml": "valid 3kbps_f0_gross",
    "rnn_sf_pitch.yaml": "train sent_pitch",
}


@pytest.mark.parametrize("hparams", sorted(LOGGED))
def test_debug_run(tmp_path, hparams):
    run_recipe(hparams, tmp_path, "--debug")
    log = (tmp_path / "train_log.txt").read_text()
    assert "epoch: 2" in log
    assert "set: dev-clean-5" in log and "set: test-clean-5" in log
    for kbps in ("1.5", "3", "6"):
        assert f"valid {kbps}kbps_pesq" in log
        assert f"test {kbps}kbps_stoi" in log
    assert LOGGED[hparams] in log
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
    # Checkpoints record both rankings; the default keeps the best PESQ.
    kept = [p.read_text() for p in (tmp_path / "save").glob("CKPT+*/CKPT.yaml")]
    assert kept and all("pesq:" in meta and "loss:" in meta for meta in kept)


def test_unknown_checkpoint_metric_is_refused(tmp_path):
    cmd = recipe_command("rnn_vq.yaml", tmp_path, "--debug", "--checkpoint_metric=wer")
    proc = subprocess.run(cmd, cwd=RECIPE, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "checkpoint_metric must be loss or pesq, not wer" in out


def test_valid_metrics_are_chosen_in_the_hparams(tmp_path):
    run_recipe(
        "rnn_vq.yaml",
        tmp_path,
        "--debug",
        "--valid_metrics=[pesq, dnsmos]",
        "--valid_bitrates=[3.0]",
    )
    log = (tmp_path / "train_log.txt").read_text()
    assert "valid 3kbps_dnsmos" in log and "valid 3kbps_pesq" in log
    assert "kbps_stoi" not in log and "valid 6kbps" not in log
    cmd = recipe_command(
        "rnn_vq.yaml", tmp_path / "refused", "--debug", "--valid_metrics=[stoi]"
    )
    proc = subprocess.run(cmd, cwd=RECIPE, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "checkpoint_metric pesq needs pesq among valid_metrics" in out


def test_new_run_starts_from_exported_weights(tmp_path):
    import re

    from speechbrain_rnncodec.inference.shipped import SHIPPED_FOLDER

    vq_model = SHIPPED_FOLDER / "rnn_vq_16k"
    run_recipe("rnn_vq.yaml", tmp_path, "--debug", f"--init_from={vq_model}")
    log = (tmp_path / "train_log.txt").read_text()
    # A random codec starts near 8; the shipped one is far below.
    first_loss = float(re.search(r"epoch: 1,.*? train loss: ([0-9.]+)", log)[1])
    assert first_loss < 6.0, log


def test_decoder_only_training_keeps_the_tokens(tmp_path):
    import torch

    from speechbrain_rnncodec.inference.shipped import SHIPPED_FOLDER

    vq_model = SHIPPED_FOLDER / "rnn_vq_16k"
    run_recipe(
        "rnn_vq.yaml",
        tmp_path,
        "--number_of_epochs=1",
        f"--init_from={vq_model}",
        "--frozen_modules=[encoder, quantizer]",
    )
    ckpt = sorted((tmp_path / "save").glob("CKPT+*"))[-1]
    for name in ("encoder", "quantizer", "decoder"):
        trained = torch.load(ckpt / f"{name}.ckpt", map_location="cpu")
        shipped = torch.load(f"{vq_model}/{name}.ckpt", map_location="cpu")
        same = all(torch.equal(trained[k].float(), shipped[k].float()) for k in shipped)
        assert same == (name != "decoder"), name


def test_a_narrow_codebook_learns_beside_frozen_full_ones(tmp_path):
    """How the default's 1.8 kbps codebook was made: from a shipped model,
    the encoder and the full codebooks frozen (``quantizer.stages``), a new
    64-code 4th column learns."""
    import torch

    from speechbrain_rnncodec.inference.shipped import SHIPPED_FOLDER

    source = SHIPPED_FOLDER / "rnn_sf_pitch_rf_n64_16k"  # its full codebooks
    run_recipe(
        "rnn_sf_pitch.yaml",
        tmp_path,
        "--number_of_epochs=1",
        f"--init_from={source}",
        "--init_modules=[encoder, quantizer.stages, decoder]",
        "--frozen_modules=[encoder, quantizer.stages]",
        "--pitch_refinement=320",
        "--train_num_quantizers=[3, 4, 6, 12]",
        "--last_column_codes={4: 64}",
        "--valid_bitrates=[1.8]",
    )
    log = (tmp_path / "train_log.txt").read_text()
    assert "valid 1.8kbps_pesq" in log
    ckpt = sorted((tmp_path / "save").glob("CKPT+*"))[-1]
    trained = torch.load(ckpt / "quantizer.ckpt", map_location="cpu")
    shipped = torch.load(source / "quantizer.ckpt", map_location="cpu")
    full = [k for k in shipped if k.startswith("stages.")]
    assert all(torch.equal(trained[k].float(), shipped[k].float()) for k in full)
    assert not torch.equal(
        trained["narrow_stages.3.codebook"], shipped["narrow_stages.3.codebook"]
    )
    assert trained["narrow_stages.3.codebook"].shape == (64, 128)
    assert bool(trained["narrow_stages.3.initialized"])


def test_kill_9_mid_epoch_resumes_at_the_same_step(tmp_path):
    """kill -9 during training (a checkpoint after every step, so the kill
    may also land in a save): the rerun loads the last whole checkpoint
    and finishes the epoch with the same number of steps as a run that was
    never killed, i.e. at the right data position."""
    import re
    import signal
    import time

    args = ["--number_of_epochs=1", "--crops_per_utterance=4", "--batch_size=1"]
    run_recipe("rnn_vq.yaml", tmp_path / "whole", *args)
    whole = (tmp_path / "whole" / "train_log.txt").read_text()
    steps = int(re.search(r"epoch: 1, .*?steps: (\d+)", whole)[1])
    assert steps == 12  # 3 training utterances x 4 crops

    out = tmp_path / "killed"
    every_step = ["--ckpt_interval_minutes=0", "--ckpt_interval_steps=1"]
    cmd = recipe_command("rnn_vq.yaml", out, *every_step, *args)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    log = tmp_path / "killed.log"
    with open(log, "w") as fout:
        proc = subprocess.Popen(cmd, cwd=RECIPE, env=env, stdout=fout, stderr=fout)
        deadline = time.time() + 300
        while not list((out / "save").glob("CKPT+*")):  # the first steps
            assert proc.poll() is None and time.time() < deadline, log.read_text()
            time.sleep(0.05)
        time.sleep(1.0)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not (out / "train_log.txt").exists()  # killed inside epoch 1

    resumed = run_recipe("rnn_vq.yaml", out, *args)
    assert "Loading a checkpoint" in resumed
    lines = (out / "train_log.txt").read_text().splitlines()
    epoch_lines = [line for line in lines if line.startswith("epoch:")]
    assert len(epoch_lines) == 1
    assert f"steps: {steps} " in epoch_lines[0]


def test_two_process_ddp_training_keeps_replicas_identical(tmp_path):
    """torchrun with 2 CPU processes: the recipe picks gloo by itself (no
    --distributed_backend on a machine without CUDA), the data is split
    between them, every epoch checks that both hold the same weights
    (parameters and buffers: the VAE's rate weights), and only rank 0 writes
    files."""
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        *recipe_command(
            "rnn_vae.yaml",
            tmp_path,
            "--number_of_epochs=2",
            "--crops_per_utterance=2",
        )[1:],
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        cmd, cwd=RECIPE, env=env, capture_output=True, text=True, timeout=600
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert out.count("weights identical on 2 processes") >= 2  # each epoch
    log = (tmp_path / "train_log.txt").read_text().splitlines()
    epochs = [line for line in log if line.startswith("epoch:")]
    # 3 utterances x 2 crops, 2 per batch, split over 2 processes: 2 steps.
    assert [e.split(" - ")[0] for e in epochs] == [
        "epoch: 1, lr: 1.00e-03, steps: 2",
        "epoch: 2, lr: 1.00e-03, steps: 4",
    ]
    assert len(list((tmp_path / "save").glob("CKPT+*"))) == 2


def test_training_streams_crops_from_webdataset_shards(tmp_path):
    """rnncodec shards packs the training folders into tar shards; the
    recipe then trains from them alone (no training manifest)."""
    from speechbrain_rnncodec.cli import main as cli

    folders = [str(SAMPLES / s) for s in ("train-clean-5", "train-clean-100-extra")]
    pattern = str(tmp_path / "shards" / "train-%06d.tar")
    assert cli.main(["shards", *folders, "--output", pattern, "--max-count=2"]) == 0
    assert sorted(p.name for p in (tmp_path / "shards").iterdir()) == [
        "train-000000.tar",
        "train-000001.tar",
    ]
    urls = str(tmp_path / "shards" / "train-{000000..000001}.tar")
    out = tmp_path / "run"
    run_recipe(
        "rnn_vq.yaml",
        out,
        "--number_of_epochs=1",
        f"--train_shards={urls}",
        "--shard_epoch_crops=8",
    )
    log = (out / "train_log.txt").read_text()
    assert "epoch: 1, lr: 1.00e-03, steps: 4 " in log  # 8 crops, 2 per batch
    assert not (out / "train.csv").exists()


@pytest.mark.parametrize("module", ["decoder", "encoder"])
def test_narrowed_model_decodes_and_a_narrow_decoder_keeps_the_tokens(tmp_path, module):
    import torch

    from speechbrain_rnncodec.audio.io import read_audio
    from speechbrain_rnncodec.inference import RNNCodec
    from speechbrain_rnncodec.inference.shipped import DEFAULT_MODEL

    out = tmp_path / "narrow"
    cmd = [sys.executable, "narrow.py", str(DEFAULT_MODEL), str(out)]
    cmd += [f"--module={module}", "--hidden=64", "--seconds=0.3", "--every=2"]
    cmd += [f"--data={SAMPLES / 'dev-clean-5'}"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, cwd=RECIPE, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    narrow, wide = (RNNCodec.from_hparams(source=str(s)) for s in (out, DEFAULT_MODEL))
    width = getattr(wide.codec, module).rnn.rnn.rnn.hidden_size
    assert f"hidden units: kept 64 of {width}" in proc.stdout
    assert getattr(narrow.codec, module).rnn.rnn.rnn.hidden_size == 64
    wav = read_audio(sorted(SAMPLES.glob("dev-clean-5/*/*/*.flac"))[0], duration=1.0)
    tokens, _ = narrow.encode(wav[None], bitrate=3.0)
    same = torch.equal(tokens, wide.encode(wav[None], bitrate=3.0)[0])
    assert same == (module == "decoder")
    assert torch.isfinite(narrow.decode(tokens)).all()
    # A second run never overwrites a folder.
    proc = subprocess.run(cmd, cwd=RECIPE, env=env, capture_output=True, text=True)
    assert proc.returncode != 0 and "exists" in proc.stderr
