"""Tests for narrowing a trained source-filter decoder."""

import pytest
import torch

from speechbrain_rnncodec.lobes.pruning import (
    narrow_decoder_state,
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


@pytest.mark.parametrize("rnn_type", ["lstm", "gru"])
def test_keeping_every_unit_in_another_order_decodes_the_same(rnn_type):
    wide = make_decoder(12, rnn_type)
    order = torch.randperm(12, generator=torch.Generator().manual_seed(1))
    same = make_decoder(12, rnn_type, seed=5)
    same.load_state_dict(narrow_decoder_state(wide.state_dict(), order, order.flip(0)))
    latents = torch.randn(1, 6, 10)
    with torch.no_grad():
        expected, got = decode_latents(wide, latents), decode_latents(same, latents)
    assert (got - expected).abs().max() <= 1e-5 * expected.abs().max()


def test_narrowed_decoder_loads_and_decodes():
    narrow = make_decoder(6)
    keep = torch.tensor([0, 2, 3, 7, 8, 11])
    narrow.load_state_dict(
        narrow_decoder_state(make_decoder(12).state_dict(), keep, keep)
    )
    with torch.no_grad():
        wav = decode_latents(narrow, torch.randn(1, 6, 10))
    assert wav.shape == (1, 6 * 320) and torch.isfinite(wav).all()


def test_one_width_for_stream_and_layers():
    state = make_decoder(12).state_dict()
    with pytest.raises(ValueError, match="one width"):
        narrow_decoder_state(state, torch.arange(6), torch.arange(5))


def test_a_silenced_stream_dimension_stays_zero():
    dec = make_decoder(12)
    dec.load_state_dict(silence(dec.state_dict(), "stream", 4))
    latents = torch.randn(1, 6, 10)
    with torch.no_grad():
        stream = dec.input_proj(latents[..., :-2]) + dec.pitch_proj(latents[..., -2:])
        stream, _ = dec.rnn(stream)
    assert stream[..., 4].abs().max() == 0 and stream.abs().max() > 0


def test_importance_ranks_and_restores_the_weights():
    dec = make_decoder(12)
    before = {k: v.clone() for k, v in dec.state_dict().items()}
    stream, units = unit_importance(dec, torch.randn(1, 6, 10))
    assert all(torch.equal(v, before[k]) for k, v in dec.state_dict().items())
    assert (stream > 0).all() and (units > 0).all()
