"""What identifies a model: its weights and the architecture they need.

A ``.rnc`` file, a token prior and a token cache name the model they were
made with by a 16-byte hash. The hash is computed once, when a model is
exported to a hub folder, and recorded there with the model's name
(``model_hash`` and ``model_id`` in its ``hyperparams.yaml``); loading
reads both back, so every copy of the model writes the same bytes, and
moving or renaming a module of the package, or reformatting the yaml,
never orphans the files written with a model. What the hash covers:

* the architecture: the hub yaml with its references resolved, every
  ``!new:`` object reduced to its class name and arguments (not the import
  path), the loader's ``pretrainer`` and ``model_hash`` left out, in a
  canonical JSON form;
* the weights: every tensor of every module's state dict, in name order,
  as ``name``, dtype, shape and bytes.

See ``docs/format.md`` (Model hash).

Authors
 * speechbrain_rnncodec team 2026
"""

import hashlib
import io
import json

import torch
from hyperpyyaml import resolve_references
from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.nodes import MappingNode, SequenceNode

HASH_BYTES = 16
NOT_ARCHITECTURE = ("pretrainer", "model_hash", "model_id")


class _ArchitectureConstructor(SafeConstructor):
    """Reads ``!new:`` / ``!name:`` / ``!apply:`` nodes as their class name
    and arguments (its own registry: ruamel's other loaders stay as they
    are)."""


def _tagged(loader, suffix, node):
    if isinstance(node, MappingNode):
        args = loader.construct_mapping(node, deep=True)
    elif isinstance(node, SequenceNode):
        args = loader.construct_sequence(node, deep=True)
    else:
        args = loader.construct_scalar(node) or None
    return {"class": suffix.rsplit(".", 1)[-1], "args": args}


for _tag in ("!new:", "!name:", "!apply:"):
    _ArchitectureConstructor.add_multi_constructor(_tag, _tagged)


def architecture(yaml_text):
    """The architecture a hub yaml describes, in canonical JSON.

    Arguments
    ---------
    yaml_text : str
        A hub ``hyperparams.yaml``.

    Returns
    -------
    str
        Sorted-key JSON of the resolved yaml, classes by name.

    Example
    -------
    >>> a = architecture("n: 4\\nenc: !new:pkg.old.Enc\\n  size: !ref <n>\\n")
    >>> a == architecture("n: 4  # moved\\nenc: !new:pkg.new.Enc\\n  size: 4\\n")
    True
    >>> a == architecture("n: 4\\nenc: !new:pkg.old.Enc\\n  size: 5\\n")
    False
    """
    yaml = YAML(typ="safe", pure=True)
    yaml.Constructor = _ArchitectureConstructor
    resolved = resolve_references(io.StringIO(yaml_text)).getvalue()
    tree = yaml.load(resolved) or {}
    tree = {k: v for k, v in tree.items() if k not in NOT_ARCHITECTURE}
    return json.dumps(tree, sort_keys=True, default=str)


def model_hash(yaml_text, modules):
    """The 16-byte identity of a model (see the module docstring).

    Arguments
    ---------
    yaml_text : str
        Its hub ``hyperparams.yaml``.
    modules : dict
        Name -> torch.nn.Module, holding the weights.

    Returns
    -------
    bytes
        16 bytes.

    Example
    -------
    >>> lin = torch.nn.Linear(2, 2)
    >>> h = model_hash("a: 1\\n", {"lin": lin})
    >>> len(h), h == model_hash("a: 1  # same\\n", {"lin": lin})
    (16, True)
    >>> with torch.no_grad():
    ...     _ = lin.weight.add_(1.0)
    >>> h == model_hash("a: 1\\n", {"lin": lin})
    False
    """
    digest = hashlib.sha256(b"rnncodec-model-1\0")
    digest.update(architecture(yaml_text).encode("utf-8") + b"\0")
    for name in sorted(modules):
        for key, tensor in sorted(modules[name].state_dict().items()):
            data = tensor.detach().cpu().contiguous()
            digest.update(f"{name}.{key}:{data.dtype}:{list(data.shape)}\0".encode())
            digest.update(data.view(torch.uint8).numpy().tobytes())
    return digest.digest()[:HASH_BYTES]


def declared_identity(hparams):
    """The ``model_id`` and ``model_hash`` a hub yaml records.

    Arguments
    ---------
    hparams : object
        The loaded yaml (a namespace or a dict).

    Returns
    -------
    model_id : str or None
        The model's name, None where the yaml records none.
    model_hash : bytes or None
        16 bytes, None where the yaml records none.

    Raises
    ------
    ValueError
        The recorded hash is not 32 hexadecimal digits.

    Example
    -------
    >>> declared_identity({"model_id": "m", "model_hash": "ab" * 16})[1].hex()
    'abababababababababababababababab'
    >>> declared_identity({})
    (None, None)
    """
    if not isinstance(hparams, dict):
        hparams = vars(hparams)
    model_id, value = hparams.get("model_id"), hparams.get("model_hash")
    if value is None:
        return model_id, None
    try:
        digest = bytes.fromhex(str(value))
    except ValueError:
        digest = b""
    if len(digest) != HASH_BYTES:
        raise ValueError(f"model_hash must be {2 * HASH_BYTES} hex digits: {value!r}")
    return model_id, digest
