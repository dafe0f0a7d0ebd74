"""The ``.rnc`` header: its fields, their limits and the errors of the
bitstream layer (format in ``docs/format.md``).

Version 2 (written) packs the fields as varints and names the model and
the entropy model by 8-byte digests; version 1 files (fixed-size fields,
the names as text) are still read.

Example
-------
>>> import io
>>> header = Header(16000, 320, 3, 1024, 1500, model_hash=bytes(range(8)))
>>> data = header.pack()
>>> len(data), Header.read(io.BytesIO(data)) == header
(29, True)

Authors
 * speechbrain_rnncodec team 2026
"""

import binascii
import dataclasses
import re
import struct
import zlib

from speechbrain_rnncodec.audio.wavstream import read_exact

MAGIC = b"\x89RNC"
VERSION = 2  # the version written; version 1 is read too
UNKNOWN = 2**64 - 1  # num_samples of a version 1 stream of unknown length
HASH_BYTES = 8  # of the model hash, in a version 2 header
# The entropy model's kind: its byte in a version 2 header (0 = uniform,
# the others followed by the 8 bytes of their digest).
ENTROPY_KINDS = ("uniform", "freq1", "prior1", "prior2", "gauss1")
DIGEST_BYTES = 8
MAX_VARINT_BYTES = 5
MAX_GAIN_DB = 60

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

INTS = (
    "sample_rate",
    "samples_per_frame",
    "num_codebooks",
    "codebook_size",
    "bitrate",
    "orig_sample_rate",
    "orig_channels",
    "frames_per_packet",
)
CRC32 = struct.Struct("<I")  # the CRCs of version 1
CRC16 = struct.Struct("<H")  # the CRCs of version 2
_GAIN = struct.Struct("<b")  # gain_db, version 2
_V1_PREFIX = struct.Struct("<4sBH")  # magic, version, header_size
_V1_FIXED = struct.Struct("<IIBIIQIHB16s")
_V1_FIELDS = INTS[:5] + ("num_samples",) + INTS[5:] + ("model_hash",)


class BitstreamError(ValueError):
    """An ``.rnc`` stream that cannot be read (the message says why)."""


class TruncatedError(BitstreamError):
    """The stream ends before its end packet (a cut file or a broken pipe)."""


class ModelMismatchError(BitstreamError):
    """An ``.rnc`` stream made by another model (or frequency table)."""


def max_payload(num_frames, num_codebooks):
    """Largest valid payload (bytes) of a packet."""
    return -(-num_frames * num_codebooks * MAX_BITS_PER_CODE // 8) + 8


def crc16(data, value=0xFFFF):
    """CRC-16/CCITT of ``data`` (continuing from ``value``), version 2's
    check of its header and packets.

    >>> hex(crc16(b"123456789"))
    '0x29b1'
    """
    return binascii.crc_hqx(data, value)


def varint(value):
    """``value`` (>= 0) as a LEB128 varint: 7 bits a byte, low bits first.

    >>> varint(16000).hex(), varint(5).hex()
    ('807d', '05')
    """
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def read_varint(read, what):
    """Reads a varint written by :func:`varint` with ``read(1)``; a
    :class:`BitstreamError` (``what`` in its message) if it is cut,
    longer than :data:`MAX_VARINT_BYTES` or not in its shortest form.

    Returns
    -------
    value : int
    data : bytes
        The bytes read.
    """
    data = bytearray()
    while len(data) < MAX_VARINT_BYTES:
        byte = read(1)
        if not byte:
            raise TruncatedError(f"truncated .rnc data ({what} is cut)")
        data += byte
        if byte[0] < 0x80:
            if byte[0] == 0 and len(data) > 1:
                break
            value = sum((b & 0x7F) << (7 * i) for i, b in enumerate(data))
            return value, bytes(data)
    raise BitstreamError(f"malformed .rnc data ({what} is not a valid varint)")


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


def entropy_bytes(entropy_id):
    """The entropy id as a version 2 header stores it: the kind's byte,
    then the 8 bytes of the 16 hex digits of its digest.

    >>> entropy_bytes("prior2-0123456789abcdef").hex()
    '030123456789abcdef'
    """
    kind, _, digest = str(entropy_id).partition("-")
    if entropy_id == ENTROPY_KINDS[0]:
        return bytes(1)
    if kind in ENTROPY_KINDS[1:] and re.fullmatch("[0-9a-f]{16}", digest):
        return bytes([ENTROPY_KINDS.index(kind)]) + bytes.fromhex(digest)
    raise BitstreamError(
        f"header field entropy_id = {entropy_id!r} is out of range "
        f"(uniform, or one of {', '.join(ENTROPY_KINDS[1:])} then - and 16 "
        "hex digits)"
    )


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
        Samples of the signal where known. A version 2 file gives them in
        its end packet only (None in a header read from one); a version 1
        header may hold them.
    orig_sample_rate : int
        Rate of the audio before resampling (0: unknown).
    orig_channels : int
        Channels of the audio before downmixing (0: unknown).
    frames_per_packet : int
        Frames per packet (the last packet may hold fewer).
    model_id : str or None
        Name of the codec model: version 1 headers only.
    model_hash : bytes
        Identifies the model's weights (see docs/format.md): the first 8
        bytes of its hash (version 2), all 16 (version 1).
    entropy_id : str
        The entropy model's id (``uniform``, ``freq1-...``).
    gain_db : int
        The gain the encoder gave the signal to bring its level into the
        codec's range (version 2; the decoder undoes it), in dB.
    version : int
        The format version (version 2 is written, 1 is read too).
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
    model_id: str | None = None
    model_hash: bytes = bytes(HASH_BYTES)
    entropy_id: str = "uniform"
    gain_db: int = 0
    version: int = VERSION

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

    @property
    def size(self):
        """Bytes of the header in its file."""
        if self.version == VERSION:
            return len(self.pack())
        texts = len(self.model_id.encode("utf-8")) + len(self.entropy_id)
        return _V1_PREFIX.size + _V1_FIXED.size + 2 + texts + CRC32.size

    def validate(self):
        """Raises :class:`BitstreamError` unless every field is sane."""
        limits = dict(
            zip(
                INTS,
                [
                    (1000, MAX_SAMPLE_RATE),
                    (1, MAX_SAMPLES_PER_FRAME),
                    (1, MAX_CODEBOOKS),
                    (2, MAX_CODEBOOK_SIZE),
                    (1, MAX_BITRATE),
                    (0, MAX_ORIG_RATE),
                    (0, MAX_CHANNELS),
                    (1, MAX_FRAMES_PER_PACKET),
                ],
                strict=True,
            )
        )
        for field, (low, high) in limits.items():
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
            isinstance(self.gain_db, int)
            and abs(self.gain_db) <= (MAX_GAIN_DB if self.version == VERSION else 0),
            "gain_db",
            self.gain_db,
            f"[-{MAX_GAIN_DB}, {MAX_GAIN_DB}] (0 in version 1)",
        )
        if self.version == VERSION:
            hash_bytes = HASH_BYTES
            _check(self.model_id is None, "model_id", self.model_id, "(None)")
            entropy_bytes(self.entropy_id)
        else:
            hash_bytes = 16
            _check_text("model_id", self.model_id, ascii_only=False)
            _check_text("entropy_id", self.entropy_id, ascii_only=True)
        _check(
            isinstance(self.model_hash, bytes) and len(self.model_hash) == hash_bytes,
            "model_hash",
            self.model_hash,
            f"({hash_bytes} bytes)",
        )
        return self

    def pack(self):
        """The header bytes: magic, version 2, the fields, CRC-16."""
        if self.version != VERSION:
            raise BitstreamError(f"only version {VERSION} headers are written")
        self.validate()
        body = MAGIC + bytes([VERSION])
        body += b"".join(varint(getattr(self, field)) for field in INTS)
        body += _GAIN.pack(self.gain_db)
        body += self.model_hash + entropy_bytes(self.entropy_id)
        return body + CRC16.pack(crc16(body))

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
        prefix = read_exact(stream, len(MAGIC) + 1)
        if not prefix:
            raise BitstreamError(f"{name} is empty, not an .rnc file")
        if not (prefix[:4] == MAGIC or MAGIC.startswith(prefix)):
            hint = ""
            if prefix[:4] in (b"RIFF", b"fLaC", b"OggS"):
                hint = " (it looks like audio; use `rnncodec encode`)"
            raise BitstreamError(f"{name} is not an .rnc file (bad magic){hint}")
        if len(prefix) < len(MAGIC) + 1:
            raise BitstreamError(f"{name}: truncated .rnc header")
        version = prefix[4]
        try:
            if version == VERSION:
                header = _read_v2(stream, prefix)
            elif version == 1:
                header = _read_v1(stream, prefix, name)
            else:
                raise BitstreamError(
                    f".rnc version {version} is not supported "
                    f"(this rnncodec reads versions 1 and {VERSION})"
                )
            return header.validate()
        except BitstreamError as err:
            raise type(err)(f"{name}: {err}") from None


def _read_v2(stream, prefix):
    """The fields of a version 2 header after its ``prefix``."""
    data = bytearray(prefix)

    def take(size):
        part = read_exact(stream, size)
        if len(part) < size:
            raise BitstreamError("truncated .rnc header")
        data.extend(part)
        return part

    ints = {field: read_varint(take, f"header field {field}")[0] for field in INTS}
    gain_db = _GAIN.unpack(take(_GAIN.size))[0]
    model_hash = take(HASH_BYTES)
    kind = take(1)[0]
    digest = take(DIGEST_BYTES) if kind else b""
    crc = CRC16.unpack(take(CRC16.size))[0]
    if crc16(bytes(data[: -CRC16.size])) != crc:
        raise BitstreamError("corrupted .rnc header (CRC mismatch)")
    if kind >= len(ENTROPY_KINDS):
        raise BitstreamError(f"unknown entropy model kind {kind} in the header")
    entropy_id = ENTROPY_KINDS[kind] + (f"-{digest.hex()}" if kind else "")
    return Header(**ints, gain_db=gain_db, model_hash=model_hash, entropy_id=entropy_id)


def _read_v1(stream, prefix, name):
    """The fields of a version 1 header after its ``prefix``."""
    rest = read_exact(stream, _V1_PREFIX.size - len(prefix))
    if len(rest) < _V1_PREFIX.size - len(prefix):
        raise BitstreamError("truncated .rnc header")
    prefix += rest
    size = _V1_PREFIX.unpack(prefix)[2]
    if not _V1_FIXED.size + 2 <= size <= MAX_HEADER_SIZE:
        raise BitstreamError(f".rnc header size {size} is out of range")
    rest = read_exact(stream, size + CRC32.size)
    if len(rest) < size + CRC32.size:
        raise BitstreamError("truncated .rnc header")
    fields, crc = rest[:size], CRC32.unpack(rest[size:])[0]
    if zlib.crc32(prefix + fields) != crc:
        raise BitstreamError("corrupted .rnc header (CRC mismatch)")
    values = dict(zip(_V1_FIELDS, _V1_FIXED.unpack_from(fields), strict=True))
    pos, texts = _V1_FIXED.size, []
    for _ in range(2):
        length = fields[pos] if pos < len(fields) else None
        if length is None or pos + 1 + length > len(fields):
            raise BitstreamError("malformed .rnc header")
        raw = fields[pos + 1 : pos + 1 + length]
        pos += 1 + length
        try:
            texts.append(raw.decode("utf-8"))
        except UnicodeDecodeError as err:
            raise BitstreamError("malformed .rnc header text") from err
    if pos != len(fields):
        raise BitstreamError("malformed .rnc header (extra bytes)")
    if values["num_samples"] == UNKNOWN:
        values["num_samples"] = None
    return Header(**values, model_id=texts[0], entropy_id=texts[1], version=1)
