"""Bottlenecks that project latents to groups and quantize each group to
one code: the scalar quantizer, the shared codebook (VQ-VAE) and the
Gaussian VAE.

As with the RVQ's quantizer dropout, the bitrate is the number of code
columns a frame carries: training zeroes the trailing columns of each
utterance, drawn from ``train_num_quantizers`` (nested dropout), so one
model serves every trained bitrate and low rates keep the most important
columns.

Authors
 * speechbrain_rnncodec team 2026
"""

import torch

from speechbrain_rnncodec.lobes.quantization.base import (
    NestedRates,
    QuantizerOutput,
    float32_region,
)


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
        with float32_region(x.device):
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
        self.check_code_range(codes)
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
