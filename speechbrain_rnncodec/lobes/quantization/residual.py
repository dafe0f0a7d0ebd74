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

    Example
    -------
    >>> rvq = ResidualVectorQuantizer(dim=8, num_quantizers=4, codebook_size=16)
    >>> _ = rvq.eval()
    >>> out = rvq(torch.randn(2, 5, 8), num_quantizers=2)
    >>> out.quantized.shape, out.codes.shape
    (torch.Size([2, 5, 8]), torch.Size([2, 5, 2]))
    >>> rvq.num_quantizers_for(0.8)
    4
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
    ):
        super().__init__()
        self.num_quantizers = num_quantizers
        self.codebook_size = codebook_size
        self.frame_rate = frame_rate
        self.train_num_quantizers = self.check_counts(train_num_quantizers)
        self.stages = torch.nn.ModuleList(
            EMAVectorQuantizer(dim, codebook_size, decay, kmeans_iters, dead_code_steps)
            for _ in range(num_quantizers)
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
            flat = residual.reshape(-1, residual.shape[-1])
            # The frames that update the codebook (training only: their
            # number depends on the data).
            used = flat[active.reshape(-1)] if self.training else flat[:0]
            if self.training and not stage.initialized and len(used):
                stage.initialize(used)
            stage_codes = stage.encode(flat).reshape(batch, steps)
            if len(used):
                restarted = stage.update(used, stage_codes[active])
                stats[f"restarted_codes_{k + 1}"] = float(restarted)
                stats[f"perplexity_{k + 1}"] = perplexity(
                    stage_codes[active], stage.codebook_size
                )
            q = stage.decode(stage_codes) * active[..., None]
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
        stages = self.stages[: codes.shape[-1]]
        return torch.stack(
            [stage.decode(codes[..., k]) for k, stage in enumerate(stages)], dim=2
        )

    def summary(self):
        """One line for model cards."""
        return (
            f"residual VQ, {self.num_quantizers} codebooks x {self.codebook_size} "
            f"codes ({self.bits_per_code:g} bits each), quantizer dropout"
        )
