"""Classical codecs and ours behind one interface (evaluation.baselines).

Needs the Debian packages opus-tools, codec2, sox and libopus0 and the PyPI
package opuslib.
"""

import math
import tempfile

import numpy as np
import pytest
import torch

from speechbrain_rnncodec.audio.io import AudioError, read_audio
from speechbrain_rnncodec.evaluation import peer_codec
from speechbrain_rnncodec.evaluation.baselines import RNNCodecCodec, make_codec
from speechbrain_rnncodec.evaluation.codec2 import Codec2Codec
from speechbrain_rnncodec.evaluation.demo import SAMPLE
from speechbrain_rnncodec.evaluation.opus import OpusCodec
from speechbrain_rnncodec.evaluation.peer_codec import CodecError, MissingToolError
from speechbrain_rnncodec.inference import RNNCodec
from speechbrain_rnncodec.metrics.signal import pesq_wb

MS = 16  # samples per millisecond at 16 kHz


@pytest.fixture(scope="module")
def speech():
    return read_audio(SAMPLE)  # 2.78 s


@pytest.fixture(scope="module")
def model():
    return RNNCodec.from_hparams()


@pytest.fixture(scope="module")
def coded(speech, model):
    """spec -> (codec, bytes, decoded) for the codecs most tests look at."""
    out = {}
    for spec in ["opus@6", "opus@12", "opuslib@6", "codec2@3200", "codec2@1600"]:
        codec = make_codec(spec)
        data = codec.encode(speech)
        out[spec] = codec, data, codec.decode(data)
    codec = make_codec("rnncodec@1.5", model=model)
    data = codec.encode(speech)
    out["rnncodec@1.5"] = codec, data, codec.decode(data)
    return out


def ogg_header_bytes(data):
    """Bytes of the first two Ogg pages (OpusHead, OpusTags) of an .opus file."""
    pos = 0
    for _ in range(2):
        assert data[pos : pos + 4] == b"OggS"
        segments = data[pos + 26]
        body = sum(data[pos + 27 : pos + 27 + segments])
        pos += 27 + segments + body
    return pos


def wave_lag(decoded, reference, max_lag):
    """Lag (samples) of the waveform cross-correlation peak; > 0: delayed."""
    x = reference.numpy()
    y = np.pad(decoded.numpy()[: len(x)], (max_lag, max_lag))
    lags = range(-max_lag, max_lag + 1)
    corr = [np.dot(y[max_lag + lag : max_lag + lag + len(x)], x) for lag in lags]
    return int(np.argmax(corr)) - max_lag


def spectral_lag(decoded, reference, max_lag, hop=8, n_fft=1024):
    """Lag (samples) best aligning log spectrograms below 4 kHz; for
    parametric codecs, whose output phase is synthesized and so has no
    waveform correlation with the input."""

    def logspec(wav):
        window = torch.hann_window(n_fft)
        spec = torch.stft(wav, n_fft, hop, window=window, return_complex=True)
        spec = (spec[: n_fft // 4].abs() ** 2 + 1e-6).log()
        return spec - spec.mean(1, keepdim=True)

    ref, dec = logspec(reference), logspec(decoded[: len(reference)])
    size = ref.shape[1] + dec.shape[1]
    corr = torch.fft.irfft(
        torch.fft.rfft(dec, size) * torch.fft.rfft(ref, size).conj(), size
    ).sum(0)
    steps = max_lag // hop
    corr = torch.cat([corr[-steps:], corr[: steps + 1]])  # lags -steps..steps
    return (int(corr.argmax()) - steps) * hop


def test_roundtrip_lengths_and_real_bytes(speech, coded):
    n = len(speech)
    for spec, (codec, data, decoded) in coded.items():
        assert codec.name == spec
        assert isinstance(data, bytes) and len(data) > 0
        assert decoded.dtype == torch.float32 and decoded.dim() == 1
        assert codec.decode(data, num_samples=n).shape == (n,)
        if spec.startswith("codec2"):  # .c2 files hold whole frames
            assert n <= len(decoded) < n + 2 * codec.frame
        else:  # the bytes record the input length
            assert len(decoded) == n, spec
        assert decoded.abs().max() > 0.01, spec
    assert coded["opus@6"][1][:4] == b"OggS"
    assert coded["codec2@3200"][1][:3] == b"\xc0\xde\xc2"
    assert coded["rnncodec@1.5"][1][:4] == b"\x89RNC"  # the .rnc file


def test_roundtrip_helper_and_short_inputs(speech, coded):
    for codec, _, _ in coded.values():
        for n in (0, 1, 1000):
            data, decoded = codec.roundtrip(speech[:n])
            assert decoded.shape == (n,), (codec.name, n)
    data, decoded = make_codec("opus@6").roundtrip(speech[None, :1000])  # [1, T]
    assert decoded.shape == (1000,) and data[:4] == b"OggS"


def test_measured_kbps(speech, coded):
    n, seconds = len(speech), len(speech) / 16000
    for codec, data, _ in coded.values():
        assert codec.kbps(data, n) == pytest.approx(len(data) * 8 / seconds / 1000)
    # Opus: on 2.8 s the Ogg headers (with opusenc's 512 bytes of tag
    # padding, ~0.8 kB) add ~2.4 kbps; the audio pages alone are near 6.
    codec, data, _ = coded["opus@6"]
    assert 7.0 < codec.kbps(data, n) < 10.5
    audio = data[ogg_header_bytes(data) :]
    assert 5.0 < len(audio) * 8 / seconds / 1000 < 7.5
    assert 5.0 < make_codec("opuslib@6").kbps(coded["opuslib@6"][1], n) < 7.5
    codec, data, _ = coded["opus@12"]
    assert codec.kbps(data, n) > coded["opus@6"][0].kbps(coded["opus@6"][1], n) + 3
    # Codec 2: 8 bytes per 20 ms (3200) or per 40 ms (1600), 7-byte header,
    # one frame more for the 20 ms delay.
    codec, data, _ = coded["codec2@3200"]
    assert codec.kbps(data, n) == pytest.approx(3.2, abs=0.1)
    assert len(data) == 7 + 8 * math.ceil((n // 2 + 160) / 160)
    codec, data, _ = coded["codec2@1600"]
    assert codec.kbps(data, n) == pytest.approx(1.6, abs=0.1)
    # Ours: the .rnc file, 3 codebooks at 50 Hz, entropy-coded with the
    # shipped prior (below 10 bits a code), plus the container (about
    # 0.2 kbps on 2.8 s).
    codec, data, _ = coded["rnncodec@1.5"]
    assert len(data) == len(codec.codec.compress(speech, bitrate=1.5))
    assert 0.8 < codec.kbps(data, n) < 1.5


def test_alignment(speech, coded):
    # The spectral measure finds a known shift.
    shifted = torch.nn.functional.pad(speech, (5 * MS, 0))[: len(speech)]
    assert abs(spectral_lag(shifted, speech, 20 * MS) - 5 * MS) <= 8
    assert wave_lag(shifted, speech, 20 * MS) == 5 * MS
    for spec in ["opus@6", "opus@12", "opuslib@6"]:
        decoded = coded[spec][2]
        assert abs(wave_lag(decoded, speech, 40 * MS)) <= 2 * MS, spec
    for spec in ["codec2@3200", "codec2@1600"]:
        # Codec 2 delays by 20 ms; decode() removes it.
        decoded = coded[spec][2][: len(speech)]
        assert abs(spectral_lag(decoded, speech, 30 * MS)) <= 2 * MS, spec


def test_higher_opus_bitrate_gives_higher_pesq(speech, coded):
    ones = torch.ones(1)
    low = float(pesq_wb(coded["opus@6"][2][None], speech[None], ones))
    high = float(pesq_wb(coded["opus@12"][2][None], speech[None], ones))
    assert high > low + 0.3
    assert high > 3.0


def test_make_codec_specs(model):
    for spec in ["opus@6", "opus@8.5", "opuslib@12", "codec2@3200", "codec2@1200"]:
        assert make_codec(spec).name == spec
    assert isinstance(make_codec(" Opus@6 "), OpusCodec)
    assert isinstance(make_codec("codec2@3200.0"), Codec2Codec)
    codec = make_codec("rnncodec@3", model=model)
    assert isinstance(codec, RNNCodecCodec) and codec.num_codebooks == 6
    assert codec.codec is model and codec.name == "rnncodec@3"
    assert make_codec("rnncodec@6").name == "rnncodec@6"  # the shipped model
    bad = {
        "mp3@64": "unknown codec 'mp3'",
        "opus": "is not NAME@BITRATE",
        "opus@": "is not NAME@BITRATE",
        "opus@fast": "is not NAME@BITRATE",
        "opus@nan": "is not NAME@BITRATE",
        "opus@4": "6..256 kbps",
        "codec2@3.2": "given in bit/s",
        "codec2@700": "one of 3200, 2400, 1600",
        "opuslib@300": "6..256 kbps",
    }
    for spec, message in bad.items():
        with pytest.raises(ValueError, match=message):
            make_codec(spec)
    with pytest.raises(ValueError, match="not served by this model"):
        make_codec("rnncodec@2", model=model)


def test_missing_programs_name_the_debian_package(monkeypatch):
    monkeypatch.setattr(peer_codec.shutil, "which", lambda tool: None)
    with pytest.raises(MissingToolError, match="opusenc.*opus-tools"):
        OpusCodec(6)
    with pytest.raises(MissingToolError, match="c2enc.*codec2"):
        Codec2Codec(3200)
    monkeypatch.setattr(
        peer_codec.shutil, "which", lambda tool: None if tool == "sox" else tool
    )
    with pytest.raises(MissingToolError, match="install the Debian package sox"):
        Codec2Codec(3200)


def test_failures_are_clear_and_temp_files_cleaned(speech, coded, tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    old = tempfile.tempdir
    tempfile.tempdir = str(scratch)
    try:
        opus, data, _ = coded["opus@6"]
        opus.decode(opus.encode(speech[:4000]))
        with pytest.raises(CodecError, match="(?s)opusdec failed.*Failed to open"):
            opus.decode(data[:1500])  # cut inside an Ogg page
        with pytest.raises(CodecError, match="not an Ogg Opus file"):
            opus.decode(b"RIFF....")
        codec2, data, _ = coded["codec2@3200"]
        codec2.decode(codec2.encode(speech[:4000]))
        with pytest.raises(CodecError, match="holds mode 0, not codec2@1600"):
            coded["codec2@1600"][0].decode(data)
        with pytest.raises(CodecError, match="not a Codec 2 file"):
            codec2.decode(b"\x00" * 20)
    finally:
        tempfile.tempdir = old
    assert list(scratch.iterdir()) == []
    with pytest.raises(CodecError, match=r"exit status 3.*\n.*boom"):
        peer_codec.run_tool(["sh", "-c", "echo boom >&2; exit 3"])


def test_bad_inputs(speech, coded):
    with pytest.raises(AudioError):
        coded["opus@6"][0].encode(torch.tensor([0.0, float("nan")]))
    with pytest.raises(ValueError, match="mono waveform"):
        coded["opus@6"][0].encode(torch.zeros(2, 100))
    with pytest.raises(ValueError, match="positive"):
        coded["opus@6"][0].kbps(b"x", 0)
    rnn, data, _ = coded["rnncodec@1.5"]
    with pytest.raises(CodecError, match="undecodable rnncodec data"):
        rnn.decode(data[:-3])
    with pytest.raises(CodecError, match="truncated"):
        make_codec("opuslib@6").decode(b"\x01")
    # Out-of-range samples are clipped, not wrapped around.
    loud = make_codec("opus@12").decode(coded["opus@12"][0].encode(speech * 50))
    assert loud.abs().max() <= 1.0 and loud.abs().mean() > 0.1
