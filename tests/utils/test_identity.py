"""Model identity: what a .rnc file names survives a refactor of the code."""

import pathlib
import shutil
import sys

import torch
from hyperpyyaml import load_hyperpyyaml

from speechbrain_rnncodec.audio.io import read_audio
from speechbrain_rnncodec.bitstream.container import RNCReader
from speechbrain_rnncodec.evaluation.demo import SAMPLE
from speechbrain_rnncodec.inference.export import export_checkpoint
from speechbrain_rnncodec.inference.pretrained import RNNCodec
from speechbrain_rnncodec.inference.shipped import DEFAULT_MODEL, SHIPPED_FOLDER
from speechbrain_rnncodec.metrics.signal import pesq_wb
from speechbrain_rnncodec.utils.identity import model_hash

ROOT = pathlib.Path(__file__).resolve().parents[2]
HUB_YAML = ROOT / "hparams" / "rnn_vq_16k.yaml"
VQ_MODEL = SHIPPED_FOLDER / "rnn_vq_16k"

# Written by the shipped rnn_vq_16k with the code of commit 28c7af4, before
# the model's identity was recorded in its yaml (demo sample, 3 kbps), coded
# uniformly: the float32 prior of that code gives tables that other CPUs
# do not reproduce (entropy/learned.py).
BEFORE = ROOT / "tests" / "samples" / "rnn_vq_16k_before_refactor.rnc"
DECODER_PATH = "speechbrain_rnncodec.lobes.decoder.RNNDecoder"


def header_hash(path):
    with open(path, "rb") as fin:
        return RNCReader(fin).header.model_hash


def moved_copy(tmp_path, monkeypatch, folder=VQ_MODEL):
    """A copy of a hub folder whose yaml finds the decoder class under a new
    import path (as a refactor that moves the module would)."""
    package = tmp_path / "moved_lobes"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from speechbrain_rnncodec.lobes.decoder import RNNDecoder  # noqa: F401\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    yaml = copy / "hyperparams.yaml"
    text = yaml.read_text()
    assert DECODER_PATH in text
    yaml.write_text(text.replace(DECODER_PATH, "moved_lobes.RNNDecoder"))
    return copy


def test_a_file_written_before_the_refactor_decodes_with_the_same_model(
    tmp_path, monkeypatch
):
    codec = RNNCodec.from_hparams(source=VQ_MODEL.name)  # a shipped model by name
    assert header_hash(BEFORE) == codec.model_fingerprint()[1]
    wav = codec.decompress(BEFORE.read_bytes())
    original = read_audio(SAMPLE)
    assert wav.shape == original.shape
    assert pesq_wb(wav[None], original[None], torch.ones(1))[0] > 1.6
    moved = RNNCodec.from_hparams(
        source=str(moved_copy(tmp_path, monkeypatch)), savedir=str(tmp_path / "s")
    )
    assert "moved_lobes" in sys.modules
    assert moved.model_fingerprint() == codec.model_fingerprint()
    assert torch.equal(moved.decompress(BEFORE.read_bytes()), wav)


def test_export_records_the_hash_of_weights_and_architecture(tmp_path, monkeypatch):
    with open(HUB_YAML, encoding="utf-8") as fin:
        modules = load_hyperpyyaml(fin)["modules"]
    ckpt = tmp_path / "CKPT+x"
    ckpt.mkdir()
    for name, module in modules.items():
        torch.save(module.state_dict(), ckpt / f"{name}.ckpt")
    hub = export_checkpoint(ckpt, HUB_YAML, tmp_path / "hub" / "random_16k")
    codec = RNNCodec.from_hparams(source=str(hub), savedir=str(tmp_path / "s1"))
    recorded = codec.model_fingerprint()
    text = (hub / "hyperparams.yaml").read_text()
    assert recorded == ("random_16k", model_hash(text, codec.mods))
    assert recorded[1] != RNNCodec.from_hparams().model_fingerprint()[1]
    data = codec.compress(read_audio(SAMPLE)[:16000], bitrate=1.5)
    (tmp_path / "m").mkdir()
    moved = moved_copy(tmp_path / "m", monkeypatch, hub)
    moved_codec = RNNCodec.from_hparams(source=str(moved), savedir=str(tmp_path / "s2"))
    assert moved_codec.model_fingerprint() == recorded
    assert (
        model_hash((moved / "hyperparams.yaml").read_text(), moved_codec.mods)
        == (recorded[1])
    )
    assert moved_codec.decompress(data).shape == (16000,)


def test_a_copy_in_savedir_writes_the_bytes_of_the_shipped_model(tmp_path):
    shipped = RNNCodec.from_hparams()
    copy = RNNCodec.from_hparams(source=str(DEFAULT_MODEL), savedir=str(tmp_path))
    assert (tmp_path / "token_prior.npz").exists()
    wav = read_audio(SAMPLE)[:32000]
    assert copy.compress(wav, bitrate=1.5) == shipped.compress(wav, bitrate=1.5)


def test_from_hparams_takes_speechbrain_arguments(tmp_path):
    assert (
        RNNCodec.from_hparams(
            source=str(DEFAULT_MODEL), savedir=str(tmp_path), download_only=True
        )
        is None
    )
    names = {p.name for p in tmp_path.iterdir()}
    assert {"hyperparams.yaml", "decoder.ckpt", "token_prior.npz"} <= names
    codec = RNNCodec.from_hparams(
        source=str(tmp_path),
        overrides={"no_such_key": 1},
        overrides_must_match=False,
    )
    assert codec.model_fingerprint() == RNNCodec.from_hparams().model_fingerprint()
