"""Chunk-by-chunk encoding and decoding with carried state.

:class:`StreamingEncoder` accepts chunks of any number of samples and emits
a latent frame whenever a whole frame of input has arrived;
:class:`StreamingDecoder` emits finished samples for every latent frame.
Whole signals go through the same objects (:func:`encode_latents`,
:func:`decode_latents`), so streaming and whole-file results agree.

Algorithmic latency (the longest wait of an input sample before the output
sample at the same position can be played, ignoring compute) is one latent
frame plus the synthesis overlap: see :func:`algorithmic_latency_ms`.

Authors
 * speechbrain_rnncodec team 2026
"""

import torch


class StreamingEncoder:
    """Encodes a waveform stream chunk by chunk.

    Arguments
    ---------
    encoder : RNNEncoder
        The encoder lobe (or its DDP wrapper).
    gradients : bool
        Keeps the autograd graph (whole-signal training); a stream runs
        without gradients by default, so a long one holds no graph.

    Example
    -------
    >>> from speechbrain_rnncodec.lobes.encoder import RNNEncoder
    >>> stream = StreamingEncoder(RNNEncoder(hidden_size=16, latent_dim=4))
    >>> stream.push(torch.randn(1, 500)).shape  # one whole frame so far
    torch.Size([1, 1, 4])
    >>> stream.flush().shape  # the last 180 samples, zero-padded
    torch.Size([1, 1, 4])
    """

    def __init__(self, encoder, gradients=False):
        self.encoder = encoder
        self.gradients = gradients
        self.frame = unwrap(encoder).samples_per_frame
        self.dim = unwrap(encoder).output_dim
        self.pending = None
        self.state = None

    def push(self, chunk, last=False):
        """Adds samples [B, n]; returns latents of completed frames [B, t, D].

        Arguments
        ---------
        chunk : torch.Tensor
            Next samples of each stream [B, n], any n >= 0.
        last : bool
            The stream ends with this chunk: the samples of an unfinished
            frame are zero-padded and encoded in the same pass (as a push
            then a :meth:`flush` would, with one call of the encoder).

        Returns
        -------
        torch.Tensor
            Latent frames (t may be 0).
        """
        if self.pending is not None:
            chunk = torch.cat([self.pending, chunk], dim=1)
        usable = chunk.shape[1] // self.frame * self.frame
        if last and usable < chunk.shape[1]:
            usable += self.frame
            chunk = torch.nn.functional.pad(chunk, (0, usable - chunk.shape[1]))
        self.pending = None if last else chunk[:, usable:]
        if usable == 0:
            return chunk.new_zeros(chunk.shape[0], 0, self.dim)
        with torch.set_grad_enabled(self.gradients and torch.is_grad_enabled()):
            latents, self.state = self.encoder(chunk[:, :usable], self.state)
        return latents

    def flush(self):
        """Encodes the samples left, zero-padded to a whole frame.

        Returns
        -------
        torch.Tensor
            Zero or one latent frame [B, t, D].
        """
        if self.pending is None:
            device = next(self.encoder.parameters()).device
            return torch.zeros(0, 0, self.dim, device=device)
        return self.push(self.pending[:, :0], last=True)


class StreamingDecoder:
    """Decodes latent frames chunk by chunk into finished samples.

    Arguments
    ---------
    decoder : RNNDecoder
        The decoder lobe (or its DDP wrapper).
    gradients : bool
        Keeps the autograd graph (whole-signal training); a stream runs
        without gradients by default, so a long one holds no graph.

    Example
    -------
    >>> from speechbrain_rnncodec.lobes.decoder import RNNDecoder
    >>> stream = StreamingDecoder(RNNDecoder(latent_dim=4, hidden_size=16))
    >>> stream.push(torch.randn(1, 3, 4)).shape
    torch.Size([1, 720])
    >>> stream.flush().shape
    torch.Size([1, 240])
    """

    def __init__(self, decoder, gradients=False):
        self.decoder = decoder
        self.gradients = gradients
        self.state = None
        self.batch, self.device = 0, None

    def push(self, latents, **kwargs):
        """Decodes latent frames [B, t, D]; returns finished samples [B, n].

        Arguments
        ---------
        latents : torch.Tensor
            Next latent frames.
        **kwargs
            Passed to the decoder (``teacher_pitch`` of the source-filter
            one).

        Returns
        -------
        torch.Tensor
            Finished samples.
        """
        self.batch, self.device = latents.shape[0], latents.device
        if latents.shape[1] == 0:
            return latents.new_zeros(latents.shape[0], 0)
        with torch.set_grad_enabled(self.gradients and torch.is_grad_enabled()):
            wav, self.state = self.decoder(latents, self.state, **kwargs)
        return wav

    def flush(self):
        """Returns the samples still held in the overlap-add tail [B, n]."""
        if self.state is None:
            return torch.zeros(self.batch, 0, device=self.device)
        wav = unwrap(self.decoder).flush(self.state)
        self.state = None
        return wav


def unwrap(module):
    """The module inside a ``DistributedDataParallel`` wrapper (or itself):
    its attributes and methods other than ``forward``."""
    return getattr(module, "module", module)


def encode_latents(encoder, wav):
    """Latent frames [B, ceil(T / frame), D] of whole waveforms [B, T].

    Arguments
    ---------
    encoder : RNNEncoder
        The encoder lobe (or its DDP wrapper, called for the gradients).
    wav : torch.Tensor
        Waveforms [B, T]; the last frame is zero-padded.

    Returns
    -------
    torch.Tensor
        Latent frames, those of streaming the waveforms.
    """
    return StreamingEncoder(encoder, gradients=True).push(wav, last=True)


def decode_latents(decoder, latents):
    """Waveforms [B, T' * frame] of whole latent sequences [B, T', D].

    Arguments
    ---------
    decoder : RNNDecoder
        The decoder lobe.
    latents : torch.Tensor
        Latent frames.

    Returns
    -------
    torch.Tensor
        Waveforms, ``samples_per_frame`` samples per latent frame.
    """
    return decode_whole(decoder, latents)[0]


def decode_whole(decoder, latents, **kwargs):
    """Waveforms of whole latent sequences and the decoder's last state.

    Arguments
    ---------
    decoder : RNNDecoder or SourceFilterDecoder
        The decoder lobe (or its DDP wrapper, called for the gradients).
    latents : torch.Tensor
        Latent frames [B, T', D].
    **kwargs
        Passed to the decoder (``teacher_pitch`` of the source-filter one).

    Returns
    -------
    wav : torch.Tensor
        Waveforms [B, T' * frame] (the overlap-add tail flushed).
    state : object
        The decoder's state after the last frame (its predicted pitch, for a
        source-filter decoder).
    """
    stream = StreamingDecoder(decoder, gradients=True)
    wav = stream.push(latents, **kwargs)
    state = stream.state
    return torch.cat([wav, stream.flush()], dim=1), state


def algorithmic_latency_ms(encoder, decoder, sample_rate=16000):
    """Worst-case algorithmic latency in milliseconds.

    An input sample waits at most one latent frame for its frame to be
    complete; its output sample is finished only after the synthesis
    windows overlapping it, ``decoder.delay_samples`` later.

    Arguments
    ---------
    encoder : RNNEncoder
        The encoder lobe.
    decoder : RNNDecoder
        The decoder lobe.
    sample_rate : int
        Sampling rate in Hz.

    Returns
    -------
    float
        Latency in ms.

    Example
    -------
    >>> from speechbrain_rnncodec.lobes.encoder import RNNEncoder
    >>> from speechbrain_rnncodec.lobes.decoder import RNNDecoder
    >>> algorithmic_latency_ms(RNNEncoder(), RNNDecoder())
    35.0
    """
    samples = encoder.samples_per_frame + decoder.delay_samples
    return 1000.0 * samples / sample_rate
