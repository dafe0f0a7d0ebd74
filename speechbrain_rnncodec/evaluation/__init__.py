"""Evaluation: quality side by side with Opus and Codec 2 (:mod:`.evaluate`,
:mod:`.baselines`, :mod:`.report`), speed and load benchmarks, decoder
diagnostics, the demo and generation from the prior.

Authors
 * speechbrain_rnncodec team 2026
"""
