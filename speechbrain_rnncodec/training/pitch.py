"""Reference pitch: the F0 track that teaches the source-filter decoder.

The decoder predicts F0 and voicing from the latents; in training it is
supervised by a reference tracker run once per utterance and cached beside
the manifests. The reference is FCPE (PyPI ``torchfcpe``, its weights ship
inside the wheel; about 34x real time on one thread, 3 % gross errors
against WORLD's harvest), so nothing is downloaded at run time.

Tracks are stored at the tracker's own 10 ms hop (F0 in Hz, 0 where
unvoiced) and turned into targets at the decoder's frames by
:func:`pitch_targets`: continuous log F0 (unvoiced stretches interpolated,
as NSF and WORLD do) and a voicing flag.

Authors
 * speechbrain_rnncodec team 2026
"""

import contextlib
import io
import math
import pathlib

import numpy as np
import torch

from speechbrain_rnncodec.utils.atomic import write_bytes

TRACKER_HOP = 160  # samples at 16 kHz: 10 ms
TRACKER_RATE = 16000
GROSS_ERROR = 0.2  # relative F0 error that counts as a gross error
UNVOICED_LOG_F0 = math.log(150.0)  # target of utterances with no voiced frame


class ReferencePitch:
    """FCPE pitch tracker on 16 kHz waveforms (lazy: loads on first use).

    Example
    -------
    >>> tracker = ReferencePitch()
    >>> t = torch.arange(16000) / 16000
    >>> f0 = tracker(0.3 * torch.sin(2 * math.pi * 220 * t))
    >>> f0.shape, bool(abs(np.median(f0[f0 > 0]) - 220) < 5)
    ((101,), True)
    """

    def __init__(self):
        self.model = None

    def __call__(self, wav):
        """F0 in Hz every 10 ms (frame ``i`` centred on sample ``160 i``),
        0 where unvoiced.

        Arguments
        ---------
        wav : torch.Tensor
            Samples [T] at 16 kHz.

        Returns
        -------
        numpy.ndarray
            float32 [T // 160 + 1].
        """
        if self.model is None:
            try:
                import torchfcpe
            except ImportError as err:  # an optional training dependency
                raise ImportError(
                    "the reference pitch tracker needs torchfcpe: "
                    "pip install 'speechbrain_rnncodec[train]'"
                ) from err
            with contextlib.redirect_stdout(io.StringIO()):  # its log lines
                self.model = torchfcpe.spawn_bundled_infer_model(device="cpu")
        with torch.no_grad():
            f0 = self.model.infer(
                wav.float().reshape(1, -1, 1),
                sr=TRACKER_RATE,
                decoder_mode="local_argmax",
            )
        return f0.reshape(-1).numpy().astype(np.float32)


def cache_pitch(rows, folder, read):
    """Tracks every utterance not yet cached: ``<folder>/<ID>.npy``.

    Arguments
    ---------
    rows : iterable of (str, str)
        Utterance ID and audio path.
    folder : str or pathlib.Path
        Cache folder (made if missing); files are written atomically, so an
        interrupted run resumes where it stopped.
    read : callable
        ``read(path) -> Tensor [T]`` at 16 kHz.

    Returns
    -------
    int
        Utterances tracked by this call.
    """
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tracker = ReferencePitch()
    done = 0
    for utt_id, path in rows:
        target = folder / f"{utt_id}.npy"
        if target.exists():
            continue
        buffer = io.BytesIO()
        np.save(buffer, tracker(read(path)))
        write_bytes(target, buffer.getvalue())
        done += 1
    return done


def pitch_targets(track, start, n_frames, hop):
    """Decoder targets [n_frames, 2]: continuous log F0 and voicing.

    Target ``j`` is the pitch at the end of decoder frame ``j``, i.e. at
    sample ``start + (j + 1) * hop`` of the utterance.

    Arguments
    ---------
    track : numpy.ndarray
        Tracker output (Hz every 10 ms, 0 where unvoiced).
    start : int
        First sample of the crop in the utterance.
    n_frames : int
        Decoder frames of the crop.
    hop : int
        Decoder hop in samples.

    Returns
    -------
    torch.Tensor
        float32 [n_frames, 2]: log F0 in Hz (interpolated through unvoiced
        stretches, held at the ends) and voicing (1 voiced, 0 not).

    Example
    -------
    >>> track = np.array([0, 0, 100, 100, 0, 200, 0, 0], dtype=np.float32)
    >>> t = pitch_targets(track, 0, 8, 80)
    >>> t[:, 0].exp().round().tolist()
    [100.0, 100.0, 100.0, 100.0, 100.0, 100.0, 119.0, 141.0]
    >>> t[:, 1].tolist()
    [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0]
    """
    voiced = track > 0
    at = (start + hop * np.arange(1, n_frames + 1)) / TRACKER_HOP
    if voiced.any():
        frames = np.flatnonzero(voiced)
        log_f0 = np.interp(at, frames, np.log(track[voiced]))
    else:
        log_f0 = np.full(n_frames, UNVOICED_LOG_F0)
    voicing = np.interp(at, np.arange(len(track)), voiced.astype(np.float64)) >= 0.5
    return torch.from_numpy(np.stack([log_f0, voicing], axis=1).astype(np.float32))


def pitch_errors(predicted, reference, mask=None):
    """Gross and fine F0 errors of predicted pitch against the reference.

    Arguments
    ---------
    predicted : torch.Tensor
        Decoder pitch controls [..., 2] (log F0, voicing logit).
    reference : torch.Tensor
        Targets [..., 2] (log F0, voicing in {0, 1}).
    mask : torch.Tensor, optional
        Frames to count [...] (padding excluded).

    Returns
    -------
    dict
        ``gross`` (share of reference-voiced frames whose F0 is off by more
        than 20 %), ``cents`` (median absolute error of the others, in
        cents), ``voicing`` (share of frames with the wrong decision) and
        ``frames`` (reference-voiced frames counted).

    Example
    -------
    >>> ref = torch.tensor([[math.log(100.0), 1.0], [math.log(200.0), 1.0]])
    >>> pred = torch.tensor([[math.log(101.0), 3.0], [math.log(300.0), 3.0]])
    >>> e = pitch_errors(pred, ref)
    >>> e["gross"], round(e["cents"]), e["voicing"]
    (0.5, 17, 0.0)
    """
    if mask is None:
        mask = torch.ones(reference.shape[:-1], dtype=torch.bool)
    mask = mask.bool()
    voiced = mask & (reference[..., 1] > 0.5)
    ratio = (predicted[..., 0] - reference[..., 0])[voiced]
    gross = ratio.abs() > math.log1p(GROSS_ERROR)
    fine = ratio[~gross].abs() * 1200 / math.log(2)
    decisions = (predicted[..., 1] > 0) != (reference[..., 1] > 0.5)
    return {
        "gross": float(gross.float().mean()) if len(ratio) else 0.0,
        "cents": float(fine.median()) if len(fine) else 0.0,
        "voicing": float(decisions[mask].float().mean()) if mask.any() else 0.0,
        "frames": int(voiced.sum()),
    }
