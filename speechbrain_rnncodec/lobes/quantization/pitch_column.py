"""A transmitted pitch column: residual VQ whose first code column is F0.

The source-filter decoder needs an accurate F0; predicted from the latents
it misses by 13 % gross errors, which costs about 0.2 PESQ-WB. Here the
encoder estimates F0 and voicing from the waveform (a causal head on its
recurrent stack, trained against the reference tracker, optionally
refined on the waveform) and the bottleneck
sends them as code column 0 of every frame: code 0 is "unvoiced", codes
1 ... ``codebook_size - 1`` are log-spaced F0 values from 50 to 800 Hz
(4.7 cents apart with 1024 codes). The other columns are the residual VQ
stages, so a frame of K columns still costs K x 10 bits, and the bitrates
stay those of the plain residual VQ (one VQ stage fewer at each rate).
Pitch is smooth, so the entropy coder squeezes its column most.

The quantized output is the VQ latent followed by two channels, the sent
log F0 and the voicing flag, which a
:class:`~speechbrain_rnncodec.lobes.source_filter.SourceFilterDecoder` with
``pitch_input=True`` reads to drive its excitation.

With ``glide_codes`` G, each voiced code also tells where the pitch goes
next: the encoder's F0 of the frame's newest few ms (``pitch_glide`` of
an ``RNNEncoder``) as a glide from the sent F0, rounded to G steps of
``glide_cents`` around zero. Code ``1 + level * G + step`` joins the two,
so the F0 levels are G times coarser (23.5 cents apart with 1024 codes
and G = 5) and the column and the bitrates stay as they are; a third
output channel carries the glide (log F0 change per two decoder frames).

Authors
 * speechbrain_rnncodec team 2026
"""

import math

import torch

from speechbrain_rnncodec.lobes.excitation import (
    F0_MAX,
    F0_MIN,
    pitch_bin_centres,
    pitch_bin_loss,
    pitch_from_bins,
)
from speechbrain_rnncodec.lobes.quantization.base import (
    QuantizerOutput,
    float32_region,
)
from speechbrain_rnncodec.lobes.quantization.residual import (
    ResidualVectorQuantizer,
)

UNVOICED_CODE = 0
HELD_LOG_F0 = math.log(150.0)  # the log F0 channel of an unvoiced frame


def pitch_to_codes(
    log_f0, voiced, codebook_size, glide=None, glide_codes=1, glide_cents=50.0
):
    """Codes of a pitch track: 0 where unvoiced, else the nearest level
    (and with ``glide_codes`` > 1 the nearest glide step).

    Arguments
    ---------
    log_f0 : torch.Tensor
        Log F0 in Hz [...].
    voiced : torch.Tensor
        Bool [...].
    codebook_size : int
        Codes of the column (levels: ``(codebook_size - 1) // glide_codes``).
    glide : torch.Tensor, optional
        Log F0 the pitch glides to [...] (needed with ``glide_codes`` > 1).
    glide_codes : int
        Glide steps per level (1: no glide).
    glide_cents : float
        Size of a glide step.

    Returns
    -------
    torch.Tensor
        int64 codes [...].

    Example
    -------
    >>> codes = pitch_to_codes(torch.log(torch.tensor([50.0, 800.0, 200.0])),
    ...                        torch.tensor([True, True, False]), 1024)
    >>> codes.tolist()
    [1, 1023, 0]
    >>> f0 = torch.log(torch.tensor([50.0, 200.0]))
    >>> up = f0 + 60 * math.log(2) / 1200  # 60 cents up: one step of 50
    >>> pitch_to_codes(f0, torch.tensor([True, True]), 1024, up, 5).tolist()
    [4, 514]
    """
    low, high = math.log(F0_MIN), math.log(F0_MAX)
    levels = (codebook_size - 1) // glide_codes
    step = (high - low) / (levels - 1)
    level = ((log_f0.clamp(low, high) - low) / step).round().long()
    code = 1 + level * glide_codes
    if glide_codes > 1:
        cents = (glide - log_f0) * (1200 / math.log(2)) / glide_cents
        half = glide_codes // 2
        code += cents.round().long().clamp(-half, glide_codes - 1 - half) + half
    return torch.where(voiced, code, torch.full_like(code, UNVOICED_CODE))


def codes_to_pitch(codes, codebook_size, glide_codes=1, glide_cents=50.0):
    """Log F0 and voicing of pitch codes (unvoiced: ``HELD_LOG_F0``, 0),
    then with ``glide_codes`` > 1 the glide (log F0 change, 0 unvoiced).

    Arguments
    ---------
    codes : torch.Tensor
        int64 codes [...].
    codebook_size : int
        Codes of the column.
    glide_codes : int
        Glide steps per level (1: no glide).
    glide_cents : float
        Size of a glide step.

    Returns
    -------
    torch.Tensor
        float32 [..., 2] (or [..., 3] with a glide).

    Example
    -------
    >>> pitch = codes_to_pitch(torch.tensor([0, 512]), 1024)
    >>> round(float(pitch[1, 0].exp())), pitch[:, 1].tolist()
    (200, [0.0, 1.0])
    >>> pitch = codes_to_pitch(torch.tensor([0, 514]), 1024, glide_codes=5)
    >>> round(float(pitch[1, 0].exp())), round(float(pitch[1, 2]) * 1200 / math.log(2))
    (201, 50)
    """
    low, high = math.log(F0_MIN), math.log(F0_MAX)
    levels = (codebook_size - 1) // glide_codes
    step = (high - low) / (levels - 1)
    voiced = codes != UNVOICED_CODE
    level = torch.div(codes - 1, glide_codes, rounding_mode="floor")
    log_f0 = torch.where(voiced, low + level.float() * step, HELD_LOG_F0)
    channels = [log_f0, voiced.float()]
    if glide_codes > 1:
        steps = (codes - 1) % glide_codes - glide_codes // 2
        glide = steps.float() * (glide_cents * math.log(2) / 1200)
        channels.append(torch.where(voiced, glide, 0.0))
    return torch.stack(channels, dim=-1)


class PitchColumnQuantizer(ResidualVectorQuantizer):
    """Residual VQ with the F0 sent as code column 0.

    Its input is the encoder's latent followed by ``1 + pitch_bins`` pitch
    scores (a voicing logit, then log-spaced F0 bins; an ``RNNEncoder``
    with ``pitch_bins`` gives them), and with ``refined_pitch`` the
    encoder's refined log F0. Its output is the VQ latent followed by the
    sent log F0 and voicing.

    Arguments
    ---------
    dim : int
        Size of the VQ latent.
    num_quantizers : int
        Code columns at the highest rate (the pitch and
        ``num_quantizers - 1`` VQ stages).
    codebook_size : int
        Codes per column.
    frame_rate : float
        Frames per second.
    train_num_quantizers : list of int, optional
        Column counts trained by quantizer dropout (each at least 2).
    pitch_bins : int
        F0 bins of the encoder's pitch scores (50-800 Hz, log-spaced).
    refined_pitch : bool
        The input ends with the encoder's refined log F0 (an ``RNNEncoder``
        with ``pitch_refinement``), which is sent instead of the F0 of its
        bins.
    last_column_codes : dict, optional
        ``{K: n}``: a frame of K columns codes its last (a VQ stage) with a
        codebook of its own of n codes (see :class:`ResidualVectorQuantizer`).
    glide_codes : int
        With ``refined_pitch``: > 1 joins a glide of this many steps to
        every voiced code (the input then ends with the encoder's glide
        F0 too, an ``RNNEncoder`` with ``pitch_glide``); 1: no glide.
    glide_cents : float
        Size of a glide step.
    **vq_options
        ``decay``, ``kmeans_iters``, ``dead_code_steps`` of the stages.

    Example
    -------
    >>> q = PitchColumnQuantizer(dim=8, num_quantizers=3, codebook_size=16,
    ...                          pitch_bins=12).eval()
    >>> out = q(torch.randn(2, 5, 8 + 13))
    >>> out.codes.shape, out.quantized.shape
    (torch.Size([2, 5, 3]), torch.Size([2, 5, 10]))
    >>> torch.equal(q.decode(out.codes), out.quantized)
    True
    """

    min_quantizers = 2  # the pitch and one VQ stage

    def __init__(
        self,
        dim=128,
        num_quantizers=12,
        codebook_size=1024,
        frame_rate=50.0,
        train_num_quantizers=None,
        pitch_bins=96,
        refined_pitch=False,
        last_column_codes=None,
        glide_codes=1,
        glide_cents=50.0,
        **vq_options,
    ):
        stages = {int(k) - 1: n for k, n in (last_column_codes or {}).items()}
        super().__init__(
            dim,
            num_quantizers - 1,
            codebook_size,
            frame_rate,
            last_column_codes=stages,  # counted in VQ stages
            **vq_options,
        )
        self.dim = dim
        self.num_quantizers = num_quantizers
        self.train_num_quantizers = self.check_counts(train_num_quantizers)
        if min(self.train_num_quantizers) < self.min_quantizers:
            raise ValueError("every rate needs the pitch and one VQ stage (>= 2)")
        self.last_column_codes = self.check_last_column_codes(last_column_codes)
        self.pitch_bins = pitch_bins
        self.refined_pitch = refined_pitch
        if glide_codes > 1 and not refined_pitch:
            raise ValueError("glide_codes needs refined_pitch (the encoder's glide)")
        self.glide_codes, self.glide_cents = glide_codes, glide_cents
        self.sent_channels = 2 + (glide_codes > 1)
        self.register_buffer(
            "pitch_centres",
            pitch_bin_centres(pitch_bins),
            persistent=False,
        )

    def forward(self, x, num_quantizers=None, mask=None):
        """Quantizes the latent [B, T, dim + 1 + pitch_bins (+ 1 (+ 1))].

        Arguments
        ---------
        x : torch.Tensor
            The encoder's latent and pitch scores (then, with
            ``refined_pitch``, its refined log F0, and with ``glide_codes``
            its glide F0).
        num_quantizers : int, optional
            Columns at inference (default all); in training each utterance
            draws from ``train_num_quantizers``.
        mask : torch.Tensor, optional
            Bool [B, T], False on padding frames.

        Returns
        -------
        QuantizerOutput
            ``quantized`` [B, T, dim + 2 (+ 1)], ``codes`` [B, T, K] (column 0:
            pitch), the commitment ``loss``, ``stats``, and the encoder's
            ``pitch_scores`` (for the pitch loss).
        """
        if num_quantizers is not None and num_quantizers < self.min_quantizers:
            raise ValueError("the pitch column needs a VQ stage: 2 codebooks at least")
        glide = self.glide_codes > 1
        width = self.dim + 1 + self.pitch_bins + self.refined_pitch + glide
        if x.shape[-1] != width:
            raise ValueError(
                f"the pitch column takes {width} channels (refined_pitch="
                f"{self.refined_pitch}, glide_codes={self.glide_codes}), the "
                f"encoder gives {x.shape[-1]}"
            )
        latent, scores = (
            x[..., : self.dim],
            x[..., self.dim : self.dim + 1 + self.pitch_bins],
        )
        with float32_region(x.device):
            per_utt, most = self.stage_counts(x.shape[0], num_quantizers, x.device)
            out = self._quantize(latent.float(), per_utt - 1, most - 1, mask)
        pitch = x[..., self.dim :].detach().float()
        pitch_codes = self.pitch_codes(pitch)
        codes = torch.cat([pitch_codes[..., None], out.codes], dim=-1)
        sent = self.sent_pitch(pitch_codes)
        quantized = torch.cat([out.quantized, sent.to(out.quantized.dtype)], dim=-1)
        return QuantizerOutput(quantized, codes, out.loss, out.stats, scores)

    def pitch_codes(self, pitch):
        """Codes of the encoder's pitch output [B, T, 1 + pitch_bins (+ 1 (+
        1))]: the voicing logit, the F0-bin scores, with ``refined_pitch``
        the refined log F0 (sent instead of the bins' F0), with
        ``glide_codes`` the glide F0."""
        glide = None
        if self.glide_codes > 1:
            pitch, glide = pitch[..., :-1], pitch[..., -1]
        if self.refined_pitch:
            log_f0 = pitch[..., -1]
        else:
            log_f0 = pitch_from_bins(pitch[..., 1:], self.pitch_centres)
        return pitch_to_codes(
            log_f0,
            pitch[..., 0] > 0,
            self.codebook_size,
            glide,
            self.glide_codes,
            self.glide_cents,
        )

    def sent_pitch(self, codes):
        """The sent log F0, voicing (and glide) [..., 2 (+ 1)] of pitch
        codes [...]."""
        return codes_to_pitch(
            codes, self.codebook_size, self.glide_codes, self.glide_cents
        )

    def pitch_loss(self, scores, reference):
        """Per-frame losses of the encoder's pitch scores.

        Arguments
        ---------
        scores : torch.Tensor
            Pitch scores [B, T, 1 + pitch_bins].
        reference : torch.Tensor
            Targets at the frame ends [B, T, 2] (log F0, voicing).

        Returns
        -------
        f0, voicing : torch.Tensor
            F0-bin cross-entropy and voicing cross-entropy [B, T].
        """
        width = float(self.pitch_centres[1] - self.pitch_centres[0])
        f0 = pitch_bin_loss(
            scores[..., 1:].float(), reference[..., 0], self.pitch_centres, width
        )
        voicing = torch.nn.functional.binary_cross_entropy_with_logits(
            scores[..., 0].float(), reference[..., 1], reduction="none"
        )
        return f0, voicing

    def decode(self, codes):
        """The quantized output [B, T, dim + 2 (+ 1)] of codes [B, T, K].

        Arguments
        ---------
        codes : torch.Tensor
            Integer codes; column 0 is the pitch.

        Returns
        -------
        torch.Tensor
            VQ latent, sent log F0 and voicing (and glide).
        """
        if not self.min_quantizers <= codes.shape[-1] <= self.num_quantizers:
            raise ValueError(
                f"{codes.shape[-1]} codebooks given, the model takes 2 to "
                f"{self.num_quantizers}"
            )
        self.check_code_range(codes)
        return self.code_values(codes).sum(dim=2)

    def code_values(self, codes):
        """What each column adds to the quantized output, [B, T, K, dim + 2
        (+ 1)] of codes [B, T, K]: the VQ code vector (then zeros), and for
        column 0 the sent log F0 and voicing (and glide) after ``dim``
        zeros; their sum is :meth:`decode`.

        Arguments
        ---------
        codes : torch.Tensor
            Integer codes; column 0 is the pitch.

        Returns
        -------
        torch.Tensor
            Values per column.
        """
        pad = torch.nn.functional.pad
        sent = self.sent_pitch(codes[..., :1])
        values = [pad(sent, (self.dim, 0))]
        if codes.shape[-1] > 1:
            stages = super().code_values(codes[..., 1:])
            values.append(pad(stages, (0, self.sent_channels)))
        return torch.cat(values, dim=2)

    def summary(self):
        """One line for model cards."""
        levels = (self.codebook_size - 1) // self.glide_codes
        glide = (
            f" x {self.glide_codes} glide steps of {self.glide_cents:g} cents"
            if self.glide_codes > 1
            else ""
        )
        return (
            f"F0 column ({levels} log-spaced levels, 50-800 Hz{glide}, "
            f"and unvoiced) + residual VQ, {self.num_quantizers - 1} codebooks x "
            f"{self.codebook_size} codes ({self.bits_per_code:g} bits each), "
            "quantizer dropout"
        )
