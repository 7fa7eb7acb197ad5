"""ecglib.publish: a finished clean run is copied into results/; every other run is refused."""

import json
import subprocess

import pytest

from ecglib import cli, publish

STUDY, PROFILE = "jang2021", "local"
VERDICT_MD = (
    "**verdict**: the paper's claims on this run's data\n\n"
    "| claim | verdict on mitbih | evidence |\n|---|---|---|\n| transfer beats random | held | p 0.01 |\n"
)


def git(repo, *args) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    """A git repository with two commits on its branch and one commit on a side branch.

    Returns (path, {"old": ..., "head": ..., "side": ...}) commit hashes.
    """
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    commits = {}
    for name in ("old", "head"):
        (path / "file.txt").write_text(name)
        git(path, "add", "file.txt")
        git(path, "commit", "-q", "-m", name)
        commits[name] = git(path, "rev-parse", "HEAD")
    git(path, "checkout", "-q", "-b", "side")
    (path / "file.txt").write_text("side")
    git(path, "commit", "-q", "-am", "side")
    commits["side"] = git(path, "rev-parse", "HEAD")
    git(path, "checkout", "-q", "main")
    return path, commits


def fabricate_run(output_root, *, commit, status="completed", dirty=False, data_source="mitbih", **extra):
    """Write outputs/<study>/<profile>/ as run_study leaves it (tables, figures, notebook, run files)."""
    run_dir = output_root / STUDY / PROFILE
    (run_dir / "tables").mkdir(parents=True)
    (run_dir / "figures").mkdir()
    (run_dir / "tables" / "verdict.md").write_text(VERDICT_MD)
    (run_dir / "tables" / "verdict.csv").write_text("claim,verdict\ntransfer beats random,held\n")
    (run_dir / "tables" / "table2_vs_paper.md").write_text("| a |\n|---|\n| 1 |\n")
    (run_dir / "tables" / "table2_vs_paper.csv").write_text("a\n1\n")
    (run_dir / "figures" / "fig5_learning_curves.png").write_bytes(b"\x89PNG fake")
    (run_dir / "figures" / "fig5_learning_curves.svg").write_text("<svg/>")
    (run_dir / f"{STUDY}.ipynb").write_text("{}")
    (run_dir / "metrics.json").write_text(json.dumps({"f1_transfer_100": 0.8}))
    provenance = {
        "study": STUDY,
        "profile": PROFILE,
        "status": status,
        "data_source": data_source,
        "git": {"commit": commit, "dirty": dirty},
        "git_commit": commit,
        "finished_at": "2026-12-03T18:18:14+00:00",
        "wall_time_s": 3725.4,
        **extra,
    }
    (run_dir / "run.json").write_text(json.dumps(provenance))
    return run_dir


def test_a_finished_clean_run_is_published_with_its_readme(tmp_path, repo):
    path, commits = repo
    run_dir = fabricate_run(tmp_path / "outputs", commit=commits["old"])
    folder = publish.publish(
        STUDY, PROFILE, output_root=tmp_path / "outputs", results_root=tmp_path / "results", repo=path
    )
    assert folder == tmp_path / "results" / STUDY / PROFILE
    published = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert published == [
        "README.md",
        "figures/fig5_learning_curves.png",
        "metrics.json",
        "run.json",
        "tables/table2_vs_paper.csv",
        "tables/table2_vs_paper.md",
        "tables/verdict.csv",
        "tables/verdict.md",
    ]
    assert (folder / "run.json").read_bytes() == (run_dir / "run.json").read_bytes()
    readme = (folder / "README.md").read_text()
    assert commits["old"] in readme
    assert "MIT-BIH Arrhythmia Database" in readme
    assert "2026-12-03T18:18:14+00:00" in readme
    assert "1 h 02 min (3725 s)" in readme
    assert "| transfer beats random | held | p 0.01 |" in readme  # the verdict inline
    assert (
        "- table2_vs_paper: [Markdown](tables/table2_vs_paper.md), [CSV](tables/table2_vs_paper.csv)"
        in readme
    )
    assert "- [fig5_learning_curves](figures/fig5_learning_curves.png)" in readme
    # nothing else is left beside the published folder (no staging or old copies)
    assert [p.name for p in folder.parent.iterdir()] == [PROFILE]


def test_publishing_again_replaces_the_previous_results(tmp_path, repo):
    path, commits = repo
    kwargs = dict(output_root=tmp_path / "outputs", results_root=tmp_path / "results", repo=path)
    run_dir = fabricate_run(tmp_path / "outputs", commit=commits["old"])
    folder = publish.publish(STUDY, PROFILE, **kwargs)
    (run_dir / "figures" / "fig5_learning_curves.png").unlink()
    (run_dir / "run.json").write_text(
        (run_dir / "run.json").read_text().replace(commits["old"], commits["head"])
    )
    publish.publish(STUDY, PROFILE, **kwargs)
    assert not (folder / "figures" / "fig5_learning_curves.png").exists()
    assert commits["head"] in (folder / "README.md").read_text()
    assert [p.name for p in folder.parent.iterdir()] == [PROFILE]


@pytest.mark.parametrize(
    ("run", "message"),
    [
        (dict(status="running"), "did not finish.*status 'running'.*rerun it"),
        (dict(dirty=True), "uncommitted changes.*commit them and rerun"),
        (dict(dirty=None), "uncommitted changes"),
        (dict(commit=None), "names no git commit"),
        (dict(commit="side"), "is not an ancestor of HEAD"),
        (dict(commit="0" * 40), "is not an ancestor of HEAD"),
        (dict(data_source="sim-chapman"), "synthetic data is never published as a reproduction"),
        (dict(data_source="deepfake-gan"), "synthetic data is never published as a reproduction"),
        (dict(profile="smoke"), "a run of jang2021/smoke, not jang2021/local"),
    ],
)
def test_refused_runs_leave_the_previous_results_intact(tmp_path, repo, run, message):
    path, commits = repo
    results_root = tmp_path / "results"
    previous = results_root / STUDY / PROFILE
    previous.mkdir(parents=True)
    (previous / "README.md").write_text("the previous results")
    commit = run.pop("commit", "old")
    run_dir = fabricate_run(tmp_path / "outputs", commit=commits.get(commit, commit), **run)
    with pytest.raises(publish.PublishRefused, match=message) as refused:
        publish.publish(
            STUDY, PROFILE, output_root=tmp_path / "outputs", results_root=results_root, repo=path
        )
    assert str(run_dir / "run.json") in str(refused.value)  # the message names the file
    assert "\n" not in str(refused.value)
    assert (previous / "README.md").read_text() == "the previous results"
    assert [p.name for p in previous.parent.iterdir()] == [PROFILE]


def test_a_missing_run_or_verdict_is_refused(tmp_path, repo):
    path, commits = repo
    kwargs = dict(output_root=tmp_path / "outputs", results_root=tmp_path / "results", repo=path)
    with pytest.raises(publish.PublishRefused, match="no run.json here"):
        publish.publish(STUDY, PROFILE, **kwargs)
    run_dir = fabricate_run(tmp_path / "outputs", commit=commits["head"])
    (run_dir / "tables" / "verdict.md").unlink()
    with pytest.raises(publish.PublishRefused, match="verdict.md: the run has no verdict table"):
        publish.publish(STUDY, PROFILE, **kwargs)
    assert not (tmp_path / "results" / STUDY / PROFILE).exists()


def test_a_failed_copy_leaves_the_previous_results_intact(tmp_path, repo, monkeypatch):
    path, commits = repo
    results_root = tmp_path / "results"
    previous = results_root / STUDY / PROFILE
    previous.mkdir(parents=True)
    (previous / "README.md").write_text("the previous results")
    fabricate_run(tmp_path / "outputs", commit=commits["head"])

    def broken_readme(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(publish, "render_readme", broken_readme)
    with pytest.raises(OSError, match="disk full"):
        publish.publish(
            STUDY, PROFILE, output_root=tmp_path / "outputs", results_root=results_root, repo=path
        )
    assert (previous / "README.md").read_text() == "the previous results"
    assert [p.name for p in previous.parent.iterdir()] == [PROFILE]


def test_cli_publish_reports_a_refusal_in_one_line(tmp_path, repo, capsys):
    path, commits = repo
    fabricate_run(tmp_path / "outputs", commit=commits["head"], status="running")
    code = cli.main(["publish", STUDY, "--profile", PROFILE, "--output-root", str(tmp_path / "outputs")])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("not published: ") and "did not finish" in err and "\n" not in err
