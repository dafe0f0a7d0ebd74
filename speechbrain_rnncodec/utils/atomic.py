"""Files written whole or not at all: a temp file beside the target, then a
rename. A crash, a full disk or an exception leaves the old file (or none),
never half of a new one. Every file the package writes goes through here.

Authors
 * speechbrain_rnncodec team 2026
"""

import contextlib
import os
import pathlib
import tempfile


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temp path beside ``path`` (same suffix, hidden name) to
    write to; renames it to ``path`` on success, deletes it on failure.

    Arguments
    ---------
    path : str or pathlib.Path
        The file to write (its folder must exist).

    Yields
    ------
    str
        The temp file's path.

    Example
    -------
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(folder / "a.txt") as tmp:
    ...     _ = pathlib.Path(tmp).write_text("whole")
    >>> (folder / "a.txt").read_text()
    'whole'
    >>> try:
    ...     with atomic_path(folder / "b.txt") as tmp:
    ...         _ = pathlib.Path(tmp).write_text("half")
    ...         raise RuntimeError("disk full")
    ... except RuntimeError:
    ...     pass
    >>> sorted(p.name for p in folder.iterdir())
    ['a.txt']
    """
    path = pathlib.Path(path)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix
    )
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp makes it private
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_open(path, mode="wb", **kwargs):
    """:func:`open` for writing, through :func:`atomic_path`.

    Arguments
    ---------
    path : str or pathlib.Path
        The file to write.
    mode : str
        ``"wb"`` or ``"w"``.
    **kwargs
        Passed to :func:`open` (``encoding``, ``newline``).

    Yields
    ------
    file
        The open temp file; closed and renamed into place on success.
    """
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as fout:
        yield fout


def write_bytes(path, data):
    """Writes ``data`` to ``path`` whole or not at all; returns the path.

    Arguments
    ---------
    path : str or pathlib.Path
        The file to write.
    data : bytes
        Its content.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    with atomic_open(path) as fout:
        fout.write(data)
    return pathlib.Path(path)
