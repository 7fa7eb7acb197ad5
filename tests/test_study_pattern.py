"""Guards of the study pattern: every study's notebook parameters equal its smoke profile, and every
study's smoke run has the common outputs (provenance, data banner, a verdict table in the one format
of :mod:`ecglib.claims`, never "held" on synthetic data)."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

from ecglib import claims, report, runner

ROOT = Path(__file__).resolve().parents[1]
STUDIES = runner.available_studies()
#: parameters the runner injects beside a profile's keys (not profile keys themselves)
RUNNER_PARAMETERS = {"output_dir"}
PROVENANCE_FIELDS = {
    "study",
    "profile",
    "status",
    "params",
    "seeds",
    "data_source",
    "data",
    "git",
    "git_commit",
    "versions",
    "device",
    "stages",
    "runner",
}


def parameters_cell(notebook: Path) -> dict:
    """Names and literal values assigned in the notebook's cell tagged ``parameters``."""
    nb = nbformat.read(notebook, as_version=4)
    (cell,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    values = {}
    for node in ast.parse(cell.source).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, (
            f"{notebook.name}: the parameters cell holds only `name = literal` lines, got {ast.unparse(node)!r}"
        )
        values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


def test_every_study_is_covered():
    assert {"jang2021", "vavekanand"} <= set(STUDIES)


@pytest.mark.parametrize("study", STUDIES)
def test_parameters_cell_equals_the_smoke_profile(study):
    cell = parameters_cell(runner.notebook_path(study))
    profile = yaml.safe_load((ROOT / "params" / study / "smoke.yaml").read_text())
    assert RUNNER_PARAMETERS <= cell.keys()
    cell = {key: value for key, value in cell.items() if key not in RUNNER_PARAMETERS}
    assert sorted(cell) == sorted(profile), (
        f"{study}: keys only in the notebook {sorted(set(cell) - set(profile))}, "
        f"only in smoke.yaml {sorted(set(profile) - set(cell))}"
    )
    differing = {key: (cell[key], profile[key]) for key in cell if cell[key] != profile[key]}
    assert not differing, f"{study}: notebook value vs smoke.yaml value: {differing}"


@pytest.mark.parametrize("study", STUDIES)
def test_papermill_sees_every_parameter(study):
    """papermill parses each line itself (``--help-notebook``, its "unknown parameter" warning); a comment
    it cannot parse (e.g. ``x = None  # None = ...``) hides that parameter from it."""
    import papermill

    notebook = runner.notebook_path(study)
    seen = set(papermill.inspect_notebook(str(notebook)))
    assert seen == set(parameters_cell(notebook)), (
        f"{study}: papermill cannot parse {sorted(set(parameters_cell(notebook)) - seen)}"
    )


def test_parameters_cell_parser_catches_a_difference(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("seed = 1\nlr = [0.1, 0.01]", metadata={"tags": ["parameters"]})]
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    assert parameters_cell(path) == {"seed": 1, "lr": [0.1, 0.01]}
    nb.cells[0].source = "seed = 1\nprint(seed)"
    nbformat.write(nb, path)
    with pytest.raises(AssertionError, match="name = literal"):
        parameters_cell(path)


def _outputs_text(notebook: Path) -> str:
    nb = nbformat.read(notebook, as_version=4)
    texts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            texts += [data.get("text/markdown", ""), data.get("text/plain", ""), output.get("text", "")]
    return "\n".join(t if isinstance(t, str) else "".join(t) for t in texts)


@pytest.mark.notebook
@pytest.mark.parametrize("study", STUDIES)
def test_smoke_run_common_invariants(study, smoke_run):
    run_dir = smoke_run(study)
    provenance = json.loads((run_dir / "run.json").read_text())
    assert PROVENANCE_FIELDS <= provenance.keys(), sorted(PROVENANCE_FIELDS - provenance.keys())
    assert provenance["status"] == "completed" and provenance["study"] == study
    assert provenance["profile"] == "smoke" and provenance["params"]["seed"] == 0
    data_source = provenance["data_source"]
    assert data_source in provenance["data"], "the run records the data it read"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics and all(isinstance(v, (int, float)) and math.isfinite(v) for v in metrics.values())
    # the executed notebook shows which data produced it
    assert report.data_banner(data_source) in _outputs_text(run_dir / f"{study}.ipynb")
    # one verdict format for every study; synthetic data never confirm a claim
    verdict = pd.read_csv(run_dir / "tables" / "verdict.csv")
    assert list(verdict.columns) == list(claims.COLUMNS) and len(verdict)
    assert set(verdict["verdict"]) <= set(claims.VERDICTS)
    if report.is_synthetic(data_source):
        assert claims.HELD not in set(verdict["verdict"])
        assert set(verdict["verdict"]) <= {claims.SYNTHETIC, claims.NOT_TESTABLE}
