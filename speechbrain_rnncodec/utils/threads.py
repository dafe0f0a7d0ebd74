"""One BLAS thread for NumPy's small matrix products.

The token prior's products (a 576 x 192 matrix by a vector per frame, three
32 x 1024 heads per packet) are far too small for threads to pay. NumPy's
OpenBLAS still splits them over every core, and when another process keeps
the cores busy each product waits for a descheduled thread: the entropy
coder ran 2-3x slower that way on 2 busy cores. Torch's own thread count
(``--threads``) does not reach NumPy's BLAS.

Authors
 * speechbrain_rnncodec team 2026
"""

import functools

from threadpoolctl import ThreadpoolController


@functools.cache
def _controller():
    return ThreadpoolController()  # scans the loaded libraries once


def one_blas_thread():
    """A context in which NumPy's BLAS runs on one thread (restored after).

    Example
    -------
    >>> import numpy as np
    >>> with one_blas_thread():
    ...     product = np.ones((2, 3)) @ np.ones(3)
    >>> product.tolist()
    [3.0, 3.0]
    """
    return _controller().limit(limits=1, user_api="blas")
