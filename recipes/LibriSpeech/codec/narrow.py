#!/usr/bin/env python3
"""Writes a hub folder whose source-filter decoder keeps the most useful
of its recurrent units (a faster decoder to fine-tune; the encoder, the
quantizer and so the tokens and the token prior stay those of the source):

    python narrow_decoder.py rnn_sf_pitch_sub_so762_16k results/narrow_256/init \\
        --hidden 256 \\
        --data ../../../../shared/data/LibriSpeech/dev-clean-5

Units are ranked on the first seconds of every N-th utterance of --data at
the full bitrate (speechbrain_rnncodec.lobes.pruning). Then fine-tune the
decoder alone (encoder and quantizer frozen) from the new folder:

    python train.py hparams/rnn_sf_pitch.yaml ... --decoder_hidden_size 256 \\
        --init_from results/narrow_256/init \\
        --init_modules "[encoder, quantizer, decoder]" \\
        --frozen_modules "[encoder, quantizer]"

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
    most_important,
    narrow_decoder_state,
    unit_importance,
)

DECODER_HIDDEN = re.compile(
    r"(decoder: !new:[^\n]*\n(?:    [^\n]*\n)*?    hidden_size: )(\d+)"
)


def main(argv=None):
    """Ranks the decoder's units and writes the narrowed hub folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="hub folder or shipped model name")
    parser.add_argument("output", help="new hub folder (must not exist)")
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
    if not DECODER_HIDDEN.search(yaml_text):
        sys.exit(f"no decoder hidden_size in {folder / 'hyperparams.yaml'}")
    codec = RNNCodec.from_hparams(source=str(folder))
    wavs = [
        read_audio(u.path, duration=args.seconds)
        for u in find_utterances(args.data)[:: args.every]
    ]
    model = codec.codec.eval()
    with torch.no_grad():
        latents = torch.cat(
            [model.quantize(w[None], model.max_quantizers()).quantized for w in wavs],
            dim=1,
        )
    stream, units = unit_importance(model.decoder, latents)
    kept = [most_important(scores, args.hidden) for scores in (stream, units)]
    print(f"command: {' '.join(sys.argv)}")
    names = ("stream dimensions", "hidden units")
    for name, scores, best in zip(names, (stream, units), kept, strict=True):
        print(
            f"{name}: kept {args.hidden} of {len(scores)} holding "
            f"{scores[best].sum() / scores.sum():.1%} of the summed importance"
        )
    state = narrow_decoder_state(model.decoder.state_dict(), *kept)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        for name in ("encoder", "quantizer"):
            shutil.copy(folder / f"{name}.ckpt", tmp)
        torch.save(state, tmp / "decoder.ckpt")
        narrowed_yaml = DECODER_HIDDEN.sub(rf"\g<1>{args.hidden}", yaml_text, count=1)
        (tmp / "hyperparams.yaml").write_text(narrowed_yaml, encoding="utf-8")
        export_checkpoint(tmp, tmp / "hyperparams.yaml", output)
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
