"""Commands around training: ``export`` (checkpoint -> hub folder),
``tokens`` (token extraction), ``shards`` (tar shards).

Authors
 * speechbrain_rnncodec team 2026
"""

import shutil

from speechbrain_rnncodec.inference.export import carry_token_prior, export_checkpoint


def cmd_export(args):
    """``rnncodec export``: training checkpoint -> hub folder."""
    if bool(args.token_prior) != bool(args.tokens_of):
        raise ValueError("--token-prior and --tokens-of go together")
    metrics = None
    if args.card_metrics:
        with open(args.card_metrics, encoding="utf-8") as fin:
            metrics = fin.read()
    out = export_checkpoint(
        args.checkpoint,
        args.hparams,
        args.output,
        not args.fp32,
        metrics_markdown=metrics,
    )
    if args.token_prior:
        try:
            carry_token_prior(args.token_prior, args.tokens_of, out)
        except (OSError, ValueError):
            shutil.rmtree(out)  # no model left behind without its prior
            raise
        print(f"token prior {args.token_prior} (the tokens of {args.tokens_of})")
    print(f"exported {args.checkpoint} to {out} (model card: {out}/README.md)")
    return 0


def cmd_tokens(args):
    """``rnncodec tokens``: tokens of the utterances of CSV manifests."""
    from speechbrain_rnncodec.training.tokens import extract_tokens

    written = extract_tokens(
        args.csv, args.output, args.model, args.bitrate, args.workers, not args.quiet
    )
    print(f"tokens in {args.output}; manifests: {', '.join(map(str, written))}")
    return 0


def cmd_shards(args):
    """``rnncodec shards``: a corpus into WebDataset tar shards."""
    import pathlib

    from speechbrain_rnncodec.training.shards import write_shards

    if "%" not in args.output:
        example = pathlib.Path(args.output).with_suffix("").name + "-%06d.tar"
        raise ValueError(f"--output needs a shard number field, e.g. {example}")
    shards = write_shards(args.source, args.output, args.max_count)
    if not shards:
        raise ValueError(f"no utterances in {' '.join(args.source)}")
    print(f"{len(shards)} shards: {shards[0]} ... {shards[-1].name}")
    return 0


def add_parser(sub, model_help):
    """Registers ``export``, ``tokens`` and ``shards`` on ``sub``."""
    export = sub.add_parser("export", help="training checkpoint -> hub folder")
    export.add_argument("checkpoint", help="a CKPT+... folder of a training run")
    export.add_argument("output", help="hub folder to write")
    export.add_argument("--hparams", required=True, help="hub yaml of the model")
    export.add_argument("--fp32", action="store_true", help="keep float32 weights")
    export.add_argument(
        "--card-metrics",
        metavar="FILE",
        help="markdown table of measured results for the model card",
    )
    export.add_argument(
        "--token-prior",
        metavar="FILE",
        help="token_prior.npz of the model --tokens-of (same encoder and "
        "quantizer, e.g. a decoder trained alone): copied for the new model",
    )
    export.add_argument("--tokens-of", metavar="HUB", help="with --token-prior")
    export.set_defaults(handler=cmd_export)

    tokens = sub.add_parser(
        "tokens",
        help="tokens of a corpus to disk, for downstream training",
        description="Encode every utterance of SpeechBrain CSV manifests (ID, "
        "wav columns) into OUTPUT/<ID>.npy (int16 [frames, codebooks]) and write "
        "each manifest to OUTPUT with a tokens_file column. Resumes where a killed "
        "run stopped.",
    )
    tokens.add_argument("csv", nargs="+", help="CSV manifests")
    tokens.add_argument("--output", required=True, help="folder to write")
    tokens.add_argument("--model", help=model_help)
    tokens.add_argument("--bitrate", type=float, help="kbps (default: the highest)")
    tokens.add_argument("--workers", type=int, default=1, help="processes")
    tokens.add_argument("--quiet", action="store_true", help="no progress bar")
    tokens.set_defaults(handler=cmd_tokens)

    shards = sub.add_parser(
        "shards",
        help="a corpus into WebDataset tar shards (for training from shards)",
        description="Pack the utterances of LibriSpeech-layout folders or CSV "
        "manifests into tar shards (<ID>.flac + <ID>.json), for "
        "recipes/LibriSpeech/codec --train_shards.",
    )
    shards.add_argument("source", nargs="+", help="folders or CSV manifests")
    shards.add_argument(
        "--output", required=True, help="shard pattern, e.g. shards/train-%%06d.tar"
    )
    shards.add_argument("--max-count", type=int, default=1000, help="per shard")
    shards.set_defaults(handler=cmd_shards)
