"""Noise made from the data itself, for denoising codecs: babble of other
speakers, white and pink noise, mixed at a random SNR.

:class:`NoiseMixer` corrupts training batches (babble from the other
utterances of the batch); :class:`NoisyCopies` makes the reproducible noisy
version of an evaluation set (babble from other speakers of the set, the
noise of each utterance seeded by its ID).

Authors
 * speechbrain_rnncodec team 2026
"""

import random
import zlib

import torch

KINDS = ("babble", "white", "pink")


def pink_noise(num_samples, generator=None):
    """Gaussian noise with a 1/f power spectrum (unit variance).

    Arguments
    ---------
    num_samples : int
        Length.
    generator : torch.Generator, optional
        Source of randomness.

    Returns
    -------
    torch.Tensor
        Samples [num_samples].

    Example
    -------
    >>> noise = pink_noise(16000, torch.Generator().manual_seed(0))
    >>> spectrum = torch.fft.rfft(noise).abs() ** 2
    >>> bool(spectrum[10:100].mean() > 10 * spectrum[1000:8000].mean())
    True
    """
    white = torch.randn(num_samples, generator=generator)
    spectrum = torch.fft.rfft(white)
    freqs = torch.arange(len(spectrum), dtype=torch.float32).clamp(min=1.0)
    pink = torch.fft.irfft(spectrum / freqs.sqrt(), n=num_samples)
    return pink / pink.std().clamp(min=1e-8)


def mix_at_snr(clean, noise, snr_db):
    """``clean + noise``, the noise scaled to ``snr_db`` below the speech.

    Arguments
    ---------
    clean : torch.Tensor
        Speech [T].
    noise : torch.Tensor
        Noise [T] (any level).
    snr_db : float
        Signal-to-noise ratio in dB.

    Returns
    -------
    torch.Tensor
        The mixture [T]; ``clean`` unchanged if it is silent.

    Example
    -------
    >>> clean, noise = torch.randn(1000), torch.randn(1000)
    >>> mixed = mix_at_snr(clean, noise, 10.0)
    >>> snr = clean.pow(2).sum() / (mixed - clean).pow(2).sum()
    >>> round(float(10 * torch.log10(snr)), 3)
    10.0
    """
    speech_power = clean.pow(2).mean()
    noise_power = noise.pow(2).mean().clamp(min=1e-12)
    gain = torch.sqrt(speech_power / noise_power / 10 ** (snr_db / 10))
    return clean + gain * noise


def make_noise(kind, num_samples, generator, babble=()):
    """Noise of ``kind`` (``babble``, ``white`` or ``pink``), [num_samples].

    Arguments
    ---------
    kind : str
        One of :data:`KINDS`.
    num_samples : int
        Length.
    generator : torch.Generator
        Source of randomness (white, pink and the babble offsets).
    babble : sequence of torch.Tensor
        Speech of other talkers, summed (looped or cut to the length).

    Returns
    -------
    torch.Tensor
        Noise samples.
    """
    if kind == "white":
        return torch.randn(num_samples, generator=generator)
    if kind == "pink":
        return pink_noise(num_samples, generator)
    if kind != "babble":
        raise ValueError(f"noise kind must be one of {KINDS}, not {kind!r}")
    if not babble:
        raise ValueError("babble noise needs speech of other talkers")
    total = torch.zeros(num_samples)
    for talker in babble:
        if len(talker) == 0:
            continue
        start = int(torch.randint(len(talker), (), generator=generator))
        loops = -(-(start + num_samples) // len(talker))
        total += talker.repeat(loops)[start : start + num_samples] / (
            talker.std().clamp(min=1e-8)
        )
    return total


class NoiseMixer(torch.nn.Module):
    """Corrupts a batch of clean speech for denoising training.

    Each utterance gets one kind of noise (drawn from ``kinds``) at an SNR
    drawn uniformly in [``snr_low``, ``snr_high``] dB; babble is the sum of
    ``babble_talkers`` other utterances of the batch.

    Arguments
    ---------
    snr_low, snr_high : float
        SNR range in dB.
    kinds : list of str
        Noise kinds to draw from.
    babble_talkers : int
        Other utterances summed into babble.

    Example
    -------
    >>> mixer = NoiseMixer(snr_low=5, snr_high=5)
    >>> clean = torch.randn(4, 800)
    >>> noisy = mixer(clean, torch.ones(4), torch.Generator().manual_seed(0))
    >>> noisy.shape, bool((noisy != clean).all())
    (torch.Size([4, 800]), True)
    """

    def __init__(self, snr_low=0.0, snr_high=20.0, kinds=KINDS, babble_talkers=3):
        super().__init__()
        self.snr_low, self.snr_high = snr_low, snr_high
        self.kinds = list(kinds)
        self.babble_talkers = babble_talkers

    def forward(self, wavs, lens, generator=None):
        """Noisy copies of ``wavs`` [B, T] (padding stays zero).

        Arguments
        ---------
        wavs : torch.Tensor
            Clean waveforms [B, T].
        lens : torch.Tensor
            Relative lengths [B].
        generator : torch.Generator, optional
            Source of randomness (seed it for reproducible noise).

        Returns
        -------
        torch.Tensor
            Noisy waveforms [B, T].
        """
        batch, steps = wavs.shape
        lengths = (lens * steps).round().long().tolist()
        clean = [wavs[b, : lengths[b]].detach().float().cpu() for b in range(batch)]
        noisy = torch.zeros_like(wavs)
        for b in range(batch):
            pick = int(torch.randint(len(self.kinds), (), generator=generator))
            kind = self.kinds[pick]
            if kind == "babble" and batch == 1:
                kind = "white"  # no other talker in the batch
            others = [clean[(b + k) % batch] for k in range(1, batch)]
            talkers = others[: self.babble_talkers]
            noise = make_noise(kind, lengths[b], generator, talkers)
            u = float(torch.rand((), generator=generator))
            snr = self.snr_low + u * (self.snr_high - self.snr_low)
            noisy[b, : lengths[b]] = mix_at_snr(clean[b], noise, snr).to(wavs)
        return noisy


class NoisyCopies:
    """The reproducible noisy version of an evaluation set.

    Utterance ``utt_id`` gets the noise kind, SNR and babble talkers drawn
    from a generator seeded by ``seed`` and the ID, so every codec and every
    run sees the same noisy input. Babble talkers are utterances of
    ``pool`` from other speakers (the ID's part before the first ``-``).

    Arguments
    ---------
    pool : dict
        Utterance ID -> clean waveform [T], the babble talkers.
    snr_low, snr_high : float
        SNR range in dB.
    kinds : list of str
        Noise kinds.
    babble_talkers : int
        Talkers summed into babble.
    seed : int
        Seed of the whole set.
    """

    def __init__(
        self, pool, snr_low=0.0, snr_high=20.0, kinds=KINDS, babble_talkers=3, seed=0
    ):
        self.pool = dict(sorted(pool.items()))
        self.snr_low, self.snr_high = snr_low, snr_high
        self.kinds = list(kinds)
        self.babble_talkers = babble_talkers
        self.seed = seed

    def __call__(self, utt_id, wav):
        """The noisy version of ``wav`` [T]; also returns its description."""
        key = zlib.crc32(f"{self.seed}:{utt_id}".encode())
        generator = torch.Generator().manual_seed(key)
        rng = random.Random(key)
        kind = rng.choice(self.kinds)
        snr = rng.uniform(self.snr_low, self.snr_high)
        speaker = utt_id.split("-")[0]
        others = [u for u in self.pool if u.split("-")[0] != speaker]
        picked = rng.sample(others, min(len(others), self.babble_talkers))
        talkers = [self.pool[u] for u in picked]
        if kind == "babble" and not talkers:
            kind = "white"  # no other speaker in the pool
        noise = make_noise(kind, len(wav), generator, talkers)
        return mix_at_snr(wav, noise, snr), f"{kind} {snr:.1f} dB"
