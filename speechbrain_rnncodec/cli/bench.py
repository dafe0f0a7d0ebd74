"""``rnncodec bench``: speed, compression, phase, pitch, load, training
and packet-loss benchmarks.

Authors
 * speechbrain_rnncodec team 2026
"""

import platform
import sys

import torch

from speechbrain_rnncodec.audio.corpus import find_utterances
from speechbrain_rnncodec.audio.io import read_audio
from speechbrain_rnncodec.cli import common


def cmd_bench(args):
    """``rnncodec bench``: encode and decode speed on one thread."""
    from speechbrain_rnncodec.evaluation.benchmark import measure_speed
    from speechbrain_rnncodec.evaluation.demo import SAMPLE

    torch.set_num_threads(args.threads)
    if args.training:
        return bench_training(args)
    codec = common.load_codec(args)
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
    from speechbrain_rnncodec.evaluation.benchmark import measure_compression

    utts = find_utterances(args.compression, args.max_utterances)
    wavs = [read_audio(u.path, codec.sample_rate) for u in utts]
    models = args.entropy_models.split(",")
    rows = measure_compression(codec, wavs, models, args.repeats)
    seconds = sum(len(w) for w in wavs) / codec.sample_rate
    print(f"command: rnncodec {' '.join(sys.argv[1:])}")
    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); "
        f"{len(wavs)} files, {seconds:.0f} s; median of {args.repeats} passes"
    )
    print(
        f"{'entropy model':>24} {'kbps':>5} {'real kbps':>9} {'container':>9} "
        f"{'saved %':>8} {'x RT':>6}"
    )
    for r in rows:
        print(
            f"{r['entropy']:>24} {r['kbps']:>5g} {r['real_kbps']:>9.3f} "
            f"{r['container_kbps']:>9.3f} {r['saved']:>8.1f} {r['total_x']:>6.1f}"
        )
    return 0


def bench_phase(args, codec):
    """``rnncodec bench --phase FOLDER``: magnitude or phase, which one
    limits the decoded speech (oracle swaps, Griffin-Lim, phase agreement)."""
    from speechbrain_rnncodec.evaluation.diagnostics import phase_diagnostics

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
    from speechbrain_rnncodec.evaluation.diagnostics import pitch_diagnostics

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
    for r in result["sent"]:
        print(
            f"sent F0 against the reference {r['ms']} ms into the frame: gross "
            f"{100 * r['gross']:.1f} %, fine {r['cents']:.1f} cents (frames both "
            f"call voiced), voicing {100 * r['voicing']:.1f} %"
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

    from speechbrain_rnncodec.evaluation.loss_bench import loss_benchmark

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
    from speechbrain_rnncodec.evaluation.loss_bench import transport_overhead

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
    from speechbrain_rnncodec.evaluation.demo import SAMPLE
    from speechbrain_rnncodec.evaluation.loadtest import load_test

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
    from speechbrain_rnncodec.evaluation.benchmark import measure_training

    files = [u.path for u in find_utterances(args.data, max_utterances=50)]
    speed = measure_training(args.training, files, args.steps, args.precision)
    print(f"command: rnncodec {' '.join(sys.argv[1:])}")
    print(
        f"training: {speed:.1f} s of audio per second "
        f"({args.precision}, {torch.get_num_threads()} thread(s), "
        f"mean over {args.steps} steps after a warm-up)"
    )
    return 0


def add_parser(sub, model_help):
    """Registers ``bench`` on ``sub``."""
    bench = sub.add_parser("bench", help="encode/decode speed, one thread")
    _add_speed_options(bench, model_help)
    _add_diagnostics_options(bench)
    _add_packet_options(bench)
    _add_load_options(bench)
    bench.set_defaults(handler=cmd_bench)


def _add_speed_options(bench, model_help):
    """The model, the audio and the repeats of the speed benchmark, and the
    training benchmark (``--training``)."""
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


def _add_diagnostics_options(bench):
    """``--compression``, ``--phase``, ``--pitch`` and their options."""
    bench.add_argument(
        "--compression",
        metavar="FOLDER",
        help="measure compress + decompress (.rnc) on the .flac files of FOLDER",
    )
    bench.add_argument(
        "--entropy",
        dest="entropy_models",  # not the codec's own --entropy (cli.common)
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


def _add_packet_options(bench):
    """``--loss`` (lost packets) and ``--transport`` (packet sizes) and their
    options."""
    from speechbrain_rnncodec.evaluation.loss_bench import DEFAULT_PATTERNS, MEAN_BURST
    from speechbrain_rnncodec.inference.concealment import METHODS

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


def _add_load_options(bench):
    """``--load`` and its options."""
    bench.add_argument(
        "--load",
        metavar="WORKDIR",
        help="load test: many short files and one long file through the "
        "command and the API, peak memory (speech from --data or --input)",
    )
    bench.add_argument("--short-files", type=int, default=10000, help="with --load")
    bench.add_argument("--short-seconds", type=float, default=1.0, help="with --load")
    bench.add_argument("--long-minutes", type=float, default=120.0, help="with --load")
