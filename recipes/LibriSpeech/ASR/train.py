#!/usr/bin/env python3
"""Recipe: character CTC ASR on codec tokens or on filterbanks (baseline).

The same BiLSTM CTC model reads either filterbanks of the waveform
(``hparams/ctc_fbank.yaml``) or the tokens of the pretrained codec
(``hparams/ctc_tokens.yaml``), so their word error rates say how much of
the speech the codec keeps. Tokens are extracted once, before training,
into ``<tokens_folder>`` (``rnncodec tokens``), at the codec's highest
bitrate; ``num_codebooks`` picks the bitrate a model sees (3, 6, 12 for
1.5, 3, 6 kbps). The model and the Brain live in ``speechbrain_rnncodec``.

To run this recipe:
> python train.py hparams/ctc_tokens.yaml --data_folder /path/to/LibriSpeech
> python train.py hparams/ctc_fbank.yaml --data_folder /path/to/LibriSpeech

Authors
 * speechbrain_rnncodec team 2026
"""

import sys

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.sampler import DynamicBatchSampler
from speechbrain.utils.distributed import run_on_main

from speechbrain_rnncodec.audio.io import read_audio
from speechbrain_rnncodec.training.asr_brain import CTCBrain
from speechbrain_rnncodec.training.tokens import extract_recipe_tokens, load_tokens
from speechbrain_rnncodec.utils.distributed import (
    finish_process_group,
    init_process_group,
)

# Every character of LibriSpeech transcripts; others come from the data.
LIBRISPEECH_CHARACTERS = " 'ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def dataio_prepare(hparams, folder):
    """Datasets of the train split, of each dev and test split, and the
    character encoder.

    Arguments
    ---------
    hparams : dict
        The loaded hyperparameters.
    folder : str
        Where the manifests are (with a ``tokens_file`` column for tokens).

    Returns
    -------
    datasets : dict
        ``train`` and one per dev or test split, sorted by duration.
    label_encoder : CTCTextEncoder
        Characters, blank at ``blank_index``.
    """
    rate = hparams["sample_rate"]

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("sig")
    def audio(wav):
        return read_audio(wav, rate)

    @sb.utils.data_pipeline.takes("tokens_file")
    @sb.utils.data_pipeline.provides("tokens")
    def tokens(path):
        return load_tokens(path)

    label_encoder = sb.dataio.encoder.CTCTextEncoder()

    @sb.utils.data_pipeline.takes("wrd")
    @sb.utils.data_pipeline.provides("wrd", "char_list", "chars_encoded")
    def text(wrd):
        yield wrd
        char_list = list(wrd)
        yield char_list
        yield torch.LongTensor(label_encoder.encode_sequence(char_list))

    key = hparams["input_key"]
    pipelines = [audio if key == "sig" else tokens, text]
    datasets = {}
    for name in ["train"] + hparams["dev_splits"] + hparams["test_splits"]:
        data = sb.dataio.dataset.DynamicItemDataset.from_csv(
            f"{folder}/{name}.csv",
            dynamic_items=pipelines,
            output_keys=["id", key, "wrd", "chars_encoded"],
        )
        data = data.filtered_sorted(
            sort_key="duration", key_max_value={"duration": hparams["max_duration"]}
        )
        datasets[name] = data
    label_encoder.insert_blank(index=hparams["blank_index"])
    label_encoder.load_or_create(
        path=f"{hparams['save_folder']}/label_encoder.txt",
        from_iterables=[[list(LIBRISPEECH_CHARACTERS)]],
        from_didatasets=[datasets["train"]],
        output_key="char_list",
        sequence_input=True,
    )
    return datasets, label_encoder


if __name__ == "__main__":
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    if hparams["checkpoint_metric"] not in ("WER", "CER"):
        sys.exit(
            f"checkpoint_metric must be WER or CER, not {hparams['checkpoint_metric']}"
        )
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
    if hparams["input_key"] == "tokens":
        prep = extract_recipe_tokens(hparams, prep, splits)
    datasets, label_encoder = dataio_prepare(hparams, prep)
    hparams["tokenizer"] = label_encoder
    vocab = [label_encoder.ind2lab[i] for i in range(len(label_encoder))]
    hparams["test_searcher"] = hparams["test_searcher"](vocab_list=vocab)

    brain = CTCBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    train_sampler = DynamicBatchSampler(
        datasets["train"],
        max_batch_length=hparams["max_batch_seconds"],
        num_buckets=hparams["num_buckets"],
        length_func=lambda x: float(x["duration"]),
        shuffle=True,
        batch_ordering="random",
        max_batch_ex=hparams["max_batch_ex"],
    )
    if not run_opts.test_only:
        brain.fit(
            brain.hparams.epoch_counter,
            datasets["train"],
            datasets[hparams["dev_splits"][0]],
            train_loader_kwargs={"batch_sampler": train_sampler},
            valid_loader_kwargs=hparams["valid_dataloader_opts"],
        )
    for name in hparams["dev_splits"] + hparams["test_splits"]:
        brain.eval_set = name
        brain.evaluate(
            datasets[name],
            min_key=hparams["checkpoint_metric"],
            test_loader_kwargs=hparams["valid_dataloader_opts"],
        )
    del brain  # its DDP modules go while the interpreter is whole
    finish_process_group()
