"""Using a trained codec: the pretrained interface ``RNNCodec``
(:mod:`.pretrained`), hub folders and export (:mod:`.export`), ``.rnc``
file coding (:mod:`.file_coding`) and the downstream front ends
(:mod:`.frontend`).

>>> from speechbrain_rnncodec.inference import RNNCodec

Authors
 * speechbrain_rnncodec team 2026
"""

from speechbrain_rnncodec.inference.pretrained import RNNCodec

__all__ = ["RNNCodec"]
