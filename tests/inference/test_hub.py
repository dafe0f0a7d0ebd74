"""Hub side of the codec: the demo's compressed files, the model card,
loading errors and weights-only loading, the offline HuggingFace path."""

import hashlib
import os
import pathlib
import shutil
import struct
import subprocess
import sys
import textwrap

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml

from speechbrain_rnncodec.audio.io import read_audio
from speechbrain_rnncodec.cli import main as cli
from speechbrain_rnncodec.evaluation.demo import SAMPLE
from speechbrain_rnncodec.inference.export import model_card
from speechbrain_rnncodec.inference.pretrained import RNNCodec
from speechbrain_rnncodec.inference.shipped import DEFAULT_MODEL

ROOT = pathlib.Path(__file__).resolve().parents[2]
HUB_YAML = ROOT / "hparams" / "rnn_vq_16k.yaml"
HUB_FILES = ("hyperparams.yaml", "encoder.ckpt", "quantizer.ckpt", "decoder.ckpt")


@pytest.fixture
def clip(tmp_path):
    import soundfile as sf

    wav = read_audio(SAMPLE)[:24000]  # 1.5 s
    path = tmp_path / "clip.wav"
    sf.write(path, wav.numpy(), 16000, subtype="FLOAT")
    return path


def test_demo_writes_compressed_files_and_decodes_them(codec, clip, tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--input", str(clip), "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "real kbps" in printed and "PESQ-WB" in printed
    files = sorted(out.glob("clip_*kbps.rnc"))
    names = [f"clip_{kbps:g}kbps.rnc" for kbps in codec.bitrates]
    assert [f.name for f in files] == sorted(names)
    assert not list(out.glob(".*"))  # no temp file left behind
    wav = read_audio(clip)
    seconds = len(wav) / 16000
    for kbps in codec.bitrates:
        path = out / f"clip_{kbps:g}kbps.rnc"
        size = path.stat().st_size
        frames = -(-len(wav) // 320)
        raw = -(-frames * round(kbps * 20) // 8)  # the raw token bits, 20 ms frames
        assert raw * 0.5 < size < raw + 100  # entropy coded, plus container
        real = size * 8 / seconds / 1000
        assert f"{size:>7d} {real:>9.3f}" in printed
        # The bytes on disk decode to what in-memory tokens decode to.
        tokens, _ = codec.encode(wav[None], bitrate=kbps)
        in_memory = codec.decode(tokens)[0, : len(wav)]
        from_file = codec.decompress(path.read_bytes())
        assert (from_file - in_memory).abs().max() < 1e-4  # decoded by packets
        written = read_audio(out / f"clip_{kbps:g}kbps.wav")
        # 16-bit wav: the decoded peaks (up to 1.2 here) clip.
        assert (written - in_memory.clamp(-1, 1)).abs().max() < 2e-4
    png = (out / "clip_spectrograms.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    assert width > 400 and height > 400  # four stacked panels
    assert f"spectrograms: {out / 'clip_spectrograms.png'}" in printed


def hub_hparams():
    with open(HUB_YAML) as fin:
        return load_hyperpyyaml(fin)


def test_model_card_content():
    card = model_card(hub_hparams())
    for text in [
        "library_name: speechbrain",
        "2-layer LSTM 256",  # encoder
        "2-layer LSTM 384",  # decoder
        "12 codebooks x 1024 codes",
        "1.5 kbps = 3 codes per frame, 3 kbps = 6 codes per frame, 6 kbps = 12",
        "50 token frames per second",
        "algorithmic latency 35 ms",
        "4.74 M trainable",
        "1.57 M codebook entries",
        "train-clean-5",
        "train-clean-100-extra",
        "rnncodec eval",  # where the metrics are, none given
        "16 kHz mono speech",
        "English read speech",
        "GAN",
        "CPU",
        "RNNCodec.from_hparams(",
        "rnncodec demo --model",
    ]:
        assert text in card, text
    usage = card.split("```python\n")[1].split("```")[0]
    assert len(usage.strip().splitlines()) == 3


def default_checkpoint(folder, change=None):
    """A CKPT folder holding the default model's weights in float32, with
    ``change(modules)`` applied first."""
    from speechbrain_rnncodec.inference.export import load_hub_weights

    text = (ROOT / "hparams" / f"{DEFAULT_MODEL.name}.yaml").read_text()
    modules = load_hyperpyyaml(text)["modules"]
    load_hub_weights(modules, DEFAULT_MODEL)
    if change:
        with torch.no_grad():
            change(modules)
    folder.mkdir()
    for name, module in modules.items():
        torch.save(module.state_dict(), folder / f"{name}.ckpt")
    return folder


def test_export_carries_the_token_prior_of_the_same_tokens(tmp_path):
    from speechbrain_rnncodec.entropy.learned import LearnedPriorModel
    from speechbrain_rnncodec.inference.export import recorded_hash

    yaml = ROOT / "hparams" / f"{DEFAULT_MODEL.name}.yaml"
    prior = DEFAULT_MODEL / "token_prior.npz"
    carry = ["--token-prior", str(prior), "--tokens-of", str(DEFAULT_MODEL)]

    def export(ckpt, out, *extra):
        return cli.main(["export", str(ckpt), str(out), "--hparams", str(yaml), *extra])

    # A decoder trained alone: new weights, the same tokens.
    ckpt = default_checkpoint(
        tmp_path / "CKPT+dec", lambda m: m["decoder"].output_norm.bias.add_(0.01)
    )
    assert export(ckpt, tmp_path / "hub", *carry) == 0
    carried = LearnedPriorModel.load(tmp_path / "hub" / "token_prior.npz")
    assert carried.meta["model_hash"] == recorded_hash(tmp_path / "hub")
    assert recorded_hash(tmp_path / "hub") != recorded_hash(DEFAULT_MODEL)
    assert carried.model_id == LearnedPriorModel.load(prior).model_id
    codec = RNNCodec.from_hparams(source=str(tmp_path / "hub"))
    assert codec.entropy_model.model_id == carried.model_id
    # Another encoder makes other tokens: refused, nothing left behind.
    ckpt = default_checkpoint(
        tmp_path / "CKPT+enc", lambda m: m["encoder"].output_proj.bias.add_(0.01)
    )
    assert export(ckpt, tmp_path / "other", *carry) == 1
    assert not (tmp_path / "other").exists()
    assert export(ckpt, tmp_path / "other", *carry[:2]) == 1
    missing = ["--token-prior", str(tmp_path / "none.npz"), *carry[2:]]
    assert export(ckpt, tmp_path / "other", *missing) == 1
    assert not (tmp_path / "other").exists()


def test_model_card_names_the_encoders_front_ends():
    text = (ROOT / "hparams" / "rnn_sf_pitch_rf_16k.yaml").read_text()
    text = text.replace(
        "pitch_refinement: 320",
        "pitch_refinement: 320\n    subframe_bands: 32\n    pitch_glide: 96",
    )
    card = model_card(load_hyperpyyaml(text))
    assert "refined on the newest 320 samples" in card
    assert "log energies of 32 mel bands every 80 samples" in card
    assert "on the newest 96 samples again" in card


def test_export_writes_card_with_metrics(tmp_path):
    modules = hub_hparams()["modules"]
    ckpt = tmp_path / "CKPT+x"
    ckpt.mkdir()
    for name, module in modules.items():
        torch.save(module.state_dict(), ckpt / f"{name}.ckpt")
    table = "| kbps | PESQ-WB |\n|---|---|\n| 6 | 9.99 |\n"
    (tmp_path / "metrics.md").write_text(table)
    args = [str(ckpt), str(tmp_path / "hub"), "--hparams", str(HUB_YAML)]
    assert cli.main(["export", *args, "--card-metrics", str(tmp_path / "m.md")]) == 1
    assert (
        cli.main(["export", *args, "--card-metrics", str(tmp_path / "metrics.md")]) == 0
    )
    card = (tmp_path / "hub" / "README.md").read_text()
    assert table.strip() in card and "Not measured" not in card
    assert "LSTM 256" in card
    assert sorted(p.name for p in (tmp_path / "hub").iterdir()) == sorted(
        HUB_FILES + ("README.md",)
    )


@pytest.fixture
def hub(tmp_path):
    folder = tmp_path / "hub"
    folder.mkdir()
    for name in HUB_FILES:
        shutil.copyfile(DEFAULT_MODEL / name, folder / name)
    return folder


def load(folder):
    return RNNCodec.from_hparams(source=str(folder), savedir=str(folder.parent / "s"))


@pytest.mark.parametrize("name", HUB_FILES)
def test_missing_file_is_named(hub, name):
    (hub / name).unlink()
    with pytest.raises(FileNotFoundError, match=name):
        load(hub)


def test_checkpoint_of_other_shapes_is_named(hub):
    yaml = (hub / "hyperparams.yaml").read_text()
    encoder_width = yaml.index("hidden_size: 192")  # the encoder's comes first
    assert encoder_width < yaml.index("decoder: !new:")
    (hub / "hyperparams.yaml").write_text(
        yaml.replace("hidden_size: 192", "hidden_size: 128", 1)
    )
    with pytest.raises(ValueError, match="encoder.ckpt is another architecture"):
        load(hub)


@pytest.mark.parametrize(
    "name, state",
    [("quantizer", {"weight": torch.zeros(3)}), ("decoder", [torch.zeros(3)])],
)
def test_checkpoint_of_other_keys_is_named(hub, name, state):
    torch.save(state, hub / f"{name}.ckpt")
    with pytest.raises(ValueError, match=f"{name}.ckpt"):
        load(hub)


class Payload:
    """Unpickling it creates a file: what weights-only loading prevents."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_checkpoints_are_loaded_weights_only(hub, tmp_path, monkeypatch):
    marker = tmp_path / "code_ran"
    state = torch.load(hub / "encoder.ckpt", weights_only=True)
    state["payload"] = Payload(marker)
    torch.save(state, hub / "encoder.ckpt")
    # torch.load without weights_only (as SpeechBrain's hook calls it) would
    # now unpickle anything.
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    with pytest.raises(ValueError, match="encoder.ckpt is not a weights-only"):
        load(hub)
    assert not marker.exists()
    with pytest.warns(UserWarning, match="forcing weights_only=False"):
        torch.load(hub / "encoder.ckpt")  # without weights_only, code runs
    assert marker.exists()


HF_SCRIPT = textwrap.dedent("""
    import pathlib, sys
    import torch
    from speechbrain_rnncodec.audio.io import read_audio
    from speechbrain_rnncodec.evaluation.demo import SAMPLE
    from speechbrain_rnncodec.inference import RNNCodec

    savedir, cache = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]).resolve()
    hub = RNNCodec.from_hparams(source="sb-test/rnncodec", savedir=str(savedir))
    for name in ["hyperparams.yaml", "encoder.ckpt", "decoder.ckpt"]:
        assert (savedir / name).resolve().parent == cache / "blobs", name
    ref = RNNCodec.from_hparams()
    assert hub.entropy_model.model_id == ref.entropy_model.model_id  # the prior
    wav = read_audio(SAMPLE)[None, :16000]
    tokens, _ = hub.encode(wav, bitrate=3.0)
    assert torch.equal(tokens, ref.encode(wav, bitrate=3.0)[0])
    assert torch.equal(hub.decode(tokens), ref.decode(tokens))
    for repo, name in [("sb-test/absent", "hyperparams.yaml"),
                       ("sb-test/no-decoder", "decoder.ckpt")]:
        try:
            RNNCodec.from_hparams(source=repo, savedir=str(savedir) + repo[7:])
        except FileNotFoundError as err:
            assert name in str(err), err
        else:
            raise AssertionError(f"{repo} loaded")
    print("HF-OK")
    """)


def fill_hf_cache(hub_cache, repo, files):
    """A repo snapshot in huggingface_hub's cache layout (refs, snapshots
    of symlinks, blobs named by their etag)."""
    folder = hub_cache / f"models--{repo.replace('/', '--')}"
    commit = hashlib.sha1(repo.encode()).hexdigest()
    snapshot = folder / "snapshots" / commit
    for sub in (folder / "refs", folder / "blobs", snapshot):
        sub.mkdir(parents=True, exist_ok=True)
    (folder / "refs" / "main").write_text(commit)
    for name in files:
        data = (DEFAULT_MODEL / name).read_bytes()
        if name.endswith((".ckpt", ".npz")):  # LFS file: sha256
            etag = hashlib.sha256(data).hexdigest()
        else:  # git blob sha1
            etag = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        (folder / "blobs" / etag).write_bytes(data)
        os.symlink(f"../../blobs/{etag}", snapshot / name)
    return folder


def test_huggingface_repo_id_offline(tmp_path, monkeypatch):
    hf_home = tmp_path / "hf_home"
    repo = fill_hf_cache(
        hf_home / "hub", "sb-test/rnncodec", HUB_FILES + ("token_prior.npz",)
    )
    fill_hf_cache(hf_home / "hub", "sb-test/no-decoder", HUB_FILES[:3])
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(hf_home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    # huggingface_hub reads its environment at import: a fresh interpreter.
    proc = subprocess.run(
        [sys.executable, "-c", HF_SCRIPT, str(tmp_path / "saved"), str(repo)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0 and "HF-OK" in proc.stdout, proc.stderr[-3000:]


@pytest.mark.parametrize(
    "name", ["rnn_ae_16k", "rnn_vqvae_16k", "rnn_vae_16k", "rnn_sf_16k"]
)
def test_every_bottleneck_exports_and_codes_files(tmp_path, name):
    """The bottlenecks of issue 8 load from a hub folder like the default
    model and make .rnc files that decode to what their tokens decode to;
    the VAE's files are coded with its own Gaussian prior."""
    from speechbrain_rnncodec.inference.export import export_checkpoint

    with open(ROOT / "hparams" / f"{name}.yaml") as fin:
        hparams = load_hyperpyyaml(fin)
    torch.manual_seed(0)
    ckpt = tmp_path / "CKPT+random"
    ckpt.mkdir()
    for module_name, module in hparams["modules"].items():
        if module_name == "quantizer":
            module.train()(torch.randn(4, 30, 128))  # initialises a codebook
        torch.save(module.state_dict(), ckpt / f"{module_name}.ckpt")
    hub = export_checkpoint(ckpt, ROOT / "hparams" / f"{name}.yaml", tmp_path / name)
    codec = RNNCodec.from_hparams(source=str(hub))
    assert codec.mods.quantizer.summary() in (hub / "README.md").read_text()
    wav = read_audio(SAMPLE)[:16000]
    for kbps in codec.bitrates:
        data = codec.compress(wav, bitrate=kbps)
        tokens, _ = codec.encode(wav[None], bitrate=kbps)
        expected = codec.decode(tokens)[0, : len(wav)]
        assert (codec.decompress(data) - expected).abs().max() < 1e-4
    entropy_id = codec.entropy_model.model_id
    assert entropy_id.startswith("gauss1-" if name == "rnn_vae_16k" else "uniform")
