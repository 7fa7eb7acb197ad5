"""Disk cache of preprocessed arrays."""

from __future__ import annotations

import os

import numpy as np
import pytest

from ecglib.data import cache

KEY = {
    "dataset": "mitbih",
    "version": "1.0.0",
    "band_hz": (0.4, 30.0),
    "window_samples": 360,
    "code_version": "w1",
}


class Counter:
    """A compute function that counts its calls."""

    def __init__(self, seed: int = 0):
        self.calls = 0
        self.seed = seed

    def __call__(self):
        self.calls += 1
        rng = np.random.default_rng(self.seed)
        return {
            "signals": rng.normal(size=(20, 360)).astype(np.float32),
            "labels": np.arange(20, dtype=np.int64) % 2,
            "patient_ids": np.array(["100"] * 10 + ["201"] * 10),
        }


def test_second_call_reads_the_cache(tmp_path):
    compute = Counter()
    first = cache.cached(KEY, compute, cache_dir=tmp_path)
    second = cache.cached(KEY, compute, cache_dir=tmp_path)
    assert compute.calls == 1
    assert set(second) == {"signals", "labels", "patient_ids"}
    for name in first:
        assert second[name].dtype == first[name].dtype
        np.testing.assert_array_equal(second[name], first[name])
    files = list(tmp_path.iterdir())
    assert [path.name for path in files] == [cache.cache_path(KEY, cache_dir=tmp_path).name]
    assert files[0].name.startswith("mitbih-") and files[0].suffix == ".npz"
    # a plain npz without pickle
    with np.load(files[0], allow_pickle=False) as stored:
        assert "signals" in stored.files


@pytest.mark.parametrize(
    "change",
    [
        {"window_samples": 128},
        {"band_hz": (0.5, 30.0)},
        {"version": "1.0.1"},
        {"code_version": "w2"},
        {"extra": None},
    ],
)
def test_any_parameter_change_invalidates(tmp_path, change):
    compute = Counter()
    cache.cached(KEY, compute, cache_dir=tmp_path)
    cache.cached({**KEY, **change}, compute, cache_dir=tmp_path)
    assert compute.calls == 2
    assert cache.cache_key(KEY) != cache.cache_key({**KEY, **change})


def test_key_is_order_independent_and_includes_library_version(monkeypatch):
    reordered = dict(reversed(list(KEY.items())))
    assert cache.cache_key(KEY) == cache.cache_key(reordered)
    assert cache.cache_key({**KEY, "band_hz": [0.4, 30.0]}) == cache.cache_key(KEY)  # tuple == list
    before = cache.cache_key(KEY)
    monkeypatch.setattr("ecglib.__version__", "9.9.9")
    assert cache.cache_key(KEY) != before
    with pytest.raises(TypeError, match="canonical"):
        cache.cache_key({"dataset": "x", "bad": object()})


def test_corrupt_file_is_recomputed_with_a_warning(tmp_path):
    compute = Counter()
    cache.cached(KEY, compute, cache_dir=tmp_path)
    path = cache.cache_path(KEY, cache_dir=tmp_path)
    path.write_bytes(path.read_bytes()[:100])  # truncated
    with pytest.warns(RuntimeWarning, match="unreadable"):
        arrays = cache.cached(KEY, compute, cache_dir=tmp_path)
    assert compute.calls == 2 and arrays["signals"].shape == (20, 360)
    # the entry was rewritten and reads cleanly now
    cache.cached(KEY, compute, cache_dir=tmp_path)
    assert compute.calls == 2


def test_entry_with_another_key_is_not_trusted(tmp_path):
    compute = Counter()
    cache.cached(KEY, compute, cache_dir=tmp_path)
    other = {**KEY, "window_samples": 720}
    os.replace(cache.cache_path(KEY, cache_dir=tmp_path), cache.cache_path(other, cache_dir=tmp_path))
    with pytest.warns(RuntimeWarning, match="stored key differs"):
        cache.cached(other, compute, cache_dir=tmp_path)
    assert compute.calls == 2


def test_object_arrays_and_bad_returns_are_refused(tmp_path):
    with pytest.raises(TypeError, match="dtype object"):
        cache.cached(
            KEY, lambda: {"ragged": np.array([np.zeros(2), np.zeros(3)], dtype=object)}, cache_dir=tmp_path
        )
    with pytest.raises(TypeError, match="dict"):
        cache.cached(KEY, lambda: np.zeros(3), cache_dir=tmp_path)
    assert not list(tmp_path.glob("*.npz"))


def test_no_temporary_files_left_and_use_cache_false(tmp_path):
    compute = Counter()
    cache.cached(KEY, compute, cache_dir=tmp_path, use_cache=False)
    assert compute.calls == 1 and not list(tmp_path.iterdir())
    cache.cached(KEY, compute, cache_dir=tmp_path)
    assert [path.suffix for path in tmp_path.iterdir()] == [".npz"]


def test_default_cache_dir_comes_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ECGLIB_CACHE", str(tmp_path / "env_cache"))
    cache.cached(KEY, Counter())
    assert len(list((tmp_path / "env_cache").glob("mitbih-*.npz"))) == 1


def test_folder_identity_sees_every_file_change(tmp_path):
    from ecglib.cache import folder_identity

    folder = tmp_path / "set"
    (folder / "records").mkdir(parents=True)
    record = folder / "records" / "001.dat"
    record.write_bytes(b"abc")
    (folder / "labels.csv").write_text("id,label\n1,N\n")
    base = folder_identity(folder)
    assert folder_identity(folder) == base

    os.utime(record, ns=(record.stat().st_atime_ns, record.stat().st_mtime_ns + 10**9))
    touched = folder_identity(folder)
    assert touched != base
    stat = record.stat()
    record.write_bytes(b"abcd")
    os.utime(record, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same time, another size
    resized = folder_identity(folder)
    assert resized not in (base, touched)
    (folder / "records" / "002.dat").write_bytes(b"")
    added = folder_identity(folder)
    assert added not in (base, touched, resized)
    (folder / "records" / "002.dat").unlink()
    assert folder_identity(folder) == resized
    with pytest.raises(FileNotFoundError, match="missing"):
        folder_identity(tmp_path / "missing")
