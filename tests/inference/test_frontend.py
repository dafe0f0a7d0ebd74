"""The codec as a frozen feature extractor inside a SpeechBrain yaml."""

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml

from speechbrain_rnncodec.audio.io import read_audio
from speechbrain_rnncodec.evaluation.demo import SAMPLE
from speechbrain_rnncodec.inference import RNNCodec

# The value of one code of the shipped default model: its VQ latent, and
# for a model that sends its pitch, the sent log F0 and voicing.
D = RNNCodec.from_hparams().mods.quantizer.code_values(torch.zeros(1, 1, 1).long())
D = D.shape[-1]

YAML = """
frontend: !new:speechbrain_rnncodec.inference.frontend.CodecFrontEnd
    output: {output}
    bitrate: {bitrate}
    pooling: {pooling}
model: !new:torch.nn.Linear
    in_features: !apply:getattr [!ref <frontend>, output_size]
    out_features: 4
"""


def load(output="embeddings", bitrate=3.0, pooling="sum"):
    text = YAML.format(output=output, bitrate=bitrate, pooling=pooling)
    return load_hyperpyyaml(text)


@pytest.fixture(scope="module")
def speech():
    wav = read_audio(SAMPLE)[:32000]
    # A padded batch: the full clip and its first 0.7 s.
    short = torch.nn.functional.pad(wav[:11200], (0, 32000 - 11200))
    return torch.stack([wav, short]), torch.tensor([1.0, 0.35])


@pytest.mark.parametrize(
    "output,pooling,size",
    [
        ("tokens", "sum", 6),
        ("embeddings", "sum", D),
        ("embeddings", "concat", 6 * D),
        ("embeddings", "attention", D),
        ("latents", "sum", None),  # the encoder's output, pitch scores included
    ],
)
def test_outputs_in_a_yaml(speech, output, pooling, size):
    hp = load(output, 3.0, pooling)
    wavs, lens = speech
    feats = hp["frontend"](wavs, lens)
    assert hp["frontend"].output_size == (size or feats.shape[-1])
    if output == "tokens":
        assert feats.shape == (2, 100, 6) and feats.dtype == torch.int64
        return
    assert feats.shape == (2, 100, hp["frontend"].output_size)
    assert hp["model"](feats).shape == (2, 100, 4)


def test_tokens_match_the_codec_and_ignore_padding(speech):
    wavs, lens = speech
    frontend = load("tokens", 6.0)["frontend"]
    tokens = frontend(wavs, lens)
    alone, _ = RNNCodec.from_hparams().encode(wavs[1:, :11200], bitrate=6)
    assert torch.equal(tokens[1, :35], alone[0])
    full, _ = RNNCodec.from_hparams().encode(wavs[:1], bitrate=6)
    assert torch.equal(tokens[0], full[0])


def test_sum_pooling_is_the_quantized_latent(speech):
    wavs, _ = speech
    frontend = load("embeddings", 1.5)["frontend"]
    feats = frontend(wavs)
    codec = RNNCodec.from_hparams()
    tokens, _ = codec.encode(wavs, bitrate=1.5)
    assert torch.allclose(feats, codec.mods.quantizer.decode(tokens), atol=1e-5)


def test_frozen_codec_gets_no_gradient_and_stays_unchanged(speech):
    hp = load("embeddings", 3.0, "attention")
    frontend, model = hp["frontend"], hp["model"]
    frontend.train()
    assert not frontend.encoder.training and not frontend.quantizer.training
    before = {k: v.clone() for k, v in frontend.state_dict().items()}
    wavs, lens = speech
    model(frontend(wavs, lens)).pow(2).mean().backward()
    assert all(p.grad is None for p in frontend.encoder.parameters())
    assert all(p.grad is not None for p in frontend.attention.parameters())
    for key, value in frontend.state_dict().items():
        if not key.startswith("attention"):
            assert torch.equal(value, before[key]), key


def test_fine_tuned_latents_reach_the_encoder(speech):
    from speechbrain_rnncodec.inference.frontend import CodecFrontEnd

    frontend = CodecFrontEnd(output="latents", freeze=False).train()
    assert frontend.encoder.training
    frontend(speech[0]).pow(2).mean().backward()
    assert all(p.grad is not None for p in frontend.encoder.parameters())
    with pytest.raises(ValueError, match="only the latents"):
        CodecFrontEnd(output="tokens", freeze=False)
    with pytest.raises(ValueError, match="output must be one of"):
        CodecFrontEnd(output="mfcc")


def test_embeddings_of_a_bottleneck_with_small_codes(tmp_path):
    """A VQ-VAE's codes are 8-d group vectors, not 128-d latents: the
    front end's output size follows the codes."""
    import pathlib

    from speechbrain_rnncodec.inference.export import export_checkpoint
    from speechbrain_rnncodec.inference.frontend import CodecFrontEnd

    yaml = pathlib.Path(__file__).parents[2] / "hparams" / "rnn_vqvae_16k.yaml"
    with open(yaml) as fin:
        modules = load_hyperpyyaml(fin)["modules"]
    ckpt = tmp_path / "CKPT+random"
    ckpt.mkdir()
    for name, module in modules.items():
        torch.save(module.state_dict(), ckpt / f"{name}.ckpt")
    hub = export_checkpoint(ckpt, yaml, tmp_path / "hub")
    wav = torch.randn(2, 16000) * 0.1
    for pooling, size in [("sum", 8), ("attention", 8), ("concat", 6 * 8)]:
        front = CodecFrontEnd(source=str(hub), pooling=pooling, bitrate=3.0)
        assert front.output_size == size
        assert front(wav).shape == (2, 50, size)
