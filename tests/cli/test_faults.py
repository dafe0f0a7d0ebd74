"""Faults: a process killed while saving a checkpoint, writes that fail
(disk full, file too large). Nothing half-written is ever loaded, and what
was there before stays intact."""

import errno
import os
import pathlib
import resource
import signal
import subprocess
import sys
import textwrap

import pytest
import torch
from speechbrain.utils.checkpoints import Checkpointer

from speechbrain_rnncodec.training.checkpoints import (
    AtomicCheckpointer,
    CheckpointError,
)

pytestmark = pytest.mark.slow

ROOT = pathlib.Path(__file__).resolve().parents[2]
ENV = dict(os.environ, OMP_NUM_THREADS="1")

KILLED_WHILE_SAVING = textwrap.dedent("""
    import os, signal, sys, torch
    from speechbrain_rnncodec.training.checkpoints import AtomicCheckpointer

    first, second = torch.nn.Linear(4, 4), torch.nn.Linear(4, 4)
    torch.nn.init.constant_(first.weight, 1.0)
    torch.nn.init.constant_(second.weight, 1.0)
    ckpt = AtomicCheckpointer(sys.argv[1])
    ckpt.add_recoverable("first", first)
    ckpt.add_recoverable("second", second)
    ckpt.save_checkpoint(name="good")

    def die(obj, path):  # "second" is written after "first": die half-way
        os.kill(os.getpid(), signal.SIGKILL)

    torch.nn.init.constant_(first.weight, 2.0)
    ckpt.custom_save_hooks["second"] = die
    ckpt.save_checkpoint(name="bad")
    """)


def test_kill_while_saving_a_checkpoint_never_loads_the_half(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_WHILE_SAVING, str(tmp_path)],
        env=ENV,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL
    half = tmp_path / "CKPT+bad.partial"
    assert (half / "first.ckpt").exists() and not (half / "second.ckpt").exists()
    # SpeechBrain's plain Checkpointer would take the half-written folder
    # (its CKPT.yaml is written first) had it carried the final name.
    assert (half / "CKPT.yaml").exists()

    first, second = torch.nn.Linear(4, 4), torch.nn.Linear(4, 4)
    ckpt = AtomicCheckpointer(tmp_path, {"first": first, "second": second})
    assert [c.path.name for c in ckpt.list_checkpoints()] == ["CKPT+good"]
    ckpt.recover_if_possible()
    assert torch.all(first.weight == 1.0) and torch.all(second.weight == 1.0)
    # The next save clears the leftover.
    ckpt.save_checkpoint(name="next")
    assert not half.exists()
    assert sorted(c.path.name for c in ckpt.list_checkpoints()) == [
        "CKPT+good",
        "CKPT+next",
    ]


def test_a_failed_checkpoint_write_is_a_clear_error(tmp_path):
    layer = torch.nn.Linear(2, 2)
    ckpt = AtomicCheckpointer(tmp_path, {"layer": layer})
    ckpt.save_and_keep_only(meta={"loss": 1.0}, min_keys=["loss"])
    before = {p.name: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}

    def disk_full(obj, path):
        path.write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    ckpt.custom_save_hooks["layer"] = disk_full
    with pytest.raises(CheckpointError, match="No space left.*previous checkpoints"):
        ckpt.save_and_keep_only(meta={"loss": 0.5}, min_keys=["loss"])
    del ckpt.custom_save_hooks["layer"]
    assert len(ckpt.list_checkpoints()) == 1  # the old one, not deleted
    after = {p.name: p.read_bytes() for p in ckpt.list_checkpoints()[0].path.iterdir()}
    assert after == {k: v for k, v in before.items() if k in after}
    assert AtomicCheckpointer(tmp_path).find_checkpoint().meta["loss"] == 1.0
    # SpeechBrain's own Checkpointer would pick the half-written one.
    assert Checkpointer(tmp_path).find_checkpoint().meta["loss"] == 0.5


def _limit_file_size(limit):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, not a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_failed_compressed_write_keeps_the_previous_file(tmp_path):
    """``rnncodec encode`` into a file that cannot be written whole (the
    process may write 300 bytes): one error line, the previous ``.rnc``
    unchanged, no temp file left."""
    from speechbrain_rnncodec.evaluation.demo import SAMPLE

    out = tmp_path / "speech.rnc"
    cmd = [sys.executable, "-m", "speechbrain_rnncodec.cli.main", "encode", str(SAMPLE)]
    done = subprocess.run(cmd + [str(out)], env=ENV, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    previous = out.read_bytes()
    assert len(previous) > 300
    failed = subprocess.run(
        cmd + [str(out), "--bitrate", "1.5", "--force"],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_file_size(300),
    )
    assert failed.returncode == 1
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnncodec: error: "), failed.stderr
    assert "File too large" in lines[0]
    assert out.read_bytes() == previous
    assert [p.name for p in tmp_path.iterdir()] == ["speech.rnc"]
