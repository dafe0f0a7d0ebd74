"""``rnncodec info``: the header, packets and real bitrate of an ``.rnc`` file.

Authors
 * speechbrain_rnncodec team 2026
"""

import contextlib
import sys

from speechbrain_rnncodec.bitstream.container import RNCReader
from speechbrain_rnncodec.cli.common import (
    STDIO,
    guarded,
    print_error,
)
from speechbrain_rnncodec.inference.shipped import shipped_model_with_hash


@guarded
def cmd_info(args):
    """``rnncodec info IN``: header fields, packets, real bitrate."""
    with contextlib.ExitStack() as stack:
        if args.input == STDIO:
            inp, name = sys.stdin.buffer, "stdin"
        else:
            inp, name = stack.enter_context(open(args.input, "rb")), args.input
        reader = RNCReader(inp, name)
        _print_header(name, reader.header)
        sys.stdout.flush()
        try:
            sizes = _read_packets(reader, args.packets)
        finally:
            sys.stdout.flush()
    _print_sizes(reader, *sizes)
    if reader.corrupted:
        print_error(f"{reader.corrupted} packet(s) are corrupted (CRC mismatch)")
        return 1
    return 0


def _print_header(name, h):
    """The header fields of file ``name``, one line each."""
    hop = h.samples_per_frame
    orig = (f"{h.orig_sample_rate} Hz" if h.orig_sample_rate else "unknown rate") + (
        f", {h.orig_channels} channel(s)" if h.orig_channels else ""
    )
    print(f"file: {name}")
    shipped = shipped_model_with_hash(h.model_hash)
    print(f"format: .rnc version {h.version}")
    print(
        f"model: {h.model_id or shipped or 'not a shipped one'} "
        f"(hash {h.model_hash.hex()}{', shipped' if shipped else ''})"
    )
    print(
        f"audio: {h.sample_rate} Hz mono, frame rate {h.frame_rate:g} Hz "
        f"({hop} samples/frame); original: {orig}"
    )
    print(
        f"tokens: {h.num_codebooks} codebooks of {h.codebook_size} codes, "
        f"nominal {h.bitrate / 1000:g} kbps"
    )
    print(f"entropy model: {h.entropy_id}")
    if h.version > 1:
        print(f"gain: {h.gain_db:+d} dB (into the codec's speech levels; undone)")
    if h.version == 1:
        stated = "unknown (stream)" if h.num_samples is None else h.num_samples
        print(f"samples (header): {stated}")
    print(f"packets: up to {h.frames_per_packet} frames each")


def _read_packets(reader, listed):
    """Reads every packet (a line for each one if ``listed``); returns the
    file's bytes, its token data bytes and its packets of frames."""
    total = reader.header_size
    payload = count = 0
    for packet in reader.packets(conceal=True):
        total += packet.size
        if packet.num_frames:
            count += 1
            payload += packet.payload_size
        if listed:
            kind = "end" if not packet.num_frames else f"{packet.num_frames} frames"
            state = "CORRUPTED" if packet.payload is None else "ok"
            print(f"  packet {packet.index}: {kind}, {packet.size} bytes, {state}")
    return total, payload, count


def _print_sizes(reader, total, payload, count):
    """Samples, bytes and real bitrate of a file read to its end."""
    h = reader.header
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


def add_parser(sub, model_help):
    """Registers ``info`` on ``sub``."""
    info = sub.add_parser("info", help="header, packets and real bitrate of .rnc")
    info.add_argument("input", metavar="IN", help=".rnc file or - (stdin)")
    info.add_argument("--packets", action="store_true", help="list every packet")
    info.set_defaults(handler=cmd_info)
