"""The ``rnncodec`` command: :mod:`.main` (the parser, ``demo``) and one
module per command group, each with its ``add_parser``: :mod:`.files`
(encode, decode), :mod:`.info`, :mod:`.fit_entropy`, :mod:`.bench`,
:mod:`.evaluate` (eval, listen), :mod:`.generate`, :mod:`.training` (export,
tokens, shards); :mod:`.common` holds what they share.

Authors
 * speechbrain_rnncodec team 2026
"""
