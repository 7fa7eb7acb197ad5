"""Shared fixtures: tiny-study parameter root, real-data root (skips when absent), an isolated cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Unless the caller chose one, tests write cached arrays to a throwaway folder."""
    if not os.environ.get("ECGLIB_CACHE"):
        os.environ["ECGLIB_CACHE"] = str(tmp_path_factory.mktemp("ecglib-cache"))


@pytest.fixture
def tiny_params_root(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ecglib.params at tests/params (which holds the 'tiny' study)."""
    root = TESTS_DIR / "params"
    monkeypatch.setenv("ECGLIB_PARAMS_ROOT", str(root))
    return root


def require_dataset(name: str) -> Path:
    """The folder of public dataset ``name`` under the data root, or skip the test saying why."""
    from ecglib import data

    folder = data.dataset_folder(name)
    if not folder.is_dir():
        pytest.skip(f"{name} not found under {folder.parent} (set ECGLIB_DATA to a folder holding it)")
    return folder


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory: pytest.TempPathFactory):
    """``smoke_run(study)``: the output folder of the study's smoke profile, run once per test session.

    Every notebook test of a study shares this one run (the smoke runs are the slowest tests).
    """
    runs: dict[str, Path] = {}

    def run(study: str) -> Path:
        if study not in runs:
            from ecglib import runner

            runs[study] = runner.run_study(
                study, "smoke", output_root=tmp_path_factory.mktemp(f"smoke-{study}")
            )
        return runs[study]

    return run


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh ecglib cache; torch's thread count restored after (``ecglib unit run`` sets n_threads)."""
    import torch

    folder = tmp_path / "cache"
    monkeypatch.setenv("ECGLIB_CACHE", str(folder))
    threads = torch.get_num_threads()
    yield folder
    torch.set_num_threads(threads)
