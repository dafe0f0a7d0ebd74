"""The .rnc container: round trips, streams, damage, sanity limits."""

import dataclasses
import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from speechbrain_rnncodec.bitstream.container import (
    RNCReader,
    RNCWriter,
    read_tokens,
    write_tokens,
)
from speechbrain_rnncodec.bitstream.header import (
    _V1_FIELDS,
    _V1_FIXED,
    _V1_PREFIX,
    ENTROPY_KINDS,
    INTS,
    MAGIC,
    UNKNOWN,
    BitstreamError,
    Header,
    crc16,
    varint,
)
from speechbrain_rnncodec.entropy.coding import FrequencyModel, UniformModel

FAST = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
UNIFORM = UniformModel(1024)


def uniform(header):
    return UniformModel(header.codebook_size)


def small_file(frames=5, books=2, fpp=2, hop=320):
    tokens = np.arange(frames * books).reshape(frames, books) % 1024
    header = Header(
        16000, hop, books, 1024, 1000, frames * hop - 7, frames_per_packet=fpp
    )
    return write_tokens(tokens, header, UNIFORM), tokens


class Trickle(io.RawIOBase):
    """A pipe-like stream: short reads, not seekable."""

    def __init__(self, data):
        self.data, self.pos = data, 0

    def readable(self):
        return True

    def read(self, size=-1):
        size = min(size if size >= 0 else 7, 1 + self.pos % 7)
        part = self.data[self.pos : self.pos + size]
        self.pos += len(part)
        return part


class PipeOut(io.RawIOBase):
    """A write-only, non-seekable output."""

    def __init__(self):
        self.buffer = bytearray()

    def writable(self):
        return True

    def write(self, data):
        self.buffer += data
        return len(data)


headers = st.builds(
    Header,
    sample_rate=st.integers(1000, 768000),
    samples_per_frame=st.integers(1, 65536),
    num_codebooks=st.integers(1, 64),
    codebook_size=st.integers(2, 65536),
    bitrate=st.integers(1, 10**7),
    orig_sample_rate=st.integers(0, 2**24),
    orig_channels=st.integers(0, 1024),
    frames_per_packet=st.integers(1, 255),
    model_hash=st.binary(min_size=8, max_size=8),
    gain_db=st.integers(-60, 60),
    entropy_id=st.one_of(
        st.just("uniform"),
        st.builds(
            "{}-{}".format,
            st.sampled_from(ENTROPY_KINDS[1:]),
            st.from_regex(r"[0-9a-f]{16}", fullmatch=True),
        ),
    ),
)


@FAST
@given(headers)
def test_header_round_trip(header):
    data = header.pack()
    assert Header.read(io.BytesIO(data)) == header


@FAST
@given(
    frames=st.integers(0, 130),
    books=st.integers(1, 12),
    fpp=st.integers(1, 255),
    hop=st.sampled_from([1, 80, 320]),
    cut=st.integers(0, 79),
    seed=st.integers(0, 2**32 - 1),
    fitted=st.booleans(),
)
def test_container_round_trip(frames, books, fpp, hop, cut, seed, fitted):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, 1024, (frames, books))
    samples = max(frames * hop - cut % hop, 0)
    model = UNIFORM
    if fitted:
        model = FrequencyModel(rng.integers(0, 50, (books, 1024)))
    header = Header(
        16000,
        hop,
        books,
        1024,
        3000,
        samples,
        frames_per_packet=fpp,
        entropy_id=model.model_id,
    )
    data = write_tokens(tokens, header, model)
    back, codes, num_samples = read_tokens(data, lambda h: model)
    assert back == header and num_samples == samples
    assert np.array_equal(codes, tokens)
    # bytes -> tokens -> bytes identical
    assert write_tokens(codes, back, model) == data


def test_bytes_tokens_bytes_identical_for_streams():
    data, tokens = small_file(frames=9, fpp=4)
    header, codes, samples = read_tokens(data, uniform)
    assert write_tokens(codes, header, UNIFORM) == data
    assert np.array_equal(codes, tokens) and samples == 9 * 320 - 7


def test_many_packets_are_coded_in_bounded_groups():
    """Tokens of 41 packets written at once are coded PACKETS_SIDE_BY_SIDE
    packets at a time (bounded memory) by the shipped learned prior, with
    the bytes of writing them frame by frame (a packet at a time)."""
    from speechbrain_rnncodec.bitstream.container import PACKETS_SIDE_BY_SIDE
    from speechbrain_rnncodec.entropy.learned import LearnedPriorModel
    from speechbrain_rnncodec.inference.shipped import DEFAULT_MODEL

    prior = LearnedPriorModel.load(DEFAULT_MODEL / "token_prior.npz")
    frames = 4 * 40 + 3
    assert frames // 4 > 2 * PACKETS_SIDE_BY_SIDE
    tokens = np.random.default_rng(3).integers(0, 1024, (frames, 3))
    header = Header(16000, 320, 3, 1024, 1000, frames * 320, frames_per_packet=4)
    header = dataclasses.replace(header, entropy_id=prior.model_id)
    data = write_tokens(tokens, header, prior)
    out = io.BytesIO()
    writer = RNCWriter(out, header, prior)
    for frame in tokens:
        writer.write(frame[None])
    writer.close(header.num_samples)
    assert out.getvalue() == data
    assert np.array_equal(read_tokens(data, lambda h: prior)[1], tokens)


def test_the_bytes_are_those_of_the_format():
    """A small file byte for byte as docs/format.md lays it out."""
    tokens = np.array([[1, 2], [3, 4], [5, 6]])
    header = Header(16000, 320, 2, 1024, 1000, 3 * 320 - 7, 16000, 1, 2)
    data = write_tokens(tokens, header, UNIFORM)
    head = (
        MAGIC
        + b"\x02"
        + b"".join(varint(v) for v in (16000, 320, 2, 1024, 1000, 16000, 1, 2))
    )
    head += b"\x00" + bytes(8) + b"\x00"  # gain 0 dB, model hash, uniform
    reader = RNCReader(io.BytesIO(data))
    assert data[: reader.header_size] == head + crc16(head).to_bytes(2, "little")
    assert reader.header_size == 30
    packets = list(reader.packets())
    assert [(p.num_frames, p.size - p.payload_size) for p in packets] == [
        (2, 3),  # varint tag (1 byte), CRC-16
        (1, 4),  # tag, frame count, CRC-16
        (0, 3),
    ]
    assert packets[-1].payload == varint(7)  # the last frame's padding
    assert len(data) == reader.header_size + sum(p.size for p in packets)


def test_stream_writer_and_reader_without_seeking():
    tokens = np.random.default_rng(0).integers(0, 1024, (123, 6))
    header = Header(16000, 320, 6, 1024, 3000, None, frames_per_packet=50)
    out = PipeOut()
    writer = RNCWriter(out, header, UNIFORM)
    for i in range(0, 123, 17):  # frames come in any chunks
        writer.write(tokens[i : i + 17])
        if i + 17 == 51:  # a pipe reader gets each packet once it is full
            assert writer.packets == 1 and len(out.buffer) > writer.header_size
    writer.close(123 * 320 - 100)
    data = bytes(out.buffer)
    reader = RNCReader(Trickle(data), "pipe")
    assert reader.header.num_samples is None  # the end packet gives it
    sizes = [p.num_frames for p in reader.packets()]
    assert sizes == [50, 50, 23, 0] and reader.num_samples == 123 * 320 - 100
    # a file's packets wait for a group or the close (coded side by side):
    # the same bytes
    seekable = io.BytesIO()
    writer = RNCWriter(seekable, header, UNIFORM)
    writer.write(tokens)
    assert seekable.getvalue() == b""
    writer.close(123 * 320 - 100)
    assert seekable.getvalue() == data


def test_nothing_is_written_before_the_first_packet():
    out = PipeOut()
    RNCWriter(out, Header(16000, 320, 6, 1024, 3000), UNIFORM).write(
        np.zeros((49, 6), dtype=np.int64)
    )
    assert not out.buffer


def test_every_single_byte_change_is_detected():
    data, _ = small_file()
    rng = np.random.default_rng(0)
    for pos in range(len(data)):
        bad = bytearray(data)
        bad[pos] ^= int(rng.integers(1, 256))
        with pytest.raises(BitstreamError):
            read_tokens(bytes(bad), uniform)


def test_every_truncation_is_detected():
    data, _ = small_file()
    for cut in range(len(data)):
        with pytest.raises(BitstreamError, match="truncated|empty|magic"):
            read_tokens(data[:cut], uniform)
    with pytest.raises(BitstreamError, match="trailing"):
        read_tokens(data + b"\0", uniform)


def test_dropped_or_swapped_packets_fail_their_crc():
    data, _ = small_file(frames=6, fpp=2)
    reader = RNCReader(io.BytesIO(data))
    packets = list(reader.packets())
    start = reader.header_size
    spans, pos = [], start
    for p in packets:
        spans.append(data[pos : pos + p.size])
        pos += p.size
    dropped = data[:start] + b"".join(spans[:1] + spans[2:])
    swapped = data[:start] + b"".join([spans[1], spans[0]] + spans[2:])
    for bad in (dropped, swapped):
        with pytest.raises(BitstreamError, match="CRC"):
            read_tokens(bad, uniform)


def test_conceal_yields_corrupted_packets_and_gives_up_when_lost():
    data, _ = small_file(frames=10, fpp=2)
    reader = RNCReader(io.BytesIO(data))
    first = reader.header_size
    sizes = [p.size for p in reader.packets()]
    bad = bytearray(data)
    bad[first + 5] ^= 0xFF  # payload of packet 0
    reader = RNCReader(io.BytesIO(bytes(bad)))
    packets = list(reader.packets(conceal=True))
    assert packets[0].payload is None and packets[1].payload is not None
    assert reader.corrupted == 1 and reader.num_samples == 10 * 320 - 7
    pos = first
    for size in sizes[:4]:  # four bad packets in a row
        bad[pos + 4] ^= 0xFF
        pos += size
    with pytest.raises(BitstreamError, match="lost sync"):
        list(RNCReader(io.BytesIO(bytes(bad))).packets(conceal=True))


FIELDS = dict(
    sample_rate=16000,
    samples_per_frame=320,
    num_codebooks=6,
    codebook_size=1024,
    bitrate=3000,
    orig_sample_rate=16000,
    orig_channels=1,
    frames_per_packet=50,
)


def forge(**fields):
    """Version 2 header bytes with any field values and a valid CRC."""
    model_hash = fields.pop("model_hash", bytes(8))
    entropy = fields.pop("entropy", b"\x00")
    gain = fields.pop("gain_db", 0)
    values = {**FIELDS, **fields}
    head = MAGIC + b"\x02" + b"".join(varint(values[f]) for f in INTS)
    head += gain.to_bytes(1, "little", signed=True) + model_hash + entropy
    return head + crc16(head).to_bytes(2, "little")


def forge_v1(**fields):
    """Version 1 header bytes with any field values and a valid CRC."""
    model_id = fields.pop("model_id", b"m")
    entropy_id = fields.pop("entropy_id", b"uniform")
    values = {**FIELDS, "num_samples": UNKNOWN, "model_hash": bytes(16), **fields}
    body = _V1_FIXED.pack(*(values[f] for f in _V1_FIELDS))
    body += bytes([len(model_id)]) + model_id + bytes([len(entropy_id)]) + entropy_id
    head = _V1_PREFIX.pack(MAGIC, 1, len(body)) + body
    return head + struct.pack("<I", zlib.crc32(head))


def test_forged_headers_read_back():
    assert Header.read(io.BytesIO(forge())).num_codebooks == 6
    assert Header.read(io.BytesIO(forge(gain_db=-7))).gain_db == -7
    header = Header.read(io.BytesIO(forge(entropy=b"\x03" + bytes(range(8)))))
    assert header.entropy_id == "prior2-0001020304050607" and header.version == 2
    old = Header.read(io.BytesIO(forge_v1(num_samples=640)))
    assert (old.version, old.model_id, old.num_samples) == (1, "m", 640)
    assert old.size == len(forge_v1())


@pytest.mark.parametrize(
    "fields, match",
    [
        ({"sample_rate": 0}, "sample_rate"),
        ({"sample_rate": 2**32 - 1}, "sample_rate"),
        ({"sample_rate": 2**40}, "sample_rate is not a valid varint"),
        ({"samples_per_frame": 0}, "samples_per_frame"),
        ({"num_codebooks": 0}, "num_codebooks"),
        ({"num_codebooks": 255}, "num_codebooks"),
        ({"codebook_size": 2**31}, "codebook_size"),
        ({"codebook_size": 1}, "codebook_size"),
        ({"bitrate": 0}, "bitrate"),
        ({"orig_sample_rate": 2**31}, "orig_sample_rate"),
        ({"orig_channels": 60000}, "orig_channels"),
        ({"frames_per_packet": 0}, "frames_per_packet"),
        ({"entropy": b"\x09" + bytes(8)}, "unknown entropy model kind 9"),
        ({"gain_db": -100}, "gain_db"),
    ],
)
def test_absurd_header_fields_give_clean_errors(fields, match):
    with pytest.raises(BitstreamError, match=match):
        Header.read(io.BytesIO(forge(**fields)), "x.rnc")


@pytest.mark.parametrize(
    "fields, match",
    [
        ({"sample_rate": 0}, "sample_rate"),
        ({"num_samples": 2**60}, "num_samples"),
        ({"model_id": b"\xff\xfe"}, "text"),
        ({"model_id": b"a\nb"}, "model_id"),
        ({"entropy_id": "é".encode()}, "entropy_id"),
        ({"entropy_id": b""}, "entropy_id"),
    ],
)
def test_absurd_version_1_header_fields_give_clean_errors(fields, match):
    with pytest.raises(BitstreamError, match=match):
        Header.read(io.BytesIO(forge_v1(**fields)), "x.rnc")


def test_absurd_header_size_version_and_magic():
    data = bytearray(forge_v1())
    data[5:7] = struct.pack("<H", 60000)
    with pytest.raises(BitstreamError, match="header size 60000"):
        Header.read(io.BytesIO(bytes(data)))
    data = bytearray(forge())
    data[4] = 7
    with pytest.raises(BitstreamError, match="version 7 is not supported"):
        Header.read(io.BytesIO(bytes(data)))
    overlong = MAGIC + b"\x02\x80\x00"  # 0 in two bytes: not the shortest form
    with pytest.raises(BitstreamError, match="not a valid varint"):
        Header.read(io.BytesIO(overlong + forge()[6:]))
    with pytest.raises(BitstreamError, match="bad magic.*looks like audio"):
        Header.read(io.BytesIO(b"RIFF\x24\x00\x00\x00WAVE"))
    with pytest.raises(BitstreamError, match="empty"):
        Header.read(io.BytesIO(b""))


def packet(tag, payload=b"", frames=b""):
    """Packet bytes of packet 0 with a valid CRC."""
    framing = varint(tag) + frames
    crc = crc16(payload, crc16(framing, crc16(bytes(4))))
    return framing + payload + crc.to_bytes(2, "little")


def test_absurd_packet_framing():
    header = forge()
    for bad in (
        packet(0 << 2 | 3),  # kind 3
        packet(10 << 2 | 1, bytes(10), b"\x00"),  # a short packet of 0 frames
        packet(10 << 2 | 1, bytes(10), b"\x32"),  # of 50: it is not short
        packet(60000 << 2, bytes(14)),  # payload too long for 50 frames
        packet(4 << 2 | 2, bytes(4)),  # an end packet too long
    ):
        with pytest.raises(BitstreamError, match="impossible"):
            read_tokens(header + bad, uniform)
    for bad in (packet(1 << 2 | 2, b"\x05"), packet(2 << 2 | 2, b"\x00\x00")):
        with pytest.raises(BitstreamError, match="end packet"):
            read_tokens(header + bad, uniform)  # 5 samples short of 0 frames
    with pytest.raises(BitstreamError, match="not a valid varint"):
        read_tokens(header + b"\xff" * 6, uniform)
    header = forge_v1(num_samples=640)
    frames_too_many = struct.pack("<BH", 51, 10) + bytes(14)
    too_long = struct.pack("<BH", 2, 60000) + bytes(14)
    bad_end = struct.pack("<BH", 0, 9) + bytes(14)
    for bad in (frames_too_many, too_long, bad_end):
        with pytest.raises(BitstreamError, match="impossible"):
            read_tokens(header + bad, uniform)


def test_end_packet_must_agree_with_frames_and_header():
    data, _ = small_file(frames=3, fpp=5)
    header, tokens, _ = read_tokens(data, uniform)
    for samples in (0, 3 * 320 + 1):
        wrong = dataclasses.replace(header, num_samples=samples)
        with pytest.raises(BitstreamError, match="samples"):
            write_tokens(tokens, wrong, UNIFORM)
