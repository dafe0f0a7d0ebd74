"""Tests for the causal recurrent decoder, its overlap-add head and streaming."""

import pytest
import torch

from speechbrain_rnncodec.lobes.decoder import OverlapAddISTFT, RNNDecoder
from speechbrain_rnncodec.lobes.encoder import CausalSTFT, RNNEncoder
from speechbrain_rnncodec.lobes.streaming import (
    StreamingDecoder,
    algorithmic_latency_ms,
    decode_latents,
)

FRAME = 320
DELAY = 320 - 80  # n_fft - hop of the default synthesis head


def make_decoder(rnn_type="lstm", seed=0):
    torch.manual_seed(seed)
    return RNNDecoder(latent_dim=8, hidden_size=16, rnn_type=rnn_type).eval()


@pytest.mark.parametrize("rnn_type", ["lstm", "gru"])
def test_shapes(rnn_type):
    dec = make_decoder(rnn_type)
    assert dec.samples_per_frame == FRAME
    assert dec.delay_samples == DELAY
    latents = torch.randn(2, 7, 8)
    with torch.no_grad():
        wav, state = dec(latents)
        assert wav.shape == (2, 7 * FRAME - DELAY)
        assert dec.flush(state).shape == (2, DELAY)
        assert decode_latents(dec, latents).shape == (2, 7 * FRAME)
        assert decode_latents(dec, latents[:, :1]).shape == (2, FRAME)


@pytest.mark.parametrize("k", [1, 4, 9])
def test_causality(k):
    dec = make_decoder()
    torch.manual_seed(1)
    latents = torch.randn(1, 10, 8)
    changed = latents.clone()
    changed[:, k] += 1.0
    with torch.no_grad():
        diff = (decode_latents(dec, latents) - decode_latents(dec, changed)).abs()[0]
    # Frame k's first synthesis window starts at k * 320 - delay.
    bound = k * FRAME - DELAY
    assert diff[:bound].max() <= 1e-7
    first_changed = int(torch.nonzero(diff > 1e-7)[0])
    # The first window sample is weighted by hann[0] = 0, hence the +1.
    assert bound <= first_changed <= bound + 1
    assert diff[bound : bound + 80].max() > 1e-5


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, "mixed"])
def test_streaming_matches_whole_decode(chunk):
    dec = make_decoder()
    torch.manual_seed(2)
    latents = torch.randn(2, 23, 8)
    with torch.no_grad():
        whole = decode_latents(dec, latents)
    sizes = [1, 2, 3, 7] if chunk == "mixed" else [chunk]
    streamer = StreamingDecoder(dec)
    out, pos, i = [], 0, 0
    assert streamer.push(latents[:, :0]).shape == (2, 0)
    while pos < latents.shape[1]:
        size = sizes[i % len(sizes)]
        out.append(streamer.push(latents[:, pos : pos + size]))
        pos, i = pos + size, i + 1
    out.append(streamer.flush())
    streamed = torch.cat(out, dim=1)
    assert streamed.shape == whole.shape == (2, 23 * FRAME)
    assert (streamed - whole).abs().max() < 1e-4


def causal_frames(x, n_fft, hop):
    """Frame n covers samples [n*hop - (n_fft-hop), n*hop + hop), zeros before 0."""
    padded = torch.nn.functional.pad(x, (n_fft - hop, 0))
    return padded.unfold(1, n_fft, hop)


@pytest.mark.parametrize("n_fft,hop", [(320, 80), (640, 160), (512, 128)])
def test_overlap_add_perfect_reconstruction(n_fft, hop):
    torch.manual_seed(3)
    n_frames = 20
    x = torch.randn(2, n_frames * hop)
    window = torch.hann_window(n_fft, periodic=True)
    spec = torch.fft.rfft(causal_frames(x, n_fft, hop) * window, dim=-1)
    istft = OverlapAddISTFT(n_fft, hop)
    wav, tail = istft(spec)
    overlap = n_fft - hop
    assert wav.shape == (2, n_frames * hop) and tail.shape == (2, overlap)
    # wav[i] is sample i - overlap; all returned samples after time 0 are
    # covered by every window that overlaps them.
    finished = x[:, : n_frames * hop - overlap]
    torch.testing.assert_close(wav[:, overlap:], finished, atol=1e-5, rtol=0)
    assert wav[:, :overlap].abs().max() < 1e-5  # before time zero: silence

    # Chunked calls carry the tail and give the same samples.
    first, tail1 = istft(spec[:, :7])
    second, tail2 = istft(spec[:, 7:], tail1)
    torch.testing.assert_close(torch.cat([first, second], 1), wav, atol=1e-6, rtol=0)
    torch.testing.assert_close(tail2, tail, atol=1e-6, rtol=0)


def test_analysis_stft_framing_matches_synthesis():
    """The encoder's causal STFT frames the signal as the OLA head places it."""
    torch.manual_seed(4)
    x = torch.randn(1, 16 * 80)
    spec, _ = CausalSTFT(320, 80)(x)
    wav, _ = OverlapAddISTFT(320, 80)(spec)
    expected = x[:, : x.shape[1] - 240]
    torch.testing.assert_close(wav[:, 240:], expected, atol=1e-5, rtol=0)


def test_overlap_add_rejects_bad_hop():
    with pytest.raises(ValueError):
        OverlapAddISTFT(n_fft=320, hop_length=96)


def test_algorithmic_latency_of_default_lobes():
    assert algorithmic_latency_ms(RNNEncoder(), RNNDecoder()) == 35.0
