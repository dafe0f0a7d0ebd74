"""Tests for the causal recurrent encoder and its streaming wrapper."""

import pytest
import torch

from speechbrain_rnncodec.lobes.encoder import CausalSTFT, RNNEncoder
from speechbrain_rnncodec.lobes.quantization.residual import ResidualVectorQuantizer
from speechbrain_rnncodec.lobes.streaming import StreamingEncoder, encode_latents

FRAME = 320  # samples per latent frame at 16 kHz / 50 Hz
CHUNKS = [320, 333, 1000, 4801, 16000]


def make_encoder(rnn_type="lstm", seed=0):
    torch.manual_seed(seed)
    enc = RNNEncoder(hidden_size=16, num_layers=2, latent_dim=8, rnn_type=rnn_type)
    return enc.eval()


def stream(encoder, wav, sizes):
    """Pushes ``wav`` through a StreamingEncoder in chunks of ``sizes`` (cycled)."""
    streamer = StreamingEncoder(encoder)
    out, pos, i = [], 0, 0
    while pos < wav.shape[1]:
        size = sizes[i % len(sizes)]
        out.append(streamer.push(wav[:, pos : pos + size]))
        pos, i = pos + size, i + 1
    out.append(streamer.flush())
    return torch.cat(out, dim=1)


def test_shapes_and_frame_rate():
    enc = make_encoder()
    assert enc.samples_per_frame == FRAME
    assert 16000 / enc.samples_per_frame == 50
    latents, (history, _) = enc(torch.randn(2, 16000))
    assert latents.shape == (2, 50, 8)
    assert history.shape == (2, 640 - 160)
    # encode_latents zero-pads the last partial frame.
    assert encode_latents(enc, torch.randn(2, 16000 + 1)).shape == (2, 51, 8)
    assert encode_latents(enc, torch.randn(3, 16000 - 1)).shape == (3, 50, 8)


@pytest.mark.parametrize("t", [1600, 1637, 1800])
def test_causality(t):
    enc = make_encoder()
    torch.manual_seed(1)
    wav = torch.randn(1, 10 * FRAME)
    perturbed = wav.clone()
    perturbed[:, t:] += torch.randn(1, wav.shape[1] - t)
    with torch.no_grad():
        a, _ = enc(wav)
        b, _ = enc(perturbed)
    diff = (a - b).abs().amax(dim=-1)[0]  # per frame
    for j in range(10):
        if (j + 1) * FRAME <= t:  # frame j ends before t
            assert diff[j] <= 1e-6, f"frame {j} saw the future"
        else:
            assert diff[j] > 1e-4, f"frame {j} ignored its input"


@pytest.mark.parametrize("rnn_type", ["lstm", "gru"])
@pytest.mark.parametrize("size", CHUNKS + ["mixed"])
def test_streaming_matches_whole_signal(rnn_type, size):
    enc = make_encoder(rnn_type)
    torch.manual_seed(2)
    wav = 0.3 * torch.randn(2, sum(CHUNKS))  # 22454 samples: not whole frames
    sizes = CHUNKS if size == "mixed" else [size]
    with torch.no_grad():
        whole = encode_latents(enc, wav)
    streamed = stream(enc, wav, sizes)
    assert whole.shape == (2, -(-wav.shape[1] // FRAME), 8)
    assert streamed.shape == whole.shape
    torch.testing.assert_close(streamed, whole, atol=1e-5, rtol=0)

    # The codes of an eval-mode RVQ are the same whichever way we encoded.
    torch.manual_seed(3)
    rvq = ResidualVectorQuantizer(dim=8, num_quantizers=4, codebook_size=32)
    rvq.train()(whole)  # k-means initialisation
    rvq.eval()
    with torch.no_grad():
        codes_whole = rvq(whole).codes
        codes_streamed = rvq(streamed).codes
    assert codes_whole.shape == (2, whole.shape[1], 4)
    assert torch.equal(codes_whole, codes_streamed)


def test_clip_shorter_than_one_frame():
    enc = make_encoder()
    wav = torch.randn(1, 100)
    with torch.no_grad():
        whole = encode_latents(enc, wav)
    assert whole.shape == (1, 1, 8)
    assert encode_latents(enc, torch.randn(1, 0)).shape == (1, 0, 8)
    streamer = StreamingEncoder(enc)
    assert streamer.push(wav).shape == (1, 0, 8)
    last = streamer.flush()
    assert last.shape == (1, 1, 8)
    torch.testing.assert_close(last, whole, atol=1e-5, rtol=0)


def test_forward_rejects_partial_frames():
    enc = make_encoder()
    with pytest.raises(ValueError, match="multiple"):
        enc(torch.randn(1, FRAME + 1))
    with pytest.raises(ValueError, match="multiple"):
        CausalSTFT(640, 160)(torch.randn(1, 161))


@pytest.mark.parametrize("rnn_type", ["lstm", "gru"])
def test_rnn_types_train(rnn_type):
    enc = make_encoder(rnn_type).train()
    latents, _ = enc(torch.randn(2, 4 * FRAME))
    assert latents.shape == (2, 4, 8)
    latents.pow(2).mean().backward()
    grads = [p.grad for p in enc.rnn.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_invalid_rnn_type():
    with pytest.raises(ValueError, match="rnn_type"):
        RNNEncoder(hidden_size=16, latent_dim=8, rnn_type="transformer")


def test_the_pitch_head_can_read_the_autocorrelation_of_the_newest_window():
    import math

    enc = RNNEncoder(hidden_size=16, latent_dim=8, pitch_bins=12, pitch_lags=[20, 320])
    t = torch.arange(16000) / 16000
    tone = sum(torch.sin(2 * math.pi * 200 * k * t) / k for k in (1, 2, 3))[None]
    latents, _ = enc(tone)
    assert latents.shape == (1, 50, 8 + 13) == (1, 50, enc.output_dim)
    # The newest windows: the STFT's frames that end each latent frame.
    frames, _ = enc.stft.windowed_frames(tone)
    lags = enc.autocorrelation(frames[:, 1::2])
    assert lags.shape == (1, 50, 301)
    # 200 Hz: a period of 80 samples, lag index 80 - 20.
    assert (lags[0, 5:].argmax(dim=-1) == 60).all()
    assert lags.abs().max() <= 1.0 + 1e-5


def test_subframe_energies_follow_the_energy_inside_the_frame():
    """A burst in the third 5 ms of a frame is loudest in the window centred
    on it (each window ends with its sub-frame, as the decoder's do) and
    absent before, the energies stream chunk by chunk, and their projection
    starts at zero."""
    torch.manual_seed(0)
    enc = RNNEncoder(hidden_size=16, latent_dim=8, subframe_bands=8).eval()
    plain = RNNEncoder(hidden_size=16, latent_dim=8).eval()
    plain.load_state_dict(enc.state_dict(), strict=False)
    wav = 1e-3 * torch.randn(1, 3200)
    wav[0, 1600 + 160 : 1600 + 240] += torch.randn(80)
    energies = enc.subframe_energies(wav, None)
    assert energies.shape == (1, 10, 4 * 8)
    per_subframe = energies[0, 5].reshape(4, 8).sum(dim=-1)
    assert per_subframe.argmax() == 3
    assert per_subframe[3] - per_subframe[0] > 8 * 5  # > 5 nepers a band
    assert torch.equal(enc(wav)[0], plain(wav)[0])
    torch.nn.init.normal_(enc.subframe_proj.weight)
    assert torch.allclose(stream(enc, wav, [333, 1000]), enc(wav)[0], atol=1e-5)


def test_subframe_hop_must_divide_the_frame():
    with pytest.raises(ValueError, match="divide"):
        RNNEncoder(hidden_size=16, latent_dim=8, subframe_bands=8, subframe_hop=96)
