"""The ``rnncodec`` command.

Authors
 * speechbrain_rnncodec team 2026
"""

import argparse
import sys

from speechbrain_rnncodec import __version__


def build_parser():
    """The argument parser of ``rnncodec`` and its sub-commands."""
    parser = argparse.ArgumentParser(
        prog="rnncodec", description="Recurrent neural speech codec."
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_subparsers(dest="command", metavar="COMMAND")
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
        Exit code.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
