"""The ``.rnc`` container: header, packets, CRCs (format in
``docs/format.md``). Entropy models live in :mod:`speechbrain_rnncodec.entropy`,
the file coder that joins them to a codec in
:mod:`speechbrain_rnncodec.inference.file_coding`.

Authors
 * speechbrain_rnncodec team 2026
"""
