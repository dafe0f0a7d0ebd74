"""Packets for real-time transport: an RTP-style payload of codec tokens.

``.rnc`` files (:mod:`.container`) frame and CRC every packet and number
it implicitly, which suits storage; on a network, where a packet is lost
rather than damaged, the transport (RTP) carries a sequence number and the
datagram checksum, so the payload needs neither. This payload format is:

* **Stream parameters, once or out of band** (:class:`StreamParams`, e.g.
  base64 in SDP): model hash, token layout, frames per packet, coding.
* **Self-contained packets**: the codes of ``frames_per_packet`` frames
  (the last packet may hold fewer). ``raw`` coding bit-packs each code in
  ``log2(codebook_size)`` bits, codebook 0 of frame 0 first, most
  significant bit first, zero-padded to a whole byte; the frame count
  follows from the length. Entropy coding (the stream's entropy model,
  whose context restarts at every packet) prefixes one byte of frame
  count. Nothing else: no CRC, no sequence number, no length.
* **The receiver** (:class:`Depacketizer`) is given each packet with its
  RTP sequence number (16 bits, wrapping); a missing number is a gap of
  ``frames_per_packet`` lost frames, returned as a mask for the concealing
  decoder (:mod:`speechbrain_rnncodec.inference.concealment`), never a corruption of
  the packets after it.

At 3 kbps and one 20 ms frame per packet a payload is 8 bytes (60 bits of
codes, 4 of padding): 3.2 kbps, 6.7 % above the token rate.

Example
-------
>>> params = StreamParams(16000, 320, 6, 1024, frames_per_packet=1)
>>> sender, receiver = Packetizer(params), Depacketizer(params)
>>> sent = sender.push(np.arange(18).reshape(3, 6))
>>> [(seq, len(payload)) for seq, payload in sent]
[(0, 8), (1, 8), (2, 8)]
>>> codes, lost = receiver.receive(*sent[0])
>>> codes, lost = receiver.receive(*sent[2])  # packet 1 went missing
>>> lost.tolist(), codes[1].tolist()
([True, False], [12, 13, 14, 15, 16, 17])

Authors
 * speechbrain_rnncodec team 2026
"""

import base64
import dataclasses
import struct

import numpy as np

from speechbrain_rnncodec.entropy.coding import (
    EntropyError,
    decode_packet,
    encode_packet,
)

RAW = "raw"
MAGIC = b"RNCT"
VERSION = 1
SEQUENCE_MODULO = 2**16  # RTP sequence numbers
MAX_FRAMES_PER_PACKET = 255
_FIXED = struct.Struct("<4sBIIBIB16s")


class TransportError(ValueError):
    """A packet or stream parameters that cannot be used (message says why)."""


def code_bits(codebook_size):
    """Bits of one raw code.

    Example
    -------
    >>> code_bits(1024), code_bits(1000), code_bits(2)
    (10, 10, 1)
    """
    return (int(codebook_size) - 1).bit_length()


@dataclasses.dataclass
class StreamParams:
    """What the receiver knows before the first packet.

    Arguments
    ---------
    sample_rate : int
        Rate of the codec's waveforms (Hz).
    samples_per_frame : int
        Samples per token frame.
    num_codebooks : int
        Codes per frame (K; 6 at 3 kbps).
    codebook_size : int
        Codes per codebook.
    frames_per_packet : int
        Frames per packet (1 to 255; the last packet may hold fewer).
    coding : str
        ``"raw"`` (bit-packed codes) or the id of the entropy model.
    model_hash : bytes
        16 bytes naming the codec model (``RNNCodec.model_fingerprint``).
    """

    sample_rate: int
    samples_per_frame: int
    num_codebooks: int
    codebook_size: int
    frames_per_packet: int = 1
    coding: str = RAW
    model_hash: bytes = bytes(16)

    @classmethod
    def for_codec(cls, codec, bitrate=None, frames_per_packet=1, coding=RAW):
        """The parameters of ``codec`` at ``bitrate`` kbps.

        ``coding``: ``"raw"``, or ``"entropy"`` for the codec's entropy
        model (see ``RNNCodec.entropy_model``).
        """
        if coding not in (RAW, "entropy"):
            raise TransportError(f"coding must be 'raw' or 'entropy', not {coding!r}")
        if coding == "entropy":
            coding = codec.entropy_model.model_id
        return cls(
            sample_rate=int(codec.sample_rate),
            samples_per_frame=int(codec.mods.encoder.samples_per_frame),
            num_codebooks=codec.num_quantizers_for(bitrate),
            codebook_size=int(codec.mods.quantizer.codebook_size),
            frames_per_packet=int(frames_per_packet),
            coding=coding,
            model_hash=codec.model_fingerprint()[1],
        ).validate()

    def validate(self):
        """Raises :class:`TransportError` unless every field is sane."""
        limits = [
            ("sample_rate", 1000, 768000),
            ("samples_per_frame", 1, 65536),
            ("num_codebooks", 1, 64),
            ("codebook_size", 2, 65536),
            ("frames_per_packet", 1, MAX_FRAMES_PER_PACKET),
        ]
        for field, low, high in limits:
            value = getattr(self, field)
            if not isinstance(value, int) or not low <= value <= high:
                raise TransportError(f"{field} = {value!r} is out of [{low}, {high}]")
        if not isinstance(self.model_hash, bytes) or len(self.model_hash) != 16:
            raise TransportError("model_hash must be 16 bytes")
        coding = self.coding
        if not (isinstance(coding, str) and coding.isascii() and coding.isprintable()):
            raise TransportError(f"coding must be printable ASCII, not {coding!r}")
        if not 0 < len(coding) <= 64:
            raise TransportError("coding must be 1 to 64 characters")
        if coding == RAW and self.num_codebooks * code_bits(self.codebook_size) < 8:
            raise TransportError(
                "raw payloads count frames by their length: they need 8 bits or "
                "more per frame (use entropy coding)"
            )
        return self

    @property
    def frame_rate(self):
        """Token frames per second."""
        return self.sample_rate / self.samples_per_frame

    @property
    def token_kbps(self):
        """The raw token rate (kbps): K codes of log2(C) bits per frame."""
        return (
            self.num_codebooks * code_bits(self.codebook_size) * self.frame_rate / 1e3
        )

    def pack(self):
        """The parameters as bytes (36 + len(coding)), e.g. for SDP in base64.

        Example
        -------
        >>> params = StreamParams(16000, 320, 6, 1024)
        >>> StreamParams.unpack(params.pack()) == params
        True
        """
        self.validate()
        coding = self.coding.encode("ascii")
        return (
            _FIXED.pack(
                MAGIC,
                VERSION,
                self.sample_rate,
                self.samples_per_frame,
                self.num_codebooks,
                self.codebook_size,
                self.frames_per_packet,
                self.model_hash,
            )
            + bytes([len(coding)])
            + coding
        )

    @classmethod
    def unpack(cls, data):
        """Inverse of :meth:`pack`; :class:`TransportError` for bad bytes."""
        data = bytes(data)
        if len(data) < _FIXED.size + 1 or data[:4] != MAGIC:
            raise TransportError("not rnncodec stream parameters (bad magic or size)")
        fields = _FIXED.unpack_from(data)
        if fields[1] != VERSION:
            raise TransportError(
                f"stream parameters version {fields[1]}; this rnncodec reads {VERSION}"
            )
        size = data[_FIXED.size]
        coding = data[_FIXED.size + 1 :]
        if len(coding) != size:
            raise TransportError("stream parameters are truncated or too long")
        try:
            text = coding.decode("ascii")
        except UnicodeDecodeError as err:
            raise TransportError("stream parameters: coding is not ASCII") from err
        return cls(*fields[2:7], coding=text, model_hash=fields[7]).validate()

    def to_base64(self):
        """:meth:`pack` in base64 (an SDP ``fmtp`` value)."""
        return base64.b64encode(self.pack()).decode("ascii")

    @classmethod
    def from_base64(cls, text):
        """Inverse of :meth:`to_base64`."""
        try:
            return cls.unpack(base64.b64decode(text, validate=True))
        except (ValueError, TypeError) as err:
            if isinstance(err, TransportError):
                raise
            raise TransportError(f"stream parameters are not base64: {err}") from err


def _check_model(params, entropy_model):
    if params.coding == RAW:
        return None
    if entropy_model is None or entropy_model.model_id != params.coding:
        have = getattr(entropy_model, "model_id", None)
        raise TransportError(
            f"the stream is coded with {params.coding}, the entropy model given "
            f"is {have}"
        )
    return entropy_model


def pack_codes(codes, codebook_size):
    """Raw payload of codes [n, K]: each code in ``code_bits`` bits.

    Example
    -------
    >>> pack_codes(np.array([[1023, 0]]), 1024).hex()  # 20 bits -> 3 bytes
    'ffc000'
    """
    codes = np.asarray(codes, dtype=np.int64)
    if codes.ndim != 2:
        raise TransportError(f"codes must be [frames, codebooks], not {codes.shape}")
    if codes.size and (codes.min() < 0 or codes.max() >= codebook_size):
        raise TransportError(f"codes must lie in [0, {codebook_size})")
    bits = code_bits(codebook_size)
    shifts = np.arange(bits - 1, -1, -1)
    planes = (codes.reshape(-1, 1) >> shifts) & 1
    return np.packbits(planes.astype(np.uint8).reshape(-1)).tobytes()


def unpack_codes(payload, num_codebooks, codebook_size, max_frames):
    """Codes [n, K] of a raw payload; the length gives n.

    Example
    -------
    >>> unpack_codes(bytes.fromhex("ffc000"), 2, 1024, 1).tolist()
    [[1023, 0]]
    >>> unpack_codes(b"\\xff", 2, 1024, 1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    speechbrain_rnncodec...TransportError: a raw payload of 1 bytes holds no ...
    """
    bits = code_bits(codebook_size)
    frame_bits = num_codebooks * bits
    if frame_bits < 8:
        raise TransportError(f"{frame_bits}-bit frames cannot be counted by length")
    count = len(payload) * 8 // frame_bits
    if not count or -(-count * frame_bits // 8) != len(payload):
        raise TransportError(
            f"a raw payload of {len(payload)} bytes holds no whole number of "
            f"frames of {num_codebooks} x {bits}-bit codes"
        )
    if count > max_frames:
        raise TransportError(
            f"a raw payload of {count} frames exceeds {max_frames} frames per packet"
        )
    planes = np.unpackbits(np.frombuffer(bytes(payload), dtype=np.uint8))
    if planes[count * frame_bits :].any():
        raise TransportError("a raw payload has non-zero padding bits")
    planes = planes[: count * frame_bits].reshape(-1, bits).astype(np.int64)
    codes = planes @ (1 << np.arange(bits - 1, -1, -1))
    if codes.max() >= codebook_size:
        raise TransportError(f"a raw payload holds codes beyond {codebook_size - 1}")
    return codes.reshape(count, num_codebooks)


def encode_payload(params, codes, entropy_model=None):
    """The payload of one packet of codes [n, K], 1 <= n <= frames_per_packet.

    Arguments
    ---------
    params : StreamParams
        The stream.
    codes : array-like
        Integer codes [n, K].
    entropy_model : EntropyModel, optional
        Needed when ``params.coding`` names one.

    Returns
    -------
    bytes
        The payload.
    """
    codes = np.asarray(codes, dtype=np.int64)
    if codes.ndim != 2 or codes.shape[1] != params.num_codebooks:
        raise TransportError(
            f"codes must be [frames, {params.num_codebooks}], not {list(codes.shape)}"
        )
    if not 1 <= len(codes) <= params.frames_per_packet:
        raise TransportError(
            f"a packet holds 1 to {params.frames_per_packet} frames, not {len(codes)}"
        )
    model = _check_model(params, entropy_model)
    if model is None:
        return pack_codes(codes, params.codebook_size)
    try:
        return bytes([len(codes)]) + encode_packet(codes, model)
    except EntropyError as err:
        raise TransportError(str(err)) from err


def decode_payload(params, payload, entropy_model=None):
    """Codes [n, K] (int64) of one payload; :class:`TransportError` if it
    is truncated or malformed."""
    payload = bytes(payload)
    model = _check_model(params, entropy_model)
    if model is None:
        return unpack_codes(
            payload,
            params.num_codebooks,
            params.codebook_size,
            params.frames_per_packet,
        )
    if not payload or not 1 <= payload[0] <= params.frames_per_packet:
        raise TransportError(
            f"an entropy-coded payload starts with its frame count (1 to "
            f"{params.frames_per_packet}); got {payload[:1].hex() or 'nothing'}"
        )
    try:
        return decode_packet(payload[1:], payload[0], params.num_codebooks, model)
    except EntropyError as err:
        raise TransportError(str(err)) from err


class Packetizer:
    """Token frames in, numbered payloads out.

    Arguments
    ---------
    params : StreamParams
        The stream.
    entropy_model : EntropyModel, optional
        Needed when ``params.coding`` names one.
    first_sequence : int
        Sequence number of the first packet (RTP starts at a random one).
    """

    def __init__(self, params, entropy_model=None, first_sequence=0):
        self.params = params.validate()
        self.model = _check_model(params, entropy_model)
        self.sequence = int(first_sequence) % SEQUENCE_MODULO
        self.pending = np.zeros((0, params.num_codebooks), dtype=np.int64)

    def _packet(self, codes):
        out = (self.sequence, encode_payload(self.params, codes, self.model))
        self.sequence = (self.sequence + 1) % SEQUENCE_MODULO
        return out

    def push(self, codes):
        """Adds codes [t, K]; returns ``(sequence, payload)`` of each full packet."""
        codes = np.asarray(codes, dtype=np.int64).reshape(-1, self.params.num_codebooks)
        self.pending = np.concatenate([self.pending, codes])
        fpp = self.params.frames_per_packet
        full = len(self.pending) // fpp * fpp
        out = [self._packet(self.pending[i : i + fpp]) for i in range(0, full, fpp)]
        self.pending = self.pending[full:]
        return out

    def flush(self):
        """The last, shorter packet (if frames are left), as a list."""
        if not len(self.pending):
            return []
        codes, self.pending = self.pending, self.pending[:0]
        return [self._packet(codes)]


class Depacketizer:
    """Numbered payloads in, codes and a lost-frame mask out.

    Packets must arrive in order (a jitter buffer reorders them first); a
    gap in the sequence numbers is ``frames_per_packet`` lost frames per
    missing packet.

    Arguments
    ---------
    params : StreamParams
        The stream.
    entropy_model : EntropyModel, optional
        Needed when ``params.coding`` names one.
    first_sequence : int, optional
        The sequence number of the first packet, if the receiver knows it
        (then packets lost before the first one received count as a gap).
    """

    def __init__(self, params, entropy_model=None, first_sequence=None):
        self.params = params.validate()
        self.model = _check_model(params, entropy_model)
        self.expected = None if first_sequence is None else first_sequence % 2**16
        self.lost_packets = 0

    def _gap(self, sequence):
        if self.expected is None:
            return 0
        gap = (sequence - self.expected) % SEQUENCE_MODULO
        if gap >= SEQUENCE_MODULO // 2:
            raise TransportError(
                f"packet {sequence} arrived after packet "
                f"{(self.expected - 1) % SEQUENCE_MODULO}: late or duplicate "
                "(reorder packets before the depacketizer, drop late ones)"
            )
        return gap

    def receive(self, sequence, payload):
        """Codes of the frames up to and including this packet.

        Arguments
        ---------
        sequence : int
            The packet's sequence number (0 to 65535).
        payload : bytes
            The packet's payload.

        Returns
        -------
        codes : numpy.ndarray
            [g + n, K] int64: g lost frames (zeros), then the n received.
        lost : numpy.ndarray
            [g + n] bool, True for the frames of the missing packets.
        """
        if not isinstance(sequence, (int, np.integer)) or not 0 <= sequence < 2**16:
            raise TransportError(f"sequence numbers lie in [0, 65535], not {sequence}")
        gap = self._gap(int(sequence))
        codes = decode_payload(self.params, payload, self.model)
        self.expected = (int(sequence) + 1) % SEQUENCE_MODULO
        self.lost_packets += gap
        missing = gap * self.params.frames_per_packet
        zeros = np.zeros((missing, self.params.num_codebooks), dtype=np.int64)
        lost = np.concatenate([np.ones(missing, bool), np.zeros(len(codes), bool)])
        return np.concatenate([zeros, codes]), lost


__all__ = [
    "RAW",
    "Depacketizer",
    "Packetizer",
    "StreamParams",
    "TransportError",
    "code_bits",
    "decode_payload",
    "encode_payload",
    "pack_codes",
    "unpack_codes",
]
