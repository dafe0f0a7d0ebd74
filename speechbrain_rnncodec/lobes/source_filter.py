"""Source-filter decoder: pitch-driven excitation shaped by learned filters.

Speech is a source (glottal pulses, or turbulent noise) shaped by a filter
(the vocal tract). This decoder builds the source with DSP and lets its
recurrent stack predict only smooth, slowly varying controls, per STFT frame:
a pitch (F0) and voicing track, a harmonic envelope and a noise envelope at
band resolution. The harmonic excitation comes from a phase accumulator
driven by F0 (band-limited by construction), the noise from a fixed seeded
table; both go through the decoder's own causal STFT, are multiplied by the
envelopes (interpolated from bands to bins) and summed, optionally with a
free complex residual, then the overlap-add inverse STFT gives samples. The
harmonics and a coherent phase come from the source, as in NSF, DDSP and
LPCNet, instead of being regressed bin by bin.

Everything that depends on the past (recurrent state, phase, last F0, STFT
history, noise position, overlap-add tail) is carried as state, so chunked
decoding gives the samples of whole decoding, and decoding is deterministic.

Authors
 * speechbrain_rnncodec team 2026
"""

import collections
import math

import torch

from speechbrain_rnncodec.lobes.decoder import OverlapAddISTFT
from speechbrain_rnncodec.lobes.encoder import CausalSTFT
from speechbrain_rnncodec.lobes.excitation import (
    F0_MAX,
    F0_MIN,
    band_interpolation,
    harmonic_excitation,
    minimum_phase,
    pitch_bin_centres,
    pitch_bin_loss,
    pitch_from_bins,
    sent_pitch_track,
)
from speechbrain_rnncodec.lobes.rnn import ResidualRNN

SourceFilterState = collections.namedtuple(
    "SourceFilterState",
    [
        "rnn",
        "tail",
        "history",
        "phase",
        "f0",
        "position",
        "pitch",
        "pitch_logits",
        "sent_pitch",
    ],
)
SourceFilterState.__doc__ = """Decoder state after a call.

``rnn``: recurrent state; ``tail``: overlap-add tail; ``history``: the
excitation's STFT history; ``phase`` (float64) and ``f0``: the phase
accumulator and the F0 at the end of the last frame [B]; ``position``: the
sample index of the noise table; ``pitch``: this call's predicted pitch
controls [B, N, 2] (log F0 in Hz, voicing logit), for the pitch loss and
for analysis; ``pitch_logits``: with a classification pitch head, this
call's scores of the F0 bins [B, N, pitch_bins] (None otherwise);
``sent_pitch``: with ``pitch_input``, the held sent log F0 and the
voicing of the last frame [B, 2]."""


class SourceFilterDecoder(torch.nn.Module):
    """Causal source-filter decoder: latent frames [B, T', D] -> waveform.

    It has the interface of :class:`~speechbrain_rnncodec.lobes.decoder.
    RNNDecoder` (``forward(latents, state)``, ``flush``, ``frames``,
    ``delay_samples``, ``samples_per_frame``, ``istft``), so every caller
    (the Brain, streaming, ``RNNCodec``, ``.rnc`` files) uses it unchanged.
    The F0 is predicted from the latents (nothing extra is transmitted), or
    with ``pitch_input`` read from the two channels a pitch-sending
    bottleneck appends to them; in training, ``teacher_pitch`` may drive
    the excitation with the reference pitch while the pitch head learns.

    Arguments
    ---------
    latent_dim : int
        Size of each latent frame.
    hidden_size : int
        Width of the recurrent stack.
    num_layers : int
        Recurrent layers.
    n_fft : int
        Synthesis window of the STFT framing.
    hop_length : int
        Synthesis hop in samples.
    frames_per_step : int
        STFT frames per latent frame.
    n_bands : int
        Bands of the harmonic and noise envelopes (``n_fft // 2 + 1``:
        one per bin).
    residual : bool
        Adds a free complex term per bin to the filtered excitation.
    noise : bool
        Includes the noise branch.
    bin_correction : bool
        Adds a per-bin log-gain (zero at the start) to both envelopes after
        their interpolation from bands to bins: detail finer than the bands.
    min_phase : bool
        Gives the harmonic excitation the minimum phase of its envelope
        (:func:`~speechbrain_rnncodec.lobes.excitation.minimum_phase`), as
        LPC and WORLD synthesis do; otherwise each pulse is zero-phase.
    sample_rate : int
        Sampling rate in Hz.
    max_harmonic_hz : float
        Highest harmonic of the excitation.
    rnn_type : str
        ``"lstm"`` or ``"gru"``.
    noise_seed : int
        Seed of the noise table (part of the model: decoding is
        deterministic).
    pitch_bins : int
        0: the F0 is regressed (log F0, L1 loss); N > 0: it is classified
        into N log-spaced bins from 50 to 800 Hz (cross-entropy), read back
        with sub-bin resolution.
    pitch_input : bool
        The latents end with the sent log F0 and voicing of each frame
        (:class:`~speechbrain_rnncodec.lobes.quantization.pitch_column.
        PitchColumnQuantizer`): the F0 glides from the last voiced sent
        value to this frame's (held through unvoiced frames; :func:`~
        speechbrain_rnncodec.lobes.excitation.sent_pitch_track`), and the
        pitch head predicts only a bounded correction (within
        ``PITCH_CORRECTION`` in log F0) and the voicing.
    pitch_anchor : int, optional
        With ``pitch_input``: the STFT frame of each latent frame whose end
        the sent F0 describes (default: the last). A causal encoder tracks
        the pitch of a frame's middle better than that of its very end.
    pitch_glide : bool
        With ``pitch_input``: the latents end with a third sent channel,
        the glide (a pitch column with ``glide_codes``), which moves the
        sent track on from the anchor (its trunk reads only the F0 and
        voicing, so a trained decoder loads unchanged).

    Example
    -------
    >>> dec = SourceFilterDecoder(latent_dim=8, hidden_size=32)
    >>> wav, state = dec(torch.randn(2, 50, 8))
    >>> wav.shape, state.pitch.shape
    (torch.Size([2, 15760]), torch.Size([2, 200, 2]))
    >>> dec.flush(state).shape
    torch.Size([2, 240])
    """

    NOISE_TABLE = 1 << 18  # 16 s of white noise at 16 kHz, then it repeats
    PITCH_CORRECTION = 0.06  # log F0: about one semitone
    predicts_pitch = True  # the Brain adds the pitch losses

    def __init__(
        self,
        latent_dim=128,
        hidden_size=384,
        num_layers=2,
        n_fft=320,
        hop_length=80,
        frames_per_step=4,
        n_bands=64,
        residual=True,
        noise=True,
        bin_correction=False,
        min_phase=False,
        sample_rate=16000,
        max_harmonic_hz=7800.0,
        rnn_type="lstm",
        noise_seed=0,
        pitch_bins=0,
        pitch_input=False,
        pitch_anchor=None,
        pitch_glide=False,
    ):
        super().__init__()
        self.frames_per_step = frames_per_step
        self.hop_length = hop_length
        self.samples_per_frame = hop_length * frames_per_step
        self.delay_samples = n_fft - hop_length
        self.sample_rate = sample_rate
        self.max_harmonic_hz = max_harmonic_hz
        self.n_bins = n_fft // 2 + 1
        self.n_bands = n_bands
        self.residual = residual
        self.noise = noise
        self.bin_correction = bin_correction
        self.min_phase = min_phase
        self.input_proj = torch.nn.Linear(latent_dim, hidden_size)
        if pitch_input and pitch_bins:
            raise ValueError("a sent pitch is corrected by regression: pitch_bins=0")
        self.pitch_input = pitch_input
        if pitch_glide and not pitch_input:
            raise ValueError("pitch_glide needs pitch_input")
        self.sent_channels = (2 + pitch_glide) if pitch_input else 0
        self.pitch_anchor = (
            frames_per_step - 1 if pitch_anchor is None else pitch_anchor
        )
        if not 0 <= self.pitch_anchor < frames_per_step:
            raise ValueError(f"pitch_anchor must lie in 0..{frames_per_step - 1}")
        if pitch_input:  # starts at zero: a trained trunk keeps its function
            self.pitch_proj = torch.nn.Linear(2, hidden_size)
            torch.nn.init.zeros_(self.pitch_proj.weight)
            torch.nn.init.zeros_(self.pitch_proj.bias)
        self.rnn = ResidualRNN(hidden_size, num_layers, rnn_type)
        self.output_norm = torch.nn.LayerNorm(hidden_size)
        self._build_heads(hidden_size, pitch_bins)
        self._build_tables(noise_seed)
        self.stft = CausalSTFT(n_fft, hop_length)
        self.istft = OverlapAddISTFT(n_fft, hop_length)

    def _build_heads(self, hidden_size, pitch_bins):
        """The per-STFT-frame heads: pitch controls (a log F0, F0-bin scores
        or a correction of the sent F0, and a voicing logit), the harmonic
        and noise envelopes, their per-bin correction and the complex
        residual."""
        self.pitch_bins = pitch_bins
        self.pitch_head = torch.nn.Linear(
            hidden_size, self.frames_per_step * (1 + max(1, pitch_bins))
        )
        self.envelope_head = torch.nn.Linear(
            hidden_size, self.frames_per_step * 2 * self.n_bands
        )
        with torch.no_grad():
            if not (pitch_bins or self.pitch_input):
                self.pitch_head.bias.view(self.frames_per_step, 2)[:, 0] = math.log(
                    150.0
                )
            self.envelope_head.bias.fill_(-4.0)
        self.register_buffer(
            "pitch_centres",
            pitch_bin_centres(max(1, pitch_bins)),
            persistent=False,
        )
        if self.bin_correction:  # starts at zero: the bands speak first
            self.correction_head = torch.nn.Linear(
                hidden_size, self.frames_per_step * self.n_bins
            )
            torch.nn.init.zeros_(self.correction_head.weight)
            torch.nn.init.zeros_(self.correction_head.bias)
        if self.residual:  # starts at zero: the excitation speaks first
            self.residual_head = torch.nn.Linear(
                hidden_size, self.frames_per_step * 2 * self.n_bins
            )
            torch.nn.init.zeros_(self.residual_head.weight)
            torch.nn.init.zeros_(self.residual_head.bias)

    def _build_tables(self, noise_seed):
        """The band-to-bin interpolation and the seeded noise table."""
        self.register_buffer(
            "band_to_bin",
            band_interpolation(self.n_bands, self.n_bins, self.sample_rate),
            persistent=False,
        )
        generator = torch.Generator().manual_seed(noise_seed)
        self.register_buffer(
            "noise_table",
            torch.randn(self.NOISE_TABLE, generator=generator),
            persistent=False,
        )

    def per_frame(self, layer, x):
        """``layer(x)`` of a linear layer, each latent frame summed as if it
        were alone outside training.

        A matrix product sums in an order that depends on the matrix shape,
        so a frame decoded in a chunk of 3 and in a whole file would differ
        in the last bits; the pitch, integrated by the phase accumulator,
        must not. Outside training, layers on the pitch path run as a batch
        of one-frame products (one frame's sums do not depend on how many
        frames the batch holds), so chunked decoding gives exactly the
        samples of whole decoding.

        Arguments
        ---------
        layer : torch.nn.Linear
            A frame-wise layer.
        x : torch.Tensor
            Frames [B, T', D].

        Returns
        -------
        torch.Tensor
            ``layer(x)``.
        """
        if self.training:
            return layer(x)
        frames = x.reshape(-1, 1, x.shape[-1])
        count = frames.shape[0]
        out = torch.baddbmm(
            layer.bias.expand(count, 1, -1),
            frames,
            layer.weight.t().expand(count, -1, -1),
        )
        return out.reshape(*x.shape[:-1], -1)

    def excitation(self, f0, start):
        """Harmonic and noise excitation samples of frame F0s.

        Arguments
        ---------
        f0 : torch.Tensor
            F0 in Hz at the end of each STFT frame [B, N].
        start : SourceFilterState
            State before these frames (phase, F0, noise position).

        Returns
        -------
        harmonic, noise : torch.Tensor
            Samples [B, N * hop] each.
        phase : torch.Tensor
            Phase after the last sample.
        """
        harmonic, phase = harmonic_excitation(
            f0,
            start.phase,
            start.f0,
            self.hop_length,
            self.sample_rate,
            self.max_harmonic_hz,
        )
        noise = self.noise_samples(start.position, harmonic.shape[1])
        return harmonic, noise.expand_as(harmonic), phase

    def noise_samples(self, position, length):
        """``length`` samples [length] of the noise table from ``position``
        on (the table repeats).

        Example
        -------
        >>> dec = SourceFilterDecoder(latent_dim=8, hidden_size=8)
        >>> end = dec.NOISE_TABLE - 2
        >>> wrapped = dec.noise_table[[end, end + 1, 0, 1, 2]]
        >>> torch.equal(dec.noise_samples(end, 5), wrapped)
        True
        """
        first = position % self.NOISE_TABLE
        repeats = -(-(first + length) // self.NOISE_TABLE)
        table = self.noise_table.repeat(repeats) if repeats > 1 else self.noise_table
        return table[first : first + length]

    def initial_state(self, batch, device):
        """The state at the start of a stream (silence before it).

        Arguments
        ---------
        batch : int
            Streams.
        device : torch.device
            Where the state lives.

        Returns
        -------
        SourceFilterState
            Zero phase, F0 of 150 Hz, no history.
        """
        return SourceFilterState(
            rnn=None,
            tail=None,
            history=None,
            phase=torch.zeros(batch, dtype=torch.float64, device=device),
            f0=torch.full((batch,), 150.0, device=device),
            position=0,
            pitch=None,
            pitch_logits=None,
            sent_pitch=torch.tensor([math.log(150.0), 0.0], device=device).repeat(
                batch, 1
            ),
        )

    def frames(self, latents, state=None, teacher_pitch=None):
        """Complex STFT frames [B, T' * frames_per_step, bins] of latents.

        Arguments
        ---------
        latents : torch.Tensor
            Latent frames [B, T', latent_dim].
        state : SourceFilterState, optional
            State after the previous chunk (None at the start).
        teacher_pitch : torch.Tensor, optional
            Reference pitch [B, N, 2] (log F0 in Hz, voicing in [0, 1]) that
            drives the excitation instead of the predicted one (training).

        Returns
        -------
        spec : torch.Tensor
            The frames the inverse STFT turns into samples.
        state : SourceFilterState
            State after the last frame (``tail`` unchanged).
        """
        batch, steps, _ = latents.shape
        if state is None:
            state = self.initial_state(batch, latents.device)
        x, rnn_state, sent = self._trunk(latents, state)
        n_frames = steps * self.frames_per_step
        pitch, pitch_logits, sent_pitch = self._pitch_controls(x, sent, state)
        if teacher_pitch is not None:
            log_f0, voicing = teacher_pitch[:, :n_frames].unbind(dim=-1)
        else:
            log_f0, voicing = pitch[..., 0], torch.sigmoid(pitch[..., 1])
        f0 = log_f0.detach().exp().clamp(F0_MIN, F0_MAX)
        spec, history, phase = self._filtered_source(x, f0, voicing.detach(), state)
        new_state = SourceFilterState(
            rnn=rnn_state,
            tail=state.tail,
            history=history,
            phase=phase,
            f0=f0[:, -1],
            position=(state.position + n_frames * self.hop_length) % self.NOISE_TABLE,
            pitch=pitch,
            pitch_logits=pitch_logits,
            sent_pitch=sent_pitch,
        )
        return spec, new_state

    def _trunk(self, latents, state):
        """The recurrent stack's output [B, T', H] and state, and the sent
        pitch channels [B, T', 2 (+ 1)] (None without ``pitch_input``)."""
        sent = None
        if self.pitch_input:
            split = latents.shape[-1] - self.sent_channels
            latents, sent = latents[..., :split], latents[..., split:].float()
        x = self.per_frame(self.input_proj, latents)
        if sent is not None:
            features = sent[..., :2] - sent.new_tensor([math.log(150.0), 0.0])
            x = x + self.per_frame(self.pitch_proj, features)
        x, rnn_state = self.rnn(x, state.rnn)
        return self.output_norm(x), rnn_state, sent

    def _pitch_controls(self, x, sent, state):
        """Pitch controls [B, N, 2] (log F0, voicing logit) of the stack's
        output, the F0-bin scores (or None) and the sent pitch state."""
        batch, steps, _ = x.shape
        n_frames = steps * self.frames_per_step
        raw = self.per_frame(self.pitch_head, x).float().reshape(batch, n_frames, -1)
        if self.pitch_bins:
            logits = raw[..., : self.pitch_bins]
            log_f0 = pitch_from_bins(logits, self.pitch_centres)
            return torch.stack([log_f0, raw[..., -1]], dim=-1), logits, state.sent_pitch
        if sent is None:
            return raw, None, state.sent_pitch
        base, sent_pitch = sent_pitch_track(
            sent, state.sent_pitch, self.frames_per_step, self.pitch_anchor
        )
        log_f0 = base + self.PITCH_CORRECTION * torch.tanh(raw[..., 0])
        return torch.stack([log_f0, raw[..., 1]], dim=-1), None, sent_pitch

    def _filtered_source(self, x, f0, voicing, state):
        """STFT frames [B, N, bins]: the excitation of ``f0`` [B, N] shaped by
        the envelopes (the harmonic one times ``voicing``), plus the
        residual; also the new STFT history and phase."""
        batch, steps, _ = x.shape
        n_frames = steps * self.frames_per_step
        envelopes = self.envelope_head(x).float().reshape(batch, n_frames, -1)
        harmonic, noise, phase = self.excitation(f0, state)
        if not self.noise:
            noise = torch.zeros_like(noise)
        history = state.history
        if history is None:
            history = harmonic.new_zeros(2 * batch, self.stft.n_fft - self.hop_length)
        source, history = self.stft(torch.cat([harmonic, noise]), history)
        harmonic_spec, noise_spec = source.chunk(2)
        gains = torch.stack(envelopes.split(self.n_bands, dim=-1))
        gains = gains.clamp(max=10.0).exp() @ self.band_to_bin
        if self.bin_correction:
            correction = self.correction_head(x).float().reshape(batch, n_frames, -1)
            gains = gains * correction.clamp(-5.0, 5.0).exp()
        if self.min_phase:
            harmonic_spec = harmonic_spec * minimum_phase(gains[0], self.stft.n_fft)
        # Complex frames as pairs of reals: a product by a real gain is then
        # two real products (a complex product would promote the gain), and
        # gives the same numbers.
        harmonic = torch.view_as_real(harmonic_spec) * gains[0][..., None]
        harmonic *= voicing[..., None, None]
        spec = torch.view_as_real(noise_spec) * gains[1][..., None]
        spec += harmonic
        if self.residual:
            residual = self.residual_head(x).float()
            spec += residual.reshape(batch, n_frames, 2, self.n_bins).transpose(2, 3)
        return torch.view_as_complex(spec), history, phase

    def pitch_loss(self, state, reference_log_f0):
        """Per-frame F0 loss of a call's predictions [B, N]: L1 of log F0
        (regression head) or :func:`pitch_bin_loss` (classification head).

        Arguments
        ---------
        state : SourceFilterState
            The state after the call.
        reference_log_f0 : torch.Tensor
            Target log F0 [B, N].

        Returns
        -------
        torch.Tensor
            Loss per frame.
        """
        if self.pitch_bins:
            width = float(self.pitch_centres[1] - self.pitch_centres[0])
            return pitch_bin_loss(
                state.pitch_logits, reference_log_f0, self.pitch_centres, width
            )
        return (state.pitch[..., 0] - reference_log_f0).abs()

    def forward(self, latents, state=None, teacher_pitch=None):
        """Decodes latent frames; returns finished samples and state.

        Arguments
        ---------
        latents : torch.Tensor
            Latent frames [B, T', latent_dim].
        state : SourceFilterState, optional
            State returned by the previous chunk (None at the start).
        teacher_pitch : torch.Tensor, optional
            Reference pitch that drives the excitation (training).

        Returns
        -------
        wav : torch.Tensor
            Finished samples [B, T' * samples_per_frame - delay_samples]
            on the first call, ``T' * samples_per_frame`` on later calls.
        state : SourceFilterState
            State for the next chunk; ``state.pitch`` holds this call's
            predicted pitch controls.
        """
        spec, state = self.frames(latents, state, teacher_pitch)
        wav, tail = self.istft(spec, state.tail)
        if state.tail is None:
            # Samples before time zero belong to no input: drop them.
            wav = wav[:, self.delay_samples :]
        return wav, state._replace(tail=tail)

    def flush(self, state):
        """Returns the last ``delay_samples`` samples at the end of a stream.

        Arguments
        ---------
        state : SourceFilterState
            State returned by the last call.

        Returns
        -------
        torch.Tensor
            The remaining samples [B, delay_samples].
        """
        return self.istft.flush(state.tail)
