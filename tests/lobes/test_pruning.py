"""Tests for narrowing a trained encoder or source-filter decoder."""

import pytest
import torch

from speechbrain_rnncodec.lobes.encoder import RNNEncoder
from speechbrain_rnncodec.lobes.pruning import (
    DECODER,
    ENCODER,
    narrow_state,
    silence,
    unit_importance,
)
from speechbrain_rnncodec.lobes.source_filter import SourceFilterDecoder
from speechbrain_rnncodec.lobes.streaming import decode_latents


def make_decoder(hidden, rnn_type="lstm", seed=0):
    torch.manual_seed(seed)
    dec = SourceFilterDecoder(
        latent_dim=8, hidden_size=hidden, n_bands=8, pitch_input=True, rnn_type=rnn_type
    )
    with torch.no_grad():  # zero at initialisation: give the residual a say
        dec.residual_head.weight.normal_(0.0, 0.01)
    return dec.eval()


def make_encoder(hidden, seed=0):
    torch.manual_seed(seed)
    enc = RNNEncoder(
        hidden_size=hidden,
        latent_dim=8,
        pitch_bins=12,
        pitch_lags=[20, 320],
        subframe_bands=8,
    )
    with torch.no_grad():  # zero at initialisation: give the sub-frames a say
        enc.subframe_proj.weight.normal_(0.0, 0.1)
    return enc.eval()


@pytest.mark.parametrize("rnn_type", ["lstm", "gru"])
def test_keeping_every_unit_in_another_order_decodes_the_same(rnn_type):
    wide = make_decoder(12, rnn_type)
    order = torch.randperm(12, generator=torch.Generator().manual_seed(1))
    same = make_decoder(12, rnn_type, seed=5)
    kept = {"stream": order, "unit": order.flip(0)}
    same.load_state_dict(narrow_state(wide.state_dict(), DECODER, kept))
    latents = torch.randn(1, 6, 10)
    with torch.no_grad():
        expected, got = decode_latents(wide, latents), decode_latents(same, latents)
    assert (got - expected).abs().max() <= 1e-5 * expected.abs().max()


def test_keeping_every_unit_in_another_order_encodes_the_same():
    wide = make_encoder(12)
    order = torch.randperm(12, generator=torch.Generator().manual_seed(1))
    same = make_encoder(12, seed=5)
    kept = {"stream": order, "unit": order.flip(0), "perceptron": order.roll(3)}
    same.load_state_dict(narrow_state(wide.state_dict(), ENCODER, kept))
    wav = torch.randn(1, 3200)
    with torch.no_grad():
        expected, got = wide(wav)[0], same(wav)[0]
    assert (got - expected).abs().max() <= 1e-4 * expected.abs().max()


def test_narrowed_modules_load_and_run():
    keep = torch.tensor([0, 2, 3, 7, 8, 11])
    narrow = make_decoder(6)
    kept = {"stream": keep, "unit": keep}
    narrow.load_state_dict(narrow_state(make_decoder(12).state_dict(), DECODER, kept))
    encoder = make_encoder(6)
    kept["perceptron"] = keep
    encoder.load_state_dict(narrow_state(make_encoder(12).state_dict(), ENCODER, kept))
    with torch.no_grad():
        wav = decode_latents(narrow, torch.randn(1, 6, 10))
        latents, _ = encoder(torch.randn(1, 3200))
    assert wav.shape == (1, 6 * 320) and torch.isfinite(wav).all()
    assert latents.shape == (1, 10, 8 + 13) and torch.isfinite(latents).all()


def test_one_width_for_every_kind_and_every_kind_cut():
    state = make_decoder(12).state_dict()
    with pytest.raises(ValueError, match="one width"):
        narrow_state(
            state, DECODER, {"stream": torch.arange(6), "unit": torch.arange(5)}
        )
    with pytest.raises(ValueError, match="each kind"):
        narrow_state(
            make_encoder(12).state_dict(),
            ENCODER,
            {"stream": torch.arange(6), "unit": torch.arange(6)},
        )


def test_a_silenced_stream_dimension_stays_zero():
    dec = make_decoder(12)
    dec.load_state_dict(silence(dec.state_dict(), DECODER, "stream", 4))
    latents = torch.randn(1, 6, 10)
    with torch.no_grad():
        stream = dec.input_proj(latents[..., :-2]) + dec.pitch_proj(latents[..., -2:])
        stream, _ = dec.rnn(stream)
    assert stream[..., 4].abs().max() == 0 and stream.abs().max() > 0


def test_a_silenced_encoder_stream_dimension_stays_zero():
    enc = make_encoder(12)
    enc.load_state_dict(silence(enc.state_dict(), ENCODER, "stream", 4))
    seen = {}
    enc.rnn.register_forward_hook(lambda mod, inp, out: seen.update(out=out[0]))
    with torch.no_grad():
        enc(torch.randn(1, 3200))
    stream = seen["out"]
    assert stream[..., 4].abs().max() == 0 and stream.abs().max() > 0


def test_importance_ranks_and_restores_the_weights():
    dec = make_decoder(12)
    before = {k: v.clone() for k, v in dec.state_dict().items()}
    latents = torch.randn(1, 6, 10)
    scores = unit_importance(dec, DECODER, lambda: dec.frames(latents)[0].abs())
    assert all(torch.equal(v, before[k]) for k, v in dec.state_dict().items())
    assert sorted(scores) == ["stream", "unit"]
    assert all((score > 0).all() for score in scores.values())


def test_encoder_importance_ranks_its_three_kinds():
    enc = make_encoder(12)
    wav = torch.randn(1, 3200)
    scores = unit_importance(enc, ENCODER, lambda: enc(wav)[0])
    assert sorted(scores) == ["perceptron", "stream", "unit"]
    assert all((score > 0).all() for score in scores.values())
