"""VQ-VAE: one EMA codebook shared by the latent groups of each frame.

Authors
 * speechbrain_rnncodec team 2026
"""

from speechbrain_rnncodec.lobes.quantization.base import perplexity
from speechbrain_rnncodec.lobes.quantization.ema import EMAVectorQuantizer
from speechbrain_rnncodec.lobes.quantization.grouped import NestedBottleneck


def _masked_mean(values, used):
    """Mean of ``values`` [B, T, G, d] over the ``used`` [B, T, G] columns."""
    weight = used.reshape(used.shape + (1,) * (values.dim() - used.dim()))
    count = (weight.sum() * values.shape[-1]).clamp(min=1)
    return (values * weight).sum() / count


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
    >>> import torch
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
            stats["perplexity"] = perplexity(codes[used], self.codebook_size)
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
