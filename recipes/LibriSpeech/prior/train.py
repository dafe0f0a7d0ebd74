#!/usr/bin/env python3
"""Recipe: train the learned entropy model (a GRU prior over token frames)
of a pretrained codec, and write it as ``token_prior.npz``.

The codec's tokens of the training and dev splits are extracted once
(``rnncodec tokens``); the prior then learns to predict each frame of a
50-frame packet from the frames before it, as the range coder uses it.
Copy the written ``token_prior.npz`` into the codec's hub folder to make
it the default entropy model of ``rnncodec encode`` and ``compress``.

To run this recipe:
> python train.py hparams/gru_prior.yaml --data_folder /path/to/LibriSpeech

Authors
 * speechbrain_rnncodec team 2026
"""

import json
import random
import sys

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.distributed import run_on_main

from speechbrain_rnncodec.entropy.learned import (
    PRIOR_FILE,
    LearnedPriorModel,
    prior_model,
    prior_state,
)
from speechbrain_rnncodec.training.prior_brain import PriorBrain
from speechbrain_rnncodec.training.tokens import (
    INFO_FILE,
    extract_recipe_tokens,
    load_tokens,
)
from speechbrain_rnncodec.utils.distributed import init_process_group


def dataio_prepare(hparams):
    """``train`` yields random crops of ``crop_frames`` token frames, each
    dev and test split whole utterances."""
    crop = hparams["crop_frames"]

    @sb.utils.data_pipeline.takes("tokens_file")
    @sb.utils.data_pipeline.provides("tokens")
    def random_crop(path):
        tokens = load_tokens(path)
        start = random.randint(0, max(0, len(tokens) - crop))
        return tokens[start : start + crop]

    @sb.utils.data_pipeline.takes("tokens_file")
    @sb.utils.data_pipeline.provides("tokens")
    def whole(path):
        return load_tokens(path)

    def dataset(name, pipeline):
        return sb.dataio.dataset.DynamicItemDataset.from_csv(
            f"{hparams['tokens_folder']}/{name}.csv",
            dynamic_items=[pipeline],
            output_keys=["id", "tokens"],
        )

    datasets = {"train": dataset("train", random_crop)}
    for name in hparams["dev_splits"] + hparams["test_splits"]:
        datasets[name] = dataset(name, whole).filtered_sorted(sort_key="duration")
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
            "tr_splits": hparams["train_splits"],
            "dev_splits": hparams["dev_splits"],
            "te_splits": hparams["test_splits"],
            "merge_lst": hparams["train_splits"],
            "merge_name": "train.csv",
        },
    )
    splits = ["train"] + hparams["dev_splits"] + hparams["test_splits"]
    extract_recipe_tokens(hparams, prep, splits)
    datasets = dataio_prepare(hparams)
    if hparams["init_from"]:  # a checkpoint of this run, if any, comes after
        state = prior_state(LearnedPriorModel.load(hparams["init_from"]))
        kept = hparams["prior"].start_from(state)
        if kept:
            print(f"not in {hparams['init_from']} (or of another shape): {kept}")
    brain = PriorBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    sampler = sb.dataio.sampler.ReproducibleRandomSampler(
        datasets["train"],
        replacement=True,
        num_samples=len(datasets["train"]) * hparams["crops_per_utterance"],
        seed=hparams["seed"],
    )
    if not run_opts.test_only:
        brain.fit(
            brain.hparams.epoch_counter,
            datasets["train"],
            datasets[hparams["dev_splits"][0]],
            train_loader_kwargs=dict(hparams["train_dataloader_opts"], sampler=sampler),
            valid_loader_kwargs=hparams["valid_dataloader_opts"],
        )
    results = {}
    for name in hparams["dev_splits"] + hparams["test_splits"]:
        brain.eval_set = name
        brain.evaluate(
            datasets[name],
            min_key="bits_per_code",
            test_loader_kwargs=hparams["valid_dataloader_opts"],
        )
        results[name] = brain.test_stats
    # The entropy model of the best checkpoint, named after its codec.
    with open(f"{hparams['tokens_folder']}/{INFO_FILE}", encoding="utf-8") as fin:
        codec = json.load(fin)
    meta = {
        "model_id": codec["model_id"],
        "model_hash": codec["model_hash"],
        "trained_on": hparams["train_splits"],
        "measured": results,
    }
    path = prior_model(hparams["prior"].cpu(), meta).save(
        f"{hparams['output_folder']}/{PRIOR_FILE}"
    )
    print(f"entropy model written to {path}; copy it into the codec's hub folder")
