"""Opus through ``opusenc`` / ``opusdec`` (Debian ``opus-tools``; bytes =
the Ogg Opus file) or in process through ``opuslib`` (libopus), with
libopus's own concealment of lost packets.

Authors
 * speechbrain_rnncodec team 2026
"""

import pathlib
import struct
import tempfile

import numpy as np
import soundfile as sf
import torch

from speechbrain_rnncodec.audio.io import pcm16
from speechbrain_rnncodec.evaluation.peer_codec import (
    Codec,
    CodecError,
    MissingToolError,
    fit_length,
    mono_waveform,
    require_tool,
    run_tool,
)


class OpusCodec(Codec):
    """Opus (libopus), VBR at a target bitrate.

    By default through the command-line tools of Debian ``opus-tools``:
    ``opusenc --bitrate KBPS`` on a 16-bit 16 kHz WAV file and
    ``opusdec --rate 16000``; the bytes are the ``.opus`` file (Ogg pages,
    the headers with opusenc's default 512 bytes of tag padding included:
    about 0.8 kB, so short files measure well above the target; ``--bitrate
    6`` measures 8.7 kbps on the 2.8 s shipped sample, 6.70 kbps over 85
    LibriSpeech utterances, Opus 1.3.1). ``opusdec`` drops the
    pre-skip and cuts the end at the granule position: the output is
    aligned with, and as long as, the input.

    With ``in_process=True``, libopus is called through the ``opuslib``
    binding (PyPI ``opuslib``, Debian ``libopus0``) with opusenc's settings
    (application audio, VBR, complexity 10): 20 ms packets, stored as a
    6-byte header (sample count, pre-skip) and packets each preceded by its
    length coded as in RFC 6716 (one byte below 252). For timing
    measurements; its bitrate is not that of an Opus file.

    Arguments
    ---------
    kbps : float
        Target bitrate in kbit/s (6 to 256, as opusenc documents).
    in_process : bool
        Use libopus in-process instead of opusenc / opusdec.
    complexity : int
        Encoder complexity 0..10 (opusenc's default is 10).

    Example
    -------
    >>> OpusCodec(6).name, OpusCodec(6, in_process=True).name
    ('opus@6', 'opuslib@6')
    >>> OpusCodec(4)
    Traceback (most recent call last):
    ...
    ValueError: Opus bitrate must lie in 6..256 kbps (opusenc's range), got 4
    """

    FRAME = 320  # 20 ms at 16 kHz, opusenc's default frame size
    _HEADER = struct.Struct("<IH")  # in-process: samples, pre-skip

    def __init__(self, kbps, in_process=False, complexity=10):
        kbps = float(kbps)
        if not 6 <= kbps <= 256:
            raise ValueError(
                f"Opus bitrate must lie in 6..256 kbps (opusenc's range), got {kbps:g}"
            )
        if complexity not in range(11):
            raise ValueError(f"Opus complexity must be 0..10, got {complexity}")
        self.target_kbps = kbps
        self.in_process = in_process
        self.complexity = int(complexity)
        if in_process:
            self._opuslib = _import_opuslib()
            self.name = f"opuslib@{kbps:g}"
        else:
            self._opusenc = require_tool("opusenc", "opus-tools")
            self._opusdec = require_tool("opusdec", "opus-tools")
            self.name = f"opus@{kbps:g}"

    def encode(self, wav):
        """Bytes of the ``.opus`` file (or packets, in-process) of ``wav`` [T]."""
        pcm = pcm16(mono_waveform(wav))
        if self.in_process:
            return self._encode_lib(pcm)
        with tempfile.TemporaryDirectory(prefix="rnncodec-opus-") as tmp:
            src, dst = pathlib.Path(tmp, "in.wav"), pathlib.Path(tmp, "out.opus")
            sf.write(src, pcm, self.sample_rate, subtype="PCM_16")
            # Default options are left out: opusenc records its options in
            # the file's tags, which count in the measured bitrate.
            cmd = [self._opusenc, "--quiet", "--bitrate", f"{self.target_kbps:g}"]
            if self.complexity != 10:
                cmd += ["--comp", str(self.complexity)]
            run_tool(cmd + [str(src), str(dst)])
            return dst.read_bytes()

    def decode(self, data, num_samples=None):
        """Samples [T] at 16 kHz of an ``.opus`` file (or packets, in-process)."""
        if self.in_process:
            wav = self._decode_lib(data)
        else:
            if data[:4] != b"OggS":
                raise CodecError("not an Ogg Opus file (no OggS capture pattern)")
            with tempfile.TemporaryDirectory(prefix="rnncodec-opus-") as tmp:
                src, dst = pathlib.Path(tmp, "in.opus"), pathlib.Path(tmp, "out.wav")
                src.write_bytes(data)
                run_tool(
                    [self._opusdec, "--quiet", "--rate", str(self.sample_rate)]
                    + [str(src), str(dst)]
                )
                out, rate = sf.read(dst, dtype="float32", always_2d=True)
            if rate != self.sample_rate:
                raise CodecError(f"opusdec wrote {rate} Hz, not {self.sample_rate}")
            wav = torch.from_numpy(out.mean(axis=1))
        return wav if num_samples is None else fit_length(wav, num_samples)

    def _encoder(self):
        enc = self._opuslib.Encoder(self.sample_rate, 1, "audio")
        enc.bitrate = int(round(self.target_kbps * 1000))
        enc.vbr = 1
        enc.complexity = self.complexity
        enc.lsb_depth = 16
        return enc

    def _encode_lib(self, pcm):
        enc = self._encoder()
        skip = enc.lookahead
        # Code the lookahead too, so the last input samples come out.
        if len(pcm) >= 2**32:
            raise ValueError("signal too long for the 32-bit sample count")
        out = [self._HEADER.pack(len(pcm), skip)]
        total = -(-(len(pcm) + skip) // self.FRAME) * self.FRAME
        pcm = np.pad(pcm, (0, total - len(pcm)))
        for i in range(0, total, self.FRAME):
            packet = enc.encode(pcm[i : i + self.FRAME].tobytes(), self.FRAME)
            out.append(_packet_length(len(packet)) + packet)
        return b"".join(out)

    def decode_lost(self, data, lost):
        """Samples [T] of in-process packets (:meth:`encode` with
        ``in_process=True``) where the packets marked in ``lost`` went
        missing: libopus conceals each (its own packet loss concealment,
        an empty packet of 20 ms; no in-band FEC).

        Arguments
        ---------
        data : bytes
            What :meth:`encode` returned.
        lost : array-like
            Bool per 20 ms packet, True where it is lost; packets beyond its
            end are received.

        Returns
        -------
        torch.Tensor
            Samples [T], as long as the input.
        """
        if not self.in_process:
            raise ValueError("decode_lost needs an in-process codec (opuslib@KBPS)")
        return self._decode_lib(data, np.asarray(lost, dtype=bool))

    def packet_sizes(self, data):
        """Bytes of each 20 ms packet of in-process ``data`` (length bytes
        excluded)."""
        sizes, pos = [], self._HEADER.size
        while pos < len(data):
            size, pos = _read_packet_length(data, pos)
            sizes.append(size)
            pos += size
        return sizes

    def _decode_lib(self, data, lost=()):
        if len(data) < self._HEADER.size:
            raise CodecError("truncated Opus packet stream (no header)")
        num_samples, skip = self._HEADER.unpack_from(data)
        dec = self._opuslib.Decoder(self.sample_rate, 1)
        pos, pcm = self._HEADER.size, []
        while pos < len(data):
            size, pos = _read_packet_length(data, pos)
            if pos + size > len(data):
                raise CodecError("truncated Opus packet stream")
            index = len(pcm)
            packet = (
                b"" if index < len(lost) and lost[index] else data[pos : pos + size]
            )
            try:
                pcm.append(dec.decode(packet, self.FRAME))
            except self._opuslib.OpusError as err:
                raise CodecError(f"libopus cannot decode a packet: {err}") from err
            pos += size
        samples = np.frombuffer(b"".join(pcm), dtype=np.int16)
        wav = torch.from_numpy(samples[skip:].astype(np.float32) / 32768.0)
        return fit_length(wav, num_samples)


def _import_opuslib():
    """The ``opuslib`` module, or a :class:`MissingToolError` saying why."""
    try:
        import opuslib

        opuslib.api.info.get_version_string()
    except Exception as err:  # ImportError, or no libopus for ctypes to load
        raise MissingToolError(
            "in-process Opus needs the PyPI package opuslib and libopus "
            "(pip install opuslib; apt-get install libopus0): "
            f"{type(err).__name__}: {err}"
        ) from err
    return opuslib


def _packet_length(size):
    """RFC 6716 (3.2.1) length bytes of an Opus packet of ``size`` bytes.

    Example
    -------
    >>> _packet_length(17), _packet_length(300)
    (b'\\x11', b'\\xfc\\x0c')
    """
    if size < 252:
        return bytes([size])
    first = 252 + (size & 3)
    return bytes([first, (size - first) >> 2])


def _read_packet_length(data, pos):
    """(size, position after the length bytes) of the packet at ``pos``.

    Example
    -------
    >>> _read_packet_length(b'\\xfc\\x0c', 0)
    (300, 2)
    """
    if data[pos] < 252:
        return data[pos], pos + 1
    if pos + 1 >= len(data):
        raise CodecError("truncated Opus packet stream")
    return data[pos] + 4 * data[pos + 1], pos + 2
