"""What every bottleneck shares: its output, the bitrate arithmetic of code
columns and small helpers.

Authors
 * speechbrain_rnncodec team 2026
"""

import contextlib
import dataclasses
import math

import torch


@dataclasses.dataclass
class QuantizerOutput:
    """What a bottleneck returns: quantized latents, codes, loss and stats.

    Arguments
    ---------
    quantized : torch.Tensor
        Latents after the bottleneck [B, T, D].
    codes : torch.Tensor or None
        Integer codes [B, T, K].
    loss : torch.Tensor
        Scalar loss term of the bottleneck (commitment for VQ, the
        rate-weighted KL for the VAE).
    stats : dict
        Scalars to log (perplexity, dead codes).
    pitch_scores : torch.Tensor, optional
        The encoder's pitch scores [B, T, 1 + bins] of a bottleneck that
        sends the pitch (for its loss), else None.

    Example
    -------
    >>> out = QuantizerOutput(torch.zeros(1, 2, 4), None, torch.tensor(0.0), {})
    >>> out.quantized.shape, out.pitch_scores
    (torch.Size([1, 2, 4]), None)
    """

    quantized: torch.Tensor
    codes: torch.Tensor
    loss: torch.Tensor
    stats: dict
    pitch_scores: torch.Tensor = None


class NestedRates:
    """Bitrate arithmetic of bottlenecks whose rate is a number of code
    columns per frame (RVQ stages, scalar channels, latent groups).

    Subclasses set ``num_quantizers`` (columns at the highest rate),
    ``codebook_size``, ``frame_rate`` and ``train_num_quantizers`` (the
    column counts trained by dropout: the bitrates served). A frame of K
    columns costs K x log2(codebook_size) bits; it needs at least
    ``min_quantizers`` columns. ``last_column_codes`` ({K: n}) narrows
    the last column of a frame of K columns to n codes, which then cost
    log2(n) bits.
    """

    min_quantizers = 1
    last_column_codes = {}

    @property
    def bits_per_code(self):
        """Bits of one code index."""
        return math.log2(self.codebook_size)

    def bitrate(self, num_quantizers):
        """Nominal rate in kbps when ``num_quantizers`` columns are used."""
        bits = sum(math.log2(n) for n in self.column_sizes(num_quantizers))
        return self.frame_rate * bits / 1000

    def column_sizes(self, num_quantizers):
        """Codes each column may take in a frame of ``num_quantizers``
        columns: ``codebook_size``, the last one narrowed by
        ``last_column_codes``."""
        sizes = [self.codebook_size] * num_quantizers
        if num_quantizers in self.last_column_codes:
            sizes[-1] = self.last_column_codes[num_quantizers]
        return sizes

    def code_table(self, num_quantizers, device=None):
        """The value of every code of each of ``num_quantizers`` columns,
        [K, C, D] on ``device`` (:meth:`code_values` of all codes); the
        codes a narrowed last column cannot take are zeros."""
        size = self.codebook_size
        codes = torch.arange(size, device=device)[None, :, None]
        codes = codes.expand(1, size, num_quantizers)
        sizes = torch.tensor(self.column_sizes(num_quantizers), device=device)
        values = self.code_values(torch.minimum(codes, sizes - 1))[0]
        return (values * (codes[0] < sizes)[..., None]).transpose(0, 1)

    def check_counts(self, train_num_quantizers):
        """The validated list of trained column counts (default: all)."""
        counts = list(train_num_quantizers or [self.num_quantizers])
        if min(counts) < 1 or max(counts) > self.num_quantizers:
            raise ValueError(
                f"train_num_quantizers must lie in 1..{self.num_quantizers}"
            )
        return counts

    def check_last_column_codes(self, last_column_codes):
        """The validated ``last_column_codes`` ({columns: codes}, default
        none narrowed)."""
        narrowed = {int(k): int(n) for k, n in (last_column_codes or {}).items()}
        for count, codes in narrowed.items():
            if not self.min_quantizers <= count <= self.num_quantizers:
                raise ValueError(
                    f"last_column_codes: {count} columns is not a rate of this "
                    f"model ({self.min_quantizers}..{self.num_quantizers})"
                )
            if not 2 <= codes < self.codebook_size:
                raise ValueError(
                    f"last_column_codes: {codes} codes must lie in "
                    f"2..{self.codebook_size - 1}"
                )
        return narrowed

    def check_code_range(self, codes):
        """Raises ValueError unless every code lies in [0, codebook_size),
        those of a narrowed last column in [0, n) (nothing to check in an
        empty tensor, or on the ``meta`` device, which only carries
        shapes)."""
        if codes.numel() == 0 or codes.device.type == "meta":
            return
        if codes.min() < 0 or codes.max() >= self.codebook_size:
            raise ValueError(f"codes must lie in [0, {self.codebook_size})")
        last = self.column_sizes(codes.shape[-1])[-1]
        if codes[..., -1].max() >= last:
            raise ValueError(
                f"codes of the last of {codes.shape[-1]} columns must lie in "
                f"[0, {last})"
            )

    def num_quantizers_for(self, kbps):
        """Columns that serve ``kbps`` (one of the trained bitrates).

        Arguments
        ---------
        kbps : float
            Bitrate in kilobits per second.

        Returns
        -------
        int
            Number of columns.
        """
        trained = sorted(set(self.train_num_quantizers))
        for count in trained:
            if math.isclose(self.bitrate(count), kbps, rel_tol=1e-6):
                return count
        served = ", ".join(f"{self.bitrate(n):g}" for n in trained)
        raise ValueError(
            f"{kbps} kbps is not served by this model; choose one of {served}"
        )

    def stage_counts(self, batch, num_quantizers, device):
        """Columns used per utterance and their maximum.

        In training each utterance draws a count from
        ``train_num_quantizers`` (quantizer dropout); in eval every
        utterance uses ``num_quantizers`` (default all).

        Arguments
        ---------
        batch : int
            Utterances in the batch.
        num_quantizers : int or None
            The count asked for at inference.
        device : torch.device
            Device of the returned tensor.

        Returns
        -------
        per_utt : torch.Tensor
            Counts [B].
        most : int
            Their maximum (columns to compute).
        """
        if self.training:
            choices = torch.tensor(self.train_num_quantizers, device=device)
            per_utt = choices[torch.randint(0, len(choices), (batch,), device=device)]
            return per_utt, max(self.train_num_quantizers)
        count = num_quantizers or self.num_quantizers
        if not 1 <= count <= self.num_quantizers:
            raise ValueError(f"num_quantizers must be in 1..{self.num_quantizers}")
        return torch.full((batch,), count, device=device), count


def float32_region(device):
    """A context without autocast on ``device`` (none where the device has
    no autocast, e.g. ``meta``).

    Example
    -------
    >>> with float32_region(torch.device("cpu")):
    ...     torch.is_autocast_enabled("cpu")
    False
    """
    if torch.amp.is_autocast_available(device.type):
        return torch.autocast(device.type, enabled=False)
    return contextlib.nullcontext()


def perplexity(codes, codebook_size):
    """Perplexity of the code distribution (codebook_size: all used evenly).

    Example
    -------
    >>> perplexity(torch.tensor([0, 1, 2, 3]), 8), perplexity(torch.zeros(5).long(), 8)
    (4.0, 1.0)
    """
    probs = torch.bincount(codes, minlength=codebook_size).float()
    probs = probs / probs.sum().clamp(min=1)
    entropy = -(probs * probs.clamp(min=1e-10).log()).sum()
    return float(entropy.exp())
