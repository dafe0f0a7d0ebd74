"""Tokens of a whole corpus, written to disk once for downstream training.

``extract_tokens`` reads SpeechBrain CSV manifests (``ID``, ``wav`` and
any other columns), writes the tokens of each utterance as
``<folder>/<ID>.npy`` (int16 [T', K]) and, per manifest, the same CSV with
a ``tokens`` column added. It runs in parallel worker processes, shows a
progress bar and resumes: an utterance whose file exists is skipped (files
are written to a temporary name and renamed, so a killed run never leaves
a partial one). ``tokens.json`` in the folder records the model hash and
the bitrate, and a run with another model or bitrate refuses to mix them.

Authors
 * speechbrain_rnncodec team 2026
"""

import csv
import functools
import json
import os
import pathlib

import numpy as np

from speechbrain_rnncodec.audio.io import AudioError
from speechbrain_rnncodec.inference import RNNCodec
from speechbrain_rnncodec.utils.atomic import atomic_open
from speechbrain_rnncodec.utils.identity import model_fingerprint
from speechbrain_rnncodec.utils.parallel import map_with_codec

INFO_FILE = "tokens.json"


def _load(source, bitrate):
    import torch

    torch.set_num_threads(1)
    codec = RNNCodec.from_hparams(source=source)
    codec.num_quantizers_for(bitrate)  # fails early on a bitrate not served
    return codec


def save_array(array, path):
    """Writes ``array`` to ``path`` (.npy) whole or not at all."""
    with atomic_open(path) as fout:
        np.save(fout, array)


def _encode(codec, wav, out, bitrate):
    """Writes the tokens of one file; the error text, or None."""
    try:
        tokens = codec.encode_file(wav, bitrate=bitrate)[0]
        save_array(tokens.cpu().numpy().astype(np.int16), out)
    except (AudioError, OSError, ValueError, RuntimeError) as err:
        return f"{wav}: {err}"
    return None


def _check_info(folder, info):
    path = folder / INFO_FILE
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        if old != info:
            raise ValueError(
                f"{folder} holds tokens of another model or bitrate ({old}); "
                "use another folder"
            )
    else:
        path.write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")


def extract_tokens(
    manifests, folder, source=None, bitrate=None, workers=1, progress=True
):
    """Writes the tokens of every utterance of the manifests.

    Arguments
    ---------
    manifests : list of str
        SpeechBrain CSV files with ``ID`` and ``wav`` columns.
    folder : str
        Output folder (created).
    source : str, optional
        Codec hub folder or repo id (default: the shipped model).
    bitrate : float, optional
        kbps (default: the model's highest).
    workers : int
        Processes, each with one torch thread.
    progress : bool
        Shows a tqdm progress bar.

    Returns
    -------
    list of pathlib.Path
        The written manifests (``folder/<name of each input CSV>``).

    Raises
    ------
    ValueError
        If an utterance cannot be encoded (the others are kept), or the
        folder holds tokens of another model.
    """
    from tqdm import tqdm

    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    codec = _load(source, bitrate)
    bitrate = bitrate or max(codec.bitrates)
    model_id, model_hash = model_fingerprint(codec)
    info = {
        "model_id": model_id,
        "model_hash": model_hash.hex(),
        "bitrate": float(bitrate),
        "num_codebooks": codec.num_quantizers_for(bitrate),
        "frame_rate": codec.sample_rate / codec.codec.samples_per_frame,
    }
    _check_info(folder, info)
    tables = []
    for manifest in manifests:
        with open(manifest, newline="", encoding="utf-8") as fin:
            rows = list(csv.DictReader(fin))
        if rows and not {"ID", "wav"} <= set(rows[0]):
            raise ValueError(f"{manifest} needs ID and wav columns")
        for row in rows:
            row["tokens_file"] = str((folder / f"{row['ID']}.npy").resolve())
        tables.append((pathlib.Path(manifest).name, rows))
    jobs = [
        (row["wav"], row["tokens_file"])
        for _, rows in tables
        for row in rows
        if not os.path.exists(row["tokens_file"])
    ]
    errors = []
    bar = tqdm(total=len(jobs), unit="file", desc="tokens", disable=not progress)
    results = map_with_codec(
        functools.partial(_encode, bitrate=bitrate),
        jobs,
        load=functools.partial(_load, source, bitrate),
        workers=max(1, min(workers, len(jobs))),
        codec=codec,
        chunksize=4,
    )
    for error in results:
        bar.update()
        if error:
            errors.append(error)
    bar.close()
    if errors:
        raise ValueError(
            f"{len(errors)} file(s) could not be encoded, first: {errors[0]}"
        )
    written = []
    for name, rows in tables:
        out = folder / name
        with atomic_open(out, "w", newline="", encoding="utf-8") as fout:
            fields = list(rows[0]) if rows else ["ID", "wav", "tokens_file"]
            writer = csv.DictWriter(fout, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        written.append(out)
    return written


def extract_recipe_tokens(hparams, manifest_folder, names):
    """Extracts (on the main process only) the tokens of the manifests
    ``<manifest_folder>/<name>.csv`` with a recipe's ``codec_source``,
    ``tokens_folder`` and ``extraction_workers``; returns the folder of the
    token manifests."""
    from speechbrain.utils.distributed import run_on_main

    run_on_main(
        extract_tokens,
        kwargs={
            "manifests": [f"{manifest_folder}/{name}.csv" for name in names],
            "folder": hparams["tokens_folder"],
            "source": hparams["codec_source"],
            "workers": hparams["extraction_workers"],
        },
    )
    return hparams["tokens_folder"]


def load_tokens(path):
    """Tokens [T', K] (int64 tensor) of a file written by
    :func:`extract_tokens`."""
    import torch

    return torch.from_numpy(np.load(path).astype(np.int64))
