"""Atomic file replacement: write under a temporary name in the same directory, then rename.

A reader of ``path`` sees either the complete old file or the complete new one, never a
half-written file, even if the writer is killed (``SIGKILL``, power loss after ``fsync``) or
raises mid-write. The temporary file lives in the destination's directory because
:func:`os.replace` is atomic only within one file system.

Two entry points share one implementation:

- :func:`atomic_path` yields a temporary :class:`~pathlib.Path` for libraries that insist on
  writing by file name themselves (segyio, ``numpy.save`` with a name, matplotlib ``savefig``).
- :func:`atomic_write` yields an open file object (binary by default).

Temporary names look like ``.<name>.<random>.tmp`` so that :func:`stale_temporaries` can find
the leftovers of a writer that was killed before it could clean up.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_path", "atomic_write", "stale_temporaries"]

log = logging.getLogger("geolearn.atomic")

_SUFFIX = ".tmp"


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; not supported on every platform (e.g. Windows), hence best effort.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path that replaces ``path`` atomically when the block succeeds.

    Parameters
    ----------
    path : str or os.PathLike
        Final destination. Its parent directory must exist.
    fsync : bool, default True
        Flush the temporary file (and the directory entry after the rename) to disk, so that
        the new content survives a power loss, not only a killed process.

    Yields
    ------
    pathlib.Path
        A not-yet-existing file name in the destination directory; write the content there.

    Raises
    ------
    FileNotFoundError
        If the parent directory of ``path`` does not exist.

    Notes
    -----
    If the block raises, the temporary file is removed and ``path`` is left untouched. If the
    process is killed inside the block, ``path`` is also untouched and a ``.<name>.*.tmp``
    leftover may remain (see :func:`stale_temporaries`).
    """
    dest = Path(path)
    directory = dest.parent if str(dest.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"cannot write {dest}: directory {directory} does not exist")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=_SUFFIX, dir=directory)
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp created the file; remove it so callers that refuse to overwrite (segyio.create) still work.
    tmp.unlink()
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"nothing was written to the temporary file {tmp} for {dest}")
        if fsync:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    if fsync:
        _fsync_directory(directory)
    log.debug("atomically wrote %s", dest)


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str],
    mode: str = "wb",
    *,
    encoding: str | None = None,
    fsync: bool = True,
) -> Iterator[IO[Any]]:
    """Open a temporary file that atomically replaces ``path`` when the block succeeds.

    Parameters
    ----------
    path : str or os.PathLike
        Final destination. Its parent directory must exist.
    mode : {"wb", "w"}, default "wb"
        Binary or text writing.
    encoding : str, optional
        Text encoding for ``mode="w"`` (default UTF-8).
    fsync : bool, default True
        See :func:`atomic_path`.

    Yields
    ------
    file object
        Open for writing; closed before the rename.

    Raises
    ------
    ValueError
        If ``mode`` is not ``"wb"`` or ``"w"``.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "summary.json"
    >>> with atomic_write(target, "w") as fh:
    ...     json.dump({"misfit": 0.5}, fh)
    >>> json.loads(target.read_text())["misfit"]
    0.5
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write mode must be 'wb' or 'w', got {mode!r}")
    if mode == "w" and encoding is None:
        encoding = "utf-8"
    with atomic_path(path, fsync=fsync) as tmp, open(tmp, mode, encoding=encoding) as fh:
        yield fh


def stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Return leftover temporary files of interrupted atomic writes to ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        The destination that was being written.

    Returns
    -------
    list of pathlib.Path
        Files named ``.<name>.*.tmp`` beside ``path``, sorted by name. Only remove them when no
        other process is writing ``path``.
    """
    dest = Path(path)
    directory = dest.parent if str(dest.parent) else Path(".")
    if not directory.is_dir():
        return []
    return sorted(directory.glob(f".{dest.name}.*{_SUFFIX}"))
