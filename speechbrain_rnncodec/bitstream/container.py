"""The ``.rnc`` container: a header, then packets of entropy-coded token
frames, then an end-of-stream packet. See ``docs/format.md``.

Everything is little-endian ``struct`` data; nothing is pickled. Every
header field is checked against sanity limits and every packet carries a
CRC32, so a damaged or foreign file raises :class:`BitstreamError` (one
clear message) instead of decoding garbage. The writer and the reader
work on byte streams, packet by packet, with bounded memory.

Example
-------
>>> from speechbrain_rnncodec.entropy.coding import UniformModel
>>> header = Header(16000, 320, 2, 1024, 1000, 800, frames_per_packet=2)
>>> tokens = np.array([[1, 2], [3, 4], [5, 6]])
>>> data = write_tokens(tokens, header, UniformModel(1024))
>>> back, codes, num_samples = read_tokens(data, lambda h: UniformModel(1024))
>>> codes.tolist(), num_samples, back.num_samples
([[1, 2], [3, 4], [5, 6]], 800, 800)

Authors
 * speechbrain_rnncodec team 2026
"""

import dataclasses
import io
import struct
import zlib

import numpy as np

from speechbrain_rnncodec.audio.wavstream import read_exact
from speechbrain_rnncodec.bitstream.header import (
    CRC,
    MAX_SAMPLES,
    BitstreamError,
    Header,
    TruncatedError,
    max_payload,
)
from speechbrain_rnncodec.entropy.coding import (
    EntropyError,
    decode_packets,
    encode_packets,
)

# Packets whose tokens are entropy-coded side by side, at most (memory
# grows with their number; the learned prior's speed-up flattens out).
PACKETS_SIDE_BY_SIDE = 16
_PACKET = struct.Struct("<BH")  # frames, payload bytes
_INDEX = struct.Struct("<I")
_END = struct.Struct("<Q")


@dataclasses.dataclass
class Packet:
    """One packet as read: ``payload`` is None for a corrupted packet
    that the reader was asked to conceal."""

    index: int
    num_frames: int
    payload: bytes | None
    size: int  # bytes in the file, framing included
    first_frame: int


def _crc(index, framing, payload):
    return zlib.crc32(payload, zlib.crc32(framing, zlib.crc32(_INDEX.pack(index))))


class RNCWriter:
    """Writes an ``.rnc`` stream: push token frames, then :meth:`close`.

    The header goes out with the first packet (nothing is written for a
    stream that fails before it). If ``header.num_samples`` is None and
    the output is seekable, :meth:`close` fills it in.

    Arguments
    ---------
    stream : file object
        Binary output.
    header : Header
        The fields (``num_samples`` may be None).
    entropy_model : EntropyModel
        Codes the tokens; its id must be ``header.entropy_id``.
    """

    def __init__(self, stream, header, entropy_model):
        header.validate()
        if entropy_model.model_id != header.entropy_id:
            raise BitstreamError("the entropy model does not match header.entropy_id")
        if entropy_model.codebook_size != header.codebook_size:
            raise BitstreamError("the entropy model has another codebook size")
        self.stream = stream
        self.header = header
        self.model = entropy_model
        self.pending = np.zeros((0, header.num_codebooks), dtype=np.int64)
        self.packets = 0
        self.frames = 0
        self.bytes_written = 0
        self.header_at = None
        self.header_size = 0
        # A pipe reader gets each packet as soon as it is full; a file's
        # packets wait for a group (or the close) and are coded side by side.
        try:
            self.grouped = bool(stream.seekable())
        except (AttributeError, OSError, ValueError):
            self.grouped = False

    def _write(self, data):
        self.stream.write(data)
        self.bytes_written += len(data)

    def _start(self):
        if self.header_at is None:
            try:
                self.header_at = self.stream.tell()
            except (OSError, AttributeError, ValueError):
                self.header_at = -1
            data = self.header.pack()
            self.header_size = len(data)
            self._write(data)

    def _packet(self, num_frames, payload):
        framing = _PACKET.pack(num_frames, len(payload))
        crc = _crc(self.packets, framing, payload)
        self._write(framing + payload + CRC.pack(crc))
        self.packets += 1
        flush = getattr(self.stream, "flush", None)
        if flush is not None:
            flush()  # a pipe reader gets each packet at once

    def write(self, tokens):
        """Adds token frames [t, K]; writes every full packet."""
        tokens = np.asarray(tokens)
        if tokens.ndim != 2 or tokens.shape[1] != self.header.num_codebooks:
            raise BitstreamError(
                f"tokens must be [frames, {self.header.num_codebooks}], "
                f"not {list(tokens.shape)}"
            )
        self.pending = np.concatenate([self.pending, tokens])
        fpp = self.header.frames_per_packet
        group = fpp * PACKETS_SIDE_BY_SIDE
        while len(self.pending) >= (group if self.grouped else fpp):
            full = min(len(self.pending) // fpp * fpp, group)
            self._emit(np.split(self.pending[:full], full // fpp))
            self.pending = self.pending[full:]

    def _emit(self, packets):
        """Codes and writes packets (frames [n, K] each), side by side."""
        self._start()
        try:
            payloads = encode_packets(packets, self.model)
        except EntropyError as err:
            raise BitstreamError(str(err)) from err
        for frames, payload in zip(packets, payloads, strict=True):
            self._packet(len(frames), payload)
            self.frames += len(frames)

    def close(self, num_samples):
        """Writes the last packet and the end packet.

        Arguments
        ---------
        num_samples : int
            Samples of the signal (at the codec rate); must fit the
            number of frames written.
        """
        if len(self.pending):
            fpp = self.header.frames_per_packet
            self._emit(np.split(self.pending, range(fpp, len(self.pending), fpp)))
            self.pending = self.pending[:0]
        hop = self.header.samples_per_frame
        if -(-num_samples // hop) != self.frames or num_samples > MAX_SAMPLES:
            raise BitstreamError(
                f"{num_samples} samples do not fill {self.frames} frames of {hop}"
            )
        known = self.header.num_samples
        if known is not None and known != num_samples:
            raise BitstreamError(
                f"header says {known} samples, the stream has {num_samples}"
            )
        self._start()
        self._packet(0, _END.pack(num_samples))
        if known is None and self.header_at is not None and self.header_at >= 0:
            self._patch(num_samples)

    def _patch(self, num_samples):
        try:
            if not self.stream.seekable():
                return
            end = self.stream.tell()
            patched = dataclasses.replace(self.header, num_samples=num_samples).pack()
            self.stream.seek(self.header_at)
            self.stream.write(patched)
            self.stream.seek(end)
            self.header = dataclasses.replace(self.header, num_samples=num_samples)
        except (OSError, AttributeError, ValueError):
            return


class RNCReader:
    """Reads an ``.rnc`` stream packet by packet.

    Arguments
    ---------
    stream : file object
        Binary input (need not be seekable).
    name : str
        What to call it in errors.

    Attributes
    ----------
    header : Header
        Read at construction.
    num_samples : int or None
        From the end packet, once :meth:`packets` is exhausted.
    """

    MAX_BAD_IN_A_ROW = 3

    def __init__(self, stream, name="input"):
        self.stream = stream
        self.name = name
        self.header = Header.read(stream, name)
        self.header_size = len(self.header.pack())
        self.num_samples = None
        self.frames = 0
        self.corrupted = 0

    def _truncated(self, what):
        return TruncatedError(f"{self.name}: truncated .rnc data ({what})")

    def packets(self, conceal=False):
        """Yields :class:`Packet` objects until the end packet.

        Arguments
        ---------
        conceal : bool
            Yield packets whose CRC fails (``payload`` None) instead of
            raising, as long as their framing is plausible.
        """
        head = self.header
        index, in_a_row = 0, 0
        while True:
            framing = read_exact(self.stream, _PACKET.size)
            if not framing:
                raise self._truncated(f"no end packet after {index} packets")
            if len(framing) < _PACKET.size:
                raise self._truncated(f"packet {index} is cut")
            frames, size = _PACKET.unpack(framing)
            if frames > head.frames_per_packet or (
                size > max_payload(frames, head.num_codebooks)
                if frames
                else size != _END.size
            ):
                raise BitstreamError(
                    f"{self.name}: packet {index} is corrupted "
                    f"(framing of {frames} frames, {size} bytes is impossible)"
                )
            body = read_exact(self.stream, size + CRC.size)
            if len(body) < size + CRC.size:
                raise self._truncated(f"packet {index} is cut")
            payload, crc = body[:size], CRC.unpack(body[size:])[0]
            packet = Packet(
                index, frames, payload, _PACKET.size + len(body), self.frames
            )
            index += 1
            if _crc(packet.index, framing, payload) != crc:
                msg = f"{self.name}: packet {packet.index} is corrupted (CRC mismatch)"
                if not conceal or frames == 0:
                    raise BitstreamError(msg)
                in_a_row += 1
                self.corrupted += 1
                if in_a_row > self.MAX_BAD_IN_A_ROW:
                    raise BitstreamError(f"{msg}; lost sync, giving up")
                packet.payload = None
            else:
                in_a_row = 0
            if frames == 0:
                self._end(_END.unpack(payload)[0])
                yield packet
                return
            self.frames += frames
            yield packet

    def _end(self, num_samples):
        head = self.header
        if num_samples > MAX_SAMPLES:
            raise BitstreamError(f"{self.name}: end packet gives {num_samples} samples")
        if head.num_samples is not None and head.num_samples != num_samples:
            raise BitstreamError(
                f"{self.name}: header says {head.num_samples} samples, "
                f"end packet {num_samples}"
            )
        if -(-num_samples // head.samples_per_frame) != self.frames:
            raise BitstreamError(
                f"{self.name}: {self.frames} frames do not hold {num_samples} samples"
            )
        if read_exact(self.stream, 1):
            raise BitstreamError(f"{self.name}: trailing bytes after the end packet")
        self.num_samples = num_samples

    def decode(self, packets, entropy_model):
        """Codes [n, K] of each of some (non-corrupted) data packets, decoded
        :data:`PACKETS_SIDE_BY_SIDE` at a time; a :class:`BitstreamError`
        names the first undecodable one."""

        def decoded(group):
            return decode_packets(
                [(packet.payload, packet.num_frames) for packet in group],
                self.header.num_codebooks,
                entropy_model,
            )

        codes = []
        for start in range(0, len(packets), PACKETS_SIDE_BY_SIDE):
            group = packets[start : start + PACKETS_SIDE_BY_SIDE]
            try:
                codes += decoded(group)
            except EntropyError:
                for packet in group:
                    try:
                        decoded([packet])
                    except EntropyError as err:
                        msg = f"{self.name}: packet {packet.index}: {err}"
                        raise BitstreamError(msg) from err
                raise
        return codes


def write_tokens(tokens, header, entropy_model):
    """The ``.rnc`` bytes of tokens [T, K]; ``header.num_samples`` must
    be set."""
    if header.num_samples is None:
        raise BitstreamError("write_tokens needs header.num_samples")
    out = io.BytesIO()
    writer = RNCWriter(out, header, entropy_model)
    writer.write(tokens)
    writer.close(header.num_samples)
    return out.getvalue()


def read_tokens(data, resolve_entropy, name="input"):
    """Parses ``.rnc`` bytes.

    Arguments
    ---------
    data : bytes
        The whole file.
    resolve_entropy : callable
        ``Header -> EntropyModel`` (raise to refuse the file).
    name : str
        What to call the data in errors.

    Returns
    -------
    header : Header
        Its fields (``num_samples`` filled in from the end packet).
    tokens : numpy.ndarray
        Codes [T, K] (int64).
    num_samples : int
        Samples of the signal.
    """
    reader = RNCReader(io.BytesIO(data), name)
    model = resolve_entropy(reader.header)
    packets = [packet for packet in reader.packets() if packet.num_frames]
    parts = [np.zeros((0, reader.header.num_codebooks), dtype=np.int64)]
    parts += reader.decode(packets, model)
    header = dataclasses.replace(reader.header, num_samples=reader.num_samples)
    return header, np.concatenate(parts), reader.num_samples
