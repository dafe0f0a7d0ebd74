"""A pretrained codec as the feature extractor of a SpeechBrain recipe.

Authors
 * speechbrain_rnncodec team 2026
"""

import torch

from speechbrain_rnncodec.inference.pretrained import RNNCodec
from speechbrain_rnncodec.lobes.streaming import encode_latents

OUTPUTS = ("tokens", "embeddings", "latents")
POOLINGS = ("sum", "concat", "attention")


class AttentionPooling(torch.nn.Module):
    """Weighted sum over codebooks with weights from a small MLP, as DASB
    pools the embeddings of several codebooks.

    Arguments
    ---------
    dim : int
        Embedding size D.
    hidden : int
        Hidden units of the scoring MLP.

    Example
    -------
    >>> pool = AttentionPooling(8)
    >>> pool(torch.randn(2, 5, 3, 8)).shape
    torch.Size([2, 5, 8])
    """

    def __init__(self, dim, hidden=64):
        super().__init__()
        self.score = torch.nn.Sequential(
            torch.nn.Linear(dim, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)
        )

    def forward(self, embeddings):
        """Pools [B, T, K, D] to [B, T, D]."""
        weights = torch.softmax(self.score(embeddings), dim=2)
        return (weights * embeddings).sum(dim=2)


def pool_codebooks(embeddings, pooling, attention=None):
    """Pools per-codebook embeddings [B, T, K, D] as ``pooling`` says:
    ``"sum"`` [B, T, D], ``"concat"`` [B, T, K * D] or ``"attention"``
    (with the given :class:`AttentionPooling`) [B, T, D]."""
    if pooling == "sum":
        return embeddings.sum(dim=2)
    if pooling == "concat":
        return embeddings.flatten(start_dim=2)
    return attention(embeddings)


class CodecFrontEnd(torch.nn.Module):
    """Features of a pretrained RNN codec for downstream models.

    The codec (encoder and quantizer) is frozen and kept in eval mode by
    default: no gradient flows into it and its codebooks never update.
    The encoder is causal, so the features of an utterance do not depend
    on the padding of its batch; the relative lengths of the waveforms
    are the relative lengths of the features.

    Arguments
    ---------
    source : str, optional
        A hub folder or repo id for ``RNNCodec.from_hparams`` (default: the
        model shipped in the package).
    output : str
        ``"tokens"`` (int64 [B, T', K]), ``"embeddings"`` (the codebook
        vectors of the tokens, pooled over codebooks) or ``"latents"``
        (the continuous encoder output before quantization, [B, T', D]).
    bitrate : float, optional
        kbps, which sets the codebooks K (default: the highest).
    pooling : str
        For embeddings: ``"sum"`` (the quantized latent the decoder sees,
        [B, T', D]), ``"concat"`` ([B, T', K * D]) or ``"attention"`` (a
        trainable weighted sum, [B, T', D]).
    freeze : bool
        False lets gradients reach the encoder (``"latents"`` only).
    savedir : str, optional
        Where ``from_hparams`` stores fetched files.

    Example
    -------
    >>> frontend = CodecFrontEnd(output="embeddings", bitrate=1.5)
    >>> feats = frontend(torch.randn(2, 16000), torch.tensor([1.0, 0.5]))
    >>> feats.shape, frontend.output_size  # 128-d VQ latent, sent F0, voicing, glide
    (torch.Size([2, 50, 131]), 131)
    """

    def __init__(
        self,
        source=None,
        output="embeddings",
        bitrate=None,
        pooling="sum",
        freeze=True,
        savedir=None,
    ):
        super().__init__()

        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, not {output!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, not {pooling!r}")
        if not freeze and output != "latents":
            raise ValueError("only the latents can be fine-tuned (freeze=False)")
        codec = RNNCodec.from_hparams(source=source, savedir=savedir)
        self.encoder = codec.mods.encoder
        self.quantizer = codec.mods.quantizer
        self.sample_rate = codec.sample_rate
        self.num_codebooks = codec.num_quantizers_for(bitrate)
        self.output, self.pooling, self.freeze = output, pooling, freeze
        # The value of one code: a D-d vector for the RVQ, fewer for others.
        code = torch.zeros(1, 1, 1, dtype=torch.long)
        dim = self.quantizer.code_values(code).shape[-1]
        self.attention = AttentionPooling(dim) if pooling == "attention" else None
        if output == "tokens":
            self.output_size = self.num_codebooks
        elif output == "latents":
            self.output_size = self.encoder.output_dim
        elif pooling == "concat":
            self.output_size = self.num_codebooks * dim
        else:
            self.output_size = dim
        self.encoder.requires_grad_(not freeze)
        self.quantizer.requires_grad_(False)
        self.train(False)

    def train(self, mode=True):
        """Sets the mode; a frozen codec and the quantizer stay in eval."""
        super().train(mode)
        self.quantizer.train(False)
        if self.freeze:
            self.encoder.train(False)
        return self

    def forward(self, wavs, wav_lens=None):
        """Features of waveforms [B, T] (relative lengths unchanged).

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms [B, T] at :attr:`sample_rate`.
        wav_lens : torch.Tensor, optional
            Relative lengths [B] (accepted for the usual signature; causal
            encoding makes them unnecessary).

        Returns
        -------
        torch.Tensor
            [B, ceil(T / 320), output_size] features, or tokens.
        """
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze):
            latents = encode_latents(self.encoder, wavs.float())
        if self.output == "latents":
            return latents
        with torch.no_grad():
            tokens = self.quantizer(latents, self.num_codebooks).codes
        if self.output == "tokens":
            return tokens
        embeddings = self.quantizer.code_values(tokens)
        return pool_codebooks(embeddings, self.pooling, self.attention)


class TokenEmbedding(torch.nn.Module):
    """Trainable embeddings of precomputed codec tokens, one table per
    codebook, pooled over codebooks (DASB's discrete embedding layer).

    Arguments
    ---------
    num_codebooks : int
        Codebooks K of the tokens.
    codebook_size : int
        Codes per codebook C.
    dim : int, optional
        Embedding size D (default: with ``init_from_codec``, the size of the
        codec's code values, else 128).
    pooling : str
        ``"sum"``, ``"concat"`` or ``"attention"``.
    init_from_codec : bool
        Starts from the codec's codebook vectors (then ``dim`` must be the
        size of its code values).
    source : str, optional
        The codec for ``init_from_codec`` (default: the shipped model).
    freeze : bool
        Keeps the embeddings fixed.

    Example
    -------
    >>> emb = TokenEmbedding(num_codebooks=3, init_from_codec=True)
    >>> emb(torch.randint(0, 1024, (2, 7, 3))).shape  # the sent pitch: 128 + 3
    torch.Size([2, 7, 131])
    """

    def __init__(
        self,
        num_codebooks,
        codebook_size=1024,
        dim=None,
        pooling="attention",
        init_from_codec=False,
        source=None,
        freeze=False,
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, not {pooling!r}")
        self.num_codebooks, self.codebook_size = num_codebooks, codebook_size
        if init_from_codec:
            codec = RNNCodec.from_hparams(source=source)
            vectors = codec.get_pretrained_embeddings(num_codebooks=num_codebooks)
            dim = dim or vectors.shape[1]
        dim = dim or 128
        self.embedding = torch.nn.Embedding(num_codebooks * codebook_size, dim)
        if init_from_codec:
            if vectors.shape != self.embedding.weight.shape:
                raise ValueError(
                    f"the codec's codebooks are {list(vectors.shape)}, not "
                    f"{list(self.embedding.weight.shape)}"
                )
            self.embedding.weight.data.copy_(vectors)
        self.embedding.requires_grad_(not freeze)
        self.pooling = pooling
        self.attention = AttentionPooling(dim) if pooling == "attention" else None
        self.output_size = num_codebooks * dim if pooling == "concat" else dim
        offsets = torch.arange(num_codebooks) * codebook_size
        self.register_buffer("offsets", offsets, persistent=False)

    def forward(self, tokens, lengths=None):
        """Pooled embeddings of tokens [B, T, K'] (K' >= K; the first K
        codebooks are used); lengths are accepted and unchanged."""
        if tokens.shape[-1] < self.num_codebooks:
            raise ValueError(
                f"tokens have {tokens.shape[-1]} codebooks, {self.num_codebooks} needed"
            )
        tokens = tokens[..., : self.num_codebooks].long()
        embeddings = self.embedding(tokens + self.offsets)
        return pool_codebooks(embeddings, self.pooling, self.attention)


class SpectralFrontEnd(torch.nn.Module):
    """Log mel filterbanks or MFCCs (with deltas) of SpeechBrain, normalized
    per utterance and stacked to a lower frame rate: the classical baseline
    next to codec features.

    Arguments
    ---------
    features : str
        ``"fbank"`` or ``"mfcc"``.
    n_mels : int
        Mel bands (of the filterbank, or under the MFCCs).
    n_mfcc : int
        Cepstral coefficients (``"mfcc"``; with deltas and delta-deltas).
    stack_frames : int
        Consecutive 10 ms frames stacked into one (2: 50 Hz, the codec's
        token rate).
    sample_rate : int
        Sampling rate of the waveforms.

    Example
    -------
    >>> SpectralFrontEnd("fbank", n_mels=40)(torch.randn(2, 16000)).shape
    torch.Size([2, 51, 80])
    >>> SpectralFrontEnd("mfcc", n_mfcc=20).output_size
    120
    """

    def __init__(
        self, features="fbank", n_mels=40, n_mfcc=20, stack_frames=2, sample_rate=16000
    ):
        super().__init__()
        from speechbrain.lobes.features import MFCC, Fbank
        from speechbrain.processing.features import InputNormalization

        if features == "fbank":
            self.compute = Fbank(n_mels=n_mels, sample_rate=sample_rate)
            size = n_mels
        elif features == "mfcc":
            self.compute = MFCC(
                n_mels=n_mels, n_mfcc=n_mfcc, context=False, sample_rate=sample_rate
            )
            size = 3 * n_mfcc
        else:
            raise ValueError(f"features must be 'fbank' or 'mfcc', not {features!r}")
        self.normalize = InputNormalization(norm_type="sentence")
        self.stack_frames = stack_frames
        self.output_size = size * stack_frames

    def forward(self, wavs, lengths=None):
        """Features [B, ceil(frames / stack), output_size] of [B, T]."""
        if lengths is None:
            lengths = torch.ones(wavs.shape[0], device=wavs.device)
        feats = self.normalize(self.compute(wavs), lengths)
        pad = -feats.shape[1] % self.stack_frames
        feats = torch.nn.functional.pad(feats, (0, 0, 0, pad))
        return feats.reshape(feats.shape[0], -1, self.output_size)
