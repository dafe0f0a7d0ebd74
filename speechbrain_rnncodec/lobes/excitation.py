"""The source of the source-filter decoder, and its pitch: a band-limited
harmonic excitation from a float64 phase accumulator driven by F0, the
mel-band to bin interpolation of its envelopes, the F0 bins of a
classification pitch head (CREPE-style targets, read back with sub-bin
resolution), and the F0 track of a sent pitch column.

Authors
 * speechbrain_rnncodec team 2026
"""

import math

import numpy as np
import torch

# Pitch range of the synthesis (Hz): F0 predictions are clamped to it.
F0_MIN, F0_MAX = 50.0, 800.0


def pitch_bin_centres(bins):
    """Log F0 of the centres of ``bins`` F0 bins, log-spaced from ``F0_MIN``
    to ``F0_MAX`` (the pitch heads' classes).

    >>> pitch_bin_centres(3).exp().round().tolist()
    [50.0, 200.0, 800.0]
    """
    return torch.linspace(math.log(F0_MIN), math.log(F0_MAX), bins)


def pitch_bin_loss(logits, log_f0, centres, width):
    """Cross-entropy of F0-bin scores against a Gaussian around the target
    (as CREPE trains): a near miss costs less than an octave error.

    Arguments
    ---------
    logits : torch.Tensor
        Scores of the bins [..., bins].
    log_f0 : torch.Tensor
        Target log F0 [...].
    centres : torch.Tensor
        Log F0 of the bin centres [bins].
    width : float
        Standard deviation of the target, in log F0.

    Returns
    -------
    torch.Tensor
        Loss per frame [...].

    Example
    -------
    >>> centres = torch.linspace(4.0, 6.0, 41)
    >>> near, far = torch.zeros(41), torch.zeros(41)
    >>> near[20], far[5] = 10.0, 10.0
    >>> target = torch.tensor(5.0)
    >>> loss = [pitch_bin_loss(s, target, centres, 0.05) for s in (near, far)]
    >>> bool(loss[0] < loss[1])
    True
    """
    target = torch.exp(-0.5 * ((centres - log_f0[..., None]) / width) ** 2)
    target = target / target.sum(-1, keepdim=True).clamp(min=1e-12)
    return -(target * torch.log_softmax(logits, dim=-1)).sum(-1)


def pitch_from_bins(logits, centres, radius=4):
    """Log F0 of bin scores: the softmax-weighted mean of the centres within
    ``radius`` bins of the best one (sub-bin resolution, no octave blur).

    Arguments
    ---------
    logits : torch.Tensor
        Scores [..., bins].
    centres : torch.Tensor
        Log F0 of the bin centres [bins].
    radius : int
        Bins on each side of the best one.

    Returns
    -------
    torch.Tensor
        Log F0 [...].

    Example
    -------
    >>> centres = torch.log(torch.tensor([100.0, 200.0, 400.0]))
    >>> pitch_from_bins(torch.tensor([0.0, 50.0, 0.0]), centres, 1).exp().round()
    tensor(200.)
    """
    offsets = torch.arange(-radius, radius + 1, device=logits.device)
    best = logits.argmax(dim=-1, keepdim=True)
    index = (best + offsets).clamp(0, len(centres) - 1)
    weights = torch.softmax(logits.gather(-1, index), dim=-1)
    return (weights * centres[index]).sum(-1)


def harmonic_excitation(f0, phase, f0_start, hop, sample_rate, max_freq):
    """Band-limited pulse train (harmonics of unit amplitude) from frame F0s.

    Within frame ``j`` the F0 moves linearly from the previous frame's value
    to ``f0[:, j]``; the phase is its exact integral, accumulated in float64
    and wrapped. Each sample sums the harmonics below ``max_freq`` in closed
    form (the Dirichlet kernel), so the cost does not grow with their number;
    the highest one is weighted by the fractional part of ``max_freq / F0``.

    Arguments
    ---------
    f0 : torch.Tensor
        F0 in Hz at the end of each frame [B, N].
    phase : torch.Tensor
        Phase at the start of the first frame [B] (float64, radians).
    f0_start : torch.Tensor
        F0 at the start of the first frame [B].
    hop : int
        Samples per frame.
    sample_rate : int
        Sampling rate in Hz.
    max_freq : float
        Highest harmonic frequency in Hz.

    Returns
    -------
    excitation : torch.Tensor
        Samples [B, N * hop].
    phase : torch.Tensor
        Phase after the last sample [B] (float64).

    Example
    -------
    >>> f0 = torch.full((1, 100), 200.0)
    >>> wav, phase = harmonic_excitation(
    ...     f0, torch.zeros(1, dtype=torch.float64), f0[:, 0], 80, 16000, 7800.0)
    >>> wav.shape
    torch.Size([1, 8000])
    >>> spec = torch.fft.rfft(wav[0]).abs()  # 2 Hz bins: harmonics of 200 Hz
    >>> bool(spec[100] > 100 * spec[150]), bool(spec[3900] > 100 * spec[3950])
    (True, True)
    """
    start = torch.cat([f0_start[:, None], f0[:, :-1]], dim=1).double()[..., None]
    slope = f0.double()[..., None] - start
    k = torch.arange(1, hop + 1, dtype=torch.float64, device=f0.device)
    # Integral of the linear F0 ramp over the first k samples of a frame, in
    # cycles (the operations below work in place: each pass over the
    # samples costs as much as the arithmetic).
    cycles = start * (k / sample_rate)
    cycles += slope * (k * (k + 1) / (2 * hop * sample_rate))
    frame_start = torch.cumsum(cycles[..., -1], dim=1) - cycles[..., -1]
    frame_start += phase[:, None] / (2 * math.pi)
    turns = torch.remainder(cycles.add_(frame_start[..., None]), 1.0)
    new_phase = 2 * math.pi * turns[:, -1, -1]
    # float64 to the end: near the pulse peaks the kernel divides by a small
    # sine, and float32 would let chunked and whole decoding drift apart.
    theta = turns.mul_(2 * math.pi).flatten(1)
    freq = (slope * (k / hop)).add_(start).flatten(1)
    # A fractional number of harmonics: the top one fades in and out as F0
    # moves, so the excitation has no click when the count changes.
    count = torch.reciprocal_(freq).mul_(max_freq).clamp_(min=1.0)
    whole = torch.floor(count)
    half = torch.sin(0.5 * theta)
    near_zero = half.abs() < 1e-4
    kernel = torch.sin((whole + 0.5).mul_(theta))
    kernel /= half.masked_fill_(near_zero, 1.0).mul_(2)
    kernel = torch.where(near_zero, whole, kernel.sub_(0.5))
    top = torch.cos((whole + 1).mul_(theta)).mul_(count.sub_(whole))
    return kernel.add_(top).float(), new_phase


def minimum_phase(magnitude, n_fft):
    """Unit phasors of the minimum-phase filter of a magnitude response.

    A vocal tract is close to minimum phase, so classic vocoders (LPC
    synthesis, WORLD) give each pulse the phase of its spectral envelope:
    energy right after the glottal closure, decaying within the period,
    instead of a pulse symmetric about its peak. The phase is the Hilbert
    transform of the log magnitude, through the folded real cepstrum.

    Arguments
    ---------
    magnitude : torch.Tensor
        Magnitude responses [..., n_fft // 2 + 1] (positive).
    n_fft : int
        FFT size of the bins.

    Returns
    -------
    torch.Tensor
        Complex phasors of modulus one, the shape of ``magnitude``.

    Example
    -------
    >>> # A one-pole filter 1 / (1 - 0.8 z^-1) is minimum phase.
    >>> w = torch.fft.rfft(torch.tensor([1.0, -0.8]), n=64)
    >>> phasors = minimum_phase(1 / w.abs(), 64)
    >>> torch.allclose(phasors, (1 / w) / (1 / w).abs(), atol=1e-4)
    True
    """
    cepstrum = torch.fft.irfft(magnitude.clamp(min=1e-8).log(), n=n_fft)
    fold = torch.zeros(n_fft, dtype=cepstrum.dtype, device=cepstrum.device)
    fold[0] = 1.0
    fold[1 : (n_fft + 1) // 2] = 2.0
    if n_fft % 2 == 0:
        fold[n_fft // 2] = 1.0
    phase = torch.fft.rfft(cepstrum * fold, n=n_fft).imag
    return torch.polar(torch.ones_like(phase), phase)


def band_interpolation(n_bands, n_bins, sample_rate):
    """Matrix [n_bands, n_bins] that interpolates band values to STFT bins.

    Band centres are equally spaced on the mel scale from 0 Hz to Nyquist;
    each bin takes the linear interpolation (in mel) of its two nearest
    centres. With ``n_bands == n_bins`` it is the identity (per-bin filters).

    Arguments
    ---------
    n_bands : int
        Envelope bands.
    n_bins : int
        STFT bins.
    sample_rate : int
        Sampling rate in Hz.

    Returns
    -------
    torch.Tensor
        Interpolation weights; each column sums to 1.

    Example
    -------
    >>> m = band_interpolation(32, 161, 16000)
    >>> m.shape, torch.allclose(m.sum(0), torch.ones(161))
    (torch.Size([32, 161]), True)
    """
    if n_bands == n_bins:
        return torch.eye(n_bins)

    def mel(hz):
        return 2595.0 * np.log10(1.0 + hz / 700.0)

    bins_mel = mel(np.linspace(0.0, sample_rate / 2, n_bins))
    centres = np.linspace(0.0, bins_mel[-1], n_bands)
    weights = np.stack(
        [np.interp(bins_mel, centres, np.eye(n_bands)[b]) for b in range(n_bands)]
    )
    return torch.from_numpy(weights).float()


def sent_pitch_track(sent, start, frames_per_step, anchor):
    """The log F0 track at STFT frames of a sent pitch column.

    Each latent frame's sent F0 is the pitch at the end of its STFT frame
    ``anchor``: the track glides linearly to it from the previous frame's
    value (when that one was voiced; an onset starts on its own value) and
    holds it in the STFT frames after the anchor, which the next frame's
    value cannot reach without a delay. Unvoiced frames hold the last
    voiced value.

    With a third channel, the glide (the log F0 change per two STFT
    frames; 0 where unvoiced), the track moves on from the anchor at that
    slope to the frame's end.

    Arguments
    ---------
    sent : torch.Tensor
        Sent log F0 and voicing (1.0 or 0.0) per latent frame [B, T', 2]
        (then the glide: [B, T', 3]).
    start : torch.Tensor
        The held log F0 and voicing of the frame before [B, 2].
    frames_per_step : int
        STFT frames per latent frame.
    anchor : int
        The STFT frame (0 ... ``frames_per_step - 1``) whose end the sent
        F0 describes.

    Returns
    -------
    track : torch.Tensor
        Log F0 at the end of each STFT frame [B, T' * frames_per_step].
    last : torch.Tensor
        The held log F0 and voicing of the last frame [B, 2].

    Example
    -------
    >>> sent = torch.tensor([[[5.0, 1.0], [0.0, 0.0], [5.5, 1.0], [5.0, 1.0]]])
    >>> track, last = sent_pitch_track(sent, torch.tensor([[4.0, 0.0]]), 2, 1)
    >>> track.tolist(), last.tolist()
    ([[5.0, 5.0, 5.0, 5.0, 5.5, 5.5, 5.25, 5.0]], [[5.0, 1.0]])
    >>> sent_pitch_track(sent, torch.tensor([[4.0, 0.0]]), 2, 0)[0].tolist()
    [[5.0, 5.0, 5.0, 5.0, 5.5, 5.5, 5.0, 5.0]]
    >>> glide = torch.tensor([[[5.0, 1.0, 0.2]]])
    >>> track = sent_pitch_track(glide, torch.tensor([[4.0, 0.0]]), 4, 0)[0]
    >>> [round(v, 3) for v in track[0].tolist()]
    [5.0, 5.1, 5.2, 5.3]
    """
    log_f0, voiced = sent[..., 0], sent[..., 1]
    steps = torch.arange(sent.shape[1], device=sent.device)
    last_voiced = torch.where(voiced > 0.5, steps, -1).cummax(dim=1).values
    held = torch.where(
        last_voiced >= 0,
        log_f0.gather(1, last_voiced.clamp(min=0)),
        start[:, :1],
    )
    prev = torch.cat([start[:, :1], held[:, :-1]], dim=1)
    prev_voiced = torch.cat([start[:, 1:], voiced[:, :-1]], dim=1) > 0.5
    prev = torch.where(prev_voiced, prev, held)
    steps_in = torch.arange(1, frames_per_step + 1, device=sent.device)
    fraction = (steps_in / (anchor + 1)).clamp(max=1.0)
    track = prev[..., None] + (held - prev)[..., None] * fraction
    if sent.shape[-1] > 2:
        track = track + sent[..., 2:] * ((steps_in - 1 - anchor).clamp(min=0) / 2)
    if sent.shape[1] == 0:
        return track.flatten(1), start
    return track.flatten(1), torch.stack([held[:, -1], voiced[:, -1]], dim=-1)


def refinement_history(window, frame, sample_rate):
    """Samples of the past that :func:`refine_pitch` needs before a frame:
    the part of the window before it and the longest period (50 Hz), plus
    one lag for the parabola."""
    return window - frame + longest_lag(sample_rate)


def longest_lag(sample_rate):
    """The longest period searched by :func:`refine_pitch`, in samples."""
    return math.ceil(sample_rate / F0_MIN) + 1


def refine_pitch(
    signal, log_f0, frame, window, sample_rate, semitones=3.0, min_correlation=0.3
):
    """Refines coarse frame F0s by the peak of a normalised cross-correlation.

    For each frame, the newest ``window`` samples (ending with the frame)
    are correlated with themselves delayed by each lag within ``semitones``
    of the coarse period; the best lag, refined by a parabola through its
    neighbours, gives the F0, as classic pitch trackers refine theirs. A
    frame keeps its coarse F0 where the best lag lies on the edge of the
    search or correlates less than ``min_correlation``.

    Arguments
    ---------
    signal : torch.Tensor
        Samples [B, P + N * frame]: the ``P`` samples of the past that
        :func:`refinement_history` gives, then the N frames.
    log_f0 : torch.Tensor
        Coarse log F0 in Hz [B, N].
    frame : int
        Samples per frame.
    window : int
        Samples correlated per frame.
    sample_rate : int
        Sampling rate in Hz.
    semitones : float
        Search range on each side of the coarse period.
    min_correlation : float
        Weakest correlation peak accepted.

    Returns
    -------
    torch.Tensor
        Log F0 [B, N].

    Example
    -------
    >>> t = torch.arange(16000) / 16000
    >>> wav = sum(torch.sin(2 * math.pi * 187.3 * k * t) / k for k in (1, 2, 3))
    >>> coarse = torch.full((1, 48), math.log(180.0))
    >>> past = refinement_history(320, 320, 16000)
    >>> refined = refine_pitch(wav[None, -(past + 48 * 320) :], coarse, 320, 320, 16000)
    >>> bool((refined.exp() - 187.3).abs().max() < 0.5)
    True
    """
    max_lag = longest_lag(sample_rate)
    segments = signal.unfold(1, window + max_lag, frame)  # [B, N, window + max_lag]
    if segments.shape[1] != log_f0.shape[1]:
        raise ValueError(
            f"{signal.shape[1]} samples hold {segments.shape[1]} frames of "
            f"{log_f0.shape[1]} F0s: pass refinement_history() samples first"
        )
    newest = segments[..., max_lag:]
    size = 1 << (2 * window + max_lag - 1).bit_length()
    # correlation[k] = sum_j newest[j] * segments[k - window + 1 + j]: lag L
    # sits at k = window - 1 + max_lag - L.
    correlation = torch.fft.irfft(
        torch.fft.rfft(segments, size) * torch.fft.rfft(newest.flip(-1), size), size
    )
    lags = torch.arange(max_lag + 1, device=signal.device)
    # Lags 0, 1, ... read these arrays backwards: slices flipped (a copy
    # each, much cheaper than an index per element).
    products = correlation[..., window - 1 : window + max_lag].flip(-1)
    energy = torch.nn.functional.pad(segments.square().cumsum(-1), (1, 0))
    delayed = (
        energy[..., window : window + max_lag + 1] - energy[..., : max_lag + 1]
    ).flip(-1)
    own = energy[..., -1:] - energy[..., max_lag : max_lag + 1]
    ncc = products / (delayed * own).clamp(min=1e-9).sqrt()
    period = sample_rate * torch.exp(-log_f0)
    ratio = 2.0 ** (semitones / 12)
    low = torch.floor(period / ratio).clamp(2, max_lag - 1)[..., None]
    high = torch.ceil(period * ratio).clamp(2, max_lag - 1)[..., None]
    inside = (lags >= low) & (lags <= high)
    best = torch.where(inside, ncc, -math.inf).argmax(dim=-1, keepdim=True)
    around = ncc.gather(
        -1, torch.cat([best - 1, best, (best + 1).clamp(max=max_lag)], -1)
    )
    left, peak, right = around.unbind(dim=-1)
    curve = left - 2 * peak + right
    shift = torch.where(curve < 0, 0.5 * (left - right) / curve.clamp(max=-1e-9), 0.0)
    refined = math.log(sample_rate) - torch.log(best[..., 0] + shift)
    accepted = (best > low) & (best < high) & (peak[..., None] >= min_correlation)
    return torch.where(accepted[..., 0], refined, log_f0)
