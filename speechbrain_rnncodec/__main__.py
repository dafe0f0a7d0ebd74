"""``python -m speechbrain_rnncodec``: the ``rnncodec`` command."""

import sys

from speechbrain_rnncodec.cli.main import main

sys.exit(main())
