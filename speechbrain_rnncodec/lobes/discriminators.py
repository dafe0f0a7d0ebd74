"""A light multi-resolution STFT discriminator for adversarial training on
a CPU.

Authors
 * speechbrain_rnncodec team 2026
"""

import torch


class STFTDiscriminator(torch.nn.Module):
    """2-D convolutions over the complex STFT (real and imaginary parts as
    two channels), as EnCodec's and DAC's spectral discriminators, with few
    channels and strides along frequency to stay cheap.

    Arguments
    ---------
    n_fft : int
        FFT size (hop = n_fft / 4).
    channels : int
        Width of the convolutions.
    layers : int
        Strided convolutions (each halves the frequency axis).

    Example
    -------
    >>> disc = STFTDiscriminator(n_fft=256, channels=4)
    >>> score, features = disc(torch.randn(2, 1, 4000))
    >>> score.shape[0], len(features)
    (2, 5)
    """

    def __init__(self, n_fft=512, channels=16, layers=3):
        super().__init__()
        self.n_fft = n_fft
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        convs = [torch.nn.Conv2d(2, channels, (3, 9), padding=(1, 4))]
        for _ in range(layers):
            convs.append(
                torch.nn.Conv2d(
                    channels, channels, (3, 9), stride=(1, 2), padding=(1, 4)
                )
            )
        convs.append(torch.nn.Conv2d(channels, channels, (3, 3), padding=(1, 1)))
        self.convs = torch.nn.ModuleList(
            torch.nn.utils.parametrizations.weight_norm(c) for c in convs
        )
        self.output = torch.nn.utils.parametrizations.weight_norm(
            torch.nn.Conv2d(channels, 1, (3, 3), padding=(1, 1))
        )

    def forward(self, wav):
        """Score map [B, 1, frames, bins'] and the feature maps of each layer.

        Arguments
        ---------
        wav : torch.Tensor
            Waveforms [B, 1, T].
        """
        spec = torch.stft(
            wav[:, 0].float(),
            self.n_fft,
            self.n_fft // 4,
            window=self.window,
            return_complex=True,
        )
        x = torch.stack([spec.real, spec.imag], dim=1).transpose(2, 3)
        features = []
        for conv in self.convs:
            x = torch.nn.functional.leaky_relu(conv(x), 0.1)
            features.append(x)
        return self.output(x), features


class MultiResolutionSTFTDiscriminator(torch.nn.Module):
    """:class:`STFTDiscriminator` at several FFT sizes, with the interface
    of SpeechBrain's ``HifiganDiscriminator`` (lists of scores and of
    feature lists), so HiFi-GAN's adversarial and feature-matching losses
    apply unchanged.

    Arguments
    ---------
    n_ffts : list of int
        One discriminator per FFT size.
    channels : int
        Width of each discriminator.

    Example
    -------
    >>> disc = MultiResolutionSTFTDiscriminator(n_ffts=[128, 256], channels=4)
    >>> scores, features = disc(torch.randn(2, 1, 4000))
    >>> len(scores), len(features), len(features[0])
    (2, 2, 5)
    """

    def __init__(self, n_ffts=(256, 512, 1024), channels=16):
        super().__init__()
        self.discriminators = torch.nn.ModuleList(
            STFTDiscriminator(n_fft, channels) for n_fft in n_ffts
        )

    def forward(self, wav):
        """Scores and features of waveforms [B, 1, T] at each resolution."""
        scores, features = [], []
        for disc in self.discriminators:
            score, feats = disc(wav)
            scores.append(score)
            features.append(feats)
        return scores, features
