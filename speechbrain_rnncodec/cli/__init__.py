"""The ``rnncodec`` command (:mod:`.main`) and its file commands
(:mod:`.files`: encode, decode, info, fit-entropy).

Authors
 * speechbrain_rnncodec team 2026
"""
