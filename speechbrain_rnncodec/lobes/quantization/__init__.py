"""The bottlenecks between the encoder and the decoder, one concept a module.

Every bottleneck keeps one interface (``forward(x, num_quantizers, mask)``
returns a :class:`~.base.QuantizerOutput` with integer codes [B, T, K],
``decode(codes)`` inverts it, ``bitrate(K)`` and ``num_quantizers_for(kbps)``
map code columns to kbps), so the codec, its Brain and the bitstream take
any of them.

* :mod:`.base`: ``QuantizerOutput``, the bitrate arithmetic of code columns
  (``NestedRates``) and the helpers the bottlenecks share;
* :mod:`.ema`: one codebook learned by exponential moving averages
  (``EMAVectorQuantizer``) and its k-means initialisation;
* :mod:`.residual`: residual VQ with quantizer dropout
  (``ResidualVectorQuantizer``, the shipped model's);
* :mod:`.pitch_column`: residual VQ whose code column 0 is the F0
  (``PitchColumnQuantizer``);
* :mod:`.grouped`: latents projected to groups, one code each, with nested
  dropout (``NestedBottleneck``, the base of the three below);
* :mod:`.scalar`: finite scalar quantization (``ScalarQuantizer``);
* :mod:`.group_vq`: one codebook shared by the groups, VQ-VAE
  (``GroupVectorQuantizer``);
* :mod:`.vae`: a Gaussian VAE with a learned rate
  (``GaussianVAEBottleneck``).

Import each from the module that defines it. ``lobes.quantizers`` and
``lobes.bottlenecks`` keep the class paths that hub folders exported before
this package name in their yaml.

Authors
 * speechbrain_rnncodec team 2026
"""
