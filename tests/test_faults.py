"""Faults as a user meets them (issue 15): damaged files, killed runs, typos, bad numbers.

Each test corrupts real files in a temporary data root or cache, kills real processes by
PID, or runs the real CLIs (``ecglib``, ``papermill``) against the tiny study; nothing
under the shared data root is modified.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from ecglib.data import DataFormatError

ROOT = Path(__file__).resolve().parents[1]
TESTS_DIR = ROOT / "tests"
TINY_NOTEBOOK = TESTS_DIR / "notebooks" / "tiny.ipynb"
BIN = Path(sys.executable).parent


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["ECGLIB_PARAMS_ROOT"] = str(TESTS_DIR / "params")
    env.update(extra)
    return env


def _copy_mitbih(tmp_path: Path, records: tuple[str, ...]) -> Path:
    """A data root holding only ``records`` of MIT-BIH (copied, with their timestamps)."""
    from conftest import require_dataset

    source = require_dataset("mitbih")
    root = tmp_path / "data"
    target = root / source.name
    target.mkdir(parents=True)
    for record in records:
        for ext in ("hea", "dat", "atr"):
            shutil.copy2(source / f"{record}.{ext}", target / f"{record}.{ext}")
    return root


# ------------------------------------------------------------------ 1. the window cache sees its inputs


@pytest.mark.real_data
def test_window_cache_is_not_served_after_its_input_file_changed(tmp_path, monkeypatch):
    from ecglib.studies import vavekanand

    monkeypatch.setenv("ECGLIB_CACHE", str(tmp_path / "cache"))
    root = _copy_mitbih(tmp_path, ("100",))
    first = vavekanand.mitbih_windows(["100"], root=root)
    assert len(first.windows) > 1000
    again = vavekanand.mitbih_windows(["100"], root=root)  # a hit: same arrays
    np.testing.assert_array_equal(first.windows.signals_mv, again.windows.signals_mv)

    dat = root / "mitdb" / "100.dat"
    dat.write_bytes(dat.read_bytes()[: dat.stat().st_size // 2])  # cut in half, as in the issue
    with pytest.raises(DataFormatError, match="100"):
        vavekanand.mitbih_windows(["100"], root=root)  # the cache must not hide the broken file


@pytest.mark.real_data
def test_window_cache_key_covers_the_data_root_and_provenance_records_the_bytes_used(
    tmp_path, monkeypatch, tiny_params_root
):
    from ecglib import cache, params, runner
    from ecglib.studies import vavekanand

    monkeypatch.setenv("ECGLIB_CACHE", str(tmp_path / "cache"))
    root_a = _copy_mitbih(tmp_path / "a", ("100",))
    root_b = _copy_mitbih(tmp_path / "b", ("100",))
    vavekanand.mitbih_windows(["100"], root=root_a)
    vavekanand.mitbih_windows(["100"], root=root_b)
    assert len(list((tmp_path / "cache").glob("mitbih-*.npz"))) == 2  # one entry per data root

    original = cache.sha256_of(root_a / "mitdb" / "100.dat")
    windows = vavekanand.mitbih_windows(["100"], root=root_a)  # served from the cache
    run = runner.start_run(params.load("tiny", "smoke"), output_dir=tmp_path / "out")
    entry = run.record_data("mitbih", files=windows.files)
    assert entry["sha256"]["100.dat"] == original


# ------------------------------------------------------------------ 2. a damaged cache entry is a miss


def test_damaged_generated_ecg_cache_warns_naming_the_file_and_regenerates(tmp_path):
    from ecglib.data import deepfake_gan

    cache_dir = tmp_path / "cache"
    first = deepfake_gan.cached_signals(2, seed=3, cache=cache_dir)
    (entry,) = (cache_dir / "deepfake_gan").glob("signals_*.npz")
    entry.write_bytes(b"PK\x03\x04 this is not a zip any more")
    with pytest.warns(RuntimeWarning, match=f"generated-ECG cache .*{entry.name} is unreadable"):
        again = deepfake_gan.cached_signals(2, seed=3, cache=cache_dir)
    np.testing.assert_array_equal(first, again)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(deepfake_gan.cached_signals(2, seed=3, cache=cache_dir), first)


def test_damaged_window_cache_entry_warns_and_recomputes(tmp_path):
    from ecglib.data import cache as window_cache

    source = tmp_path / "input.txt"
    source.write_text("1 2 3")
    calls = []

    def compute():
        calls.append(1)
        return {"values": np.loadtxt(source)}

    key = {"dataset": "toy"}
    window_cache.cached(key, compute, cache_dir=tmp_path, files=[source])
    (entry,) = tmp_path.glob("toy-*.npz")
    entry.write_bytes(entry.read_bytes()[:30])
    with pytest.warns(RuntimeWarning, match=f"{entry.name} is unreadable"):
        out = window_cache.cached(key, compute, cache_dir=tmp_path, files=[source])
    assert len(calls) == 2 and out["values"].tolist() == [1, 2, 3]
    source.write_text("1 2 3 4")  # the input changed: a new entry, not the old arrays
    assert window_cache.cached(key, compute, cache_dir=tmp_path, files=[source])["values"].tolist() == [
        1,
        2,
        3,
        4,
    ]
