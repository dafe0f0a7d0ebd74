"""The core install codes speech without any extra (setup.cfg)."""

import os
import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

SMOKE = pathlib.Path(__file__).parent / "core_install_smoke.py"


def test_coding_needs_no_package_of_the_extras():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, str(SMOKE), "--block-extras"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "core install: encode, decode, compress, CLI ok" in done.stdout
