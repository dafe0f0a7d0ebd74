"""Tests for the sent pitch: the F0 column of the bottleneck, the encoder's
pitch head and the decoder that reads it."""

import math

import pytest
import torch

from speechbrain_rnncodec.lobes.codec import RecurrentCodec
from speechbrain_rnncodec.lobes.encoder import RNNEncoder
from speechbrain_rnncodec.lobes.excitation import (
    F0_MAX,
    F0_MIN,
    refine_pitch,
    refinement_history,
)
from speechbrain_rnncodec.lobes.quantization.pitch_column import (
    PitchColumnQuantizer,
    codes_to_pitch,
    pitch_to_codes,
)
from speechbrain_rnncodec.lobes.source_filter import SourceFilterDecoder

BINS = 24


def make_codec(seed=0):
    torch.manual_seed(seed)
    return RecurrentCodec(
        RNNEncoder(hidden_size=16, latent_dim=8, pitch_bins=BINS),
        PitchColumnQuantizer(
            dim=8,
            num_quantizers=4,
            codebook_size=64,
            train_num_quantizers=[2, 4],
            pitch_bins=BINS,
        ),
        SourceFilterDecoder(latent_dim=8, hidden_size=16, pitch_input=True),
    ).eval()


def test_pitch_codes_round_trip_within_half_a_level():
    log_f0 = torch.linspace(math.log(F0_MIN), math.log(F0_MAX), 997)
    codes = pitch_to_codes(log_f0, torch.ones_like(log_f0, dtype=torch.bool), 1024)
    assert codes.min() == 1 and codes.max() == 1023
    back = codes_to_pitch(codes, 1024)
    step = math.log(F0_MAX / F0_MIN) / 1022
    assert (back[..., 0] - log_f0).abs().max() <= step / 2 + 1e-6
    assert (back[..., 1] == 1.0).all()
    # Out of range: clamped to the end levels. Unvoiced: code 0.
    outside = torch.log(torch.tensor([20.0, 2000.0]))
    assert pitch_to_codes(outside, torch.tensor([True, True]), 1024).tolist() == [
        1,
        1023,
    ]
    assert pitch_to_codes(outside, torch.tensor([False, False]), 1024).tolist() == [
        0,
        0,
    ]


def test_column_zero_is_the_pitch_and_the_rates_count_it():
    codec = make_codec()
    quantizer = codec.quantizer
    # 6-bit codes at 50 Hz; the pitch column counts like any other.
    assert quantizer.bitrate(2) == pytest.approx(0.6)
    assert quantizer.num_quantizers_for(1.2) == 4
    tokens = codec.encode(torch.randn(2, 3200), num_quantizers=2)
    assert tokens.shape == (2, 10, 2)
    assert tokens.min() >= 0 and tokens.max() < 64
    with pytest.raises(ValueError, match="2 to 4"):
        quantizer.decode(tokens[..., :1])
    with pytest.raises(ValueError, match="pitch and one VQ stage"):
        PitchColumnQuantizer(dim=8, num_quantizers=4, train_num_quantizers=[1, 4])


def test_the_encoder_pitch_head_sets_the_column():
    codec = make_codec()
    with torch.no_grad():
        codec.encoder.pitch_head.weight.zero_()
        bias = torch.full((1 + BINS,), -10.0)
        bias[0] = 5.0  # voiced
        bias[1 + 12] = 10.0  # bin 12 of 24
        codec.encoder.pitch_head.bias.copy_(bias)
    tokens = codec.encode(torch.randn(1, 3200))
    sent = codes_to_pitch(tokens[..., 0], 64)
    centre = math.log(F0_MIN) + 12 / (BINS - 1) * math.log(F0_MAX / F0_MIN)
    step = math.log(F0_MAX / F0_MIN) / 62
    assert (sent[..., 1] == 1.0).all()
    assert (sent[..., 0] - centre).abs().max() <= step / 2 + 1e-5
    with torch.no_grad():
        codec.encoder.pitch_head.bias[0] = -5.0  # unvoiced
    assert (codec.encode(torch.randn(1, 3200))[..., 0] == 0).all()


def test_decode_gives_the_quantized_output_of_forward():
    codec = make_codec()
    out = codec.quantizer(torch.randn(2, 7, 8 + 1 + BINS), num_quantizers=3)
    assert out.quantized.shape == (2, 7, 10)
    assert torch.equal(codec.quantizer.decode(out.codes), out.quantized)
    assert out.pitch_scores.shape == (2, 7, 1 + BINS)


def without_correction(decoder):
    """The decoder with its pitch head zeroed: its F0 is the sent one."""
    with torch.no_grad():
        decoder.pitch_head.weight.zero_()
        decoder.pitch_head.bias.zero_()
    return decoder


def test_the_sent_pitch_drives_the_decoder():
    codec = make_codec()
    without_correction(codec.decoder)
    tokens = torch.zeros(1, 6, 3, dtype=torch.long)
    tokens[0, :, 0] = torch.tensor([40, 40, 0, 0, 30, 30])
    stream = codec.decoder_stream()
    stream.push(tokens)
    pitch = stream.stream.state.pitch[0, :, 0].exp()
    levels = codes_to_pitch(torch.tensor([40, 30]), 64)[:, 0].exp()
    assert torch.allclose(pitch[:16], levels[0].expand(16))  # held when unvoiced
    assert torch.allclose(pitch[16:], levels[1].expand(8))  # an onset: no glide


@pytest.mark.parametrize("chunk", [1, 4])
def test_streaming_decoding_matches_whole_decoding(chunk):
    codec = make_codec()
    with torch.no_grad():
        codec.decoder.pitch_proj.weight.normal_(0.0, 0.3)
    tokens = codec.encode(torch.randn(1, 320 * 17))
    whole = codec.decode(tokens)
    streamed = codec.decode(tokens, chunk_frames=chunk)
    assert streamed.shape == whole.shape == (1, 320 * 17)
    assert (streamed - whole).abs().max() <= 1e-5 * whole.abs().max()


def test_a_sent_pitch_takes_a_regression_correction():
    with pytest.raises(ValueError, match="pitch_bins=0"):
        SourceFilterDecoder(
            latent_dim=8, hidden_size=16, pitch_input=True, pitch_bins=96
        )
    with pytest.raises(ValueError, match="pitch_anchor"):
        SourceFilterDecoder(
            latent_dim=8, hidden_size=16, pitch_input=True, pitch_anchor=4
        )


@pytest.mark.parametrize("anchor", [0, 1, 3])
def test_the_sent_f0_is_reached_at_the_anchor_and_held_after_it(anchor):
    decoder = SourceFilterDecoder(
        latent_dim=8, hidden_size=16, pitch_input=True, pitch_anchor=anchor
    ).eval()
    without_correction(decoder)
    sent = torch.tensor([[5.0, 1.0], [5.4, 1.0]])
    latents = torch.cat([torch.zeros(2, 8), sent], dim=1)[None]
    with torch.no_grad():
        _, state = decoder(latents)
    track = state.pitch[0, 4:, 0]  # the second frame: from 5.0 to 5.4
    steps = torch.arange(1, 5)
    expected = 5.0 + 0.4 * (steps / (anchor + 1)).clamp(max=1.0)
    assert torch.allclose(track, expected)


def test_code_values_add_up_to_the_decoded_output():
    quantizer = make_codec().quantizer
    codes = torch.randint(0, 64, (2, 5, 4))
    values = quantizer.code_values(codes)
    assert values.shape == (2, 5, 4, 10)
    assert torch.allclose(values.sum(dim=2), quantizer.decode(codes))
    # The pitch column alone (as DASB's embedding tables ask for it).
    assert quantizer.code_values(codes[..., :1]).shape == (2, 5, 1, 10)


def make_refining_codec():
    """A codec whose encoder refines its F0 on the waveform; the F0 head
    says bin 10 of 24 (167 Hz) on every frame."""
    torch.manual_seed(0)
    encoder = RNNEncoder(
        hidden_size=16, latent_dim=8, pitch_bins=BINS, pitch_refinement=320
    )
    with torch.no_grad():
        encoder.pitch_head.weight.zero_()
        bias = torch.full((1 + BINS,), -10.0)
        bias[0], bias[1 + 10] = 5.0, 10.0
        encoder.pitch_head.bias.copy_(bias)
    quantizer = PitchColumnQuantizer(
        dim=8, num_quantizers=3, codebook_size=1024, pitch_bins=BINS, refined_pitch=True
    )
    decoder = SourceFilterDecoder(latent_dim=8, hidden_size=16, pitch_input=True)
    return RecurrentCodec(encoder, quantizer, decoder).eval()


def tone(f0, seconds=1.0):
    t = torch.arange(int(16000 * seconds)) / 16000
    return sum(torch.sin(2 * math.pi * f0 * k * t) / k for k in (1, 2, 3))[None]


def test_a_refining_encoder_sends_the_period_of_the_waveform():
    codec = make_refining_codec()
    assert codec.encoder.output_dim == 8 + 1 + BINS + 1
    sent = codes_to_pitch(codec.encode(tone(187.3))[0, 2:, 0], 1024)
    # The head alone would send 167 Hz; the refined F0 is that of the tone.
    assert (sent[:, 1] == 1.0).all()
    assert (sent[:, 0].exp() - 187.3).abs().max() < 0.6
    # Beyond 3 semitones of the head's F0 the head's F0 is kept.
    far = codes_to_pitch(codec.encode(tone(260.0))[0, 2:, 0], 1024)
    assert (far[:, 0].exp() - 166.9).abs().max() < 0.6


def test_refined_pitch_codes_do_not_depend_on_the_chunking():
    codec = make_refining_codec()
    torch.manual_seed(1)
    wav = tone(150.0, 0.8) * (1 + 0.3 * torch.randn(1, 12800))
    whole = codec.encode(wav)
    assert torch.equal(codec.encode(wav, chunk_frames=3), whole)


def test_the_pitch_column_checks_the_width_of_its_input():
    quantizer = PitchColumnQuantizer(
        dim=8, num_quantizers=3, codebook_size=64, pitch_bins=BINS, refined_pitch=True
    ).eval()
    with pytest.raises(ValueError, match="refined_pitch=True"):
        quantizer(torch.randn(1, 4, 8 + 1 + BINS))
    assert quantizer(torch.randn(1, 4, 8 + 2 + BINS)).codes.shape == (1, 4, 3)


def test_a_refinement_window_longer_than_the_stft_history_is_refused():
    with pytest.raises(ValueError, match="needs 641 samples"):
        RNNEncoder(hidden_size=16, latent_dim=8, pitch_bins=BINS, pitch_refinement=640)


def test_refinement_keeps_the_head_f0_on_silence_and_noise():
    past = refinement_history(320, 320, 16000)
    coarse = torch.full((1, 10), math.log(150.0))
    silence = torch.zeros(1, past + 10 * 320)
    assert torch.equal(refine_pitch(silence, coarse, 320, 320, 16000), coarse)
    torch.manual_seed(0)
    noise = torch.randn(1, past + 10 * 320)
    assert torch.equal(refine_pitch(noise, coarse, 320, 320, 16000), coarse)
    with pytest.raises(ValueError, match="refinement_history"):
        refine_pitch(silence[:, 1:], coarse, 320, 320, 16000)


def test_a_narrowed_last_column_counts_its_bits_after_the_pitch():
    q = PitchColumnQuantizer(
        dim=8,
        num_quantizers=4,
        codebook_size=64,
        train_num_quantizers=[2, 3, 4],
        pitch_bins=BINS,
        last_column_codes={3: 8},
    )
    q(torch.randn(4, 20, 8 + 1 + BINS))  # k-means initialisation in training
    q.eval()
    assert q.bitrate(3) == pytest.approx((6 + 6 + 3) * 50 / 1000)
    out = q(torch.randn(2, 40, 8 + 1 + BINS), 3)
    assert out.codes[..., 2].max() < 8 and q.narrow_stage(2).codebook_size == 8
    assert torch.equal(q.decode(out.codes), out.quantized)
    assert q(torch.randn(2, 40, 8 + 1 + BINS), 4).codes[..., 2].max() >= 8


CENT = math.log(2) / 1200


def test_glide_codes_round_trip_to_the_nearest_step():
    log_f0 = torch.linspace(math.log(F0_MIN), math.log(F0_MAX), 997)
    voiced = torch.ones_like(log_f0, dtype=torch.bool)
    for cents, step in ((-130, -2), (-60, -1), (20, 0), (80, 2), (400, 2)):
        codes = pitch_to_codes(log_f0, voiced, 1024, log_f0 + cents * CENT, 5)
        back = codes_to_pitch(codes, 1024, glide_codes=5)
        assert torch.allclose(back[..., 2], torch.full_like(log_f0, 50 * step * CENT))
        # 204 levels: 5 times coarser than without a glide.
        level = math.log(F0_MAX / F0_MIN) / 203
        assert (back[..., 0] - log_f0).abs().max() <= level / 2 + 1e-6
    unvoiced = pitch_to_codes(log_f0, ~voiced, 1024, log_f0 + 50 * CENT, 5)
    assert (unvoiced == 0).all()
    assert (codes_to_pitch(unvoiced, 1024, glide_codes=5)[..., 2] == 0).all()


def make_gliding_codec(glide_cents=50.0):
    """A refining codec that also sends the glide of the frames' newest
    96 samples (5 steps of ``glide_cents``)."""
    codec = make_refining_codec()
    torch.manual_seed(0)
    encoder = RNNEncoder(
        hidden_size=16,
        latent_dim=8,
        pitch_bins=BINS,
        pitch_refinement=320,
        pitch_glide=96,
    )
    encoder.load_state_dict(codec.encoder.state_dict())
    quantizer = PitchColumnQuantizer(
        dim=8,
        num_quantizers=3,
        codebook_size=1024,
        pitch_bins=BINS,
        refined_pitch=True,
        glide_codes=5,
        glide_cents=glide_cents,
    )
    decoder = SourceFilterDecoder(
        latent_dim=8, hidden_size=16, pitch_input=True, pitch_anchor=0, pitch_glide=True
    )
    return RecurrentCodec(encoder, quantizer, decoder).eval()


def chirp(start, end, seconds=1.0):
    """Three harmonics whose F0 rises exponentially from start to end Hz."""
    t = torch.arange(int(16000 * seconds)) / 16000
    f0 = start * (end / start) ** (t / seconds)
    phase = 2 * math.pi * torch.cumsum(f0, 0) / 16000
    return sum(torch.sin(k * phase) / k for k in (1, 2, 3))[None]


def test_a_gliding_encoder_sends_where_the_pitch_goes():
    # Steps of 5 cents: the two estimates lie about 7 ms apart, and 150 to
    # 195 Hz in 0.6 s rises 7.6 cents in 7 ms (within the head's reach).
    codec = make_gliding_codec(glide_cents=5.0)
    assert codec.encoder.output_dim == 8 + 1 + BINS + 2

    def glides(wav):
        sent = codec.quantizer.sent_pitch(codec.encode(wav)[0, 2:, 0])
        assert (sent[:, 1] == 1.0).all()
        return sent[:, 2] / CENT

    rising, falling = glides(chirp(150.0, 195.0, 0.6)), glides(chirp(195.0, 150.0, 0.6))
    assert (rising >= 0).all() and (rising > 0).float().mean() > 0.5
    assert (falling <= 0).all() and (falling < 0).float().mean() > 0.5
    assert (glides(tone(187.3)) == 0).all()
    assert codec.quantizer.decode(codec.encode(tone(187.3))).shape[-1] == 8 + 3


def test_the_glide_moves_the_decoders_track_after_the_anchor():
    codec = make_gliding_codec()
    without_correction(codec.decoder)
    f0 = torch.log(torch.tensor([150.0, 150.0]))
    codes = pitch_to_codes(f0, torch.tensor([True, True]), 1024, f0 + 50 * CENT, 5)
    tokens = torch.zeros(1, 2, 3, dtype=torch.long)
    tokens[0, :, 0] = codes
    stream = codec.decoder_stream()
    stream.push(tokens)
    track = stream.stream.state.pitch[0, :, 0] - codes_to_pitch(codes, 1024, 5)[0, 0]
    # 50 cents per two decoder frames after the anchor (frame 0).
    expected = torch.tensor([0.0, 25.0, 50.0, 75.0] * 2) * CENT
    assert torch.allclose(track, expected, atol=1e-5)


def test_a_decoder_reading_no_glide_is_the_decoder_without_one():
    """A zero glide leaves a trained decoder's output as it was: the glide
    adds no weights, so a decoder trained without it loads unchanged."""
    torch.manual_seed(0)
    plain = SourceFilterDecoder(latent_dim=8, hidden_size=16, pitch_input=True)
    gliding = SourceFilterDecoder(
        latent_dim=8, hidden_size=16, pitch_input=True, pitch_glide=True
    )
    gliding.load_state_dict(plain.state_dict())
    latents = torch.cat([torch.randn(1, 6, 8), torch.full((1, 6, 1), 5.0)], dim=-1)
    latents = torch.cat([latents, torch.ones(1, 6, 1)], dim=-1)
    with torch.no_grad():
        expected, _ = plain.eval()(latents)
        out, _ = gliding.eval()(torch.cat([latents, torch.zeros(1, 6, 1)], dim=-1))
    assert torch.equal(out, expected)


def test_gliding_codes_do_not_depend_on_the_chunking():
    codec = make_gliding_codec()
    wav = chirp(120.0, 240.0, 0.8)
    whole = codec.encode(wav)
    assert torch.equal(codec.encode(wav, chunk_frames=3), whole)
    streamed = codec.decode(whole, chunk_frames=2)
    assert (streamed - codec.decode(whole)).abs().max() < 1e-5


def test_a_glide_needs_the_refined_pitch():
    with pytest.raises(ValueError, match="glide_codes needs refined_pitch"):
        PitchColumnQuantizer(dim=8, pitch_bins=BINS, glide_codes=5)
    with pytest.raises(ValueError, match="pitch_glide needs"):
        RNNEncoder(hidden_size=16, latent_dim=8, pitch_bins=BINS, pitch_glide=96)
    with pytest.raises(ValueError, match="must not exceed"):
        RNNEncoder(
            hidden_size=16,
            latent_dim=8,
            pitch_bins=BINS,
            pitch_refinement=96,
            pitch_glide=320,
        )
    with pytest.raises(ValueError, match="pitch_glide needs pitch_input"):
        SourceFilterDecoder(latent_dim=8, hidden_size=16, pitch_glide=True)
