"""Where decoded samples go: the sinks of
:func:`~speechbrain_rnncodec.inference.file_coding.decode_stream`.

A sink has ``start(header, channels=1)`` (before the first samples; the
header gives the rate and, if known, the length), ``write(samples)`` (float32
[n] or [n, channels]) and ``finish(num_samples)``: an array in memory
(:class:`ArraySink`), a WAV stream (:class:`WavStreamSink`), a sound file
(:class:`SoundFileSink`), or another sink at the input's original rate and
channel count (:class:`RestoringSink`).

Authors
 * speechbrain_rnncodec team 2026
"""

import copy

import numpy as np
import torch

from speechbrain_rnncodec.audio.wavstream import (
    StreamResampler,
    to_pcm16,
    wav_header,
)


class ArraySink:
    """Collects decoded samples into a tensor (:attr:`samples`).

    Example
    -------
    >>> sink = ArraySink()
    >>> sink.write(np.ones(3, dtype=np.float32))
    >>> sink.finish(3)
    >>> sink.samples
    tensor([1., 1., 1.])
    """

    def __init__(self):
        self.parts = []
        self.samples = None

    def start(self, header, channels=1):
        pass

    def write(self, samples):
        self.parts.append(samples)

    def finish(self, num_samples):
        self.samples = torch.from_numpy(np.concatenate(self.parts or [np.zeros(0)]))
        self.samples = self.samples.float()


class WavStreamSink:
    """Writes 16-bit PCM WAV to a binary stream as samples come; the
    sizes are exact if the header knows them or the stream is seekable,
    else 0xFFFFFFFF (read as "to the end")."""

    def __init__(self, stream):
        self.stream = stream
        self.rate = None
        self.channels = 1
        self.at = None

    def start(self, header, channels=1):
        self.rate, self.channels = header.sample_rate, channels
        try:
            self.at = self.stream.tell() if self.stream.seekable() else None
        except (OSError, AttributeError, ValueError):
            self.at = None
        self.known = header.num_samples
        self.stream.write(
            wav_header(self.rate, channels, num_samples=header.num_samples)
        )

    def write(self, samples):
        self.stream.write(to_pcm16(samples))
        self.stream.flush()

    def finish(self, num_samples):
        if self.known is None and self.at is not None:
            try:
                end = self.stream.tell()
                self.stream.seek(self.at)
                self.stream.write(
                    wav_header(self.rate, self.channels, num_samples=num_samples)
                )
                self.stream.seek(end)
            except (OSError, ValueError):
                pass
        self.stream.flush()


class SoundFileSink:
    """Writes decoded samples to an open ``soundfile.SoundFile``-like
    object, created by ``opener(sample_rate, channels)`` at the start."""

    def __init__(self, opener):
        self.opener = opener
        self.handle = None

    def start(self, header, channels=1):
        self.handle = self.opener(header.sample_rate, channels)

    def write(self, samples):
        self.handle.write(samples)

    def finish(self, num_samples):
        self.handle.close()


class RestoringSink:
    """Gives ``sink`` the input's original rate and channel count, as the
    header records them: decoded samples are resampled (streaming, bounded
    memory) and repeated over the channels (the codec codes their mix).

    Arguments
    ---------
    sink : object
        A sink (``start(header, channels)``, ``write``, ``finish``).
    """

    def __init__(self, sink):
        self.sink = sink
        self.resampler = None
        self.channels = 1
        self.written = 0

    def start(self, header, channels=1):
        rate = header.orig_sample_rate or header.sample_rate
        self.channels = header.orig_channels or 1
        known = header.num_samples
        if rate != header.sample_rate:
            self.resampler = StreamResampler(header.sample_rate, rate)
            if known is not None:
                known = -(-known * rate // header.sample_rate)
        restored = copy.copy(header)
        restored.sample_rate, restored.num_samples = rate, known
        self.sink.start(restored, self.channels)

    def _emit(self, samples):
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        if len(samples):
            if self.channels > 1:
                samples = np.repeat(samples[:, None], self.channels, axis=1)
            self.sink.write(samples)
            self.written += len(samples)

    def write(self, samples):
        if self.resampler is not None:
            samples = self.resampler.push(torch.from_numpy(samples)).numpy()
        self._emit(samples)

    def finish(self, num_samples):
        if self.resampler is not None:
            self._emit(self.resampler.flush().numpy())
        self.sink.finish(self.written)
