"""Classical speech codecs and ours behind one interface, for side-by-side
evaluation.

Every codec takes a mono float waveform [T] at 16 kHz, returns the exact
bytes a user would store (container included) and decodes them back to
16 kHz. The bitrate of a coded signal is *measured* from its byte count,
never taken from the nominal setting:

* :class:`OpusCodec` -- Opus through ``opusenc`` / ``opusdec`` (Debian
  ``opus-tools``): VBR, bytes = the Ogg Opus file. With ``in_process=True``,
  libopus is called through the ``opuslib`` binding instead (for speed
  measurements without process start-up and file I/O).
* :class:`Codec2Codec` -- Codec 2 through ``c2enc`` / ``c2dec`` (Debian
  ``codec2``) at 8 kHz, resampled with ``sox`` (Debian ``sox``): bytes =
  the ``.c2`` file (7-byte header and frames).
* :class:`RNNCodecCodec` -- our pretrained :class:`RNNCodec`: bytes = the
  ``.rnc`` file (``docs/format.md``), entropy-coded with the model's
  entropy model.

:func:`make_codec` builds one from a spec such as ``"opus@6"`` (kbps),
``"codec2@3200"`` (bit/s) or ``"rnncodec@1.5"`` (kbps).

Example
-------
>>> from speechbrain_rnncodec.audio.io import read_audio
>>> from speechbrain_rnncodec.evaluation.demo import SAMPLE
>>> wav = read_audio(SAMPLE)
>>> opus = make_codec("opus@12")
>>> data = opus.encode(wav)
>>> data[:4], opus.decode(data).shape == wav.shape
(b'OggS', True)
>>> 12 < opus.kbps(data, len(wav)) < 16  # Ogg headers weigh on 2.8 s
True

Authors
 * speechbrain_rnncodec team 2026
"""

import functools
import math
import pathlib
import shutil
import struct
import subprocess
import tempfile

import numpy as np
import soundfile as sf
import torch

from speechbrain_rnncodec.audio.io import check_waveform, pcm16
from speechbrain_rnncodec.bitstream.header import BitstreamError
from speechbrain_rnncodec.inference import RNNCodec

SAMPLE_RATE = 16000


class MissingToolError(RuntimeError):
    """A codec program or library is not installed (the message says how)."""


class CodecError(RuntimeError):
    """An external codec failed or was given bytes it cannot decode."""


def _require(tool, package):
    """Full path of the program ``tool``, or a :class:`MissingToolError`."""
    path = shutil.which(tool)
    if path is None:
        raise MissingToolError(
            f"{tool} not found on PATH: install the Debian package {package} "
            f"(apt-get install {package})"
        )
    return path


def _run(cmd):
    """Runs ``cmd``; raises :class:`CodecError` with its stderr on failure."""
    try:
        result = subprocess.run(cmd, capture_output=True, check=False)
    except OSError as err:
        raise CodecError(f"cannot run {cmd[0]}: {err}") from err
    if result.returncode != 0:
        stderr = result.stderr.decode(errors="replace").strip()
        raise CodecError(
            f"{pathlib.Path(cmd[0]).name} failed (exit status {result.returncode}): "
            f"{' '.join(map(str, cmd))}\n{stderr}"
        )
    return result


def _mono(wav):
    """Float32 CPU samples [T] of ``wav`` ([T] or [1, T]), checked finite."""
    wav = torch.as_tensor(wav, dtype=torch.float32).detach().cpu()
    if wav.dim() == 2 and wav.shape[0] == 1:
        wav = wav[0]
    if wav.dim() != 1:
        raise ValueError(f"expected a mono waveform [T], got shape {tuple(wav.shape)}")
    return check_waveform(wav)


def fit_length(wav, num_samples):
    """Cuts or zero-pads ``wav`` [T] to ``num_samples``.

    Arguments
    ---------
    wav : torch.Tensor
        Samples [T].
    num_samples : int
        Length wanted.

    Returns
    -------
    torch.Tensor
        Samples [num_samples].

    Example
    -------
    >>> fit_length(torch.ones(3), 5)
    tensor([1., 1., 1., 0., 0.])
    """
    if len(wav) >= num_samples:
        return wav[:num_samples]
    return torch.nn.functional.pad(wav, (0, num_samples - len(wav)))


class Codec:
    """A speech codec: 16 kHz mono waveforms to stored bytes and back.

    Subclasses set :attr:`name` and implement :meth:`encode` and
    :meth:`decode`; :meth:`kbps` measures the bitrate of the bytes.
    ``make_codec(codec.name)`` rebuilds an equal codec.
    """

    name = "codec"
    sample_rate = SAMPLE_RATE

    def encode(self, wav):
        """Bytes a user would store for ``wav``.

        Arguments
        ---------
        wav : torch.Tensor
            Float samples [T] at 16 kHz, mono.

        Returns
        -------
        bytes
            The coded signal, container included.
        """
        raise NotImplementedError

    def decode(self, data, num_samples=None):
        """Waveform of ``data`` at 16 kHz, aligned with the encoded input.

        Arguments
        ---------
        data : bytes
            What :meth:`encode` returned.
        num_samples : int, optional
            Cut or zero-pad the result to this length. Codecs whose bytes
            record the input length return exactly that length anyway.

        Returns
        -------
        torch.Tensor
            Float samples [T'].
        """
        raise NotImplementedError

    def kbps(self, data, num_samples):
        """Measured bitrate: the byte count of ``data`` over the duration.

        Arguments
        ---------
        data : bytes
            Coded signal.
        num_samples : int
            Samples of the input signal (at :attr:`sample_rate`).

        Returns
        -------
        float
            ``len(data) * 8 / seconds / 1000``.

        Example
        -------
        >>> Codec().kbps(bytes(1000), 16000)
        8.0
        """
        if num_samples <= 0:
            raise ValueError("num_samples must be positive to measure a bitrate")
        return len(data) * 8 / (num_samples / self.sample_rate) / 1000

    def roundtrip(self, wav):
        """Encodes and decodes ``wav`` [T]; returns (bytes, decoded [T])."""
        data = self.encode(wav)
        return data, self.decode(data, num_samples=len(_mono(wav)))

    def __repr__(self):
        return f"<{type(self).__name__} {self.name}>"


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
            self._opusenc = _require("opusenc", "opus-tools")
            self._opusdec = _require("opusdec", "opus-tools")
            self.name = f"opus@{kbps:g}"

    def encode(self, wav):
        """Bytes of the ``.opus`` file (or packets, in-process) of ``wav`` [T]."""
        pcm = pcm16(_mono(wav))
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
            _run(cmd + [str(src), str(dst)])
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
                _run(
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
        self._c2enc = _require("c2enc", "codec2")
        self._c2dec = _require("c2dec", "codec2")
        self._sox = _require("sox", "sox")

    def _raw(self, rate):
        """sox options of headerless mono 16-bit samples at ``rate``."""
        raw = "-t raw -r {} -e signed-integer -b 16 -c 1".format(rate)
        return raw.split()

    def encode(self, wav):
        """Bytes of the ``.c2`` file of ``wav`` [T]."""
        pcm = pcm16(_mono(wav))
        with tempfile.TemporaryDirectory(prefix="rnncodec-codec2-") as tmp:
            tmp = pathlib.Path(tmp)
            sf.write(tmp / "in.wav", pcm, self.sample_rate, subtype="PCM_16")
            _run([self._sox, tmp / "in.wav"] + self._raw(self.RATE) + [tmp / "in.raw"])
            narrow = np.fromfile(tmp / "in.raw", dtype="<i2")
            frames = -(-(len(narrow) + self.DELAY) // self.frame)
            np.pad(narrow, (0, frames * self.frame - len(narrow))).astype("<i2").tofile(
                tmp / "in.raw"
            )
            # The .c2 name makes c2enc write the header.
            _run([self._c2enc, str(self.bitrate), tmp / "in.raw", tmp / "out.c2"])
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
            _run([self._c2dec, str(self.bitrate), tmp / "in.c2", tmp / "out.raw"])
            _run(
                [self._sox]
                + self._raw(self.RATE)
                + [tmp / "out.raw", "-r", str(self.sample_rate), tmp / "out.wav"]
            )
            out, _ = sf.read(tmp / "out.wav", dtype="float32", always_2d=True)
        ratio = self.sample_rate // self.RATE
        wav = torch.from_numpy(out.mean(axis=1))[self.DELAY * ratio :]
        return wav if num_samples is None else fit_length(wav, num_samples)


class RNNCodecCodec(Codec):
    """Our pretrained :class:`~speechbrain_rnncodec.inference.RNNCodec`:
    bytes = the ``.rnc`` file of :meth:`RNNCodec.compress` (container and
    entropy coding with the model's entropy model included; an empty
    signal gives empty bytes).

    Arguments
    ---------
    codec : RNNCodec
        The loaded model (16 kHz).
    kbps : float
        One of ``codec.bitrates``.
    """

    def __init__(self, codec, kbps):
        if codec.sample_rate != SAMPLE_RATE:
            raise ValueError(f"the model codes {codec.sample_rate} Hz, not 16 kHz")
        self.codec = codec
        self.target_kbps = float(kbps)
        self.num_codebooks = codec.num_quantizers_for(self.target_kbps)
        self.name = f"rnncodec@{self.target_kbps:g}"

    def encode(self, wav):
        """The ``.rnc`` bytes of ``wav`` [T]."""
        wav = _mono(wav)
        if len(wav) == 0:
            return b""
        return self.codec.compress(wav, bitrate=self.target_kbps)

    def decode(self, data, num_samples=None):
        """Samples [T] of ``.rnc`` bytes."""
        if not data:
            return torch.zeros(num_samples or 0)
        try:
            wav = self.codec.decompress(data)
        except BitstreamError as err:
            raise CodecError(f"undecodable rnncodec data: {err}") from err
        return wav if num_samples is None else fit_length(wav, num_samples)


@functools.lru_cache(maxsize=2)
def _load_model(source):

    return RNNCodec.from_hparams(source=source)


CODEC_NAMES = ("opus", "opuslib", "codec2", "rnncodec")


def make_codec(spec, model=None):
    """Builds a codec from ``"NAME@BITRATE"``.

    Names: ``opus`` (kbps, opusenc / opusdec), ``opuslib`` (kbps, libopus
    in-process), ``codec2`` (bit/s) and ``rnncodec`` (kbps, one the model
    serves). ``make_codec(codec.name)`` rebuilds ``codec``.

    Arguments
    ---------
    spec : str
        E.g. ``"opus@6"``, ``"codec2@3200"``, ``"rnncodec@1.5"``.
    model : RNNCodec or str, optional
        For ``rnncodec``: a loaded model or the source to load one from
        (default: the shipped model; loaded models are cached).

    Returns
    -------
    Codec
        The codec.

    Example
    -------
    >>> make_codec("codec2@1600").name
    'codec2@1600'
    >>> make_codec("mp3@64")
    Traceback (most recent call last):
    ...
    ValueError: unknown codec 'mp3' in 'mp3@64'; known: opus, opuslib, codec2, rnncodec
    >>> make_codec("opus")
    Traceback (most recent call last):
    ...
    ValueError: codec spec 'opus' is not NAME@BITRATE (e.g. opus@6, ...)
    """
    name, sep, rate = str(spec).strip().partition("@")
    name = name.strip().lower()
    try:
        if not sep:
            raise ValueError
        value = float(rate)
        if not math.isfinite(value):
            raise ValueError
    except ValueError:
        raise ValueError(
            f"codec spec {spec!r} is not NAME@BITRATE "
            "(e.g. opus@6, codec2@3200, rnncodec@1.5)"
        ) from None
    if name == "opus":
        return OpusCodec(value)
    if name == "opuslib":
        return OpusCodec(value, in_process=True)
    if name == "codec2":
        return Codec2Codec(value)
    if name == "rnncodec":
        if model is None or isinstance(model, (str, pathlib.Path)):
            model = _load_model(None if model is None else str(model))
        return RNNCodecCodec(model, value)
    raise ValueError(
        f"unknown codec {name!r} in {spec!r}; known: {', '.join(CODEC_NAMES)}"
    )
