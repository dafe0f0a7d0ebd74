"""The ``.rnc`` header: its fields, their limits and the errors of the
bitstream layer (format in ``docs/format.md``).

Authors
 * speechbrain_rnncodec team 2026
"""

import dataclasses
import struct
import zlib

from speechbrain_rnncodec.audio.wavstream import read_exact

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
CRC = struct.Struct("<I")  # every CRC32 of the format
_FIXED = struct.Struct("<IIBIIQIHB16s")


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
        return body + CRC.pack(zlib.crc32(body))

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
        rest = read_exact(stream, size + CRC.size)
        if len(rest) < size + CRC.size:
            raise BitstreamError(f"{name}: truncated .rnc header")
        fields, crc = rest[:size], CRC.unpack(rest[size:])[0]
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
