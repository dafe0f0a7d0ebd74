"""The learned entropy model: a GRU prior run frame by frame in NumPy."""

import hashlib
import pathlib

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from speechbrain_rnncodec.entropy.coding import (
    EntropyError,
    NarrowedColumns,
    UniformModel,
    decode_packet,
    decode_packets,
    encode_packet,
    encode_packets,
)
from speechbrain_rnncodec.entropy.learned import (
    LearnedPriorModel,
    prior_model,
    prior_state,
)
from speechbrain_rnncodec.inference.shipped import model_source
from speechbrain_rnncodec.lobes.prior import TokenPrior
from speechbrain_rnncodec.training.prior_brain import packets

C = 64


def small_prior(seed=0, modelled=2, code_groups=None):
    torch.manual_seed(seed)
    prior = TokenPrior(
        num_codebooks=4,
        codebook_size=C,
        modelled_codebooks=modelled,
        embedding_dim=8,
        hidden_size=16,
        rank=4,
        code_groups=code_groups,
    )
    if code_groups:
        prior.group_codes()
    return prior


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    frames=st.integers(0, 60),
    books=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
@pytest.mark.parametrize("code_groups", [None, 8])
def test_lossless_on_random_streams(code_groups, frames, books, seed):
    model = prior_model(small_prior(code_groups=code_groups))
    codes = np.random.default_rng(seed).integers(0, C, (frames, books))
    data = encode_packet(codes, model)
    assert np.array_equal(decode_packet(data, frames, books, model), codes)


@pytest.mark.parametrize("code_groups", [None, 8])
def test_tables_follow_the_torch_prior(code_groups):
    """Whole tables (for generation and concealment); a two-level head
    mixes the floor in at both levels."""
    prior = small_prior(code_groups=code_groups)
    model = prior_model(prior)
    tokens = torch.randint(0, C, (1, 6, 4))
    with torch.no_grad():
        expected = torch.softmax(prior(tokens), dim=-1)[0].double().numpy()
    context = model.start_packet(4)
    for t in range(6):
        table = context.next_tables()
        assert table.shape == (2, C)
        assert np.allclose(table, expected[t], atol=3e-4 if code_groups else 1e-4)
        context.update(tokens[0, t].numpy())
    assert model.start_packet(1).next_tables().shape == (1, C)


def test_the_torch_prior_reads_the_frames_of_a_lower_bitrate():
    """Frames of fewer codebooks (a lower bitrate) sum fewer embeddings,
    in training as in the coder."""
    prior = small_prior()
    tokens = torch.randint(0, C, (1, 5, 4))[..., :2]
    with torch.no_grad():
        expected = torch.softmax(prior(tokens), dim=-1)[0].double().numpy()
    context = prior_model(prior).start_packet(2)
    for t in range(5):
        assert np.allclose(context.next_tables(), expected[t], atol=1e-4)
        context.update(tokens[0, t].numpy())


@pytest.mark.parametrize("code_groups", [None, 8])
def test_a_trained_prior_saves_bits(code_groups):
    """A prior trained on a predictable stream codes it below the raw rate."""
    prior = small_prior(code_groups=code_groups)
    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.integers(0, 2, (400, 4)), axis=0) % C  # slow drift
    tokens = torch.from_numpy(walk)
    optimizer = torch.optim.Adam(prior.parameters(), lr=1e-2)
    for _ in range(60):
        split, _ = packets(tokens[None], torch.ones(1), 50)
        logits = prior(split)
        loss = torch.nn.functional.cross_entropy(
            logits.flatten(0, 2), split[..., :2].flatten()
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model = prior_model(prior)
    learned = len(encode_packet(walk[:50], model))
    raw = len(encode_packet(walk[:50], UniformModel(C)))
    assert learned < 0.75 * raw, (learned, raw)


@pytest.mark.parametrize("books", [1, 2, 4])
def test_a_whole_packet_gets_the_tables_of_the_frame_loop(books):
    """The encoder computes a packet's tables at once; the decoder, frame
    by frame, must find the same ones to the last bit."""
    model = prior_model(small_prior(modelled=3))
    codes = np.random.default_rng(books).integers(0, C, (50, books))
    loop, batched = model.start_packet(books), model.start_packet(books)
    expected = []
    for frame in codes:
        expected.append(loop.next_tables())
        loop.update(frame)
    tables = batched.packet_tables(codes)
    assert len(tables) == len(codes)
    assert all(np.array_equal(a, b) for a, b in zip(tables, expected, strict=True))
    # and the state goes on where the loop's does
    assert np.array_equal(batched.next_tables(), loop.next_tables())
    assert model.start_packet(books).packet_tables(codes[:0]) == []


@pytest.mark.parametrize("narrow", [False, True])
@pytest.mark.parametrize("modelled,code_groups", [(3, None), (2, 8)])
def test_packets_side_by_side_are_coded_as_each_alone(narrow, modelled, code_groups):
    """Packets of different lengths share each GRU step; their bytes are
    those of coding each alone, and they decode side by side."""
    model = prior_model(small_prior(modelled=modelled, code_groups=code_groups))
    if narrow:  # the last column of 3 keeps 8 codes
        model = NarrowedColumns(model, lambda k: [C] * (k - 1) + [8])
    rng = np.random.default_rng(7)
    packets = [rng.integers(0, 8, (n, 3)) for n in (50, 50, 17, 0, 50)]
    alone = [encode_packet(codes, model) for codes in packets]
    assert encode_packets(packets, model) == alone
    decoded = decode_packets(list(zip(alone, map(len, packets), strict=True)), 3, model)
    assert all(np.array_equal(a, b) for a, b in zip(decoded, packets, strict=True))
    if narrow:  # 3 bits instead of 6 per code of the narrowed column
        wide = [encode_packet(codes, model.inner) for codes in packets]
        assert sum(map(len, alone)) < sum(map(len, wide)) - 30


def test_a_two_level_prior_cannot_narrow_a_column_it_models():
    model = NarrowedColumns(
        prior_model(small_prior(code_groups=8)), lambda k: [C] * (k - 1) + [8]
    )
    with pytest.raises(EntropyError, match="cannot narrow"):
        encode_packet(np.zeros((5, 2), dtype=int), model)


def test_a_two_level_prior_saves_loads_and_runs_only_in_exact_arithmetic(tmp_path):
    model = prior_model(small_prior(code_groups=8))
    back = LearnedPriorModel.load(model.save(tmp_path / "token_prior.npz"))
    assert back.model_id == model.model_id and back.code_groups == 8
    assert back.ids() == {model.model_id: "exact"}
    with pytest.raises(EntropyError, match="exact arithmetic"):
        model.with_arithmetic("float32")
    codes = np.random.default_rng(3).integers(0, C, (20, 4))
    assert encode_packet(codes, back) == encode_packet(codes, model)
    w = dict(model.w, code_order=model.w["code_order"][:, ::-1] % 7)  # not an order
    with pytest.raises(EntropyError, match="do not fit"):
        LearnedPriorModel(w, model.meta)


def test_a_narrower_two_level_prior_starts_from_a_wider_one():
    """The embeddings and code head come over; the GRU starts afresh; the
    codes are grouped from the copied head."""
    wide = small_prior()
    torch.manual_seed(1)
    narrow = TokenPrior(
        num_codebooks=4,
        codebook_size=C,
        modelled_codebooks=2,
        embedding_dim=8,
        hidden_size=12,
        rank=4,
        code_groups=8,
    )
    kept = narrow.start_from(prior_state(prior_model(wide)))
    assert kept == [
        "cell.weight_ih",
        "cell.weight_hh",
        "cell.bias_ih",
        "cell.bias_hh",
        "project.weight",
    ]
    assert torch.equal(narrow.output, wide.output)
    places = narrow.code_order.sort(dim=1).values
    assert torch.equal(places, torch.arange(C).repeat(2, 1))
    assert not torch.equal(narrow.code_order[0], torch.arange(C))  # grouped


def test_save_load_and_bad_files(tmp_path):
    model = prior_model(small_prior(), {"model_hash": "ab" * 16})
    path = model.save(tmp_path / "token_prior.npz")
    back = LearnedPriorModel.load(path)
    assert back.model_id == model.model_id and back.meta["model_hash"] == "ab" * 16
    assert not list(tmp_path.glob(".*"))
    other = prior_model(small_prior(seed=1))
    assert other.model_id != model.model_id
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not a zip at all")
    with pytest.raises(EntropyError, match="not a token prior"):
        LearnedPriorModel.load(tmp_path / "bad.npz")
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["output"] = arrays["output"] * 2  # weights changed, id kept
    np.savez(tmp_path / "tampered.npz", **arrays)
    with pytest.raises(EntropyError, match="does not match its weights"):
        LearnedPriorModel.load(tmp_path / "tampered.npz")
    del arrays["start"]
    np.savez(tmp_path / "partial.npz", **arrays)
    with pytest.raises(EntropyError, match="lacks arrays"):
        LearnedPriorModel.load(tmp_path / "partial.npz")


def summation_order_reversed(model):
    """The same prior with the hidden units and the embedding dimensions
    stored in reverse order: every matrix product sums in another order."""
    w = {k: v.copy() for k, v in model.w.items()}
    units = np.arange(model.hidden_size)[::-1]
    gates = np.concatenate([units + g * model.hidden_size for g in range(3)])
    dims = np.arange(len(w["start"]))[::-1]
    w["embedding"], w["start"] = w["embedding"][:, dims], w["start"][dims]
    w["weight_ih"] = w["weight_ih"][gates][:, dims]
    w["weight_hh"] = w["weight_hh"][gates][:, units]
    w["bias_ih"], w["bias_hh"] = w["bias_ih"][gates], w["bias_hh"][gates]
    w["project_weight"] = w["project_weight"][:, units]
    return LearnedPriorModel(w, model.meta, model.floor)


def test_exact_tables_do_not_depend_on_the_order_of_sums():
    # What a CPU with other vector units does to a float32 product.
    model = prior_model(small_prior())
    reordered = summation_order_reversed(model)
    codes = np.random.default_rng(0).integers(0, C, (40, 4))
    first, second = model.start_packet(4), reordered.start_packet(4)
    for frame in codes:
        assert np.array_equal(first.next_tables(), second.next_tables())
        first.update(frame)
        second.update(frame)
    assert encode_packet(codes, model) == encode_packet(codes, reordered)


def test_files_of_the_float32_arithmetic_still_decode():
    model = prior_model(small_prior())
    old = model.with_arithmetic("float32")
    assert model.model_id.startswith("prior2-") and old.model_id.startswith("prior1-")
    assert model.ids() == {model.model_id: "exact", old.model_id: "float32"}
    codes = np.random.default_rng(1).integers(0, C, (30, 3))
    data = encode_packet(codes, old)
    assert np.array_equal(decode_packet(data, 30, 3, old), codes)
    # The fixed point costs nothing measurable against float32.
    exact = len(encode_packet(codes, model))
    assert abs(exact - len(data)) <= 2, (exact, len(data))


def test_the_same_arithmetic_is_the_model_itself():
    # resolve_entropy asks for it on every file: no second load of the weights
    model = prior_model(small_prior())
    assert model.with_arithmetic("exact") is model


@pytest.mark.parametrize(
    "name,sizes,digest",
    [  # a one-softmax prior, and the default's two-level one
        (
            "rnn_sf_pitch_sub_so762_e192_d192_pesq_16k",
            [488, 484, 168],
            "37b6a499038e8ceb",
        ),
        (
            "rnn_sf_pitch_sub_so762_e192_d192_pesq2_16k",
            [496, 500, 168],
            "39d0245a360bef65",
        ),
    ],
)
def test_the_shipped_prior_codes_the_bytes_it_always_did(name, sizes, digest):
    # Files in the wild name these priors: any change to the fixed-point
    # arithmetic (a faster order of the same operations included) must give
    # the same tables to the last bit, so the same bytes.
    folder = pathlib.Path(model_source(name))
    model = LearnedPriorModel.load(folder / "token_prior.npz")
    rng = np.random.default_rng(0)
    codes = [rng.integers(0, 1024, (frames, 6)) for frames in (50, 50, 17)]
    data = encode_packets(codes, model)
    assert [len(d) for d in data] == sizes
    assert hashlib.sha256(b"".join(data)).hexdigest()[:16] == digest
    decoded = decode_packets(list(zip(data, (50, 50, 17), strict=True)), 6, model)
    assert all(np.array_equal(a, b) for a, b in zip(decoded, codes, strict=True))
