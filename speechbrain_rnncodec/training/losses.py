"""Reconstruction losses of the codec.

Authors
 * speechbrain_rnncodec team 2026
"""

import torch
import torchaudio

from speechbrain_rnncodec.lobes.excitation import band_interpolation


class MultiResolutionSpectralLoss(torch.nn.Module):
    """Log-mel, log-magnitude and compressed-complex STFT losses at several
    resolutions, plus spectral convergence.

    The log-mel and log-magnitude terms (as in HiFi-GAN, EnCodec and DAC)
    match what the ear hears; the power-law compressed complex term also
    penalises phase errors, which magnitude losses cannot see.

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
    ['complex', 'convergence', 'log_mag', 'mel']
    >>> float(sum(loss(y, y).values()))
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
            Scalar tensors ``mel``, ``log_mag``, ``convergence``, ``complex``.
        """
        terms = {"mel": 0.0, "log_mag": 0.0, "convergence": 0.0, "complex": 0.0}
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
        return {k: v / len(self.n_ffts) for k, v in terms.items()}


class MelBandSpectrum(torch.nn.Module):
    """An STFT framing and its mel-spaced bands: the analysis the band
    losses share.

    Arguments
    ---------
    n_fft : int
        Window and FFT size.
    hop_length : int
        Frame hop.
    n_bands : int
        Mel-spaced bands (the source-filter decoder's band-to-bin
        interpolation).
    sample_rate : int
        Sampling rate of the signals.

    Example
    -------
    >>> analysis = MelBandSpectrum(320, 80, 16, 16000)
    >>> x = torch.randn(2, 1600)
    >>> spec = analysis.spectrum(x)
    >>> analysis.band_powers(spec).shape
    torch.Size([2, 21, 16])
    >>> torch.allclose(analysis.waveform(spec, 1600), x, atol=1e-5)
    True
    """

    def __init__(self, n_fft, hop_length, n_bands, sample_rate):
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length
        bands = band_interpolation(n_bands, n_fft // 2 + 1, sample_rate)
        self.register_buffer("bands", bands, persistent=False)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def spectrum(self, x):
        """Complex STFT [B, bins, frames] of waveforms [B, T]."""
        return torch.stft(
            x,
            self.n_fft,
            hop_length=self.hop_length,
            window=self.window,
            return_complex=True,
        )

    def waveform(self, spec, length):
        """Waveforms [B, length] of :meth:`spectrum` frames."""
        return torch.istft(
            spec,
            self.n_fft,
            hop_length=self.hop_length,
            window=self.window,
            length=length,
        )

    def band_powers(self, spec):
        """Power of each band in each frame [B, frames, n_bands]."""
        return (spec.abs() ** 2).transpose(1, 2) @ self.bands.T

    def mean_band_powers(self, spec):
        """Power of each band averaged over the frames, floored at 1e-10
        [B, n_bands]."""
        return self.band_powers(spec).mean(1) + 1e-10


class BandEnergyLoss(torch.nn.Module):
    """L1 distance of the log energies of mel-spaced bands in short frames.

    The energy of each band (the bins' powers weighted by the band-to-bin
    interpolation of the source-filter decoder's envelopes) is what its
    filters set, frame by frame; power sums over a band also average out
    part of the random magnitudes of noise-like bins (more in the wide
    upper bands), which the per-bin log-magnitude terms compare one by one.

    Arguments
    ---------
    n_fft : int
        Window and FFT size (320: the decoder's 20 ms synthesis window).
    hop_length : int
        Frame hop (80: 5 ms).
    n_bands : int
        Mel-spaced bands.
    sample_rate : int
        Sampling rate of the signals.
    floor : float
        Band energies are clamped to at least this before the log.
    overshoot : float
        Weight of a band decoded louder than the target's, against 1 for
        one decoded softer. PESQ counts added energy (noise in the valleys
        between formants and harmonics) as a worse disturbance than missing
        energy; above 1 the loss does too.

    Example
    -------
    >>> loss = BandEnergyLoss()
    >>> y = torch.randn(2, 16000)
    >>> float(loss(y, y))
    0.0
    >>> round(float(loss(0.5 * y, y)), 3)  # a factor 0.5 is 2 ln 2 in energy
    1.386
    >>> louder = BandEnergyLoss(overshoot=2.0)
    >>> round(float(louder(0.5 * y, y)), 3), round(float(louder(y, 0.5 * y)), 3)
    (1.386, 2.773)
    """

    def __init__(
        self,
        n_fft=320,
        hop_length=80,
        n_bands=64,
        sample_rate=16000,
        floor=1e-8,
        overshoot=1.0,
    ):
        super().__init__()
        self.floor = floor
        self.overshoot = overshoot
        self.analysis = MelBandSpectrum(n_fft, hop_length, n_bands, sample_rate)

    def forward(self, y_hat, y):
        """Mean absolute difference of the log band energies.

        Arguments
        ---------
        y_hat : torch.Tensor
            Decoded waveforms [B, T].
        y : torch.Tensor
            Target waveforms [B, T].

        Returns
        -------
        torch.Tensor
            Scalar loss.
        """
        log_hat, log = (
            self.analysis.band_powers(self.analysis.spectrum(x))
            .clamp(min=self.floor)
            .log()
            for x in (y_hat, y)
        )
        error = log_hat - log
        return torch.where(error > 0, self.overshoot * error, -error).mean()


class SpectralBalanceLoss(torch.nn.Module):
    """L1 distance of the log mean powers of mel bands over each utterance.

    A coloration (a fixed filter: a band a few dB too soft all along) moves
    the per-frame terms little next to their frame-to-frame errors; averaged
    over the utterance first, the band powers show it plainly.

    Arguments
    ---------
    sample_rate : int
        Sampling rate of the signals.
    n_fft : int
        STFT window (hop: a quarter of it).
    n_bands : int
        Mel bands.

    Example
    -------
    >>> loss = SpectralBalanceLoss()
    >>> y = torch.randn(2, 16000)
    >>> float(loss(y, y))
    0.0
    >>> round(float(loss(0.5 * y, y)), 3)  # a factor 0.5 is 2 ln 2 in power
    1.386
    """

    def __init__(self, sample_rate=16000, n_fft=512, n_bands=32):
        super().__init__()
        self.analysis = MelBandSpectrum(n_fft, n_fft // 4, n_bands, sample_rate)

    def forward(self, y_hat, y):
        """Mean absolute difference of the log long-term band powers.

        Arguments
        ---------
        y_hat : torch.Tensor
            Decoded waveforms [B, T].
        y : torch.Tensor
            Target waveforms [B, T].

        Returns
        -------
        torch.Tensor
            Scalar loss.
        """
        log_hat, log = (
            self.analysis.mean_band_powers(self.analysis.spectrum(x)).log()
            for x in (y_hat, y)
        )
        return (log_hat - log).abs().mean()


class PesqDistanceLoss(torch.nn.Module):
    """PESQ's disturbance, differentiable: the weighted sum of the symmetric
    and asymmetric disturbances that P.862 maps to its score, measured on
    the decoded speech with its long-term spectrum matched to the target's.

    ``torch_pesq`` (PyPI ``torch-pesq``) computes the disturbances with
    P.862's level alignment, Bark loudness model and silent-frame handling,
    without its time alignment (a codec's output is aligned with its
    input). P.862 forgives a fixed coloration and level (listeners adapt to
    a channel), and a decoder trained on its score alone learns one that
    lowers the disturbance it measures: +6 dB at 300-1000 Hz and -10 dB
    below 300 Hz, with a higher PESQ and a lower STOI. So the decoded
    speech first gets, per mel band, the gain (not differentiated) that
    matches its mean power over the utterance to the target's: this term
    neither rewards nor punishes a coloration, which the spectral terms
    (:class:`SpectralBalanceLoss` above all) then keep away. Lower is
    better. Utterances with a silent target or output (where P.862's level
    alignment divides by zero) are left out.

    Arguments
    ---------
    sample_rate : int
        Sampling rate of the signals (resampled to 16 kHz inside).
    n_fft : int
        Window of the spectrum matching (hop: a quarter of it).
    n_bands : int
        Mel bands of the spectrum matching.

    Example
    -------
    >>> loss = PesqDistanceLoss()
    >>> _ = torch.manual_seed(0)
    >>> t = torch.arange(16000) / 16000
    >>> y = torch.sin(2 * torch.pi * 220 * t)[None] * torch.sin(torch.pi * 3 * t)
    >>> float(loss(y, y)) < 1e-3, float(loss(0.5 * y, y)) < 1e-3
    (True, True)
    >>> float(loss(y + 0.1 * torch.randn_like(y), y)) > 0.5
    True
    """

    def __init__(self, sample_rate=16000, n_fft=512, n_bands=32):
        super().__init__()
        from torch_pesq import PesqLoss

        self.pesq = PesqLoss(1.0, sample_rate=sample_rate)
        self.analysis = MelBandSpectrum(n_fft, n_fft // 4, n_bands, sample_rate)

    def matched(self, y_hat, y):
        """``y_hat`` [B, T] times a fixed gain per mel band that gives it
        the mean band powers of ``y``."""
        spec_hat = self.analysis.spectrum(y_hat)
        with torch.no_grad():
            gain = (
                self.analysis.mean_band_powers(self.analysis.spectrum(y))
                / self.analysis.mean_band_powers(spec_hat)
            ).sqrt()
        spec_hat = spec_hat * (gain.clamp(0.01, 100.0) @ self.analysis.bands)[..., None]
        return self.analysis.waveform(spec_hat, y.shape[-1])

    def forward(self, y_hat, y):
        """Mean disturbance of the utterances that are not silent.

        Arguments
        ---------
        y_hat : torch.Tensor
            Decoded waveforms [B, T].
        y : torch.Tensor
            Target waveforms [B, T].

        Returns
        -------
        torch.Tensor
            Scalar loss (0 when every utterance is silent).
        """
        audible = (y.detach().abs().amax(dim=1) > 1e-4) & (
            y_hat.detach().abs().amax(dim=1) > 1e-6
        )
        if not audible.any():
            return y_hat.sum() * 0.0
        y_hat, y = y_hat[audible].float(), y[audible].float()
        return self.pesq(y, self.matched(y_hat, y)).mean()


class StoiLoss(torch.nn.Module):
    """Short-time objective intelligibility (STOI), differentiable, as a
    loss: one minus the mean STOI of the utterances (PyPI ``torch-stoi``:
    the correlation of one-third-octave band envelopes over 384 ms
    segments, silent frames left out, at 10 kHz). Lower is better.
    Utterances with a silent target are left out.

    Arguments
    ---------
    sample_rate : int
        Sampling rate of the signals (resampled to 10 kHz inside).

    Example
    -------
    >>> loss = StoiLoss()
    >>> _ = torch.manual_seed(0)
    >>> t = torch.arange(16000) / 16000
    >>> y = torch.randn(1, 16000) * torch.sin(torch.pi * 4 * t)
    >>> float(loss(y, y)) < 1e-3
    True
    >>> float(loss(y + torch.randn_like(y), y)) > 0.1
    True
    """

    def __init__(self, sample_rate=16000):
        super().__init__()
        from torch_stoi import NegSTOILoss

        self.stoi = NegSTOILoss(sample_rate)

    def forward(self, y_hat, y):
        """Mean of 1 - STOI over the utterances that are not silent.

        Arguments
        ---------
        y_hat : torch.Tensor
            Decoded waveforms [B, T].
        y : torch.Tensor
            Target waveforms [B, T].

        Returns
        -------
        torch.Tensor
            Scalar loss (0 when every target is silent).
        """
        audible = y.detach().abs().amax(dim=1) > 1e-4
        if not audible.any():
            return y_hat.sum() * 0.0
        return 1.0 + self.stoi(y_hat[audible].float(), y[audible].float()).mean()
