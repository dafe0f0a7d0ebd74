"""The models shipped inside the package, by name.

A shipped model is a hub folder ``speechbrain_rnncodec/pretrained/<name>``;
its name works wherever a hub folder does (``--model``, ``source=``).

Authors
 * speechbrain_rnncodec team 2026
"""

import pathlib

from speechbrain_rnncodec.inference.export import recorded_hash

SHIPPED_FOLDER = pathlib.Path(__file__).parents[1] / "pretrained"
DEFAULT_MODEL = SHIPPED_FOLDER / "rnn_sf_pitch_sub_so762_e192_d192_joint_16k"


def shipped_models():
    """Names of the models shipped in the package (``pretrained/<name>``).

    >>> "rnn_vq_16k" in shipped_models()
    True
    """
    folders = SHIPPED_FOLDER.iterdir()
    return sorted(f.name for f in folders if (f / "hyperparams.yaml").is_file())


def model_source(source):
    """Where ``source`` points: the shipped default model for None, a
    shipped model for its bare name (unless a local path of that name
    exists), else ``source`` itself (a hub folder or repo id).

    >>> model_source(DEFAULT_MODEL.name) == str(DEFAULT_MODEL)
    True
    """
    if source is None:
        return str(DEFAULT_MODEL)
    source = str(source)
    if source in shipped_models() and not pathlib.Path(source).exists():
        return str(SHIPPED_FOLDER / source)
    return source


def shipped_model_with_hash(model_hash):
    """The name of the shipped model whose hash begins with ``model_hash``
    (the 8 bytes a version 2 ``.rnc`` header holds, or all 16), else None.

    >>> digest = bytes.fromhex(recorded_hash(DEFAULT_MODEL))
    >>> shipped_model_with_hash(digest[:8]) == DEFAULT_MODEL.name
    True
    """
    for name in shipped_models():
        try:
            recorded = bytes.fromhex(recorded_hash(SHIPPED_FOLDER / name))
        except ValueError:
            continue
        if recorded.startswith(model_hash):
            return name
    return None
