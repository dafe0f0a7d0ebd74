"""Tests for the transport payload: stream parameters, packets, gaps."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from speechbrain_rnncodec.bitstream.transport import (
    Depacketizer,
    Packetizer,
    StreamParams,
    TransportError,
    decode_payload,
    encode_payload,
    pack_codes,
    unpack_codes,
)
from speechbrain_rnncodec.entropy.coding import UniformModel

RNG = np.random.default_rng(0)


def params(fpp=1, codebooks=6, coding="raw"):
    return StreamParams(16000, 320, codebooks, 1024, fpp, coding, bytes(range(16)))


@pytest.mark.parametrize(("codebooks", "size"), [(3, 4), (6, 8), (12, 15)])
def test_one_frame_payload_is_the_codes_padded_to_a_byte(codebooks, size):
    codes = RNG.integers(0, 1024, (1, codebooks))
    payload = encode_payload(params(codebooks=codebooks), codes)
    assert len(payload) == size  # 1.5 / 3 / 6 kbps
    assert decode_payload(params(codebooks=codebooks), payload).tolist() == (
        codes.tolist()
    )


@settings(max_examples=30, deadline=None)
@given(
    frames=st.integers(1, 50),
    codebooks=st.integers(1, 12),
    size=st.sampled_from([2, 1000, 1024, 4096]),
    seed=st.integers(0, 2**16),
)
def test_raw_codes_round_trip(frames, codebooks, size, seed):
    if codebooks * (size - 1).bit_length() < 8:
        with pytest.raises(TransportError, match="counted by length"):
            unpack_codes(b"\0", codebooks, size, 50)
        return
    codes = np.random.default_rng(seed).integers(0, size, (frames, codebooks))
    assert np.array_equal(
        unpack_codes(pack_codes(codes, size), codebooks, size, 50), codes
    )


@pytest.mark.parametrize("fpp", [1, 2, 5, 50])
@pytest.mark.parametrize("coding", ["raw", "uniform"])
def test_packets_round_trip_with_a_short_last_packet(fpp, coding):
    model = UniformModel(1024) if coding == "uniform" else None
    stream = params(fpp, coding=coding)
    codes = RNG.integers(0, 1024, (2 * fpp + 1, 6))
    sender = Packetizer(stream, model, first_sequence=65535)
    sent = sender.push(codes[:fpp]) + sender.push(codes[fpp:]) + sender.flush()
    assert [seq for seq, _ in sent] == [65535, 0, 1]  # 16 bits, wrapping
    receiver = Depacketizer(stream, model)
    got = [receiver.receive(seq, payload) for seq, payload in sent]
    assert np.array_equal(np.concatenate([c for c, _ in got]), codes)
    assert not np.concatenate([lost for _, lost in got]).any()


def test_a_lost_packet_is_a_gap_and_later_packets_decode():
    stream = params(fpp=2)
    codes = RNG.integers(0, 1024, (10, 6))
    sent = Packetizer(stream, first_sequence=7).push(codes)
    receiver = Depacketizer(stream, first_sequence=7)
    kept = [sent[i] for i in (1, 2, 4)]  # packets 0 and 3 lost
    got = [receiver.receive(*packet) for packet in kept]
    lost = np.concatenate([m for _, m in got])
    assert lost.tolist() == [True] * 2 + [False] * 4 + [True] * 2 + [False] * 2
    received = np.concatenate([c for c, _ in got])[~lost]
    assert np.array_equal(received, codes[[2, 3, 4, 5, 8, 9]])
    assert receiver.lost_packets == 2


def test_late_duplicate_and_bad_sequence_numbers_are_refused():
    stream = params()
    sent = Packetizer(stream).push(RNG.integers(0, 1024, (3, 6)))
    receiver = Depacketizer(stream)
    receiver.receive(*sent[1])
    with pytest.raises(TransportError, match="late or duplicate"):
        receiver.receive(*sent[1])
    with pytest.raises(TransportError, match="late or duplicate"):
        receiver.receive(*sent[0])
    with pytest.raises(TransportError, match="sequence numbers lie in"):
        receiver.receive(70000, sent[2][1])
    assert receiver.receive(*sent[2])[1].tolist() == [False]


def test_truncated_padded_and_oversized_payloads_are_refused():
    stream = params(fpp=2)
    payload = encode_payload(stream, RNG.integers(0, 1024, (2, 6)))  # 15 bytes
    with pytest.raises(TransportError, match="no whole number of frames"):
        decode_payload(stream, payload[:-1])
    with pytest.raises(TransportError, match="no whole number of frames"):
        decode_payload(stream, b"")
    one = bytearray(encode_payload(stream, np.zeros((1, 6), dtype=int)))
    one[-1] |= 1  # a padding bit set: not our payload
    with pytest.raises(TransportError, match="padding"):
        decode_payload(stream, bytes(one))
    with pytest.raises(TransportError, match="exceeds 2 frames"):
        decode_payload(stream, bytes(30))  # 4 frames
    with pytest.raises(TransportError, match="1 to 2 frames"):
        encode_payload(stream, np.zeros((3, 6), dtype=int))
    with pytest.raises(TransportError, match="codes must lie in"):
        encode_payload(stream, np.full((1, 6), 1024))
    odd = StreamParams(16000, 320, 1, 1000)
    with pytest.raises(TransportError, match="beyond 999"):
        decode_payload(odd, pack_codes(np.array([[1023]]), 1024))


def test_entropy_coded_packets_name_their_model_and_frame_count():
    stream = params(fpp=5, coding="uniform")
    with pytest.raises(TransportError, match="coded with uniform"):
        Packetizer(stream)
    codes = RNG.integers(0, 1024, (3, 6))
    payload = encode_payload(stream, codes, UniformModel(1024))
    assert payload[0] == 3
    assert np.array_equal(decode_payload(stream, payload, UniformModel(1024)), codes)
    with pytest.raises(TransportError, match="frame count"):
        decode_payload(stream, b"\x09" + payload[1:], UniformModel(1024))


def test_stream_parameters_round_trip_and_refuse_bad_bytes():
    stream = params(fpp=5, coding="prior1-0123456789abcdef")
    assert StreamParams.from_base64(stream.to_base64()) == stream
    data = stream.pack()
    with pytest.raises(TransportError, match="bad magic"):
        StreamParams.unpack(b"XXXX" + data[4:])
    with pytest.raises(TransportError, match="version 9"):
        StreamParams.unpack(data[:4] + b"\x09" + data[5:])
    with pytest.raises(TransportError, match="truncated"):
        StreamParams.unpack(data[:-1])
    with pytest.raises(TransportError, match="not base64"):
        StreamParams.from_base64("not base64!")
    with pytest.raises(TransportError, match="frames_per_packet"):
        params(fpp=0).pack()
    with pytest.raises(TransportError, match="8 bits or more per frame"):
        StreamParams(16000, 320, 1, 4).validate()


def test_stream_parameters_of_the_shipped_codec(codec):
    stream = StreamParams.for_codec(codec, 3.0, 1)
    assert (stream.num_codebooks, stream.frames_per_packet) == (6, 1)
    assert stream.model_hash == codec.model_fingerprint()[1]
    assert stream.token_kbps == 3.0
    learned = StreamParams.for_codec(codec, 3.0, 50, "entropy")
    assert learned.coding == codec.entropy_model.model_id
    with pytest.raises(TransportError, match="coding must be"):
        StreamParams.for_codec(codec, 3.0, 1, "zip")
