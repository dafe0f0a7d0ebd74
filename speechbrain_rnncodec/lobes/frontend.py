"""A pretrained codec as the feature extractor of a SpeechBrain recipe.

Authors
 * speechbrain_rnncodec team 2026
"""

import torch

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
    >>> feats.shape, frontend.output_size
    (torch.Size([2, 50, 128]), 128)
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
        from speechbrain_rnncodec.inference import RNNCodec

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
        dim = self.encoder.output_proj.out_features
        self.attention = AttentionPooling(dim) if pooling == "attention" else None
        if output == "tokens":
            self.output_size = self.num_codebooks
        elif output == "embeddings" and pooling == "concat":
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
        stages = self.quantizer.stages[: self.num_codebooks]
        embeddings = torch.stack(
            [stage.decode(tokens[..., k]) for k, stage in enumerate(stages)], dim=2
        )
        if self.pooling == "sum":
            return embeddings.sum(dim=2)
        if self.pooling == "concat":
            return embeddings.flatten(start_dim=2)
        return self.attention(embeddings)
