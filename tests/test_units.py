"""Cached units (ecglib.units): keys see every part, a resumed grid computes only missing units,
unreadable entries are misses, files load with weights_only=True."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from ecglib import units


def _parts(**changes):
    parts = {
        "code": "test-1",
        "data": np.arange(12, dtype=np.float32).reshape(3, 4),
        "train": np.array([0, 1]),
        "lr": 0.01,
        "init": {"w": torch.zeros(2, 2), "b": torch.ones(2)},
    }
    parts.update(changes)
    return parts


def test_key_changes_with_every_part():
    base = units.unit_key(**_parts())
    assert base == units.unit_key(**_parts())  # deterministic
    changed = [
        _parts(lr=0.001),
        _parts(train=np.array([0, 2])),
        _parts(train=np.array([0, 1], dtype=np.int32)),  # dtype counts
        _parts(init={"w": torch.zeros(2, 2), "b": torch.tensor([1.0, 1.0001])}),
        _parts(data=np.arange(12, dtype=np.float32).reshape(4, 3)),  # shape counts
        _parts(code="test-2"),
    ]
    keys = {units.unit_key(**parts) for parts in changed}
    assert base not in keys and len(keys) == len(changed)
    assert units.unit_key(a="1") != units.unit_key(a=1)
    assert units.unit_key(a=[1, 2]) != units.unit_key(a=[[1, 2]])


def test_key_refuses_what_it_cannot_digest():
    with pytest.raises(TypeError, match="'odd'"):
        units.unit_key(odd=object())
    with pytest.raises(ValueError, match="'lr'"):
        units.unit_key(lr=float("nan"))


def _grid(calls):
    def pretrain(needed):
        calls.append("pre")
        return {"state": {"w": torch.ones(3)}}

    def finetune(lr):
        def compute(needed):
            calls.append(f"ft{lr}")
            return {
                "score": float(needed["pre"]["state"]["w"].sum()) * lr,
                "history": units.frame_payload(pd.DataFrame({"epoch": [1, 2], "loss": [0.5, 0.25]})),
            }

        return compute

    grid = [units.Unit("pre", _parts(), pretrain)]
    grid += [units.Unit(f"ft{lr}", _parts(lr=lr), finetune(lr), needs=("pre",)) for lr in (0.1, 0.2, 0.3)]
    return grid


def test_resumed_grid_computes_only_missing_units(tmp_path):
    calls: list[str] = []
    grid = _grid(calls)
    assert units.missing(grid, tmp_path) == ["pre", "ft0.1", "ft0.2", "ft0.3"]
    first = units.run_units(grid[:2], cache_dir=tmp_path, use_cache=True)  # "interrupted" after two units
    assert calls == ["pre", "ft0.1"]
    assert units.missing(grid, tmp_path) == ["ft0.2", "ft0.3"]
    calls.clear()
    seen = []
    second = units.run_units(
        grid, cache_dir=tmp_path, use_cache=True, on_done=lambda n, c: seen.append((n, c))
    )
    assert calls == ["ft0.2", "ft0.3"]
    assert seen == [("pre", True), ("ft0.1", True), ("ft0.2", False), ("ft0.3", False)]
    assert second["ft0.1"]["score"] == pytest.approx(first["ft0.1"]["score"])
    history = units.frame_from_payload(second["ft0.3"]["history"])
    assert history["epoch"].tolist() == [1, 2] and history["loss"].tolist() == [0.5, 0.25]
    calls.clear()
    units.run_units(grid, cache_dir=tmp_path, use_cache=False)
    assert calls == ["pre", "ft0.1", "ft0.2", "ft0.3"]


def test_unreadable_unit_is_a_miss_with_a_warning(tmp_path):
    calls = []
    parts = _parts()
    units.run_unit(parts, lambda: calls.append(1) or {"x": 1}, cache_dir=tmp_path, use_cache=True)
    path = units.unit_path(units.unit_key(**parts), tmp_path)
    path.write_bytes(b"not a torch file")
    with pytest.warns(RuntimeWarning, match=path.name):
        payload = units.run_unit(
            parts, lambda: calls.append(2) or {"x": 2}, cache_dir=tmp_path, use_cache=True
        )
    assert payload == {"x": 2} and calls == [1, 2]
    # a file holding pickled code is refused by weights_only=True, hence a miss too
    torch.save({"key": units.unit_key(**parts), "payload": {"x": pd.Timestamp("2020")}}, path)
    with pytest.warns(RuntimeWarning):
        assert units.load_unit(units.unit_key(**parts), tmp_path) is None


def test_needs_must_come_first(tmp_path):
    grid = _grid([])
    with pytest.raises(ValueError, match="needs"):
        units.run_units(grid[1:], cache_dir=tmp_path, use_cache=True)


def test_given_payloads_are_neither_computed_nor_read(tmp_path):
    calls: list[str] = []
    grid = _grid(calls)
    pre = {"state": {"w": torch.ones(3)}}
    payloads = units.run_units(grid, cache_dir=None, use_cache=False, given={"pre": pre})
    assert calls == ["ft0.1", "ft0.2", "ft0.3"] and payloads["pre"] is pre
    assert units.missing(grid, tmp_path) == ["pre", "ft0.1", "ft0.2", "ft0.3"]
    units.run_units(grid, cache_dir=tmp_path, use_cache=True, given={"pre": pre})
    assert units.missing(grid, tmp_path) == ["pre"]  # a given unit is not stored either


def test_study_cache_dir_and_run_units_count_what_they_train(tmp_path, monkeypatch, capsys):
    import json

    from ecglib import params, runner

    monkeypatch.setenv("ECGLIB_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "cache" / "units" / "nguyen2025"
    assert units.study_cache_dir("nguyen2025", True) == folder
    assert units.study_cache_dir("nguyen2025", False) is None

    run = runner.Run(params.load("nguyen2025", "smoke"), tmp_path / "out", "cpu", tmp_path)
    (tmp_path / "out").mkdir()
    calls: list[str] = []
    grid = _grid(calls)
    first = run.run_units(grid[:2])
    assert "2 units, 2 to train" in capsys.readouterr().out
    run.run_units(grid, given={"pre": first["pre"]})
    assert "3 units, 2 to train (1 read from" in capsys.readouterr().out
    assert calls == ["pre", "ft0.1", "ft0.2", "ft0.3"] and units.missing(grid, folder) == []
    recorded = json.loads((tmp_path / "out" / "run.json").read_text())["units"]
    assert recorded == {"cache_dir": str(folder), "n_units": 5, "n_trained": 4}

    off = runner.Run(
        params.load("nguyen2025", "smoke", {"use_cache": False}), tmp_path / "off", "cpu", tmp_path
    )
    (tmp_path / "off").mkdir()
    calls.clear()
    off.run_units(grid)
    assert calls == ["pre", "ft0.1", "ft0.2", "ft0.3"]
    assert off.provenance["units"] == {"cache_dir": None, "n_units": 4, "n_trained": 4}
