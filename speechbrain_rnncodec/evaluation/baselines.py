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

import torch

from speechbrain_rnncodec.bitstream.header import BitstreamError
from speechbrain_rnncodec.evaluation.codec2 import Codec2Codec
from speechbrain_rnncodec.evaluation.opus import OpusCodec
from speechbrain_rnncodec.evaluation.peer_codec import (
    SAMPLE_RATE,
    Codec,
    CodecError,
    fit_length,
    mono_waveform,
)
from speechbrain_rnncodec.inference import RNNCodec


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
        wav = mono_waveform(wav)
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
