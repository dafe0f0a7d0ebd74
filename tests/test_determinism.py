"""Determinism: the same tokens and the same .rnc bytes for the same input
across runs (processes), torch thread counts, batch sizes and padding."""

import glob
import os
import pathlib
import subprocess
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parents[1]

RUN = textwrap.dedent("""
    import glob, hashlib, sys, torch
    from speechbrain_rnncodec.audio.io import read_audio
    from speechbrain_rnncodec.inference import RNNCodec

    torch.set_num_threads(int(sys.argv[1]))
    codec = RNNCodec.from_hparams()
    wavs = [read_audio(f) for f in sorted(glob.glob(sys.argv[2]))]
    digest, singles = hashlib.sha256(), []
    for wav in wavs:
        tokens, _ = codec.encode(wav[None], bitrate=6.0)
        singles.append(tokens[0])
        digest.update(tokens.numpy().tobytes())
        digest.update(codec.compress(wav, bitrate=1.5))
    # All at once: one padded batch, relative lengths.
    longest = max(len(w) for w in wavs)
    pad = torch.nn.functional.pad
    batch = torch.stack([pad(w, (0, longest - len(w))) for w in wavs])
    lens = torch.tensor([len(w) / longest for w in wavs])
    tokens, _ = codec.encode(batch, lens, bitrate=6.0)
    for single, row in zip(singles, tokens):
        assert torch.equal(row[: len(single)], single), "batch != one by one"
    print(digest.hexdigest())
    """)


def run(threads):
    flac = str(ROOT / "tests" / "samples" / "LibriSpeech" / "*" / "*" / "*" / "*.flac")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    proc = subprocess.run(
        [sys.executable, "-c", RUN, str(threads), flac],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip()


def test_same_tokens_and_bytes_across_runs_threads_batches_and_padding():
    assert len(glob.glob(str(ROOT / "tests/samples/LibriSpeech/*/*/*/*.flac"))) == 7
    one = run(1)
    assert run(1) == one  # another process
    assert run(2) == one  # another thread count
