"""Residual vector quantization with EMA codebooks and quantizer dropout.

Each stage quantizes the residual left by the stages before it with an
:class:`~speechbrain_rnncodec.lobes.quantization.ema.EMAVectorQuantizer`.
Quantizer dropout trains every prefix of stages that serves a bitrate, so
one model encodes at several bitrates, chosen at inference.

Authors
 * speechbrain_rnncodec team 2026
"""

import torch

from speechbrain_rnncodec.lobes.quantization.base import (
    NestedRates,
    QuantizerOutput,
    float32_region,
    perplexity,
)
from speechbrain_rnncodec.lobes.quantization.ema import EMAVectorQuantizer


class ResidualVectorQuantizer(NestedRates, torch.nn.Module):
    """Residual VQ with EMA codebooks and quantizer dropout.

    Arguments
    ---------
    dim : int
        Size of the latent frames.
    num_quantizers : int
        Number of stages (the highest bitrate).
    codebook_size : int
        Codes per stage.
    frame_rate : float
        Latent frames per second, for bitrate arithmetic.
    train_num_quantizers : list of int, optional
        Stage counts drawn (uniformly, per utterance) in training: the
        bitrates the model must serve. Default: always all stages.
    decay : float
        EMA decay.
    kmeans_iters : int
        k-means iterations for the initialisation.
    dead_code_steps : int
        Restart codes unused for this many steps.
    last_column_codes : dict, optional
        ``{K: n}``: with K stages, the last one codes with a codebook of its
        own of n codes (log2(n) bits): a rate between K - 1 and K full
        stages. It learns from the utterances that stop at K stages, the
        full codebook of that stage from the others.

    Example
    -------
    >>> rvq = ResidualVectorQuantizer(dim=8, num_quantizers=4, codebook_size=16)
    >>> _ = rvq.eval()
    >>> out = rvq(torch.randn(2, 5, 8), num_quantizers=2)
    >>> out.quantized.shape, out.codes.shape
    (torch.Size([2, 5, 8]), torch.Size([2, 5, 2]))
    >>> rvq.num_quantizers_for(0.8)
    4
    >>> narrow = ResidualVectorQuantizer(dim=8, num_quantizers=4, codebook_size=16,
    ...                                  last_column_codes={3: 4}).eval()
    >>> narrow.bitrate(3), narrow.narrow_stage(3).codebook.shape
    (0.5, torch.Size([4, 8]))
    """

    def __init__(
        self,
        dim=128,
        num_quantizers=12,
        codebook_size=1024,
        frame_rate=50.0,
        train_num_quantizers=None,
        decay=0.99,
        kmeans_iters=10,
        dead_code_steps=20,
        last_column_codes=None,
    ):
        super().__init__()
        self.num_quantizers = num_quantizers
        self.codebook_size = codebook_size
        self.frame_rate = frame_rate
        self.train_num_quantizers = self.check_counts(train_num_quantizers)
        self.last_column_codes = self.check_last_column_codes(last_column_codes)
        self.stages = torch.nn.ModuleList(
            EMAVectorQuantizer(dim, codebook_size, decay, kmeans_iters, dead_code_steps)
            for _ in range(num_quantizers)
        )
        # The narrowed last stages, by stage count.
        self.narrow_stages = torch.nn.ModuleDict(
            {
                str(count): EMAVectorQuantizer(
                    dim, codes, decay, kmeans_iters, dead_code_steps
                )
                for count, codes in self.last_column_codes.items()
            }
        )

    def forward(self, x, num_quantizers=None, mask=None):
        """Quantizes ``x`` [B, T, D].

        In training, each utterance uses a number of stages drawn from
        ``train_num_quantizers`` (quantizer dropout), codebooks are updated
        and the commitment loss is computed; ``num_quantizers`` is then
        ignored. In eval, ``num_quantizers`` stages are used (default all).

        Arguments
        ---------
        x : torch.Tensor
            Latent frames [B, T, D].
        num_quantizers : int, optional
            Stages to use at inference.
        mask : torch.Tensor, optional
            Bool [B, T], False on padding frames (excluded from updates and
            from the loss).

        Returns
        -------
        QuantizerOutput
            ``quantized`` [B, T, D] (straight-through gradient), ``codes``
            [B, T, K] int64, ``loss`` (the commitment loss) and ``stats``
            (perplexity and restarted dead codes per stage, in training).
        """
        # Nearest-code search and EMA statistics need float32 precision,
        # also under mixed-precision autocast (where the device has one).
        with float32_region(x.device):
            per_utt, n_stages = self.stage_counts(x.shape[0], num_quantizers, x.device)
            return self._quantize(x.float(), per_utt, n_stages, mask)

    def _quantize(self, x, per_utt, n_stages, mask):
        """Body of :meth:`forward`, in float32: ``per_utt`` [B] stages per
        utterance, ``n_stages`` their maximum, ``mask`` [B, T] valid frames
        (None: all)."""
        batch, steps, _ = x.shape
        if mask is None:
            mask = torch.ones(batch, steps, dtype=torch.bool, device=x.device)

        residual = x.detach()
        quantized = torch.zeros_like(residual)
        codes, stats = [], {}
        for k, stage in enumerate(self.stages[:n_stages]):
            active = (per_utt > k)[:, None] & mask
            narrow = self.narrow_stage(k + 1)
            if narrow is not None and not self.training:  # one count for all
                stage = narrow if n_stages == k + 1 else stage
                narrow = None
            if narrow is None:
                stage_codes = self._codes(stage, residual, active, stats, k + 1)
                q = stage.decode(stage_codes)
            else:  # utterances that stop here take the narrow codebook
                last = (per_utt == k + 1)[:, None]
                full = self._codes(stage, residual, active & ~last, stats, k + 1)
                name = f"{k + 1}_narrow"
                coarse = self._codes(narrow, residual, active & last, stats, name)
                stage_codes = torch.where(last, coarse, full)
                q = torch.where(
                    last[..., None], narrow.decode(coarse), stage.decode(full)
                )
            q = q * active[..., None]
            quantized = quantized + q
            residual = residual - q
            codes.append(stage_codes)

        # The commitment loss pulls the encoder towards its codes; the
        # straight-through estimator passes the decoder's gradient to it.
        weight = mask[..., None].type(x.dtype)
        err = ((x - quantized) ** 2 * weight).sum()
        commitment = err / (weight.sum() * x.shape[-1]).clamp(min=1)
        if x.requires_grad:  # also a frozen quantizer under a training encoder
            quantized = x + (quantized - x).detach()
        return QuantizerOutput(quantized, torch.stack(codes, dim=-1), commitment, stats)

    def narrow_stage(self, num_stages):
        """The narrow codebook that ends a frame of ``num_stages`` stages,
        or None (``last_column_codes``)."""
        key = str(num_stages)
        return self.narrow_stages[key] if key in self.narrow_stages else None

    def _codes(self, stage, residual, used, stats, name):
        """Codes [B, T] of the residual [B, T, D] in one codebook; while
        the codebook trains, the frames ``used`` [B, T] initialise and
        update it, and its perplexity and restarted codes go to ``stats``."""
        batch, steps, dim = residual.shape
        flat = residual.reshape(-1, dim)
        # The frames that update the codebook (training only: their
        # number depends on the data; a codebook in eval mode stays).
        frames = flat[used.reshape(-1)] if stage.training else flat[:0]
        if stage.training and not stage.initialized and len(frames):
            stage.initialize(frames)
        codes = stage.encode(flat).reshape(batch, steps)
        if len(frames):
            restarted = stage.update(frames, codes[used])
            stats[f"restarted_codes_{name}"] = float(restarted)
            stats[f"perplexity_{name}"] = perplexity(codes[used], stage.codebook_size)
        return codes

    def decode(self, codes):
        """Sums the code vectors of ``codes`` [B, T, K] (K <= stages).

        Arguments
        ---------
        codes : torch.Tensor
            Integer codes [B, T, K].

        Returns
        -------
        torch.Tensor
            Quantized latents [B, T, D].
        """
        if codes.shape[-1] > self.num_quantizers:
            raise ValueError(
                f"{codes.shape[-1]} codebooks given, the model has "
                f"{self.num_quantizers}"
            )
        self.check_code_range(codes)
        return self.code_values(codes).sum(dim=2)

    def code_values(self, codes):
        """The code vector of each code, [B, T, K, D], of codes [B, T, K]."""
        stages = list(self.stages[: codes.shape[-1]])
        if self.narrow_stage(len(stages)) is not None:
            stages[-1] = self.narrow_stage(len(stages))
        return torch.stack(
            [stage.decode(codes[..., k]) for k, stage in enumerate(stages)], dim=2
        )

    def summary(self):
        """One line for model cards."""
        return (
            f"residual VQ, {self.num_quantizers} codebooks x {self.codebook_size} "
            f"codes ({self.bits_per_code:g} bits each), quantizer dropout"
        )
