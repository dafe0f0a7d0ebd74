"""Data preparation for LibriSpeech-layout corpora.

Scans ``<data_folder>/<split>/<speaker>/<chapter>/`` for
``<speaker>-<chapter>-<utt>.flac`` files and their chapter transcripts
``<speaker>-<chapter>.trans.txt`` and writes one CSV manifest per split,
``<save_folder>/<split>.csv``, with the columns::

    ID,duration,wav,spk_id,wrd

``duration`` is in seconds (read from the file header, no decoding), ``wav``
is the absolute path of the flac file, ``spk_id`` the speaker folder name and
``wrd`` the transcript. Chapters without a ``*.trans.txt`` (audio-only splits
such as ``train-clean-100-extra``) are accepted and get an empty ``wrd``.

The preparation is skipped when all the manifests already exist and were
produced with the same options (stored in ``<save_folder>/prepare_opts.json``).

Example
-------
>>> from librispeech_prepare import prepare_librispeech  # doctest: +SKIP
>>> prepare_librispeech(  # doctest: +SKIP
...     data_folder="/path/to/LibriSpeech",
...     save_folder="results/prepared",
...     tr_splits=["train-clean-100"],
...     dev_splits=["dev-clean"],
...     te_splits=["test-clean"],
... )

Authors
 * speechbrain_rnncodec team 2026
"""

import csv
import json
import logging
import os

import soundfile

from speechbrain_rnncodec.audio.corpus import AUDIO_EXT, find_utterances
from speechbrain_rnncodec.utils.atomic import atomic_open

logger = logging.getLogger(__name__)

CSV_HEADER = ["ID", "duration", "wav", "spk_id", "wrd"]
OPTS_FILE = "prepare_opts.json"


def prepare_librispeech(
    data_folder,
    save_folder,
    tr_splits=(),
    dev_splits=(),
    te_splits=(),
    merge_lst=(),
    merge_name=None,
    skip_prep=False,
):
    """Writes one CSV manifest per LibriSpeech split (and optionally a merge).

    Arguments
    ---------
    data_folder : str
        Root of the corpus, i.e. the folder holding the split folders
        (e.g. ``/path/to/LibriSpeech``).
    save_folder : str
        Folder where the CSV files and ``prepare_opts.json`` are written
        (created if needed).
    tr_splits : list of str
        Training splits, e.g. ``["train-clean-100"]``.
    dev_splits : list of str
        Validation splits, e.g. ``["dev-clean"]``.
    te_splits : list of str
        Test splits, e.g. ``["test-clean"]``.
    merge_lst : list of str
        Splits (among the ones above) whose CSVs are concatenated, in this
        order, into ``<save_folder>/<merge_name>``.
    merge_name : str
        File name of the merged CSV (e.g. ``"train.csv"``); required when
        ``merge_lst`` is not empty.
    skip_prep : bool
        If True, return immediately without doing anything.

    Returns
    -------
    None

    Raises
    ------
    FileNotFoundError
        If ``data_folder`` or one of the split folders does not exist.
    ValueError
        If a split contains no flac file, or the merge options are invalid.
    """
    if skip_prep:
        return

    splits = _unique([*tr_splits, *dev_splits, *te_splits])
    merge_lst = list(merge_lst or ())
    if merge_lst:
        if not merge_name:
            raise ValueError("merge_name must be given when merge_lst is set")
        unknown = [s for s in merge_lst if s not in splits]
        if unknown:
            raise ValueError(
                f"merge_lst splits {unknown} are not among the prepared splits {splits}"
            )

    data_folder = os.path.abspath(data_folder)
    if not os.path.isdir(data_folder):
        raise FileNotFoundError(f"LibriSpeech data folder not found: {data_folder}")
    for split in splits:
        split_dir = os.path.join(data_folder, split)
        if not os.path.isdir(split_dir):
            raise FileNotFoundError(f"Split folder not found: {split_dir}")

    opts = {
        "data_folder": data_folder,
        "splits": splits,
        "merge_lst": merge_lst,
        "merge_name": merge_name if merge_lst else None,
    }
    outputs = [os.path.join(save_folder, f"{s}.csv") for s in splits]
    if merge_lst:
        outputs.append(os.path.join(save_folder, merge_name))

    if _already_prepared(save_folder, opts, outputs):
        logger.info(
            "LibriSpeech manifests in %s are up to date, skipping preparation",
            save_folder,
        )
        return

    os.makedirs(save_folder, exist_ok=True)
    # Invalidate previous options first: an interrupted run is never skipped.
    opts_path = os.path.join(save_folder, OPTS_FILE)
    if os.path.exists(opts_path):
        os.remove(opts_path)

    for split in splits:
        rows = _collect_split(os.path.join(data_folder, split), split)
        _write_csv(os.path.join(save_folder, f"{split}.csv"), rows)
        hours = sum(float(r[1]) for r in rows) / 3600.0
        logger.info("%s: %d utterances, %.2f hours", split, len(rows), hours)

    if merge_lst:
        _merge_csvs(
            [os.path.join(save_folder, f"{s}.csv") for s in merge_lst],
            os.path.join(save_folder, merge_name),
        )

    with atomic_open(opts_path, "w", encoding="utf-8") as f:
        json.dump(opts, f, indent=2, sort_keys=True)


def _unique(items):
    """Returns the items without duplicates, keeping the first occurrence.

    Arguments
    ---------
    items : list of str
        Items, possibly repeated.

    Returns
    -------
    list of str
        The distinct items, in order.
    """
    return list(dict.fromkeys(items))


def _already_prepared(save_folder, opts, outputs):
    """Tells whether a previous run with the same options left all outputs.

    Arguments
    ---------
    save_folder : str
        Folder holding ``prepare_opts.json``.
    opts : dict
        Options of the current call.
    outputs : list of str
        Paths of every CSV the current call must produce.

    Returns
    -------
    bool
        True if the preparation can be skipped.
    """
    if not all(os.path.isfile(path) for path in outputs):
        return False
    try:
        with open(os.path.join(save_folder, OPTS_FILE), encoding="utf-8") as f:
            saved = json.load(f)
    except (OSError, ValueError):
        return False
    return saved == opts


def _collect_split(split_dir, split):
    """Builds the manifest rows of one split.

    Arguments
    ---------
    split_dir : str
        Absolute path of the split folder.
    split : str
        Name of the split (for messages).

    Returns
    -------
    list of list
        One ``[ID, duration, wav, spk_id, wrd]`` row per flac file, sorted by
        ID; ``duration`` is a string with 3 decimals.
    """
    try:
        utts = find_utterances(split_dir)
    except ValueError:
        raise ValueError(
            f"No {AUDIO_EXT} files found in split '{split}' ({split_dir})"
        ) from None

    rows = []
    for utt in utts:
        duration = soundfile.info(utt.path).duration
        rows.append([utt.id, f"{duration:.3f}", utt.path, utt.speaker, utt.text])
    missing = sum(1 for utt in utts if not utt.text)
    if missing:
        logger.info(
            "%s: %d of %d utterances have no transcript (empty wrd)",
            split,
            missing,
            len(rows),
        )
    return rows


def _write_csv(path, rows):
    """Writes a manifest (header + rows) atomically.

    Arguments
    ---------
    path : str
        Destination CSV path.
    rows : list of list
        Rows in ``CSV_HEADER`` order.
    """
    with atomic_open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        writer.writerows(rows)


def _merge_csvs(csv_paths, merged_path):
    """Concatenates manifests that share ``CSV_HEADER`` into one file.

    Arguments
    ---------
    csv_paths : list of str
        Manifests to concatenate, in order.
    merged_path : str
        Destination CSV path.
    """
    rows = []
    for path in csv_paths:
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            header = next(reader)
            if header != CSV_HEADER:
                raise ValueError(f"Unexpected CSV header in {path}: {header}")
            rows.extend(reader)
    _write_csv(merged_path, rows)
    logger.info(
        "%s: %d utterances merged from %d splits",
        os.path.basename(merged_path),
        len(rows),
        len(csv_paths),
    )
