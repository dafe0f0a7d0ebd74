#!/usr/bin/env python3
"""Two or more codec models side by side on the same utterances: medians of
PESQ-WB, STOI and DNSMOS (OVRL) at every bitrate each model serves.

A quick check between training stages (``rnncodec eval`` is the full
comparison with Opus, Codec 2, WER and the listening report):

    python compare_models.py ../../../speechbrain_rnncodec/pretrained/rnn_vq_16k \\
        warm/rnn_sf_16k --data ../../../../shared/data/LibriSpeech/test-clean-5 \\
        --every 4 --seconds 4

Authors
 * speechbrain_rnncodec team 2026
"""

import argparse
import pathlib
import statistics
import sys

import torch

from speechbrain_rnncodec.audio.corpus import find_utterances
from speechbrain_rnncodec.audio.io import read_audio
from speechbrain_rnncodec.inference import RNNCodec
from speechbrain_rnncodec.metrics.dnsmos import dnsmos
from speechbrain_rnncodec.metrics.signal import pesq_wb, stoi


def scores(codec, wavs, kbps):
    """Medians of PESQ-WB, STOI and DNSMOS of ``wavs`` coded at ``kbps``."""
    rows = []
    one = torch.ones(1)
    for wav in wavs:
        out = codec(wav[None], bitrate=kbps)
        rows.append(
            (
                float(pesq_wb(out, wav[None], one)[0]),
                float(stoi(out, wav[None], one)[0]),
                float(dnsmos(out, one)[0]),
            )
        )
    return [statistics.median(column) for column in zip(*rows, strict=True)]


def main(argv=None):
    """Prints one row per model and bitrate, and the command."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="hub folders")
    parser.add_argument("--data", required=True, help="LibriSpeech-layout folder")
    parser.add_argument("--every", type=int, default=1, help="every N-th utterance")
    parser.add_argument("--seconds", type=float, help="first seconds of each")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    utts = find_utterances(args.data)[:: args.every]
    wavs = [read_audio(u.path, duration=args.seconds) for u in utts]
    print(f"command: {' '.join(sys.argv)}")
    print(f"median over {len(wavs)} utterances of {args.data}")
    print(f"{'model':24s} {'kbps':>5} {'PESQ-WB':>8} {'STOI':>6} {'DNSMOS':>7}")
    for source in args.models:
        codec = RNNCodec.from_hparams(source=source)
        for kbps in codec.bitrates:
            pesq, intelligibility, quality = scores(codec, wavs, kbps)
            print(
                f"{pathlib.Path(source).name:24s} {kbps:>5g} {pesq:>8.2f} "
                f"{intelligibility:>6.3f} {quality:>7.2f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
