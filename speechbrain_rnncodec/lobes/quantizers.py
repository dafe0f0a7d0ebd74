"""Old class paths of hub folders exported before the move to
:mod:`speechbrain_rnncodec.lobes.quantization`.

Their ``hyperparams.yaml`` names
``speechbrain_rnncodec.lobes.quantizers.ResidualVectorQuantizer``; this
module keeps that path loading. New code imports from
``lobes.quantization`` (nothing in the package imports this module).

Authors
 * speechbrain_rnncodec team 2026
"""

from speechbrain_rnncodec.lobes.quantization.residual import ResidualVectorQuantizer

__all__ = ["ResidualVectorQuantizer"]
