"""What every ``rnncodec`` command shares: loading the codec of the
command line.

Authors
 * speechbrain_rnncodec team 2026
"""

import logging

# Imported before load_codec quiets its logger: the import sets the level.
import speechbrain.utils.parameter_transfer  # noqa: F401

from speechbrain_rnncodec.inference import RNNCodec


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
