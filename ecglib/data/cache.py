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
warning naming it (every read goes through :func:`ecglib.cache.read_entry`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np

import ecglib
from ecglib import cache as _cache
from ecglib.data import cache_dir as default_cache_dir

#: Bump when the file layout of cache entries changes (2: input file identity in the key, checksums stored).
CACHE_FORMAT_VERSION = "2"
_KEY_ARRAY = "__cache_key__"
_INPUTS_ARRAY = "__input_sha256__"


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


def key_json(key_parts: Mapping, files: Iterable[str | os.PathLike] = ()) -> str:
    """Canonical JSON of ``key_parts`` with the library and cache-format versions added.

    ``files`` (the inputs of the entry) add their identity and the data root
    (:func:`ecglib.cache.file_identity`).
    """
    full = dict(_canonical(key_parts))
    files = list(files)
    if files:
        full["__input_files__"] = _cache.file_identity(files)
    full["__ecglib_version__"] = ecglib.__version__
    full["__cache_format__"] = CACHE_FORMAT_VERSION
    return json.dumps(full, sort_keys=True, separators=(",", ":"), allow_nan=True)


def cache_key(key_parts: Mapping, files: Iterable[str | os.PathLike] = ()) -> str:
    """SHA-256 hex digest of :func:`key_json` (64 characters)."""
    return hashlib.sha256(key_json(key_parts, files).encode("utf-8")).hexdigest()


def cache_path(
    key_parts: Mapping, *, cache_dir: str | os.PathLike | None = None, files: Iterable[str | os.PathLike] = ()
) -> Path:
    """Where the entry for ``key_parts`` lives: ``<cache_dir>/<dataset>-<digest[:20]>.npz``."""
    prefix = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(key_parts.get("dataset", "arrays")))
    return default_cache_dir(cache_dir) / f"{prefix}-{cache_key(key_parts, files)[:20]}.npz"


def _check_arrays(arrays, source: str) -> dict[str, np.ndarray]:
    if not isinstance(arrays, Mapping) or not arrays:
        raise TypeError(
            f"{source} must return a non-empty dict of name -> ndarray, got {type(arrays).__name__}"
        )
    checked = {}
    for name, array in arrays.items():
        if not isinstance(name, str) or not name.isidentifier() or name in (_KEY_ARRAY, _INPUTS_ARRAY):
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


def _read(path: Path, expected_key: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    with np.load(path, allow_pickle=False) as stored:
        if _KEY_ARRAY not in stored.files:
            raise ValueError("no key stored in the file")
        stored_key = str(stored[_KEY_ARRAY])
        if stored_key != expected_key:
            raise _cache.StaleEntry("the stored key differs from the requested key")
        inputs = json.loads(str(stored[_INPUTS_ARRAY])) if _INPUTS_ARRAY in stored.files else {}
        arrays = {name: stored[name] for name in stored.files if name not in (_KEY_ARRAY, _INPUTS_ARRAY)}
        return arrays, inputs


def _write(path: Path, arrays: dict[str, np.ndarray], key: str, inputs: dict[str, str]) -> None:
    extra = {_KEY_ARRAY: np.asarray(key), _INPUTS_ARRAY: np.asarray(json.dumps(inputs, sort_keys=True))}
    _cache.write_atomic(path, lambda handle: np.savez(handle, **arrays, **extra))


def cached(
    key_parts: Mapping,
    compute: Callable[[], Mapping[str, np.ndarray]],
    *,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
    files: Iterable[str | os.PathLike] = (),
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
    files : the input files ``compute`` reads; their identity (path, size, mtime) and the
        data root join the key, and their SHA-256 is stored in the entry and reported to
        run provenance (:func:`ecglib.cache.used_checksums`)

    Returns
    -------
    dict of name -> ndarray, the same names, dtypes and values that ``compute`` returned

    Warns
    -----
    RuntimeWarning
        when an existing entry cannot be read (truncated, corrupt, key mismatch); it is
        recomputed and replaced.
    """
    files = [Path(file) for file in files]
    if not use_cache:
        arrays = _check_arrays(compute(), "compute()")
        _cache.record_checksums({file: _cache.sha256_of(file) for file in files})
        return arrays
    try:
        key = key_json(key_parts, files)
    except FileNotFoundError:
        # an input is missing: let compute() raise its own error (it names the download command)
        return _check_arrays(compute(), "compute()")
    path = cache_path(key_parts, cache_dir=cache_dir, files=files)
    hit = _cache.read_entry(path, lambda entry: _read(entry, key), what="cache entry")
    if hit is not None:
        arrays, inputs = hit
        _cache.record_checksums(inputs)
        return arrays
    inputs = {str(file.resolve()): _cache.sha256_of(file) for file in files}
    arrays = _check_arrays(compute(), "compute()")
    try:
        unchanged = key_json(key_parts, files) == key
    except FileNotFoundError:
        unchanged = False
    if not unchanged:
        # an input changed while it was being read: return the arrays, but cache nothing
        return arrays
    _write(path, arrays, key, inputs)
    _cache.record_checksums(inputs)
    return arrays
