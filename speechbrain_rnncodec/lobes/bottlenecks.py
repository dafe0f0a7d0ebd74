"""Bottlenecks without codebooks, with the quantizer's interface.

Authors
 * speechbrain_rnncodec team 2026
"""

import torch

from speechbrain_rnncodec.lobes.quantizers import QuantizerOutput


class IdentityBottleneck(torch.nn.Module):
    """Passes latents through unchanged: the plain recurrent autoencoder.

    Example
    -------
    >>> out = IdentityBottleneck()(torch.randn(2, 5, 8))
    >>> out.quantized.shape, out.codes
    (torch.Size([2, 5, 8]), None)
    """

    def forward(self, x, num_quantizers=None, mask=None):
        """Returns ``x`` as the quantized latents, no codes, zero loss.

        Arguments
        ---------
        x : torch.Tensor
            Latent frames [B, T, D].
        num_quantizers : None
            Accepted for interface compatibility; must be None.
        mask : torch.Tensor, optional
            Unused.

        Returns
        -------
        QuantizerOutput
            The unchanged latents.
        """
        if num_quantizers is not None:
            raise ValueError("an identity bottleneck has no bitrates")
        return QuantizerOutput(x, None, x.new_zeros(()), {})
