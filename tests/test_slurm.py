"""workflow/profiles/slurm through snakemake-executor-plugin-slurm: the sbatch lines it produces
(against stand-in SLURM commands, so this runs anywhere), and real runs on a throwaway single-node
SLURM cluster (tests/slurm_cluster.py; skipped where `apt-get install slurm-wlm munge` was not run),
without accounting (job states from squeue) and with slurmdbd (`slurmdbd mariadb-server` too; job
states from sacct, the plugin's default, and accounts checked).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from slurm_cluster import ACCOUNT, PARTITION, SlurmCluster, missing_binaries

pytest.importorskip("snakemake_executor_plugin_slurm", reason="snakemake-executor-plugin-slurm not installed")

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "workflow" / "profiles" / "slurm" / "config.yaml"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]

# Two rules: three `unit` jobs (sent as one job array by the profile), then `merge`.
TINY_SNAKEFILE = textwrap.dedent(
    """
    rule all:
        input: "merged.txt"

    rule unit:
        output: "units/{i}.txt"
        threads: 2
        resources: mem_mb=200, runtime=7, gpu=config.get("unit_gpus", 0)
        shell: "echo unit {wildcards.i} > {output}"

    rule merge:
        input: expand("units/{i}.txt", i=range(3))
        output: "merged.txt"
        resources: mem_mb=100, runtime=3
        shell: "cat {input} > {output}"
    """
)


def edited_profile(folder: Path, partition: str, account: str) -> Path:
    """A copy of workflow/profiles/slurm with its EDIT_ME values filled in, as a user would."""
    text = PROFILE.read_text()
    config = yaml.safe_load(text)
    assert config["default-resources"]["slurm_partition"] == "EDIT_ME"
    assert config["default-resources"]["slurm_account"] == "EDIT_ME"
    text = text.replace('slurm_partition: "EDIT_ME"', f'slurm_partition: "{partition}"')
    text = text.replace('slurm_account: "EDIT_ME"', f'slurm_account: "{account}"')
    assert 'EDIT_ME"   #' not in text and 'EDIT_ME"     #' not in text
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(text)
    return folder


def run_snakemake(
    args: list[str], cwd: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess:
    """Snakemake in its own process group, killed whole if it outlives ``timeout`` (it does not
    always end on SIGTERM while it waits for job states)."""
    proc = subprocess.Popen(
        [*SNAKEMAKE, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"snakemake still running after {timeout} s:\n{out[-4000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, None)


def test_profile_names_only_options_the_installed_plugin_knows():
    config = yaml.safe_load(PROFILE.read_text())
    assert config["executor"] == "slurm"
    help_text = subprocess.run(
        [*SNAKEMAKE, "--help"], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout
    known = set(re.findall(r"--([a-z][a-z0-9-]+)", help_text))
    unknown = [key for key in config if key not in known]
    assert not unknown, (
        f"workflow/profiles/slurm/config.yaml: options snakemake --help does not list: {unknown}"
    )


# --- the sbatch lines, against stand-in SLURM commands (no cluster needed) -------------------------

FAKE_COMMANDS = {
    # sbatch: record the call's arguments (one file per call), answer a job id as `sbatch --parsable` does
    "sbatch": """
        n=$(( $(cat "$FAKE_SLURM/count" 2>/dev/null || echo 0) + 1 ))
        echo $n > "$FAKE_SLURM/count"
        printf '%s\\0' "$@" > "$FAKE_SLURM/sbatch.$n.args"
        echo $n
    """,
    # squeue: every job submitted so far has failed (so the run ends quickly)
    "squeue": """for i in $(seq 1 $(cat "$FAKE_SLURM/count" 2>/dev/null || echo 0)); do echo "$i|FAILED"; done""",
    "scontrol": """printf 'MinJobAge               = 300 sec\\nMaxArraySize            = 1001\\n'""",
    "sinfo": """printf 'PARTITION\\ndebug*\\n'""",
    "sacctmgr": """echo myaccount""",
    "sshare": """echo myaccount""",
    "sacct": """echo 'sacct must not be called with slurm-status-command squeue' >&2; exit 1""",
    "scancel": """printf '%s\\n' "$*" >> "$FAKE_SLURM/scancel.calls\"""",
    "srun": """echo 'srun must not be called on the submit side' >&2; exit 1""",
}


def sbatch_calls(folder: Path) -> list[list[str]]:
    """The argument lists the stand-in sbatch received, in order."""
    files = sorted(folder.glob("sbatch.*.args"), key=lambda p: int(p.name.split(".")[1]))
    return [p.read_text().split("\0")[:-1] for p in files]


@pytest.fixture
def fake_slurm(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    folder = tmp_path / "fake-slurm"
    (folder / "bin").mkdir(parents=True)
    for name, body in FAKE_COMMANDS.items():
        script = folder / "bin" / name
        script.write_text("#!/bin/sh\n" + textwrap.dedent(body).strip() + "\n")
        script.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env["PATH"] = f"{folder / 'bin'}:{env['PATH']}"
    env["FAKE_SLURM"] = str(folder)
    return folder, env


@pytest.mark.slow  # Snakemake waits between job-state queries: 20-40 s, mostly idle
def test_profile_sbatch_lines(tmp_path: Path, fake_slurm):
    folder, env = fake_slurm
    work = tmp_path / "work"
    work.mkdir()
    (work / "Snakefile").write_text(TINY_SNAKEFILE)
    profile = edited_profile(tmp_path / "profile", partition="mypartition", account="myaccount")
    result = run_snakemake(
        [
            "--workflow-profile",
            str(profile),
            "--config",
            "unit_gpus=1",
            "--slurm-status-command",
            "squeue",
            "--slurm-init-seconds-before-status-checks",
            "1",
            "--retries",
            "0",  # the profile's retry resubmits failed tasks in timing-dependent groups
        ],
        cwd=work,
        env=env,
        timeout=180,
    )
    assert result.returncode != 0, result.stdout  # every job "failed" on the stand-in cluster
    assert "SLURM status is: 'FAILED'" in result.stdout, result.stdout[-3000:]
    calls = sbatch_calls(folder)
    # the three units went out as one array job
    assert len(calls) == 1, calls
    for call in calls:
        assert call[call.index("-p") + 1] == "mypartition"
        assert call[call.index("-A") + 1] == "myaccount"
        assert "--requeue" in call
        assert "--array=1-3" in call
        assert call[call.index("-t") + 1] == "7"
        assert "--gpus=1" in call
        assert "--cpus-per-task=2" in call
        assert int(call[call.index("--mem") + 1]) >= 200  # 200 MB plus the plugin's array payload allowance
        assert any(arg.startswith("--wrap=") and "--executor slurm-jobstep" in arg for arg in call)
        assert call[call.index("-D") + 1] == str(work)


@pytest.mark.slow  # Snakemake waits between job-state queries: 20-40 s, mostly idle
def test_profile_sbatch_lines_without_gpu_and_single_job(tmp_path: Path, fake_slurm):
    folder, env = fake_slurm
    work = tmp_path / "work"
    work.mkdir()
    (work / "Snakefile").write_text(TINY_SNAKEFILE)
    (work / "units").mkdir()
    for i in range(3):
        (work / "units" / f"{i}.txt").write_text("done\n")
    profile = edited_profile(tmp_path / "profile", partition="p2", account="myaccount")
    result = run_snakemake(
        [
            "--workflow-profile",
            str(profile),
            "--slurm-status-command",
            "squeue",
            "--slurm-init-seconds-before-status-checks",
            "1",
            "--retries",
            "0",
        ],
        cwd=work,
        env=env,
        timeout=180,
    )
    assert result.returncode != 0, result.stdout
    calls = sbatch_calls(folder)
    assert len(calls) == 1, calls  # only `merge` was missing; one job is no array
    (call,) = calls
    assert not any(arg.startswith("--array") or arg.startswith("--gpus") for arg in call)
    assert call[call.index("--mem") + 1] == "100"
    assert call[call.index("-t") + 1] == "3"
    assert "--ntasks=1" in call and "--cpus-per-task=1" in call


@pytest.mark.slow  # Snakemake waits between job-state queries: 20-40 s, mostly idle
def test_unedited_profile_stops_at_the_first_submission(tmp_path: Path, fake_slurm):
    folder, env = fake_slurm
    work = tmp_path / "work"
    work.mkdir()
    (work / "Snakefile").write_text(TINY_SNAKEFILE)
    result = run_snakemake(
        ["--workflow-profile", str(PROFILE.parent), "--slurm-status-command", "squeue", "--retries", "0"],
        cwd=work,
        env=env,
        timeout=180,
    )
    assert result.returncode != 0
    assert "The given account EDIT_ME appears to be invalid" in result.stdout, result.stdout[-3000:]
    assert sbatch_calls(folder) == []


# --- a real single-node SLURM cluster -------------------------------------------------------------


def _started_cluster(accounting: bool) -> SlurmCluster:
    missing = missing_binaries(accounting)
    if missing:
        packages = "slurm-wlm munge slurmdbd mariadb-server" if accounting else "slurm-wlm munge"
        pytest.skip(f"not installed: {', '.join(missing)} (`apt-get install {packages}` to run this test)")
    cluster = SlurmCluster(accounting=accounting)
    try:
        cluster.start()
    except RuntimeError as error:
        if os.geteuid() != 0:
            pytest.skip(f"the test SLURM cluster did not start as a non-root user: {error}")
        raise
    return cluster


@pytest.fixture(scope="module")
def slurm_cluster():
    """munged + slurmctld + slurmd, no accounting (sacct answers "accounting storage is disabled")."""
    cluster = _started_cluster(accounting=False)
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def slurm_cluster_with_accounting():
    """The same plus MariaDB and slurmdbd, as real sites run it; one account, ``ACCOUNT``."""
    cluster = _started_cluster(accounting=True)
    yield cluster
    cluster.stop()


def slurm_args(profile: Path) -> list[str]:
    # the test cluster has no slurmdbd, so job states come from squeue (see the profile's comment)
    return [
        "--workflow-profile",
        str(profile),
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--latency-wait",
        "5",
        "--slurm-keep-successful-logs",
    ]


def run_jobs(cluster: SlurmCluster, log: str) -> list[list[str]]:
    """[job id, state, comment] of each SLURM job of the Snakemake run whose output is ``log``."""
    (run_id,) = re.findall(r"SLURM run ID: (\S+)", log)
    queue = cluster.run("squeue", "--states=all", "--noheader", f"--name={run_id}", "--format=%i|%T|%k")
    return [row.split("|") for row in queue.stdout.split()]


@pytest.mark.slow
def test_tiny_workflow_with_sacct_status_on_a_cluster_with_accounting(
    tmp_path: Path, slurm_cluster_with_accounting: SlurmCluster
):
    """The profile as a user edits it, with the plugin's default job-state query (sacct)."""
    cluster = slurm_cluster_with_accounting
    work = tmp_path / "work"
    work.mkdir()
    (work / "Snakefile").write_text(TINY_SNAKEFILE)
    profile = edited_profile(tmp_path / "profile", partition=PARTITION, account=ACCOUNT)
    args = ["--workflow-profile", str(profile), "--slurm-init-seconds-before-status-checks", "2", "--verbose"]
    result = run_snakemake(args, cwd=work, env=cluster.env(), timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + "\n" + cluster.log_tail()
    assert "command=sacct" in result.stdout and "command=squeue" not in result.stdout
    assert (work / "merged.txt").read_text() == "".join(f"unit {i}\n" for i in range(3))
    (run_id,) = re.findall(r"SLURM run ID: (\S+)", result.stdout)
    jobs = cluster.run("sacct", "-X", "-P", "-n", f"--name={run_id}", "--format=JobID,State,Account")
    rows = [line.split("|") for line in jobs.stdout.split()]
    assert sorted(job for job, _, _ in rows if "_" in job)[-1].endswith("_3"), rows  # the unit array
    assert len(rows) == 4 and {(state, account) for _, state, account in rows} == {("COMPLETED", ACCOUNT)}, (
        rows
    )


@pytest.mark.slow
def test_unedited_profile_is_refused_by_a_cluster_with_accounting(
    tmp_path: Path, slurm_cluster_with_accounting: SlurmCluster
):
    work = tmp_path / "work"
    work.mkdir()
    (work / "Snakefile").write_text(TINY_SNAKEFILE)
    args = ["--workflow-profile", str(PROFILE.parent), "--slurm-init-seconds-before-status-checks", "1"]
    result = run_snakemake(args, cwd=work, env=slurm_cluster_with_accounting.env(), timeout=300)
    assert result.returncode != 0
    message = re.search(
        r"The given account EDIT_ME appears to be invalid. Available accounts:\n(.*)", result.stdout
    )
    assert message and ACCOUNT in message.group(1), result.stdout[-3000:]


@pytest.mark.slow
def test_tiny_workflow_runs_on_a_real_slurm_cluster(tmp_path: Path, slurm_cluster: SlurmCluster):
    work = tmp_path / "work"
    work.mkdir()
    (work / "Snakefile").write_text(TINY_SNAKEFILE)
    profile = edited_profile(tmp_path / "profile", partition=PARTITION, account="anyaccount")
    result = run_snakemake(slurm_args(profile), cwd=work, env=slurm_cluster.env(), timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + "\n" + slurm_cluster.log_tail()
    assert (work / "merged.txt").read_text() == "".join(f"unit {i}\n" for i in range(3))
    # SLURM ran them: one array of three tasks for `unit`, one job for `merge`, all completed
    rows = run_jobs(slurm_cluster, result.stdout)
    units = sorted(job for job, state, comment in rows if comment.startswith("rule_unit"))
    merges = [job for job, state, comment in rows if comment == "rule_merge"]
    assert len(units) == 3 and len({u.split("_")[0] for u in units}) == 1, rows
    assert [u.split("_")[1] for u in units] == ["1", "2", "3"], rows
    assert len(merges) == 1, rows
    assert {state for _, state, _ in rows} == {"COMPLETED"}, rows
    logs = sorted(p.name for p in (work / ".snakemake" / "slurm_logs" / "rule_unit").iterdir())
    assert logs == [f"{units[0].split('_')[0]}_{i}.log" for i in (1, 2, 3)]


@pytest.mark.slow
@pytest.mark.notebook
def test_nguyen_smoke_dag_through_the_slurm_profile(tmp_path: Path, slurm_cluster: SlurmCluster, smoke_run):
    """workflow/Snakefile's Nguyen smoke DAG on the test cluster: every unit and the study job are
    SLURM jobs (units as job arrays), and the notebook's metrics.json equals ``ecglib run``'s."""
    import json

    from ecglib import workflow

    cache = tmp_path / "cache"
    env = slurm_cluster.env()
    env["ECGLIB_CACHE"] = str(cache)
    env["PYTHONPATH"] = ":".join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    profile = edited_profile(tmp_path / "profile", partition=PARTITION, account="anyaccount")
    config = ["--config", "study=nguyen2025", "profile=smoke", f"output_root={tmp_path / 'outputs'}"]
    result = run_snakemake(
        ["-s", str(REPO / "workflow" / "Snakefile"), "-d", str(tmp_path), *slurm_args(profile), *config],
        cwd=tmp_path,
        env=env,
        timeout=1800,
    )
    assert result.returncode == 0, result.stdout[-4000:] + "\n" + slurm_cluster.log_tail()

    plan = workflow.plan("nguyen2025", "smoke").as_json()
    rows = run_jobs(slurm_cluster, result.stdout)
    assert {state for _, state, _ in rows} == {"COMPLETED"}, rows
    unit_jobs = [job for job, _, comment in rows if comment.startswith("rule_unit")]
    assert len(unit_jobs) == plan["n_units"], rows
    assert any("_" in job for job in unit_jobs), rows  # at least one wave went out as a job array
    assert [comment for _, _, comment in rows].count("rule_study") == 1, rows
    for unit in plan["units"]:
        assert (cache / "units" / "nguyen2025" / Path(unit["output"]).name).is_file(), unit["name"]

    ours = json.loads((tmp_path / "outputs" / "nguyen2025" / "smoke" / "metrics.json").read_text())
    direct = json.loads((Path(smoke_run("nguyen2025")) / "metrics.json").read_text())
    assert ours == direct
    run_record = json.loads((tmp_path / "outputs" / "nguyen2025" / "smoke" / "run.json").read_text())
    assert run_record["units"]["n_trained"] == 0  # the notebook found every unit cached
