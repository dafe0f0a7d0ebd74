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
from speechbrain_rnncodec.entropy.coding import (
    EntropyError,
    decode_packet,
    encode_packet,
)

MAGIC = b"\x89RNC"
VERSION = 1
UNKNOWN = 2**64 - 1  # num_samples of a stream whose length was not known

# Sanity limits (docs/format.md lists them).
MAX_SAMPLE_RATE = 768000
MAX_SAMPLES_PER_FRAME = 65536
MAX_CODEBOOKS = 64
MAX_CODEBOOK_SIZE = 65536
MAX_BITRATE = 10_000_000
MAX_SAMPLES = 2**40
MAX_ORIG_RATE = 2**24
MAX_CHANNELS = 1024
MAX_FRAMES_PER_PACKET = 255
MAX_ID_BYTES = 64
MAX_HEADER_SIZE = 512
# 24-bit probabilities: a code costs at most 24 bits, the coder's seal
# at most two 32-bit words.
MAX_BITS_PER_CODE = 24

_PREFIX = struct.Struct("<4sBH")  # magic, version, header_size
_FIXED = struct.Struct("<IIBIIQIHB16s")
_PACKET = struct.Struct("<BH")  # frames, payload bytes
_CRC = struct.Struct("<I")
_INDEX = struct.Struct("<I")
_END = struct.Struct("<Q")


class BitstreamError(ValueError):
    """An ``.rnc`` stream that cannot be read (the message says why)."""


class TruncatedError(BitstreamError):
    """The stream ends before its end packet (a cut file or a broken pipe)."""


class ModelMismatchError(BitstreamError):
    """An ``.rnc`` stream made by another model (or frequency table)."""


def max_payload(num_frames, num_codebooks):
    """Largest valid payload (bytes) of a packet."""
    return -(-num_frames * num_codebooks * MAX_BITS_PER_CODE // 8) + 8


def _check(ok, field, value, limits):
    if not ok:
        raise BitstreamError(
            f"header field {field} = {value!r} is out of range {limits}"
        )


def _check_text(field, value, ascii_only):
    data = value.encode("utf-8") if isinstance(value, str) else None
    printable = (
        data is not None and value.isprintable() and (not ascii_only or value.isascii())
    )
    _check(
        printable and 0 < len(data) <= MAX_ID_BYTES,
        field,
        value,
        f"(1 to {MAX_ID_BYTES} printable {'ASCII' if ascii_only else 'UTF-8'} bytes)",
    )
    return data


@dataclasses.dataclass
class Header:
    """The fields of an ``.rnc`` header.

    Arguments
    ---------
    sample_rate : int
        Rate of the codec's waveforms (Hz).
    samples_per_frame : int
        Samples per token frame (frame rate = sample_rate / this).
    num_codebooks : int
        Codes per frame (K).
    codebook_size : int
        Codes per codebook (C).
    bitrate : int
        Nominal bitrate (bit/s), e.g. 3000.
    num_samples : int or None
        Samples of the signal at ``sample_rate``; None: unknown when the
        header was written (a stream), given by the end packet.
    orig_sample_rate : int
        Rate of the audio before resampling (0: unknown).
    orig_channels : int
        Channels of the audio before downmixing (0: unknown).
    frames_per_packet : int
        Frames per packet (the last packet may hold fewer).
    model_id : str
        Name of the codec model.
    model_hash : bytes
        16 bytes identifying the model's weights (see docs/format.md).
    entropy_id : str
        The entropy model's id (``uniform``, ``freq1-...``).
    """

    sample_rate: int
    samples_per_frame: int
    num_codebooks: int
    codebook_size: int
    bitrate: int
    num_samples: int | None = None
    orig_sample_rate: int = 0
    orig_channels: int = 0
    frames_per_packet: int = 50
    model_id: str = "unnamed"
    model_hash: bytes = bytes(16)
    entropy_id: str = "uniform"

    @property
    def frame_rate(self):
        """Token frames per second."""
        return self.sample_rate / self.samples_per_frame

    @property
    def num_frames(self):
        """Token frames of the signal (None if the length is unknown)."""
        if self.num_samples is None:
            return None
        return -(-self.num_samples // self.samples_per_frame)

    def validate(self):
        """Raises :class:`BitstreamError` unless every field is sane."""
        ints = [
            ("sample_rate", 1000, MAX_SAMPLE_RATE),
            ("samples_per_frame", 1, MAX_SAMPLES_PER_FRAME),
            ("num_codebooks", 1, MAX_CODEBOOKS),
            ("codebook_size", 2, MAX_CODEBOOK_SIZE),
            ("bitrate", 1, MAX_BITRATE),
            ("orig_sample_rate", 0, MAX_ORIG_RATE),
            ("orig_channels", 0, MAX_CHANNELS),
            ("frames_per_packet", 1, MAX_FRAMES_PER_PACKET),
        ]
        for field, low, high in ints:
            value = getattr(self, field)
            _check(
                isinstance(value, int) and low <= value <= high,
                field,
                value,
                f"[{low}, {high}]",
            )
        value = self.num_samples
        _check(
            value is None or (isinstance(value, int) and 0 <= value <= MAX_SAMPLES),
            "num_samples",
            value,
            "[0, 2**40] or unknown",
        )
        _check(
            isinstance(self.model_hash, bytes) and len(self.model_hash) == 16,
            "model_hash",
            self.model_hash,
            "(16 bytes)",
        )
        _check_text("model_id", self.model_id, ascii_only=False)
        _check_text("entropy_id", self.entropy_id, ascii_only=True)
        return self

    def pack(self):
        """The header bytes (prefix, fields, CRC32)."""
        self.validate()
        fields = _FIXED.pack(
            self.sample_rate,
            self.samples_per_frame,
            self.num_codebooks,
            self.codebook_size,
            self.bitrate,
            UNKNOWN if self.num_samples is None else self.num_samples,
            self.orig_sample_rate,
            self.orig_channels,
            self.frames_per_packet,
            self.model_hash,
        )
        for text in (self.model_id, self.entropy_id):
            data = text.encode("utf-8")
            fields += bytes([len(data)]) + data
        body = _PREFIX.pack(MAGIC, VERSION, len(fields)) + fields
        return body + _CRC.pack(zlib.crc32(body))

    @classmethod
    def read(cls, stream, name="input"):
        """Reads and checks a header from a binary stream.

        Arguments
        ---------
        stream : file object
            Positioned at the magic.
        name : str
            What to call the stream in errors.

        Returns
        -------
        Header
            The checked fields.
        """
        prefix = read_exact(stream, _PREFIX.size)
        if not prefix:
            raise BitstreamError(f"{name} is empty, not an .rnc file")
        if not (prefix[:4] == MAGIC or MAGIC.startswith(prefix)):
            hint = ""
            if prefix[:4] in (b"RIFF", b"fLaC", b"OggS"):
                hint = " (it looks like audio; use `rnncodec encode`)"
            raise BitstreamError(f"{name} is not an .rnc file (bad magic){hint}")
        if len(prefix) < _PREFIX.size:
            raise BitstreamError(f"{name}: truncated .rnc header")
        _, version, size = _PREFIX.unpack(prefix)
        if version != VERSION:
            raise BitstreamError(
                f"{name}: .rnc version {version} is not supported "
                f"(this rnncodec reads version {VERSION})"
            )
        if not _FIXED.size + 2 <= size <= MAX_HEADER_SIZE:
            raise BitstreamError(f"{name}: .rnc header size {size} is out of range")
        rest = read_exact(stream, size + _CRC.size)
        if len(rest) < size + _CRC.size:
            raise BitstreamError(f"{name}: truncated .rnc header")
        fields, crc = rest[:size], _CRC.unpack(rest[size:])[0]
        if zlib.crc32(prefix + fields) != crc:
            raise BitstreamError(f"{name}: corrupted .rnc header (CRC mismatch)")
        values = list(_FIXED.unpack_from(fields))
        pos, texts = _FIXED.size, []
        for _ in range(2):
            length = fields[pos] if pos < len(fields) else None
            if length is None or pos + 1 + length > len(fields):
                raise BitstreamError(f"{name}: malformed .rnc header")
            raw = fields[pos + 1 : pos + 1 + length]
            pos += 1 + length
            try:
                texts.append(raw.decode("utf-8"))
            except UnicodeDecodeError as err:
                raise BitstreamError(f"{name}: malformed .rnc header text") from err
        if pos != len(fields):
            raise BitstreamError(f"{name}: malformed .rnc header (extra bytes)")
        names = [
            "sample_rate",
            "samples_per_frame",
            "num_codebooks",
            "codebook_size",
            "bitrate",
            "num_samples",
            "orig_sample_rate",
            "orig_channels",
            "frames_per_packet",
            "model_hash",
        ]
        kwargs = dict(zip(names, values, strict=True))
        if kwargs["num_samples"] == UNKNOWN:
            kwargs["num_samples"] = None
        header = cls(**kwargs, model_id=texts[0], entropy_id=texts[1])
        try:
            return header.validate()
        except BitstreamError as err:
            raise BitstreamError(f"{name}: {err}") from None


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
        self._write(framing + payload + _CRC.pack(crc))
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
        while len(self.pending) >= fpp:
            self._emit(self.pending[:fpp])
            self.pending = self.pending[fpp:]

    def _emit(self, frames):
        self._start()
        try:
            payload = encode_packet(frames, self.model)
        except EntropyError as err:
            raise BitstreamError(str(err)) from err
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
            self._emit(self.pending)
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
            body = read_exact(self.stream, size + _CRC.size)
            if len(body) < size + _CRC.size:
                raise self._truncated(f"packet {index} is cut")
            payload, crc = body[:size], _CRC.unpack(body[size:])[0]
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

    def decode(self, packet, entropy_model):
        """Codes [n, K] of a (non-corrupted) data packet."""
        try:
            return decode_packet(
                packet.payload,
                packet.num_frames,
                self.header.num_codebooks,
                entropy_model,
            )
        except EntropyError as err:
            raise BitstreamError(f"{self.name}: packet {packet.index}: {err}") from err


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
    parts = [np.zeros((0, reader.header.num_codebooks), dtype=np.int64)]
    for packet in reader.packets():
        if packet.num_frames:
            parts.append(reader.decode(packet, model))
    header = dataclasses.replace(reader.header, num_samples=reader.num_samples)
    return header, np.concatenate(parts), reader.num_samples
