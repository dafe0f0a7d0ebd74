"""Finite scalar quantization: the plain recurrent autoencoder's bitrate.

Authors
 * speechbrain_rnncodec team 2026
"""

import torch

from speechbrain_rnncodec.lobes.quantization.grouped import NestedBottleneck


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
