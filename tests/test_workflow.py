"""``ecglib plan`` / ``ecglib unit run`` and ``workflow/Snakefile`` (issue 16).

The CLI tests run a tiny Nguyen grid (one ResNet, one epoch, no size sweep: three units). The
Snakemake tests skip when snakemake is not installed (``make setup`` installs it from
requirements.txt): a dry run of the ``paper`` DAG over stand-ins, and a real local run of the
smoke DAG, killed mid-way and restarted, whose metrics.json equals ``ecglib run``'s.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from workflow_helpers import (
    ROOT,
    cli,
    job_counts,
    needs_snakemake,
    same_payload,
    snakemake,
    snakemake_env,
    unit_run_needs_first_then_runs_once,
)

from ecglib import STUDIES, units, workflow

TINY = [
    "--set",
    "models=[resnet1d18]",
    "--set",
    "epochs=1",
    "--set",
    "pretrain_epochs=1",
    "--set",
    "sweep_sizes=[]",
    "--set",
    "sim_n_examples=32",
]
TINY_OVERRIDES = {
    "models": ["resnet1d18"],
    "epochs": 1,
    "pretrain_epochs": 1,
    "sweep_sizes": [],
    "sim_n_examples": 32,
}
#: Nguyen's paper protocol: 3 upstream x 6 models pre-trainings; per seed and model, scratch on each
#: of 5 downstream sets plus a fine-tune from every other upstream set; the size sweep 10 sizes x
#: 3 ResNets x 2 arms; 3 seeds (as tests/test_nguyen2025.py)
PAPER_UNITS = 3 * 6 + (3 * (1 + 2) + 2 * (1 + 3)) * 6 * 3 + 10 * 3 * 2 * 3


def _tiny_plan(capsys) -> dict:
    code, out, _ = cli(capsys, "plan", "nguyen2025", "--profile", "smoke", *TINY)
    assert code == 0
    return json.loads(out)


def test_plan_lists_every_unit_with_key_needs_cache_file_and_resources(cache, capsys):
    plan = _tiny_plan(capsys)
    assert (plan["study"], plan["profile"], plan["keys"]) == ("nguyen2025", "smoke", "real")
    assert Path(plan["cache_dir"]) == cache / "units" / "nguyen2025"
    names = [unit["name"] for unit in plan["units"]]
    assert plan["n_units"] == len(names) == 3  # pre-training, scratch, fine-tune
    assert names[0] == "pretrain/resnet1d18/sim-ptbxl"
    expected = workflow.plan("nguyen2025", "smoke", TINY_OVERRIDES).units  # the notebook's grid
    assert [unit["key"] for unit in plan["units"]] == [unit.key for unit in expected]
    for position, unit in enumerate(plan["units"]):
        assert unit["output"] == str(units.unit_path(unit["key"], plan["cache_dir"]))
        assert set(unit["needs"]) <= set(names[:position])  # needs come first
        assert unit["resources"] == {"cpus_per_task": 1, "mem_mb": 2000, "runtime": 10, "gpu": 0}
    fine_tune = next(unit for unit in plan["units"] if "/fine_tune/" in unit["name"])
    assert fine_tune["needs"] == ["pretrain/resnet1d18/sim-ptbxl"]


def test_unit_run_needs_its_needs_then_computes_once(cache, capsys):
    plan = _tiny_plan(capsys)
    by_name = {unit["name"]: unit for unit in plan["units"]}
    pre = by_name["pretrain/resnet1d18/sim-ptbxl"]
    tuned = next(unit for unit in plan["units"] if "/fine_tune/" in unit["name"])

    code, _, err = cli(capsys, "unit", "run", "nguyen2025", tuned["key"], "--profile", "smoke", *TINY)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "needs 'pretrain/resnet1d18/sim-ptbxl'" in err and pre["key"] in err
    assert not Path(tuned["output"]).exists()

    code, out, _ = cli(capsys, "unit", "run", "nguyen2025", pre["key"], "--profile", "smoke", *TINY)
    assert code == 0 and out.startswith("[computed]")
    stored = Path(pre["output"])
    first = (stored.stat().st_mtime_ns, stored.read_bytes())
    code, out, _ = cli(capsys, "unit", "run", "nguyen2025", pre["key"], "--profile", "smoke", *TINY)
    assert code == 0 and out.startswith("[cached]")
    assert (stored.stat().st_mtime_ns, stored.read_bytes()) == first  # a no-op
    assert units.load_unit(pre["key"], plan["cache_dir"])["state"]  # the weights a fine-tune starts from

    code, out, _ = cli(capsys, "unit", "run", "nguyen2025", tuned["key"], "--profile", "smoke", *TINY)
    assert code == 0 and out.startswith("[computed]") and Path(tuned["output"]).is_file()
    # a key of other parameters is not a unit of this plan
    code, _, err = cli(capsys, "unit", "run", "nguyen2025", tuned["key"], "--profile", "smoke")
    assert code == 1 and "is not a unit of nguyen2025/smoke" in err


def test_plan_over_stand_ins_without_the_data_and_unit_run_refuses_them(cache, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("ECGLIB_DATA", str(tmp_path / "no-data"))
    code, out, _ = cli(capsys, "plan", "nguyen2025", "--profile", "paper")
    plan = json.loads(out)
    assert code == 0 and plan["keys"] == "stand-in" and "ptbxl" in plan["stand_in_reason"]
    assert plan["n_units"] == len(plan["units"]) == PAPER_UNITS == 504
    assert plan["resources"] == {"cpus_per_task": 4, "mem_mb": 32000, "runtime": 480, "gpu": 1}
    key = plan["units"][-1]["key"]
    code, _, err = cli(capsys, "unit", "run", "nguyen2025", key, "--profile", "paper")
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert f"{key} is a stand-in key of nguyen2025/paper" in err and "cannot be run" in err
    assert not any(cache.rglob("unit-*.pt"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")
def test_a_cuda_profile_plans_without_a_gpu_but_its_units_need_one(cache, capsys):
    code, out, _ = cli(capsys, "plan", "nguyen2025", *TINY, "--set", "device=cuda")
    assert code == 0 and json.loads(out)["n_units"] == 3  # a login node lists what GPU nodes run
    key = json.loads(out)["units"][0]["key"]
    code, _, err = cli(capsys, "unit", "run", "nguyen2025", key, *TINY, "--set", "device=cuda")
    assert code == 1 and "CUDA is not available" in err and len(err.strip().splitlines()) == 1


@pytest.mark.real_data
def test_local_plan_keys_are_over_the_real_ludb(cache, capsys):
    from conftest import require_dataset

    require_dataset("ludb")
    code, out, _ = cli(capsys, "plan", "nguyen2025", "--profile", "local")
    plan = json.loads(out)
    assert code == 0 and (plan["keys"], plan["stand_in_reason"]) == ("real", "")
    assert any("ludb-superclass" in unit["name"] for unit in plan["units"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["plan", "nosuch"], "unknown study 'nosuch'"),
        (["unit", "run", "jang2021", "0" * 40], f"{'0' * 40} is not a unit of jang2021/smoke"),
        (["plan", "nguyen2025", "--set", "use_cache=false"], "use_cache is false"),
    ],
)
def test_plan_errors_are_one_line(cache, capsys, argv, message):
    code, out, err = cli(capsys, *argv)
    assert code == 1 and out == "" and message in err and len(err.strip().splitlines()) == 1


def test_every_study_is_on_units_and_a_study_without_a_plan_says_so(cache, capsys, monkeypatch):
    assert set(workflow.UNIT_PLANS) == set(STUDIES)
    monkeypatch.delitem(workflow.UNIT_PLANS, "surrey")
    code, out, err = cli(capsys, "plan", "surrey")
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1
    assert "surrey has no unit plan yet; run it whole with `ecglib run surrey`" in err


# --------------------------------------------------------------------------- Vavekanand

#: Vavekanand's paper protocol: 29 patients x (3 lr x 3 batch sizes x 2 weighted sampling) x 2 modes
VV_PAPER_RUNS = 29 * 18 * 2
#: a tiny smoke grid: 2 simulated patients, one grid point, one epoch (one patient unit trains 2 runs)
VV_TINY = [
    "--set",
    "sim_n_patients=2",
    "--set",
    "sim_windows_per_patient=40",
    "--set",
    "sim_min_windows_per_class=2",
    "--set",
    "pretrain_epochs=1",
    "--set",
    "epochs=1",
    "--set",
    "learning_rates=[0.01]",
    "--set",
    "weighted_sampling=[true]",
]
VV_TINY_OVERRIDES = {
    "sim_n_patients": 2,
    "sim_windows_per_patient": 40,
    "sim_min_windows_per_class": 2,
    "pretrain_epochs": 1,
    "epochs": 1,
    "learning_rates": [0.01],
    "weighted_sampling": [True],
}


def test_vavekanand_paper_plan_covers_the_protocol_runs(cache, capsys, tmp_path, monkeypatch):
    """29 patient units (each its patient's 18 grid points x 2 modes) + the pre-training, over stand-ins."""
    from ecglib import params
    from ecglib.studies import vavekanand as vv

    monkeypatch.setenv("ECGLIB_DATA", str(tmp_path / "no-data"))
    code, out, _ = cli(capsys, "plan", "vavekanand", "--profile", "paper")
    plan = json.loads(out)
    assert code == 0 and plan["keys"] == "stand-in" and "mitbih" in plan["stand_in_reason"]
    assert Path(plan["cache_dir"]) == cache / "units" / "vavekanand"
    assert plan["resources"] == {"cpus_per_task": 2, "mem_mb": 4000, "runtime": 60, "gpu": 0}
    patients = list(vv.paper_patients())
    assert [unit["name"] for unit in plan["units"]] == ["pretrain"] + [f"patient/{p}" for p in patients]
    assert plan["n_units"] == 30 and len({unit["key"] for unit in plan["units"]}) == 30
    assert all(unit["needs"] == ["pretrain"] for unit in plan["units"][1:])

    # the runs each patient unit trains: its grid (as its key names it) x both modes
    cfg = params.load("vavekanand", "paper")
    units_by_name = {unit.name: unit for unit in workflow.plan("vavekanand", "paper").units}
    splits = vv.stand_in_inputs(cfg).splits
    runs = []
    for patient in patients:
        parts = units_by_name[f"patient/{patient}"].key_parts
        assert parts["init"] == units_by_name["pretrain"].key  # names the pre-training, not its weights
        assert (parts["learning_rates"], parts["batch_sizes"], parts["weighted_sampling"]) == (
            cfg.learning_rates,
            cfg.batch_sizes,
            cfg.weighted_sampling,
        )
        runs += vv.grid_runs(
            splits,
            [patient],
            learning_rates=parts["learning_rates"],
            batch_sizes=parts["batch_sizes"],
            weighted_sampling=parts["weighted_sampling"],
            seed=parts["seed"],
            pretrained_state={},
        )
    tags = {tuple(sorted(run.tags.items())) for run in runs}
    assert len(runs) == len(tags) == VV_PAPER_RUNS == 1044
    assert {run.tags["mode"] for run in runs} == {"individual", "fine_tuned"}
    # the pre-training pools every patient's training windows (validation: the pooled validation windows)
    pre = units_by_name["pretrain"].key_parts
    assert len(pre["train"]) == sum(len(splits.by_patient[p]["train"]) for p in patients)


@pytest.mark.real_data
@pytest.mark.slow
def test_vavekanand_local_plan_keys_are_over_the_real_mitbih(cache, capsys):
    from conftest import require_dataset

    from ecglib.studies import vavekanand as vv

    require_dataset("mitbih")
    code, out, _ = cli(capsys, "plan", "vavekanand", "--profile", "local")
    plan = json.loads(out)
    assert code == 0 and (plan["keys"], plan["stand_in_reason"]) == ("real", "")
    assert [unit["name"] for unit in plan["units"]] == ["pretrain"] + [
        f"patient/{patient}" for patient in vv.paper_patients()
    ]


def _vv_tiny_plan(capsys) -> dict:
    code, out, _ = cli(capsys, "plan", "vavekanand", "--profile", "smoke", *VV_TINY)
    assert code == 0
    return json.loads(out)


@pytest.mark.slow
def test_vavekanand_unit_run_needs_the_pretraining_then_matches_the_notebook_units(cache, capsys, tmp_path):
    plan = _vv_tiny_plan(capsys)
    assert plan["keys"] == "real" and plan["n_units"] == 3  # pre-training + 2 patients
    pre, patient = plan["units"][0], plan["units"][1]

    unit_run_needs_first_then_runs_once(capsys, "vavekanand", pre, patient, VV_TINY)

    # the notebook's way (units.run_units over the same plan, another cache folder): the same payloads
    elsewhere = tmp_path / "notebook-cache"
    payloads = units.run_units(
        workflow.plan("vavekanand", "smoke", VV_TINY_OVERRIDES).units, cache_dir=elsewhere, use_cache=True
    )
    for unit in (pre, patient):
        same_payload(units.load_unit(unit["key"], plan["cache_dir"]), payloads[unit["name"]])
    results = payloads[patient["name"]]["results"]
    assert [json.loads(item["tags_json"])["mode"] for item in results] == ["individual", "fine_tuned"]


# --------------------------------------------------------------------------- Snakemake


@needs_snakemake
@pytest.mark.slow
def test_paper_dag_has_one_job_per_planned_unit(tmp_path):
    """The dry run of Nguyen's paper DAG (keys over stand-ins here: the data are absent)."""
    env = snakemake_env(tmp_path / "cache", ECGLIB_DATA=str(tmp_path / "no-data"))
    config = ["--config", "study=nguyen2025", "profile=paper", f"output_root={tmp_path / 'outputs'}"]
    done = snakemake(tmp_path, "-n", *config, env=env)
    plan = json.loads(
        subprocess.run(
            [sys.executable, "-m", "ecglib", "plan", "nguyen2025", "--profile", "paper"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert job_counts(done.stdout + done.stderr) == {
        "unit": plan["n_units"],
        "study": 1,
        "all": 1,
        "total": plan["n_units"] + 2,
    }
    assert plan["n_units"] == PAPER_UNITS == 504
    assert "shape-only stand-ins" in done.stderr
    # a job on a cluster node parses the Snakefile again: it reads the scheduler's plan, it does not plan
    no_params = {**env, "ECGLIB_PARAMS_ROOT": str(tmp_path / "no-params")}
    remote = snakemake(tmp_path, "-n", "--mode", "remote", *config, env=no_params)
    assert job_counts(remote.stdout + remote.stderr)["unit"] == PAPER_UNITS


@needs_snakemake
@pytest.mark.slow
def test_vavekanand_paper_dag_has_30_unit_jobs(tmp_path):
    """The dry run of Vavekanand's paper DAG over stand-ins: the pre-training and 29 patient units."""
    env = snakemake_env(tmp_path / "cache", ECGLIB_DATA=str(tmp_path / "no-data"))
    config = ["--config", "study=vavekanand", "profile=paper", f"output_root={tmp_path / 'outputs'}"]
    done = snakemake(tmp_path, "-n", *config, env=env)
    assert job_counts(done.stdout + done.stderr) == {"unit": 30, "study": 1, "all": 1, "total": 32}
    assert "shape-only stand-ins" in done.stderr


@needs_snakemake
@pytest.mark.slow
@pytest.mark.notebook
def test_smoke_dag_resumes_after_a_kill_and_matches_ecglib_run(tmp_path, smoke_run):
    """Kill the local smoke run mid-way; the restart runs only the missing units; metrics as `ecglib run`."""
    cache = tmp_path / "cache"
    env = snakemake_env(cache)
    config = ["--config", "study=nguyen2025", "profile=smoke", f"output_root={tmp_path / 'outputs'}"]
    plan = workflow.plan("nguyen2025", "smoke").as_json()
    folder = cache / "units" / "nguyen2025"
    outputs = {unit["key"]: folder / Path(unit["output"]).name for unit in plan["units"]}

    command = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(ROOT / "workflow" / "Snakefile"),
        "-d",
        str(tmp_path),
    ]
    run = subprocess.Popen(
        [*command, "--cores", "2", *config],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 600
    while sum(path.is_file() for path in outputs.values()) < 3 and run.poll() is None:
        assert time.monotonic() < deadline, "no unit finished in 10 minutes"
        time.sleep(0.2)
    os.killpg(run.pid, signal.SIGTERM)  # Snakemake and its running jobs, as a scheduler's preemption
    run.wait(timeout=120)
    done_before = {key: path.stat().st_mtime_ns for key, path in outputs.items() if path.is_file()}
    # a job killed just after its unit was stored counts as failed: Snakemake removes that file
    assert 1 <= len(done_before) < len(outputs), "the kill came after the last unit"

    dry = snakemake(tmp_path, "-n", *config, env=env)
    scheduled = set(re.findall(r"wildcards: key=([0-9a-f]{40})", dry.stdout + dry.stderr))
    assert scheduled == set(outputs) - set(done_before)  # only the missing units
    assert job_counts(dry.stdout + dry.stderr)["unit"] == len(outputs) - len(done_before)

    snakemake(tmp_path, "--cores", "2", *config, env=env)
    assert {key: outputs[key].stat().st_mtime_ns for key in done_before} == done_before  # not recomputed
    ours = json.loads((tmp_path / "outputs" / "nguyen2025" / "smoke" / "metrics.json").read_text())
    direct = json.loads((Path(smoke_run("nguyen2025")) / "metrics.json").read_text())
    assert ours == direct
    run_record = json.loads((tmp_path / "outputs" / "nguyen2025" / "smoke" / "run.json").read_text())
    assert run_record["units"]["n_trained"] == 0  # the notebook found every unit cached


@needs_snakemake
@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.parametrize("study", ["vavekanand", "jang2021", "surrey", "deepfake"])
def test_every_smoke_dag_runs_locally_and_matches_ecglib_run(tmp_path, smoke_run, study):
    """One job per unit, then the notebook, which finds every unit cached: metrics as `ecglib run`."""
    env = snakemake_env(tmp_path / "cache")
    config = ["--config", f"study={study}", "profile=smoke", f"output_root={tmp_path / 'outputs'}"]
    done = snakemake(tmp_path, "--cores", "2", *config, env=env)
    plan = workflow.plan(study, "smoke").as_json()
    assert job_counts(done.stdout + done.stderr)["unit"] == plan["n_units"]
    ours = tmp_path / "outputs" / study / "smoke"
    direct = Path(smoke_run(study))
    assert json.loads((ours / "metrics.json").read_text()) == json.loads(
        (direct / "metrics.json").read_text()
    )
    assert json.loads((ours / "run.json").read_text())["units"]["n_trained"] == 0
