"""What every ``rnncodec`` command shares: loading the codec of the
command line.

Authors
 * speechbrain_rnncodec team 2026
"""

import contextlib
import functools
import logging
import os
import struct
import sys

import soundfile as sf

# Imported before load_codec quiets its logger: the import sets the level.
import speechbrain.utils.parameter_transfer  # noqa: F401

from speechbrain_rnncodec.inference import RNNCodec

STDIO = "-"
_EXTRA_AUDIO = {".aif", ".oga", ".opus", ".wave"}


class CommandError(ValueError):
    """A usage error of the codec commands."""


def error_text(err):
    """One line for an error: an OS error names its file, without errno.

    Example
    -------
    >>> error_text(FileNotFoundError(2, "No such file or directory", "x.rnc"))
    'x.rnc: No such file or directory'
    >>> error_text(ValueError("bad bitrate"))
    'bad bitrate'
    """
    if isinstance(err, OSError) and err.filename and err.strerror:
        return f"{err.filename}: {err.strerror}"
    return str(err)


def print_error(msg):
    """One error line on stderr."""
    print(f"rnncodec: error: {msg}", file=sys.stderr)


def print_notice(msg):
    """One notice line on stderr."""
    print(f"rnncodec: {msg}", file=sys.stderr)


def guarded(handler):
    """Turns every expected failure of ``handler`` into one line on
    stderr and exit code 1 (never a traceback)."""

    @functools.wraps(handler)
    def run(args):
        try:
            return handler(args)
        except BrokenPipeError:
            # The reader went away: stop quietly, without Python's own
            # complaint when it flushes stdout at exit.
            with contextlib.suppress(OSError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            print_error("output closed before the end of the stream")
            return 1
        except (ValueError, OSError, RuntimeError, struct.error, EOFError) as err:
            msg = error_text(err).strip().splitlines()
            print_error(msg[0] if msg else type(err).__name__)
            return 1

    return run


def is_audio(path):
    """True for a file name soundfile can probably read."""
    ext = path.suffix.lower()
    return ext[1:].upper() in sf.available_formats() or ext in _EXTRA_AUDIO


def load_model(args):
    """The codec of ``args.model`` (None: the shipped default model) at
    ``args.precision`` (``bf16`` runs the recurrent layers in bfloat16), on
    ``args.device`` where the command has one (default: cpu)."""
    run_opts = {"precision": args.precision, "device": getattr(args, "device", "cpu")}
    return RNNCodec.from_hparams(source=args.model, run_opts=run_opts)


def load_codec(args):
    """:func:`load_model` without SpeechBrain's loading notice, with
    ``args.entropy`` applied where the command has it."""
    # The notice would be a second stderr line next to a stream's one-line
    # messages.
    quiet = logging.getLogger("speechbrain.utils.parameter_transfer")
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        codec = load_model(args)
    finally:
        quiet.setLevel(level)
    if getattr(args, "entropy", None):
        codec.set_entropy_model(args.entropy)
    return codec
