"""Tests for the residual vector quantizer."""

import re

import pytest
import torch

from speechbrain_rnncodec.lobes.quantization.residual import ResidualVectorQuantizer


def make_rvq(seed=0, **kwargs):
    torch.manual_seed(seed)
    args = dict(dim=4, num_quantizers=3, codebook_size=16)
    args.update(kwargs)
    return ResidualVectorQuantizer(**args)


def stage_buffers(rvq):
    return {name: buf.clone() for name, buf in rvq.named_buffers()}


# ------------------------------------------------------------------- bitrates
def test_bitrate_arithmetic():
    rvq = make_rvq(
        num_quantizers=12,
        codebook_size=1024,
        frame_rate=50.0,
        train_num_quantizers=[3, 6, 12],
    )
    assert rvq.bits_per_code == 10
    assert rvq.num_quantizers_for(1.5) == 3
    assert rvq.num_quantizers_for(3) == 6
    assert rvq.num_quantizers_for(6.0) == 12
    assert rvq.bitrate(12) == 6.0
    assert rvq.bitrate(3) == 1.5


@pytest.mark.parametrize("kbps", [2.0, 7, 0.75, 1.0])
def test_unserved_bitrates_raise(kbps):
    rvq = make_rvq(
        num_quantizers=12,
        codebook_size=1024,
        frame_rate=50.0,
        train_num_quantizers=[3, 6, 12],
    )
    with pytest.raises(ValueError, match=re.escape("choose one of 1.5, 3, 6")):
        rvq.num_quantizers_for(kbps)


def test_train_num_quantizers_cannot_exceed_stages():
    with pytest.raises(ValueError):
        make_rvq(num_quantizers=3, train_num_quantizers=[1, 4])


# ---------------------------------------------------------- quantizer dropout
def test_quantizer_dropout_uses_one_of_the_trained_counts():
    rvq = make_rvq(train_num_quantizers=[1, 3]).train()
    torch.manual_seed(1)
    x = torch.randn(64, 5, 4)
    out = rvq(x)
    assert out.codes.shape == (64, 5, 3)
    counts = []
    for b in range(64):
        q = out.quantized[b : b + 1]
        matches = [
            n
            for n in (1, 2, 3)
            if torch.allclose(q, rvq.decode(out.codes[b : b + 1, :, :n]), atol=1e-5)
        ]
        assert len(matches) == 1, f"utterance {b} matches stage counts {matches}"
        counts.append(matches[0])
    assert set(counts) == {1, 3}
    assert {"perplexity_1", "restarted_codes_1", "perplexity_3"} <= set(out.stats)


def test_training_output_passes_gradient_straight_through():
    rvq = make_rvq().train()
    x = torch.randn(4, 6, 4, requires_grad=True)
    out = rvq(x)
    (out.quantized.sum() + out.loss).backward()
    assert x.grad is not None and torch.all(x.grad != 0)


# ------------------------------------------------------------------ inference
def test_eval_uses_requested_stages_and_decode_matches():
    rvq = make_rvq()
    torch.manual_seed(1)
    x = torch.randn(8, 10, 4)
    rvq.train()(x)
    rvq.eval()
    for n in (None, 1, 2, 3):
        out = rvq(x, num_quantizers=n)
        k = n or 3
        assert out.codes.shape == (8, 10, k)
        assert out.codes.dtype == torch.int64
        assert out.stats == {}
        decoded = rvq.decode(out.codes)
        torch.testing.assert_close(decoded, out.quantized, atol=1e-6, rtol=0)
    with pytest.raises(ValueError):
        rvq(x, num_quantizers=4)


def test_eval_does_not_change_codebooks():
    rvq = make_rvq()
    x = torch.randn(8, 10, 4)
    rvq.train()(x)
    before = stage_buffers(rvq.eval())
    rvq(x + 5.0)
    after = stage_buffers(rvq)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_more_stages_reconstruct_better():
    rvq = make_rvq(num_quantizers=4, codebook_size=16)
    torch.manual_seed(1)
    x = torch.randn(16, 32, 4)
    rvq.train()
    for _ in range(5):
        rvq(x)
    rvq.eval()
    errors = [
        float((rvq(x, num_quantizers=n).quantized - x).pow(2).mean())
        for n in range(1, 5)
    ]
    assert all(a > b for a, b in zip(errors, errors[1:], strict=False)), errors
    assert errors[-1] < 0.5 * errors[0]


# ---------------------------------------------------------------- codebooks
def test_kmeans_init_finds_clusters():
    centers = torch.tensor(
        [[10.0, 0, 0, 0], [-10.0, 0, 0, 0], [0, 10.0, 0, 0], [0, -10.0, 0, 0]]
    )
    for seed in range(5):
        rvq = make_rvq(seed=seed, num_quantizers=1, codebook_size=4).train()
        assert not rvq.stages[0].initialized
        x = centers[:, None, :] + 0.1 * torch.randn(4, 50, 4)
        rvq(x)
        assert rvq.stages[0].initialized
        nearest = torch.cdist(centers, rvq.stages[0].codebook).min(dim=1).values
        assert nearest.max() < 0.2, (seed, nearest)


def test_dead_code_is_restarted_on_a_batch_vector():
    rvq = make_rvq(num_quantizers=1, codebook_size=2, dead_code_steps=3).train()
    torch.manual_seed(1)
    x = torch.tensor([1.0, -1.0, 0.5, 2.0]) + 0.1 * torch.randn(4, 8, 4)
    rvq(x)  # k-means initialisation
    stage = rvq.stages[0]
    far = torch.full((4,), 100.0)
    stage.codebook[1] = far
    stage.unused_steps.zero_()
    restarted = [rvq(x).stats["restarted_codes_1"] for _ in range(3)]
    assert restarted == [0.0, 0.0, 1.0]
    code = stage.codebook[1]
    assert (code - far).norm() > 50
    assert (x.reshape(-1, 4) == code).all(dim=1).any()
    assert int(stage.unused_steps[1]) == 0


def test_padding_frames_do_not_change_codebooks():
    torch.manual_seed(1)
    x = torch.randn(4, 10, 4)
    mask = torch.ones(4, 10, dtype=torch.bool)
    mask[0, 6:] = False
    mask[2, 3:] = False
    garbage = x.clone()
    garbage[~mask] = 1000.0

    results = []
    for data in (x, garbage):
        rvq = make_rvq(train_num_quantizers=[2, 3]).train()
        torch.manual_seed(2)
        outs = [rvq(data, mask=mask) for _ in range(3)]  # init + EMA updates
        results.append((stage_buffers(rvq), outs[-1]))
    (buf_a, out_a), (buf_b, out_b) = results
    assert all(torch.equal(buf_a[k], buf_b[k]) for k in buf_a)
    assert torch.equal(out_a.codes[mask], out_b.codes[mask])
    torch.testing.assert_close(out_a.loss, out_b.loss)

    # Unmasked, the same garbage frames do move the codebooks.
    rvq = make_rvq(train_num_quantizers=[2, 3]).train()
    torch.manual_seed(2)
    for _ in range(3):
        rvq(garbage)
    assert rvq.stages[0].codebook.abs().max() > 100


# --------------------------------------------------------------- code checks
def test_bad_codes_raise():
    rvq = make_rvq(codebook_size=16).eval()
    good = torch.zeros(1, 2, 3, dtype=torch.long)
    assert rvq.decode(good).shape == (1, 2, 4)
    for bad in (good - 1, good + 16):
        with pytest.raises(ValueError, match="codes must lie"):
            rvq.decode(bad)
    with pytest.raises(ValueError, match="codebooks"):
        rvq.decode(torch.zeros(1, 2, 4, dtype=torch.long))


def test_frozen_quantizer_passes_the_decoder_gradient_to_a_training_encoder():
    """A quantizer kept in eval (frozen_modules) under an encoder that
    trains: the straight-through estimator still carries the gradient."""
    torch.manual_seed(0)
    rvq = ResidualVectorQuantizer(dim=8, num_quantizers=2, codebook_size=16)
    rvq(torch.randn(4, 20, 8))  # k-means initialisation in training
    rvq.eval()
    x = torch.randn(2, 5, 8, requires_grad=True)
    rvq(x, 2).quantized.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))
    with torch.no_grad():  # inference: the codes' values, no estimator
        out = rvq(x, 2)
    assert not out.quantized.requires_grad
    assert torch.allclose(out.quantized, rvq.decode(out.codes), atol=1e-6)


# ------------------------------------------------------ a narrowed last column
def test_a_narrowed_last_column_takes_the_nearest_of_its_own_codes():
    rvq = make_rvq(
        frame_rate=50.0, train_num_quantizers=[1, 2, 3], last_column_codes={2: 4}
    )
    rvq(torch.randn(8, 20, 4))  # k-means initialisation in training
    rvq.eval()
    assert rvq.bitrate(2) == pytest.approx(0.3)  # (4 + 2) bits x 50 Hz
    assert rvq.num_quantizers_for(0.3) == 2
    assert rvq.column_sizes(2) == [16, 4] and rvq.column_sizes(3) == [16, 16, 16]
    x = torch.randn(3, 50, 4)
    narrow = rvq(x, 2)
    residual = x - rvq.stages[0].decode(narrow.codes[..., 0])
    dist = torch.cdist(residual.reshape(-1, 4), rvq.narrow_stage(2).codebook)
    assert torch.equal(narrow.codes[..., 1].reshape(-1), dist.argmin(dim=1))
    assert torch.allclose(rvq.decode(narrow.codes), narrow.quantized, atol=1e-6)
    full = rvq(x, 3)  # at 3 stages the second one is the full codebook
    assert full.codes[..., 1].max() >= 4
    assert torch.equal(full.codes[..., 0], narrow.codes[..., 0])
    with pytest.raises(
        ValueError, match=re.escape("last of 2 columns must lie in [0, 4)")
    ):
        rvq.decode(full.codes[..., :2].clamp(min=4))


def test_quantizer_dropout_trains_the_narrow_codebook_on_its_utterances_only():
    rvq = make_rvq(train_num_quantizers=[2, 3], last_column_codes={2: 4}).train()
    torch.manual_seed(1)
    out = rvq(torch.randn(64, 20, 4))
    assert {"perplexity_2", "perplexity_2_narrow"} <= set(out.stats)
    stops = [  # utterances at 2 stages: not the sum of the 3 full stages
        not torch.allclose(
            out.quantized[b : b + 1], rvq.decode(out.codes[b : b + 1]), atol=1e-5
        )
        for b in range(64)
    ]
    assert 0 < sum(stops) < 64
    column = out.codes[..., 1].amax(dim=1)
    assert all(column[b] < 4 for b in range(64) if stops[b])
    assert any(column[b] >= 4 for b in range(64) if not stops[b])
    # The full codebook of stage 2 learned nothing from the narrowed utterances.
    frozen = make_rvq(train_num_quantizers=[2], last_column_codes={2: 4}).train()
    frozen(torch.randn(8, 20, 4))
    assert not frozen.stages[1].initialized and frozen.narrow_stage(2).initialized


@pytest.mark.parametrize("narrowed", [{4: 8}, {2: 16}, {2: 1}])
def test_a_narrowing_outside_the_model_is_refused(narrowed):
    with pytest.raises(ValueError, match="last_column_codes"):
        make_rvq(last_column_codes=narrowed)


def test_the_full_codebooks_can_stay_while_a_narrow_one_learns():
    """``--frozen_modules "[quantizer.stages]"``: a codebook in eval mode
    keeps its codes inside a training quantizer."""
    rvq = make_rvq(train_num_quantizers=[2, 3], last_column_codes={2: 4})
    rvq(torch.randn(8, 20, 4))  # every codebook initialised and trained
    before = stage_buffers(rvq.stages)
    narrow = rvq.narrow_stage(2).codebook.clone()
    rvq.stages.eval()
    rvq(torch.randn(8, 20, 4))
    after = stage_buffers(rvq.stages)
    assert all(torch.equal(before[name], after[name]) for name in before)
    assert not torch.equal(rvq.narrow_stage(2).codebook, narrow)


def test_the_code_table_of_a_narrowed_column_holds_its_own_codes():
    rvq = make_rvq(last_column_codes={2: 4}).eval()
    table = rvq.code_table(2)
    assert table.shape == (2, 16, 4)
    assert torch.equal(table[0], rvq.stages[0].codebook)
    assert torch.equal(table[1, :4], rvq.narrow_stage(2).codebook)
    assert not table[1, 4:].any()
    assert torch.equal(rvq.code_table(3)[1], rvq.stages[1].codebook)
