"""Old class paths of hub folders exported before the move to
:mod:`speechbrain_rnncodec.lobes.quantization`.

Their ``hyperparams.yaml`` names
``speechbrain_rnncodec.lobes.bottlenecks.ScalarQuantizer``,
``.GroupVectorQuantizer`` or ``.GaussianVAEBottleneck``; this module keeps
those paths loading. New code imports from ``lobes.quantization`` (nothing
in the package imports this module).

Authors
 * speechbrain_rnncodec team 2026
"""

from speechbrain_rnncodec.lobes.quantization.group_vq import GroupVectorQuantizer
from speechbrain_rnncodec.lobes.quantization.scalar import ScalarQuantizer
from speechbrain_rnncodec.lobes.quantization.vae import GaussianVAEBottleneck

__all__ = ["GaussianVAEBottleneck", "GroupVectorQuantizer", "ScalarQuantizer"]
