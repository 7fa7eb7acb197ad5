"""Committed notebooks are reviewable: kernelspec, a parameters cell, no outputs, in sync with their .py twin."""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + [ROOT / "tests" / "notebooks" / "tiny.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_clean_and_parameterised(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "ecglib", f"{path}: kernelspec must be 'ecglib'"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path}: needs exactly one cell tagged 'parameters'"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), f"{path}: outputs are committed"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_matches_its_py_twin(path):
    twin = path.with_suffix(".py")
    assert twin.exists(), f"{path}: missing jupytext twin {twin.name}"
    from_py = jupytext.read(twin)
    nb = nbformat.read(path, as_version=4)
    assert [(c.cell_type, c.source.strip()) for c in nb.cells] == [
        (c.cell_type, c.source.strip()) for c in from_py.cells
    ], f"{path.name} and {twin.name} differ: rebuild with `jupytext --sync {twin}`"
