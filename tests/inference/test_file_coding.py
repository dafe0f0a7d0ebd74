"""RNNCodec.compress / decompress / decode_file through the .rnc
container, with the shipped model."""

import dataclasses
import glob
import io
import pathlib

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio

from speechbrain_rnncodec.audio.io import AudioError, read_audio
from speechbrain_rnncodec.audio.level import active_level_db
from speechbrain_rnncodec.bitstream.container import RNCReader, read_tokens
from speechbrain_rnncodec.bitstream.header import (
    BitstreamError,
    Header,
    ModelMismatchError,
)
from speechbrain_rnncodec.entropy.coding import FrequencyModel, fit_frequency_model
from speechbrain_rnncodec.entropy.learned import LearnedPriorModel
from speechbrain_rnncodec.evaluation.demo import SAMPLE
from speechbrain_rnncodec.inference import RNNCodec
from speechbrain_rnncodec.inference.concealment import SILENT_AFTER_MS
from speechbrain_rnncodec.inference.export import recorded_hash
from speechbrain_rnncodec.inference.file_coding import (
    decode_stream,
    encode_stream,
    resolve_entropy,
)
from speechbrain_rnncodec.inference.shipped import (
    DEFAULT_MODEL,
    model_source,
    shipped_model_with_hash,
)
from speechbrain_rnncodec.inference.sinks import ArraySink

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEST_FILES = sorted(
    glob.glob(str(ROOT / "tests/samples/LibriSpeech/**/*.flac"), recursive=True)
)


@pytest.fixture(scope="module")
def speech():
    return read_audio(SAMPLE)[:24000]  # 1.5 s


@pytest.fixture(scope="module")
def fitted(codec):
    return fit_frequency_model(codec, TEST_FILES, bitrate_max=6.0)


def resolver(model):
    return lambda header: model


def codec_resolver(codec):
    return lambda header: resolve_entropy(codec, header)


def replace_header(data, **fields):
    """The file with header fields changed (a valid header CRC)."""
    reader = RNCReader(io.BytesIO(data))
    header = dataclasses.replace(reader.header, **fields)
    return header.pack() + data[reader.header_size :]


def test_round_trip_is_encode_then_decode(codec, speech):
    for kbps in codec.bitrates:
        data = codec.compress(speech, bitrate=kbps)
        wav = codec.decompress(data)
        assert wav.shape == speech.shape
        tokens, _ = codec.encode(speech[None], bitrate=kbps)
        ref = codec.decode(tokens)[0, : len(speech)]
        assert torch.allclose(wav, ref, atol=1e-6)
        header, codes, samples = read_tokens(data, codec_resolver(codec))
        assert np.array_equal(codes, tokens[0].numpy()) and samples == len(speech)
        assert header.num_codebooks == codec.num_quantizers_for(kbps)
        assert header.bitrate == kbps * 1000 and header.sample_rate == 16000


def test_live_chunks_give_the_bytes_of_a_file_with_one_encoder_pass_more(codec, speech):
    """A pipe's chunks are coded as they come and its last frame by a
    flush; a file's last chunk is coded with its unfinished frame in one
    pass of the encoder. The bytes are the same."""
    clip = speech[:23900]  # 74 frames and 220 samples
    encoder, calls = codec.codec.encoder, []
    hook = encoder.register_forward_hook(lambda *args: calls.append(1))
    try:
        files = []
        for live in (False, True):
            out = io.BytesIO()
            chunks = [clip[i : i + 5000, None].numpy() for i in range(0, 23900, 5000)]
            encode_stream(codec, chunks, 16000, 1, out, bitrate=3.0, live=live)
            files.append((out.getvalue(), len(calls)))
            calls.clear()
    finally:
        hook.remove()
    (whole, passes), (live, live_passes) = files
    assert whole == live == codec.compress(clip, bitrate=3.0)
    assert (passes, live_passes) == (5, 6)


def test_compress_a_file_and_decode_file(codec, tmp_path):
    data = codec.compress(str(SAMPLE), bitrate=1.5)
    path = tmp_path / "x.rnc"
    path.write_bytes(data)
    wav = codec.decode_file(path)
    assert torch.equal(wav, codec.decompress(data))
    assert len(wav) == len(read_audio(SAMPLE))
    header = Header.read(io.BytesIO(data))
    assert header.model_hash == codec.model_fingerprint()[1][:8]
    assert shipped_model_with_hash(header.model_hash) == DEFAULT_MODEL.name
    assert header.size == 38  # version 2, the default's prior
    assert (header.orig_sample_rate, header.orig_channels) == (16000, 1)


def test_other_rates_and_channels_are_resampled_and_downmixed(codec, speech, tmp_path):
    up = torchaudio.functional.resample(speech, 16000, 44100)
    path = tmp_path / "stereo44k.wav"
    sf.write(path, torch.stack([up, 0.5 * up], 1).numpy(), 44100, subtype="FLOAT")
    data = codec.compress(str(path))
    header = Header.read(io.BytesIO(data))
    assert (header.orig_sample_rate, header.orig_channels) == (44100, 2)
    assert len(codec.decompress(data)) == len(read_audio(path))


def test_fingerprint_is_computed_once(codec):
    first = codec.model_fingerprint()
    assert codec.model_fingerprint() is first and len(first[1]) == 16


def test_file_of_another_model_is_refused(codec, speech):
    data = codec.compress(speech, bitrate=1.5)
    other = replace_header(data, model_hash=b"\x01" * 8)
    with pytest.raises(ModelMismatchError, match="made by a model that is not shipped"):
        codec.decompress(other)


def test_file_of_a_shipped_model_names_it_in_the_refusal(codec, speech):
    data = codec.compress(speech, bitrate=1.5)
    digest = bytes.fromhex(recorded_hash(model_source("rnn_vq_16k")))
    other = replace_header(data, model_hash=digest[:8])
    match = r"made by rnn_vq_16k .*--model rnn_vq_16k \(shipped\)"
    with pytest.raises(ModelMismatchError, match=match):
        codec.decompress(other)


def test_a_file_of_the_float32_prior_decodes_on_the_cpu_that_wrote_it(codec, speech):
    """With a one-softmax prior (the previous default's: two-level priors
    exist only in exact arithmetic)."""
    shipped = codec.entropy_model
    folder = model_source("rnn_sf_pitch_sub_so762_e192_d192_pesq_16k")
    exact = LearnedPriorModel.load(pathlib.Path(folder) / "token_prior.npz")
    try:
        codec.set_entropy_model(exact.with_arithmetic("float32"))
        data = codec.compress(speech, bitrate=3.0)
        codec.set_entropy_model(exact)
        decoded = codec.decompress(data)
        expected = codec.decompress(codec.compress(speech, bitrate=3.0))
    finally:
        codec.set_entropy_model(shipped)
    assert Header.read(io.BytesIO(data)).entropy_id.startswith("prior1-")
    assert torch.equal(decoded, expected)


def test_fitted_frequency_model_codes_below_the_raw_token_rate(codec, fitted):
    """Fitted on the shipped test utterances (the sample among them)."""
    wav = read_audio(SAMPLE)
    try:
        raw = {}
        for model in ("uniform", fitted):
            codec.set_entropy_model(model)
            data = codec.compress(wav, bitrate=3.0)
            reader = RNCReader(io.BytesIO(data))
            payload = sum(p.payload_size for p in reader.packets() if p.num_frames)
            raw[reader.header.entropy_id] = (payload, len(data))
            _, codes, _ = read_tokens(data, resolver(codec.entropy_model))
            tokens, _ = codec.encode(wav[None], bitrate=3.0)
            assert np.array_equal(codes, tokens[0].numpy())  # lossless
            ref = codec.forward(wav[None], bitrate=3.0)[0]
            assert torch.allclose(codec.decompress(data), ref, atol=1e-6)
        raw_bytes = tokens.numel() * 10 / 8
        fitted_payload, fitted_size = raw[fitted.model_id]
        uniform_payload, uniform_size = raw["uniform"]
        assert uniform_payload >= raw_bytes
        assert fitted_payload < 0.97 * raw_bytes
        assert fitted_size < uniform_size
    finally:
        codec.set_entropy_model("uniform")


def test_entropy_model_mismatch_is_refused(codec, fitted, speech):
    codec.set_entropy_model(fitted)
    try:
        data = codec.compress(speech, bitrate=1.5)
    finally:
        codec.set_entropy_model("uniform")
    with pytest.raises(ModelMismatchError, match="entropy-coded with freq1-"):
        codec.decompress(data)


def test_frequency_file_in_the_hub_folder_is_loaded_lazily(codec, fitted, tmp_path):
    # A second codec whose hub folder (a copy) holds token_frequencies.json.
    import shutil

    hub = tmp_path / "hub"
    shutil.copytree(DEFAULT_MODEL, hub)
    (hub / "token_prior.npz").unlink()  # the shipped prior would come first
    fitted.save(hub / "token_frequencies.json")
    other = RNNCodec.from_hparams(source=str(hub))
    assert other.model_fingerprint()[1] == codec.model_fingerprint()[1]
    assert other.entropy_model.model_id == fitted.model_id
    # from another model's hash: ignored, with a warning
    bad = FrequencyModel(fitted.counts, fitted.floor, {"model_hash": "00" * 16})
    bad.save(hub / "token_frequencies.json")
    third = RNNCodec.from_hparams(source=str(hub))
    assert third.entropy_model.model_id == "uniform"


def test_conceal_continues_a_corrupted_packet_then_fades_out(codec):
    wav = read_audio(SAMPLE)[: 16000 * 2]
    data = codec.compress(wav, bitrate=3.0, frames_per_packet=25)  # 0.5 s packets
    reader = RNCReader(io.BytesIO(data))
    sizes = [p.size for p in reader.packets()]
    bad = bytearray(data)
    bad[reader.header_size + sizes[0] + 10] ^= 0x55  # packet 1: 0.5 s to 1 s
    with pytest.raises(BitstreamError, match="packet 1 is corrupted"):
        codec.decompress(bytes(bad))
    out = codec.decompress(bytes(bad), conceal=True)
    assert out.shape == wav.shape
    assert out[8000:8640].abs().max() > 0  # continued, then silent
    assert torch.all(out[8000 + int(SILENT_AFTER_MS * 16) : 16000] == 0)
    clean = codec.decompress(data)
    assert torch.equal(out[:7000], clean[:7000])
    assert out[16000:].abs().max() > 0


def test_streams_decode_without_a_sample_count(codec, speech):
    data = codec.compress(speech)
    streamed = replace_header(data, num_samples=None)
    sink = ArraySink()
    decode_stream(codec, io.BytesIO(streamed), sink)
    assert torch.equal(sink.samples, codec.decompress(data))


def test_empty_and_bad_audio(codec, tmp_path):
    with pytest.raises(AudioError, match="no audio samples"):
        codec.compress(torch.zeros(0))
    with pytest.raises(AudioError, match="NaN"):
        codec.compress(torch.tensor([0.0, float("nan")]))
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio at all")
    with pytest.raises(AudioError, match="cannot read"):
        codec.compress(str(junk))


def test_mutated_files_fail_cleanly_through_the_model(codec, speech):
    data = codec.compress(speech[:8000], bitrate=1.5, frames_per_packet=5)
    rng = np.random.default_rng(0)
    for _ in range(40):
        bad = bytearray(data)
        for _ in range(int(rng.integers(1, 4))):
            bad[int(rng.integers(0, len(bad)))] ^= int(rng.integers(1, 256))
        with pytest.raises(BitstreamError):
            codec.decompress(bytes(bad))


def test_learned_prior_in_the_hub_folder_comes_first(codec, fitted, speech, tmp_path):
    import shutil

    from speechbrain_rnncodec.entropy.learned import prior_model
    from speechbrain_rnncodec.lobes.prior import TokenPrior

    hub = tmp_path / "hub"
    shutil.copytree(DEFAULT_MODEL, hub)
    fitted.save(hub / "token_frequencies.json")
    torch.manual_seed(0)
    prior = TokenPrior(embedding_dim=8, hidden_size=16, rank=4)
    learned = prior_model(prior, {"model_hash": codec.model_fingerprint()[1].hex()})
    learned.save(hub / "token_prior.npz")
    other = RNNCodec.from_hparams(source=str(hub))
    assert other.entropy_model.model_id == learned.model_id
    for kbps in (1.5, 6.0):
        data = other.compress(speech, bitrate=kbps)
        assert RNCReader(io.BytesIO(data)).header.entropy_id == learned.model_id
        expected = codec.decode(codec.encode(speech[None], bitrate=kbps)[0])[0]
        decoded = other.decompress(data)[: len(speech)]
        assert torch.allclose(decoded, expected[: len(speech)], atol=1e-5)
    with pytest.raises(ModelMismatchError, match="entropy-coded with prior2-"):
        codec.decompress(data)


def test_a_narrowed_last_column_costs_its_own_bits_on_disk(codec, speech):
    """The default's 4th column at 1.8 kbps has 64 codes: files round-trip,
    and that column costs 6 bits a frame, not 10."""
    assert codec.mods.quantizer.last_column_codes == {4: 64}
    sizes = {}
    try:
        for entropy in ("uniform", None):
            codec.set_entropy_model(entropy)
            for kbps in (1.5, 1.8):
                data = codec.compress(speech, bitrate=kbps)
                tokens = codec.encode(speech[None], bitrate=kbps)[0]
                expected = codec.decode(tokens)[0, : len(speech)]
                assert torch.allclose(codec.decompress(data), expected, atol=1e-6)
                sizes[entropy, kbps] = len(data)
    finally:
        codec.set_entropy_model(None)
    assert tokens[..., 3].max() < 64
    frames = len(tokens[0])
    extra = sizes["uniform", 1.8] - sizes["uniform", 1.5]
    assert 5.5 * frames / 8 < extra < 6.5 * frames / 8  # 6 bits, in 32-bit words
    # With the prior: its 6 bits, plus what its code costs the next frames'
    # first columns (the prior, trained at 1.5 / 3 / 6 kbps, reads it as a
    # code of the full 4th codebook: about half a bit a frame on test-clean-5).
    assert sizes[None, 1.8] - sizes[None, 1.5] < 7.0 * frames / 8


@pytest.mark.parametrize("factor, sign", [(0.02, 1), (1.0, 0), (4.0, -1)])
def test_quiet_and_loud_speech_is_coded_in_the_codecs_levels(
    codec, speech, factor, sign
):
    """Speech far quieter or louder than the training data is scaled into
    its levels before encoding; decoding undoes the gain."""
    x = speech * factor
    data = codec.compress(x, bitrate=1.5)
    assert np.sign(Header.read(io.BytesIO(data)).gain_db) == sign
    y = codec.decompress(data)
    level_in, level_out = (active_level_db([a.numpy()], 16000) for a in (x, y))
    assert abs(level_out - level_in) < 2.0
