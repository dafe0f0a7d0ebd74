#!/usr/bin/env python3
"""Writes a hub folder whose encoder or source-filter decoder keeps the
most useful of its recurrent units (a faster model to fine-tune):

    python narrow.py rnn_sf_pitch_sub_so762_16k results/narrow_256/init \\
        --module decoder --hidden 256 \\
        --data ../../../../shared/data/LibriSpeech/dev-clean-5

Units are ranked by how much the decoded log spectrum of the first seconds
of every N-th utterance of --data changes at the full bitrate
(speechbrain_rnncodec.lobes.pruning). A narrowed decoder keeps the tokens
(and so the token prior) of the source: fine-tune it alone, encoder and
quantizer frozen:

    python train.py hparams/rnn_sf_pitch.yaml ... --decoder_hidden_size 256 \\
        --init_from results/narrow_256/init \\
        --init_modules "[encoder, quantizer, decoder]" \\
        --frozen_modules "[encoder, quantizer]"

A narrowed encoder changes the tokens: fine-tune it with the decoder
(``--encoder_hidden_size``, ``--frozen_modules "[quantizer]"``), then train
the token prior again.

Authors
 * speechbrain_rnncodec team 2026
"""

import argparse
import pathlib
import re
import shutil
import sys
import tempfile

import torch

from speechbrain_rnncodec.audio.corpus import find_utterances
from speechbrain_rnncodec.audio.io import read_audio
from speechbrain_rnncodec.inference import RNNCodec
from speechbrain_rnncodec.inference.export import export_checkpoint
from speechbrain_rnncodec.inference.shipped import model_source
from speechbrain_rnncodec.lobes.pruning import (
    DECODER,
    ENCODER,
    most_important,
    narrow_state,
    unit_importance,
)

LAYOUTS = {"encoder": ENCODER, "decoder": DECODER}
KIND_NAMES = {
    "stream": "stream dimensions",
    "unit": "hidden units",
    "perceptron": "pitch head units",
}


def hidden_size_pattern(module):
    """The ``hidden_size`` line of ``module`` in a hub folder's yaml."""
    return re.compile(
        rf"({module}: !new:[^\n]*\n(?:    [^\n]*\n)*?    hidden_size: )(\d+)"
    )


def log_spectrum_measure(model, module, wavs):
    """What silencing a unit of ``module`` is judged by: the decoded log
    spectrum of ``wavs`` at the full bitrate (for the decoder, of the
    quantized latents computed once)."""

    def quantized():
        return torch.cat(
            [model.quantize(w[None], model.max_quantizers()).quantized for w in wavs],
            dim=1,
        )

    latents = quantized() if module == "decoder" else None

    def measure():
        spec, _ = model.decoder.frames(quantized() if latents is None else latents)
        return torch.log(spec.abs().square() + 1e-6)

    return measure


def main(argv=None):
    """Ranks the module's units and writes the narrowed hub folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="hub folder or shipped model name")
    parser.add_argument("output", help="new hub folder (must not exist)")
    parser.add_argument("--module", choices=sorted(LAYOUTS), required=True)
    parser.add_argument("--hidden", type=int, required=True, help="new width")
    parser.add_argument("--data", required=True, help="LibriSpeech-layout folder")
    parser.add_argument("--every", type=int, default=10, help="every N-th utterance")
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    output = pathlib.Path(args.output)
    if output.exists():
        sys.exit(f"{output} exists: choose a new folder")
    folder = pathlib.Path(model_source(args.source))
    yaml_text = (folder / "hyperparams.yaml").read_text(encoding="utf-8")
    pattern = hidden_size_pattern(args.module)
    if not pattern.search(yaml_text):
        sys.exit(f"no {args.module} hidden_size in {folder / 'hyperparams.yaml'}")
    codec = RNNCodec.from_hparams(source=str(folder))
    wavs = [
        read_audio(u.path, duration=args.seconds)
        for u in find_utterances(args.data)[:: args.every]
    ]
    model = codec.codec.eval()
    module = getattr(model, args.module)
    measure = log_spectrum_measure(model, args.module, wavs)
    scores = unit_importance(module, LAYOUTS[args.module], measure)
    kept = {kind: most_important(score, args.hidden) for kind, score in scores.items()}
    print(f"command: {' '.join(sys.argv)}")
    for kind, score in scores.items():
        print(
            f"{KIND_NAMES[kind]}: kept {args.hidden} of {len(score)} holding "
            f"{score[kept[kind]].sum() / score.sum():.1%} of the summed importance"
        )
    state = narrow_state(module.state_dict(), LAYOUTS[args.module], kept)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        for name in ("encoder", "quantizer", "decoder"):
            shutil.copy(folder / f"{name}.ckpt", tmp)
        torch.save(state, tmp / f"{args.module}.ckpt")
        narrowed_yaml = pattern.sub(rf"\g<1>{args.hidden}", yaml_text, count=1)
        (tmp / "hyperparams.yaml").write_text(narrowed_yaml, encoding="utf-8")
        export_checkpoint(tmp, tmp / "hyperparams.yaml", output)
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
