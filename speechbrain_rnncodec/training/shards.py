"""WebDataset shards: corpora that do not fit a local disk, streamed.

:func:`write_shards` packs the utterances of SpeechBrain CSV manifests
(``ID, wav, spk_id, wrd``, as ``librispeech_prepare`` writes them) or of
LibriSpeech-layout folders into tar shards, each utterance as ``<ID>.flac``
(the original file's bytes) and ``<ID>.json`` (duration, speaker, words). A
shard is written under a ``.partial`` name and renamed when complete, so a
killed run leaves no shard that looks whole. :func:`crop_loader` streams
random crops of the shards (local paths or ``pipe:``/``http`` URLs, brace
patterns such as ``train-{000000..000099}.tar``) for training, split between
DDP processes and dataloader workers.

Authors
 * speechbrain_rnncodec team 2026
"""

import csv
import io
import os
import pathlib
import random

import soundfile as sf
import torch
import webdataset as wds
from speechbrain.dataio.batch import PaddedBatch

from speechbrain_rnncodec.audio.corpus import find_utterances

PARTIAL = ".partial"


def utterance_rows(sources):
    """Utterances of CSV manifests and LibriSpeech-layout folders, as dicts
    with ``ID``, ``wav`` and, when known, ``spk_id`` and ``wrd``.

    Arguments
    ---------
    sources : list of str
        CSV manifests (``ID``, ``wav``, ...) or folders (``*.flac`` at any
        depth, transcripts from ``*.trans.txt``, speaker = ID up to ``-``).

    Yields
    ------
    dict
        One utterance.
    """
    for source in map(pathlib.Path, sources):
        if source.is_dir():
            for utt in find_utterances(source):
                yield {
                    "ID": utt.id,
                    "wav": utt.path,
                    "spk_id": utt.id.split("-")[0],
                    "wrd": utt.text,
                }
        else:
            with open(source, newline="", encoding="utf-8") as fin:
                yield from csv.DictReader(fin)


def write_shards(sources, pattern, max_count=1000, max_size=2**28):
    """Packs the utterances of ``sources`` into tar shards.

    Arguments
    ---------
    sources : list of str
        CSV manifests or LibriSpeech-layout folders (:func:`utterance_rows`).
    pattern : str
        Shard path with a ``%06d``-style field, e.g. ``shards/train-%06d.tar``.
    max_count : int
        Utterances per shard at most.
    max_size : int
        Bytes per shard at most (about).

    Returns
    -------
    list of pathlib.Path
        The shards written.

    Example
    -------
    >>> import pathlib, tempfile
    >>> from speechbrain_rnncodec.evaluation.demo import SAMPLE
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (tmp / "a.csv").write_text(f"ID,duration,wav\\nu1,2.8,{SAMPLE}\\n")
    >>> [p.name for p in write_shards([tmp / "a.csv"], str(tmp / "s-%03d.tar"))]
    ['s-000.tar']
    """
    pathlib.Path(pattern % 0).parent.mkdir(parents=True, exist_ok=True)
    written = []

    def finish(partial):
        final = partial[: -len(PARTIAL)]
        os.replace(partial, final)
        written.append(pathlib.Path(final))

    with wds.ShardWriter(
        pattern + PARTIAL, maxcount=max_count, maxsize=max_size, post=finish, verbose=0
    ) as sink:
        for row in utterance_rows(sources):
            audio = pathlib.Path(row["wav"])
            meta = {k: row[k] for k in ("spk_id", "wrd") if row.get(k)}
            meta["duration"] = sf.info(audio).duration
            sink.write(
                {
                    "__key__": row["ID"],
                    audio.suffix[1:].lower(): audio.read_bytes(),
                    "json": meta,
                }
            )
    return written


def _random_crop(sample, segment, sample_rate):
    """``{"id", "sig"}`` with ``segment`` samples from a random offset."""
    key = next(k for k in ("flac", "wav") if k in sample)
    with sf.SoundFile(io.BytesIO(sample[key])) as audio:
        if audio.samplerate != sample_rate:
            raise ValueError(
                f"{sample['__key__']}: {audio.samplerate} Hz in the shard, "
                f"the recipe trains at {sample_rate} Hz"
            )
        audio.seek(random.randint(0, max(0, audio.frames - segment)))
        sig = torch.from_numpy(audio.read(segment, dtype="float32", always_2d=True))
    sig = sig.mean(dim=1)
    sig = torch.nn.functional.pad(sig, (0, segment - len(sig)))
    return {"id": sample["__key__"], "sig": sig}


def crop_loader(
    urls,
    segment_seconds,
    crops_per_epoch,
    batch_size,
    sample_rate=16000,
    num_workers=0,
    seed=0,
):
    """Batches of random crops streamed from shards (one pass per epoch of
    ``crops_per_epoch`` crops in all processes together).

    Arguments
    ---------
    urls : str or list of str
        Shards (paths, URLs, brace patterns).
    segment_seconds : float
        Crop length.
    crops_per_epoch : int
        Crops per epoch, all processes together.
    batch_size : int
        Crops per batch.
    sample_rate : int
        Rate the shards must hold.
    num_workers : int
        Dataloader workers (shards are split between them).
    seed : int
        Seed of the shard shuffling.

    Returns
    -------
    torch.utils.data.DataLoader
        Yields ``PaddedBatch`` with ``id`` and ``sig`` [B, T].
    """
    world = (
        torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1
    )
    segment = int(round(segment_seconds * sample_rate))
    dataset = (
        wds.WebDataset(
            urls,
            shardshuffle=100,
            nodesplitter=wds.split_by_node,
            workersplitter=wds.split_by_worker,
            seed=seed,
            empty_check=False,
        )
        .repeat()
        .shuffle(1000)
        .map(lambda sample: _random_crop(sample, segment, sample_rate))
        .with_epoch(crops_per_epoch // world // max(1, num_workers))
    )
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=PaddedBatch,
    )
