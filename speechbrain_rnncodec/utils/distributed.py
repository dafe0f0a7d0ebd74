"""Multi-process (DDP) helpers: collectives that fall back to no-ops on one
process, and a check that replicas hold the same weights.

Authors
 * speechbrain_rnncodec team 2026
"""

import dataclasses
import gc

import torch
import torch.distributed as dist


def init_process_group(run_opts):
    """SpeechBrain's ``ddp_init_group`` with a backend that works here:
    ``gloo`` where no CUDA device exists (SpeechBrain's default, ``nccl``,
    needs one).

    Arguments
    ---------
    run_opts : speechbrain.core.RunOptions or dict
        The run options of ``speechbrain.parse_arguments``.

    Returns
    -------
    speechbrain.core.RunOptions or dict
        The run options, with the backend used.

    Example
    -------
    >>> opts = init_process_group({"distributed_backend": "nccl"})  # 1 process
    >>> opts["distributed_backend"] == ("nccl" if torch.cuda.is_available() else "gloo")
    True
    """
    from speechbrain.utils.distributed import ddp_init_group

    if run_opts.get("distributed_backend", "nccl") == "nccl" and not (
        torch.cuda.is_available()
    ):
        if isinstance(run_opts, dict):
            run_opts = dict(run_opts, distributed_backend="gloo")
        else:  # a frozen dataclass; the Brain reads only overridden options
            run_opts = dataclasses.replace(
                run_opts,
                distributed_backend="gloo",
                overridden_args=run_opts.overridden_args | {"distributed_backend"},
            )
    ddp_init_group(run_opts)
    return run_opts


def _distributed():
    return dist.is_available() and dist.is_initialized()


def finish_process_group():
    """Ends a distributed run cleanly: every process waits for the others
    to finish, then the process group is destroyed (a process whose gloo
    peer tears down first can abort at exit). Nothing when not distributed.

    Drop the Brain first (``del brain``): its DDP modules hold the process
    group, and destroyed with the script's globals at the interpreter's
    exit they let gloo abort the process now and then ("terminate called
    without an active exception", about one run in ten of the two-process
    test next to a busy core). The garbage collector frees them here.
    """
    if _distributed():
        gc.collect()
        dist.barrier()
        dist.destroy_process_group()


def all_reduce(tensor):
    """Sums ``tensor`` over processes (in place) when running distributed."""
    if _distributed():
        dist.all_reduce(tensor)
    return tensor


def broadcast(tensor):
    """Copies rank 0's ``tensor`` to every process when distributed."""
    if _distributed():
        dist.broadcast(tensor, src=0)
    return tensor


def fingerprint(module):
    """Per tensor, the sum and the sum of squares of every parameter and
    buffer of ``module`` (float64): equal fingerprints mean equal weights up
    to an astronomically unlikely coincidence.

    Example
    -------
    >>> fingerprint(torch.nn.Linear(2, 3)).shape
    torch.Size([4])
    """
    tensors = [t for t in module.state_dict().values() if t.is_floating_point()]
    values = [
        torch.stack([t.double().sum(), t.double().square().sum()]) for t in tensors
    ]
    return torch.cat(values).cpu() if values else torch.zeros(0, dtype=torch.float64)


def check_replicas_in_sync(modules):
    """Raises ``RuntimeError`` unless every process holds the same weights
    (parameters and buffers: EMA codebooks, rate weights, ...).

    Arguments
    ---------
    modules : torch.nn.Module
        The trained modules (DDP wrappers are compared by their contents).

    Returns
    -------
    int
        The number of processes compared (1 when not distributed).
    """
    if not _distributed():
        return 1
    mine = fingerprint(modules)
    everyone = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, mine)
    for rank, theirs in enumerate(everyone):
        if not torch.equal(theirs, everyone[0]):
            raise RuntimeError(
                f"process {rank} holds other weights than process 0: the "
                "replicas diverged (a buffer updated without synchronization?)"
            )
    return len(everyone)
