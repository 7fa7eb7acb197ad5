"""DeepFake's grid as units: ``ecglib plan deepfake``, ``ecglib unit run deepfake`` and its Snakemake DAG (issue 16).

The paper's protocol is seven experiments (``df.EXPERIMENTS``): three pre-trainings on the GAN
(DeepFake) ECGs, and four fine-tuning experiments on the real ECGs run on every fold of the
fine-tuning protocol (``cv``: ``finetune_n_folds`` folds; ``split``: one); a final model when the
profile saves one. The paper profile plans over shape-only stand-ins here (the DeepFake dataset and
PTB-XL are absent); the smoke profile generates its data, so its unit runs are real.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
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
from ecglib.seeds import derive_seed
from ecglib.studies import deepfake as df

#: a small smoke grid: one epoch, two folds, the final ResNet (3 + 4 x 2 + 1 = 12 units)
TINY_OVERRIDES = {"epochs": 1, "finetune_n_folds": 2, "save_final_model": True}
TINY = [arg for key, value in TINY_OVERRIDES.items() for arg in ("--set", f"{key}={json.dumps(value)}")]


def protocol_units(cfg) -> int:
    """Units the paper's protocol implies under ``cfg``: one per pre-training experiment, one per
    fine-tuning experiment and fold, and the final model when the profile saves one."""
    n_pretrain = sum(e.dataset == "pretrain" for e in df.EXPERIMENTS)
    n_finetune = sum(e.dataset == "finetune" for e in df.EXPERIMENTS)
    n_folds = cfg.finetune_n_folds if cfg.finetune_protocol == "cv" else 1
    return n_pretrain + n_finetune * n_folds + int(cfg.save_final_model)


@pytest.fixture
def no_data(tmp_path, monkeypatch):
    monkeypatch.setenv("ECGLIB_DATA", str(tmp_path / "no-data"))


def test_paper_plan_is_the_protocol_over_stand_ins(cache, capsys, no_data):
    """(a, c) 3 pre-trainings + 4 fine-tuning experiments x 1 split (the paper's 80/10/10), no final model."""
    cfg = params.load("deepfake", "paper")
    assert (cfg.finetune_protocol, cfg.save_final_model) == ("split", False)
    code, out, _ = cli(capsys, "plan", "deepfake", "--profile", "paper")
    plan = json.loads(out)
    assert code == 0 and plan["keys"] == "stand-in" and "'deepfake' not found" in plan["stand_in_reason"]
    assert Path(plan["cache_dir"]) == cache / "units" / "deepfake"
    assert plan["resources"] == {"cpus_per_task": 4, "mem_mb": 32000, "runtime": 480, "gpu": 1}
    assert plan["n_units"] == len(plan["units"]) == protocol_units(cfg) == 3 + 4 * 1
    assert [unit["name"] for unit in plan["units"]] == [
        "exp1/fc/pretrain",
        "exp2/resnet/pretrain",
        "exp3/resnet/scratch/fold0",
        "exp4/resnet/transfer/fold0",
        "exp5/vit/pretrain",
        "exp6/vit/scratch/fold0",
        "exp7/vit/transfer/fold0",
    ]
    needs = {unit["name"]: unit["needs"] for unit in plan["units"]}
    assert needs["exp4/resnet/transfer/fold0"] == ["exp2/resnet/pretrain"]
    assert needs["exp7/vit/transfer/fold0"] == ["exp5/vit/pretrain"]
    assert sum(bool(n) for n in needs.values()) == 2
    assert len({unit["key"] for unit in plan["units"]}) == plan["n_units"]

    # the stand-in keys name the profile, not data; the split sizes are the profile's (15,000 ECGs)
    grid = {unit.name: unit for unit in workflow.plan("deepfake", "paper").units}
    pre = grid["exp2/resnet/pretrain"].key_parts
    assert pre["data"] == "stand-in:deepfake/paper/deepfake"
    assert len(pre["train"]) + len(pre["val"]) + len(pre["test"]) == cfg.pretrain_n_ecgs
    assert grid["exp4/resnet/transfer/fold0"].key_parts["init"] == grid["exp2/resnet/pretrain"].key
    assert grid["exp3/resnet/scratch/fold0"].key_parts["init"] == "random"

    # the paper's cross-validated variant: finetune_n_folds folds per fine-tuning experiment
    cv = {"finetune_protocol": "cv", "save_final_model": True}
    folds = workflow.plan("deepfake", "paper", cv)
    assert len(folds.units) == protocol_units(params.load("deepfake", "paper", cv)) == 3 + 4 * 5 + 1
    final = folds.units[-1]
    assert final.name == "final/resnet"
    assert final.needs == ("exp2/resnet/pretrain", *(f"exp4/resnet/transfer/fold{k}" for k in range(5)))


def test_keys_name_what_determines_a_unit(cache, no_data):
    """Seed, training settings, model sizes and the code version change the keys; the device does not."""
    base = workflow.plan("deepfake", "paper")
    keys = [unit.key for unit in base.units]
    assert all(unit.key_parts["code"] == df.CODE_VERSION for unit in base.units)
    # each unit's training seed (splits move with the master seed too, so name it directly)
    assert [unit.key_parts["seed"] for unit in base.units] == [
        derive_seed(base.cfg.seed, "experiment", number, 0) for number in range(1, 8)
    ]
    for change in ({"seed": 1}, {"epochs": 99}, {"lr": 0.001}, {"resnet_n_blocks": 4}):
        changed = workflow.plan("deepfake", "paper", change).units
        moved = [a != b.key for a, b in zip(keys, changed)]
        if "resnet_n_blocks" in change:  # the ResNet's units only (and the transfer names its init)
            assert moved == [unit.key_parts["model"] == "resnet" for unit in base.units]
        else:
            assert all(moved), change
    # finetune_lr trains the transfer units only, but is a setting of every unit
    assert workflow.plan("deepfake", "paper", {"finetune_lr": 0.001}).units[0].key != keys[0]
    assert [unit.key for unit in workflow.plan("deepfake", "paper", device="cuda").units] == keys
    # a transfer unit follows its pre-training's key
    tuned = {
        unit.name: unit.key for unit in workflow.plan("deepfake", "paper", {"fc_hidden_features": [8]}).units
    }
    assert tuned["exp4/resnet/transfer/fold0"] == keys[3] and tuned["exp1/fc/pretrain"] != keys[0]


def test_unit_run_refuses_a_stand_in_key(cache, capsys, no_data):
    """(c) a key planned without the data names no data: `unit run` says so in one line, trains nothing."""
    code, out, _ = cli(capsys, "plan", "deepfake", "--profile", "local")
    plan = json.loads(out)
    assert code == 0 and plan["keys"] == "stand-in" and "ludb" in plan["stand_in_reason"]
    cfg = params.load("deepfake", "local")
    assert plan["n_units"] == protocol_units(cfg) == 3 + 4 * 5 + 1
    key = plan["units"][3]["key"]
    code, _, err = cli(capsys, "unit", "run", "deepfake", key, "--profile", "local")
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert f"{key} is a stand-in key of deepfake/local" in err and "cannot be run" in err
    assert not any(cache.rglob("unit-*.pt"))


@pytest.mark.slow
def test_unit_run_needs_its_pretraining_then_matches_the_notebook_units(cache, capsys, tmp_path):
    """(b) on the smoke data (GAN ECGs generated here): a transfer unit refuses without its
    pre-training, computes after it, is a no-op the second time, and stores what run_units stores."""
    pytest.importorskip("deepfakeecg", reason="deepfake-ecg is not installed")
    code, out, _ = cli(capsys, "plan", "deepfake", "--profile", "smoke", *TINY)
    plan = json.loads(out)
    assert code == 0 and plan["keys"] == "real"
    assert plan["n_units"] == protocol_units(params.load("deepfake", "smoke", TINY_OVERRIDES)) == 12
    by_name = {unit["name"]: unit for unit in plan["units"]}
    pre, tuned = by_name["exp2/resnet/pretrain"], by_name["exp4/resnet/transfer/fold1"]
    assert tuned["needs"] == [pre["name"]]

    unit_run_needs_first_then_runs_once(capsys, "deepfake", pre, tuned, TINY)

    # the notebook's way (units.run_units over the same plan, another cache folder): the same payloads
    elsewhere = tmp_path / "notebook-cache"
    grid = workflow.plan("deepfake", "smoke", TINY_OVERRIDES).units
    done: list[tuple[str, bool]] = []
    payloads = units.run_units(grid, cache_dir=elsewhere, use_cache=True, on_done=lambda *a: done.append(a))
    assert not any(cached for _, cached in done) and len(done) == 12
    for unit in (pre, tuned):
        same_payload(units.load_unit(unit["key"], plan["cache_dir"]), payloads[unit["name"]])
    assert (
        payloads[pre["name"]]["state"] and payloads[tuned["name"]]["state"] is None
    )  # weights: pre-training only
    assert payloads[tuned["name"]]["predicted"].shape[1] == len(df.TARGETS)
    # the transfer unit is experiment 4's fold 1 as train_model trains it: from the pre-training's
    # weights, at finetune_lr, with the experiment's seed
    cfg = params.load("deepfake", "smoke", TINY_OVERRIDES)
    inputs = df.unit_inputs_from_params(cfg)
    kwargs = df.kwargs_from_params(cfg, n_samples=inputs.pretrain_signals.shape[1])["resnet"]
    split = inputs.folds[1]
    trained = df.train_model(
        "resnet",
        kwargs,
        inputs.finetune_signals,
        inputs.finetune.targets,
        split,
        settings=df.settings_from_params(cfg),
        seed=derive_seed(cfg.seed, "experiment", 4, 1),
        device="cpu",
        init_state=payloads[pre["name"]]["state"],
        lr=cfg.finetune_lr,
    )
    direct = df.predict_targets("resnet", kwargs, trained, inputs.finetune_signals[split.test], device="cpu")
    np.testing.assert_array_equal(payloads[tuned["name"]]["predicted"].numpy(), direct)
    assert payloads[tuned["name"]]["best_epochs"] == trained.best_epochs
    # a resumed run trains nothing
    done.clear()
    units.run_units(grid, cache_dir=elsewhere, use_cache=True, on_done=lambda *a: done.append(a))
    assert len(done) == 12 and all(cached for _, cached in done)


@needs_snakemake
@pytest.mark.slow
def test_paper_dag_has_one_job_per_protocol_unit(tmp_path):
    """(a) the dry run of the paper DAG over stand-ins: 7 unit jobs + the study + all."""
    env = snakemake_env(tmp_path / "cache", ECGLIB_DATA=str(tmp_path / "no-data"))
    config = ["--config", "study=deepfake", "profile=paper", f"output_root={tmp_path / 'outputs'}"]
    done = snakemake(tmp_path, "-n", *config, env=env)
    plan = json.loads(
        subprocess.run(
            [sys.executable, "-m", "ecglib", "plan", "deepfake", "--profile", "paper"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    expected = protocol_units(params.load("deepfake", "paper"))
    assert plan["n_units"] == expected == 7
    assert job_counts(done.stdout + done.stderr) == {
        "unit": expected,
        "study": 1,
        "all": 1,
        "total": expected + 2,
    }
    assert "shape-only stand-ins" in done.stderr


@pytest.mark.real_data
@pytest.mark.slow
def test_local_plan_keys_are_over_the_real_ludb(cache, capsys):
    """With LUDB here the local plan is real: 3 + 4 x 5 folds + the final ResNet (32 GAN ECGs, to be quick)."""
    from conftest import require_dataset

    pytest.importorskip("deepfakeecg", reason="deepfake-ecg is not installed")
    require_dataset("ludb")
    code, out, _ = cli(capsys, "plan", "deepfake", "--profile", "local", "--set", "pretrain_n_ecgs=32")
    plan = json.loads(out)
    assert code == 0 and (plan["keys"], plan["stand_in_reason"]) == ("real", "")
    assert plan["n_units"] == protocol_units(params.load("deepfake", "local")) == 24
    assert plan["units"][-1]["name"] == "final/resnet"
