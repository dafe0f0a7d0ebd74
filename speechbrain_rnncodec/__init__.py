"""speechbrain_rnncodec: a recurrent neural speech codec for SpeechBrain."""

__version__ = "0.1.0"
