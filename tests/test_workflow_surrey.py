"""Surrey's grid on units (issue 16): ``ecglib plan surrey``, ``ecglib unit run surrey`` and the Snakefile's DAG.

The grid: one self-supervised pre-training per trunk (``ssl/<trunk>``), then per task x split one
unit per classifier fit (``fit/<task>/<split>/<arm>/<trunk>``: scratch, ssl and, with an equal
budget, ssl_longer) and one per ensemble (``fit/<task>/<split>/ensemble``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from workflow_helpers import (
    cli,
    job_counts,
    needs_snakemake,
    same_payload,
    snakemake,
    snakemake_env,
    unit_run_needs_first_then_runs_once,
)

from ecglib import params, units, workflow
from ecglib.studies import surrey as sr

STUDY = "surrey"
#: a tiny smoke grid: one trunk, a 12-beat self-supervised set, one epoch each (9 units: the pre-training and 2 x 4 fits)
TINY_OVERRIDES = {
    "trunks": ["mlp"],
    "ssl_max_beats": 12,
    "ssl_epochs": 1,
    "epochs": 1,
    "ensemble_epochs": 1,
}
TINY = [arg for name, value in TINY_OVERRIDES.items() for arg in ("--set", f"{name}={json.dumps(value)}")]


def protocol_units(cfg) -> int:
    """The units the report's protocol implies under a profile: a pre-training per trunk; per task x
    split (every MIT-BIH split and the MI split) each trunk from scratch and transferred, with an
    equal budget each transferred model trained on alone, and the ensemble."""
    n_trunks = len(cfg.trunks)
    n_experiments = len(cfg.mitbih_splits) + 1
    arms = 3 if cfg.ensemble_comparison == "equal_budget" else 2
    return n_trunks + n_experiments * (arms * n_trunks + 1)


# --------------------------------------------------------------------------- (a) the paper plan


def test_paper_plan_has_one_unit_per_fit_of_the_protocol(cache, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("ECGLIB_DATA", str(tmp_path / "no-data"))
    cfg = params.load(STUDY, "paper")
    code, out, _ = cli(capsys, "plan", STUDY, "--profile", "paper")
    plan = json.loads(out)
    assert code == 0 and plan["keys"] == "stand-in"
    # 3 pre-trainings; official_csv and the MI split, each 3 scratch + 3 transferred + the ensemble
    # (the report compares its ensemble with the 20-epoch models: no ssl_longer)
    assert plan["n_units"] == len(plan["units"]) == protocol_units(cfg) == 3 + 2 * (3 + 3 + 1) == 17
    assert len({unit["key"] for unit in plan["units"]}) == 17
    assert Path(plan["cache_dir"]) == cache / "units" / "surrey"
    assert plan["resources"] == {"cpus_per_task": 4, "mem_mb": 16000, "runtime": 240, "gpu": 1}
    needs = {unit["name"]: unit["needs"] for unit in plan["units"]}
    for trunk in cfg.trunks:
        assert needs[f"ssl/{trunk}"] == []
        for task, split in (("mitbih", "official_csv"), ("mi", "beat_random")):
            assert needs[f"fit/{task}/{split}/scratch/{trunk}"] == []
            assert needs[f"fit/{task}/{split}/ssl/{trunk}"] == [f"ssl/{trunk}"]
    for task, split in (("mitbih", "official_csv"), ("mi", "beat_random")):
        assert needs[f"fit/{task}/{split}/ensemble"] == [f"fit/{task}/{split}/ssl/{t}" for t in cfg.trunks]
    names = [unit["name"] for unit in plan["units"]]
    for position, unit in enumerate(plan["units"]):
        assert set(unit["needs"]) <= set(names[:position])  # needs come first


def test_local_plan_counts_both_mitbih_splits_with_equal_budget(cache, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("ECGLIB_DATA", str(tmp_path / "no-data"))
    cfg = params.load(STUDY, "local")
    code, out, _ = cli(capsys, "plan", STUDY, "--profile", "local")
    plan = json.loads(out)
    assert code == 0 and plan["keys"] == "stand-in" and "mitbih" in plan["stand_in_reason"]
    # 3 pre-trainings; inter_patient, beat_random and the MI records, each 3 x (scratch, ssl, ssl_longer) + ensemble
    assert plan["n_units"] == protocol_units(cfg) == 3 + 3 * (3 * 3 + 1) == 33
    longer = next(
        unit for unit in plan["units"] if unit["name"] == "fit/mitbih/inter_patient/ssl_longer/lstm"
    )
    assert longer["needs"] == ["fit/mitbih/inter_patient/ssl/lstm"]


@pytest.mark.real_data
@pytest.mark.slow
def test_local_plan_keys_are_over_the_real_mitbih_and_ludb(cache, capsys):
    from conftest import require_dataset

    require_dataset("mitbih")
    require_dataset("ludb")
    code, out, _ = cli(capsys, "plan", STUDY, "--profile", "local")
    plan = json.loads(out)
    assert code == 0 and (plan["keys"], plan["stand_in_reason"]) == ("real", "")
    assert plan["n_units"] == protocol_units(params.load(STUDY, "local")) == 33
    # the stand-ins plan the same units (names and needs), under other keys
    stand_ins = workflow.plan(STUDY, "local", data_root="/nonexistent").as_json()
    assert stand_ins["keys"] == "stand-in"
    assert [(u["name"], u["needs"]) for u in stand_ins["units"]] == [
        (u["name"], u["needs"]) for u in plan["units"]
    ]
    assert not {u["key"] for u in stand_ins["units"]} & {u["key"] for u in plan["units"]}


@needs_snakemake
@pytest.mark.slow
def test_paper_dag_has_one_job_per_unit_of_the_protocol(tmp_path):
    """The dry run of Surrey's paper DAG over stand-ins (the Kaggle CSVs are absent here)."""
    env = snakemake_env(tmp_path / "cache", ECGLIB_DATA=str(tmp_path / "no-data"))
    config = ["--config", f"study={STUDY}", "profile=paper", f"output_root={tmp_path / 'outputs'}"]
    done = snakemake(tmp_path, "-n", *config, env=env)
    expected = protocol_units(params.load(STUDY, "paper"))
    assert job_counts(done.stdout + done.stderr) == {
        "unit": expected,
        "study": 1,
        "all": 1,
        "total": expected + 2,
    }
    assert expected == 17 and "shape-only stand-ins" in done.stderr


# --------------------------------------------------------------------------- (b) one unit, as a job and as the notebook


def _notebook_grid(overrides=None):
    """The grid the notebook builds (its cells: beats, splits, grid_inputs, plan_from_params)."""
    cfg = params.load(STUDY, "smoke", overrides)
    beats = {task: sr.beats_from_params(cfg, task) for task in sr.TASKS}
    return cfg, sr.plan_from_params(cfg, sr.grid_inputs(beats, sr.splits_from_params(cfg, beats)))


def _run_as_the_notebook(cfg, grid, cache_dir, on_done=None):
    """The notebook's two stages: the pre-trainings, then every fit with them at hand."""
    ssl_grid = [unit for unit in grid if unit.name in {sr.ssl_unit(trunk) for trunk in cfg.trunks}]
    payloads = units.run_units(ssl_grid, cache_dir=cache_dir, use_cache=True, on_done=on_done)
    return units.run_units(grid, cache_dir=cache_dir, use_cache=True, on_done=on_done, given=payloads)


@pytest.mark.slow
def test_unit_run_needs_its_pretraining_then_matches_the_notebooks_units(cache, capsys, tmp_path):
    code, out, _ = cli(capsys, "plan", STUDY, "--profile", "smoke", *TINY)
    plan = json.loads(out)
    assert code == 0 and plan["keys"] == "real"
    assert plan["n_units"] == protocol_units(params.load(STUDY, "smoke", TINY_OVERRIDES)) == 1 + 2 * (3 + 1)
    cfg, grid = _notebook_grid(TINY_OVERRIDES)
    assert [unit["key"] for unit in plan["units"]] == [unit.key for unit in grid]  # the notebook's grid
    by_name = {unit["name"]: unit for unit in plan["units"]}
    pre, tuned = by_name["ssl/mlp"], by_name["fit/mitbih/beat_random/ssl/mlp"]

    unit_run_needs_first_then_runs_once(capsys, STUDY, pre, tuned, TINY)

    # the notebook's way, in another cache: the same payloads; a resumed run trains nothing twice
    elsewhere = tmp_path / "notebook-cache"
    trained: list[str] = []
    payloads = _run_as_the_notebook(
        cfg, grid, elsewhere, on_done=lambda n, cached: trained.append(n) if not cached else None
    )
    assert sorted(trained) == sorted(unit.name for unit in grid)
    for unit in (pre, tuned):
        same_payload(units.load_unit(unit["key"], plan["cache_dir"]), payloads[unit["name"]])
        same_payload(units.load_unit(unit["key"], plan["cache_dir"]), units.load_unit(unit["key"], elsewhere))
    again: list[str] = []
    _run_as_the_notebook(
        cfg, grid, elsewhere, on_done=lambda n, cached: again.append(n) if not cached else None
    )
    assert again == []


@pytest.mark.slow
@pytest.mark.notebook
def test_unit_run_stores_what_the_smoke_notebook_stored(smoke_run, capsys, tmp_path, monkeypatch):
    """The smoke notebook's own unit files against `ecglib unit run` of the same keys in a fresh cache."""
    smoke_run(STUDY)  # with the session's cache (before the fresh one below)
    notebook_units = Path(os.environ["ECGLIB_CACHE"]) / "units" / "surrey"
    fresh = tmp_path / "cache"
    monkeypatch.setenv("ECGLIB_CACHE", str(fresh))
    threads = torch.get_num_threads()
    try:
        code, out, _ = cli(capsys, "plan", STUDY, "--profile", "smoke")
        plan = json.loads(out)
        assert code == 0 and Path(plan["cache_dir"]) == fresh / "units" / "surrey"
        by_name = {unit["name"]: unit for unit in plan["units"]}
        for name in (
            "ssl/mlp",
            "fit/mi/record/ssl/mlp",
            "fit/mi/record/ssl_longer/mlp",
        ):  # each needs the one before
            key = by_name[name]["key"]
            code, out, err = cli(capsys, "unit", "run", STUDY, key, "--profile", "smoke")
            assert code == 0 and out.splitlines()[-1].startswith(f"[computed] {name} -> "), err
            notebook = units.load_unit(key, notebook_units)
            assert notebook is not None, f"the smoke notebook stored no {name}"
            same_payload(units.load_unit(key, plan["cache_dir"]), notebook, name)
    finally:
        torch.set_num_threads(threads)


# --------------------------------------------------------------------------- (c) without the data


def test_plan_without_the_data_lists_stand_in_keys_that_unit_run_refuses(
    cache, capsys, tmp_path, monkeypatch
):
    monkeypatch.setenv("ECGLIB_DATA", str(tmp_path / "no-data"))
    code, out, _ = cli(capsys, "plan", STUDY, "--profile", "paper")
    plan = json.loads(out)
    assert code == 0 and plan["keys"] == "stand-in"
    assert "kaggle-heartbeat" in plan["stand_in_reason"] and "ecglib data download" in plan["stand_in_reason"]
    stand_ins = workflow.plan(STUDY, "paper").units
    assert [unit.key for unit in stand_ins] == [unit["key"] for unit in plan["units"]]
    assert {unit.key_parts["data"] for unit in stand_ins} == {
        "stand-in:surrey/paper/mitbih",
        "stand-in:surrey/paper/mi",
    }
    # the real split code ran over the CSVs' shapes: official_csv tests on the 21,892 test-file beats,
    # the authors' rebalanced test set has 2,000 per class
    fit = next(unit for unit in stand_ins if unit.name == "fit/mitbih/official_csv/scratch/mlp")
    assert len(fit.key_parts["test"]) == 5 * 2000
    assert len(fit.key_parts["train"]) + len(fit.key_parts["val"]) == 87_554
    key = plan["units"][-1]["key"]
    code, _, err = cli(capsys, "unit", "run", STUDY, key, "--profile", "paper")
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert f"{key} is a stand-in key of surrey/paper" in err and "cannot be run" in err
    assert not any(cache.rglob("unit-*.pt"))
    # the smoke profile's beats are simulated: never missing, real keys
    code, out, _ = cli(capsys, "plan", STUDY, "--profile", "smoke")
    assert code == 0 and json.loads(out)["keys"] == "real"
