"""Speed of the codec: encode and decode as multiples of real time.

Authors
 * speechbrain_rnncodec team 2026
"""

import io
import statistics
import time

import torch

from speechbrain_rnncodec.audio.io import read_audio
from speechbrain_rnncodec.bitstream.container import RNCReader
from speechbrain_rnncodec.inference.export import codebook_entries
from speechbrain_rnncodec.training.codec_brain import CodecBrain


def measure_speed(codec, wav, repeats=5):
    """Median encode and decode speed (x real time) at each bitrate.

    Arguments
    ---------
    codec : RNNCodec
        A loaded codec.
    wav : torch.Tensor
        Samples [T] to code.
    repeats : int
        Timed runs per bitrate (after one warm-up run).

    Returns
    -------
    dict
        ``params``, ``latency_ms``, ``threads`` and ``rows``: per bitrate,
        median ``encode_x``, ``decode_x`` and ``total_x`` real time.
    """
    seconds = len(wav) / codec.sample_rate
    rows = []
    for kbps in codec.bitrates:
        enc, dec = [], []
        for i in range(repeats + 1):
            start = time.perf_counter()
            tokens, _ = codec.encode(wav[None], bitrate=kbps)
            middle = time.perf_counter()
            codec.decode(tokens)
            end = time.perf_counter()
            if i:  # the first run warms caches up
                enc.append(middle - start)
                dec.append(end - middle)
        e, d = statistics.median(enc), statistics.median(dec)
        rows.append(
            {
                "kbps": kbps,
                "encode_x": seconds / e,
                "decode_x": seconds / d,
                "total_x": seconds / (e + d),
            }
        )
    mods = codec.mods
    return {
        "params": sum(p.numel() for p in mods.parameters()) + codebook_entries(mods),
        "latency_ms": codec.codec.latency_ms(codec.sample_rate),
        "threads": torch.get_num_threads(),
        "seconds": seconds,
        "rows": rows,
    }


def measure_compression(codec, wavs, entropy_models, repeats=3):
    """Real bitrate and speed of ``compress`` + ``decompress`` (the whole
    .rnc path: codec, entropy coder, container) per entropy model.

    The passes are interleaved (each repeat times every model at every
    bitrate), after one untimed warm-up file per model, so that a slower
    moment of the machine weighs on every row alike.

    Arguments
    ---------
    codec : RNNCodec
        A loaded codec.
    wavs : list of torch.Tensor
        Utterances [T] to code.
    entropy_models : list
        What ``codec.set_entropy_model`` takes (``"uniform"``, a path).
    repeats : int
        Timed passes over the utterances (the median pass counts).

    Returns
    -------
    list of dict
        Per model and bitrate: ``entropy`` (model id), ``kbps`` (nominal),
        ``real_kbps`` (bytes on disk), ``container_kbps`` (of those, the
        header, the packets' framing and CRCs and the end packet: all
        but the entropy-coded tokens), ``saved`` (percent below the raw
        token rate), ``total_x`` (encode+decode x real time).
    """
    seconds = sum(len(w) for w in wavs) / codec.sample_rate
    models = [codec.set_entropy_model(source) for source in entropy_models]
    for model in models:
        codec.set_entropy_model(model)
        codec.decompress(codec.compress(wavs[0], bitrate=min(codec.bitrates)))
    files, times = {}, {}
    for _ in range(repeats):
        for model in models:
            codec.set_entropy_model(model)
            for kbps in codec.bitrates:
                coded, start = [], time.perf_counter()
                for wav in wavs:
                    data = codec.compress(wav, bitrate=kbps)
                    codec.decompress(data)
                    coded.append(data)
                times.setdefault((model.model_id, kbps), []).append(
                    time.perf_counter() - start
                )
                files[model.model_id, kbps] = coded
    codec.set_entropy_model(None)
    rows = []
    for (model_id, kbps), passes in times.items():
        coded = files[model_id, kbps]
        real = sum(map(len, coded)) * 8 / seconds / 1000
        container = sum(map(container_bytes, coded)) * 8 / seconds / 1000
        rows.append(
            {
                "entropy": model_id,
                "kbps": kbps,
                "real_kbps": real,
                "container_kbps": container,
                "saved": 100 * (1 - real / kbps),
                "total_x": seconds / statistics.median(passes),
            }
        )
    return rows


def container_bytes(data):
    """The bytes of an ``.rnc`` file that are not entropy-coded tokens: its
    header, its packets' framing and CRCs, its end packet."""
    reader = RNCReader(io.BytesIO(data))
    return len(data) - sum(packet.payload_size for packet in reader.packets())


def measure_training(hparams_file, audio_files, steps=10, precision="fp32"):
    """Training throughput of a recipe: seconds of audio per second.

    Runs ``steps`` real ``CodecBrain`` training steps (after one warm-up
    step) on random crops of ``audio_files``, with the recipe's batch size
    and segment length.

    Arguments
    ---------
    hparams_file : str
        A codec recipe yaml (e.g. ``recipes/LibriSpeech/codec/hparams/rnn_vq.yaml``).
    audio_files : list of str
        Speech to crop batches from.
    steps : int
        Timed steps.
    precision : str
        ``fp32`` or ``bf16``.

    Returns
    -------
    float
        Seconds of training audio processed per second of wall time.
    """
    import random

    from hyperpyyaml import load_hyperpyyaml
    from speechbrain.dataio.batch import PaddedBatch

    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, {"data_folder": "unused"})
    brain = CodecBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts={"precision": precision, "device": "cpu"},
    )
    brain.init_optimizers()
    brain.on_stage_start(None)
    length = int(hparams["segment_seconds"] * hparams["sample_rate"])
    wavs = [read_audio(f) for f in audio_files]
    wavs = [w for w in wavs if len(w) >= length] or wavs

    def batch():
        items = []
        for i in range(hparams["batch_size"]):
            wav = random.choice(wavs)
            start = random.randint(0, max(0, len(wav) - length))
            crop = torch.nn.functional.pad(wav[start : start + length], (0, length))
            items.append({"id": str(i), "sig": crop[:length]})
        return PaddedBatch(items)

    brain.modules.train()
    brain.fit_batch(batch())  # warm-up, and k-means initialisation
    start = time.perf_counter()
    for _ in range(steps):
        brain.fit_batch(batch())
    elapsed = time.perf_counter() - start
    return steps * hparams["batch_size"] * hparams["segment_seconds"] / elapsed
