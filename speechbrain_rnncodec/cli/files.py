"""``rnncodec encode / decode / info / fit-entropy``: compressed files from
the command line (registered by :func:`add_parser` in ``cli/main.py``).

Every error ends the command with one line on stderr and exit code 1;
output files are written to a temp file in the same folder and renamed
only when complete; on standard output the stream just stops.

Authors
 * speechbrain_rnncodec team 2026
"""

import contextlib
import functools
import glob
import os
import pathlib
import struct
import sys

import numpy as np
import soundfile as sf

from speechbrain_rnncodec.audio.wavstream import WavStreamReader, file_chunks
from speechbrain_rnncodec.bitstream.container import RNCReader
from speechbrain_rnncodec.cli import common
from speechbrain_rnncodec.entropy.coding import FREQUENCY_FILE, fit_frequency_model
from speechbrain_rnncodec.inference.concealment import DEFAULT_METHOD, METHODS
from speechbrain_rnncodec.inference.file_coding import (
    RestoringSink,
    SoundFileSink,
    WavStreamSink,
    decode_stream,
    encode_stream,
)
from speechbrain_rnncodec.utils.atomic import atomic_path
from speechbrain_rnncodec.utils.parallel import map_with_codec

STDIO = "-"
RNC_SUFFIX = ".rnc"
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


def _error(msg):
    print(f"rnncodec: error: {msg}", file=sys.stderr)


def _notice(msg):
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
            _error("output closed before the end of the stream")
            return 1
        except (ValueError, OSError, RuntimeError, struct.error, EOFError) as err:
            msg = error_text(err).strip().splitlines()
            _error(msg[0] if msg else type(err).__name__)
            return 1

    return run


def is_audio(path):
    """True for a file name soundfile can probably read."""
    ext = path.suffix.lower()
    return ext[1:].upper() in sf.available_formats() or ext in _EXTRA_AUDIO


@contextlib.contextmanager
def atomic_output(path, force=False):
    """:func:`~speechbrain_rnncodec.utils.atomic.atomic_path` for an output the
    user named, with a clear error where it cannot be written, or where it
    exists and ``force`` (``-f/--force``) is not given."""
    path = pathlib.Path(path)
    if path.is_file() and not force:
        raise CommandError(f"{path} exists; use -f/--force to overwrite it")
    if path.is_dir():
        raise CommandError(f"{path} is a folder; give a file name")
    if not path.parent.is_dir():
        raise CommandError(f"cannot write {path}: no folder {path.parent}")
    with atomic_path(path) as tmp:
        yield tmp


def expand(source, target, want, out_suffix):
    """(input, output) pairs of a file, a folder or a glob pattern."""
    src = pathlib.Path(source)
    if src.is_dir():
        files = sorted(p for p in src.rglob("*") if p.is_file() and want(p))
        pairs = [
            (p, pathlib.Path(target) / p.relative_to(src).with_suffix(out_suffix))
            for p in files
        ]
    elif not src.exists() and glob.has_magic(source):
        files = sorted(
            pathlib.Path(p)
            for p in glob.glob(source, recursive=True)
            if want(pathlib.Path(p))
        )
        pairs = [(p, pathlib.Path(target) / (p.stem + out_suffix)) for p in files]
        names = [out for _, out in pairs]
        if len(set(names)) != len(names):
            raise CommandError(f"files matching {source} share names; use a folder")
    else:
        return None
    if target == STDIO:
        raise CommandError("a folder or pattern needs an output folder, not -")
    if not pairs:
        raise CommandError(f"no input file in {source}")
    return pairs


def _convert(codec, kind, src, dst, args):
    """Encodes or decodes one file of a folder; the error text, or None."""
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        if kind == "encode":
            _encode_one(codec, args, src, dst, None)
        else:
            _decode_one(codec, args, src, dst, _notice)
    except (ValueError, OSError, RuntimeError, struct.error, EOFError) as err:
        return f"{src}: {error_text(err)}"
    return None


def run_many(kind, pairs, args):
    """Encodes or decodes many files with a progress bar, in ``args.workers``
    processes (each loads the model once); a failing file is reported and
    skipped; exit code 1 if any failed.

    Arguments
    ---------
    kind : str
        ``"encode"`` or ``"decode"``.
    pairs : list of tuple
        (input path, output path).
    args : argparse.Namespace
        The command's options (``workers``, ``quiet``, model options).

    Returns
    -------
    int
        The exit code.
    """
    from tqdm import tqdm

    workers = min(args.workers, len(pairs))
    if workers < 1:
        raise CommandError(f"--workers must be at least 1, not {args.workers}")
    bar = tqdm(total=len(pairs), unit="file", disable=args.quiet, file=sys.stderr)
    results = map_with_codec(
        functools.partial(_convert, args=args),
        [(kind, src, dst) for src, dst in pairs],
        load=functools.partial(common.load_codec, args),
        workers=workers,
    )
    failed = 0
    for error in results:
        bar.update()
        if error:
            failed += 1
            tqdm.write(f"rnncodec: error: {error}", file=sys.stderr)
    bar.close()
    if not args.quiet:
        _notice(f"{len(pairs) - failed} of {len(pairs)} files done")
    return 1 if failed else 0


def _encode_one(codec, args, source, target, notice):

    if str(source) == STDIO:
        reader = WavStreamReader(sys.stdin.buffer, "stdin")
        rate, channels, chunks, name = (
            reader.sample_rate,
            reader.channels,
            reader.chunks(),
            "stdin",
        )
    else:
        rate, channels, chunks = file_chunks(source)
        name = str(source)
        if notice is not None and sys.stderr.isatty():
            chunks = with_progress(chunks, sf.info(str(source)).frames, rate)
    options = {"bitrate": args.bitrate, "frames_per_packet": args.frames_per_packet}
    if str(target) == STDIO:
        return encode_stream(
            codec,
            chunks,
            rate,
            channels,
            sys.stdout.buffer,
            name=name,
            notice=notice,
            **options,
        )
    with atomic_output(target, args.force) as tmp, open(tmp, "wb") as out:
        writer = encode_stream(
            codec, chunks, rate, channels, out, name=name, notice=notice, **options
        )
    return writer


PROGRESS_MIN_SECONDS = 60.0  # shorter files code in a few seconds: no bar


def with_progress(chunks, total_frames, rate):
    """``chunks`` ([n, channels] arrays) with a progress bar in seconds of
    audio on stderr, for a single long file on a terminal.

    Arguments
    ---------
    chunks : iterable
        Audio chunks.
    total_frames : int
        Sample frames of the whole file.
    rate : int
        Its sampling rate.

    Yields
    ------
    numpy.ndarray
        The chunks, unchanged.
    """
    from tqdm import tqdm

    total = total_frames / rate
    with tqdm(
        total=round(total, 1),
        unit="s",
        file=sys.stderr,
        disable=total < PROGRESS_MIN_SECONDS,
        bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s audio [{elapsed}<{remaining}]",
    ) as bar:
        for chunk in chunks:
            bar.update(len(chunk) / rate)
            yield chunk


def _summary(src, dst, header, size):
    seconds = header.num_samples / header.sample_rate
    kbps = size * 8 / seconds / 1000 if seconds else 0.0
    return (
        f"{src} -> {dst}: {seconds:.2f} s, {size} bytes, {kbps:.3f} kbps "
        f"({header.num_codebooks} codebooks, {header.entropy_id})"
    )


@guarded
def cmd_encode(args):
    """``rnncodec encode IN OUT``: audio -> ``.rnc``."""
    notice = None if args.quiet else _notice
    pairs = expand(args.input, args.output, is_audio, RNC_SUFFIX)
    if pairs is None and args.input != STDIO and not pathlib.Path(args.input).is_file():
        raise FileNotFoundError(f"no such audio file: {args.input}")
    if pairs is not None:
        return run_many("encode", pairs, args)
    codec = common.load_codec(args)
    writer = _encode_one(codec, args, args.input, args.output, notice)
    if args.output != STDIO and not args.quiet:
        print(_summary(args.input, args.output, writer.header, writer.bytes_written))
    return 0


def _decode_one(codec, args, source, target, warn):

    def restored(sink):
        return RestoringSink(sink) if args.rate == "original" else sink

    name = "stdin" if str(source) == STDIO else str(source)
    with contextlib.ExitStack() as stack:
        if str(source) == STDIO:
            inp = sys.stdin.buffer
        else:
            inp = stack.enter_context(open(source, "rb"))
        if str(target) == STDIO:
            sink = restored(WavStreamSink(sys.stdout.buffer))
            return decode_stream(codec, inp, sink, args.conceal, name, warn)
        target = pathlib.Path(target)
        ext = target.suffix.lower()
        if ext[1:].upper() not in sf.available_formats():
            raise CommandError(
                f"cannot write {target}: unknown audio format {ext or '(none)'} "
                "(use .wav, .flac, ...)"
            )
        tmp = stack.enter_context(atomic_output(target, args.force))

        def opener(rate, channels):
            handle = sf.SoundFile(tmp, "w", samplerate=rate, channels=channels)
            stack.callback(handle.close)  # closed before the rename or unlink
            return handle

        return decode_stream(
            codec, inp, restored(SoundFileSink(opener)), args.conceal, name, warn
        )


@guarded
def cmd_decode(args):
    """``rnncodec decode IN OUT``: ``.rnc`` -> audio."""
    pairs = expand(
        args.input, args.output, lambda p: p.suffix.lower() == RNC_SUFFIX, ".wav"
    )
    if pairs is None and args.input != STDIO and not pathlib.Path(args.input).is_file():
        raise FileNotFoundError(f"no such file: {args.input}")
    if pairs is not None:
        return run_many("decode", pairs, args)
    codec = common.load_codec(args)
    reader = _decode_one(codec, args, args.input, args.output, _notice)
    if reader.corrupted:
        _notice(f"{reader.corrupted} corrupted packet(s) concealed")
    if args.output != STDIO and not args.quiet:
        header = reader.header
        seconds = reader.num_samples / header.sample_rate
        print(
            f"{args.input} -> {args.output}: {seconds:.2f} s at {header.sample_rate} Hz"
        )
    return 0


@guarded
def cmd_info(args):
    """``rnncodec info IN``: header fields, packets, real bitrate."""
    with contextlib.ExitStack() as stack:
        if args.input == STDIO:
            inp, name = sys.stdin.buffer, "stdin"
        else:
            inp, name = stack.enter_context(open(args.input, "rb")), args.input
        reader = RNCReader(inp, name)
        h = reader.header
        hop = h.samples_per_frame
        orig = (
            f"{h.orig_sample_rate} Hz" if h.orig_sample_rate else "unknown rate"
        ) + (f", {h.orig_channels} channel(s)" if h.orig_channels else "")
        stated = "unknown (stream)" if h.num_samples is None else str(h.num_samples)
        print(f"file: {name}")
        print("format: .rnc version 1")
        print(f"model: {h.model_id} (hash {h.model_hash.hex()})")
        print(
            f"audio: {h.sample_rate} Hz mono, frame rate {h.frame_rate:g} Hz "
            f"({hop} samples/frame); original: {orig}"
        )
        print(
            f"tokens: {h.num_codebooks} codebooks of {h.codebook_size} codes, "
            f"nominal {h.bitrate / 1000:g} kbps"
        )
        print(f"entropy model: {h.entropy_id}")
        print(f"samples (header): {stated}")
        print(f"packets: up to {h.frames_per_packet} frames each")
        sys.stdout.flush()
        total = reader.header_size
        payload = count = 0
        try:
            for packet in reader.packets(conceal=True):
                total += packet.size
                if packet.num_frames:
                    count += 1
                    payload += packet.size - 7
                if args.packets:
                    kind = (
                        "end"
                        if not packet.num_frames
                        else f"{packet.num_frames} frames"
                    )
                    state = "CORRUPTED" if packet.payload is None else "ok"
                    print(
                        f"  packet {packet.index}: {kind}, {packet.size} bytes, {state}"
                    )
        finally:
            sys.stdout.flush()
    n = reader.num_samples
    seconds = n / h.sample_rate
    bits = (h.codebook_size - 1).bit_length()
    raw = -(-reader.frames * h.num_codebooks * bits // 8)
    print(f"samples: {n} ({seconds:.3f} s), {reader.frames} frames in {count} packets")
    print(
        f"bytes: {total} in all, {reader.header_size} header, {payload} token data "
        f"(raw {bits}-bit tokens: {raw}), {total - reader.header_size - payload} "
        "packet framing"
    )
    if seconds:
        print(
            f"real bitrate: {total * 8 / seconds / 1000:.3f} kbps "
            f"(token data {payload * 8 / seconds / 1000:.3f} kbps, "
            f"{payload * 8 / max(reader.frames * h.num_codebooks, 1):.2f} bits/code)"
        )
    if reader.corrupted:
        _error(f"{reader.corrupted} packet(s) are corrupted (CRC mismatch)")
        return 1
    return 0


@guarded
def cmd_fit_entropy(args):
    """``rnncodec fit-entropy``: token frequencies of a speech folder."""
    data = pathlib.Path(args.data)
    if not data.is_dir():
        raise FileNotFoundError(f"no such folder: {data}")
    files = sorted(p for p in data.rglob("*") if p.is_file() and is_audio(p))
    if args.max_files:
        files = files[: args.max_files]
    if not files:
        raise CommandError(f"no audio file in {data}")
    codec = common.load_codec(args)
    model = fit_frequency_model(
        codec, files, args.bitrate, args.floor, progress=not args.quiet
    )
    if pathlib.Path(args.output).is_dir():
        raise CommandError(f"{args.output} is a folder; give a file name")
    model.save(args.output)
    frames = model.meta["frames"]
    size = model.codebook_size
    for k, bits in enumerate(_ideal_bits(model)):
        if not args.quiet:
            raw = (size - 1).bit_length()
            print(f"codebook {k}: {bits:.3f} bits/code on these files (raw {raw})")
    seconds = frames * codec.mods.encoder.samples_per_frame / codec.sample_rate
    print(
        f"fitted {model.model_id} on {model.meta['files']} files "
        f"({frames} frames, {seconds:.0f} s): {args.output}"
    )
    print(
        f"to use it by default, copy it to the model's hub folder as {FREQUENCY_FILE}"
    )
    return 0


def _ideal_bits(model):
    """Cross-entropy (bits/code) of each codebook's counts under the
    model (the fitting data's own rate)."""
    probs = model.probabilities
    counts = model.counts
    return list(-(counts * np.log2(probs)).sum(axis=1) / np.maximum(counts.sum(1), 1))


def add_parser(sub, model_help):
    """Registers encode, decode, info and fit-entropy on ``sub``."""
    bitrate_help = "kbps, one the model serves (1.5, 3, 6; default: the highest)"
    entropy_help = (
        "token_prior.npz or token_frequencies.json to code with, or 'uniform' "
        "(default: the model's hub folder file if present, else uniform)"
    )

    def common(p):
        p.add_argument("--model", help=model_help)
        p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
        p.add_argument(
            "--device",
            default="cpu",
            help="where the model runs: cpu (default; its .rnc bytes are the "
            "reference), cuda, cuda:1, ...",
        )
        p.add_argument(
            "-f", "--force", action="store_true", help="overwrite existing outputs"
        )
        p.add_argument("--entropy", metavar="FILE", help=entropy_help)
        p.add_argument("--quiet", action="store_true", help="no notices, no summary")
        p.add_argument(
            "--workers",
            type=int,
            default=1,
            help="processes for a folder or pattern (one torch thread each)",
        )

    enc = sub.add_parser(
        "encode",
        help="audio -> compressed .rnc file",
        description="Compress audio into an .rnc file. IN: an audio file (any "
        "format, rate, channels), a WAV stream on stdin (-), a folder or a glob "
        "pattern; OUT: a file, stdout (-), or a folder for many inputs.",
    )
    enc.add_argument("input", metavar="IN")
    enc.add_argument("output", metavar="OUT")
    enc.add_argument("--bitrate", type=float, help=bitrate_help)
    enc.add_argument(
        "--frames-per-packet",
        type=int,
        default=50,
        help="token frames per packet (1 to 255, default 50 = 1 s)",
    )
    common(enc)
    enc.set_defaults(handler=cmd_encode)

    dec = sub.add_parser(
        "decode",
        help="compressed .rnc file -> audio",
        description="Decode an .rnc file (or stdin, -) into audio (a file whose "
        "extension gives the format, or a WAV stream on stdout, -); a folder of "
        ".rnc files decodes into a folder of .wav files.",
    )
    dec.add_argument("input", metavar="IN")
    dec.add_argument("output", metavar="OUT")
    dec.add_argument(
        "--rate",
        choices=["codec", "original"],
        default="codec",
        help="codec: the model's rate, mono (default); original: the input's "
        "rate and channel count as the file records them",
    )

    dec.add_argument(
        "--conceal",
        nargs="?",
        const=DEFAULT_METHOD,
        default=False,
        choices=METHODS,
        metavar="METHOD",
        help="conceal a corrupted packet (reported) instead of stopping: the "
        "decoder continues through it and fades to silence after 400 ms "
        f"(METHOD: {', '.join(METHODS)}; default {DEFAULT_METHOD})",
    )
    common(dec)
    dec.set_defaults(handler=cmd_decode)

    info = sub.add_parser("info", help="header, packets and real bitrate of .rnc")
    info.add_argument("input", metavar="IN", help=".rnc file or - (stdin)")
    info.add_argument("--packets", action="store_true", help="list every packet")
    info.set_defaults(handler=cmd_info)

    fit = sub.add_parser(
        "fit-entropy",
        help="fit the token frequency model on speech",
        description="Count the model's codes per codebook on a folder of speech "
        f"and write them as JSON; copy the file into the hub folder as "
        f"{FREQUENCY_FILE} to entropy-code with it by default.",
    )
    fit.add_argument("--data", required=True, help="folder of audio files (recursive)")
    fit.add_argument("--output", required=True, help="JSON file to write")
    fit.add_argument("--model", help=model_help)
    fit.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    fit.add_argument("--max-files", type=int, help="use the first N files (sorted)")
    fit.add_argument(
        "--bitrate", type=float, help="codebooks of this kbps (default: max)"
    )
    fit.add_argument("--floor", type=float, default=1.0, help="pseudo-count per code")
    fit.add_argument("--quiet", action="store_true", help="no progress bar")
    fit.set_defaults(handler=cmd_fit_entropy)
