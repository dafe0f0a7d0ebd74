"""One BLAS thread for the token prior's NumPy products."""

from threadpoolctl import threadpool_info, threadpool_limits

from speechbrain_rnncodec.utils.threads import one_blas_thread


def _blas_threads():
    pools = threadpool_info()
    return [pool["num_threads"] for pool in pools if pool["user_api"] == "blas"]


def test_one_blas_thread_limits_blas_and_restores_it():
    # Two threads first, as without OMP_NUM_THREADS=1 on a 2-core machine.
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        assert before and all(n == 2 for n in before)
        with one_blas_thread():
            assert _blas_threads() == [1] * len(before)
        assert _blas_threads() == before
