"""The compressed-file layer of the codec: the ``.rnc`` container
(:mod:`.container`, format in ``docs/format.md``), entropy coding of the
tokens (:mod:`.entropy`), streaming audio I/O (:mod:`.wavstream`) and the
encode / decode pipelines (:mod:`.codec_io`).

Authors
 * speechbrain_rnncodec team 2026
"""

from speechbrain_rnncodec.bitstream.container import (
    BitstreamError,
    Header,
    ModelMismatchError,
    RNCReader,
    RNCWriter,
    read_tokens,
    write_tokens,
)
from speechbrain_rnncodec.bitstream.entropy import (
    EntropyError,
    EntropyModel,
    FrequencyModel,
    PacketContext,
    UniformModel,
    decode_packet,
    encode_packet,
    fit_frequency_model,
)

__all__ = [
    "BitstreamError",
    "EntropyError",
    "EntropyModel",
    "FrequencyModel",
    "Header",
    "ModelMismatchError",
    "PacketContext",
    "RNCReader",
    "RNCWriter",
    "UniformModel",
    "decode_packet",
    "encode_packet",
    "fit_frequency_model",
    "read_tokens",
    "write_tokens",
]
