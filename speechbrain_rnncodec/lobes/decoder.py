"""Causal recurrent decoder: latent frames -> 16 kHz waveform.

A recurrent stack with a skip path predicts, for every latent frame,
``frames_per_step`` STFT frames (log-magnitude and a phase direction, as
Vocos and APNet do); an overlap-add inverse STFT turns them into samples.
The overlap-add tail is carried as state, so decoding chunk by chunk gives
the samples of decoding the whole sequence.

Authors
 * speechbrain_rnncodec team 2026
"""

import torch

from speechbrain_rnncodec.lobes.rnn import ResidualRNN


class OverlapAddISTFT(torch.nn.Module):
    """Inverse STFT by windowed overlap-add, with the tail carried as state.

    Frame ``n`` covers samples ``[n * hop - (n_fft - hop), n * hop + hop)``,
    so each call returns exactly ``hop`` finished samples per input frame,
    delayed by ``n_fft - hop`` samples; :meth:`flush` returns the rest.

    Arguments
    ---------
    n_fft : int
        Synthesis window and FFT size.
    hop_length : int
        Hop in samples; ``n_fft`` must be a multiple of it.

    Example
    -------
    >>> istft = OverlapAddISTFT(n_fft=320, hop_length=80)
    >>> spec = torch.randn(2, 10, 161, dtype=torch.complex64)
    >>> wav, tail = istft(spec)
    >>> wav.shape, tail.shape
    (torch.Size([2, 800]), torch.Size([2, 240]))
    """

    def __init__(self, n_fft=320, hop_length=80):
        super().__init__()
        if n_fft % hop_length:
            raise ValueError("n_fft must be a multiple of hop_length")
        self.n_fft = n_fft
        self.hop_length = hop_length
        window = torch.hann_window(n_fft, periodic=True)
        # Constant sum of squared windows at this overlap: the usual
        # normalisation of the least-squares inverse STFT.
        norm = (window**2).reshape(-1, hop_length).sum(0).mean()
        self.register_buffer("window", window / norm, persistent=False)

    def forward(self, spec, tail=None):
        """Returns ``hop`` finished samples per frame, and the new tail.

        Arguments
        ---------
        spec : torch.Tensor
            Complex frames [B, N, n_fft // 2 + 1].
        tail : torch.Tensor, optional
            Unfinished samples from the previous call [B, n_fft - hop].

        Returns
        -------
        wav : torch.Tensor
            Finished samples [B, N * hop].
        tail : torch.Tensor
            Unfinished samples, for the next call or :meth:`flush`.
        """
        batch, n_frames, _ = spec.shape
        frames = torch.fft.irfft(spec, n=self.n_fft, dim=-1) * self.window
        overlap = self.n_fft - self.hop_length
        length = n_frames * self.hop_length + overlap
        out = torch.nn.functional.fold(
            frames.transpose(1, 2),
            output_size=(1, length),
            kernel_size=(1, self.n_fft),
            stride=(1, self.hop_length),
        ).reshape(batch, length)
        if tail is not None:
            out = torch.cat([out[:, :overlap] + tail, out[:, overlap:]], dim=1)
        finished = n_frames * self.hop_length
        return out[:, :finished], out[:, finished:]

    @staticmethod
    def flush(tail):
        """Returns the last unfinished samples as they are (end of signal).

        Arguments
        ---------
        tail : torch.Tensor
            The tail returned by the last call.

        Returns
        -------
        torch.Tensor
            The tail samples.
        """
        return tail


class RNNDecoder(torch.nn.Module):
    """Causal decoder: latent frames [B, T', latent_dim] -> waveform.

    Arguments
    ---------
    latent_dim : int
        Size of each latent frame.
    hidden_size : int
        Width of the recurrent stack.
    num_layers : int
        Recurrent layers.
    n_fft : int
        Synthesis window of the inverse STFT head.
    hop_length : int
        Synthesis hop in samples.
    frames_per_step : int
        STFT frames predicted per latent frame.
    rnn_type : str
        ``"lstm"`` or ``"gru"``.

    Example
    -------
    >>> dec = RNNDecoder(latent_dim=8, hidden_size=32)
    >>> wav, state = dec(torch.randn(2, 50, 8))
    >>> wav.shape
    torch.Size([2, 15760])
    >>> dec.flush(state).shape
    torch.Size([2, 240])
    >>> dec.delay_samples
    240
    """

    def __init__(
        self,
        latent_dim=128,
        hidden_size=384,
        num_layers=2,
        n_fft=320,
        hop_length=80,
        frames_per_step=4,
        rnn_type="lstm",
    ):
        super().__init__()
        self.frames_per_step = frames_per_step
        self.samples_per_frame = hop_length * frames_per_step
        self.delay_samples = n_fft - hop_length
        self.n_bins = n_fft // 2 + 1
        self.input_proj = torch.nn.Linear(latent_dim, hidden_size)
        self.rnn = ResidualRNN(hidden_size, num_layers, rnn_type)
        self.output_norm = torch.nn.LayerNorm(hidden_size)
        self.head = torch.nn.Linear(hidden_size, frames_per_step * 3 * self.n_bins)
        self.istft = OverlapAddISTFT(n_fft, hop_length)

    def spectrum(self, x):
        """Complex STFT frames [B, T' * frames_per_step, bins] from features.

        Arguments
        ---------
        x : torch.Tensor
            Output of the recurrent stack [B, T', hidden_size].

        Returns
        -------
        torch.Tensor
            Complex spectrum.
        """
        batch, steps, _ = x.shape
        # The spectrum and the inverse STFT stay in float32 under autocast.
        out = self.head(self.output_norm(x)).float()
        out = out.reshape(batch, steps * self.frames_per_step, 3, self.n_bins)
        log_mag, real, imag = out.unbind(dim=2)
        # Magnitude from log_mag, phase from the direction of (real, imag).
        scale = log_mag.clamp(max=10.0).exp() * torch.rsqrt(
            real.square() + imag.square() + 1e-12
        )
        return torch.complex(real * scale, imag * scale)

    def frames(self, latents, rnn_state=None):
        """Complex STFT frames [B, T' * frames_per_step, bins] of latents.

        Arguments
        ---------
        latents : torch.Tensor
            Latent frames [B, T', latent_dim].
        rnn_state : torch.Tensor or tuple, optional
            Recurrent state after the previous chunk (None at the start).

        Returns
        -------
        spec : torch.Tensor
            The frames the inverse STFT turns into samples.
        rnn_state : torch.Tensor or tuple
            Recurrent state after the last latent frame.
        """
        x, rnn_state = self.rnn(self.input_proj(latents), rnn_state)
        return self.spectrum(x), rnn_state

    def forward(self, latents, state=None):
        """Decodes latent frames; returns finished samples and state.

        Arguments
        ---------
        latents : torch.Tensor
            Latent frames [B, T', latent_dim].
        state : tuple, optional
            State returned by the previous chunk (None at the start).

        Returns
        -------
        wav : torch.Tensor
            Finished samples [B, T' * samples_per_frame - delay_samples]
            on the first call, ``T' * samples_per_frame`` on later calls.
        state : tuple
            Recurrent state and overlap-add tail.
        """
        rnn_state, tail = state if state is not None else (None, None)
        spec, rnn_state = self.frames(latents, rnn_state)
        wav, new_tail = self.istft(spec, tail)
        if tail is None:
            # Samples before time zero belong to no input: drop them.
            wav = wav[:, self.delay_samples :]
        return wav, (rnn_state, new_tail)

    def flush(self, state):
        """Returns the last ``delay_samples`` samples at the end of a stream.

        Arguments
        ---------
        state : tuple
            State returned by the last call.

        Returns
        -------
        torch.Tensor
            The remaining samples [B, delay_samples].
        """
        return self.istft.flush(state[1])
