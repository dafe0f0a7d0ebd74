"""Residual vector quantization with EMA codebooks.

Each stage quantizes the residual left by the stages before it with a
codebook learned by exponential moving averages (as in VQ-VAE-2, SoundStream
and EnCodec), initialised by k-means on the first training batch. Codes that
go unused for ``dead_code_steps`` training steps are restarted on random
vectors of the current batch. Quantizer dropout trains every prefix of
stages that serves a bitrate, so one model encodes at several bitrates,
chosen at inference.

Authors
 * speechbrain_rnncodec team 2026
"""

import contextlib
import math

import torch

from speechbrain_rnncodec.utils.distributed import all_reduce, broadcast


def kmeans(vectors, num_clusters, iters=10):
    """Plain k-means; returns centroids [num_clusters, D].

    Arguments
    ---------
    vectors : torch.Tensor
        Data [N, D]. When N < num_clusters, centroids repeat data points.
    num_clusters : int
        Number of centroids.
    iters : int
        Lloyd iterations.

    Returns
    -------
    torch.Tensor
        Centroids.

    Example
    -------
    >>> centroids = kmeans(torch.randn(100, 4), 8)
    >>> centroids.shape
    torch.Size([8, 4])
    """
    n = vectors.shape[0]
    if n < num_clusters:
        idx = torch.randint(0, n, (num_clusters,), device=vectors.device)
        centroids = vectors[idx].clone()
    else:
        # k-means++ seeding: each new centroid is drawn with probability
        # proportional to its squared distance to the nearest one so far, so
        # Lloyd's iterations do not start with several centroids in one
        # cluster and none in another (a local minimum they cannot leave).
        centroids = vectors.new_empty(num_clusters, vectors.shape[1])
        centroids[0] = vectors[torch.randint(0, n, (), device=vectors.device)]
        nearest = (vectors - centroids[0]).pow(2).sum(1)
        for i in range(1, num_clusters):
            # The tiny floor keeps the weights valid when all points coincide.
            pick = torch.multinomial(nearest + 1e-20, 1)[0]
            centroids[i] = vectors[pick]
            nearest = torch.minimum(nearest, (vectors - centroids[i]).pow(2).sum(1))
    for _ in range(iters):
        assign = torch.cdist(vectors, centroids).argmin(dim=1)
        counts = torch.bincount(assign, minlength=num_clusters)
        sums = torch.zeros_like(centroids).index_add_(0, assign, vectors)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled, None]
    return centroids


def float32_region(device):
    """A context without autocast on ``device`` (none where the device has
    no autocast, e.g. ``meta``)."""
    if torch.amp.is_autocast_available(device.type):
        return torch.autocast(device.type, enabled=False)
    return contextlib.nullcontext()


def has_values(tensor):
    """Whether ``tensor`` holds values to check (not empty, not on the
    ``meta`` device, which only carries shapes)."""
    return tensor.numel() > 0 and tensor.device.type != "meta"


class EMAVectorQuantizer(torch.nn.Module):
    """One codebook, learned by exponential moving averages.

    Arguments
    ---------
    dim : int
        Vector size.
    codebook_size : int
        Number of codes.
    decay : float
        EMA decay of the code statistics.
    kmeans_iters : int
        Iterations of the k-means initialisation (0: random init).
    dead_code_steps : int
        A code unused for this many training steps is restarted.
    epsilon : float
        Laplace smoothing of the code counts.

    Example
    -------
    >>> vq = EMAVectorQuantizer(dim=4, codebook_size=16)
    >>> codes = vq.encode(torch.randn(10, 4))
    >>> vq.decode(codes).shape
    torch.Size([10, 4])
    """

    def __init__(
        self,
        dim,
        codebook_size,
        decay=0.99,
        kmeans_iters=10,
        dead_code_steps=20,
        epsilon=1e-5,
    ):
        super().__init__()
        self.codebook_size = codebook_size
        self.decay = decay
        self.kmeans_iters = kmeans_iters
        self.dead_code_steps = dead_code_steps
        self.epsilon = epsilon
        self.register_buffer("initialized", torch.tensor(kmeans_iters == 0))
        self.register_buffer("codebook", torch.randn(codebook_size, dim))
        # EMA of code counts; the EMA of vector sums is codebook * counts
        # (smoothed), so it needs no buffer of its own.
        self.register_buffer("cluster_size", torch.ones(codebook_size))
        self.register_buffer(
            "unused_steps", torch.zeros(codebook_size, dtype=torch.long)
        )

    def encode(self, x):
        """Index of the nearest code for each vector of ``x`` [N, D]."""
        # ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2; ||x||^2 is constant per row.
        dist = self.codebook.pow(2).sum(1) - 2 * x @ self.codebook.t()
        return dist.argmin(dim=1)

    def decode(self, codes):
        """Code vectors for indices ``codes`` (any shape)."""
        return torch.nn.functional.embedding(codes, self.codebook)

    def _smoothed_counts(self):
        """Code counts with Laplace smoothing (no code has count zero)."""
        total = self.cluster_size.sum()
        size = self.codebook_size
        return (
            (self.cluster_size + self.epsilon) / (total + size * self.epsilon) * total
        )

    @torch.no_grad()
    def initialize(self, x):
        """Sets the codebook to k-means centroids of ``x`` [N, D].

        Arguments
        ---------
        x : torch.Tensor
            Vectors of the first training batch.
        """
        centroids = broadcast(kmeans(x, self.codebook_size, self.kmeans_iters))
        self.codebook.copy_(centroids)
        self.cluster_size.fill_(1.0)
        self.initialized.fill_(True)

    @torch.no_grad()
    def update(self, x, codes):
        """EMA update and dead-code restart from a batch.

        Arguments
        ---------
        x : torch.Tensor
            Vectors of the batch [N, D] (only the frames this stage used).
        codes : torch.Tensor
            Their codes [N].

        Returns
        -------
        int
            Number of dead codes restarted.
        """
        onehot = torch.nn.functional.one_hot(codes, self.codebook_size).type(x.dtype)
        counts = all_reduce(onehot.sum(0))
        sums = all_reduce(onehot.t() @ x)
        embed_sum = self.codebook * self._smoothed_counts()[:, None]
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        embed_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        self.codebook.copy_(embed_sum / self._smoothed_counts()[:, None])

        self.unused_steps.add_(1).masked_fill_(counts > 0, 0)
        dead = self.unused_steps >= self.dead_code_steps
        n_dead = int(dead.sum())
        if n_dead:
            picks = torch.randint(0, x.shape[0], (n_dead,), device=x.device)
            fresh = broadcast(x[picks].clone())
            self.codebook[dead] = fresh
            self.cluster_size[dead] = 1.0
            self.unused_steps[dead] = 0
        return n_dead


class NestedRates:
    """Bitrate arithmetic of bottlenecks whose rate is a number of code
    columns per frame (RVQ stages, scalar channels, latent groups).

    Subclasses set ``num_quantizers`` (columns at the highest rate),
    ``codebook_size``, ``frame_rate`` and ``train_num_quantizers`` (the
    column counts trained by dropout: the bitrates served). A frame of K
    columns costs K x log2(codebook_size) bits.
    """

    @property
    def bits_per_code(self):
        """Bits of one code index."""
        return math.log2(self.codebook_size)

    def bitrate(self, num_quantizers):
        """Nominal rate in kbps when ``num_quantizers`` columns are used."""
        return num_quantizers * self.frame_rate * self.bits_per_code / 1000

    def check_counts(self, train_num_quantizers):
        """The validated list of trained column counts (default: all)."""
        counts = list(train_num_quantizers or [self.num_quantizers])
        if min(counts) < 1 or max(counts) > self.num_quantizers:
            raise ValueError(
                f"train_num_quantizers must lie in 1..{self.num_quantizers}"
            )
        return counts

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
            batch, steps, _ = x.shape
            if mask is None:
                mask = torch.ones(batch, steps, dtype=torch.bool, device=x.device)
            per_utt, n_stages = self.stage_counts(batch, num_quantizers, x.device)
            return self._quantize(x.float(), per_utt, n_stages, mask)

    def _quantize(self, x, per_utt, n_stages, mask):
        """Body of :meth:`forward`, in float32: ``per_utt`` [B] stages per
        utterance, ``n_stages`` their maximum, ``mask`` [B, T] valid frames."""
        batch, steps, _ = x.shape

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
                stats[f"perplexity_{k + 1}"] = _perplexity(
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
        if has_values(codes) and (codes.min() < 0 or codes.max() >= self.codebook_size):
            raise ValueError(f"codes must lie in [0, {self.codebook_size})")
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


def _perplexity(codes, codebook_size):
    """Perplexity of the code distribution (codebook_size: all used evenly)."""
    probs = torch.bincount(codes, minlength=codebook_size).float()
    probs = probs / probs.sum().clamp(min=1)
    entropy = -(probs * probs.clamp(min=1e-10).log()).sum()
    return float(entropy.exp())


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
    """

    def __init__(self, quantized, codes, loss, stats, pitch_scores=None):
        self.quantized = quantized
        self.codes = codes
        self.loss = loss
        self.stats = stats
        self.pitch_scores = pitch_scores
