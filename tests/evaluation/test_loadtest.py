"""A small load test: many short files and a long one through the command
(folder mode, streaming) and the API; memory bounded, no leak."""

import pytest

from speechbrain_rnncodec.audio.io import read_audio
from speechbrain_rnncodec.evaluation.demo import SAMPLE
from speechbrain_rnncodec.evaluation.loadtest import load_test
from speechbrain_rnncodec.inference import RNNCodec

pytestmark = pytest.mark.slow


def test_short_files_and_a_long_file_in_bounded_memory(tmp_path):
    codec = RNNCodec.from_hparams()
    speech = read_audio(SAMPLE).numpy()
    result = load_test(codec, speech, tmp_path, 100, 0.5, 120.0)
    short, long = result["short"], result["long"]
    assert short["decoded_files"] == 100
    assert abs(long["decoded_seconds"] - 120.0) < 0.05
    # 6 kbps tokens, entropy-coded by the default's prior (5.49 kbps on this
    # looped sample; 3 kbps would be about 2.6)
    assert 5.2 < long["rnc_bytes"] * 8 / 120.0 / 1000 < 6.5
    # Streaming: two minutes cost no more memory than half-second files.
    for job in ("encode", "decode"):
        assert long[job][1] < short[job][1] + 64, (long[job], short[job])
    trace = short["api_rss_mib"]
    assert trace[-1] - trace[0] < 16, trace  # no leak per file
