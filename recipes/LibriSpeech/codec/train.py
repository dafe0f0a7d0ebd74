#!/usr/bin/env python3
"""Recipe: train a recurrent speech codec on LibriSpeech.

The codec (causal LSTM encoder, residual VQ or no quantizer, LSTM decoder
with an inverse-STFT head) and its Brain live in the ``speechbrain_rnncodec``
package; this script only prepares the data and wires the yaml.

To run this recipe:
> python train.py hparams/rnn_vq.yaml --data_folder /path/to/LibriSpeech

Authors
 * speechbrain_rnncodec team 2026
"""

import csv
import os
import random
import sys

import numpy as np
import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.distributed import run_on_main

from speechbrain_rnncodec.audio.io import read_audio
from speechbrain_rnncodec.inference.export import load_hub_weights
from speechbrain_rnncodec.training.codec_brain import CodecBrain
from speechbrain_rnncodec.training.pitch import cache_pitch, pitch_targets
from speechbrain_rnncodec.training.shards import crop_loader
from speechbrain_rnncodec.utils.distributed import (
    finish_process_group,
    init_process_group,
)


def dataio_prepare(hparams):
    """Datasets from the CSV manifests written by the data preparation.

    ``train`` (the merged training splits; absent when training reads
    ``train_shards``) yields random crops of ``segment_seconds`` starting
    on the decoder's hop; ``valid``
    (the first dev split) yields the first ``valid_max_seconds`` of each
    utterance, to keep validation cheap; each dev and test split also gets a
    dataset of whole utterances, named after the split, for the final
    evaluation. For a decoder that predicts pitch, every item also has
    ``pitch``, the reference targets of :func:`~speechbrain_rnncodec.training.pitch.
    pitch_targets` at the decoder's frames.

    Arguments
    ---------
    hparams : dict
        The loaded hyperparameters.

    Returns
    -------
    dict
        Name -> DynamicItemDataset.
    """
    rate = hparams["sample_rate"]
    segment = hparams["segment_seconds"]
    folder = hparams["output_folder"]
    decoder = hparams["decoder"]
    # A decoder that predicts pitch learns from the cached reference track.
    pitch_folder = hparams["pitch_folder"] if decoder_predicts_pitch(hparams) else None
    outputs = ["id", "sig"] + (["pitch"] if pitch_folder else [])

    def with_pitch(utt_id, start, sig):
        """The crop's signal, and its pitch targets where the decoder needs them."""
        if not pitch_folder:
            return sig
        track = np.load(f"{pitch_folder}/{utt_id}.npy")
        frames = -(-len(sig) // decoder.samples_per_frame) * decoder.frames_per_step
        return sig, pitch_targets(track, start, frames, decoder.istft.hop_length)

    @sb.utils.data_pipeline.takes("id", "wav", "duration")
    @sb.utils.data_pipeline.provides(*outputs[1:])
    def random_crop(utt_id, wav, duration):
        # Crops start on the decoder's hop, where the pitch targets lie.
        hop = decoder.istft.hop_length
        length = int(round(segment * rate))
        start = hop * random.randint(
            0, max(0, int(float(duration) * rate) - length) // hop
        )
        sig = read_audio(wav, rate, start=start / rate, duration=segment)
        sig = torch.nn.functional.pad(sig, (0, max(0, length - len(sig))))[:length]
        return with_pitch(utt_id, start, sig)

    def head(max_seconds):
        @sb.utils.data_pipeline.takes("id", "wav")
        @sb.utils.data_pipeline.provides(*outputs[1:])
        def read(utt_id, wav):
            return with_pitch(utt_id, 0, read_audio(wav, rate, duration=max_seconds))

        return read

    def dataset(csv, pipeline):
        return sb.dataio.dataset.DynamicItemDataset.from_csv(
            f"{folder}/{csv}", dynamic_items=[pipeline], output_keys=outputs
        )

    datasets = {}
    if not hparams["train_shards"]:
        datasets["train"] = dataset("train.csv", random_crop)
    valid = dataset(
        f"{hparams['dev_splits'][0]}.csv", head(hparams["valid_max_seconds"])
    )
    datasets["valid"] = valid.filtered_sorted(sort_key="duration", reverse=True)
    for split in hparams["dev_splits"] + hparams["test_splits"]:
        whole = dataset(f"{split}.csv", head(None))
        datasets[split] = whole.filtered_sorted(sort_key="duration", reverse=True)
    return datasets


def decoder_predicts_pitch(hparams):
    """Whether the decoder learns a pitch track (source-filter decoder)."""
    return getattr(hparams["decoder"], "predicts_pitch", False)


def cache_reference_pitch(hparams):
    """Tracks the reference pitch of every manifest's utterances once."""
    splits = ["train"] + hparams["dev_splits"] + hparams["test_splits"]
    rows = []
    for split in splits:
        path = f"{hparams['output_folder']}/{split}.csv"
        if os.path.exists(path):
            with open(path, encoding="utf-8") as fin:
                rows += [(row["ID"], row["wav"]) for row in csv.DictReader(fin)]
    cache_pitch(rows, hparams["pitch_folder"], read_audio)


if __name__ == "__main__":
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    torch.set_num_threads(hparams["num_threads"])
    run_opts = init_process_group(run_opts)  # gloo where there is no CUDA device
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )

    from librispeech_prepare import prepare_librispeech

    train_splits = [] if hparams["train_shards"] else hparams["train_splits"]

    run_on_main(
        prepare_librispeech,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["output_folder"],
            "tr_splits": train_splits,
            "dev_splits": hparams["dev_splits"],
            "te_splits": hparams["test_splits"],
            "merge_lst": train_splits,
            "merge_name": "train.csv",
            "skip_prep": hparams["skip_prep"],
        },
    )
    if decoder_predicts_pitch(hparams):
        if hparams["train_shards"]:
            raise ValueError("shards carry no reference pitch: use train_splits")
        run_on_main(cache_reference_pitch, args=[hparams])
    datasets = dataio_prepare(hparams)

    if hparams["init_from"] and not hparams["checkpointer"].list_checkpoints():
        # A new run that starts from exported weights (checkpoints win).
        load_hub_weights(
            hparams["modules"], hparams["init_from"], hparams["init_modules"]
        )

    brain = CodecBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    if hparams["train_shards"]:  # streamed: shards split between processes
        train_data = crop_loader(
            hparams["train_shards"],
            hparams["segment_seconds"],
            hparams["shard_epoch_crops"],
            hparams["batch_size"],
            hparams["sample_rate"],
            hparams["train_dataloader_opts"]["num_workers"],
            hparams["seed"],
        )
        train_kwargs = {}
    else:
        train_data = datasets["train"]
        train_sampler = sb.dataio.sampler.ReproducibleRandomSampler(
            train_data,
            replacement=True,
            num_samples=len(train_data) * hparams["crops_per_utterance"],
            seed=hparams["seed"],
        )
        train_kwargs = dict(hparams["train_dataloader_opts"], sampler=train_sampler)
    if not run_opts.test_only:
        brain.fit(
            brain.hparams.epoch_counter,
            train_data,
            datasets["valid"],
            train_loader_kwargs=train_kwargs,
            valid_loader_kwargs=hparams["valid_dataloader_opts"],
        )
    # Final numbers: best checkpoint, whole utterances of dev and test.
    for name in hparams["dev_splits"] + hparams["test_splits"]:
        brain.eval_set = name
        brain.evaluate(
            datasets[name],
            **brain.best_checkpoint,
            test_loader_kwargs=hparams["valid_dataloader_opts"],
        )
    del brain  # its DDP modules go while the interpreter is whole
    finish_process_group()
