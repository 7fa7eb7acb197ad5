"""Error types live in ecglib.errors; the layers import downwards only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ecglib
from ecglib import errors

PACKAGE = Path(ecglib.__file__).parent


def test_error_types_and_their_old_homes():
    import ecglib.data
    import ecglib.data.splits
    import ecglib.transfer

    assert ecglib.data.DataMissingError is errors.DataMissingError
    assert ecglib.data.DataFormatError is errors.DataFormatError
    assert ecglib.transfer.CheckpointError is errors.CheckpointError
    assert ecglib.data.splits.PatientOverlapError is errors.PatientOverlapError
    assert issubclass(errors.CheckpointError, errors.DataFormatError)
    assert issubclass(errors.DataFormatError, ValueError)
    assert issubclass(errors.DataMissingError, FileNotFoundError)
    assert issubclass(errors.LeadMissingError, KeyError)
    missing = errors.DataMissingError("mitbih", Path("/nowhere/mitdb"))
    assert "ecglib data download mitbih" in str(missing) and missing.folder == Path("/nowhere/mitdb")
    assert str(errors.LeadMissingError("record 102 has no lead 'MLII'")) == "record 102 has no lead 'MLII'"


def _ecglib_imports(path: Path) -> set[str]:
    """Every ``ecglib...`` module a file imports (top level or inside functions)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name == "ecglib" or name.startswith("ecglib.")}


def _module_files(*relative: str) -> list[Path]:
    files = []
    for part in relative:
        path = PACKAGE / part
        files += sorted(path.glob("*.py")) if path.is_dir() else [path]
    return files


def _imports_any(path: Path, prefixes: tuple[str, ...]) -> list[str]:
    return sorted(
        name for name in _ecglib_imports(path) if any(name == p or name.startswith(p + ".") for p in prefixes)
    )


@pytest.mark.parametrize(
    "files, forbidden",
    [
        # signal functions, errors and models never reach into the data package or a study
        (("errors.py", "preprocess.py", "segment.py", "models"), ("ecglib.data", "ecglib.studies")),
        # the data package imports downwards only
        (
            ("data",),
            (
                "ecglib.studies",
                "ecglib.train",
                "ecglib.grid",
                "ecglib.report",
                "ecglib.runner",
                "ecglib.cli",
                "ecglib.transfer",
            ),
        ),
    ],
)
def test_layers_import_downwards(files, forbidden):
    offenders = {
        str(path.relative_to(PACKAGE)): _imports_any(path, forbidden)
        for path in _module_files(*files)
        if _imports_any(path, forbidden)
    }
    assert offenders == {}


#: modules above the studies: ecglib.workflow maps a study's name to its unit plan (as a notebook
#: does to the study's functions); only the command line uses it
ABOVE_STUDIES = {"workflow.py"}


def test_only_studies_import_studies():
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "studies" not in path.relative_to(PACKAGE).parts
        and str(path.relative_to(PACKAGE)) not in ABOVE_STUDIES
        and _imports_any(path, ("ecglib.studies",))
    ]
    assert offenders == []


def test_nothing_but_the_command_line_imports_the_layer_above_the_studies():
    importers = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if _imports_any(path, tuple(f"ecglib.{name.removesuffix('.py')}" for name in ABOVE_STUDIES))
    }
    assert importers <= {"cli.py"}


def test_download_and_status_do_not_import_each_other():
    download = _imports_any(PACKAGE / "data" / "download.py", ("ecglib.data.status",))
    status = _imports_any(PACKAGE / "data" / "status.py", ("ecglib.data.download",))
    assert download and not status  # download -> status, never back
