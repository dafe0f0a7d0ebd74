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
import pathlib

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


_HASH_CHUNK = 2**20


def model_folder(codec):
    """The folder of the codec's checkpoints (None if unknown)."""
    pretrainer = getattr(codec.hparams, "pretrainer", None)
    paths = getattr(pretrainer, "paths", None) or {}
    for path in paths.values():
        # Not resolved: a hub cache links the files by name into one folder.
        return pathlib.Path(path).absolute().parent
    return None


def _hash_file(digest, name, path):
    path = pathlib.Path(path)
    digest.update(name.encode() + b"\0" + path.stat().st_size.to_bytes(8, "little"))
    with open(path, "rb") as fin:
        while block := fin.read(_HASH_CHUNK):
            digest.update(block)


def model_fingerprint(codec):
    """``(model_id, hash)`` of a loaded codec, computed once per model.

    The hash and id are the ``model_hash`` and ``model_id`` its hub yaml
    records (:mod:`speechbrain_rnncodec.utils.identity`: weights and
    architecture, written by the export). A hub folder that records none (exported
    before model hashes were recorded) hashes its files as it always did:
    the first 16 bytes of a SHA-256 over ``hyperparams.yaml`` then each
    checkpoint in name order, every file as ``name NUL size(uint64 LE)
    bytes``, and its id is the folder's name. A codec built without files
    hashes its state dict.

    Arguments
    ---------
    codec : RNNCodec
        The loaded codec.

    Returns
    -------
    model_id : str
    model_hash : bytes
    """
    cached = getattr(codec, "_rnc_fingerprint", None)
    if cached is not None:
        return cached
    folder = model_folder(codec)
    declared_id, declared = declared_identity(codec.hparams)
    if declared is not None:
        result = (declared_id or "unnamed", declared)
        codec._rnc_fingerprint = result
        return result
    digest = hashlib.sha256()
    pretrainer = getattr(codec.hparams, "pretrainer", None)
    paths = dict(getattr(pretrainer, "paths", None) or {})
    try:
        if not paths:
            raise FileNotFoundError
        yaml = folder / "hyperparams.yaml"
        if yaml.is_file():
            _hash_file(digest, "hyperparams.yaml", yaml)
        for name in sorted(paths):
            _hash_file(digest, f"{name}.ckpt", paths[name])
        model_id = folder.name
    except OSError:
        digest = hashlib.sha256()
        for name, tensor in sorted(codec.mods.state_dict().items()):
            data = tensor.detach().cpu().contiguous()
            digest.update(f"{name}:{data.dtype}:{list(data.shape)}".encode())
            digest.update(data.view(torch.uint8).numpy().tobytes())
        model_id = "unnamed"
    model_id = model_id.encode("utf-8")[:64].decode("utf-8", "ignore") or "unnamed"
    if not model_id.isprintable():
        model_id = "unnamed"
    result = (model_id, digest.digest()[:16])
    codec._rnc_fingerprint = result
    return result
