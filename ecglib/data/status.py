"""Which registered data sources are present under the data root (``ecglib data status``).

A public dataset is *present* when its folder holds the downloader's completion marker
(``.ecglib-complete.json``), or, for copies placed by hand, the files its module lists in
``REQUIRED_FILES`` (or, when a module lists none, any file at all in its folder).
A ``<folder>.partial`` next to it means an interrupted download: it is reported, never
counted as present. Generated sources are always available.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ecglib.data import REGISTRY, data_root, info, module

#: file the downloader writes into a dataset folder once every file is in place (``ecglib.data.download``)
MARKER = ".ecglib-complete.json"


def read_marker(folder: Path) -> dict | None:
    """The completion marker of a dataset folder, or None when absent or unreadable."""
    try:
        return json.loads((folder / MARKER).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def has_expected_files(name: str, folder: Path) -> bool:
    """True when ``folder`` holds the files module ``name`` lists in ``REQUIRED_FILES``
    (any file at all when it lists none)."""
    if not folder.is_dir():
        return False
    try:
        required = tuple(getattr(module(name), "REQUIRED_FILES", ()))
    except ImportError:
        required = ()
    if required:
        return all((folder / relative).exists() for relative in required)
    return any(path.is_file() and path.name != MARKER for path in folder.rglob("*"))


def _size_bytes(folder: Path) -> int:
    total = 0
    for directory, _, files in os.walk(folder):
        for file_name in files:
            try:
                total += os.stat(os.path.join(directory, file_name)).st_size
            except OSError:
                pass
    return total


def status_rows(root: str | os.PathLike | None = None) -> list[dict]:
    """One dict per registered source, in registry order.

    Keys: ``name``, ``kind`` (public/offline/unavailable), ``present`` (bool), ``verified``
    (marker says checksums were checked; None without a marker), ``version``, ``path``
    (str or None), ``size_bytes`` (int or None), ``partial`` (an interrupted download
    exists), ``command`` (how to fetch it), ``note``.
    """
    base = data_root(root)
    rows = []
    for name in REGISTRY:
        try:
            meta = info(name)
        except Exception as exc:  # a module not written yet, or broken: report, don't crash status
            rows.append(
                {
                    "name": name,
                    "kind": "unavailable",
                    "present": False,
                    "verified": None,
                    "version": None,
                    "path": None,
                    "size_bytes": None,
                    "partial": False,
                    "command": "-",
                    "note": f"module {REGISTRY[name]} not importable: {type(exc).__name__}",
                }
            )
            continue
        if meta.kind != "public" or meta.folder is None:
            rows.append(
                {
                    "name": name,
                    "kind": "offline",
                    "present": True,
                    "verified": None,
                    "version": meta.version,
                    "path": None,
                    "size_bytes": None,
                    "partial": False,
                    "command": "-",
                    "note": "generated on the fly",
                }
            )
            continue
        folder = base / meta.folder
        marker = read_marker(folder)
        present = marker is not None or has_expected_files(name, folder)
        size = None
        if present:
            size = (
                marker.get("size_bytes")
                if marker and isinstance(marker.get("size_bytes"), int)
                else _size_bytes(folder)
            )
        partial = folder.with_name(folder.name + ".partial").exists()
        note = "" if present else ("interrupted download: rerun to resume" if partial else "not downloaded")
        if present and marker is None:
            note = "placed by hand (no completion marker)"
        rows.append(
            {
                "name": name,
                "kind": "public",
                "present": present,
                "verified": None if marker is None else bool(marker.get("checksums_verified")),
                "version": meta.version,
                "path": str(folder),
                "size_bytes": size,
                "partial": partial,
                "command": f"ecglib data download {name}",
                "note": note,
            }
        )
    return rows


def _human_size(size_bytes: int | None) -> str:
    if size_bytes is None:
        return "-"
    size = float(size_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def format_status(rows: list[dict]) -> str:
    """A plain-text table of :func:`status_rows` (name, kind, present, size, path or command)."""
    header = ("name", "kind", "present", "verified", "size", "where / how to get it")
    lines = []
    for row in rows:
        verified = "-" if row["verified"] is None else ("yes" if row["verified"] else "no")
        if row["kind"] == "public":
            where = row["path"] if row["present"] else f"{row['command']}  ({row['note']})"
        else:
            where = row["note"]
        lines.append(
            (
                row["name"],
                row["kind"],
                "yes" if row["present"] else "no",
                verified,
                _human_size(row["size_bytes"]),
                where,
            )
        )
    widths = [max(len(str(cells[i])) for cells in (header, *lines)) for i in range(len(header) - 1)]
    out = []
    for cells in (header, *lines):
        out.append(
            "  ".join(str(cell).ljust(width) for cell, width in zip(cells, widths)) + "  " + str(cells[-1])
        )
    out.insert(1, "  ".join("-" * width for width in widths) + "  " + "-" * len(header[-1]))
    return "\n".join(out)
