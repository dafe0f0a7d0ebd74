"""``rnncodec fit-entropy``: the token frequency model of a speech folder.

Authors
 * speechbrain_rnncodec team 2026
"""

import pathlib

import numpy as np

from speechbrain_rnncodec.cli import common
from speechbrain_rnncodec.cli.common import (
    CommandError,
    guarded,
    is_audio,
)
from speechbrain_rnncodec.entropy.coding import FREQUENCY_FILE, fit_frequency_model


@guarded
def cmd_fit_entropy(args):
    """``rnncodec fit-entropy``: token frequencies of a speech folder."""
    data = pathlib.Path(args.data)
    if not data.is_dir():
        raise FileNotFoundError(f"no such folder: {data}")
    files = sorted(p for p in data.rglob("*") if p.is_file() and is_audio(p))
    if args.max_files:
        files = files[: args.max_files]
    if not files:
        raise CommandError(f"no audio file in {data}")
    codec = common.load_codec(args)
    model = fit_frequency_model(
        codec, files, args.bitrate, args.floor, progress=not args.quiet
    )
    if pathlib.Path(args.output).is_dir():
        raise CommandError(f"{args.output} is a folder; give a file name")
    model.save(args.output)
    frames = model.meta["frames"]
    size = model.codebook_size
    for k, bits in enumerate(_ideal_bits(model)):
        if not args.quiet:
            raw = (size - 1).bit_length()
            print(f"codebook {k}: {bits:.3f} bits/code on these files (raw {raw})")
    seconds = frames * codec.codec.samples_per_frame / codec.sample_rate
    print(
        f"fitted {model.model_id} on {model.meta['files']} files "
        f"({frames} frames, {seconds:.0f} s): {args.output}"
    )
    print(
        f"to use it by default, copy it to the model's hub folder as {FREQUENCY_FILE}"
    )
    return 0


def _ideal_bits(model):
    """Cross-entropy (bits/code) of each codebook's counts under the
    model (the fitting data's own rate)."""
    probs = model.probabilities
    counts = model.counts
    return list(-(counts * np.log2(probs)).sum(axis=1) / np.maximum(counts.sum(1), 1))


def add_parser(sub, model_help):
    """Registers ``fit-entropy`` on ``sub``."""
    fit = sub.add_parser(
        "fit-entropy",
        help="fit the token frequency model on speech",
        description="Count the model's codes per codebook on a folder of speech "
        f"and write them as JSON; copy the file into the hub folder as "
        f"{FREQUENCY_FILE} to entropy-code with it by default.",
    )
    fit.add_argument("--data", required=True, help="folder of audio files (recursive)")
    fit.add_argument("--output", required=True, help="JSON file to write")
    fit.add_argument("--model", help=model_help)
    fit.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    fit.add_argument("--max-files", type=int, help="use the first N files (sorted)")
    fit.add_argument(
        "--bitrate", type=float, help="codebooks of this kbps (default: max)"
    )
    fit.add_argument("--floor", type=float, default=1.0, help="pseudo-count per code")
    fit.add_argument("--quiet", action="store_true", help="no progress bar")
    fit.set_defaults(handler=cmd_fit_entropy)
