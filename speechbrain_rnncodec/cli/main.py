"""The ``rnncodec`` command: parses arguments, calls the package.

Authors
 * speechbrain_rnncodec team 2026
"""

import argparse
import logging
import sys

from speechbrain_rnncodec import __version__
from speechbrain_rnncodec.audio.io import AudioError
from speechbrain_rnncodec.cli import (
    bench,
    common,
    evaluate,
    files,
    fit_entropy,
    generate,
    info,
    training,
)
from speechbrain_rnncodec.cli.common import error_text
from speechbrain_rnncodec.inference.shipped import DEFAULT_MODEL, shipped_models


def cmd_demo(args):
    """``rnncodec demo``: code the shipped sample at every bitrate."""
    from speechbrain_rnncodec.evaluation.demo import SAMPLE, run_demo

    path = args.input or SAMPLE
    rows = run_demo(common.load_codec(args), args.output, path)
    print(f"input: {path}")
    print(
        f"{'kbps':>5} {'tokens [T, K]':>14} {'bytes':>7} {'real kbps':>9} "
        f"{'PESQ-WB':>8} {'STOI':>6}  compressed file -> decoded"
    )
    for r in rows:
        print(
            f"{r['bitrate']:>5g} {str(list(r['tokens'])):>14} {r['bytes']:>7d} "
            f"{r['kbps']:>9.3f} {r['pesq']:>8.2f} {r['stoi']:>6.3f}  "
            f"{r['file']} -> {r['wav']}"
        )
    if rows:
        print(f"spectrograms: {rows[0]['spectrogram']}")
    return 0


def build_parser():
    """The argument parser of ``rnncodec`` and its sub-commands."""
    parser = argparse.ArgumentParser(
        prog="rnncodec", description="Recurrent neural speech codec."
    )
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    model_help = (
        "hub folder, HuggingFace repo id or shipped model name "
        f"({', '.join(shipped_models())}; default: {DEFAULT_MODEL.name})"
    )

    demo = sub.add_parser("demo", help="code a sample at every bitrate")
    demo.add_argument("--model", help=model_help)
    demo.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    demo.add_argument("--input", help="audio file (default: shipped sample)")
    demo.add_argument("--output", default="rnncodec_demo", help="output folder")
    demo.set_defaults(handler=cmd_demo)

    for module in (bench, evaluate, training, generate, files, info, fit_entropy):
        module.add_parser(sub, model_help)
    return parser


def main(argv=None):
    """Entry point of the console script; returns the exit code.

    Arguments
    ---------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit code: 0 on success, 1 on a clear error (printed in one line),
        2 on a usage error (no command, as argparse does for bad options).
    """
    logging.basicConfig(level=logging.WARNING, format="rnncodec: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_usage(sys.stderr)
        print(
            "rnncodec: error: a command is required (rnncodec --help)", file=sys.stderr
        )
        return 2
    try:
        return args.handler(args)
    except (AudioError, OSError, ValueError) as err:
        print(f"rnncodec: error: {error_text(err)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
