"""The speech level and the gain into the codec's levels."""

import numpy as np

from speechbrain_rnncodec.audio.io import read_audio
from speechbrain_rnncodec.audio.level import (
    MAX_GAIN_DB,
    SILENT_DB,
    TARGET_DB,
    TRAINED_LEVELS_DB,
    active_level_db,
    level_gain_db,
)
from speechbrain_rnncodec.evaluation.demo import SAMPLE


def test_the_level_does_not_depend_on_chunks_channels_or_pauses():
    wav = read_audio(SAMPLE).numpy()
    whole = active_level_db([wav], 16000)
    assert TRAINED_LEVELS_DB[0] < whole < TRAINED_LEVELS_DB[1]
    chunks = [wav[i : i + 777] for i in range(0, len(wav), 777)]
    assert abs(active_level_db(chunks, 16000) - whole) < 0.05
    stereo = np.stack([wav, wav], axis=1)
    assert abs(active_level_db([stereo], 16000) - whole) < 1e-9
    # a pause as long as the speech leaves the loudest half: within 0.5 dB
    paused = np.concatenate([wav, np.zeros_like(wav)])
    assert abs(active_level_db([paused], 16000) - whole) < 0.5
    assert abs(active_level_db([0.1 * wav], 16000) - (whole - 20)) < 1e-6


def test_gains_bring_levels_from_outside_the_trained_range_to_its_median():
    low, high = TRAINED_LEVELS_DB
    assert level_gain_db(low - 10) == round(TARGET_DB - low + 10)
    assert level_gain_db(high + 3) == round(TARGET_DB - high - 3)
    assert level_gain_db(low) == level_gain_db(high) == 0
    assert level_gain_db(SILENT_DB + 5) == MAX_GAIN_DB
    assert level_gain_db(-200.0) == 0  # below any speech: silence
    assert level_gain_db(active_level_db([np.zeros(1600)], 16000)) == 0  # silence
    assert active_level_db([np.zeros(1600)], 16000) <= SILENT_DB
    assert level_gain_db(float("nan")) == 0
    assert active_level_db([], 16000) == active_level_db([np.zeros(0)], 16000)
    assert level_gain_db(active_level_db([np.array([0.1, np.nan])], 16000)) == 0
