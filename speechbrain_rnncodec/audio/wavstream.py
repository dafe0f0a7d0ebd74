"""Audio in and out, chunk by chunk with bounded memory: WAV streams
(standard input and output), audio files read in blocks, and a streaming
resampler that matches ``torchaudio.functional.resample`` on whole signals.

Authors
 * speechbrain_rnncodec team 2026
"""

import math
import struct

import numpy as np
import soundfile as sf
import torch
import torchaudio

from speechbrain_rnncodec.audio.io import AudioError, pcm16

MAX_RATE = 768000
MAX_CHANNELS = 1024
UNKNOWN_SIZE = 0xFFFFFFFF
_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE
_MAX_SKIPPED = 64 * 2**20  # bytes of non-audio chunks before "data"


def read_exact(stream, size):
    """Reads ``size`` bytes (fewer only at the end of the stream)."""
    parts, left = [], size
    while left > 0:
        part = stream.read(left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


class WavStreamReader:
    """Reads a RIFF/WAVE stream (PCM 8/16/24/32-bit or float 32/64-bit)
    from a binary file object, chunk by chunk; the stream may declare an
    unknown data size (0 or 0xFFFFFFFF: read until its end).

    Arguments
    ---------
    stream : file object
        Binary, positioned at the RIFF header (need not be seekable).
    name : str
        What to call it in errors.

    Example
    -------
    >>> import io
    >>> data = wav_header(16000, 1, 2) + b"\\x00\\x40\\x00\\xc0"
    >>> reader = WavStreamReader(io.BytesIO(data))
    >>> reader.sample_rate, reader.channels, next(reader.chunks()).tolist()
    (16000, 1, [[0.5], [-0.5]])
    """

    def __init__(self, stream, name="stdin"):
        self.stream = stream
        self.name = name
        head = read_exact(stream, 12)
        if not head:
            raise AudioError(f"{name}: empty input, no audio")
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            kind = "an RF64 WAV" if head[:4] == b"RF64" else "not a WAV stream"
            raise AudioError(
                f"{name}: {kind} (RIFF/WAVE header expected); "
                "give a file path for other formats"
            )
        fmt, skipped = None, 0
        while True:
            chunk = read_exact(stream, 8)
            if len(chunk) < 8:
                raise AudioError(f"{name}: WAV stream ends before its data chunk")
            cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid == b"data":
                break
            if cid == b"fmt ":
                if not 16 <= size <= 1024:
                    raise AudioError(f"{name}: WAV fmt chunk of {size} bytes")
                fmt = read_exact(stream, size + size % 2)
                if len(fmt) < size:
                    raise AudioError(f"{name}: truncated WAV fmt chunk")
                continue
            skipped += size + size % 2
            if skipped > _MAX_SKIPPED:
                raise AudioError(f"{name}: no WAV data chunk in the first 64 MiB")
            if len(read_exact(stream, size + size % 2)) < size:
                raise AudioError(f"{name}: WAV stream ends before its data chunk")
        if fmt is None:
            raise AudioError(f"{name}: WAV stream has no fmt chunk before its data")
        self._parse_fmt(fmt)
        self.data_left = None if size in (0, UNKNOWN_SIZE) else size

    def _parse_fmt(self, fmt):
        tag, channels, rate, _, align, bits = struct.unpack("<HHIIHH", fmt[:16])
        if tag == _EXTENSIBLE and len(fmt) >= 26:
            tag = struct.unpack("<H", fmt[24:26])[0]
        ok_bits = {_PCM: (8, 16, 24, 32), _FLOAT: (32, 64)}
        if tag not in ok_bits or bits not in ok_bits[tag]:
            raise AudioError(
                f"{self.name}: WAV format {tag} with {bits}-bit samples is not "
                "supported (PCM 8/16/24/32-bit or float 32/64-bit)"
            )
        if not 1 <= channels <= MAX_CHANNELS or not 1 <= rate <= MAX_RATE:
            raise AudioError(
                f"{self.name}: WAV stream of {channels} channels at {rate} Hz"
            )
        if align != channels * bits // 8:
            raise AudioError(f"{self.name}: WAV block size {align} is inconsistent")
        self.format, self.bits = tag, bits
        self.channels, self.sample_rate, self.block = channels, rate, align

    def _convert(self, raw):
        if self.format == _FLOAT:
            data = np.frombuffer(raw, dtype=f"<f{self.bits // 8}").astype(np.float32)
        elif self.bits == 8:
            data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128) / 128
        elif self.bits == 24:
            b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
            ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
            ints = np.where(ints >= 2**23, ints - 2**24, ints)
            data = ints.astype(np.float32) / 2**23
        else:
            ints = np.frombuffer(raw, dtype=f"<i{self.bits // 8}")
            data = (ints / float(2 ** (self.bits - 1))).astype(np.float32)
        return data.reshape(-1, self.channels)

    def chunks(self, frames=16000):
        """Yields float32 samples [n, channels], n <= frames (a partial
        sample frame at the very end is dropped)."""
        while self.data_left is None or self.data_left > 0:
            want = frames * self.block
            if self.data_left is not None:
                want = min(want, self.data_left)
            raw = read_exact(self.stream, want)
            if self.data_left is not None:
                self.data_left -= len(raw)
            usable = len(raw) // self.block * self.block
            if usable:
                yield self._convert(raw[:usable])
            if len(raw) < want:
                return


def wav_header(sample_rate, channels=1, sample_bytes=2, num_samples=None):
    """A 44-byte PCM WAV header; sizes 0xFFFFFFFF when ``num_samples`` is
    unknown (streams), as libsndfile and ffmpeg read them."""
    align = channels * sample_bytes
    if num_samples is None or num_samples * align > UNKNOWN_SIZE - 36:
        data = riff = UNKNOWN_SIZE
    else:
        data = num_samples * align
        riff = 36 + data
    return (
        b"RIFF"
        + struct.pack("<I", riff)
        + b"WAVEfmt "
        + struct.pack(
            "<IHHIIHH",
            16,
            _PCM,
            channels,
            sample_rate,
            sample_rate * align,
            align,
            sample_bytes * 8,
        )
        + b"data"
        + struct.pack("<I", data)
    )


def to_pcm16(samples):
    """float samples -> little-endian 16-bit PCM bytes
    (:func:`~speechbrain_rnncodec.audio.io.pcm16`)."""
    return pcm16(samples).tobytes()


class StreamResampler:
    """Resamples a mono stream chunk by chunk; the output equals
    ``torchaudio.functional.resample`` of the whole signal (default sinc
    filter) up to float rounding, with bounded memory.

    Arguments
    ---------
    orig_freq : int
        Input rate.
    new_freq : int
        Output rate.

    Example
    -------
    >>> x = torch.randn(10000)
    >>> rs = StreamResampler(44100, 16000)
    >>> y = torch.cat([rs.push(x[:3000]), rs.push(x[3000:]), rs.flush()])
    >>> whole = torchaudio.functional.resample(x, 44100, 16000)
    >>> y.shape == whole.shape, bool((y - whole).abs().max() < 1e-5)
    (True, True)
    """

    LOWPASS_WIDTH = 6
    ROLLOFF = 0.99

    def __init__(self, orig_freq, new_freq):
        gcd = math.gcd(int(orig_freq), int(new_freq))
        self.orig_freq, self.new_freq = int(orig_freq), int(new_freq)
        self.orig, self.new = self.orig_freq // gcd, self.new_freq // gcd
        base = min(self.orig, self.new) * self.ROLLOFF
        # torchaudio's kernel reaches `width` input samples either side.
        self.width = math.ceil(self.LOWPASS_WIDTH * self.orig / base) + 1
        self.context = math.ceil(self.width / self.orig) * self.orig
        self.buffer = torch.zeros(0)
        self.offset = 0  # stream index of buffer[0], a multiple of orig
        self.next_group = 0  # next output group (new samples per orig input)
        self.total_in = 0
        self.emitted = 0

    def _run(self, start, stop, groups_end):
        seg = self.buffer[start - self.offset : stop - self.offset]
        out = torchaudio.functional.resample(seg, self.orig_freq, self.new_freq)
        first = (self.next_group - start // self.orig) * self.new
        if groups_end is None:
            return out[first:]
        return out[first : first + (groups_end - self.next_group) * self.new]

    def _trim(self):
        keep = max(self.offset, self.next_group * self.orig - self.context)
        self.buffer = self.buffer[keep - self.offset :]
        self.offset = keep

    def push(self, samples):
        """Adds samples [n]; returns the resampled samples ready so far."""
        samples = torch.as_tensor(samples, dtype=torch.float32).reshape(-1)
        self.buffer = torch.cat([self.buffer, samples])
        self.total_in += len(samples)
        end = self.total_in
        groups_end = (end - self.width) // self.orig
        if groups_end <= self.next_group:
            return torch.zeros(0)
        start = max(self.offset, self.next_group * self.orig - self.context)
        stop = min(end, groups_end * self.orig + self.width + self.orig)
        out = self._run(start, stop, groups_end)
        self.next_group = groups_end
        self.emitted += len(out)
        self._trim()
        return out

    def flush(self):
        """The samples left at the end of the stream."""
        total = math.ceil(self.new * self.total_in / self.orig)
        if self.emitted >= total:
            return torch.zeros(0)
        start = max(self.offset, self.next_group * self.orig - self.context)
        out = self._run(start, self.total_in, None)[: total - self.emitted]
        self.emitted += len(out)
        self.buffer = torch.zeros(0)
        return out


def file_chunks(path, seconds):
    """Opens an audio file soundfile reads.

    Arguments
    ---------
    path : str
        The file.
    seconds : float
        Duration of a chunk (a codec's ``chunk_seconds``).

    Returns
    -------
    rate : int
        Its sampling rate.
    channels : int
        Its channel count.
    chunks : generator
        float32 samples [n, channels].
    """
    try:
        handle = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError, TypeError) as err:
        raise AudioError(f"cannot read {path}: {err}") from err
    rate, channels = handle.samplerate, handle.channels
    if not 1 <= rate <= MAX_RATE or not 1 <= channels <= MAX_CHANNELS:
        handle.close()
        raise AudioError(f"{path}: {channels} channels at {rate} Hz not supported")
    frames = max(1, round(seconds * rate))

    def generate():
        with handle:
            while True:
                try:
                    data = handle.read(frames, dtype="float32", always_2d=True)
                except (sf.LibsndfileError, RuntimeError, OSError) as err:
                    raise AudioError(f"cannot read {path}: {err}") from err
                if not len(data):
                    return
                yield data

    return rate, channels, generate()
