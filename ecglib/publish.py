"""Publish a finished study run: copy what a reader needs from ``outputs/`` into tracked ``results/``.

``ecglib publish STUDY --profile P`` takes ``outputs/<study>/<profile>/`` (written by
:func:`ecglib.runner.run_study`) and writes ``results/<study>/<profile>/``:

- ``tables/*.md`` and ``tables/*.csv`` (the verdict is ``tables/verdict.md``/``.csv``),
- ``figures/*.png`` (the SVG copies and the executed notebook stay in ``outputs/``),
- ``run.json`` and ``metrics.json``,
- a generated ``README.md``: study, profile, data source, commit, date, wall time, links to
  every table and figure, and the verdict table inline.

A run is refused, with one line that names the file and what to do, when it did not finish,
when it ran from a work tree with uncommitted changes, when its commit is not an ancestor of
the repository's ``HEAD`` (it came from another branch or a rewritten history), or when its
data source is synthetic: synthetic data is never published as a reproduction. The new folder
is staged beside the old one and swapped in, so a failed publish leaves the previous results
as they were.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ecglib import params as _params
from ecglib import report

__all__ = ["PublishRefused", "RunSummary", "check_publishable", "publish", "results_dir"]

VERDICT_TABLE = "verdict"
TABLE_FORMATS = {".md": "Markdown", ".csv": "CSV"}
FIGURE_SUFFIX = ".png"
RUN_FILES = ("run.json", "metrics.json")


class PublishRefused(RuntimeError):
    """The run cannot be published; the message names the file and what to do."""


@dataclass(frozen=True)
class RunSummary:
    """The facts of a publishable run that its README states."""

    study: str
    profile: str
    data_source: str
    commit: str
    finished_at: str
    wall_time_s: float | None


def results_dir(study: str, profile: str, results_root: str | os.PathLike | None = None) -> Path:
    """``<results_root>/<study>/<profile>``; ``results_root`` defaults to ``<repo>/results``."""
    root = Path(results_root) if results_root is not None else _params.repo_root() / "results"
    return root / study / profile


def _read_run_json(run_json: Path) -> dict:
    if not run_json.is_file():
        raise PublishRefused(
            f"{run_json}: no run.json here; run the study first (ecglib run STUDY --profile P)"
        )
    try:
        provenance = json.loads(run_json.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PublishRefused(f"{run_json}: unreadable ({err}); run the study again") from err
    if not isinstance(provenance, dict):
        raise PublishRefused(f"{run_json}: not a JSON object; run the study again")
    return provenance


def _is_ancestor(commit: str, repo: Path) -> bool:
    """Whether ``commit`` is ``HEAD`` or an ancestor of it in the git repository ``repo``."""
    try:
        answer = subprocess.run(
            ["git", "merge-base", "--is-ancestor", commit, "HEAD"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return answer.returncode == 0


def check_publishable(
    run_dir: str | os.PathLike,
    *,
    study: str,
    profile: str,
    repo: str | os.PathLike | None = None,
) -> RunSummary:
    """Check that the run in ``run_dir`` may be published and return its facts.

    Parameters
    ----------
    run_dir : path, a run's output folder (``outputs/<study>/<profile>``)
    study, profile : str, what the caller asked to publish (must match ``run.json``)
    repo : path, optional, the git repository whose ``HEAD`` must contain the run's commit
        (default: this repository)

    Returns
    -------
    RunSummary

    Raises
    ------
    PublishRefused
        No ``run.json``; another study or profile; the run did not finish; it ran from a
        dirty tree or outside git; its commit is not an ancestor of ``HEAD``; synthetic
        data; no verdict table.
    """
    run_dir = Path(run_dir)
    run_json = run_dir / "run.json"
    provenance = _read_run_json(run_json)
    if (provenance.get("study"), provenance.get("profile")) != (study, profile):
        raise PublishRefused(
            f"{run_json}: a run of {provenance.get('study')}/{provenance.get('profile')}, "
            f"not {study}/{profile}; point --output-root at the right run"
        )
    if provenance.get("status") != "completed":
        raise PublishRefused(
            f"{run_json}: the run did not finish (status {provenance.get('status')!r}); "
            f"rerun it (ecglib run {study} --profile {profile})"
        )
    git = provenance.get("git") or {}
    commit = git.get("commit")
    if not commit:
        raise PublishRefused(
            f"{run_json}: the run names no git commit (not run from a git checkout); rerun it from a clean checkout"
        )
    if git.get("dirty") is not False:
        raise PublishRefused(
            f"{run_json}: the run came from a work tree with uncommitted changes (commit {commit[:12]}, dirty); "
            f"commit them and rerun (ecglib run {study} --profile {profile})"
        )
    repo = Path(repo) if repo is not None else _params.repo_root()
    if not _is_ancestor(commit, repo):
        raise PublishRefused(
            f"{run_json}: commit {commit[:12]} is not an ancestor of HEAD in {repo}; "
            "rerun the study on this branch (or check out the branch it came from)"
        )
    data_source = str(provenance.get("data_source") or (provenance.get("params") or {}).get("data_source"))
    if report.is_synthetic(data_source):
        raise PublishRefused(
            f"{run_json}: data source {data_source!r} is synthetic; synthetic data is never published "
            "as a reproduction; run a profile on recorded data (e.g. --profile local)"
        )
    verdict = run_dir / "tables" / f"{VERDICT_TABLE}.md"
    if not verdict.is_file():
        raise PublishRefused(f"{verdict}: the run has no verdict table; rerun it with the current notebook")
    wall = provenance.get("wall_time_s")
    return RunSummary(
        study=study,
        profile=profile,
        data_source=data_source,
        commit=commit,
        finished_at=str(provenance.get("finished_at") or "unknown"),
        wall_time_s=None if wall is None else float(wall),
    )


def _files_to_publish(run_dir: Path) -> list[Path]:
    """Relative paths of the tables, PNG figures and run files in ``run_dir``, sorted."""
    chosen = [Path(name) for name in RUN_FILES if (run_dir / name).is_file()]
    for folder, suffixes in (("tables", tuple(TABLE_FORMATS)), ("figures", (FIGURE_SUFFIX,))):
        if (run_dir / folder).is_dir():
            chosen += sorted(
                path.relative_to(run_dir)
                for path in (run_dir / folder).iterdir()
                if path.is_file() and path.suffix in suffixes
            )
    return chosen


def _format_wall_time(seconds: float | None) -> str:
    if seconds is None:
        return "not recorded"
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"
    return f"{clock} ({seconds:.0f} s)"


def render_readme(summary: RunSummary, files: list[Path], verdict_markdown: str) -> str:
    """The published folder's README.md: the run's facts, links to its files, the verdict inline."""
    tables = sorted({path.stem for path in files if path.parts[0] == "tables"})
    figures = [path for path in files if path.parts[0] == "figures"]
    lines = [
        f"# {summary.study}: published `{summary.profile}` run",
        "",
        f"Written by `ecglib publish {summary.study} --profile {summary.profile}` from "
        f"`outputs/{summary.study}/{summary.profile}/`; do not edit by hand.",
        "",
        "| | |",
        "|---|---|",
        f"| study | `{summary.study}` |",
        f"| profile | `{summary.profile}` |",
        f"| data source | {report.data_label(summary.data_source)} |",
        f"| commit | `{summary.commit}` |",
        f"| finished | {summary.finished_at} |",
        f"| wall time | {_format_wall_time(summary.wall_time_s)} |",
        "",
        "Provenance (parameters, seeds, library versions, device, data files): [run.json](run.json); "
        "every recorded number: [metrics.json](metrics.json).",
        "",
        "## Verdict",
        "",
        verdict_markdown.strip(),
        "",
        "## Tables",
        "",
    ]
    for stem in tables:
        links = [
            f"[{name}](tables/{stem}{suffix})"
            for suffix, name in TABLE_FORMATS.items()
            if Path("tables", f"{stem}{suffix}") in files
        ]
        lines.append(f"- {stem}: {', '.join(links)}")
    lines += ["", "## Figures", ""]
    lines += [f"- [{path.stem}]({path.as_posix()})" for path in figures] or ["(none)"]
    return "\n".join(lines) + "\n"


def _swap_in(staging: Path, final_dir: Path) -> None:
    """Put ``staging`` at ``final_dir``; the old folder is removed only after the swap."""
    old = None
    if final_dir.exists():
        old = Path(tempfile.mkdtemp(dir=final_dir.parent, prefix=f".{final_dir.name}.old-"))
        os.replace(final_dir, old / final_dir.name)
    try:
        os.replace(staging, final_dir)
    except BaseException:
        if old is not None:
            os.replace(old / final_dir.name, final_dir)
        raise
    if old is not None:
        shutil.rmtree(old)


def publish(
    study: str,
    profile: str,
    *,
    output_root: str | os.PathLike | None = None,
    results_root: str | os.PathLike | None = None,
    repo: str | os.PathLike | None = None,
) -> Path:
    """Copy a finished run's tables, PNG figures, verdict, ``run.json`` and ``metrics.json`` into results.

    Parameters
    ----------
    study, profile : str
    output_root : path, optional, folder holding ``<study>/<profile>/`` runs (default ``<repo>/outputs``)
    results_root : path, optional, default ``<repo>/results``
    repo : path, optional, the git repository for the ancestry check (default: this repository)

    Returns
    -------
    Path of ``results/<study>/<profile>``

    Raises
    ------
    PublishRefused
        See :func:`check_publishable`; the previous results are left intact.
    """
    root = Path(output_root) if output_root is not None else _params.repo_root() / "outputs"
    run_dir = root / study / profile
    summary = check_publishable(run_dir, study=study, profile=profile, repo=repo)
    files = _files_to_publish(run_dir)
    final_dir = results_dir(study, profile, results_root)
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=final_dir.parent, prefix=f".{profile}.staging-"))
    try:
        for relative in files:
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(run_dir / relative, staging / relative)
        verdict = (run_dir / "tables" / f"{VERDICT_TABLE}.md").read_text(encoding="utf-8")
        (staging / "README.md").write_text(render_readme(summary, files, verdict), encoding="utf-8")
        _swap_in(staging, final_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return final_dir
