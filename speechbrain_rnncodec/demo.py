"""The demo: code a shipped LibriSpeech utterance at every bitrate.

Authors
 * speechbrain_rnncodec team 2026
"""

import pathlib

import torch
from speechbrain.dataio.dataio import write_audio

from speechbrain_rnncodec.audio import read_audio
from speechbrain_rnncodec.metrics import pesq_wb, stoi

SAMPLE = pathlib.Path(__file__).parent / "samples" / "1970-28415-0023.flac"


def run_demo(codec, output_folder, path=SAMPLE):
    """Encodes and decodes ``path`` at each bitrate; writes decoded wavs.

    Arguments
    ---------
    codec : RNNCodec
        A loaded codec.
    output_folder : str
        Where ``<name>_<kbps>kbps.wav`` files are written.
    path : str
        Audio file to code (default: the shipped sample).

    Returns
    -------
    list of dict
        One row per bitrate: ``kbps``, ``tokens`` shape, ``pesq``, ``stoi``
        and ``wav`` (the written file).
    """
    output = pathlib.Path(output_folder)
    output.mkdir(parents=True, exist_ok=True)
    wav = read_audio(path, codec.sample_rate)
    ones = torch.ones(1)
    rows = []
    for kbps in codec.bitrates:
        tokens, _ = codec.encode(wav[None], bitrate=kbps)
        decoded = codec.decode(tokens)[:, : len(wav)]
        out = output / f"{pathlib.Path(path).stem}_{kbps:g}kbps.wav"
        write_audio(str(out), decoded[0], codec.sample_rate)
        rows.append(
            {
                "kbps": kbps,
                "tokens": tuple(tokens.shape[1:]),
                "pesq": float(pesq_wb(decoded, wav[None], ones)[0]),
                "stoi": float(stoi(decoded, wav[None], ones)[0]),
                "wav": str(out),
            }
        )
    return rows
