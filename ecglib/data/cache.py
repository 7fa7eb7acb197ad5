"""Disk cache of preprocessed arrays, keyed by everything that produced them.

``cached(key_parts, compute)`` returns the arrays ``compute()`` would return, reading them
from ``<cache_dir>/<dataset>-<digest>.npz`` when an entry for exactly these ``key_parts``
exists. The digest is the SHA-256 of the canonical JSON of ``key_parts`` plus
``ecglib.__version__`` and :data:`CACHE_FORMAT_VERSION`, so changing any parameter, the
dataset version or the library version gives a new entry. Put in ``key_parts`` everything
the arrays depend on: dataset name and version, record ids, filter settings, window length,
label policy, and a ``code_version`` string you bump when the preprocessing code changes.

Files are plain ``.npz`` (``np.savez``; read with ``allow_pickle=False``, so object arrays
are refused), written to a temporary name and renamed into place. The key is stored inside
the file and checked on every read; an unreadable or mismatched file is recomputed with a
warning.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

import ecglib
from ecglib.data import cache_dir as default_cache_dir

#: Bump when the file layout of cache entries changes.
CACHE_FORMAT_VERSION = "1"
_KEY_ARRAY = "__cache_key__"


def _canonical(value):
    """JSON-compatible form of a key part (tuples -> lists, numpy scalars -> Python, paths -> str)."""
    if isinstance(value, Mapping):
        return {
            str(key): _canonical(item) for key, item in sorted(value.items(), key=lambda pair: str(pair[0]))
        }
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    if isinstance(value, np.ndarray):
        return _canonical(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(
        f"cache key part {value!r} of type {type(value).__name__} has no canonical form; use str/number/list/dict"
    )


def key_json(key_parts: Mapping) -> str:
    """Canonical JSON of ``key_parts`` with the library and cache-format versions added."""
    full = dict(_canonical(key_parts))
    full["__ecglib_version__"] = ecglib.__version__
    full["__cache_format__"] = CACHE_FORMAT_VERSION
    return json.dumps(full, sort_keys=True, separators=(",", ":"), allow_nan=True)


def cache_key(key_parts: Mapping) -> str:
    """SHA-256 hex digest of :func:`key_json` (64 characters)."""
    return hashlib.sha256(key_json(key_parts).encode("utf-8")).hexdigest()


def cache_path(key_parts: Mapping, *, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the entry for ``key_parts`` lives: ``<cache_dir>/<dataset>-<digest[:20]>.npz``."""
    prefix = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(key_parts.get("dataset", "arrays")))
    return default_cache_dir(cache_dir) / f"{prefix}-{cache_key(key_parts)[:20]}.npz"


def _check_arrays(arrays, source: str) -> dict[str, np.ndarray]:
    if not isinstance(arrays, Mapping) or not arrays:
        raise TypeError(
            f"{source} must return a non-empty dict of name -> ndarray, got {type(arrays).__name__}"
        )
    checked = {}
    for name, array in arrays.items():
        if not isinstance(name, str) or not name.isidentifier() or name == _KEY_ARRAY:
            raise ValueError(
                f"{source}: array name {name!r} must be a Python identifier other than {_KEY_ARRAY}"
            )
        array = np.asarray(array)
        if array.dtype.hasobject:
            raise TypeError(
                f"{source}: array {name!r} has dtype object, which cannot be stored without pickle"
            )
        checked[name] = array
    return checked


def _read(path: Path, expected_key: str) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as stored:
        if _KEY_ARRAY not in stored.files:
            raise ValueError("no key stored in the file")
        stored_key = str(stored[_KEY_ARRAY])
        if stored_key != expected_key:
            raise ValueError("the stored key differs from the requested key")
        return {name: stored[name] for name in stored.files if name != _KEY_ARRAY}


def _write(path: Path, arrays: dict[str, np.ndarray], key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=f".{path.stem}-", suffix=".npz.tmp", delete=False
    )
    try:
        with handle:
            np.savez(handle, **arrays, **{_KEY_ARRAY: np.asarray(key)})
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def cached(
    key_parts: Mapping,
    compute: Callable[[], Mapping[str, np.ndarray]],
    *,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
) -> dict[str, np.ndarray]:
    """Arrays from the cache entry for ``key_parts``, computing and storing them when absent.

    Parameters
    ----------
    key_parts : dict of str/number/bool/None/list/dict values describing everything the
        arrays depend on (e.g. ``{"dataset": "mitbih", "version": "1.0.0", "lead": "MLII",
        "band_hz": [0.4, 30], "window_samples": 360, "code_version": "windows-1"}``)
    compute : function of no arguments returning a dict of name -> ndarray (no object dtype)
    cache_dir : folder of the cache; default :func:`ecglib.data.cache_dir` (``$ECGLIB_CACHE``)
    use_cache : False computes and returns without reading or writing the cache

    Returns
    -------
    dict of name -> ndarray, the same names, dtypes and values that ``compute`` returned

    Warns
    -----
    RuntimeWarning
        when an existing entry cannot be read (truncated, corrupt, key mismatch); it is
        recomputed and replaced.
    """
    if not use_cache:
        return _check_arrays(compute(), "compute()")
    key = key_json(key_parts)
    path = cache_path(key_parts, cache_dir=cache_dir)
    if path.is_file():
        try:
            return _read(path, key)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            warnings.warn(
                f"cache entry {path} is unreadable ({type(exc).__name__}: {exc}); recomputing it",
                RuntimeWarning,
                stacklevel=2,
            )
    arrays = _check_arrays(compute(), "compute()")
    _write(path, arrays, key)
    return arrays
