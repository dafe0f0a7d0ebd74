"""The ``.rnc`` container: a header, then packets of entropy-coded token
frames, then an end-of-stream packet. See ``docs/format.md``.

Everything is varints and little-endian ``struct`` data; nothing is
pickled. Every header field is checked against sanity limits and every
packet carries a CRC, so a damaged or foreign file raises
:class:`BitstreamError` (one clear message) instead of decoding garbage.
The writer (version 2) and the reader (versions 1 and 2) work on byte
streams, packet by packet, with bounded memory.

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
    CRC16,
    CRC32,
    MAX_SAMPLES,
    VERSION,
    BitstreamError,
    Header,
    TruncatedError,
    crc16,
    max_payload,
    read_varint,
    varint,
)
from speechbrain_rnncodec.entropy.coding import (
    EntropyError,
    decode_packets,
    encode_packets,
)

# Packets whose tokens are entropy-coded side by side, at most (memory
# grows with their number; the learned prior's speed-up flattens out).
PACKETS_SIDE_BY_SIDE = 16
_INDEX = struct.Struct("<I")
# Version 2: a packet's varint tag is its payload bytes x 4 + its kind.
FULL, SHORT, END = 0, 1, 2  # frames_per_packet frames; fewer (a byte says); end
_V1_PACKET = struct.Struct("<BH")  # frames, payload bytes
_V1_END = struct.Struct("<Q")


@dataclasses.dataclass
class Packet:
    """One packet as read: ``payload`` is None for a corrupted packet
    that the reader was asked to conceal."""

    index: int
    num_frames: int
    payload: bytes | None
    size: int  # bytes in the file, framing and CRC included
    payload_size: int
    first_frame: int


def _crc(version, index, framing, payload):
    """The packet's CRC: of its index, framing and payload."""
    if version == 1:
        return zlib.crc32(payload, zlib.crc32(framing, zlib.crc32(_INDEX.pack(index))))
    return crc16(payload, crc16(framing, crc16(_INDEX.pack(index))))


class RNCWriter:
    """Writes an ``.rnc`` stream: push token frames, then :meth:`close`.

    The header goes out with the first packet (nothing is written for a
    stream that fails before it); the end packet gives the length.

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
        self.header_size = 0
        self.num_samples = None  # given at the close
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
        if not self.header_size:
            data = self.header.pack()
            self.header_size = len(data)
            self._write(data)

    def _packet(self, num_frames, payload, kind=None):
        if kind is None:
            kind = FULL if num_frames == self.header.frames_per_packet else SHORT
        framing = varint(len(payload) << 2 | kind)
        if kind == SHORT:
            framing += bytes([num_frames])
        crc = _crc(VERSION, self.packets, framing, payload)
        self._write(framing + payload + CRC16.pack(crc))
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
        self._packet(0, varint(self.frames * hop - num_samples), END)
        self.num_samples = num_samples


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
        self.header_size = self.header.size
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
        index, in_a_row = 0, 0
        read = self._framing_v1 if self.header.version == 1 else self._framing
        while True:
            frames, framing, size = read(index)
            body = read_exact(self.stream, size + self._crc_struct.size)
            if len(body) < size + self._crc_struct.size:
                raise self._truncated(f"packet {index} is cut")
            payload, crc = body[:size], self._crc_struct.unpack(body[size:])[0]
            packet = Packet(
                index, frames, payload, len(framing) + len(body), size, self.frames
            )
            index += 1
            if _crc(self.header.version, packet.index, framing, payload) != crc:
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
                self._end(self._end_samples(payload))
                yield packet
                return
            self.frames += frames
            yield packet

    @property
    def _crc_struct(self):
        """The packing of this version's packet CRCs."""
        return CRC32 if self.header.version == 1 else CRC16

    def _impossible(self, index, frames, size):
        return BitstreamError(
            f"{self.name}: packet {index} is corrupted "
            f"(framing of {frames} frames, {size} bytes is impossible)"
        )

    def _framing(self, index):
        """Frames, framing bytes and payload size of packet ``index``
        (version 2: a varint tag, then a frame count if it is short)."""
        head = self.header
        first = read_exact(self.stream, 1)
        if not first:
            raise self._truncated(f"no end packet after {index} packets")
        pending = [first]

        def read(size):
            return pending.pop() if pending else read_exact(self.stream, size)

        try:
            tag, framing = read_varint(read, f"the tag of packet {index}")
        except TruncatedError:
            raise self._truncated(f"packet {index} is cut") from None
        except BitstreamError as err:
            raise BitstreamError(f"{self.name}: {err}") from None
        size, kind = tag >> 2, tag & 3
        frames = head.frames_per_packet if kind == FULL else 0
        if kind == SHORT:
            count = read_exact(self.stream, 1)
            if not count:
                raise self._truncated(f"packet {index} is cut")
            framing, frames = framing + count, count[0]
        if (
            kind > END
            or (kind == SHORT and not 0 < frames < head.frames_per_packet)
            or size > (3 if kind == END else max_payload(frames, head.num_codebooks))
        ):
            raise self._impossible(index, frames, size)
        return frames, framing, size

    def _framing_v1(self, index):
        """Frames, framing bytes and payload size of packet ``index``
        (version 1: frames u8, length u16)."""
        head = self.header
        framing = read_exact(self.stream, _V1_PACKET.size)
        if not framing:
            raise self._truncated(f"no end packet after {index} packets")
        if len(framing) < _V1_PACKET.size:
            raise self._truncated(f"packet {index} is cut")
        frames, size = _V1_PACKET.unpack(framing)
        if frames > head.frames_per_packet or (
            size > max_payload(frames, head.num_codebooks)
            if frames
            else size != _V1_END.size
        ):
            raise self._impossible(index, frames, size)
        return frames, framing, size

    def _end_samples(self, payload):
        """The signal's samples, from the end packet's payload (version 2:
        the padding of the last frame, as a varint; version 1: u64)."""
        if self.header.version == 1:
            return _V1_END.unpack(payload)[0]
        data = io.BytesIO(payload)
        try:
            padding = read_varint(data.read, "the end packet")[0]
        except BitstreamError as err:
            raise BitstreamError(f"{self.name}: {err}") from None
        hop = self.header.samples_per_frame
        if data.read(1) or padding >= hop or padding > self.frames * hop:
            raise BitstreamError(f"{self.name}: end packet is malformed")
        return self.frames * hop - padding

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
