"""The ``rnncodec`` command: parses arguments, calls the package.

Authors
 * speechbrain_rnncodec team 2026
"""

import argparse
import logging
import platform
import sys

import torch

from speechbrain_rnncodec import __version__
from speechbrain_rnncodec.audio import AudioError


def load_codec(source):
    """The codec at ``source`` (None: the shipped default model)."""
    from speechbrain_rnncodec.inference import RNNCodec

    return RNNCodec.from_hparams(source=source)


def cmd_demo(args):
    """``rnncodec demo``: code the shipped sample at every bitrate."""
    from speechbrain_rnncodec.demo import SAMPLE, run_demo

    path = args.input or SAMPLE
    rows = run_demo(load_codec(args.model), args.output, path)
    print(f"input: {path}")
    print(f"{'kbps':>6} {'tokens [T, K]':>14} {'PESQ-WB':>8} {'STOI':>6}  decoded")
    for r in rows:
        print(
            f"{r['kbps']:>6g} {str(list(r['tokens'])):>14} {r['pesq']:>8.2f} "
            f"{r['stoi']:>6.3f}  {r['wav']}"
        )
    return 0


def cmd_bench(args):
    """``rnncodec bench``: encode and decode speed on one thread."""
    from speechbrain_rnncodec.audio import read_audio
    from speechbrain_rnncodec.benchmark import measure_speed
    from speechbrain_rnncodec.demo import SAMPLE

    torch.set_num_threads(args.threads)
    codec = load_codec(args.model)
    wav = read_audio(args.input or SAMPLE, codec.sample_rate)
    wav = wav.repeat(max(1, round(args.seconds * codec.sample_rate / len(wav))))
    result = measure_speed(codec, wav, args.repeats)
    print(f"command: rnncodec {' '.join(sys.argv[1:])}")
    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"torch {torch.__version__}, {result['threads']} thread(s)"
    )
    print(
        f"params: {result['params'] / 1e6:.2f} M, algorithmic latency: "
        f"{result['latency_ms']:g} ms, audio: {result['seconds']:.1f} s, "
        f"median of {args.repeats}"
    )
    print(f"{'kbps':>6} {'encode x RT':>12} {'decode x RT':>12} {'total x RT':>11}")
    for r in result["rows"]:
        print(
            f"{r['kbps']:>6g} {r['encode_x']:>12.1f} {r['decode_x']:>12.1f} "
            f"{r['total_x']:>11.1f}"
        )
    return 0


def cmd_export(args):
    """``rnncodec export``: training checkpoint -> hub folder."""
    from speechbrain_rnncodec.export import export_checkpoint

    out = export_checkpoint(args.checkpoint, args.hparams, args.output, not args.fp32)
    print(f"exported {args.checkpoint} to {out}")
    return 0


def build_parser():
    """The argument parser of ``rnncodec`` and its sub-commands."""
    parser = argparse.ArgumentParser(
        prog="rnncodec", description="Recurrent neural speech codec."
    )
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    model_help = "hub folder or HuggingFace repo id (default: shipped model)"

    demo = sub.add_parser("demo", help="code a sample at every bitrate")
    demo.add_argument("--model", help=model_help)
    demo.add_argument("--input", help="audio file (default: shipped sample)")
    demo.add_argument("--output", default="rnncodec_demo", help="output folder")
    demo.set_defaults(handler=cmd_demo)

    bench = sub.add_parser("bench", help="encode/decode speed, one thread")
    bench.add_argument("--model", help=model_help)
    bench.add_argument("--input", help="audio file (default: shipped sample)")
    bench.add_argument("--seconds", type=float, default=30.0, help="audio length")
    bench.add_argument("--repeats", type=int, default=5)
    bench.add_argument("--threads", type=int, default=1)
    bench.set_defaults(handler=cmd_bench)

    export = sub.add_parser("export", help="training checkpoint -> hub folder")
    export.add_argument("checkpoint", help="a CKPT+... folder of a training run")
    export.add_argument("output", help="hub folder to write")
    export.add_argument("--hparams", required=True, help="hub yaml of the model")
    export.add_argument("--fp32", action="store_true", help="keep float32 weights")
    export.set_defaults(handler=cmd_export)
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
        Exit code: 0 on success, 1 on a clear error (printed in one line).
    """
    logging.basicConfig(level=logging.WARNING, format="rnncodec: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.handler(args)
    except (AudioError, FileNotFoundError, ValueError) as err:
        print(f"rnncodec: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
