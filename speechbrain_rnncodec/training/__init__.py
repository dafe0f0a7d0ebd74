"""Training: the Brains of the recipes (codec, token prior, ASR,
classification), losses, crash-safe checkpoints, tar shards, token
extraction, noise for denoising and the reference pitch.

Authors
 * speechbrain_rnncodec team 2026
"""
