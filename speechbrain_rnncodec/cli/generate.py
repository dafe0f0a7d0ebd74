"""``rnncodec generate``: speech sampled from the codec's prior.

Authors
 * speechbrain_rnncodec team 2026
"""

import sys

import torch

from speechbrain_rnncodec.audio.io import read_audio
from speechbrain_rnncodec.cli import common
from speechbrain_rnncodec.utils.atomic import write_bytes


def cmd_generate(args):
    """``rnncodec generate``: speech sampled from the codec's prior."""
    from speechbrain_rnncodec.evaluation.generate import generate
    from speechbrain_rnncodec.evaluation.media import wav_bytes

    codec = common.load_codec(args)
    prompt = None
    if args.prompt:
        duration = args.prompt_seconds
        prompt = read_audio(args.prompt, codec.sample_rate, duration=duration)
    samples = []
    for i in range(args.count):
        seed = args.seed + i
        wav = generate(
            codec, args.seconds, args.bitrate, prompt, seed, args.temperature
        )
        path = args.output if args.count == 1 else _numbered(args.output, i)
        write_bytes(path, wav_bytes(wav, codec.sample_rate))
        line = f"{path}: {len(wav) / codec.sample_rate:.2f} s (seed {seed})"
        if args.page:
            from speechbrain_rnncodec.metrics.dnsmos import dnsmos_scores

            scores = dnsmos_scores(wav[None], torch.ones(1), codec.sample_rate)
            mos = {k: float(v[0]) for k, v in scores.items()}
            line += ", DNSMOS " + " ".join(f"{k} {v:.2f}" for k, v in mos.items())
            samples.append((f"seed {seed}", wav, line.partition(", ")[2], mos))
        print(line)
    if args.page:
        _generation_page(args, codec, samples)
    return 0


def _generation_page(args, codec, samples):
    """``rnncodec generate --page``: median DNSMOS and a listening page."""
    import pathlib
    import statistics

    from speechbrain_rnncodec.evaluation.report import write_listening_page

    medians = {k: statistics.median(s[3][k] for s in samples) for k in samples[0][3]}
    summary = " ".join(f"{k} {v:.2f}" for k, v in medians.items())
    print(f"median DNSMOS over {len(samples)} samples: {summary}")
    meta = {
        "command": "rnncodec " + " ".join(sys.argv[1:]),
        "model": args.model or "shipped default",
        "bitrate": f"{args.bitrate or min(codec.bitrates):g} kbps",
        "prompt": args.prompt or "none (unconditioned)",
        "median DNSMOS": summary,
    }
    page = pathlib.Path(args.output).with_suffix(".html")
    players = [(label, wav, caption) for label, wav, caption, _ in samples]
    write_listening_page(page, "Generated speech", meta, players, codec.sample_rate)
    print(f"listening page: {page}")


def _numbered(path, index):
    """``out.wav`` -> ``out_003.wav``."""
    import pathlib

    path = pathlib.Path(path)
    return path.with_name(f"{path.stem}_{index:03d}{path.suffix}")


def add_parser(sub, model_help):
    """Registers ``generate`` on ``sub``."""
    gen = sub.add_parser(
        "generate",
        help="speech sampled from the codec's prior",
        description="Sample codes from the model's prior (the learned token "
        "prior of an RVQ model, or a VAE's latent prior) and decode them; with "
        "--prompt, continue an utterance.",
    )
    gen.add_argument("output", help="WAV file to write (numbered if --count > 1)")
    gen.add_argument("--model", help=model_help)
    gen.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    gen.add_argument("--seconds", type=float, default=4.0, help="length to sample")
    gen.add_argument("--bitrate", type=float, help="kbps (default: the lowest)")
    gen.add_argument("--prompt", help="audio file to continue")
    gen.add_argument(
        "--prompt-seconds", type=float, default=3.0, help="prompt length used"
    )
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--count", type=int, default=1, help="samples (seeds +1)")
    gen.add_argument("--temperature", type=float, default=1.0)
    gen.add_argument(
        "--page",
        action="store_true",
        help="score each sample with DNSMOS and write OUTPUT.html to listen",
    )
    gen.set_defaults(handler=cmd_generate)
