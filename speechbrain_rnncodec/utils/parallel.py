"""Many files through one codec, in worker processes that load it once.

The command-line tool (``rnncodec encode/decode`` of folders) and the token
extraction of downstream recipes share this: every job runs
``function(codec, *job)``, either in this process or in ``spawn`` worker
processes with one torch thread each (the fastest layout on few cores).

Authors
 * speechbrain_rnncodec team 2026
"""

import multiprocessing

_WORKER = {}


def _start_worker(load, function):
    import torch

    torch.set_num_threads(1)
    _WORKER.update(codec=load(), function=function)


def _call_in_worker(job):
    return _WORKER["function"](_WORKER["codec"], *job)


def map_with_codec(function, jobs, load, workers=1, codec=None, chunksize=1):
    """Yields ``function(codec, *job)`` for every job (in any order).

    Arguments
    ---------
    function : callable
        Called as ``function(codec, *job)``; a module-level function or a
        ``functools.partial`` of one (workers receive it pickled).
    jobs : list of tuple
        The arguments of each call after the codec.
    load : callable
        Returns the codec; called once per worker process.
    workers : int
        Processes; 1 runs the jobs here.
    codec : object, optional
        An already loaded codec for ``workers=1`` (else ``load()``).
    chunksize : int
        Jobs sent to a worker at a time.

    Yields
    ------
    object
        What ``function`` returned, job by job as they finish.

    Example
    -------
    >>> from functools import partial
    >>> list(map_with_codec(pow, [(2,), (3,)], load=partial(int, "10")))
    [100, 1000]
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    if workers == 1:
        codec = load() if codec is None else codec
        for job in jobs:
            yield function(codec, *job)
        return
    context = multiprocessing.get_context("spawn")
    # Leaving the block (also on an error or an abandoned generator) ends
    # the workers.
    with context.Pool(workers, _start_worker, (load, function)) as pool:
        yield from pool.imap_unordered(_call_in_worker, jobs, chunksize)
