"""Load test of the ``rnncodec`` command and the API: many short files and
one very long file, with peak memory and a leak check.

* **Short files**: ``num_short`` files of ``short_seconds`` of speech (cut
  from the given utterances) go through ``rnncodec encode DIR OUT`` and
  ``rnncodec decode OUT DEC`` (folder mode, one process each); then the
  API (``compress`` + ``decompress``) codes them in one process while its
  resident memory is sampled: what it grows after the first tenth is the
  leak.
* **Long file**: speech looped to ``long_seconds`` (written as 16-bit WAV,
  chunk by chunk) goes through ``rnncodec encode`` and ``rnncodec decode``,
  which stream it: their peak memory must not depend on the length.

Each command runs in its own process; its peak resident memory
(``ru_maxrss``) is measured by a wrapper around ``rnncodec``'s ``main``.

Authors
 * speechbrain_rnncodec team 2026
"""

import os
import pathlib
import subprocess
import sys
import time

import numpy as np
import soundfile as sf

_PEAK = (
    "import resource, sys\n"
    "from speechbrain_rnncodec.cli.main import main\n"
    "code = main(sys.argv[1:])\n"
    "kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "print(f'PEAK_RSS_KIB {kib}', file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def rss_mib():
    """Resident memory of this process now, in MiB (Linux)."""
    with open("/proc/self/statm") as fin:
        pages = int(fin.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_rnncodec(*args, model=None):
    """Runs ``rnncodec ARGS`` in a fresh process; returns (seconds, peak
    resident MiB) and raises ``RuntimeError`` with its error on failure."""
    cmd = [sys.executable, "-c", _PEAK, *map(str, args)]
    if model:
        cmd += ["--model", str(model)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"rnncodec {args[0]} failed: {proc.stderr[-2000:]}")
    kib = int(proc.stderr.rsplit("PEAK_RSS_KIB", 1)[1].split()[0])
    return seconds, kib / 1024


def write_short_files(speech, folder, count, seconds, sample_rate=16000):
    """``count`` 16-bit WAV files of ``seconds`` cut from ``speech`` [T]."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    length = int(seconds * sample_rate)
    step = max(1, (len(speech) - length) // 997)
    for i in range(count):
        start = (i * step) % max(1, len(speech) - length)
        sf.write(
            folder / f"utt{i:05d}.wav", speech[start : start + length], sample_rate
        )
    return folder


def write_long_file(speech, path, seconds, sample_rate=16000):
    """``speech`` looped to ``seconds``, written chunk by chunk (16-bit)."""
    total = int(seconds * sample_rate)
    with sf.SoundFile(path, "w", sample_rate, 1, subtype="PCM_16") as out:
        written = 0
        while written < total:
            part = speech[: total - written]
            out.write(part)
            written += len(part)
    return path


def api_memory(codec, files, bitrate, samples=10):
    """Codes ``files`` with ``compress`` + ``decompress`` in this process;
    returns the resident MiB after each tenth of them."""
    trace = []
    every = max(1, len(files) // samples)
    for i, path in enumerate(files, 1):
        codec.decompress(codec.compress(str(path), bitrate=bitrate))
        if i % every == 0:
            trace.append(rss_mib())
    return trace


def load_test(
    codec,
    speech,
    workdir,
    num_short,
    short_seconds,
    long_seconds,
    bitrate=6.0,
    model=None,
):
    """Runs the whole load test (see the module docstring).

    Arguments
    ---------
    codec : RNNCodec
        The codec for the in-process part.
    speech : numpy.ndarray
        Real speech [T] at 16 kHz, cut into the short files and looped into
        the long one.
    workdir : str
        Scratch folder (receives the audio and the coded files).
    num_short : int
        Number of short files.
    short_seconds : float
        Length of each.
    long_seconds : float
        Length of the long file.
    bitrate : float
        kbps.
    model : str, optional
        Hub folder for the command-line runs (default: the shipped model).

    Returns
    -------
    dict
        ``short`` and ``long``: seconds and peak MiB per command, and the
        API's memory trace (``api_rss_mib``) over the short files.
    """
    work = pathlib.Path(workdir)
    speech = np.asarray(speech, dtype=np.float32)
    rate = ["--bitrate", str(bitrate)]

    short_dir = write_short_files(speech, work / "short", num_short, short_seconds)
    encode = run_rnncodec("encode", short_dir, work / "short_rnc", *rate, model=model)
    decode = run_rnncodec("decode", work / "short_rnc", work / "short_dec", model=model)
    files = sorted(short_dir.glob("*.wav"))
    short = {
        "files": num_short,
        "seconds_each": short_seconds,
        "encode": encode,
        "decode": decode,
        "decoded_files": len(list((work / "short_dec").glob("*.wav"))),
        "api_rss_mib": api_memory(codec, files, bitrate),
    }

    long_wav = write_long_file(speech, work / "long.wav", long_seconds)
    encode = run_rnncodec("encode", long_wav, work / "long.rnc", *rate, model=model)
    decode = run_rnncodec(
        "decode", work / "long.rnc", work / "long_dec.wav", model=model
    )
    info = sf.info(work / "long_dec.wav")
    long = {
        "seconds": long_seconds,
        "encode": encode,
        "decode": decode,
        "rnc_bytes": (work / "long.rnc").stat().st_size,
        "decoded_seconds": info.frames / info.samplerate,
    }
    return {"short": short, "long": long}
