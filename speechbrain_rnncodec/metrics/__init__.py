"""Speech quality metrics as functions (:mod:`.signal`, :mod:`.dnsmos`,
:mod:`.speaker`, :mod:`.asr`) and SpeechBrain ``MetricStats``
(:mod:`.stats`).

Authors
 * speechbrain_rnncodec team 2026
"""
