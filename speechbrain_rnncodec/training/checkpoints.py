"""Checkpoints that appear whole or not at all.

SpeechBrain's ``Checkpointer`` writes ``CKPT.yaml`` first and the module
files after it, so a process killed while saving leaves a folder that looks
like a checkpoint but holds only some of its files, and the next run loads
it (silently, with ``allow_partial_load``). :class:`AtomicCheckpointer`
writes each checkpoint into a ``CKPT+<name>.partial`` folder, which is never
listed nor loaded, and renames it to ``CKPT+<name>`` once every file is
written; old checkpoints are deleted only after that. A failed write raises
:class:`CheckpointError` and leaves the previous checkpoints as they were.

Authors
 * speechbrain_rnncodec team 2026
"""

import logging
import os
import shutil

from speechbrain.utils.checkpoints import CKPT_PREFIX, Checkpoint, Checkpointer
from speechbrain.utils.distributed import ddp_barrier, ddp_broadcast, if_main_process

PARTIAL = ".partial"


class CheckpointError(OSError):
    """A checkpoint could not be written (the previous ones are intact)."""


class AtomicCheckpointer(Checkpointer):
    """SpeechBrain's ``Checkpointer`` with atomic saves (same arguments).

    Example
    -------
    >>> import torch
    >>> tmpdir = getfixture("tmpdir")
    >>> layer = torch.nn.Linear(2, 2)
    >>> ckpt = AtomicCheckpointer(tmpdir, recoverables={"layer": layer})
    >>> saved = ckpt.save_checkpoint(name="demo")
    >>> saved.path.name, sorted(p.name for p in saved.path.iterdir())
    ('CKPT+demo', ['CKPT.yaml', 'layer.ckpt'])
    >>> ckpt.find_checkpoint().path == saved.path
    True
    """

    def save_checkpoint(
        self, meta=None, end_of_epoch=True, name=None, verbosity=logging.INFO
    ):
        """Saves a checkpoint under a temporary name, then renames it.

        Arguments are those of ``Checkpointer.save_checkpoint``.

        Returns
        -------
        Checkpoint or None
            The saved checkpoint (None on processes other than the main).
        """
        final = None
        if if_main_process():
            if name is None:
                final = self._new_checkpoint_dirpath()
            else:
                final = self._custom_checkpoint_dirpath(name)
            for leftover in self.checkpoints_dir.glob(f"{CKPT_PREFIX}+*{PARTIAL}"):
                shutil.rmtree(leftover)  # from a run killed while saving
        final = ddp_broadcast(final, src=0)
        partial_name = final.name[len(CKPT_PREFIX) + 1 :] + PARTIAL
        try:
            saved = super().save_checkpoint(
                meta or {}, end_of_epoch, partial_name, verbosity
            )
            ddp_barrier()  # every process has written its files
            if not if_main_process():
                return None
            if final.exists():
                shutil.rmtree(final)
            os.replace(saved.path, final)
        except OSError as err:
            raise CheckpointError(
                f"could not write checkpoint {final}: {err}; the previous "
                "checkpoints are intact"
            ) from err
        paramfiles = {k: final / p.name for k, p in saved.paramfiles.items()}
        return Checkpoint(final, saved.meta, paramfiles)

    def _list_checkpoint_dirs(self):
        """Checkpoint folders, without the partial ones."""
        dirs = super()._list_checkpoint_dirs()
        return [d for d in dirs if not d.name.endswith(PARTIAL)]
