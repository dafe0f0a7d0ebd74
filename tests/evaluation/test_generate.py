"""Generation from the shipped model's token prior: length, seeds, prompts."""

import numpy as np
import pytest
import torch

from speechbrain_rnncodec.audio.io import read_audio
from speechbrain_rnncodec.cli import common
from speechbrain_rnncodec.cli import main as cli
from speechbrain_rnncodec.evaluation.demo import SAMPLE
from speechbrain_rnncodec.evaluation.generate import generate, sample_tokens


def test_length_and_determinism_under_a_seed(codec):
    a = generate(codec, 1.0, seed=3)
    assert a.shape == (16000,) and torch.isfinite(a).all()
    assert a.abs().max() > 1e-3  # not silence
    torch.testing.assert_close(generate(codec, 1.0, seed=3), a)
    assert not torch.equal(generate(codec, 1.0, seed=4), a)


def test_prompt_codes_are_kept_then_continued(codec):
    model = codec.entropy_model
    prompt = np.random.default_rng(0).integers(0, 1024, size=(7, 3))
    codes = sample_tokens(model, 20, 3, prompt, seed=1)
    assert codes.shape == (27, 3)
    assert np.array_equal(codes[:7], prompt)
    other = sample_tokens(model, 20, 3, prompt[::-1], seed=1)
    assert not np.array_equal(codes[7:], other[7:])  # the prompt conditions

    wav = read_audio(SAMPLE, codec.sample_rate, duration=1.0)
    out = generate(codec, 0.5, prompt=wav, seed=0)
    assert out.shape == (16000 + 8000,)


def test_refuses_what_it_cannot_sample(codec):
    with pytest.raises(ValueError, match="models 3 of the 12"):
        generate(codec, 0.2, bitrate=6.0)
    try:
        codec.set_entropy_model("uniform")
        with pytest.raises(ValueError, match="no prior"):
            generate(codec, 0.2)
    finally:
        codec.set_entropy_model(None)
    with pytest.raises(ValueError, match="temperature"):
        sample_tokens(codec.entropy_model, 2, 3, temperature=0)


def test_cli_generate_writes_numbered_wavs(codec, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(common, "load_model", lambda args: codec)
    out = tmp_path / "sample.wav"
    args = ["generate", str(out), "--seconds", "0.4", "--count", "2", "--seed", "5"]
    assert cli.main(args + ["--page"]) == 0
    files = sorted(tmp_path.glob("*.wav"))
    assert [f.name for f in files] == ["sample_000.wav", "sample_001.wav"]
    assert read_audio(files[0]).shape == (6400,)
    printed = capsys.readouterr().out
    assert "seed 6" in printed and "median DNSMOS over 2 samples: ovrl" in printed
    page = (tmp_path / "sample.html").read_text()
    assert page.count("<audio controls") == 2 and "DNSMOS ovrl" in page
