"""The pretrained interface, export and the rnncodec command."""

import pathlib
import subprocess
import sys

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml

from speechbrain_rnncodec.audio.io import read_audio
from speechbrain_rnncodec.evaluation.demo import SAMPLE
from speechbrain_rnncodec.inference.export import export_checkpoint, with_identity
from speechbrain_rnncodec.inference.pretrained import RNNCodec
from speechbrain_rnncodec.inference.shipped import (
    DEFAULT_MODEL,
    SHIPPED_FOLDER,
    shipped_models,
)
from speechbrain_rnncodec.lobes.streaming import encode_latents
from speechbrain_rnncodec.metrics.signal import mel_distance

ROOT = pathlib.Path(__file__).resolve().parents[2]
HUB_YAML = ROOT / "hparams" / "rnn_vq_16k.yaml"


@pytest.fixture(scope="module")
def speech():
    return read_audio(SAMPLE)[: 16000 * 2]


def test_shipped_yaml_is_the_hparams_template_with_its_identity():
    shipped = (SHIPPED_FOLDER / "rnn_vq_16k" / "hyperparams.yaml").read_text()
    digest = bytes.fromhex("d7c7a3fc8af9b954b42b6c6a14a33d4b")  # docs/format.md
    template = with_identity(HUB_YAML.read_text(), "rnn_vq_16k", digest)
    # The shipped model records the hash of its first export (its comment
    # says so); everything else is the template's.
    assert shipped.splitlines()[:-5] == template.splitlines()[:-4]
    assert shipped.splitlines()[-2:] == template.splitlines()[-2:]
    # Models exported since then are their template and their identity.
    for name in set(shipped_models()) - {"rnn_vq_16k"}:
        shipped = (SHIPPED_FOLDER / name / "hyperparams.yaml").read_text()
        digest = bytes.fromhex(shipped.split("model_hash: '")[1][:32])
        template = (ROOT / "hparams" / f"{name}.yaml").read_text()
        assert shipped == with_identity(template, name, digest)


def test_encode_decode_shapes_and_bitrates(codec, speech):
    for kbps, k in [(1.5, 3), (3.0, 6), (6.0, 12)]:
        tokens, lens = codec.encode(speech[None], bitrate=kbps)
        assert tokens.dtype == torch.int64
        assert tokens.shape == (1, -(-len(speech) // 320), k)
        assert codec.decode(tokens).shape == (1, tokens.shape[1] * 320)
    with pytest.raises(ValueError, match="not served"):
        codec.encode(speech[None], bitrate=2.0)


def test_padding_invariance(codec, speech):
    short = speech[:12345]
    batch = torch.zeros(2, len(speech))
    batch[0], batch[1, : len(short)] = speech, short
    tokens, _ = codec.encode(batch, torch.tensor([1.0, len(short) / len(speech)]))
    alone, _ = codec.encode(short[None])
    assert torch.equal(tokens[1, : alone.shape[1]], alone[0])


def test_streaming_through_interface(codec, speech):
    whole, _ = codec.encode(speech[None], bitrate=3.0)
    enc = codec.streaming_encoder(3.0)
    parts = [enc.push(speech[None, i : i + 555]) for i in range(0, len(speech), 555)]
    tokens = torch.cat(parts + [enc.flush()], dim=1)
    assert torch.equal(tokens, whole)
    dec = codec.streaming_decoder()
    wav = torch.cat(
        [dec.push(tokens[:, i : i + 3]) for i in range(0, tokens.shape[1], 3)]
        + [dec.flush()],
        dim=1,
    )
    assert (wav - codec.decode(whole)).abs().max() < 1e-4


def test_nan_input_is_refused(codec):
    with pytest.raises(ValueError, match="NaN"):
        codec.encode(torch.tensor([[0.0, float("nan")] * 400]))


def test_export_roundtrip_equals_training_modules(tmp_path, speech):
    with open(HUB_YAML) as fin:
        modules = load_hyperpyyaml(fin)["modules"]
    ckpt = tmp_path / "CKPT+x"
    ckpt.mkdir()
    for name, module in modules.items():
        torch.save(module.state_dict(), ckpt / f"{name}.ckpt")
    out = export_checkpoint(ckpt, HUB_YAML, tmp_path / "hub", half=False)
    codec = RNNCodec.from_hparams(source=str(out), savedir=str(tmp_path / "saved"))
    tokens, _ = codec.encode(speech[None], bitrate=6.0)
    # What CodecBrain computes on the same input.
    with torch.no_grad():
        latents = encode_latents(modules["encoder"], speech[None])
        expected = modules["quantizer"].eval()(latents, 12).codes
    assert torch.equal(tokens, expected)


def test_export_rejects_other_architecture(tmp_path):
    ckpt = tmp_path / "CKPT+x"
    ckpt.mkdir()
    for name in ("encoder", "quantizer", "decoder"):
        torch.save({"weight": torch.zeros(3)}, ckpt / f"{name}.ckpt")
    with pytest.raises(ValueError, match="encoder.ckpt is not this architecture"):
        export_checkpoint(ckpt, HUB_YAML, tmp_path / "hub")
    assert not (tmp_path / "hub").exists()


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "speechbrain_rnncodec.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_demo(tmp_path, codec):
    proc = run_cli("demo", "--output", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "PESQ-WB" in proc.stdout
    assert len(list(tmp_path.glob("*kbps.wav"))) == len(codec.bitrates)


def test_cli_clear_error_on_bad_input(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    proc = run_cli("demo", "--input", str(bad), "--output", str(tmp_path / "o"))
    assert proc.returncode == 1
    assert "error: cannot read" in proc.stderr and "Traceback" not in proc.stderr


def test_silence_and_clips_shorter_than_a_frame(codec):
    tokens, _ = codec.encode(torch.zeros(1, 16000))
    assert torch.isfinite(codec.decode(tokens)).all()
    tokens, _ = codec.encode(torch.randn(1, 100) * 0.1)
    assert tokens.shape[1] == 1
    assert codec.decode(tokens).shape == (1, 320)


def test_long_signals_are_coded_in_chunks(codec, speech):
    long = speech.repeat(3)[None]
    whole, _ = codec.encode(long)
    chunked = RNNCodec.chunk_seconds
    try:
        RNNCodec.chunk_seconds = 0.5  # 25 frames per chunk
        tokens, _ = codec.encode(long)
        wav = codec.decode(tokens)
    finally:
        RNNCodec.chunk_seconds = chunked
    assert torch.equal(tokens, whole)
    assert (wav - codec.decode(whole)).abs().max() < 1e-4


def test_other_rate_and_stereo_files_are_converted(codec, tmp_path, caplog):
    import soundfile as sf

    stereo = torch.stack([read_audio(SAMPLE, 8000)] * 2, dim=1)
    path = tmp_path / "stereo8k.wav"
    sf.write(path, stereo.numpy(), 8000)
    with caplog.at_level("INFO"):
        tokens = codec.encode_file(path, bitrate=1.5)
    assert "resampling from 8000 Hz" in caplog.text
    assert "downmixing 2 channels" in caplog.text
    assert tokens.shape[-1] == 3


def test_bf16_inference_stays_close_to_fp32(codec, speech):
    fast = RNNCodec.from_hparams(run_opts={"precision": "bf16"})
    tokens, _ = codec.encode(speech[None], bitrate=3.0)
    fast_tokens, _ = fast.encode(speech[None], bitrate=3.0)
    assert (tokens[..., 0] == fast_tokens[..., 0]).float().mean() > 0.9
    one = torch.ones(1)
    reference = codec.decode(tokens)[:, : len(speech)]
    decoded = fast.decode(tokens)[:, : len(speech)]
    # The source-filter decoder's phase integrates bf16's slightly other F0,
    # so the samples drift apart (relative error 0.05-0.16 on whole files);
    # the spectra must not: bf16 moves them by a small part of the distance
    # the codec itself puts between its output and the original.
    drift = mel_distance(decoded, reference, one)
    assert drift < 0.15 * mel_distance(reference, speech[None], one)


def test_cli_bench_speed_and_training():
    proc = run_cli("bench", "--seconds=2", "--repeats=1")
    assert proc.returncode == 0, proc.stderr
    assert "algorithmic latency: 35 ms" in proc.stdout
    assert len([ln for ln in proc.stdout.splitlines() if "x RT" in ln]) == 1
    recipe = ROOT / "recipes" / "LibriSpeech" / "codec" / "hparams" / "rnn_vq.yaml"
    data = ROOT / "tests" / "samples" / "LibriSpeech" / "train-clean-5"
    proc = run_cli("bench", f"--training={recipe}", f"--data={data}", "--steps=1")
    assert proc.returncode == 0, proc.stderr
    assert "s of audio per second" in proc.stdout


def test_cli_bench_compression_reports_bytes_on_disk(codec):
    data = ROOT / "tests" / "samples" / "LibriSpeech" / "test-clean-5"
    prior = DEFAULT_MODEL / "token_prior.npz"
    models = f"--entropy=uniform,{prior}"
    proc = run_cli("bench", f"--compression={data}", "--repeats=1", models)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    rates = [f"{kbps:g}" for kbps in codec.bitrates]
    prior_rows = [ln.split() for ln in lines if ln.strip().startswith("prior2-")]
    assert [r[1] for r in prior_rows] == rates
    assert all(float(r[2]) < float(r[1]) for r in prior_rows)  # below the raw rate
    rows = [ln.split() for ln in lines if ln.strip().startswith("uniform")]
    assert [r[1] for r in rows] == rates
    # Raw tokens plus the container: a little above the nominal rate.
    for row in rows:
        nominal, real, container = map(float, row[1:4])
        assert nominal < real < 1.3 * nominal
        assert 0 < container < 0.2 and real - container == pytest.approx(
            nominal, abs=0.1
        )


@pytest.mark.parametrize("name", shipped_models())
def test_dasb_interface_takes_any_codebook_count_and_encodec_layout(name, speech):
    codec = RNNCodec.from_hparams(source=name)
    least = codec.codec.min_quantizers()  # 2 with a pitch column
    full = codec.sig_to_tokens(speech[None], torch.ones(1))
    assert full.shape[-1] == 12
    narrowed = codec.mods.quantizer.last_column_codes
    for k in (least, 4, 12):  # exact prefixes, but for a narrowed last column
        tokens = codec.sig_to_tokens(speech[None, None], num_codebooks=k, length=None)
        prefix = k - 1 if k in narrowed else k
        assert torch.equal(tokens[..., :prefix], full[..., :prefix])
        assert tokens[..., -1].max() < narrowed.get(k, 1024)
    wav = codec.tokens_to_sig(full[..., :3], torch.ones(1), device="cpu")
    assert wav.shape == (1, full.shape[1] * 320)
    table = codec.get_pretrained_embeddings(num_codebooks=4, device="cpu")
    assert table.shape == (4 * 1024, codec.mods.quantizer.code_values(full).shape[-1])
    for bad in (least - 1, 13):
        with pytest.raises(ValueError, match=f"num_codebooks must lie in {least}..12"):
            codec.sig_to_tokens(speech[None], num_codebooks=bad)
    with pytest.raises(ValueError, match="mono"):
        codec.encode(torch.zeros(1, 2, 320))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_every_public_method_runs_on_cuda_from_cpu_inputs(speech):
    codec = RNNCodec.from_hparams(run_opts={"device": "cuda"})
    tokens, _ = codec.encode(speech[None], bitrate=3.0)  # a CPU waveform in
    assert tokens.device.type == "cuda"
    assert codec.decode(tokens.cpu()).device.type == "cuda"
    assert codec.sig_to_tokens(speech[None, None], num_codebooks=4).device.type == (
        "cuda"
    )
    assert codec.tokens_to_sig(tokens.cpu()).device.type == "cuda"
    data = codec.compress(speech, bitrate=1.5)
    assert codec.decompress(data).shape == speech.shape


def test_every_public_method_moves_cpu_inputs_to_the_model_device(speech):
    """Here without CUDA: a model on the meta device (shapes, no values)
    fails on any waveform left on the CPU, so the waveform methods must move
    it; token inputs (indices into meta codebooks) pass on meta anyway, the
    CUDA test above checks that they are moved. Every output is on the
    model's device."""
    codec = RNNCodec.from_hparams(run_opts={"device": "meta"})
    tokens, _ = codec.encode(speech[None, :16000], bitrate=3.0)
    assert tokens.device.type == "meta" and tokens.shape == (1, 50, 6)
    cpu_tokens = torch.zeros(1, 50, 6, dtype=torch.long)
    assert codec.decode(cpu_tokens).device.type == "meta"
    assert codec.tokens_to_sig(cpu_tokens).device.type == "meta"
    dasb = codec.sig_to_tokens(speech[None, None, :16000], num_codebooks=4)
    assert dasb.device.type == "meta" and dasb.shape == (1, 50, 4)
    assert codec.get_pretrained_embeddings(num_codebooks=2).device.type == "meta"
    stream = codec.streaming_encoder(bitrate=1.5)
    assert stream.push(speech[None, :1000]).device.type == "meta"
    decoder = codec.streaming_decoder()
    assert decoder.push(cpu_tokens[:, :2]).device.type == "meta"
    assert decoder.flush().device.type == "meta"
