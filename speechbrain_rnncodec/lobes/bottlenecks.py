"""Bottlenecks beside the residual VQ: scalar quantization (the plain
recurrent autoencoder), one shared codebook (VQ-VAE) and a Gaussian VAE
whose rate is a learned entropy model's.

They keep the quantizer interface the codec, its Brain and the bitstream
use: ``forward(x, num_quantizers, mask)`` returns a
:class:`~speechbrain_rnncodec.lobes.quantizers.QuantizerOutput` with integer
codes [B, T, K], ``decode(codes)`` inverts it, ``bitrate(K)`` and
``num_quantizers_for(kbps)`` map code columns to kbps. As with the RVQ's
quantizer dropout, the bitrate is the number of code columns a frame
carries: training zeroes the trailing columns of each utterance, drawn from
``train_num_quantizers`` (nested dropout), so one model serves every
trained bitrate and low rates keep the most important columns.

Authors
 * speechbrain_rnncodec team 2026
"""

import math

import torch

from speechbrain_rnncodec.lobes.quantizers import (
    EMAVectorQuantizer,
    NestedRates,
    QuantizerOutput,
)
from speechbrain_rnncodec.utils.distributed import all_reduce

# The least probability of a symbol, that of the coder's Gaussian prior
# (entropy.gaussian.FLOOR; tests check they agree).
FLOOR = 1e-7


class NestedBottleneck(NestedRates, torch.nn.Module):
    """Projects latents to ``num_quantizers`` groups of ``group_dim``
    values, quantizes each group to one code, and projects back.

    Subclasses implement :meth:`quantize_groups`, :meth:`code_values` and
    ``summary``.

    Arguments
    ---------
    dim : int
        Size of the encoder's latent frames.
    num_quantizers : int
        Groups (code columns) per frame at the highest bitrate.
    group_dim : int
        Values per group.
    codebook_size : int
        Codes per column.
    frame_rate : float
        Latent frames per second.
    train_num_quantizers : list of int, optional
        Column counts drawn per utterance in training (default: all).
    """

    def __init__(
        self,
        dim,
        num_quantizers,
        group_dim,
        codebook_size,
        frame_rate=50.0,
        train_num_quantizers=None,
    ):
        super().__init__()
        self.num_quantizers = num_quantizers
        self.group_dim = group_dim
        self.codebook_size = codebook_size
        self.frame_rate = frame_rate
        self.train_num_quantizers = self.check_counts(train_num_quantizers)
        self.project_in = torch.nn.Linear(dim, num_quantizers * group_dim)
        self.project_out = torch.nn.Linear(num_quantizers * group_dim, dim)

    def forward(self, x, num_quantizers=None, mask=None):
        """Quantizes latents ``x`` [B, T, D].

        Arguments
        ---------
        x : torch.Tensor
            Latent frames [B, T, D].
        num_quantizers : int, optional
            Code columns at inference (default all); drawn per utterance
            from ``train_num_quantizers`` in training.
        mask : torch.Tensor, optional
            Bool [B, T], False on padding frames.

        Returns
        -------
        QuantizerOutput
            ``quantized`` [B, T, D], ``codes`` [B, T, K], ``loss``, ``stats``.
        """
        with torch.autocast(x.device.type, enabled=False):
            x = x.float()
            batch, steps, _ = x.shape
            if mask is None:
                mask = torch.ones(batch, steps, dtype=torch.bool, device=x.device)
            per_utt, most = self.stage_counts(batch, num_quantizers, x.device)
            columns = torch.arange(self.num_quantizers, device=x.device)
            active = columns[None, :] < per_utt[:, None]  # [B, G]
            groups = self.project_in(x).view(
                batch, steps, self.num_quantizers, self.group_dim
            )
            values, codes, loss, stats = self.quantize_groups(
                groups, active[:, None, :] & mask[..., None], per_utt
            )
            values = values * active[:, None, :, None]
            quantized = self.project_out(values.flatten(2))
            return QuantizerOutput(quantized, codes[..., :most], loss, stats)

    def decode(self, codes):
        """Latents [B, T, D] of codes [B, T, K] (K <= ``num_quantizers``;
        the missing columns are zero, as in training).

        Arguments
        ---------
        codes : torch.Tensor
            Integer codes [B, T, K].

        Returns
        -------
        torch.Tensor
            Latents for the decoder.
        """
        given = codes.shape[-1]
        if given > self.num_quantizers:
            raise ValueError(
                f"{given} code columns given, the model has {self.num_quantizers}"
            )
        if codes.numel() and (codes.min() < 0 or codes.max() >= self.codebook_size):
            raise ValueError(f"codes must lie in [0, {self.codebook_size})")
        values = self.code_values(codes)
        missing = self.num_quantizers - given
        values = torch.nn.functional.pad(values, (0, 0, 0, missing))
        return self.project_out(values.flatten(2))

    def quantize_groups(self, groups, used, per_utt):
        """Quantizes ``groups`` [B, T, G, d].

        Arguments
        ---------
        groups : torch.Tensor
            Projected latents [B, T, G, d].
        used : torch.Tensor
            Bool [B, T, G]: the columns each frame carries (not padding).
        per_utt : torch.Tensor
            Columns per utterance [B].

        Returns
        -------
        values : torch.Tensor
            Quantized groups [B, T, G, d] (gradient passes in training).
        codes : torch.Tensor
            Integer codes [B, T, G].
        loss : torch.Tensor
            Scalar loss term of the bottleneck.
        stats : dict
            Scalars to log.
        """
        raise NotImplementedError

    def code_values(self, codes):
        """Quantized groups [B, T, K, d] of codes [B, T, K]."""
        raise NotImplementedError


def _masked_mean(values, used):
    """Mean of ``values`` [B, T, G, d] over the ``used`` [B, T, G] columns."""
    weight = used.reshape(used.shape + (1,) * (values.dim() - used.dim()))
    count = (weight.sum() * values.shape[-1]).clamp(min=1)
    return (values * weight).sum() / count


class ScalarQuantizer(NestedBottleneck):
    """The plain autoencoder's bitrate: each latent channel is bounded by
    tanh and rounded to one of ``levels`` values (finite scalar
    quantization, straight-through gradient).

    Arguments
    ---------
    dim : int
        Size of the encoder's latent frames.
    num_quantizers : int
        Channels at the highest bitrate.
    levels : int
        Values per channel; a channel costs log2(levels) bits.
    frame_rate : float
        Latent frames per second.
    train_num_quantizers : list of int, optional
        Channel counts served (nested dropout in training).

    Example
    -------
    >>> sq = ScalarQuantizer(dim=8, num_quantizers=4, levels=8,
    ...                      train_num_quantizers=[2, 4]).eval()
    >>> out = sq(torch.randn(2, 5, 8), num_quantizers=2)
    >>> out.codes.shape, sq.bitrate(2)
    (torch.Size([2, 5, 2]), 0.3)
    >>> torch.allclose(sq.decode(out.codes), out.quantized)
    True
    """

    def __init__(
        self,
        dim=128,
        num_quantizers=40,
        levels=8,
        frame_rate=50.0,
        train_num_quantizers=None,
    ):
        super().__init__(
            dim, num_quantizers, 1, levels, frame_rate, train_num_quantizers
        )

    def quantize_groups(self, groups, used, per_utt):
        """Rounds tanh-bounded channels to the level grid (see base)."""
        bounded = torch.tanh(groups)
        half = (self.codebook_size - 1) / 2
        codes = ((bounded + 1) * half).round().clamp(0, self.codebook_size - 1)
        values = bounded + (codes / half - 1 - bounded).detach()
        return values, codes.long()[..., 0], bounded.new_zeros(()), {}

    def code_values(self, codes):
        """Level values in [-1, 1] of codes [B, T, K] (see base)."""
        half = (self.codebook_size - 1) / 2
        return (codes.float() / half - 1)[..., None]

    def summary(self):
        """One line for model cards."""
        return (
            f"scalar quantization, {self.num_quantizers} tanh-bounded channels x "
            f"{self.codebook_size} levels ({self.bits_per_code:g} bits each), "
            "nested channel dropout"
        )


class GroupVectorQuantizer(NestedBottleneck):
    """VQ-VAE: one EMA codebook shared by the ``num_quantizers`` groups of
    each frame, as VQ-VAE shares one codebook across latent positions.

    Arguments
    ---------
    dim : int
        Size of the encoder's latent frames.
    num_quantizers : int
        Groups per frame at the highest bitrate.
    group_dim : int
        Size of one group (of one code vector).
    codebook_size : int
        Codes of the single codebook.
    frame_rate : float
        Latent frames per second.
    train_num_quantizers : list of int, optional
        Group counts served (nested dropout in training).
    decay, kmeans_iters, dead_code_steps
        As for :class:`EMAVectorQuantizer`.

    Example
    -------
    >>> vq = GroupVectorQuantizer(dim=8, num_quantizers=3, group_dim=2,
    ...                           codebook_size=16).eval()
    >>> out = vq(torch.randn(2, 5, 8))
    >>> out.codes.shape, vq.bitrate(3)
    (torch.Size([2, 5, 3]), 0.6)
    """

    def __init__(
        self,
        dim=128,
        num_quantizers=12,
        group_dim=8,
        codebook_size=1024,
        frame_rate=50.0,
        train_num_quantizers=None,
        decay=0.99,
        kmeans_iters=10,
        dead_code_steps=20,
    ):
        super().__init__(
            dim,
            num_quantizers,
            group_dim,
            codebook_size,
            frame_rate,
            train_num_quantizers,
        )
        self.codebook = EMAVectorQuantizer(
            group_dim, codebook_size, decay, kmeans_iters, dead_code_steps
        )

    def quantize_groups(self, groups, used, per_utt):
        """Nearest shared code per group; EMA update in training (see base)."""
        flat = groups.reshape(-1, self.group_dim)
        codes = self.codebook.encode(flat.detach()).view(groups.shape[:-1])
        stats = {}
        if self.training and used.any():
            picked = flat.detach()[used.reshape(-1)]
            if not self.codebook.initialized:
                self.codebook.initialize(picked)
                codes = self.codebook.encode(flat.detach()).view(groups.shape[:-1])
            stats["restarted_codes"] = float(self.codebook.update(picked, codes[used]))
            counts = torch.bincount(codes[used], minlength=self.codebook_size)
            probs = counts.float() / counts.sum()
            entropy = -(probs * probs.clamp(min=1e-10).log()).sum()
            stats["perplexity"] = float(entropy.exp())
        quantized = self.codebook.decode(codes)
        commitment = _masked_mean((groups - quantized.detach()) ** 2, used)
        values = groups + (quantized - groups).detach()
        return values, codes, commitment, stats

    def code_values(self, codes):
        """Code vectors [B, T, K, d] (see base)."""
        return self.codebook.decode(codes)

    def summary(self):
        """One line for model cards."""
        return (
            f"VQ-VAE, one codebook of {self.codebook_size} codes shared by "
            f"{self.num_quantizers} groups of {self.group_dim} values "
            f"({self.bits_per_code:g} bits each), nested group dropout"
        )


class GaussianVAEBottleneck(NestedBottleneck):
    """A variational bottleneck with a real, learned rate (as Opus 1.5's
    rate-distortion optimised DRED encoder).

    Each of the ``num_quantizers`` latent channels is rounded to an integer
    symbol in [-max_symbol, max_symbol]. In training, uniform noise stands
    in for rounding, so the posterior is a unit-width box and its KL
    divergence to the prior is the rate: the bits -log2 p(y) of the symbols
    under a Gaussian prior whose mean and scale a linear layer predicts from
    the previous frame's symbols (a causal context model). The entropy
    coder codes the symbols with this same prior (:meth:`entropy_model`),
    so the rate the loss sees is the rate of the file.

    The loss is ``rate_weight x kbps`` (the weight that trades bits for
    quality); each served bitrate has its own weight, adapted in training
    (dual ascent on its logarithm, ``rate_control`` per step) so that the
    rate of utterances drawn at that column count meets its target.

    Arguments
    ---------
    dim : int
        Size of the encoder's latent frames.
    num_quantizers : int
        Latent channels at the highest bitrate.
    max_symbol : int
        Symbols are clamped to [-max_symbol, max_symbol].
    frame_rate : float
        Latent frames per second.
    train_num_quantizers : list of int
        Channel counts served (nested dropout in training).
    target_bitrates : list of float
        kbps aimed at with each of ``train_num_quantizers``; they are the
        bitrates the model serves.
    rate_weight : float
        Initial weight of the rate (per kbps) in the loss.
    rate_control : float
        Step of the weights' adaptation (0: fixed weights).

    Example
    -------
    >>> vae = GaussianVAEBottleneck(dim=8, num_quantizers=4,
    ...     train_num_quantizers=[2, 4], target_bitrates=[0.5, 1.0])
    >>> out = vae(torch.randn(2, 5, 8))
    >>> out.codes.shape, bool(out.loss > 0)
    (torch.Size([2, 5, 4]), True)
    >>> vae.num_quantizers_for(0.5)
    2
    """

    def __init__(
        self,
        dim=128,
        num_quantizers=32,
        max_symbol=31,
        frame_rate=50.0,
        train_num_quantizers=(8, 16, 32),
        target_bitrates=(1.5, 3.0, 6.0),
        rate_weight=0.05,
        rate_control=0.01,
    ):
        super().__init__(
            dim,
            num_quantizers,
            1,
            2 * max_symbol + 1,
            frame_rate,
            list(train_num_quantizers),
        )
        if len(target_bitrates) != len(self.train_num_quantizers):
            raise ValueError("one target bitrate per trained channel count")
        self.max_symbol = max_symbol
        counts = self.train_num_quantizers
        self.targets = dict(zip(counts, target_bitrates, strict=True))
        self.rate_control = rate_control
        self.context = torch.nn.Linear(num_quantizers, 2 * num_quantizers)
        torch.nn.init.zeros_(self.context.weight)
        torch.nn.init.constant_(self.context.bias[num_quantizers:], math.log(2.0))
        self.register_buffer(
            "log_rate_weights",
            torch.full((len(self.train_num_quantizers),), math.log(rate_weight)),
        )

    def bitrate(self, num_quantizers):
        """The target kbps of a trained channel count."""
        if num_quantizers not in self.targets:
            raise ValueError(f"{num_quantizers} channels is not a trained rate")
        return self.targets[num_quantizers]

    def prior(self, previous):
        """Mean and scale [B, T, C] of each symbol given the previous
        frame's symbols ``previous`` [B, T, C] (zero where not sent)."""
        mean, log_scale = self.context(previous).chunk(2, dim=-1)
        return mean, log_scale.clamp(-3.0, 4.0).exp()

    def quantize_groups(self, groups, used, per_utt):
        """Rounds, measures the rate under the prior, adapts the rate
        weights (see base)."""
        latent = self.max_symbol * torch.tanh(groups[..., 0] / self.max_symbol)
        symbols = latent.round()
        values = latent + (symbols - latent).detach()
        noisy = latent + torch.rand_like(latent) - 0.5 if self.training else symbols
        sent = symbols.detach() * used
        previous = torch.cat([torch.zeros_like(sent[:, :1]), sent[:, :-1]], dim=1)
        mean, scale = self.prior(previous)
        bits = gaussian_bits(noisy, mean, scale, self.max_symbol)
        bits = (bits * used).sum(dim=(1, 2))
        frames = used.any(dim=2).sum(dim=1).clamp(min=1)
        kbps = bits / frames * self.frame_rate / 1000  # [B]

        levels = {count: i for i, count in enumerate(self.train_num_quantizers)}
        level = torch.tensor([levels[int(c)] for c in per_utt], device=kbps.device)
        loss = (self.log_rate_weights[level].exp() * kbps).mean()
        onehot = torch.nn.functional.one_hot(level, len(levels)).double()
        totals = torch.stack([onehot.t() @ kbps.detach().double(), onehot.sum(0)])
        if self.training:  # over every process, so each adapts its weights alike
            totals = all_reduce(totals)
        stats = {}
        for count, i in levels.items():
            if totals[1, i] > 0:
                rate = totals[0, i] / totals[1, i]
                stats[f"kbps_{count}"] = float(rate)
                if self.training and self.rate_control:
                    step = self.rate_control * torch.log(rate / self.targets[count])
                    self.log_rate_weights[i] = (self.log_rate_weights[i] + step).clamp(
                        -12.0, 4.0
                    )
                stats[f"rate_weight_{count}"] = float(self.log_rate_weights[i].exp())
        codes = (symbols.detach() + self.max_symbol).long()
        return values[..., None], codes, loss, stats

    def code_values(self, codes):
        """Symbol values [B, T, K, 1] (see base)."""
        return (codes.float() - self.max_symbol)[..., None]

    def summary(self):
        """One line for model cards."""
        return (
            f"Gaussian VAE, {self.num_quantizers} integer latent channels "
            f"(|symbol| <= {self.max_symbol}) entropy-coded with its learned "
            "Gaussian context prior, nested channel dropout"
        )


def gaussian_bits(values, mean, scale, max_symbol):
    """Bits of integer symbols under a Gaussian of ``mean`` and ``scale``
    integrated over [value - 1/2, value + 1/2] (a discretized Gaussian);
    the end symbols +-``max_symbol`` also take the tails and no symbol
    costs more than -log2(FLOOR) bits, as in the coder.

    Arguments
    ---------
    values, mean, scale : torch.Tensor
        Broadcastable tensors (values may be noisy, not integer).
    max_symbol : int
        The largest symbol.

    Returns
    -------
    torch.Tensor
        -log2 of the probability mass.

    Example
    -------
    >>> bits = gaussian_bits(torch.tensor([0.0, 3.0, 4.0]), 0.0, 1.0, 4)
    >>> [round(b, 2) for b in bits.tolist()]
    [1.38, 7.39, 12.07]
    """
    centered = values - mean
    inf = torch.tensor(float("inf"), device=centered.device)
    upper = torch.where(values + 0.5 > max_symbol, inf, centered + 0.5)
    lower = torch.where(values - 0.5 < -max_symbol, -inf, centered - 0.5)
    # Evaluate on the side of the mean where the CDF keeps its precision.
    sign = torch.where(centered > 0, -1.0, 1.0)
    mass = torch.special.ndtr(sign * upper / scale) - torch.special.ndtr(
        sign * lower / scale
    )
    return -torch.log2(mass.abs().clamp(min=FLOOR))
