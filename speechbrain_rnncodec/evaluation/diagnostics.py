"""Where decoded speech departs from the original: magnitude or phase.

The decoder predicts STFT frames (magnitude and phase) that an overlap-add
inverse STFT turns into samples. These diagnostics work in that same
framing: they swap the decoded magnitude or phase for the original's
(oracles), or only the energy of each band (the envelope against the fine
structure inside the bands), make the decoded phase consistent with the
decoded magnitude by Griffin-Lim, and measure how well the decoded phase agrees with the
original's per frequency band. ``rnncodec bench --phase FOLDER`` prints
them.

Authors
 * speechbrain_rnncodec team 2026
"""

import math
import time

import torch

from speechbrain_rnncodec.lobes.encoder import GLIDE_SEMITONES
from speechbrain_rnncodec.lobes.excitation import (
    band_interpolation,
    refine_pitch,
    refinement_history,
    sent_pitch_track,
)
from speechbrain_rnncodec.lobes.quantization.pitch_column import PitchColumnQuantizer
from speechbrain_rnncodec.metrics.signal import pesq_wb, stoi
from speechbrain_rnncodec.training.pitch import (
    GROSS_ERROR,
    ReferencePitch,
    pitch_errors,
    pitch_targets,
)

BANDS_HZ = ((0, 200), (200, 400), (400, 800), (800, 1600), (1600, 3200), (3200, 8000))
# The second F0 of a frame that sent_f0_tracks measures: refined over the
# newest 6 ms of the frame, near the sent F0 (as an encoder's pitch_glide),
# its glide from the sent F0 rounded to 25 cents within +-100.
SECOND_F0_WINDOW_S = 0.006
GLIDE_STEP_CENTS, GLIDE_STEPS = 25.0, 4


def decoder_spectra(codec, wavs, bitrate):
    """Decoded and original STFT frames in the decoder's framing.

    Arguments
    ---------
    codec : RNNCodec
        A loaded codec.
    wavs : torch.Tensor
        Waveforms [B, T], T a multiple of the latent frame.
    bitrate : float
        kbps.

    Returns
    -------
    decoded : torch.Tensor
        Complex frames [B, N, bins] the decoder predicts.
    original : torch.Tensor
        Complex frames of ``wavs`` with the same windows.
    """
    dec = codec.mods.decoder
    with torch.no_grad():
        bottleneck = codec.codec.quantize(wavs, codec.num_quantizers_for(bitrate))
        decoded, _ = dec.frames(bottleneck.quantized)
    # Frame n covers samples [n * hop - delay, n * hop + hop).
    padded = torch.nn.functional.pad(wavs, (dec.delay_samples, 0))
    return decoded, analyze(dec.istft, padded)[:, : decoded.shape[1]]


def analyze(istft, wavs):
    """STFT frames of ``wavs`` [B, T] with the analysis window of ``istft``."""
    window = torch.hann_window(istft.n_fft, periodic=True)
    frames = wavs.unfold(1, istft.n_fft, istft.hop_length)
    return torch.fft.rfft(frames * window, dim=-1)


def overlap_add(istft, spec):
    """Every sample [B, N * hop + n_fft - hop] of frames ``spec``, from the
    start of the first window (the framing :func:`analyze` reads)."""
    wav, tail = istft(spec)
    return torch.cat([wav, tail], dim=1)


def synthesize(istft, spec, length, delay):
    """Samples [B, length] of frames ``spec``, aligned with the input."""
    return overlap_add(istft, spec)[:, delay : delay + length]


def griffin_lim(istft, magnitude, phase, iterations):
    """Phase made consistent with ``magnitude`` by Griffin-Lim iterations,
    starting from ``phase``.

    Arguments
    ---------
    istft : OverlapAddISTFT
        The decoder's inverse STFT.
    magnitude : torch.Tensor
        Frame magnitudes [B, N, bins].
    phase : torch.Tensor
        Initial phase [B, N, bins].
    iterations : int
        Projections onto consistent spectra.

    Returns
    -------
    torch.Tensor
        Complex frames with ``magnitude`` and the new phase.

    Example
    -------
    >>> from speechbrain_rnncodec.lobes.decoder import OverlapAddISTFT
    >>> istft = OverlapAddISTFT(320, 80)
    >>> spec = analyze(istft, torch.randn(1, 3200))
    >>> out = griffin_lim(istft, spec.abs(), torch.zeros(spec.shape), 2)
    >>> torch.allclose(out.abs(), spec.abs())
    True
    """
    spec = torch.polar(magnitude, phase)
    for _ in range(iterations):
        projected = analyze(istft, overlap_add(istft, spec))
        spec = torch.polar(magnitude, projected.angle())
    return spec


def relevel(spec, target, bands):
    """``spec`` with each frame's energy in each band set to ``target``'s.

    Band energies are the bins' energies weighted by the rows of ``bands``;
    the gain of each band is interpolated back to the bins by its columns.
    Swapping the band energies, not the magnitudes, splits the magnitude's
    error into its envelope (levels per band) and its fine structure
    (harmonics, noise, and their mix inside the bands).

    Arguments
    ---------
    spec : torch.Tensor
        Complex frames [B, N, bins] to correct.
    target : torch.Tensor
        Complex frames [B, N, bins] whose band energies are kept.
    bands : torch.Tensor
        Band-to-bin interpolation [n_bands, bins] (columns sum to 1).

    Returns
    -------
    torch.Tensor
        ``spec`` times a smooth real gain per frame and bin.

    Example
    -------
    >>> bands = band_interpolation(16, 161, 16000)
    >>> x = torch.randn(1, 5, 161, dtype=torch.complex64)
    >>> y = relevel(0.1 * x, x, bands)
    >>> torch.allclose(y, x, atol=1e-4)
    True
    """

    def energy(s):
        return (s.abs() ** 2) @ bands.T

    gain = ((energy(target) + 1e-10) / (energy(spec) + 1e-10)).sqrt()
    return spec * (gain @ bands)


def phase_agreement(pairs, sample_rate, bands=BANDS_HZ):
    """Energy-weighted cos of the phase error, and of the error of the
    phase advance from frame to frame, per band (1 exact, 0 unrelated).

    Arguments
    ---------
    pairs : list of (torch.Tensor, torch.Tensor)
        Decoded and original complex frames [B, N, bins] in one framing,
        one pair per utterance (pooled, each frame weighted by its energy).
    sample_rate : int
        Sampling rate in Hz.
    bands : tuple of (low, high)
        Frequency bands in Hz.

    Returns
    -------
    list of dict
        ``band``, ``phase``, ``advance`` and ``energy`` (share) per band.

    Example
    -------
    >>> x = torch.randn(1, 10, 161, dtype=torch.complex64)
    >>> phase_agreement([(x, x)], 16000)[0]["phase"]
    1.0
    """
    bins = pairs[0][1].shape[-1]
    hz_per_bin = sample_rate / (2 * (bins - 1))
    # Per band: energy, phase cos x energy, advance cos x energy, its energy.
    sums = torch.zeros(4, len(bands))
    for decoded, original in pairs:
        weight = original.abs() ** 2
        error = torch.cos(decoded.angle() - original.angle())
        advance = torch.cos(
            (decoded[:, 1:] * decoded[:, :-1].conj()).angle()
            - (original[:, 1:] * original[:, :-1].conj()).angle()
        )
        for i, (low, high) in enumerate(bands):
            band = slice(round(low / hz_per_bin), round(high / hz_per_bin))
            w, w_next = weight[..., band], weight[:, 1:, band]
            sums[:, i] += torch.stack(
                [
                    w.sum(),
                    (error[..., band] * w).sum(),
                    (advance[..., band] * w_next).sum(),
                    w_next.sum(),
                ]
            )
    energy, phase, advance, advance_energy = sums
    return [
        {
            "band": f"{low}-{high} Hz",
            "phase": round(float(phase[i] / energy[i]), 3),
            "advance": round(float(advance[i] / advance_energy[i]), 3),
            "energy": round(float(energy[i] / energy.sum()), 3),
        }
        for i, (low, high) in enumerate(bands)
    ]


def phase_diagnostics(codec, wavs, bitrate, iterations=(4, 16, 100)):
    """PESQ-WB and STOI of the decoder's output, of the oracle swaps (the
    magnitude, the phase, the band energies: :func:`relevel`) and of
    Griffin-Lim on the decoded magnitude, plus :func:`phase_agreement`.

    Arguments
    ---------
    codec : RNNCodec
        A loaded codec.
    wavs : list of torch.Tensor
        Utterances [T] (each cut to whole latent frames).
    bitrate : float
        kbps.
    iterations : tuple of int
        Griffin-Lim iteration counts to score (whole utterances: a
        non-causal upper bound of what phase consistency can give).

    Returns
    -------
    dict
        ``rows`` (``what``, mean ``pesq`` and ``stoi`` over utterances) and
        ``bands`` (:func:`phase_agreement`).
    """
    istft, delay = codec.mods.decoder.istft, codec.mods.decoder.delay_samples
    frame = codec.codec.samples_per_frame
    bins = istft.n_fft // 2 + 1
    bands = {n: band_interpolation(n, bins, codec.sample_rate) for n in (16, 64)}
    scores, pairs, lens = {}, [], torch.ones(1)
    for wav in wavs:
        wav = wav[None, : len(wav) // frame * frame]
        decoded, original = decoder_spectra(codec, wav, bitrate)
        pairs.append((decoded, original))
        cases = {
            "decoded": decoded,
            "decoded magnitude, original phase": torch.polar(
                decoded.abs(), original.angle()
            ),
            "original magnitude, decoded phase": torch.polar(
                original.abs(), decoded.angle()
            ),
        }
        for n, weights in bands.items():
            cases[f"decoded, the original's energy in {n} bands"] = relevel(
                decoded, original, weights
            )
        cases["original fine structure, decoded energy in 64 bands"] = relevel(
            torch.polar(original.abs(), decoded.angle()), decoded, bands[64]
        )
        for count in iterations:
            cases[f"Griffin-Lim x{count} on the decoded magnitude"] = griffin_lim(
                istft, decoded.abs(), decoded.angle(), count
            )
        for what, spec in cases.items():
            out = synthesize(istft, spec, wav.shape[1], delay)
            scores.setdefault(what, []).append(
                (float(pesq_wb(out, wav, lens)[0]), float(stoi(out, wav, lens)[0]))
            )
    rows = [
        {
            "what": what,
            "pesq": round(float(torch.tensor([p for p, _ in s]).nanmean()), 3),
            "stoi": round(float(torch.tensor([t for _, t in s]).nanmean()), 3),
        }
        for what, s in scores.items()
    ]
    return {"rows": rows, "bands": phase_agreement(pairs, codec.sample_rate)}


def pitch_diagnostics(codec, wavs, bitrate):
    """How good the decoder's pitch is, and what its errors cost.

    The decoder's predicted F0 and voicing are scored against the reference
    tracker (:class:`~speechbrain_rnncodec.training.pitch.ReferencePitch`);
    the same tokens are decoded with the predicted pitch, with the reference
    pitch, and with each half of the reference (F0 or voicing) in place of
    the predicted one driving the excitation, so the PESQ-WB gaps are the
    price of the F0 and of the voicing errors. A model that sends the pitch
    also has its sent F0 scored (:func:`sent_pitch_offsets`) and is decoded
    with the tracks of :func:`sent_f0_tracks` (what a second sent F0 per
    frame would be worth). Where PyPI's
    ``pyworld`` is installed, the reference itself is scored against
    WORLD's harvest (F0 errors on the frames both call voiced, voicing on
    all), and both trackers are timed.

    Arguments
    ---------
    codec : RNNCodec
        A loaded codec whose decoder predicts pitch.
    wavs : list of torch.Tensor
        Utterances [T] at 16 kHz.
    bitrate : float
        kbps.

    Returns
    -------
    dict
        ``decoder`` (:func:`~speechbrain_rnncodec.training.pitch.pitch_errors` of
        the predicted pitch), ``rows`` (``what``, mean ``pesq``, ``stoi``)
        and ``trackers`` (``name``, ``x_realtime``, and errors against
        harvest).
    """
    tracker, dec = ReferencePitch(), codec.mods.decoder
    frame, num_quantizers = (
        codec.codec.samples_per_frame,
        codec.num_quantizers_for(bitrate),
    )
    if not codec.codec.predicts_pitch:
        raise ValueError("this model's decoder has no pitch (not source-filter)")
    predicted, reference, tracks, scores = [], [], [], {}
    tracker(wavs[0][:frame])  # loads the tracker before the clock starts
    tracking = 0.0
    for wav in wavs:
        wav = wav[: len(wav) // frame * frame]
        start = time.perf_counter()
        track = tracker(wav)
        tracking += time.perf_counter() - start
        tracks.append(track)
        n_frames = len(wav) // frame * dec.frames_per_step
        target = pitch_targets(track, 0, n_frames, dec.hop_length)[None]
        with torch.no_grad():
            decoded = codec.codec(wav[None], num_quantizers)
            pitch = decoded.decoder_state.pitch
            # Each of the decoder's own F0 and voicing swapped for the reference's.
            own_f0 = torch.stack([pitch[..., 0], target[..., 1]], dim=-1)
            own_voicing = torch.stack([target[..., 0], pitch[..., 1].sigmoid()], dim=-1)
            # The F0 errors split: the gross ones (> 20 %) or the fine ones mended.
            gross = (target[..., 1] > 0.5) & (
                (pitch[..., 0] - target[..., 0]).abs() > math.log1p(GROSS_ERROR)
            )
            no_gross, only_gross = own_voicing.clone(), own_voicing.clone()
            no_gross[..., 0] = torch.where(gross, target[..., 0], pitch[..., 0])
            only_gross[..., 0] = torch.where(gross, pitch[..., 0], target[..., 0])
            second_f0 = sent_f0_tracks(codec, wav, num_quantizers, target)
            outputs = {"predicted pitch": decoded.wav}
            for what, teacher in (
                ("reference pitch", target),
                ("predicted F0, reference voicing", own_f0),
                ("reference F0, predicted voicing", own_voicing),
                ("predicted F0 with its gross errors mended", no_gross),
                ("reference F0 but at the gross errors", only_gross),
                *(
                    (what, torch.stack([track, pitch[..., 1].sigmoid()], dim=-1))
                    for what, track in second_f0
                ),
            ):
                outputs[what] = codec.codec(
                    wav[None], num_quantizers, teacher_pitch=teacher
                ).wav
        predicted.append(pitch[0])
        reference.append(target[0])
        for what, out in outputs.items():
            scores.setdefault(what, []).append(
                (
                    float(pesq_wb(out, wav[None], torch.ones(1))[0]),
                    float(stoi(out, wav[None], torch.ones(1))[0]),
                )
            )
    seconds = sum(len(w) for w in wavs) / codec.sample_rate
    sent = sent_pitch_offsets(codec, wavs, reference, num_quantizers)
    trackers = [{"name": "FCPE (reference)", "x_realtime": seconds / tracking}]
    trackers += _against_harvest(trackers[0], wavs, tracks, codec.sample_rate)
    return {
        "decoder": pitch_errors(torch.cat(predicted), torch.cat(reference)),
        "sent": sent,
        "rows": [
            {
                "what": f"decoded with the {what}",
                "pesq": round(float(torch.tensor([p for p, _ in s]).nanmean()), 3),
                "stoi": round(float(torch.tensor([t for _, t in s]).nanmean()), 3),
            }
            for what, s in scores.items()
        ],
        "trackers": trackers,
    }


def sent_f0_tracks(codec, wav, num_quantizers, target):
    """What a second sent F0 per frame would give the decoder: log F0
    tracks [1, N] of a pitch-column model's decoder frames (none for
    another model).

    - ``sent F0 alone``: the track the decoder builds from the sent F0
      (:func:`~speechbrain_rnncodec.lobes.excitation.sent_pitch_track`;
      with the sent glide where the model sends one), without the
      decoder's own correction;
    - ``sent F0 and a causal F0 10 ms later`` (two decoder frames): the
      encoder could also send the F0 of the frame's newest 6 ms, refined
      near the sent F0
      (:func:`~speechbrain_rnncodec.lobes.excitation.refine_pitch`, which
      reads only the past), as a glide of 9 steps of 25 cents; the track
      moves linearly through both and on past the second;
    - ``reference F0 at the sent one's time and 10 ms later``: the same
      with two reference points, the ceiling of a second sent F0.

    A model that sends a glide (``glide_codes``) gets the first only.

    Arguments
    ---------
    codec : RNNCodec
        A loaded codec.
    wav : torch.Tensor
        An utterance [T] of whole frames.
    num_quantizers : int
        Code columns.
    target : torch.Tensor
        Its reference pitch at the decoder's frames [1, N, 2].

    Returns
    -------
    list of (str, torch.Tensor)
        Names and tracks.
    """
    quantizer, dec = codec.mods.quantizer, codec.mods.decoder
    per_frame = dec.frames_per_step
    if not isinstance(quantizer, PitchColumnQuantizer) or not dec.pitch_input:
        return []
    anchor = dec.pitch_anchor
    if anchor + 2 >= per_frame:
        return []  # no decoder frame 10 ms after the sent F0 within the frame
    codes = codec.codec.encode(wav[None], num_quantizers)[..., 0]
    sent = quantizer.sent_pitch(codes)  # [1, T', 2 (+ 1)]
    start = dec.initial_state(1, wav.device).sent_pitch
    base = sent_pitch_track(sent, start, per_frame, anchor)[0]
    if quantizer.glide_codes > 1:
        return [("sent F0 alone", base)]
    frame, rate = codec.codec.samples_per_frame, codec.sample_rate
    window = round(SECOND_F0_WINDOW_S * rate)
    past = refinement_history(window, frame, rate)
    signal = torch.nn.functional.pad(wav, (past, 0))[None]
    log_f0 = sent[..., 0]
    second = refine_pitch(
        signal, log_f0, frame, window, rate, semitones=GLIDE_SEMITONES
    )
    step = GLIDE_STEP_CENTS * math.log(2) / 1200
    glide = ((second - log_f0) / step).round().clamp(-GLIDE_STEPS, GLIDE_STEPS) * step
    glide = torch.where(sent[..., 1] > 0.5, glide, 0.0)
    # The decoder's own track of a sent glide.
    with_glide = torch.cat([sent, glide[..., None]], dim=-1)
    glided = sent_pitch_track(with_glide, start, per_frame, anchor)[0]
    # Per 10 ms (two decoder frames) after the sent F0's frame, none before.
    slope = (torch.arange(per_frame) - anchor).clamp(min=0) / 2
    points = target[..., 0].reshape(1, -1, per_frame)
    first, later = points[..., anchor : anchor + 1], points[..., anchor + 2 :][..., :1]
    two_points = (first + (later - first) * slope).flatten(1)
    later_ms = f"{2000 * dec.hop_length / rate:g} ms later"
    return [
        ("sent F0 alone", base),
        (f"sent F0 and a causal F0 {later_ms}", glided),
        (f"reference F0 at the sent one's time and {later_ms}", two_points),
    ]


def sent_pitch_offsets(codec, wavs, references, num_quantizers):
    """The sent F0 of a pitch-column model against the reference at several
    times of its frame (a causal encoder tracks some better than others).

    Arguments
    ---------
    codec : RNNCodec
        A loaded codec.
    wavs : list of torch.Tensor
        Utterances [T], whole frames.
    references : list of torch.Tensor
        Their reference pitch at the decoder's STFT frames [N, 2].
    num_quantizers : int
        Code columns.

    Returns
    -------
    list of dict
        Per time (``ms`` into the frame: 0, 5, 10, 20) the
        :func:`~speechbrain_rnncodec.training.pitch.pitch_errors` of the
        sent F0 (F0 errors on the frames both call voiced, voicing on all);
        empty for a model that sends no pitch.
    """
    quantizer = codec.mods.quantizer
    if not isinstance(quantizer, PitchColumnQuantizer):
        return []
    decoder = codec.mods.decoder
    per_frame = decoder.frames_per_step
    hop_ms = 1000 * decoder.hop_length / codec.sample_rate
    sent = []
    for wav in wavs:
        codes = codec.codec.encode(wav[None], num_quantizers)[0, :, 0].cpu()
        pitch = quantizer.sent_pitch(codes)
        sent.append(torch.stack([pitch[:, 0], 2 * pitch[:, 1] - 1], dim=-1))
    rows = []
    for frame in (-1, 0, 1, per_frame - 1):  # the reference at its end
        at = [
            ref[(torch.arange(len(s)) * per_frame + frame).clamp(0, len(ref) - 1)]
            for s, ref in zip(sent, references, strict=True)
        ]
        predicted, target = torch.cat(sent), torch.cat(at)
        errors = pitch_errors(predicted, target, predicted[:, 1] > 0)
        errors["voicing"] = pitch_errors(predicted, target)["voicing"]
        rows.append({"ms": round((frame + 1) * hop_ms), **errors})
    return rows


def _against_harvest(reference_row, wavs, tracks, sample_rate):
    """Scores the reference ``tracks`` of ``wavs`` against WORLD's harvest
    (F0 errors on the frames both call voiced, voicing on all) into
    ``reference_row``; returns harvest's row of the trackers' table (none
    where PyPI's ``pyworld`` is not installed)."""
    try:
        import pyworld
    except ImportError:
        return []
    harvested, fcpe, elapsed = [], [], 0.0
    for wav, track in zip(wavs, tracks, strict=True):
        samples = wav.double().numpy()
        start = time.perf_counter()
        f0, _ = pyworld.harvest(samples, sample_rate, frame_period=10.0)
        elapsed += time.perf_counter() - start
        n = min(len(f0), len(track))
        harvested.append(torch.from_numpy(f0[:n]).float())
        fcpe.append(torch.from_numpy(track[:n]))
    fcpe, harvested = torch.cat(fcpe), torch.cat(harvested)
    as_controls = torch.stack(
        [fcpe.clamp(min=1e-3).log(), torch.where(fcpe > 0, 1.0, -1.0)], -1
    )
    as_targets = torch.stack(
        [harvested.clamp(min=1e-3).log(), (harvested > 0).float()], -1
    )
    # F0 errors where both call the frame voiced; voicing on every frame.
    errors = pitch_errors(as_controls, as_targets, fcpe > 0)
    errors["voicing"] = pitch_errors(as_controls, as_targets)["voicing"]
    reference_row.update(errors, against="harvest")
    seconds = sum(len(w) for w in wavs) / sample_rate
    return [{"name": "harvest (WORLD)", "x_realtime": seconds / elapsed}]
