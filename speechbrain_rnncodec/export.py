"""Export a training checkpoint as a hub folder ``RNNCodec`` loads.

Authors
 * speechbrain_rnncodec team 2026
"""

import os
import pathlib
import shutil
import tempfile

import torch
from hyperpyyaml import load_hyperpyyaml


def export_checkpoint(checkpoint_dir, hparams_file, out_dir, half=True):
    """Writes ``hyperparams.yaml`` and one ``<module>.ckpt`` per module.

    Only what inference needs is kept (buffers a module no longer declares
    are dropped); weights are stored in float16 when ``half`` (they are
    loaded back into float32 modules). The folder is written next to
    ``out_dir`` and renamed into place, so a failed export leaves no
    half-written folder.

    Arguments
    ---------
    checkpoint_dir : str
        A ``CKPT+...`` folder of a training run (``encoder.ckpt``, ...).
    hparams_file : str
        The hub yaml of the model (e.g. ``hparams/rnn_vq_16k.yaml``).
    out_dir : str
        Folder to create (replaced if it exists).
    half : bool
        Store floating-point tensors as float16.

    Returns
    -------
    pathlib.Path
        The written folder.
    """
    checkpoint_dir, out_dir = pathlib.Path(checkpoint_dir), pathlib.Path(out_dir)
    with open(hparams_file, encoding="utf-8") as fin:
        modules = load_hyperpyyaml(fin)["modules"]
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=".export-"))
    tmp.chmod(0o755)
    try:
        for name, module in modules.items():
            path = checkpoint_dir / f"{name}.ckpt"
            if not path.exists():
                raise FileNotFoundError(f"checkpoint has no {path}")
            state = torch.load(path, map_location="cpu", weights_only=True)
            wanted = module.state_dict()
            missing = sorted(set(wanted) - set(state))
            if missing:
                raise ValueError(
                    f"{path} is not this architecture: lacks {missing[:5]}"
                )
            state = {k: state[k] for k in wanted}
            module.load_state_dict(state)  # checks every shape
            if half:
                state = {
                    k: v.half() if v.is_floating_point() else v
                    for k, v in state.items()
                }
            torch.save(state, tmp / f"{name}.ckpt")
        shutil.copyfile(hparams_file, tmp / "hyperparams.yaml")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return out_dir


def load_hub_weights(modules, folder):
    """Loads ``<folder>/<name>.ckpt`` into each module (e.g. to go on
    training from an exported model; float16 weights become float32).

    Arguments
    ---------
    modules : dict
        Name -> torch.nn.Module.
    folder : str
        A hub folder written by :func:`export_checkpoint`.
    """
    for name, module in modules.items():
        path = pathlib.Path(folder) / f"{name}.ckpt"
        if not path.exists():
            raise FileNotFoundError(f"no {path}")
        state = torch.load(path, map_location="cpu", weights_only=True)
        try:
            module.load_state_dict(state)
        except RuntimeError as err:
            raise ValueError(f"{path} does not fit this architecture: {err}") from err
