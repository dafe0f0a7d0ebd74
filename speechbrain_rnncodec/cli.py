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
from speechbrain_rnncodec.bitstream.commands import error_text


def load_codec(args):
    """The codec of ``args.model`` (None: the shipped default model) at
    ``args.precision`` (``bf16`` runs the recurrent layers in bfloat16), on
    ``args.device`` where the command has one (default: cpu)."""
    from speechbrain_rnncodec.inference import RNNCodec

    run_opts = {"precision": args.precision, "device": getattr(args, "device", "cpu")}
    return RNNCodec.from_hparams(source=args.model, run_opts=run_opts)


def cmd_demo(args):
    """``rnncodec demo``: code the shipped sample at every bitrate."""
    from speechbrain_rnncodec.demo import SAMPLE, run_demo

    path = args.input or SAMPLE
    rows = run_demo(load_codec(args), args.output, path)
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


def cmd_bench(args):
    """``rnncodec bench``: encode and decode speed on one thread."""
    from speechbrain_rnncodec.audio import read_audio
    from speechbrain_rnncodec.benchmark import measure_speed
    from speechbrain_rnncodec.demo import SAMPLE

    torch.set_num_threads(args.threads)
    if args.training:
        return bench_training(args)
    codec = load_codec(args)
    if args.load:
        return bench_load(args, codec)
    if args.compression:
        return bench_compression(args, codec)
    if args.phase:
        return bench_phase(args, codec)
    if args.pitch:
        return bench_pitch(args, codec)
    if args.loss:
        return bench_loss(args, codec)
    if args.transport:
        return bench_transport(args, codec)
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


def bench_compression(args, codec):
    """``rnncodec bench --compression FOLDER``: bytes on disk and speed of
    the .rnc path with each entropy model."""
    from speechbrain_rnncodec.audio import read_audio
    from speechbrain_rnncodec.benchmark import measure_compression
    from speechbrain_rnncodec.evaluate import find_utterances

    utts = find_utterances(args.compression, args.max_utterances)
    wavs = [read_audio(u.path, codec.sample_rate) for u in utts]
    models = args.entropy.split(",")
    rows = measure_compression(codec, wavs, models, args.repeats)
    seconds = sum(len(w) for w in wavs) / codec.sample_rate
    print(f"command: rnncodec {' '.join(sys.argv[1:])}")
    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); "
        f"{len(wavs)} files, {seconds:.0f} s; median of {args.repeats} passes"
    )
    print(
        f"{'entropy model':>24} {'kbps':>5} {'real kbps':>9} {'saved %':>8} {'x RT':>6}"
    )
    for r in rows:
        print(
            f"{r['entropy']:>24} {r['kbps']:>5g} {r['real_kbps']:>9.3f} "
            f"{r['saved']:>8.1f} {r['total_x']:>6.1f}"
        )
    return 0


def bench_phase(args, codec):
    """``rnncodec bench --phase FOLDER``: magnitude or phase, which one
    limits the decoded speech (oracle swaps, Griffin-Lim, phase agreement)."""
    from speechbrain_rnncodec.audio import read_audio
    from speechbrain_rnncodec.diagnostics import phase_diagnostics
    from speechbrain_rnncodec.evaluate import find_utterances

    utts = find_utterances(args.phase, args.max_utterances or 20)
    wavs = [read_audio(u.path, codec.sample_rate, duration=args.seconds) for u in utts]
    bitrate = args.bitrate or max(codec.bitrates)
    result = phase_diagnostics(codec, wavs, bitrate)
    print(f"command: rnncodec {' '.join(sys.argv[1:])}")
    print(
        f"{len(wavs)} utterances of {args.phase}, at most {args.seconds:g} s each, "
        f"{bitrate:g} kbps; the decoder's framing"
    )
    print(f"{'what is decoded':>48} {'PESQ-WB':>8} {'STOI':>6}")
    for r in result["rows"]:
        print(f"{r['what']:>48} {r['pesq']:>8.3f} {r['stoi']:>6.3f}")
    print(f"{'band':>14} {'phase cos':>10} {'advance cos':>12} {'energy':>7}")
    for b in result["bands"]:
        print(
            f"{b['band']:>14} {b['phase']:>10.3f} {b['advance']:>12.3f} "
            f"{b['energy']:>7.3f}"
        )
    return 0


def bench_pitch(args, codec):
    """``rnncodec bench --pitch FOLDER``: the source-filter decoder's F0
    against the reference tracker, and what its errors cost."""
    from speechbrain_rnncodec.audio import read_audio
    from speechbrain_rnncodec.diagnostics import pitch_diagnostics
    from speechbrain_rnncodec.evaluate import find_utterances

    utts = find_utterances(args.pitch, args.max_utterances or 20)
    wavs = [read_audio(u.path, codec.sample_rate, duration=args.seconds) for u in utts]
    bitrate = args.bitrate or max(codec.bitrates)
    result = pitch_diagnostics(codec, wavs, bitrate)
    err = result["decoder"]
    print(f"command: rnncodec {' '.join(sys.argv[1:])}")
    print(
        f"{len(wavs)} utterances of {args.pitch}, at most {args.seconds:g} s each, "
        f"{bitrate:g} kbps; {err['frames']} voiced frames of the reference"
    )
    print(
        f"decoder F0 against the reference: gross errors (> 20 %) "
        f"{100 * err['gross']:.1f} %, fine error {err['cents']:.1f} cents "
        f"(median), voicing errors {100 * err['voicing']:.1f} %"
    )
    print(f"{'what is decoded':>48} {'PESQ-WB':>8} {'STOI':>6}")
    for r in result["rows"]:
        print(f"{r['what']:>48} {r['pesq']:>8.3f} {r['stoi']:>6.3f}")
    for t in result["trackers"]:
        line = f"tracker {t['name']}: {t['x_realtime']:.1f}x real time"
        if "against" in t:
            line += (
                f"; against {t['against']}: gross {100 * t['gross']:.1f} %, fine "
                f"{t['cents']:.1f} cents, voicing {100 * t['voicing']:.1f} %"
            )
        print(line)
    return 0


def _machine():
    return (
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s)"
    )


def bench_loss(args, codec):
    """``rnncodec bench --loss FOLDER``: concealment of lost 20 ms packets
    beside silence and Opus's own concealment, same loss patterns."""
    import datetime

    from speechbrain_rnncodec.audio import read_audio
    from speechbrain_rnncodec.evaluate import find_utterances
    from speechbrain_rnncodec.loss_bench import loss_benchmark

    utts = find_utterances(args.loss, args.max_utterances)
    wavs = [read_audio(u.path, codec.sample_rate) for u in utts]
    bitrate = args.bitrate or 3.0
    rows = loss_benchmark(
        codec,
        wavs,
        args.patterns.split(","),
        args.conceal.split(","),
        bitrate,
        args.opus or None,
        args.seed,
        args.mean_burst,
        progress=not args.quiet,
    )
    seconds = sum(len(w) for w in wavs) / codec.sample_rate
    print(f"command: rnncodec {' '.join(sys.argv[1:])}")
    print(
        f"date: {datetime.datetime.now().isoformat(timespec='minutes')}; machine: "
        f"{_machine()}; median over {len(wavs)} utterances of {args.loss} "
        f"({seconds:.0f} s); seed {args.seed}, gilbert mean burst {args.mean_burst:g}"
    )
    print(
        f"{'loss pattern':>12} {'lost %':>6} {'decoder':>26} {'PESQ-WB':>8} "
        f"{'STOI':>6} {'DNSMOS':>7} {'jump':>5}"
    )
    for r in rows:
        print(
            f"{r['pattern']:>12} {100 * r['loss']:>6.1f} {r['what']:>26} "
            f"{r['pesq']:>8.3f} {r['stoi']:>6.3f} {r['dnsmos']:>7.3f} "
            f"{r['jump']:>5.2f}"
        )
    return 0


def bench_transport(args, codec):
    """``rnncodec bench --transport FOLDER``: payload bytes per packet and
    kbps of the transport packets, raw and entropy-coded."""
    from speechbrain_rnncodec.audio import read_audio
    from speechbrain_rnncodec.evaluate import find_utterances
    from speechbrain_rnncodec.loss_bench import transport_overhead

    utts = find_utterances(args.transport, args.max_utterances)
    wavs = [read_audio(u.path, codec.sample_rate) for u in utts]
    bitrates = [args.bitrate] if args.bitrate else None
    rows = transport_overhead(codec, wavs, bitrates)
    print(f"command: rnncodec {' '.join(sys.argv[1:])}")
    print(
        f"machine: {_machine()}; {len(wavs)} utterances of {args.transport}; "
        f"entropy model {codec.entropy_model.model_id}"
    )
    print(
        f"{'kbps':>5} {'frames':>6} {'ms':>5} {'raw B/pkt':>9} {'raw kbps':>8} "
        f"{'over %':>6} {'entropy B/pkt':>13} {'entropy kbps':>12} {'saved %':>7}"
    )
    for r in rows:
        raw, ent = r["raw"], r["entropy"]
        print(
            f"{r['kbps']:>5g} {r['frames_per_packet']:>6} {r['ms']:>5g} "
            f"{raw['bytes_per_packet']:>9.2f} {raw['kbps']:>8.3f} "
            f"{raw['overhead']:>6.1f} {ent['bytes_per_packet']:>13.2f} "
            f"{ent['kbps']:>12.3f} {r['saved']:>7.1f}"
        )
    return 0


def bench_load(args, codec):
    """``rnncodec bench --load WORKDIR``: many short files and one long file
    through the command and the API, with peak memory."""
    from speechbrain_rnncodec.audio import read_audio
    from speechbrain_rnncodec.demo import SAMPLE
    from speechbrain_rnncodec.evaluate import find_utterances
    from speechbrain_rnncodec.loadtest import load_test

    paths = [u.path for u in find_utterances(args.data, 50)] if args.data else []
    speech = torch.cat([read_audio(p) for p in paths or [args.input or SAMPLE]])
    result = load_test(
        codec,
        speech.numpy(),
        args.load,
        args.short_files,
        args.short_seconds,
        args.long_minutes * 60,
        bitrate=6.0,
        model=args.model,
    )
    short, long = result["short"], result["long"]
    trace = result["short"]["api_rss_mib"]
    print(f"command: rnncodec {' '.join(sys.argv[1:])}")
    print(f"speech: {len(speech) / 16000:.0f} s from {len(paths) or 1} file(s), 6 kbps")
    print(f"{'job':>44} {'seconds':>8} {'peak RSS MiB':>13}")
    for name, (secs, mib) in [
        (
            f"encode {short['files']} files of {short['seconds_each']:g} s",
            short["encode"],
        ),
        (
            f"decode {short['files']} files ({short['decoded_files']} written)",
            short["decode"],
        ),
        (f"encode one {long['seconds'] / 60:g}-minute file", long["encode"]),
        (f"decode it ({long['decoded_seconds'] / 60:.1f} min written)", long["decode"]),
    ]:
        print(f"{name:>44} {secs:>8.1f} {mib:>13.0f}")
    print(
        f"API compress+decompress of the {short['files']} files, resident MiB "
        f"after each tenth: {' '.join(f'{m:.0f}' for m in trace)} "
        f"(growth after the first tenth: {trace[-1] - trace[0]:+.1f} MiB)"
    )
    return 0


def bench_training(args):
    """``rnncodec bench --training YAML``: training throughput."""
    from speechbrain_rnncodec.benchmark import measure_training
    from speechbrain_rnncodec.evaluate import find_utterances

    files = [u.path for u in find_utterances(args.data, max_utterances=50)]
    speed = measure_training(args.training, files, args.steps, args.precision)
    print(f"command: rnncodec {' '.join(sys.argv[1:])}")
    print(
        f"training: {speed:.1f} s of audio per second "
        f"({args.precision}, {torch.get_num_threads()} thread(s), "
        f"mean over {args.steps} steps after a warm-up)"
    )
    return 0


def cmd_eval(args):
    """``rnncodec eval``: codecs side by side on a LibriSpeech folder."""
    import datetime

    from speechbrain_rnncodec.baselines import make_codec
    from speechbrain_rnncodec.evaluate import evaluate, find_utterances, write_results
    from speechbrain_rnncodec.metrics import WhisperASR

    torch.set_num_threads(args.threads)
    utts = find_utterances(args.data, args.max_utterances)
    model = load_codec(args) if "rnncodec" in args.codecs else None
    codecs = [make_codec(spec, model=model) for spec in args.codecs.split(",")]
    asr = None
    if args.asr != "none":
        asr = WhisperASR(args.asr, cpu_threads=args.asr_threads)
    examples = {u.id for u in utts[: args.examples]}
    noise = None
    if args.noisy:
        from speechbrain_rnncodec.audio import read_audio
        from speechbrain_rnncodec.noise import NoisyCopies

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
    from speechbrain_rnncodec.report import write_report

    report = write_report(results, audio, args.output, meta, table)
    print(table)
    print(f"written: {args.output}/results.json, results.md, {report}")
    return 0


def cmd_export(args):
    """``rnncodec export``: training checkpoint -> hub folder."""
    from speechbrain_rnncodec.export import export_checkpoint

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
    print(f"exported {args.checkpoint} to {out} (model card: {out}/README.md)")
    return 0


def cmd_tokens(args):
    """``rnncodec tokens``: tokens of the utterances of CSV manifests."""
    from speechbrain_rnncodec.tokens import extract_tokens

    written = extract_tokens(
        args.csv, args.output, args.model, args.bitrate, args.workers, not args.quiet
    )
    print(f"tokens in {args.output}; manifests: {', '.join(map(str, written))}")
    return 0


def cmd_shards(args):
    """``rnncodec shards``: a corpus into WebDataset tar shards."""
    import pathlib

    from speechbrain_rnncodec.shards import write_shards

    if "%" not in args.output:
        example = pathlib.Path(args.output).with_suffix("").name + "-%06d.tar"
        raise ValueError(f"--output needs a shard number field, e.g. {example}")
    shards = write_shards(args.source, args.output, args.max_count)
    if not shards:
        raise ValueError(f"no utterances in {' '.join(args.source)}")
    print(f"{len(shards)} shards: {shards[0]} ... {shards[-1].name}")
    return 0


def cmd_generate(args):
    """``rnncodec generate``: speech sampled from the codec's prior."""
    from speechbrain_rnncodec.atomic import write_bytes
    from speechbrain_rnncodec.audio import read_audio
    from speechbrain_rnncodec.generate import generate
    from speechbrain_rnncodec.report import wav_bytes

    codec = load_codec(args)
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
            from speechbrain_rnncodec.metrics import dnsmos_scores

            scores = dnsmos_scores(wav[None], torch.ones(1), codec.sample_rate)
            mos = {k: float(v[0]) for k, v in scores.items()}
            line += ", DNSMOS " + " ".join(f"{k} {v:.2f}" for k, v in mos.items())
            samples.append((f"seed {seed}", wav, line.partition(", ")[2], mos))
        print(line)
    if args.page:
        _generation_page(args, codec, samples)
    return 0


LISTEN_CODECS = (
    "rnncodec@1.5",
    "rnncodec@3",
    "rnncodec@6",
    "codec2@3200",
    "opus@6",
    "opus@12",
)


def cmd_listen(args):
    """``rnncodec listen PAGE``: one utterance through every codec, to hear."""
    from speechbrain_rnncodec.audio import read_audio
    from speechbrain_rnncodec.baselines import make_codec
    from speechbrain_rnncodec.demo import SAMPLE
    from speechbrain_rnncodec.report import write_listening_page

    model = load_codec(args)
    source = args.input or SAMPLE
    wav = read_audio(source, model.sample_rate, duration=args.seconds)
    players = [("original", wav, f"{len(wav) / model.sample_rate:.1f} s")]
    for spec in args.codecs.split(","):
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


def _generation_page(args, codec, samples):
    """``rnncodec generate --page``: median DNSMOS and a listening page."""
    import pathlib
    import statistics

    from speechbrain_rnncodec.report import write_listening_page

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
    demo.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    demo.add_argument("--input", help="audio file (default: shipped sample)")
    demo.add_argument("--output", default="rnncodec_demo", help="output folder")
    demo.set_defaults(handler=cmd_demo)

    bench = sub.add_parser("bench", help="encode/decode speed, one thread")
    bench.add_argument("--model", help=model_help)
    bench.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    bench.add_argument("--input", help="audio file (default: shipped sample)")
    bench.add_argument("--seconds", type=float, default=30.0, help="audio length")
    bench.add_argument("--repeats", type=int, default=5)
    bench.add_argument("--threads", type=int, default=1)
    bench.add_argument("--training", help="recipe yaml: measure training instead")
    bench.add_argument(
        "--data", help="with --training or --load: LibriSpeech-layout folder"
    )
    bench.add_argument("--steps", type=int, default=10, help="with --training")
    bench.add_argument(
        "--compression",
        metavar="FOLDER",
        help="measure compress + decompress (.rnc) on the .flac files of FOLDER",
    )
    bench.add_argument(
        "--entropy",
        default="uniform",
        help="with --compression: comma-separated entropy models (uniform, a file)",
    )
    bench.add_argument(
        "--max-utterances",
        type=int,
        help="with --compression, --phase, --pitch, --loss or --transport: use N "
        "files, evenly spaced (--phase, --pitch: 20)",
    )
    bench.add_argument(
        "--phase",
        metavar="FOLDER",
        help="magnitude or phase: oracle swaps, Griffin-Lim and phase agreement "
        "on the first --seconds of the utterances of FOLDER",
    )
    bench.add_argument(
        "--pitch",
        metavar="FOLDER",
        help="source-filter decoder: its F0 against the reference tracker and "
        "the PESQ-WB its errors cost, on the first --seconds of FOLDER's utterances",
    )
    bench.add_argument(
        "--bitrate",
        type=float,
        help="with --phase or --pitch (default: highest), --loss (default 3) or "
        "--transport (default: all)",
    )
    from speechbrain_rnncodec.concealment import METHODS
    from speechbrain_rnncodec.loss_bench import DEFAULT_PATTERNS, MEAN_BURST

    bench.add_argument(
        "--loss",
        metavar="FOLDER",
        help="lost 20 ms packets: our concealment beside silence and Opus's own "
        "concealment under the same seeded loss, PESQ-WB, STOI and DNSMOS on the "
        "utterances of FOLDER",
    )
    bench.add_argument(
        "--patterns",
        default=",".join(DEFAULT_PATTERNS),
        help="with --loss: comma-separated KIND@PERCENT, KIND random or gilbert "
        "(default: %(default)s)",
    )
    bench.add_argument(
        "--conceal",
        default=",".join(METHODS),
        help="with --loss: comma-separated concealment methods (default: %(default)s)",
    )
    bench.add_argument(
        "--opus",
        type=float,
        default=6.0,
        help="with --loss: Opus kbps (0: no Opus rows; default %(default)g)",
    )
    bench.add_argument("--seed", type=int, default=0, help="with --loss")
    bench.add_argument(
        "--mean-burst",
        type=float,
        default=MEAN_BURST,
        help="with --loss: mean packets per gilbert burst (default %(default)g)",
    )
    bench.add_argument("--quiet", action="store_true", help="with --loss: no bar")
    bench.add_argument(
        "--transport",
        metavar="FOLDER",
        help="transport payload bytes per packet and kbps at 1, 2, 5, 50 frames "
        "per packet, raw and entropy-coded, on the utterances of FOLDER",
    )
    bench.add_argument(
        "--load",
        metavar="WORKDIR",
        help="load test: many short files and one long file through the "
        "command and the API, peak memory (speech from --data or --input)",
    )
    bench.add_argument("--short-files", type=int, default=10000, help="with --load")
    bench.add_argument("--short-seconds", type=float, default=1.0, help="with --load")
    bench.add_argument("--long-minutes", type=float, default=120.0, help="with --load")
    bench.set_defaults(handler=cmd_bench)

    ev = sub.add_parser("eval", help="codecs side by side: quality, kbps, speed")
    ev.add_argument("--data", required=True, help="LibriSpeech-layout folder")
    ev.add_argument(
        "--codecs",
        default="rnncodec@1.5,rnncodec@3,rnncodec@6,opus@6,opus@8,opus@12,"
        "codec2@1600,codec2@3200",
        help="comma-separated NAME@BITRATE (opus, opuslib, codec2, rnncodec)",
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
        default=",".join(LISTEN_CODECS),
        help="comma-separated NAME@BITRATE (default: %(default)s)",
    )
    listen.add_argument("--model", help=model_help)
    listen.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    listen.set_defaults(handler=cmd_listen)

    # Compressed .rnc files: encode, decode, info, fit-entropy.
    from speechbrain_rnncodec.bitstream.commands import add_commands

    add_commands(sub, model_help)
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
