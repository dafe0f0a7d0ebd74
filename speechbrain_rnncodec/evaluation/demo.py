"""The demo: code a shipped LibriSpeech utterance at every bitrate.

Authors
 * speechbrain_rnncodec team 2026
"""

import pathlib

import torch
from speechbrain.dataio.dataio import write_audio

from speechbrain_rnncodec.audio.io import read_audio
from speechbrain_rnncodec.evaluation.evaluate import ORIGINAL
from speechbrain_rnncodec.evaluation.report import plot_spectrograms
from speechbrain_rnncodec.metrics.signal import pesq_wb, stoi
from speechbrain_rnncodec.utils.atomic import write_bytes

SAMPLE = pathlib.Path(__file__).parents[1] / "samples" / "1970-28415-0023.flac"


def run_demo(codec, output_folder, path=SAMPLE):
    """Codes ``path`` at each bitrate into a compressed file, decodes the
    file read back from disk, and plots the spectrograms.

    Writes ``<stem>_<kbps>kbps.rnc`` (the ``.rnc`` file of
    :meth:`RNNCodec.compress`, see ``docs/format.md``),
    ``<stem>_<kbps>kbps.wav`` (decoded from that file) and
    ``<stem>_spectrograms.png`` (original and every bitrate).

    Arguments
    ---------
    codec : RNNCodec
        A loaded codec.
    output_folder : str
        Where the files are written.
    path : str
        Audio file to code (default: the shipped sample).

    Returns
    -------
    list of dict
        One row per bitrate: ``bitrate`` (nominal kbps), ``tokens`` shape
        [T, K], ``file`` (the compressed file), ``bytes`` (its size),
        ``kbps`` (bitrate measured from the file size and the duration),
        ``pesq``, ``stoi``, ``wav`` (the decoded file) and ``spectrogram``
        (the PNG, the same for every row).
    """
    output = pathlib.Path(output_folder)
    output.mkdir(parents=True, exist_ok=True)
    stem = pathlib.Path(path).stem
    wav = read_audio(path, codec.sample_rate)
    seconds = len(wav) / codec.sample_rate
    ones = torch.ones(1)
    audio = {(stem, ORIGINAL): wav}
    results = {"rows": {}}  # measured kbps, for the spectrogram titles
    rows = []
    for bitrate in codec.bitrates:
        name = f"rnncodec@{bitrate:g}"
        compressed = output / f"{stem}_{bitrate:g}kbps.rnc"
        write_bytes(compressed, codec.compress(wav, bitrate=bitrate))
        data = compressed.read_bytes()
        kbps = len(data) * 8 / seconds / 1000
        decoded = codec.decompress(data)[None]
        out = output / f"{stem}_{bitrate:g}kbps.wav"
        write_audio(str(out), decoded[0], codec.sample_rate)
        audio[stem, name] = decoded[0]
        results["rows"][name] = {"kbps": kbps}
        frames = -(-len(wav) // codec.codec.samples_per_frame)
        rows.append(
            {
                "bitrate": bitrate,
                "tokens": (frames, codec.num_quantizers_for(bitrate)),
                "file": str(compressed),
                "bytes": len(data),
                "kbps": kbps,
                "pesq": float(pesq_wb(decoded, wav[None], ones)[0]),
                "stoi": float(stoi(decoded, wav[None], ones)[0]),
                "wav": str(out),
            }
        )
    png = plot_spectrograms(audio, stem, output / f"{stem}_spectrograms.png", results)
    for row in rows:
        row["spectrogram"] = str(png)
    return rows
