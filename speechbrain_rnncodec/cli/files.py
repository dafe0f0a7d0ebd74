"""``rnncodec encode / decode``: compressed files from
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
import pathlib
import struct
import sys

import soundfile as sf

from speechbrain_rnncodec.audio.level import file_gain_db
from speechbrain_rnncodec.audio.wavstream import WavStreamReader, file_chunks
from speechbrain_rnncodec.cli import common
from speechbrain_rnncodec.cli.common import (
    STDIO,
    CommandError,
    error_text,
    guarded,
    is_audio,
    print_notice,
)
from speechbrain_rnncodec.inference.concealment import DEFAULT_METHOD, METHODS
from speechbrain_rnncodec.inference.file_coding import decode_stream, encode_stream
from speechbrain_rnncodec.inference.sinks import (
    RestoringSink,
    SoundFileSink,
    WavStreamSink,
)
from speechbrain_rnncodec.utils.atomic import atomic_path
from speechbrain_rnncodec.utils.parallel import map_with_codec

RNC_SUFFIX = ".rnc"


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
            _decode_one(codec, args, src, dst, print_notice)
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
        print_notice(f"{len(pairs) - failed} of {len(pairs)} files done")
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
        gain_db = 0  # a live stream's level is not known ahead
    else:
        gain_db = file_gain_db(source)  # a first pass over the file
        rate, channels, chunks = file_chunks(source, codec.chunk_seconds)
        name = str(source)
        if notice is not None and sys.stderr.isatty():
            chunks = with_progress(chunks, sf.info(str(source)).frames, rate)
    options = {
        "bitrate": args.bitrate,
        "frames_per_packet": args.frames_per_packet,
        "live": str(source) == STDIO,  # each chunk coded as it arrives
        "gain_db": gain_db,
    }
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


def _summary(src, dst, writer):
    header, size = writer.header, writer.bytes_written
    seconds = writer.num_samples / header.sample_rate
    kbps = size * 8 / seconds / 1000 if seconds else 0.0
    return (
        f"{src} -> {dst}: {seconds:.2f} s, {size} bytes, {kbps:.3f} kbps "
        f"({header.num_codebooks} codebooks, {header.entropy_id})"
    )


@guarded
def cmd_encode(args):
    """``rnncodec encode IN OUT``: audio -> ``.rnc``."""
    notice = None if args.quiet else print_notice
    pairs = expand(args.input, args.output, is_audio, RNC_SUFFIX)
    if pairs is None and args.input != STDIO and not pathlib.Path(args.input).is_file():
        raise FileNotFoundError(f"no such audio file: {args.input}")
    if pairs is not None:
        return run_many("encode", pairs, args)
    codec = common.load_codec(args)
    writer = _encode_one(codec, args, args.input, args.output, notice)
    if args.output != STDIO and not args.quiet:
        print(_summary(args.input, args.output, writer))
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
    reader = _decode_one(codec, args, args.input, args.output, print_notice)
    if reader.corrupted:
        print_notice(f"{reader.corrupted} corrupted packet(s) concealed")
    if args.output != STDIO and not args.quiet:
        header = reader.header
        seconds = reader.num_samples / header.sample_rate
        print(
            f"{args.input} -> {args.output}: {seconds:.2f} s at {header.sample_rate} Hz"
        )
    return 0


def add_parser(sub, model_help):
    """Registers ``encode`` and ``decode`` on ``sub``."""
    _add_encode(sub, model_help)
    _add_decode(sub, model_help)


def _add_coding_options(p, model_help):
    """The options ``encode`` and ``decode`` share."""
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
    p.add_argument(
        "--entropy",
        metavar="FILE",
        help="token_prior.npz or token_frequencies.json to code with, or 'uniform' "
        "(default: the model's hub folder file if present, else uniform)",
    )
    p.add_argument("--quiet", action="store_true", help="no notices, no summary")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes for a folder or pattern (one torch thread each)",
    )


def _add_encode(sub, model_help):
    """Registers ``encode``."""
    enc = sub.add_parser(
        "encode",
        help="audio -> compressed .rnc file",
        description="Compress audio into an .rnc file. IN: an audio file (any "
        "format, rate, channels), a WAV stream on stdin (-), a folder or a glob "
        "pattern; OUT: a file, stdout (-), or a folder for many inputs.",
    )
    enc.add_argument("input", metavar="IN")
    enc.add_argument("output", metavar="OUT")
    enc.add_argument(
        "--bitrate",
        type=float,
        help="kbps, one the model serves (1.5, 3, 6; default: the highest)",
    )
    enc.add_argument(
        "--frames-per-packet",
        type=int,
        default=50,
        help="token frames per packet (1 to 255, default 50 = 1 s)",
    )
    _add_coding_options(enc, model_help)
    enc.set_defaults(handler=cmd_encode)


def _add_decode(sub, model_help):
    """Registers ``decode``."""
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
    _add_coding_options(dec, model_help)
    dec.set_defaults(handler=cmd_decode)
