"""Cached units of work: one training run (a pre-training, a fine-tune, a from-scratch run) stored once.

A *unit* is a computation whose result depends only on what its key names: the data, the
indices of its splits, its hyper-parameters, its initial weights and the code version. Its
result (the *payload*: tensors, numbers, strings, lists and dicts of those) is stored under a
digest of the key, written atomically with ``torch.save`` and read back with
``torch.load(weights_only=True)`` through :func:`ecglib.cache.read_entry` (an unreadable entry
is a miss with a warning naming the file, never a crash and never code execution).

A study builds its grid as a list of :class:`Unit` records, so the same list can be

* run here, missing units only (:func:`run_units`; a resumed grid trains nothing twice),
* listed (:func:`missing`) and run one by one by a cluster job (:func:`run_unit` of one record).

Example::

    parts = {"code": "study-unit-1", "data": signals, "train": train_idx, "lr": 0.01,
             "init": model.state_dict()}
    payload = units.run_unit(parts, lambda: train_and_summarise(...), cache_dir=folder, use_cache=True)

``ecglib.grid``'s ``_Checkpoints`` is the older special case of this (one digest of the data
and the grid's common settings, one of each run's lr/batch/seed/indices/initial weights, the
file ``run-<digest>.pt``); it keeps its own file names.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ecglib import cache as _cache

#: file name of a unit: ``unit-<key>.pt``
PREFIX = "unit-"


def _feed(digest, value: Any, where: str) -> None:
    """Add ``value`` to ``digest`` with a type tag, so that different values never collide."""
    if value is None:
        digest.update(b"N;")
    elif isinstance(value, (bool, np.bool_)):
        digest.update(b"B" + (b"1" if value else b"0") + b";")
    elif isinstance(value, (int, np.integer)):
        digest.update(b"I" + str(int(value)).encode() + b";")
    elif isinstance(value, (float, np.floating)):
        if not math.isfinite(float(value)):
            raise ValueError(f"unit key part {where!r} is not finite: {value!r}")
        digest.update(b"F" + float(value).hex().encode() + b";")
    elif isinstance(value, str):
        encoded = value.encode()
        digest.update(b"S" + str(len(encoded)).encode() + b":" + encoded)
    elif isinstance(value, torch.Tensor):
        _feed(digest, value.detach().cpu().contiguous().numpy(), where)
    elif isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        if array.dtype == object:
            raise TypeError(f"unit key part {where!r}: object arrays cannot be digested; use str or numbers")
        digest.update(b"A" + f"{array.dtype.str}{array.shape}".encode() + b":" + array.tobytes())
    elif isinstance(value, Mapping):
        digest.update(b"M" + str(len(value)).encode() + b"{")
        for key in sorted(value, key=str):
            _feed(digest, str(key), where)
            _feed(digest, value[key], f"{where}.{key}")
        digest.update(b"}")
    elif isinstance(value, (list, tuple)):
        digest.update(b"L" + str(len(value)).encode() + b"[")
        for position, item in enumerate(value):
            _feed(digest, item, f"{where}[{position}]")
        digest.update(b"]")
    else:
        raise TypeError(
            f"unit key part {where!r} has type {type(value).__name__}; use numbers, strings, arrays, "
            "tensors, or lists/dicts of those"
        )


def unit_key(**parts: Any) -> str:
    """The digest (40 hex characters) of everything that determines a unit's result.

    Parameters
    ----------
    **parts : name -> value; values are numbers, strings, None, NumPy arrays, tensors, state
        dicts, or lists/tuples/dicts of those (arrays count by dtype, shape and bytes). Name a
        code version among them (e.g. ``code="nguyen2025-unit-1"``) and bump it whenever the
        computation changes its results.

    Returns
    -------
    str, the first 40 hex characters of a SHA-256 over the parts in name order

    Raises
    ------
    TypeError, ValueError
        a part has a type that cannot be digested, or is a non-finite float (both name the part).
    """
    if not parts:
        raise ValueError("a unit key needs at least one part")
    digest = hashlib.sha256()
    for name in sorted(parts):
        _feed(digest, name, name)
        _feed(digest, parts[name], name)
    return digest.hexdigest()[:40]


def unit_path(key: str, cache_dir: str | os.PathLike) -> Path:
    """Where the unit with ``key`` is stored under ``cache_dir``."""
    return Path(cache_dir) / f"{PREFIX}{key}.pt"


def _read(path: Path) -> Any:
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or "payload" not in payload or "key" not in payload:
        raise _cache.StaleEntry(f"{path} is not a unit file")
    if path.name != f"{PREFIX}{payload['key']}.pt":
        raise _cache.StaleEntry(f"{path} holds unit {payload['key']}")
    return payload["payload"]


def load_unit(key: str, cache_dir: str | os.PathLike | None) -> Any | None:
    """The stored payload of unit ``key``, or None (missing, unreadable: a warning names the file)."""
    if cache_dir is None:
        return None
    return _cache.read_entry(unit_path(key, cache_dir), _read, what="cached unit")


def save_unit(key: str, payload: Any, cache_dir: str | os.PathLike) -> Path:
    """Store ``payload`` as unit ``key`` (atomically; readable with ``weights_only=True``)."""
    return _cache.write_atomic(
        unit_path(key, cache_dir), lambda handle: torch.save({"key": key, "payload": payload}, handle)
    )


def run_unit(
    key_parts: Mapping[str, Any],
    compute: Callable[[], Any],
    *,
    cache_dir: str | os.PathLike | None,
    use_cache: bool,
) -> Any:
    """The payload of a unit: read from the cache when there, else ``compute()`` and stored.

    Parameters
    ----------
    key_parts : everything that determines the result (see :func:`unit_key`)
    compute : function of no arguments returning the payload (tensors, numbers, strings, lists
        and dicts of those; :func:`frame_payload` turns a DataFrame into one)
    cache_dir : folder of the unit files (None: no cache)
    use_cache : False computes every time and stores nothing

    Returns
    -------
    the payload (as read back from the file when it was cached, so both paths give the same types)
    """
    if not use_cache or cache_dir is None:
        return compute()
    key = unit_key(**key_parts)
    cached = load_unit(key, cache_dir)
    if cached is not None:
        return cached
    payload = compute()
    save_unit(key, payload, cache_dir)
    return payload


@dataclass(frozen=True)
class Unit:
    """One unit of a grid: a name (for tables and logs), what determines it, and how to compute it.

    ``compute`` gets the payloads of the units named in ``needs`` (a dict name -> payload) so a
    fine-tune can depend on its pre-training; a cluster runner runs the ``needs`` first.
    """

    name: str
    key_parts: Mapping[str, Any]
    compute: Callable[[Mapping[str, Any]], Any]
    needs: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return unit_key(**self.key_parts)


def study_cache_dir(study: str, use_cache: bool) -> Path | None:
    """Folder of a study's cached units, ``<ecglib cache>/units/<study>`` (None when ``use_cache`` is off).

    The notebook (:meth:`ecglib.runner.Run.run_units`) and the workflow's jobs (``ecglib unit run``)
    meet there.
    """
    from ecglib.data import cache_dir

    return cache_dir() / "units" / study if use_cache else None


def missing(units: Iterable[Unit], cache_dir: str | os.PathLike) -> list[str]:
    """Names of the units not (readably) stored under ``cache_dir``, in order."""
    return [unit.name for unit in units if not unit_path(unit.key, cache_dir).is_file()]


def run_units(
    units: Sequence[Unit],
    *,
    cache_dir: str | os.PathLike | None,
    use_cache: bool,
    on_done: Callable[[str, bool], None] | None = None,
    given: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Payloads of every unit, computing only those not in the cache, dependencies first.

    ``on_done(name, was_cached)`` is called after each unit (e.g. to count or log). Units are
    run in list order; one whose ``needs`` come later in the list raises ``ValueError``.
    ``given``: payloads at hand (unit name -> payload, e.g. from an earlier part of the grid run in
    another stage); those units are neither read nor computed again, and are returned too.
    """
    names = [unit.name for unit in units]
    if len(set(names)) != len(names):
        duplicated = sorted({name for name in names if names.count(name) > 1})
        raise ValueError(f"unit names must be unique, repeated: {duplicated[:5]}")
    payloads: dict[str, Any] = dict(given or {})
    for unit in units:
        if unit.name in payloads:
            continue
        absent = [name for name in unit.needs if name not in payloads]
        if absent:
            raise ValueError(f"unit {unit.name!r} needs {absent}, which do not come before it")
        needed = {name: payloads[name] for name in unit.needs}
        computed = []

        def compute(unit=unit, needed=needed, computed=computed):
            computed.append(True)
            return unit.compute(needed)

        payloads[unit.name] = run_unit(unit.key_parts, compute, cache_dir=cache_dir, use_cache=use_cache)
        if on_done is not None:
            on_done(unit.name, not computed)
    return payloads


# --------------------------------------------------------------------------- payload helpers


def frame_payload(frame: pd.DataFrame) -> dict:
    """A numeric DataFrame (e.g. a per-epoch history) as tensors: ``{"columns": [...], "values": {...}}``."""
    return {
        "columns": [str(column) for column in frame.columns],
        "values": {
            str(column): torch.as_tensor(frame[column].to_numpy(dtype=np.float64)) for column in frame.columns
        },
    }


def frame_from_payload(payload: Mapping[str, Any]) -> pd.DataFrame:
    """The inverse of :func:`frame_payload` (an ``epoch`` column comes back as int64)."""
    frame = pd.DataFrame({column: payload["values"][column].numpy() for column in payload["columns"]})
    if "epoch" in frame:
        frame["epoch"] = frame["epoch"].astype(np.int64)
    return frame


def json_part(value: Any) -> str:
    """A JSON string of plain values, sorted keys (for a key part or a payload field)."""
    return json.dumps(value, sort_keys=True)
