"""``rnncodec eval`` (codecs side by side) and ``rnncodec listen`` (a
listening page).

Authors
 * speechbrain_rnncodec team 2026
"""

import platform
import sys

import torch

from speechbrain_rnncodec.audio.corpus import find_utterances
from speechbrain_rnncodec.audio.io import read_audio
from speechbrain_rnncodec.cli import common


def cmd_eval(args):
    """``rnncodec eval``: codecs side by side on a LibriSpeech folder."""
    import datetime

    from speechbrain_rnncodec.evaluation.baselines import make_codec
    from speechbrain_rnncodec.evaluation.evaluate import evaluate, write_results
    from speechbrain_rnncodec.metrics.asr import WhisperASR

    torch.set_num_threads(args.threads)
    utts = find_utterances(args.data, args.max_utterances)
    model = common.load_codec(args) if "rnncodec" in args.codecs else None
    specs = with_model_rates(args.codecs, model)
    codecs = [make_codec(spec, model=model) for spec in specs]
    asr = None
    if args.asr != "none":
        asr = WhisperASR(args.asr, cpu_threads=args.asr_threads)
    examples = {u.id for u in utts[: args.examples]}
    noise = None
    if args.noisy:
        from speechbrain_rnncodec.training.noise import NoisyCopies

        try:
            low, high = sorted(float(v) for v in args.noisy.split(","))
        except ValueError:
            raise ValueError(
                f"--noisy takes LOW,HIGH in dB (e.g. 0,20), not {args.noisy}"
            ) from None
        pool = {u.id: read_audio(u.path) for u in utts}
        noise = NoisyCopies(pool, low, high, seed=args.noise_seed)
    results, audio = evaluate(
        codecs, utts, asr, examples, progress=not args.quiet, noise=noise
    )
    meta = {
        "command": "rnncodec " + " ".join(sys.argv[1:]),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} torch thread(s), torch {torch.__version__}",
        "data": f"{args.data} ({len(utts)} utterances)",
    }
    if args.noisy:
        meta["noise"] = (
            f"babble of 3 other speakers of the set, white or pink noise at "
            f"{args.noisy.replace(',', '-')} dB SNR (seed {args.noise_seed}); "
            "scores against the clean speech"
        )
    table = write_results(results, args.output, meta)
    from speechbrain_rnncodec.evaluation.report import write_report

    report = write_report(results, audio, args.output, meta, table)
    print(table)
    print(f"written: {args.output}/results.json, results.md, {report}")
    return 0


EVAL_PEERS = ("opus@6", "opus@8", "opus@12", "codec2@1600", "codec2@3200")
LISTEN_PEERS = ("codec2@3200", "opus@6", "opus@12")


def with_model_rates(specs, model):
    """The codec specs of ``specs`` (comma-separated), a bare ``rnncodec``
    standing for the model at each of its bitrates.

    Example
    -------
    >>> class Model:
    ...     bitrates = [1.5, 3.0]
    >>> with_model_rates("rnncodec,opus@6", Model())
    ['rnncodec@1.5', 'rnncodec@3', 'opus@6']
    """
    out = []
    for spec in specs.split(","):
        if spec.strip().lower() == "rnncodec":
            out += [f"rnncodec@{kbps:g}" for kbps in model.bitrates]
        else:
            out.append(spec)
    return out


def cmd_listen(args):
    """``rnncodec listen PAGE``: one utterance through every codec, to hear."""
    from speechbrain_rnncodec.evaluation.baselines import make_codec
    from speechbrain_rnncodec.evaluation.demo import SAMPLE
    from speechbrain_rnncodec.evaluation.report import write_listening_page

    model = common.load_codec(args)
    source = args.input or SAMPLE
    wav = read_audio(source, model.sample_rate, duration=args.seconds)
    players = [("original", wav, f"{len(wav) / model.sample_rate:.1f} s")]
    for spec in with_model_rates(args.codecs, model):
        codec = make_codec(spec, model=model)
        data, decoded = codec.roundtrip(wav)
        players.append((spec, decoded, f"{codec.kbps(data, len(wav)):.2f} kbps"))
    meta = {
        "command": "rnncodec " + " ".join(sys.argv[1:]),
        "input": f"{source}, first {args.seconds:g} s",
        "model": model.model_fingerprint()[0],
    }
    page = write_listening_page(
        args.output, "Listen: rnncodec beside Opus and Codec 2", meta, players
    )
    print(f"{page}: {len(players)} players, {page.stat().st_size} bytes")
    return 0


def add_parser(sub, model_help):
    """Registers ``eval`` and ``listen`` on ``sub``."""
    ev = sub.add_parser("eval", help="codecs side by side: quality, kbps, speed")
    ev.add_argument("--data", required=True, help="LibriSpeech-layout folder")
    ev.add_argument(
        "--codecs",
        default="rnncodec," + ",".join(EVAL_PEERS),
        help="comma-separated NAME@BITRATE (opus, opuslib, codec2, rnncodec); "
        "a bare rnncodec: the model at each of its bitrates (default: %(default)s)",
    )
    ev.add_argument("--model", help=model_help)
    ev.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    ev.add_argument("--output", default="results/eval", help="output folder")
    ev.add_argument(
        "--asr", default="base", help="Whisper model path or name, or 'none'"
    )
    ev.add_argument(
        "--max-utterances", type=int, help="use N, evenly spaced in ID order"
    )
    ev.add_argument("--examples", type=int, default=3, help="utterances to listen to")
    ev.add_argument(
        "--threads", type=int, default=1, help="torch threads (codec timing)"
    )
    ev.add_argument("--asr-threads", type=int, default=1, help="Whisper threads")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    ev.add_argument(
        "--noisy",
        metavar="LOW,HIGH",
        help="code noisy copies (babble, white, pink at LOW-HIGH dB SNR) and "
        "score against the clean speech, e.g. 0,20",
    )
    ev.add_argument("--noise-seed", type=int, default=0, help="with --noisy")
    ev.set_defaults(handler=cmd_eval)

    listen = sub.add_parser(
        "listen",
        help="a listening page: one utterance through our codec and its peers",
        description="Code the first --seconds of an utterance with each codec "
        "(real bytes: .rnc files, Opus and Codec 2 through their tools) and "
        "write a self-contained HTML page of players with the measured kbps.",
    )
    listen.add_argument("output", help="HTML page to write")
    listen.add_argument("--input", help="audio file (default: the shipped sample)")
    listen.add_argument("--seconds", type=float, default=4.0)
    listen.add_argument(
        "--codecs",
        default="rnncodec," + ",".join(LISTEN_PEERS),
        help="comma-separated NAME@BITRATE, a bare rnncodec: the model at "
        "each of its bitrates (default: %(default)s)",
    )
    listen.add_argument("--model", help=model_help)
    listen.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    listen.set_defaults(handler=cmd_listen)
