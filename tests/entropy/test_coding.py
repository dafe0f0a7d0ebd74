"""The range coder and the token probability models (no codec needed)."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from speechbrain_rnncodec.bitstream.header import max_payload
from speechbrain_rnncodec.entropy.coding import (
    EntropyError,
    EntropyModel,
    FrequencyModel,
    PacketContext,
    UniformModel,
    decode_packet,
    encode_packet,
)

FAST = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def token_streams(draw, max_size=1024):
    size = draw(st.sampled_from([2, 3, 7, 256, 1000, max_size]))
    frames = draw(st.integers(0, 60))
    books = draw(st.integers(1, 12))
    skew = draw(st.sampled_from(["uniform", "one", "any"]))
    if skew == "one":  # long runs of one code: tiny payloads, zero words
        codes = np.full((frames, books), draw(st.integers(0, size - 1)))
    else:
        seed = draw(st.integers(0, 2**32 - 1))
        codes = np.random.default_rng(seed).integers(0, size, (frames, books))
    return size, codes


@st.composite
def frequency_models(draw, size, max_books=12):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    books = draw(st.integers(1, max_books))
    kind = draw(st.sampled_from(["sparse", "dense", "peaked"]))
    if kind == "sparse":
        counts = rng.integers(0, 2, (books, size)) * rng.integers(0, 50, (books, size))
    elif kind == "dense":
        counts = rng.integers(0, 1000, (books, size))
    else:
        counts = np.zeros((books, size), dtype=np.int64)
        counts[:, 0] = 10**12  # codes other than 0 cost about 24 bits
    floor = draw(st.sampled_from([1e-3, 0.5, 1.0, 10.0]))
    return FrequencyModel(counts, floor)


@FAST
@given(data=st.data())
def test_coder_is_lossless_on_random_streams(data):
    size, codes = data.draw(token_streams())
    model = data.draw(st.one_of(st.just(UniformModel(size)), frequency_models(size)))
    payload = encode_packet(codes, model)
    assert len(payload) <= max_payload(*codes.shape)
    back = decode_packet(payload, *codes.shape, model)
    assert np.array_equal(back, codes)


def test_uniform_costs_the_raw_token_rate():
    codes = np.random.default_rng(0).integers(0, 1024, (50, 6))
    payload = encode_packet(codes, UniformModel(1024))
    raw = 50 * 6 * 10 / 8
    assert raw <= len(payload) <= raw + 8


def test_frequency_model_beats_uniform_on_its_own_statistics():
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.full(1024, 0.3), size=3)
    codes = np.stack([rng.choice(1024, 400, p=p) for p in probs], axis=1)
    counts = np.stack([np.bincount(codes[:, k], minlength=1024) for k in range(3)])
    model = FrequencyModel(counts)
    small = encode_packet(codes, model)
    assert len(small) < 0.9 * len(encode_packet(codes, UniformModel(1024)))
    assert len(small) * 8 / codes.size < model.bits_per_code(codes) + 0.2
    assert np.array_equal(decode_packet(small, 400, 3, model), codes)


def test_codebooks_beyond_the_counts_are_uniform():
    model = FrequencyModel(np.ones((2, 16), dtype=np.int64))
    tables = model.tables(5)
    assert tables.shape == (5, 16)
    assert np.allclose(tables, 1 / 16)


def test_frequency_json_round_trip(tmp_path):
    counts = np.random.default_rng(2).integers(0, 99, (4, 32))
    model = FrequencyModel(counts, 0.5, {"model_hash": "ab" * 16, "files": 3})
    path = model.save(tmp_path / "token_frequencies.json")
    back = FrequencyModel.load(path)
    assert back.model_id == model.model_id and back.model_id.startswith("freq1-")
    assert np.array_equal(back.counts, counts) and back.floor == 0.5
    assert back.meta == {"model_hash": "ab" * 16, "files": 3}
    other = FrequencyModel(counts, 1.0)
    assert other.model_id != model.model_id  # the floor changes the coding


@pytest.mark.parametrize(
    "doc, match",
    [
        ("not json", "not valid JSON"),
        ("[]", "not a rnncodec-token-frequencies"),
        ({"version": 9}, "version 9"),
        ({"counts": [[1, 2], [3]]}, "equal-length"),
        ({"counts": [[1, "2"]]}, "equal-length"),
        ({"counts": [[1, -2]]}, "non-negative"),
        ({"counts": [[1, 2]], "codebook_size": 3}, "codebook_size"),
        ({"counts": [[1, 2]], "floor": 0}, "floor"),
        ({"counts": [[1, 2]], "id": "freq1-0000"}, "does not match"),
        ({"counts": [[2**60, 2]]}, "below 2\\*\\*53"),
    ],
)
def test_bad_frequency_files_give_clean_errors(doc, match):
    if isinstance(doc, dict):
        full = {
            "format": "rnncodec-token-frequencies",
            "version": 1,
            "codebook_size": 2,
        }
        full.update(doc)
        doc = json.dumps(full)
    with pytest.raises(EntropyError, match=match):
        FrequencyModel.from_json(doc)


class _RepeatPrior(EntropyModel):
    """A stand-in for a learned prior: the previous frame's codes are
    likely again (state inside the packet)."""

    model_id = "repeat-test"

    def __init__(self, size):
        self.codebook_size = size

    def start_packet(self, num_codebooks):
        model = self

        class Context(PacketContext):
            previous = None

            def next_tables(self):
                table = np.ones((num_codebooks, model.codebook_size))
                if self.previous is not None:
                    table[np.arange(num_codebooks), self.previous] = 1000.0
                return table

            def update(self, codes):
                self.previous = np.array(codes)

        return Context()


def test_a_stateful_prior_plugs_into_the_same_coder():
    rng = np.random.default_rng(3)
    codes = np.repeat(rng.integers(0, 1024, (10, 4)), 5, axis=0)  # runs of 5
    model = _RepeatPrior(1024)
    payload = encode_packet(codes, model)
    assert np.array_equal(decode_packet(payload, 50, 4, model), codes)
    assert len(payload) < 0.5 * len(encode_packet(codes, UniformModel(1024)))


def test_out_of_range_codes_are_refused():
    with pytest.raises(EntropyError, match="lie in"):
        encode_packet(np.array([[1024]]), UniformModel(1024))
