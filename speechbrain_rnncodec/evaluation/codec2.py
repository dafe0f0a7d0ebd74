"""Codec 2 through ``c2enc`` / ``c2dec`` (Debian ``codec2``) at 8 kHz,
resampled with ``sox``; bytes = the ``.c2`` file (7-byte header and
frames).

Authors
 * speechbrain_rnncodec team 2026
"""

import pathlib
import tempfile

import numpy as np
import soundfile as sf
import torch

from speechbrain_rnncodec.audio.io import pcm16
from speechbrain_rnncodec.evaluation.peer_codec import (
    Codec,
    CodecError,
    fit_length,
    mono_waveform,
    require_tool,
    run_tool,
)


class Codec2Codec(Codec):
    """Codec 2 through ``c2enc`` / ``c2dec`` (Debian ``codec2``).

    The input is resampled to 8 kHz 16-bit raw with ``sox`` (Debian
    ``sox``), coded, decoded and resampled back to 16 kHz with ``sox``. The
    bytes are the ``.c2`` file: a 7-byte header (magic, version, mode) and
    the frames. Codec 2 delays its output by 20 ms (160 samples at 8 kHz:
    the analysis window is centred 160 samples behind the newest input and
    synthesis overlap-adds toward the current frame), so the input is
    zero-padded by that much (and to whole frames) before coding and the
    delay is dropped after decoding (the log spectrograms of input and
    output then align within 1 ms on LibriSpeech). The ``.c2`` file does not record the
    input length: without ``num_samples``, :meth:`decode` returns whole
    frames (at most one frame, 20 or 40 ms, longer than the input).

    Arguments
    ---------
    bitrate : int
        Mode in bit/s: 3200, 2400, 1600, 1400, 1300 or 1200.

    Example
    -------
    >>> Codec2Codec(3200).name
    'codec2@3200'
    >>> Codec2Codec(700)
    Traceback (most recent call last):
    ...
    ValueError: Codec 2 modes are given in bit/s: one of 3200, ...; got 700
    """

    RATE = 8000
    DELAY = 160  # samples at 8 kHz
    # bit/s -> (samples per frame at 8 kHz, mode number in the .c2 header)
    MODES = {
        3200: (160, 0),
        2400: (160, 1),
        1600: (320, 2),
        1400: (320, 3),
        1300: (320, 4),
        1200: (320, 5),
    }
    MAGIC = b"\xc0\xde\xc2"
    HEADER_BYTES = 7

    def __init__(self, bitrate):
        if bitrate not in self.MODES or float(bitrate) != int(bitrate):
            modes = ", ".join(map(str, self.MODES))
            raise ValueError(
                f"Codec 2 modes are given in bit/s: one of {modes}; got {bitrate:g}"
            )
        self.bitrate = int(bitrate)
        self.frame, self.mode = self.MODES[self.bitrate]
        self.name = f"codec2@{self.bitrate}"
        self._c2enc = require_tool("c2enc", "codec2")
        self._c2dec = require_tool("c2dec", "codec2")
        self._sox = require_tool("sox", "sox")

    def _raw(self, rate):
        """sox options of headerless mono 16-bit samples at ``rate``."""
        raw = "-t raw -r {} -e signed-integer -b 16 -c 1".format(rate)
        return raw.split()

    def encode(self, wav):
        """Bytes of the ``.c2`` file of ``wav`` [T]."""
        pcm = pcm16(mono_waveform(wav))
        with tempfile.TemporaryDirectory(prefix="rnncodec-codec2-") as tmp:
            tmp = pathlib.Path(tmp)
            sf.write(tmp / "in.wav", pcm, self.sample_rate, subtype="PCM_16")
            run_tool(
                [self._sox, tmp / "in.wav"] + self._raw(self.RATE) + [tmp / "in.raw"]
            )
            narrow = np.fromfile(tmp / "in.raw", dtype="<i2")
            frames = -(-(len(narrow) + self.DELAY) // self.frame)
            np.pad(narrow, (0, frames * self.frame - len(narrow))).astype("<i2").tofile(
                tmp / "in.raw"
            )
            # The .c2 name makes c2enc write the header.
            run_tool([self._c2enc, str(self.bitrate), tmp / "in.raw", tmp / "out.c2"])
            return (tmp / "out.c2").read_bytes()

    def decode(self, data, num_samples=None):
        """Samples at 16 kHz of a ``.c2`` file (delay removed)."""
        if data[:3] != self.MAGIC or len(data) < self.HEADER_BYTES:
            raise CodecError("not a Codec 2 file (no c0dec2 header)")
        if data[5] != self.mode:
            raise CodecError(
                f"this .c2 file holds mode {data[5]}, "
                f"not {self.name} (mode {self.mode})"
            )
        with tempfile.TemporaryDirectory(prefix="rnncodec-codec2-") as tmp:
            tmp = pathlib.Path(tmp)
            (tmp / "in.c2").write_bytes(data)
            run_tool([self._c2dec, str(self.bitrate), tmp / "in.c2", tmp / "out.raw"])
            run_tool(
                [self._sox]
                + self._raw(self.RATE)
                + [tmp / "out.raw", "-r", str(self.sample_rate), tmp / "out.wav"]
            )
            out, _ = sf.read(tmp / "out.wav", dtype="float32", always_2d=True)
        ratio = self.sample_rate // self.RATE
        wav = torch.from_numpy(out.mean(axis=1))[self.DELAY * ratio :]
        return wav if num_samples is None else fit_length(wav, num_samples)
