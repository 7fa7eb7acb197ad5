"""The runner executes a tiny notebook with papermill, writes provenance and publishes atomically."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from ecglib import runner

TINY_NOTEBOOK = Path(__file__).resolve().parent / "notebooks" / "tiny.ipynb"

pytestmark = pytest.mark.notebook


def _run(tmp_path, profile="smoke", **kwargs):
    return runner.run_study(
        "tiny", profile, output_root=tmp_path, notebook=TINY_NOTEBOOK, log_output=False, **kwargs
    )


def test_tiny_notebook_outputs_and_provenance(tiny_params_root, tmp_path):
    out = _run(tmp_path)
    assert out == tmp_path / "tiny" / "smoke"
    assert (out / "tiny.ipynb").exists()
    assert (out / "tables" / "table1_values.csv").exists() and (out / "tables" / "table1_values.md").exists()
    assert (out / "figures" / "fig1_values.png").stat().st_size > 1000
    assert (out / "figures" / "fig1_values.svg").exists()
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"mean_value", "n_values"} and all(math.isfinite(v) for v in metrics.values())
    provenance = json.loads((out / "run.json").read_text())
    assert provenance["status"] == "completed"
    assert provenance["params"]["seed"] == 0 and provenance["params"]["n_values"] == 10
    assert provenance["versions"]["torch"] == "2.14.1"
    assert provenance["device"]["device"] == "cpu" and provenance["device"]["cpu_count"]
    assert "compute" in provenance["stages"] and provenance["runner"]["papermill_wall_time_s"] > 0
    assert "commit" in provenance["git"]
    # the markdown table names its data source
    assert "Data: sim-chapman" in (out / "tables" / "table1_values.md").read_text()
    # executed notebook shows the injected parameters
    assert "injected-parameters" in (out / "tiny.ipynb").read_text()


def test_same_seed_same_metrics(tiny_params_root, tmp_path):
    first = json.loads((_run(tmp_path / "a") / "metrics.json").read_text())
    second = json.loads((_run(tmp_path / "b") / "metrics.json").read_text())
    third = json.loads((_run(tmp_path / "c", overrides={"seed": 1}) / "metrics.json").read_text())
    assert first == second
    assert first["mean_value"] != third["mean_value"]


def test_failing_notebook_keeps_previous_outputs(tiny_params_root, tmp_path):
    good = _run(tmp_path, overrides={"n_values": 7})
    before = (good / "metrics.json").read_text()
    with pytest.raises(runner.RunFailed, match=r"cell \d+: RuntimeError: failing on purpose") as err:
        _run(tmp_path, overrides={"fail_in_cell": True})
    assert "Previous outputs kept" in str(err.value)
    # the good outputs are untouched ...
    assert (good / "metrics.json").read_text() == before
    assert json.loads((good / "run.json").read_text())["params"]["n_values"] == 7
    # ... and the failure is recorded beside them, with the cell that raised
    failure = json.loads((tmp_path / "tiny" / "smoke.failed" / "failure.json").read_text())
    assert failure["cell"]["ename"] == "RuntimeError" and "raise RuntimeError" in failure["cell"]["source"]
    assert failure["previous_outputs_kept"] is True
    assert not list((tmp_path / "tiny").glob(".smoke.staging-*"))
    # a later good run clears the failure record
    _run(tmp_path)
    assert not (tmp_path / "tiny" / "smoke.failed").exists()


def test_invalid_profile_fails_before_running(tiny_params_root, tmp_path):
    from ecglib.params import ParamsError

    with pytest.raises(ParamsError, match="n_values"):
        _run(tmp_path, overrides={"n_values": "many"})
    assert not (tmp_path / "tiny").exists()


def test_cli_lists_studies(capsys):
    from ecglib import cli

    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for study in ("jang2021", "nguyen2025", "vavekanand", "surrey", "deepfake"):
        assert study in out


def test_git_commit_counts_an_untracked_file_as_dirty_but_not_an_ignored_one(tmp_path):
    import subprocess

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / ".gitignore").write_text("outputs/\n")
    git("add", ".gitignore")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    (tmp_path / "outputs").mkdir()
    (tmp_path / "outputs" / "run.json").write_text("{}")
    assert runner.git_commit(tmp_path)["dirty"] is False  # ignored outputs do not count
    (tmp_path / "new_module.py").write_text("x = 1\n")
    assert runner.git_commit(tmp_path)["dirty"] is True
