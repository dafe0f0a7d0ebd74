"""A Gaussian VAE bottleneck whose rate is a learned entropy model's.

Authors
 * speechbrain_rnncodec team 2026
"""

import math

import torch

from speechbrain_rnncodec.lobes.quantization.grouped import NestedBottleneck
from speechbrain_rnncodec.utils.distributed import all_reduce

# The least probability of a symbol, that of the coder's Gaussian prior
# (entropy.gaussian.FLOOR; tests check they agree).
FLOOR = 1e-7


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
