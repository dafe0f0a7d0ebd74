#!/usr/bin/env python3
"""Recipe: speaker identification on codec tokens or on MFCCs (baseline).

The speakers of the training split (24 in train-clean-5) are recognized
from held-out utterances: per speaker, in ID order, every tenth utterance
goes to the test set and the one after it to the validation set. The same
LSTM classifier reads MFCCs (``hparams/lstm_mfcc.yaml``) or the codec's
tokens (``hparams/lstm_tokens.yaml``). Training uses random crops;
evaluation reads whole utterances.

To run this recipe:
> python train.py hparams/lstm_tokens.yaml --data_folder /path/to/LibriSpeech

Authors
 * speechbrain_rnncodec team 2026
"""

import csv
import random
import sys

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.distributed import run_on_main

from speechbrain_rnncodec.audio.io import read_audio
from speechbrain_rnncodec.training.classify_brain import UtteranceClassifierBrain
from speechbrain_rnncodec.training.tokens import extract_recipe_tokens, load_tokens
from speechbrain_rnncodec.utils.distributed import init_process_group

SETS = ("train", "valid", "test")


def split_by_speaker(manifest, folder):
    """Writes ``train.csv``, ``valid.csv`` and ``test.csv`` of held-out
    utterances of every speaker of ``manifest``."""
    with open(manifest, newline="", encoding="utf-8") as fin:
        rows = sorted(csv.DictReader(fin), key=lambda r: r["ID"])
    parts = {name: [] for name in SETS}
    seen = {}
    for row in rows:
        index = seen[row["spk_id"]] = seen.get(row["spk_id"], -1) + 1
        parts[{0: "test", 1: "valid"}.get(index % 10, "train")].append(row)
    for name, part in parts.items():
        with open(f"{folder}/{name}.csv", "w", newline="", encoding="utf-8") as fout:
            writer = csv.DictWriter(fout, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(part)


def dataio_prepare(hparams, folder):
    """Datasets (random crops for training) and the speaker encoder."""
    rate, crop = hparams["sample_rate"], hparams["crop_seconds"]
    frames = int(crop * hparams["frame_rate"])

    def cropped(x, size):
        start = random.randint(0, max(0, len(x) - size))
        return x[start : start + size]

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("sig")
    def audio(wav):
        return read_audio(wav, rate)

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("sig")
    def audio_crop(wav):
        return cropped(read_audio(wav, rate), int(crop * rate))

    @sb.utils.data_pipeline.takes("tokens_file")
    @sb.utils.data_pipeline.provides("tokens")
    def tokens(path):
        return load_tokens(path)

    @sb.utils.data_pipeline.takes("tokens_file")
    @sb.utils.data_pipeline.provides("tokens")
    def tokens_crop(path):
        return cropped(load_tokens(path), frames)

    label_encoder = sb.dataio.encoder.CategoricalEncoder()

    @sb.utils.data_pipeline.takes("spk_id")
    @sb.utils.data_pipeline.provides("label_encoded")
    def label(spk_id):
        return torch.LongTensor([label_encoder.encode_label(spk_id)])

    key = hparams["input_key"]
    whole, crop_item = (audio, audio_crop) if key == "sig" else (tokens, tokens_crop)
    datasets = {}
    for name in SETS:
        datasets[name] = sb.dataio.dataset.DynamicItemDataset.from_csv(
            f"{folder}/{name}.csv",
            dynamic_items=[crop_item if name == "train" else whole, label],
            output_keys=["id", key, "label_encoded"],
        )
    label_encoder.load_or_create(
        path=f"{hparams['save_folder']}/label_encoder.txt",
        from_didatasets=[datasets["train"]],
        output_key="spk_id",
    )
    return datasets


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

    prep = hparams["data_prep_folder"]
    run_on_main(
        prepare_librispeech,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": prep,
            "tr_splits": [hparams["split"]],
            "dev_splits": [],
            "te_splits": [],
        },
    )
    run_on_main(split_by_speaker, args=[f"{prep}/{hparams['split']}.csv", prep])
    if hparams["input_key"] == "tokens":
        prep = extract_recipe_tokens(hparams, prep, SETS)
    datasets = dataio_prepare(hparams, prep)
    brain = UtteranceClassifierBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    if not run_opts.test_only:
        brain.fit(
            brain.hparams.epoch_counter,
            datasets["train"],
            datasets["valid"],
            train_loader_kwargs=hparams["train_dataloader_opts"],
            valid_loader_kwargs=hparams["valid_dataloader_opts"],
        )
    brain.evaluate(
        datasets["test"],
        min_key="error_rate",
        test_loader_kwargs=hparams["valid_dataloader_opts"],
    )
