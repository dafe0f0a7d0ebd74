"""Tests for the loss simulator and the loss / transport benchmarks."""

import numpy as np
import pytest
import torch

from speechbrain_rnncodec.audio.io import read_audio
from speechbrain_rnncodec.cli import common
from speechbrain_rnncodec.cli import main as cli
from speechbrain_rnncodec.evaluation.demo import SAMPLE
from speechbrain_rnncodec.evaluation.loss_bench import (
    handover_jumps,
    loss_benchmark,
    loss_mask,
    parse_pattern,
    transport_overhead,
)

SAMPLES = "tests/samples/LibriSpeech/test-clean-5"


@pytest.mark.parametrize("kind", ["random", "gilbert"])
@pytest.mark.parametrize("rate", [0.05, 0.1, 0.2])
def test_loss_patterns_are_seeded_and_hit_their_rate(kind, rate):
    mask = loss_mask(kind, 50000, rate, seed=3)
    assert np.array_equal(mask, loss_mask(kind, 50000, rate, seed=3))
    assert not np.array_equal(mask, loss_mask(kind, 50000, rate, seed=4))
    assert abs(mask.mean() - rate) < 0.15 * rate
    bursts = np.diff(np.flatnonzero(np.diff(np.r_[0, mask, 0])))[::2]
    expected = 3.0 if kind == "gilbert" else 1 / (1 - rate)
    assert abs(bursts.mean() - expected) < 0.1 * expected


def test_loss_patterns_refuse_bad_parameters():
    with pytest.raises(ValueError, match="loss kind"):
        loss_mask("bursty", 10, 0.1)
    with pytest.raises(ValueError, match="lie in"):
        loss_mask("random", 10, 1.0)
    with pytest.raises(ValueError, match="mean_burst"):
        loss_mask("gilbert", 10, 0.1, mean_burst=0.5)
    with pytest.raises(ValueError, match="bursts longer"):
        loss_mask("gilbert", 10, 0.8, mean_burst=1.0)
    assert parse_pattern("gilbert@20") == ("gilbert", 0.2)
    for spec in ["gilbert", "bursty@5", "random@x"]:
        with pytest.raises(ValueError, match="KIND@PERCENT"):
            parse_pattern(spec)


def test_handover_jumps_see_a_click():
    clean = torch.sin(torch.arange(3200) / 10.0)
    clicked = clean.clone()
    clicked[1600] += 1.0  # at the resumption of frame 5
    lost = np.zeros(10, dtype=bool)
    lost[4] = True
    assert handover_jumps(clean, clean, lost, 320, 240) == [1.0]
    assert handover_jumps(clicked, clean, lost, 320, 240)[0] > 5


def test_transport_overhead_of_the_shipped_model(codec):
    wav = read_audio(SAMPLE)
    rows = transport_overhead(codec, [wav], [3.0], (1, 2, 50))
    one, two, big = rows
    assert one["raw"]["bytes_per_packet"] == 8  # 60 bits of codes, 4 of padding
    assert one["raw"]["kbps"] == pytest.approx(3.2)
    assert one["raw"]["overhead"] < 10
    assert two["raw"]["kbps"] == pytest.approx(3.0, abs=0.01)  # 15 whole bytes
    assert one["ms"] == 20 and big["ms"] == 1000
    assert big["entropy"]["kbps"] < big["raw"]["kbps"]  # the prior pays off
    assert one["entropy"]["bytes_per_packet"] >= 8  # ... but not per frame


def test_loss_benchmark_scores_every_variant_on_the_same_pattern(codec):
    wav = read_audio(SAMPLE)
    rows = loss_benchmark(codec, [wav], ["gilbert@20"], ["repeat", "silence"], 3.0)
    names = [(r["pattern"], r["what"]) for r in rows]
    assert names == [
        ("none", "rnncodec@3"),
        ("none", "opuslib@6"),
        ("gilbert@20", "rnncodec@3 repeat"),
        ("gilbert@20", "rnncodec@3 silence"),
        ("gilbert@20", "opuslib@6 plc"),
    ]
    scores = {r["what"]: r for r in rows}
    for row in rows:
        assert 1 <= row["dnsmos"] <= 5 and 0 < row["stoi"] <= 1
    assert rows[2]["loss"] == rows[4]["loss"] > 0.05
    assert scores["rnncodec@3 repeat"]["pesq"] > scores["rnncodec@3 silence"]["pesq"]
    assert scores["rnncodec@3"]["pesq"] > scores["rnncodec@3 repeat"]["pesq"]


def test_bench_commands_print_their_tables(codec, monkeypatch, capsys):
    monkeypatch.setattr(common, "load_model", lambda args: codec)
    args = ["bench", "--transport", SAMPLES, "--max-utterances", "1"]
    assert cli.main([*args, "--bitrate", "3"]) == 0
    out = capsys.readouterr().out
    assert "command: rnncodec" in out
    assert "    3      1    20      8.00    3.200    6.7" in out
    args = ["bench", "--loss", SAMPLES, "--max-utterances", "1", "--quiet"]
    args += ["--patterns", "random@10", "--conceal", "repeat", "--opus", "0"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "median over 1 utterances" in out
    table = out[out.index("loss pattern") :]  # the command line echoes argv
    assert "random@10" in table and "rnncodec@3 repeat" in table
    assert "opus" not in table
    assert cli.main([*args[:-6], "--patterns", "random@x"]) == 1


def test_opus_conceals_the_packets_it_is_told_are_lost():
    from speechbrain_rnncodec.evaluation.opus import OpusCodec

    opus = OpusCodec(6, in_process=True)
    wav = read_audio(SAMPLE)
    data = opus.encode(wav)
    count = len(opus.packet_sizes(data))
    assert count == -(-(len(wav) + 104) // 320)  # 6.5 ms of lookahead coded too
    none = np.zeros(count, dtype=bool)
    assert torch.equal(opus.decode_lost(data, none), opus.decode(data))
    lost = none.copy()
    lost[50:53] = True
    out = opus.decode_lost(data, lost)
    assert out.shape == wav.shape
    assert torch.equal(out[: 49 * 320], opus.decode(data)[: 49 * 320])
    assert not torch.equal(out, opus.decode(data))
    with pytest.raises(ValueError, match="in-process"):
        OpusCodec(6).decode_lost(b"", none)
