"""Fuzzing the .rnc reader: random and mutated files end in a
BitstreamError (or decode), never another exception, never a hang."""

import io
import struct
import time
import zlib

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from speechbrain_rnncodec.bitstream.container import (
    RNCReader,
    read_tokens,
    write_tokens,
)
from speechbrain_rnncodec.bitstream.header import MAGIC, BitstreamError, Header
from speechbrain_rnncodec.entropy.coding import FrequencyModel, UniformModel

FUZZ = settings(
    max_examples=150,
    deadline=2000,  # ms per example: a hang fails the test
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
FITTED = FrequencyModel(np.random.default_rng(0).integers(0, 40, (6, 1024)))


def resolve(header):
    return FITTED if header.entropy_id == FITTED.model_id else UniformModel(1024)


def valid_file(seed, fitted=False):
    rng = np.random.default_rng(seed)
    frames = int(rng.integers(1, 120))
    model = FITTED if fitted else UniformModel(1024)
    header = Header(
        16000,
        320,
        6,
        1024,
        3000,
        frames * 320 - 5,
        frames_per_packet=25,
        entropy_id=model.model_id,
    )
    return write_tokens(rng.integers(0, 1024, (frames, 6)), header, model)


def parse(data):
    """Reads the data fully; only BitstreamError may escape."""
    try:
        read_tokens(data, resolve)
    except BitstreamError:
        pass


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(data):
    parse(data)


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_after_the_magic(data):
    parse(MAGIC + b"\x01" + data)


@FUZZ
@given(st.binary(max_size=2048), st.integers(0, 2**32 - 1))
def test_random_packets_after_a_valid_header(data, seed):
    header = valid_file(seed)[: len(Header(16000, 320, 6, 1024, 3000).pack())]
    parse(header + data)


@FUZZ
@given(
    seed=st.integers(0, 2**32 - 1),
    fitted=st.booleans(),
    edits=st.lists(
        st.tuples(
            st.sampled_from(["flip", "insert", "delete", "cut"]),
            st.integers(0, 10**6),
            st.integers(1, 255),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_files(seed, fitted, edits):
    data = bytearray(valid_file(seed, fitted))
    for kind, pos, value in edits:
        pos %= len(data) + 1
        if kind == "flip" and pos < len(data):
            data[pos] ^= value
        elif kind == "insert":
            data[pos:pos] = bytes([value])
        elif kind == "delete":
            del data[pos : pos + value % 16]
        elif kind == "cut":
            del data[pos:]
    parse(bytes(data))


@FUZZ
@given(st.binary(max_size=512), st.integers(1, 50), st.integers(1, 6))
def test_garbage_payloads_with_valid_crcs(payload, frames, books):
    """Even a payload the CRC lets through decodes (to some tokens) or
    fails cleanly inside the entropy decoder."""
    header = Header(16000, 320, books, 1024, 3000, frames * 320, frames_per_packet=50)
    framing = struct.pack("<BH", frames, len(payload))
    crc = zlib.crc32(payload, zlib.crc32(framing, zlib.crc32(struct.pack("<I", 0))))
    end_payload = struct.pack("<Q", frames * 320)
    end_framing = struct.pack("<BH", 0, 8)
    end_crc = zlib.crc32(
        end_payload, zlib.crc32(end_framing, zlib.crc32(struct.pack("<I", 1)))
    )
    data = (
        header.pack()
        + framing
        + payload
        + struct.pack("<I", crc)
        + end_framing
        + end_payload
        + struct.pack("<I", end_crc)
    )
    for model in (UniformModel(1024), FITTED):
        try:
            _, codes, _ = read_tokens(data, lambda h, m=model: m)
            assert codes.shape == (frames, books)
            assert codes.min() >= 0 and codes.max() < 1024
        except BitstreamError:
            pass


def test_conceal_mode_on_mutated_streams_stays_clean_and_fast():
    rng = np.random.default_rng(5)
    start = time.perf_counter()
    for seed in range(200):
        data = bytearray(valid_file(seed))
        for _ in range(int(rng.integers(1, 4))):
            data[int(rng.integers(0, len(data)))] ^= int(rng.integers(1, 256))
        try:
            reader = RNCReader(io.BytesIO(bytes(data)))
            for packet in reader.packets(conceal=True):
                if packet.payload is not None and packet.num_frames:
                    reader.decode([packet], UniformModel(1024))
        except BitstreamError:
            pass
    assert time.perf_counter() - start < 10
