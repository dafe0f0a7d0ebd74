"""Speed of the codec: encode and decode as multiples of real time.

Authors
 * speechbrain_rnncodec team 2026
"""

import statistics
import time

import torch

from speechbrain_rnncodec.lobes.streaming import algorithmic_latency_ms


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
        "params": sum(p.numel() for p in mods.parameters())
        + sum(s.codebook.numel() for s in mods.quantizer.stages),
        "latency_ms": algorithmic_latency_ms(
            mods.encoder, mods.decoder, codec.sample_rate
        ),
        "threads": torch.get_num_threads(),
        "seconds": seconds,
        "rows": rows,
    }
