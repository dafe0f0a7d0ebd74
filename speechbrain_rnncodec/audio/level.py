"""The speech level of a signal, and the gain that brings it into the range
of levels the codec was trained on.

The codec loses quality on speech much quieter or louder than its training
data (LibriSpeech and speechocean762: an active level of -28 to -17.5 dB
for the middle 80 % of utterances, -22 dB for the median), the more the
further away (BENCHMARKS.md, "Input level"). The ``.rnc`` path measures a
file's active level, scales a file outside -28 to -15 dB to the median
before encoding and records the gain in the header, so that decoding
restores the original level.

Authors
 * speechbrain_rnncodec team 2026
"""

import numpy as np

from speechbrain_rnncodec.audio.wavstream import file_chunks

FRAME_SECONDS = 0.02
TRAINED_LEVELS_DB = (-28.0, -15.0)  # active levels the codec saw most
TARGET_DB = -22.0  # their median
MAX_GAIN_DB = 40
SILENT_DB = -90.0
RANGE_DB = 50.0  # quieter frames (pauses, padding) do not count


def active_level_db(chunks, rate):
    """The active level of a signal: the mean power of the loudest half of
    its 20 ms frames that are not silent (within :data:`RANGE_DB` of the
    loudest), in dB relative to a full-scale square wave.

    Arguments
    ---------
    chunks : iterable of numpy.ndarray
        The signal, as float samples [n] or [n, channels] (channels are
        mixed), in chunks of any length.
    rate : int
        Its sampling rate.

    Returns
    -------
    float
        The level in dB (:data:`SILENT_DB` or less for silence).

    Example
    -------
    >>> t = np.arange(16000) / 16000
    >>> round(active_level_db([0.1 * np.sin(2 * np.pi * 200 * t)], 16000), 1)
    -23.0
    """
    hop = max(1, round(FRAME_SECONDS * rate))
    powers, rest = [], np.zeros(0, dtype=np.float32)
    for chunk in chunks:
        chunk = np.asarray(chunk, dtype=np.float32)
        mono = chunk.mean(axis=1) if chunk.ndim == 2 else chunk
        samples = np.concatenate([rest, mono]) if len(rest) else mono
        whole = len(samples) // hop * hop
        frames = samples[:whole].reshape(-1, hop)
        powers.append(np.einsum("ij,ij->i", frames, frames) / hop)
        rest = samples[whole:]
    if len(rest):
        powers.append([np.mean(rest.astype(np.float64) ** 2)])
    powers = np.concatenate([[0.0], *powers])
    powers = np.sort(powers[powers > powers.max() * 10 ** (-RANGE_DB / 10)])[::-1]
    loudest = powers[: max(1, len(powers) // 2)].mean() if len(powers) else 0.0
    return float(10 * np.log10(max(loudest, 10 ** (SILENT_DB / 10))))


def level_gain_db(level_db):
    """The whole dB that bring a ``level_db`` outside
    :data:`TRAINED_LEVELS_DB` to :data:`TARGET_DB` (0 inside it, for silence
    and for a level that is not a number), at most :data:`MAX_GAIN_DB`
    either way.

    >>> level_gain_db(-40.2), level_gain_db(-20.0), level_gain_db(-9.4)
    (18, 0, -13)
    """
    low, high = TRAINED_LEVELS_DB
    if not SILENT_DB < level_db < -SILENT_DB or low <= level_db <= high:
        return 0
    gain = np.round(TARGET_DB - level_db)
    return int(np.clip(gain, -MAX_GAIN_DB, MAX_GAIN_DB))


def file_gain_db(path):
    """The :func:`level_gain_db` of an audio file (any format soundfile
    reads), measured in a pass over it with bounded memory."""
    rate, _, chunks = file_chunks(path, seconds=8.0)
    return level_gain_db(active_level_db(chunks, rate))
