"""Reading and writing cache entries safely: one read path, atomic writes, keys that see the input files.

Every cache in ecglib (preprocessed windows, generated ECGs, grid checkpoints) reads its
entries through :func:`read_entry`: a missing entry is a miss, and an unreadable one
(truncated by a full disk, written by another version, damaged by hand) is a miss too,
with a :class:`RuntimeWarning` that names the file; the caller then recomputes and
overwrites it. Nothing here can execute code from a cache file: entries are ``.npz``
read with ``allow_pickle=False`` plus JSON, or torch files read with
``torch.load(weights_only=True)``.

:func:`file_identity` describes the files an entry was built from (resolved path,
size in bytes and modification time in ns, plus the data root), so a cache key that
includes it changes whenever an input file is replaced, truncated or touched;
:func:`folder_identity` is the same as one digest over a whole folder.
:func:`sha256_of` hashes a file once per identity, and :func:`record_checksums` /
:func:`used_checksums` remember the SHA-256 of the bytes a cache entry was actually built
from, for run provenance.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class StaleEntry(ValueError):
    """A cache file was readable but was written for a different key (treated as a miss)."""


def read_entry(
    path: str | os.PathLike, reader: Callable[[Path], T], *, what: str = "cache entry"
) -> T | None:
    """``reader(path)``, or None when the entry is missing or cannot be used.

    Parameters
    ----------
    path : the cache file
    reader : function of the path that returns the cached value; it raises (any
        ``Exception``) when the file is unreadable, and :class:`StaleEntry` when the file
        belongs to another key
    what : words for the warning ("grid checkpoint", "generated-ECG cache"...)

    Returns
    -------
    the value read, or None (missing, unreadable or stale: the caller recomputes)

    Warns
    -----
    RuntimeWarning
        naming the file and the error, when it exists but cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return reader(path)
    except Exception as error:  # noqa: BLE001 - any unreadable entry is a miss, never a crash
        detail = (str(error).strip().splitlines() or [""])[0][:300]
        warnings.warn(
            f"{what} {path} is unreadable ({type(error).__name__}: {detail}); recomputing it",
            RuntimeWarning,
            stacklevel=2,
        )
        return None


def write_atomic(path: str | os.PathLike, writer: Callable[[Any], None], *, mode: str = "wb") -> Path:
    """Write ``path`` by calling ``writer(handle)`` on a temporary file beside it, then renaming it.

    A killed process leaves either the old entry or the new one, never half a file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, mode) as file:
            writer(file)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def file_identity(files: Iterable[str | os.PathLike], *, data_root: str | os.PathLike | None = None) -> dict:
    """What identifies the input files of a cache entry: path, size and mtime of each, and the data root.

    Parameters
    ----------
    files : the files the entry is computed from (each must exist)
    data_root : the data root they were read under (default :func:`ecglib.data.data_root`)

    Returns
    -------
    dict ``{"data_root": str, "files": [[path, size_bytes, mtime_ns], ...]}`` (JSON-ready)

    Raises
    ------
    FileNotFoundError
        naming the first file that does not exist.
    """
    from ecglib.data import data_root as _data_root

    rows = []
    for file in files:
        resolved = Path(file).expanduser().resolve()
        stat = resolved.stat()  # FileNotFoundError names the path
        rows.append([str(resolved), int(stat.st_size), int(stat.st_mtime_ns)])
    return {"data_root": str(_data_root(data_root)), "files": rows}


def folder_identity(folder: str | os.PathLike) -> str:
    """One digest of every file under ``folder``: relative path, size and mtime (ns), sorted.

    For a cache key over a whole dataset folder (tens of thousands of records) where listing each
    file's identity in the key (:func:`file_identity`) would make the key larger than the entry.
    Any file added, removed, replaced, truncated or touched changes it; nothing is read but the
    directory entries.

    Raises
    ------
    FileNotFoundError
        naming the folder when it does not exist.
    """
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder")
    rows = []
    for directory, _, names in os.walk(root):
        for name in names:
            stat = os.stat(os.path.join(directory, name))
            rows.append(
                f"{os.path.relpath(os.path.join(directory, name), root)}\0{stat.st_size}\0{stat.st_mtime_ns}"
            )
    digest = hashlib.sha256(str(root).encode())
    for row in sorted(rows):
        digest.update(row.encode() + b"\n")
    return digest.hexdigest()


_SHA256_BY_IDENTITY: dict[tuple[str, int, int], str] = {}
_USED: dict[str, str] = {}


def sha256_of(path: str | os.PathLike, chunk_bytes: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file, computed once per (path, size, mtime_ns) in this process."""
    resolved = Path(path).expanduser().resolve()
    stat = resolved.stat()
    identity = (str(resolved), int(stat.st_size), int(stat.st_mtime_ns))
    if identity not in _SHA256_BY_IDENTITY:
        digest = hashlib.sha256()
        with open(resolved, "rb") as handle:
            for chunk in iter(lambda: handle.read(chunk_bytes), b""):
                digest.update(chunk)
        _SHA256_BY_IDENTITY[identity] = digest.hexdigest()
    return _SHA256_BY_IDENTITY[identity]


def record_checksums(checksums: Mapping[str, str]) -> None:
    """Remember ``{resolved path: sha256}`` of files a cache entry was built from (for provenance)."""
    _USED.update({str(Path(path).expanduser().resolve()): digest for path, digest in checksums.items()})


def used_checksums(path: str | os.PathLike) -> str | None:
    """The SHA-256 recorded for ``path`` by the last cache entry built from or served for it, if any."""
    return _USED.get(str(Path(path).expanduser().resolve()))
