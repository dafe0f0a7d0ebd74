"""The DASB-style yaml of the README (docs/dasb_tokenizer.yaml) runs."""

import pathlib

import torch
from hyperpyyaml import load_hyperpyyaml

from speechbrain_rnncodec.audio.io import read_audio
from speechbrain_rnncodec.evaluation.demo import SAMPLE

YAML = pathlib.Path(__file__).parents[2] / "docs" / "dasb_tokenizer.yaml"


def test_dasb_style_model_trains_on_codec_tokens():
    with open(YAML, encoding="utf-8") as fin:
        hp = load_hyperpyyaml(fin)
    wavs = read_audio(SAMPLE)[:32000].repeat(2, 1)
    tokens = hp["tokenizer"].sig_to_tokens(wavs, torch.ones(2), num_codebooks=6)
    assert tokens.shape == (2, 100, 6)
    feats = hp["embedding"](tokens)
    hidden, _ = hp["encoder"](feats)
    logits = hp["classifier"](hidden.mean(dim=1))
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor([1, 2]))
    loss.backward()
    assert hp["embedding"].embedding.weight.grad.abs().sum() > 0
