"""RecurrentCodec: encoder -> quantizer -> decoder as one module.

Every caller (the training Brain, the pretrained ``RNNCodec``, the
diagnostics, the downstream front ends, the ``.rnc`` file coder) goes
through this module, as EnCodec's ``EncodecModel`` or DAC's model: the
lobes stay separate ``modules`` for checkpoints, freezing and DDP, and
the codec composes them.

Authors
 * speechbrain_rnncodec team 2026
"""

import contextlib
import dataclasses

import torch

from speechbrain_rnncodec.audio.io import check_waveform
from speechbrain_rnncodec.lobes.quantization.base import QuantizerOutput
from speechbrain_rnncodec.lobes.streaming import (
    StreamingDecoder,
    StreamingEncoder,
    algorithmic_latency_ms,
    decode_whole,
    encode_latents,
    unwrap,
)


@dataclasses.dataclass
class CodecOutput:
    """What :meth:`RecurrentCodec.forward` returns.

    Arguments
    ---------
    wav : torch.Tensor
        Decoded waveforms [B, T], cut to the input length.
    bottleneck : QuantizerOutput
        Quantized latents, codes, the bottleneck's loss and statistics.
    decoder_state : object
        The decoder's state after the last frame (a source-filter decoder's
        predicted pitch is in it).
    """

    wav: torch.Tensor
    bottleneck: QuantizerOutput
    decoder_state: object


class RecurrentCodec(torch.nn.Module):
    """A causal recurrent codec: waveforms [B, T] <-> tokens [B, T', K].

    Arguments
    ---------
    encoder : torch.nn.Module
        The encoder lobe (e.g. ``RNNEncoder``), or its DDP wrapper.
    quantizer : torch.nn.Module
        The bottleneck (residual VQ, scalar, group VQ or VAE rate).
    decoder : torch.nn.Module
        The decoder lobe (``RNNDecoder`` or ``SourceFilterDecoder``).

    Example
    -------
    >>> from speechbrain_rnncodec.lobes.encoder import RNNEncoder
    >>> from speechbrain_rnncodec.lobes.quantization.residual import (
    ...     ResidualVectorQuantizer,
    ... )
    >>> from speechbrain_rnncodec.lobes.decoder import RNNDecoder
    >>> codec = RecurrentCodec(
    ...     RNNEncoder(hidden_size=16, latent_dim=8),
    ...     ResidualVectorQuantizer(dim=8, num_quantizers=2, codebook_size=16),
    ...     RNNDecoder(latent_dim=8, hidden_size=16),
    ... ).eval()
    >>> wav = torch.randn(2, 1000)
    >>> tokens = codec.encode(wav)
    >>> tokens.shape
    torch.Size([2, 4, 2])
    >>> codec.decode(tokens).shape
    torch.Size([2, 1280])
    >>> codec(wav).wav.shape
    torch.Size([2, 1000])
    """

    def __init__(self, encoder, quantizer, decoder):
        super().__init__()
        self.encoder = encoder
        self.quantizer = quantizer
        self.decoder = decoder

    @property
    def samples_per_frame(self):
        """Waveform samples per token frame."""
        return unwrap(self.encoder).samples_per_frame

    @property
    def predicts_pitch(self):
        """Whether the decoder predicts a pitch track (source-filter)."""
        return getattr(unwrap(self.decoder), "predicts_pitch", False)

    def latency_ms(self, sample_rate):
        """Worst-case algorithmic latency in ms (one frame plus the
        synthesis overlap)."""
        return algorithmic_latency_ms(
            unwrap(self.encoder), unwrap(self.decoder), sample_rate
        )

    def forward(self, wav, num_quantizers=None, mask=None, **decoder_kwargs):
        """Encodes, quantizes and decodes whole waveforms (with gradients).

        Arguments
        ---------
        wav : torch.Tensor
            Waveforms [B, T].
        num_quantizers : int, optional
            Codebooks to use (default: the quantizer's choice, e.g. random
            in training).
        mask : torch.Tensor, optional
            Valid latent frames [B, T'] of a padded batch (for the
            bottleneck's statistics).
        **decoder_kwargs
            Passed to the decoder (``teacher_pitch``).

        Returns
        -------
        CodecOutput
            The decoded waveforms, the bottleneck output, the decoder state.
        """
        bottleneck = self.quantize(wav, num_quantizers, mask)
        decoded, state = decode_whole(
            self.decoder, bottleneck.quantized, **decoder_kwargs
        )
        return CodecOutput(decoded[:, : wav.shape[1]], bottleneck, state)

    def quantize(self, wav, num_quantizers=None, mask=None):
        """The bottleneck output of whole waveforms [B, T] (with gradients).

        Arguments
        ---------
        wav : torch.Tensor
            Waveforms [B, T].
        num_quantizers : int, optional
            Codebooks to use.
        mask : torch.Tensor, optional
            Valid latent frames [B, T'].

        Returns
        -------
        QuantizerOutput
            Quantized latents [B, T', D], codes, loss and statistics.
        """
        return self.quantizer(
            encode_latents(self.encoder, wav), num_quantizers, mask=mask
        )

    def tokens(self, latents, num_quantizers):
        """Codes [B, T', K] of latent frames [B, T', D]."""
        codes = unwrap(self.quantizer)(latents, num_quantizers).codes
        return codes.reshape(latents.shape[0], latents.shape[1], num_quantizers)

    def max_quantizers(self):
        """Codebooks of the full bitrate."""
        return unwrap(self.quantizer).num_quantizers

    def min_quantizers(self):
        """Fewest codebooks the model decodes."""
        return unwrap(self.quantizer).min_quantizers

    @torch.no_grad()
    def encode(self, wav, num_quantizers=None, chunk_frames=None):
        """Tokens [B, ceil(T / frame), K] of waveforms [B, T].

        Arguments
        ---------
        wav : torch.Tensor
            Waveforms [B, T].
        num_quantizers : int, optional
            Codebooks per frame (default: all).
        chunk_frames : int, optional
            Frames per processing chunk (bounded memory; the tokens are
            those of the whole signal). Default: one chunk.

        Returns
        -------
        torch.Tensor
            Integer codes.
        """
        stream = self.encoder_stream(num_quantizers)
        step = chunk_frames or max(1, -(-wav.shape[1] // self.samples_per_frame))
        step *= self.samples_per_frame
        length = wav.shape[1]
        parts = [
            stream.push(wav[:, i : i + step], last=i + step >= length)
            for i in range(0, length, step)
        ]
        return torch.cat(parts or [stream.flush()], dim=1)

    @torch.no_grad()
    def decode(self, tokens, chunk_frames=None):
        """Waveforms [B, T' * frame] of tokens [B, T', K].

        Arguments
        ---------
        tokens : torch.Tensor
            Integer codes; K codebooks give the bitrate.
        chunk_frames : int, optional
            Frames per processing chunk (default: one chunk).

        Returns
        -------
        torch.Tensor
            Waveforms (the decoder's tail flushed).
        """
        stream = self.decoder_stream()
        step = chunk_frames or max(1, tokens.shape[1])
        parts = [
            stream.push(tokens[:, i : i + step])
            for i in range(0, tokens.shape[1], step)
        ]
        return torch.cat(parts + [stream.flush()], dim=1)

    def encoder_stream(self, num_quantizers=None, precision=None):
        """A :class:`TokenStreamEncoder` for chunks of samples."""
        return TokenStreamEncoder(
            self, num_quantizers or self.max_quantizers(), precision
        )

    def decoder_stream(self, precision=None):
        """A :class:`TokenStreamDecoder` for chunks of tokens."""
        return TokenStreamDecoder(self, precision)


def _device(module):
    """The device of a module's parameters."""
    return next(module.parameters()).device


class TokenStreamEncoder:
    """Chunks of samples [B, n] in, tokens [B, t, K] out (on the codec's
    device).

    Arguments
    ---------
    codec : RecurrentCodec
        The codec.
    num_quantizers : int
        Codebooks per frame.
    precision : contextlib.AbstractContextManager, optional
        Context each chunk runs in (e.g. an autocast; default: none).
    """

    def __init__(self, codec, num_quantizers, precision=None):
        self.codec = codec
        self.num_quantizers = num_quantizers
        self.stream = StreamingEncoder(codec.encoder)
        self.precision = precision or contextlib.nullcontext()
        self.device = _device(codec)

    @torch.no_grad()
    def push(self, chunk, last=False):
        """Adds samples [B, n]; returns tokens of completed frames (with
        ``last``, also of the zero-padded unfinished one: the stream ends)."""
        with self.precision:
            chunk = check_waveform(chunk).to(self.device)
            latents = self.stream.push(chunk, last=last)
            return self.codec.tokens(latents, self.num_quantizers)

    @torch.no_grad()
    def flush(self):
        """Tokens of the last, zero-padded frame (if samples are left)."""
        with self.precision:
            return self.codec.tokens(self.stream.flush(), self.num_quantizers)


class TokenStreamDecoder:
    """Chunks of tokens [B, t, K] in, finished samples [B, n] out (on the
    codec's device).

    Arguments
    ---------
    codec : RecurrentCodec
        The codec.
    precision : contextlib.AbstractContextManager, optional
        Context each chunk runs in (e.g. an autocast; default: none).
    """

    def __init__(self, codec, precision=None):
        self.quantizer = unwrap(codec.quantizer)
        self.stream = StreamingDecoder(codec.decoder)
        self.precision = precision or contextlib.nullcontext()
        self.device = _device(codec)

    @property
    def started(self):
        """Whether frames were pushed since the start or the last flush."""
        return self.stream.state is not None

    @torch.no_grad()
    def push(self, tokens):
        """Decodes tokens [B, t, K]; returns finished samples [B, n]."""
        with self.precision:
            return self.stream.push(self.quantizer.decode(tokens.to(self.device)))

    @torch.no_grad()
    def push_latents(self, latents):
        """Decodes latents [B, t, D] that stand in for decoded tokens (the
        concealment's, for lost frames); returns finished samples [B, n]."""
        with self.precision:
            return self.stream.push(latents.to(self.device))

    @torch.no_grad()
    def flush(self):
        """The samples still held in the overlap-add tail."""
        return self.stream.flush()
