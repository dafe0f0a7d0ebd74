"""LibriSpeech-layout folders: the one scan of utterances and transcripts.

``<split>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac`` with one
``<speaker>-<chapter>.trans.txt`` per chapter; a folder without
transcripts (e.g. ``train-clean-100-extra``) gives empty texts.

Authors
 * speechbrain_rnncodec team 2026
"""

import pathlib
from dataclasses import dataclass

AUDIO_EXT = ".flac"
TRANS_EXT = ".trans.txt"


@dataclass
class Utterance:
    """One utterance: its ID, audio file, transcript (may be empty) and
    speaker (the folder two levels above the file)."""

    id: str
    path: str
    text: str
    speaker: str


def read_transcripts(path):
    """Utterance ID -> words (possibly empty) of a ``.trans.txt`` file.

    Arguments
    ---------
    path : str
        A ``<speaker>-<chapter>.trans.txt`` file.

    Returns
    -------
    dict
        The transcripts.
    """
    texts = {}
    for line in pathlib.Path(path).read_text(encoding="utf-8").splitlines():
        utt, _, words = line.strip().partition(" ")
        if utt:
            texts[utt] = words.strip()
    return texts


def find_utterances(folder, max_utterances=None):
    """Utterances of a LibriSpeech-layout folder, sorted by ID.

    Arguments
    ---------
    folder : str
        A split (``.../test-clean``) or a corpus folder; ``*.flac`` files
        are found at any depth (hidden files skipped), transcripts in
        ``*.trans.txt`` beside them.
    max_utterances : int, optional
        Keep this many, evenly spaced in ID order (so every speaker of
        the folder stays represented).

    Returns
    -------
    list of Utterance
        The utterances.

    Raises
    ------
    FileNotFoundError
        The folder does not exist.
    ValueError
        It holds no ``.flac`` file.
    """
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no such folder: {folder}")
    texts = {}
    for trans in sorted(folder.rglob("*" + TRANS_EXT)):
        texts.update(read_transcripts(trans))
    files = [f for f in folder.rglob("*" + AUDIO_EXT) if not f.name.startswith(".")]
    utts = [
        Utterance(f.stem, str(f), texts.get(f.stem, ""), f.parent.parent.name)
        for f in sorted(files, key=lambda f: f.name)
    ]
    if not utts:
        raise ValueError(f"no {AUDIO_EXT} files under {folder}")
    if max_utterances and max_utterances < len(utts):
        step = len(utts) / max_utterances
        utts = [utts[int(i * step)] for i in range(max_utterances)]
    return utts
