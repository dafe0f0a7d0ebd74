"""Small utilities with no knowledge of the codec: atomic file writes,
model identity hashes, distributed-training helpers, worker pools.

Authors
 * speechbrain_rnncodec team 2026
"""
