"""Reconstruction losses of the codec.

Authors
 * speechbrain_rnncodec team 2026
"""

import torch
import torchaudio


class MultiResolutionSpectralLoss(torch.nn.Module):
    """Log-mel, log-magnitude, compressed-complex and phase-derivative STFT
    losses at several resolutions, plus spectral convergence.

    The log-mel and log-magnitude terms (as in HiFi-GAN, EnCodec and DAC)
    match what the ear hears; the power-law compressed complex term also
    penalises phase errors, which magnitude losses cannot see. The
    phase-derivative terms compare the instantaneous frequency (phase
    difference along time) and the group delay (along frequency) in an
    anti-wrapped form, ``1 - cos(error)``, as APNet does; unlike the
    complex term they do not punish a constant phase offset, and each bin
    is weighted by the compressed magnitude of the target so that the phase
    of silent bins does not count.

    Arguments
    ---------
    n_ffts : list of int
        FFT sizes, one resolution each (hop = n_fft / 4).
    n_mels : list of int
        Mel bands at each resolution.
    sample_rate : int
        Sampling rate of the signals.
    compress_exponent : float
        Exponent of the compressed complex spectrum.
    weights : dict
        Weights of the terms ``mel``, ``log_mag``, ``convergence`` and
        ``complex``.

    Example
    -------
    >>> loss = MultiResolutionSpectralLoss()
    >>> y = torch.randn(2, 16000)
    >>> terms = loss(y + 0.1 * torch.randn(2, 16000), y)
    >>> sorted(terms)
    ['complex', 'convergence', 'group_delay', 'inst_freq', 'log_mag', 'mel']
    >>> round(float(sum(loss(y, y).values())), 6)
    0.0
    """

    def __init__(
        self,
        n_ffts=(256, 512, 1024, 2048),
        n_mels=(40, 80, 80, 128),
        sample_rate=16000,
        compress_exponent=0.3,
    ):
        super().__init__()
        self.n_ffts = list(n_ffts)
        self.compress_exponent = compress_exponent
        for n_fft, mels in zip(self.n_ffts, n_mels, strict=True):
            fbank = torchaudio.functional.melscale_fbanks(
                n_fft // 2 + 1,
                0.0,
                sample_rate / 2,
                mels,
                sample_rate,
                "slaney",
                "slaney",
            )
            self.register_buffer(f"mel_{n_fft}", fbank, persistent=False)
            self.register_buffer(
                f"window_{n_fft}", torch.hann_window(n_fft), persistent=False
            )

    def forward(self, y_hat, y):
        """Returns the loss terms (each averaged over resolutions).

        Arguments
        ---------
        y_hat : torch.Tensor
            Decoded waveforms [B, T].
        y : torch.Tensor
            Target waveforms [B, T].

        Returns
        -------
        dict
            Scalar tensors ``mel``, ``log_mag``, ``convergence``,
            ``complex``, ``inst_freq`` and ``group_delay``.
        """
        terms = dict.fromkeys(
            ["mel", "log_mag", "convergence", "complex", "inst_freq", "group_delay"],
            0.0,
        )
        for n_fft in self.n_ffts:
            spec_hat, spec = (
                torch.stft(
                    x,
                    n_fft,
                    hop_length=n_fft // 4,
                    window=getattr(self, f"window_{n_fft}"),
                    return_complex=True,
                )
                for x in (y_hat, y)
            )
            mag_hat = spec_hat.abs().clamp(min=1e-7)
            mag = spec.abs().clamp(min=1e-7)
            fbank = getattr(self, f"mel_{n_fft}")
            mel_hat = (mag_hat.transpose(1, 2) @ fbank).clamp(min=1e-5).log()
            mel = (mag.transpose(1, 2) @ fbank).clamp(min=1e-5).log()
            terms["mel"] = terms["mel"] + (mel_hat - mel).abs().mean()
            log_diff = mag_hat.clamp(min=1e-5).log() - mag.clamp(min=1e-5).log()
            terms["log_mag"] = terms["log_mag"] + log_diff.abs().mean()
            terms["convergence"] = terms["convergence"] + (
                (mag - mag_hat).norm() / mag.norm().clamp(min=1e-7)
            )
            p = self.compress_exponent - 1
            diff = spec_hat * mag_hat**p - spec * mag**p
            terms["complex"] = terms["complex"] + diff.abs().pow(2).mean()
            weight = mag**self.compress_exponent
            for name, dim in (("inst_freq", -1), ("group_delay", -2)):
                terms[name] = terms[name] + phase_derivative_loss(
                    spec_hat, spec, weight, dim
                )
        return {k: v / len(self.n_ffts) for k, v in terms.items()}


def phase_derivative_loss(spec_hat, spec, weight, dim):
    """Anti-wrapped error of the phase difference between neighbouring bins.

    The phase difference along ``dim`` is the angle of ``z[n] * conj(z[n-1])``;
    the error between two such angles enters as ``1 - cos(error)``, which is
    periodic, so a wrapped phase costs nothing extra.

    Arguments
    ---------
    spec_hat : torch.Tensor
        Complex STFT of the decoded signal [B, F, N].
    spec : torch.Tensor
        Complex STFT of the target [B, F, N].
    weight : torch.Tensor
        Non-negative weight of each target bin [B, F, N].
    dim : int
        -1 for the instantaneous frequency, -2 for the group delay.

    Returns
    -------
    torch.Tensor
        Weighted mean of ``1 - cos(error)``, in [0, 2].

    Example
    -------
    >>> spec = torch.randn(1, 5, 7, dtype=torch.cfloat)
    >>> shifted = spec * torch.exp(1j * torch.tensor(0.7))  # constant offset
    >>> float(phase_derivative_loss(shifted, spec, spec.abs(), -1)) < 1e-6
    True
    >>> float(phase_derivative_loss(spec.conj(), spec, spec.abs(), -1)) > 0.1
    True
    """
    n = spec.shape[dim]

    def difference(z):
        cross = z.narrow(dim, 1, n - 1) * z.narrow(dim, 0, n - 1).conj()
        return cross / cross.abs().clamp(min=1e-8)

    cos_error = (difference(spec_hat) * difference(spec).conj()).real
    pair_weight = weight.narrow(dim, 1, n - 1) * weight.narrow(dim, 0, n - 1)
    return (pair_weight * (1 - cos_error)).sum() / pair_weight.sum().clamp(min=1e-8)
