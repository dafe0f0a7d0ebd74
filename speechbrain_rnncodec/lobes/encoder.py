"""Causal recurrent encoder: 16 kHz waveform -> latent frames at 50 Hz.

The front end is a causal STFT (each window ends at the current sample, so
the encoder never looks ahead); its log-magnitude and power-law compressed
complex spectra are stacked by ``frames_per_step`` and fed to a recurrent
stack with a skip path. All work that depends on time runs at the frame
rate, which keeps training and inference cheap on a CPU.

Authors
 * speechbrain_rnncodec team 2026
"""

import torch

from speechbrain_rnncodec.lobes.excitation import (
    band_interpolation,
    pitch_bin_centres,
    pitch_from_bins,
    refine_pitch,
    refinement_history,
)
from speechbrain_rnncodec.lobes.rnn import ResidualRNN

# The glide F0 (``pitch_glide``) is searched this close to the refined F0.
GLIDE_SEMITONES = 1.5


class CausalSTFT(torch.nn.Module):
    """STFT whose windows end at the current hop, with carried history.

    ``forward`` takes a number of samples that is a multiple of
    ``hop_length`` and returns one frame per hop. The last
    ``n_fft - hop_length`` input samples are returned as state, so chunked
    calls give exactly the frames of one call on the whole signal.

    Arguments
    ---------
    n_fft : int
        Window and FFT size in samples.
    hop_length : int
        Hop in samples.

    Example
    -------
    >>> stft = CausalSTFT(n_fft=640, hop_length=160)
    >>> spec, history = stft(torch.randn(2, 1600))
    >>> spec.shape, history.shape
    (torch.Size([2, 10, 321]), torch.Size([2, 480]))
    """

    def __init__(self, n_fft=640, hop_length=160):
        super().__init__()
        if n_fft < hop_length:
            raise ValueError("n_fft must be at least hop_length")
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.register_buffer(
            "window", torch.hann_window(n_fft, periodic=True), persistent=False
        )

    def forward(self, wav, history=None):
        """Returns complex frames [B, T / hop, n_fft // 2 + 1] and history.

        Arguments
        ---------
        wav : torch.Tensor
            Samples [B, T], T a multiple of ``hop_length``.
        history : torch.Tensor, optional
            The previous call's history [B, n_fft - hop_length] (None: zeros).

        Returns
        -------
        spec : torch.Tensor
            Complex spectrum frames.
        history : torch.Tensor
            The last ``n_fft - hop_length`` samples seen.
        """
        if wav.shape[1] % self.hop_length:
            raise ValueError(
                f"{wav.shape[1]} samples is not a multiple of the hop "
                f"({self.hop_length})"
            )
        frames, history = self.windowed_frames(wav, history)
        return torch.fft.rfft(frames, dim=-1), history

    def windowed_frames(self, wav, history=None):
        """The windowed frames [B, T / hop, n_fft] that :meth:`forward`
        transforms, and the history (same arguments)."""
        if history is None:
            history = wav.new_zeros(wav.shape[0], self.n_fft - self.hop_length)
        padded = torch.cat([history, wav], dim=1)
        frames = padded.unfold(1, self.n_fft, self.hop_length) * self.window
        return frames, padded[:, padded.shape[1] - history.shape[1] :]


def with_past(wav, past, needed):
    """``wav`` [B, T] behind the newest ``needed`` samples of ``past``
    (None: silence), [B, needed + T].

    Example
    -------
    >>> with_past(torch.ones(1, 2), None, 3)
    tensor([[0., 0., 0., 1., 1.]])
    """
    if past is None:
        past = wav.new_zeros(wav.shape[0], needed)
    return torch.cat([past[:, past.shape[1] - needed :], wav], dim=1)


class RNNEncoder(torch.nn.Module):
    """Causal encoder: waveform [B, T] -> latent frames [B, T', latent_dim].

    Arguments
    ---------
    n_fft : int
        Analysis window of the causal STFT front.
    hop_length : int
        STFT hop in samples.
    frames_per_step : int
        STFT frames stacked into one latent frame (latent rate is
        ``sample_rate / (hop_length * frames_per_step)``).
    hidden_size : int
        Width of the recurrent stack.
    num_layers : int
        Recurrent layers.
    latent_dim : int
        Size of each latent frame.
    rnn_type : str
        ``"lstm"`` or ``"gru"``.
    compress_exponent : float
        Exponent of the power-law compressed complex spectrum features.
    pitch_bins : int
        0: latents only. N > 0: each frame also carries ``1 + N`` pitch
        scores from a head on the recurrent stack (a voicing logit, then N
        log-spaced F0 bins at the frame's end), for a bottleneck that sends
        the pitch (:class:`~speechbrain_rnncodec.lobes.quantization.
        pitch_column.PitchColumnQuantizer`).
    pitch_lags : list of int, optional
        With ``pitch_bins``: the pitch head also reads the normalised
        autocorrelation of each frame's newest STFT window at lags
        ``pitch_lags[0]`` to ``pitch_lags[1]`` samples (e.g. 20-320: 800-50
        Hz), as classic pitch trackers do, through a hidden layer. None: a
        linear head on the recurrent stack.
    pitch_refinement : int, optional
        With ``pitch_bins``: each frame also carries the head's F0 refined
        by :func:`~speechbrain_rnncodec.lobes.excitation.refine_pitch` over
        the newest ``pitch_refinement`` samples (its log F0 in Hz, the last
        channel), which the pitch column sends instead of the head's own
        (a finer F0: 9 cents against 16 on dev-clean-5). None: not.
    pitch_glide : int, optional
        With ``pitch_refinement``: each frame also carries the F0 of its
        newest ``pitch_glide`` samples, refined within 1.5 semitones of
        the refined F0 (its log F0 in Hz, the last channel): where the
        pitch goes by the frame's end, which a pitch column with
        ``glide_codes`` sends as a glide. None: not.
    subframe_bands : int, optional
        The log energies of this many mel bands in every ``subframe_hop``
        of the frame (Hann windows of ``4 * subframe_hop`` ending there)
        join the input through a projection that starts at zero: the
        energy's course inside the frame, which the long STFT window
        smears and the decoder's short frames need. None: not.
    subframe_hop : int
        Hop of those energies in samples (a divisor of the frame).
    sample_rate : int
        Sampling rate in Hz (the refinement's lags are in samples).

    Example
    -------
    >>> enc = RNNEncoder(hidden_size=32, latent_dim=8)
    >>> latents, state = enc(torch.randn(2, 16000))
    >>> latents.shape
    torch.Size([2, 50, 8])
    >>> enc.samples_per_frame
    320
    """

    def __init__(
        self,
        n_fft=640,
        hop_length=160,
        frames_per_step=2,
        hidden_size=256,
        num_layers=2,
        latent_dim=128,
        rnn_type="lstm",
        compress_exponent=0.3,
        pitch_bins=0,
        pitch_lags=None,
        pitch_refinement=None,
        pitch_glide=None,
        subframe_bands=None,
        subframe_hop=80,
        sample_rate=16000,
    ):
        super().__init__()
        self.sample_rate = sample_rate
        self.stft = CausalSTFT(n_fft, hop_length)
        self.frames_per_step = frames_per_step
        self.samples_per_frame = hop_length * frames_per_step
        self.compress_exponent = compress_exponent
        n_bins = n_fft // 2 + 1
        self.input_proj = torch.nn.Linear(3 * n_bins * frames_per_step, hidden_size)
        self.input_norm = torch.nn.LayerNorm(hidden_size)
        self.subframe_bands = subframe_bands
        if subframe_bands:
            self._build_subframe_front(subframe_bands, subframe_hop, hidden_size)
        self.rnn = ResidualRNN(hidden_size, num_layers, rnn_type)
        self.output_proj = torch.nn.Linear(hidden_size, latent_dim)
        self.pitch_lags = pitch_lags if pitch_bins else None
        if self.pitch_lags:
            lags = pitch_lags[1] - pitch_lags[0] + 1
            self.pitch_head = torch.nn.Sequential(
                torch.nn.Linear(hidden_size + lags, hidden_size),
                torch.nn.GELU(),
                torch.nn.Linear(hidden_size, 1 + pitch_bins),
            )
        else:
            self.pitch_head = (
                torch.nn.Linear(hidden_size, 1 + pitch_bins) if pitch_bins else None
            )
        self.pitch_refinement = pitch_refinement if pitch_bins else None
        if self.pitch_refinement:
            past = refinement_history(
                pitch_refinement, self.samples_per_frame, sample_rate
            )
            if past > n_fft - hop_length:
                raise ValueError(
                    f"pitch_refinement {pitch_refinement} needs {past} samples of "
                    f"the past, the STFT history holds {n_fft - hop_length}"
                )
            self.register_buffer(
                "pitch_centres",
                pitch_bin_centres(pitch_bins),
                persistent=False,
            )
        self.pitch_glide = pitch_glide if self.pitch_refinement else None
        if pitch_glide and not self.pitch_glide:
            raise ValueError("pitch_glide needs pitch_bins and pitch_refinement")
        if self.pitch_glide and self.pitch_glide > self.pitch_refinement:
            raise ValueError("pitch_glide must not exceed pitch_refinement")
        pitch_channels = 1 + pitch_bins + bool(self.pitch_refinement)
        pitch_channels += bool(self.pitch_glide)
        self.output_dim = latent_dim + (pitch_channels if pitch_bins else 0)

    def _build_subframe_front(self, bands, hop, hidden_size):
        """The sub-frame band energies' window, filterbank and projection
        (zero at the start: a trained encoder keeps its function)."""
        window = 4 * hop
        if self.samples_per_frame % hop:
            raise ValueError(f"subframe_hop {hop} must divide the frame")
        if window - hop > self.stft.n_fft - self.stft.hop_length:
            raise ValueError("the sub-frame window needs more past than the STFT keeps")
        self.subframe_hop = hop
        self.subframe_stft = CausalSTFT(window, hop)
        self.register_buffer(
            "subframe_filters",
            band_interpolation(bands, window // 2 + 1, self.sample_rate).T,
            persistent=False,
        )
        steps = self.samples_per_frame // hop
        self.subframe_proj = torch.nn.Linear(steps * bands, hidden_size)
        torch.nn.init.zeros_(self.subframe_proj.weight)
        torch.nn.init.zeros_(self.subframe_proj.bias)

    def subframe_energies(self, wav, past):
        """Log band energies of each sub-frame, [B, T', steps * bands].

        Arguments
        ---------
        wav : torch.Tensor
            This call's samples [B, T' * frame].
        past : torch.Tensor
            The STFT history before them (None at the start: silence).

        Returns
        -------
        torch.Tensor
            Natural-log energies, the sub-frames of each frame in order.
        """
        needed = self.subframe_stft.n_fft - self.subframe_hop
        history = None if past is None else past[:, past.shape[1] - needed :]
        spec, _ = self.subframe_stft(wav, history)
        power = spec.real.square() + spec.imag.square()
        energies = (power @ self.subframe_filters).clamp(min=1e-10).log()
        batch = wav.shape[0]
        return energies.reshape(batch, wav.shape[1] // self.samples_per_frame, -1)

    def features(self, spec):
        """Log-magnitude and compressed complex spectrum, [B, T, 3 * bins].

        Arguments
        ---------
        spec : torch.Tensor
            Complex STFT frames [B, T, bins].

        Returns
        -------
        torch.Tensor
            Real features.
        """
        real, imag = spec.real, spec.imag
        log_mag = 0.5 * (real.square() + imag.square()).clamp(min=1e-10).log()
        scale = torch.exp((self.compress_exponent - 1) * log_mag)
        return torch.cat([log_mag, real * scale, imag * scale], dim=-1)

    def autocorrelation(self, frames):
        """Normalised autocorrelation at ``pitch_lags`` of windowed frames.

        Arguments
        ---------
        frames : torch.Tensor
            Windowed frames [B, T, n_fft] (the STFT's window).

        Returns
        -------
        torch.Tensor
            [B, T, lags], 1 at lag 0 (linear, not circular: the frame is
            zero-padded to a power of two at least ``n_fft`` plus the longest
            lag).
        """
        low, high = self.pitch_lags
        size = 1 << (frames.shape[-1] + high - 1).bit_length()
        spec = torch.fft.rfft(frames, n=size, dim=-1)
        lags = torch.fft.irfft(spec.real.square() + spec.imag.square(), n=size, dim=-1)
        return lags[..., low : high + 1] / lags[..., :1].clamp(min=1e-8)

    def forward(self, wav, state=None):
        """Encodes ``wav`` [B, T], T a multiple of ``samples_per_frame``.

        Arguments
        ---------
        wav : torch.Tensor
            Waveforms [B, T].
        state : tuple, optional
            State returned by the previous chunk (None at the start).

        Returns
        -------
        latents : torch.Tensor
            Latent frames [B, T / samples_per_frame, output_dim] (the
            latent, then the pitch scores if any).
        state : tuple
            STFT history and recurrent state, for the next chunk.
        """
        if wav.shape[1] % self.samples_per_frame:
            raise ValueError(
                f"{wav.shape[1]} samples is not a multiple of the frame "
                f"size ({self.samples_per_frame})"
            )
        past, rnn_state = state if state is not None else (None, None)
        frames, history = self.stft.windowed_frames(wav, past)
        spec = torch.fft.rfft(frames, dim=-1)
        feats = self.features(spec)
        batch, n_frames, dim = feats.shape
        feats = feats.reshape(
            batch, n_frames // self.frames_per_step, dim * self.frames_per_step
        )
        x = self.input_proj(feats)
        if self.subframe_bands:
            x = x + self.subframe_proj(self.subframe_energies(wav, past))
        x = self.input_norm(x)
        x, rnn_state = self.rnn(x, rnn_state)
        latents = self.output_proj(x)
        if self.pitch_head is not None:
            if self.pitch_lags:
                newest = frames[:, self.frames_per_step - 1 :: self.frames_per_step]
                x = torch.cat([x, self.autocorrelation(newest)], dim=-1)
            scores = self.pitch_head(x)
            latents = torch.cat([latents, scores], dim=-1)
            if self.pitch_refinement:
                refined = self.refined_pitch(wav, past, scores)
                latents = torch.cat([latents, refined], dim=-1)
        return latents, (history, rnn_state)

    @torch.no_grad()
    def refined_pitch(self, wav, past, scores):
        """The head's F0 refined on the waveform, [B, T', 1] (log F0 in Hz),
        then with ``pitch_glide`` the F0 of the frames' newest samples.

        Arguments
        ---------
        wav : torch.Tensor
            This call's frames [B, T' * frame].
        past : torch.Tensor
            The STFT history before them (None at the start: silence).
        scores : torch.Tensor
            The pitch head's scores [B, T', 1 + pitch_bins].

        Returns
        -------
        torch.Tensor
            Log F0 of each frame (and its glide F0), float32.
        """
        frame = self.samples_per_frame
        needed = refinement_history(self.pitch_refinement, frame, self.sample_rate)
        signal = with_past(wav, past, needed)
        coarse = pitch_from_bins(scores[..., 1:].float(), self.pitch_centres)
        # float32 even under a bfloat16 autocast (whose steps are 50 cents)
        signal = signal.float()
        refined = refine_pitch(
            signal, coarse, frame, self.pitch_refinement, self.sample_rate
        )
        if not self.pitch_glide:
            return refined[..., None]
        glide_past = refinement_history(self.pitch_glide, frame, self.sample_rate)
        glide = refine_pitch(
            signal[:, needed - glide_past :],
            refined,
            frame,
            self.pitch_glide,
            self.sample_rate,
            semitones=GLIDE_SEMITONES,
        )
        return torch.stack([refined, glide], dim=-1)
