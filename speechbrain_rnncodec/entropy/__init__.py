"""Entropy models of the tokens and the range coder (a leaf: it knows
probability tables and bytes, not the codec): context-free frequency
models (:mod:`.coding`), the learned token prior (:mod:`.learned`), the
VAE's Gaussian context prior (:mod:`.gaussian`).

Authors
 * speechbrain_rnncodec team 2026
"""
