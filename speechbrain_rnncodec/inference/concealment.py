"""Concealment of lost token frames: the recurrent decoder continues
through a gap, fading to silence over long gaps, and picks up the
received frames from where it is.

:class:`ConcealingDecoder` takes, for every 20 ms frame, either its
received codes or "lost", and gives exactly ``samples_per_frame`` samples
per frame (the decoder's overlap-add delay is handled as in
``TokenStreamDecoder``: the first push gives ``delay_samples`` fewer,
:meth:`~ConcealingDecoder.flush` the rest). Methods (``method=``):

* ``"repeat"`` (the default, chosen by measurement, BENCHMARKS.md): the
  last received frame's codes again; the decoder's recurrent state moves
  on, so the sound evolves instead of looping one frame.
* ``"prior"``: the learned token prior (``token_prior.npz``, the entropy
  coder's GRU) is run afresh over the last ``context_frames`` frames, as
  the coder runs it inside a packet, and its most likely codes of the
  modelled codebooks (the first three) are the lost frame; their code
  vectors are the decoder's input (the finer codebooks contribute
  nothing), and the prediction is the context of the next lost frame.
* ``"prior-mean"``: the same prior, but the expected code vector under its
  probabilities instead of the most likely one.
* ``"silence"``: zeros, and the decoder starts afresh after the gap (what
  ``.rnc`` decoding did before concealment existed; a gap's zeros come out
  at once, so this method does not lag by the decoder's delay there).

Except for ``"silence"``, the decoder's recurrent state and overlap-add
tail run on through the gap, so the first received frame continues from
them (no restart, no click); the output gain holds at 1 for
``fade_after_ms`` (60), falls linearly to 0 at ``silent_after_ms`` (400)
of loss, and ramps back to 1 over the first received frame, each change
spread linearly over a frame's samples.

Example
-------
>>> from speechbrain_rnncodec.inference import RNNCodec
>>> codec = RNNCodec.from_hparams()
>>> tokens, _ = codec.encode(0.1 * torch.randn(1, 3200), bitrate=3.0)
>>> lost = torch.tensor([[False, False, True, True, False] * 2])
>>> conceal_decode(codec, tokens, lost).shape  # 10 frames of 320 samples
torch.Size([1, 3200])
>>> decoder = ConcealingDecoder(codec)
>>> parts = [decoder.push(tokens[:, :2]), decoder.push(None), decoder.flush()]
>>> [p.shape[1] for p in parts]  # the decoder's delay: 240 samples
[400, 320, 240]

Authors
 * speechbrain_rnncodec team 2026
"""

import collections

import numpy as np
import torch

from speechbrain_rnncodec.entropy.coding import ContextFreeModel

METHODS = ("prior", "prior-mean", "repeat", "silence")
DEFAULT_METHOD = "repeat"
FADE_AFTER_MS = 60.0
SILENT_AFTER_MS = 400.0
CONTEXT_FRAMES = 49  # the coder's packets: at most 49 frames before a frame


def fade_gains(lost_run, fade_after, silent_after):
    """Gain of each frame of a run of lost frames (1-based positions).

    Arguments
    ---------
    lost_run : array-like
        Frames lost in a row so far, at each frame (0: received).
    fade_after : int
        Lost frames at full gain.
    silent_after : int
        Lost frames after which the gain is 0 (> fade_after).

    Returns
    -------
    numpy.ndarray
        Gains in [0, 1].

    Example
    -------
    >>> fade_gains([0, 1, 2, 3, 4, 5, 6, 0], 2, 6).tolist()
    [1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0, 1.0]
    """
    run = np.asarray(lost_run, dtype=np.float64)
    fading = (run - fade_after) / (silent_after - fade_after)
    return np.clip(1.0 - np.maximum(fading, 0.0), 0.0, 1.0)


class ConcealingDecoder:
    """Tokens or "lost" in, exactly 20 ms of samples per frame out.

    Arguments
    ---------
    codec : RNNCodec
        The loaded codec.
    method : str
        One of :data:`METHODS` (default ``"repeat"``).
    fade_after_ms : float
        Loss after which the gain starts to fall (whole frames).
    silent_after_ms : float
        Loss after which the output is silent (whole frames).
    prior : EntropyModel, optional
        The token prior (default: ``codec.entropy_model``; the prior
        methods need a learned one).
    context_frames : int
        Frames the prior reads before a lost frame.

    Attributes
    ----------
    frames : int
        Frames pushed so far.
    concealed : int
        Of them, the lost ones.
    """

    def __init__(
        self,
        codec,
        method=DEFAULT_METHOD,
        fade_after_ms=FADE_AFTER_MS,
        silent_after_ms=SILENT_AFTER_MS,
        prior=None,
        context_frames=CONTEXT_FRAMES,
    ):
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, not {method!r}")
        self.hop = int(codec.codec.samples_per_frame)
        frame_ms = 1000.0 * self.hop / codec.sample_rate
        self.fade_after = int(round(fade_after_ms / frame_ms))
        self.silent_after = int(round(silent_after_ms / frame_ms))
        if not 0 <= self.fade_after < self.silent_after:
            raise ValueError(
                "need 0 <= fade_after_ms < silent_after_ms (in whole frames of "
                f"{frame_ms:g} ms), not {fade_after_ms:g} and {silent_after_ms:g}"
            )
        self.codec = codec
        self.method = method
        self.quantizer = codec.codec.quantizer
        self.precision = codec.inference_ctx
        self.device = codec.device
        self.prior = None
        if method.startswith("prior"):
            self.prior = prior if prior is not None else codec.entropy_model
            if isinstance(self.prior, ContextFreeModel) or not hasattr(
                self.prior, "start_packet"
            ):
                raise ValueError(
                    f"method {method!r} needs a learned token prior (token_prior.npz "
                    "in the model's folder); this model has none: use 'repeat'"
                )
        self.history = collections.deque(maxlen=max(int(context_frames), 0))
        self.context = None  # the prior's state inside a gap
        self.stream = codec.streaming_decoder()
        self.num_codebooks = None
        self.last_codes = self.last_latent = self.books = None
        self.lost_run = 0
        self.received = False
        self.gain = None  # gain at the end of the last frame
        self.gains = collections.deque()  # (start, end) gain of unfinished frames
        self.emitted = 0  # samples given out so far
        self.frames = 0
        self.concealed = 0

    # ------------------------------------------------------------------ input
    def _frames(self, tokens, lost):
        """Codes [t, K] (int64, NumPy) and the lost mask [t] of a push."""
        if tokens is None:
            if lost is not None:
                raise ValueError("push(None) conceals one frame; give no lost mask")
            count = self.num_codebooks or 1
            return np.zeros((1, count), dtype=np.int64), np.ones(1, dtype=bool)
        tokens = torch.as_tensor(tokens)
        if tokens.dtype.is_floating_point or tokens.dtype == torch.bool:
            raise ValueError(f"tokens must be integer codes, not {tokens.dtype}")
        if tokens.dim() != 3 or tokens.shape[0] != 1:
            raise ValueError(
                "a ConcealingDecoder decodes one stream: tokens [1, t, K], not "
                f"{list(tokens.shape)}"
            )
        if lost is None:
            lost = torch.zeros(tokens.shape[:2], dtype=torch.bool)
        lost = torch.as_tensor(lost, dtype=torch.bool)
        if lost.shape != tokens.shape[:2]:
            raise ValueError(
                f"lost must be [1, {tokens.shape[1]}] like the tokens, not "
                f"{list(lost.shape)}"
            )
        codes = tokens[0].detach().cpu().numpy().astype(np.int64)
        if (~lost).any():
            self._check_codebooks(codes.shape[1])
        return codes, lost[0].cpu().numpy()

    def _check_codebooks(self, count):
        if self.num_codebooks is None:
            self.num_codebooks = count
        elif count != self.num_codebooks:
            raise ValueError(
                f"tokens of {count} codebooks after {self.num_codebooks}: one "
                "stream keeps its bitrate"
            )

    # --------------------------------------------------------------- latents
    def _predicted(self):
        """Latent and codes of a lost frame, from the prior or the last frame."""
        if not self.received:
            return None, None  # nothing to continue: silent anyway
        if self.method == "repeat":
            return self.last_latent, self.last_codes
        if self.context is None:
            self.context = self.prior.start_packet(self.num_codebooks)
            for codes in self.history:
                self.context.next_tables()
                self.context.update(codes)
        tables = np.asarray(self.context.next_tables())
        codes = tables.argmax(axis=1)
        self.context.update(codes)
        if self.method == "prior":
            values = torch.as_tensor(codes, device=self.device)[None, None]
            return self.quantizer.decode(values)[0, 0], codes
        books = self._codebooks(len(tables))
        probs = torch.as_tensor(tables / tables.sum(axis=1, keepdims=True))
        return torch.einsum("kc,kcd->d", probs.to(books), books), codes

    def _codebooks(self, count):
        """Code vectors [count, C, D] of the first ``count`` codebooks."""
        if self.books is None or len(self.books) != count:
            self.books = self.quantizer.code_table(count, self.device)
        return self.books

    def _latents(self, codes, lost):
        """Decoder inputs [1, t, D] of a push; advances the gap state."""
        safe = torch.as_tensor(np.where(lost[:, None], 0, codes), device=self.device)
        out = self.quantizer.decode(safe[None])[0].clone()
        for t, (frame, missing) in enumerate(zip(codes, lost, strict=True)):
            if missing:
                latent, used = self._predicted()
                self.lost_run += 1
                self.concealed += 1
                out[t] = 0.0 if latent is None else latent
            else:
                used, self.last_codes, self.last_latent = frame, frame, out[t]
                self.received, self.lost_run, self.context = True, 0, None
            if used is not None:
                self.history.append(used)
            gain = self._gain() if self.received else 0.0
            self.gains.append((gain if self.gain is None else self.gain, gain))
            self.gain = gain
        return out[None]

    def _gain(self):
        run = [self.lost_run]
        return float(fade_gains(run, self.fade_after, self.silent_after)[0])

    # ---------------------------------------------------------------- output
    def _apply_gains(self, wav):
        """Multiplies samples just finished by the gain ramps of their frames."""
        n = wav.shape[1]
        if n == 0:
            return wav
        pos = torch.arange(self.emitted, self.emitted + n, device=wav.device)
        first = self.emitted // self.hop
        ramps = torch.tensor(
            [self.gains[f - first] for f in range(first, (pos[-1] // self.hop) + 1)],
            dtype=wav.dtype,
            device=wav.device,
        )
        frame = pos // self.hop - first
        share = ((pos % self.hop) + 1).to(wav.dtype) / self.hop
        gain = ramps[frame, 0] + (ramps[frame, 1] - ramps[frame, 0]) * share
        self.emitted += n
        while self.gains and (self.emitted // self.hop) > first:
            self.gains.popleft()
            first += 1
        return wav * gain

    @torch.no_grad()
    def push(self, tokens=None, lost=None):
        """Decodes the next frames; returns finished samples [1, n].

        Arguments
        ---------
        tokens : torch.Tensor or None
            Codes [1, t, K] of the next t frames (values of lost frames are
            ignored), or None: one lost frame.
        lost : torch.Tensor, optional
            [1, t] bool, True where a frame was lost (default: none).

        Returns
        -------
        torch.Tensor
            Samples [1, t * samples_per_frame] (``delay_samples`` fewer on
            the first call), on the model's device.
        """
        codes, lost = self._frames(tokens, lost)
        self.frames += len(codes)
        if self.method == "silence":
            return self._push_silence(codes, lost)
        with self.precision:
            latents = self._latents(codes, lost)
        return self._apply_gains(self.stream.push_latents(latents))

    def conceal(self, num_frames=1):
        """:meth:`push` of ``num_frames`` lost frames (a lost packet)."""
        count = self.num_codebooks or 1
        tokens = torch.zeros(1, int(num_frames), count, dtype=torch.long)
        return self.push(tokens, torch.ones(1, int(num_frames), dtype=torch.bool))

    def _push_silence(self, codes, lost):
        """Zeros for lost frames, at once; the decoder restarts after a gap."""
        parts, start = [torch.zeros(1, 0, device=self.device)], 0
        edges = np.flatnonzero(np.diff(lost.astype(np.int8))) + 1
        for end in [*edges.tolist(), len(codes)]:
            if lost[start]:
                self.concealed += end - start
                if self.stream.started:
                    parts.append(self.stream.flush())
                    self.stream = self.codec.streaming_decoder()
                parts.append(
                    torch.zeros(1, (end - start) * self.hop, device=self.device)
                )
            else:
                self.received = True
                frames = torch.as_tensor(codes[start:end], device=self.device)
                parts.append(self.stream.push(frames[None]))
            start = end
        return torch.cat(parts, dim=1)

    def flush(self):
        """The samples still held in the decoder's overlap-add tail [1, n]."""
        if not self.stream.started:
            return torch.zeros(1, 0, device=self.device)
        if self.method == "silence":
            return self.stream.flush()
        return self._apply_gains(self.stream.flush())


def conceal_decode(codec, tokens, lost, **options):
    """Waveforms [B, T' * 320] of tokens [B, T', K] with lost frames concealed.

    Each row goes through its own :class:`ConcealingDecoder` in one push,
    so the samples equal those of streaming the row frame by frame.

    Arguments
    ---------
    codec : RNNCodec
        The loaded codec.
    tokens : torch.Tensor
        Codes [B, T', K] (values at lost frames are ignored).
    lost : torch.Tensor
        [B, T'] bool, True where a frame was lost.
    **options
        Passed to :class:`ConcealingDecoder` (``method``, fades).

    Returns
    -------
    torch.Tensor
        Waveforms [B, T' * samples_per_frame].
    """
    tokens = torch.as_tensor(tokens)
    lost = torch.as_tensor(lost, dtype=torch.bool)
    if tokens.dim() != 3 or lost.shape != tokens.shape[:2]:
        raise ValueError(
            f"tokens must be [B, T, K] and lost [B, T], not {list(tokens.shape)} "
            f"and {list(lost.shape)}"
        )
    rows = []
    for row, mask in zip(tokens, lost, strict=True):
        decoder = ConcealingDecoder(codec, **options)
        rows.append(
            torch.cat([decoder.push(row[None], mask[None]), decoder.flush()], 1)
        )
    if not rows:
        return torch.zeros(0, 0, device=codec.device)
    return torch.cat(rows)
