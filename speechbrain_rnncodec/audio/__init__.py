"""Audio in and out: reading and checking waveforms, one 16-bit PCM rule
(:mod:`.io`), streaming WAV and resampling (:mod:`.wavstream`), LibriSpeech
folder scans (:mod:`.corpus`).

Authors
 * speechbrain_rnncodec team 2026
"""
