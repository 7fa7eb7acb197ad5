"""Faults as a user meets them (issue 15): damaged files, killed runs, typos, bad numbers.

Each test corrupts real files in a temporary data root or cache, kills real processes by
PID, or runs the real CLIs (``ecglib``, ``papermill``) against the tiny study; nothing
under the shared data root is modified.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from ecglib.data import DataFormatError

ROOT = Path(__file__).resolve().parents[1]
TESTS_DIR = ROOT / "tests"
TINY_NOTEBOOK = TESTS_DIR / "notebooks" / "tiny.ipynb"
BIN = Path(sys.executable).parent


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["ECGLIB_PARAMS_ROOT"] = str(TESTS_DIR / "params")
    env.update(extra)
    return env


def _copy_mitbih(tmp_path: Path, records: tuple[str, ...]) -> Path:
    """A data root holding only ``records`` of MIT-BIH (copied, with their timestamps)."""
    from conftest import require_dataset

    source = require_dataset("mitbih")
    root = tmp_path / "data"
    target = root / source.name
    target.mkdir(parents=True)
    for record in records:
        for ext in ("hea", "dat", "atr"):
            shutil.copy2(source / f"{record}.{ext}", target / f"{record}.{ext}")
    return root


# ------------------------------------------------------------------ 1. the window cache sees its inputs


@pytest.mark.real_data
def test_window_cache_is_not_served_after_its_input_file_changed(tmp_path, monkeypatch):
    from ecglib.studies import vavekanand

    monkeypatch.setenv("ECGLIB_CACHE", str(tmp_path / "cache"))
    root = _copy_mitbih(tmp_path, ("100",))
    first = vavekanand.mitbih_windows(["100"], root=root)
    assert len(first.windows) > 1000
    again = vavekanand.mitbih_windows(["100"], root=root)  # a hit: same arrays
    np.testing.assert_array_equal(first.windows.signals_mv, again.windows.signals_mv)

    dat = root / "mitdb" / "100.dat"
    dat.write_bytes(dat.read_bytes()[: dat.stat().st_size // 2])  # cut in half, as in the issue
    with pytest.raises(DataFormatError, match="100"):
        vavekanand.mitbih_windows(["100"], root=root)  # the cache must not hide the broken file


@pytest.mark.real_data
def test_window_cache_key_covers_the_data_root_and_provenance_records_the_bytes_used(
    tmp_path, monkeypatch, tiny_params_root
):
    from ecglib import cache, params, runner
    from ecglib.studies import vavekanand

    monkeypatch.setenv("ECGLIB_CACHE", str(tmp_path / "cache"))
    root_a = _copy_mitbih(tmp_path / "a", ("100",))
    root_b = _copy_mitbih(tmp_path / "b", ("100",))
    vavekanand.mitbih_windows(["100"], root=root_a)
    vavekanand.mitbih_windows(["100"], root=root_b)
    assert len(list((tmp_path / "cache").glob("mitbih-*.npz"))) == 2  # one entry per data root

    original = cache.sha256_of(root_a / "mitdb" / "100.dat")
    windows = vavekanand.mitbih_windows(["100"], root=root_a)  # served from the cache
    run = runner.start_run(params.load("tiny", "smoke"), output_dir=tmp_path / "out")
    entry = run.record_data("mitbih", files=windows.files)
    assert entry["sha256"]["100.dat"] == original


# ------------------------------------------------------------------ 2. a damaged cache entry is a miss


def test_damaged_generated_ecg_cache_warns_naming_the_file_and_regenerates(tmp_path):
    from ecglib.data import deepfake_gan

    cache_dir = tmp_path / "cache"
    first = deepfake_gan.cached_signals(2, seed=3, cache=cache_dir)
    (entry,) = (cache_dir / "deepfake_gan").glob("signals_*.npz")
    entry.write_bytes(b"PK\x03\x04 this is not a zip any more")
    with pytest.warns(RuntimeWarning, match=f"generated-ECG cache .*{entry.name} is unreadable"):
        again = deepfake_gan.cached_signals(2, seed=3, cache=cache_dir)
    np.testing.assert_array_equal(first, again)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(deepfake_gan.cached_signals(2, seed=3, cache=cache_dir), first)


def test_damaged_window_cache_entry_warns_and_recomputes(tmp_path):
    from ecglib.data import cache as window_cache

    source = tmp_path / "input.txt"
    source.write_text("1 2 3")
    calls = []

    def compute():
        calls.append(1)
        return {"values": np.loadtxt(source)}

    key = {"dataset": "toy"}
    window_cache.cached(key, compute, cache_dir=tmp_path, files=[source])
    (entry,) = tmp_path.glob("toy-*.npz")
    entry.write_bytes(entry.read_bytes()[:30])
    with pytest.warns(RuntimeWarning, match=f"{entry.name} is unreadable"):
        out = window_cache.cached(key, compute, cache_dir=tmp_path, files=[source])
    assert len(calls) == 2 and out["values"].tolist() == [1, 2, 3]
    source.write_text("1 2 3 4")  # the input changed: a new entry, not the old arrays
    assert window_cache.cached(key, compute, cache_dir=tmp_path, files=[source])["values"].tolist() == [
        1,
        2,
        3,
        4,
    ]


# ------------------------------------------------------------------ 3. SIGTERM / SIGKILL leave nothing behind

_RUN_TINY = (
    "import sys; from ecglib import runner; "
    "runner.run_study('tiny', 'smoke', output_root=sys.argv[1], notebook=sys.argv[2], log_output=False)"
)


def _start_tiny_run(out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", _RUN_TINY, str(out), str(TINY_NOTEBOOK)],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_notebook_start(out: Path, proc: subprocess.Popen, timeout_s: float = 240) -> Path:
    """The run's staging folder, once the notebook has written its first run.json there."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"run ended early: {proc.communicate()}"
        started = list((out / "tiny").glob(f".smoke.staging-{proc.pid}-*/run.json"))
        if started:
            return started[0].parent
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("the notebook did not start in time")


def _previous_outputs(out: Path) -> Path:
    final = out / "tiny" / "smoke"
    final.mkdir(parents=True)
    (final / "metrics.json").write_text('{"mean_value": 123.0}\n')
    return final


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_or_sighup_records_the_failure_and_keeps_previous_outputs(tiny_params_root, tmp_path, signum):
    out = tmp_path / "out"
    final = _previous_outputs(out)
    proc = _start_tiny_run(out)
    _wait_for_notebook_start(out, proc)
    os.kill(proc.pid, signum)
    proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert not list((out / "tiny").glob(".smoke.staging-*")), "staging folder left behind"
    assert (final / "metrics.json").read_text() == '{"mean_value": 123.0}\n'
    failure = json.loads((out / "tiny" / "smoke.failed" / "failure.json").read_text())
    assert failure["pid"] == proc.pid and failure["run_id"].startswith(f".smoke.staging-{proc.pid}-")
    assert signal.Signals(signum).name in failure["error"] and failure["started_at"] and failure["failed_at"]


@pytest.mark.slow
@pytest.mark.notebook
def test_sigkill_staging_becomes_a_failure_record_at_the_next_start(tiny_params_root, tmp_path):
    from ecglib import runner

    out = tmp_path / "out"
    final = _previous_outputs(out)
    (out / "tiny" / "smoke.failed").mkdir()
    (out / "tiny" / "smoke.failed" / "failure.json").write_text(
        json.dumps({"failed_at": "2020-01-01T00:00:00+00:00", "error": "an old failure"})
    )
    proc = _start_tiny_run(out)
    staging = _wait_for_notebook_start(out, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)  # reaped: the pid is gone
    assert staging.is_dir()  # SIGKILL cannot clean up

    runner.clean_stale(out / "tiny")  # what every run does first
    assert not staging.exists()
    failure = json.loads((out / "tiny" / "smoke.failed" / "failure.json").read_text())
    assert failure["pid"] == proc.pid and "ended without finishing" in failure["error"]
    assert failure["run_id"] == staging.name  # this run, not the old failure
    assert (final / "metrics.json").read_text() == '{"mean_value": 123.0}\n'

    again = _start_tiny_run(out)  # a later real run completes normally and leaves no staging
    again.communicate(timeout=300)
    assert again.returncode == 0
    assert not list((out / "tiny").glob(".smoke.*"))
    assert json.loads((final / "metrics.json").read_text())["n_values"] == 10


def test_clean_stale_keeps_live_runs_and_undoes_a_half_done_swap(tmp_path):
    from ecglib import runner

    folder = tmp_path / "study"
    live = folder / f".smoke.staging-{os.getpid()}-{time.time_ns()}"
    live.mkdir(parents=True)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    old = folder / f".paper.old-{dead_pid}"
    old.mkdir()
    (old / "metrics.json").write_text("{}")
    runner.clean_stale(folder)
    assert live.is_dir()  # a running process's staging is left alone
    assert (folder / "paper" / "metrics.json").exists()  # killed between the two renames: outputs restored


# ------------------------------------------------------------------ 4. the plain papermill CLI is as safe


def _papermill(tmp_path: Path, *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess:
    """The real papermill CLI on the tiny notebook, with the kernel registered as `make setup` does."""
    from ecglib import runner

    kernels = tmp_path / "kernels"
    if not (kernels / "share" / "jupyter" / "kernels" / "ecglib" / "kernel.json").exists():
        runner.install_kernel(prefix=str(kernels))
    return subprocess.run(
        [str(BIN / "papermill"), str(TINY_NOTEBOOK), str(tmp_path / "executed.ipynb"), *args],
        env=_env(JUPYTER_PATH=str(kernels / "share" / "jupyter")),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=tmp_path,
    )


@pytest.mark.slow
@pytest.mark.notebook
def test_plain_papermill_failure_keeps_previous_outputs_and_normal_runs_print_no_warning(tmp_path):
    final = tmp_path / "outputs" / "tiny" / "smoke"
    params = str(TESTS_DIR / "params" / "tiny" / "smoke.yaml")
    ok = _papermill(tmp_path, "-f", params, "-p", "output_dir", str(final))
    assert ok.returncode == 0, ok.stderr
    assert "warning" not in ok.stderr.lower(), ok.stderr  # a normal run prints no warnings
    before = {p.relative_to(final): p.read_bytes() for p in final.rglob("*") if p.is_file()}
    assert json.loads((final / "run.json").read_text())["status"] == "completed"

    failed = _papermill(
        tmp_path,
        "-f",
        params,
        "-p",
        "output_dir",
        str(final),
        "-y",
        "fail_in_cell: true",
        "-p",
        "n_values",
        "5",
    )
    assert failed.returncode != 0
    after = {p.relative_to(final): p.read_bytes() for p in final.rglob("*") if p.is_file()}
    assert after == before  # nothing of the failed run mixed into the previous outputs
    record = json.loads((final.with_name("smoke.failed") / "failure.json").read_text())
    assert "failing on purpose" in record["error"] and "fail_in_cell" in record["cell"]["source"]
    assert not list(final.parent.glob(".smoke.staging-*"))


@pytest.mark.slow
@pytest.mark.notebook
def test_plain_papermill_refuses_a_mistyped_parameter_name(tmp_path):
    params = str(TESTS_DIR / "params" / "tiny" / "smoke.yaml")
    result = _papermill(
        tmp_path, "-f", params, "-p", "n_valuez", "3", "-p", "output_dir", str(tmp_path / "o")
    )
    assert result.returncode != 0
    assert "unknown parameter(s) ['n_valuez']" in result.stderr and "did you mean 'n_values'" in result.stderr
    assert not (tmp_path / "o").exists()


def test_unknown_injected_names_are_found_in_the_papermill_parameters_cell(tiny_params_root):
    from ecglib import params

    namespace = {
        "In": ["", "profile = 'smoke'\nseed = 0", "# Parameters\nn_valuez = 3\noutput_dir = '/tmp/x'\n"],
        **params.load("tiny", "smoke").as_dict(),
        "n_valuez": 3,
    }
    with pytest.raises(params.ParamsError, match=r"n_valuez.*did you mean 'n_values'"):
        params.check("tiny", namespace)
    namespace["In"][2] = "# Parameters\nn_values = 3\noutput_dir = '/tmp/x'\n"
    assert params.check("tiny", namespace).n_values == 10  # the namespace value, validated


# ------------------------------------------------------------------ 5. non-finite numbers are refused


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan"])
def test_cli_refuses_non_finite_numbers(value, capsys):
    from ecglib import cli

    code = cli.main(["run", "vavekanand", "--set", f"pretrain_lr={value}"])
    err = capsys.readouterr().err
    assert code == 2
    assert "'pretrain_lr'" in err and "not finite" in err and "Traceback" not in err


def test_a_run_with_non_finite_metrics_is_flagged_not_plainly_completed(tiny_params_root, tmp_path):
    from ecglib import params, runner

    run = runner.start_run(params.load("tiny", "smoke"), output_dir=tmp_path / "out")
    with pytest.warns(RuntimeWarning, match=r"non-finite metrics \['test_bacc'\]"):
        final = run.finish({"test_bacc": float("nan"), "n": 3})
    provenance = json.loads((final / "run.json").read_text())
    assert provenance["status"] == "completed_with_non_finite_metrics"
    assert provenance["non_finite_metrics"] == ["test_bacc"]
    assert json.loads((final / "metrics.json").read_text()) == {"test_bacc": None, "n": 3.0}


# ------------------------------------------------------------------ 6. every user error is one line


def _ecglib(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ecglib", *args], env=_env(**env), capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_user_errors_are_one_line_without_traceback(tmp_path):
    binary = tmp_path / "params" / "tiny"
    binary.mkdir(parents=True)
    shutil.copy(TESTS_DIR / "params" / "tiny" / "schema.yaml", binary)
    (binary / "bin.yaml").write_bytes(bytes(range(256)))
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    readonly.chmod(0o500)
    cases = {
        "bad yaml in --set": (["run", "tiny", "--set", "n_values=[1"], {}, "not valid YAML"),
        "binary profile": (
            ["run", "tiny", "--profile", "bin"],
            {"ECGLIB_PARAMS_ROOT": str(tmp_path / "params")},
            "bin.yaml: not a text file",
        ),
        "unwritable cache": (
            ["run", "tiny"],
            {"ECGLIB_CACHE": str(readonly / "cache")},
            "cache folder is not writable",
        ),
        "unknown dataset": (["data", "download", "mitbihh"], {}, "did you mean 'mitbih'"),
        "generated dataset": (["data", "download", "sim-chapman"], {}, "generated offline"),
        "connection refused": (
            [
                "data",
                "download",
                "ptbxl",
                "--data-root",
                str(tmp_path / "d"),
                "--mirror",
                "http://127.0.0.1:9/",
            ],
            {},
            "127.0.0.1",
        ),
    }
    if os.geteuid() == 0:
        cases.pop("unwritable cache")  # root writes anywhere
    for name, (args, env, expected) in cases.items():
        result = _ecglib(*args, **env)
        assert result.returncode != 0, name
        assert "Traceback" not in result.stderr, f"{name}: {result.stderr}"
        assert expected in result.stderr, f"{name}: {result.stderr}"
    debug = _ecglib("data", "download", "mitbihh", "--debug")
    assert "Traceback" in debug.stderr  # --debug shows it


def test_unwritable_output_root_is_one_clear_error(tiny_params_root, tmp_path):
    from ecglib import runner

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(runner.RunFailed, match="cannot create the output folder.*writable --output-root"):
        runner.run_study("tiny", "smoke", output_root=blocker / "out", notebook=TINY_NOTEBOOK)


# ------------------------------------------------------------------ 7. implausible signals are refused at load


def _set_gain(header: Path, factor: float) -> None:
    lines = header.read_text().splitlines()
    for index, line in enumerate(lines[1:], start=1):
        if line.startswith("#"):
            continue
        fields = line.split()
        fields[2] = f"{float(fields[2]) / factor:g}"
        lines[index] = " ".join(fields)
    header.write_text("\n".join(lines) + "\n")


@pytest.mark.real_data
def test_a_header_gain_100x_too_small_is_refused_naming_the_file(tmp_path):
    from ecglib.data import mitbih

    root = _copy_mitbih(tmp_path, ("100",))
    _set_gain(root / "mitdb" / "100.hea", 100.0)  # amplitudes 100x too large
    with pytest.raises(DataFormatError, match=r"100\.dat.*implausible amplitude.*gain"):
        mitbih.load_record("100", root)


@pytest.mark.real_data
def test_a_flat_line_record_is_refused(tmp_path):
    from ecglib.data import mitbih

    root = _copy_mitbih(tmp_path, ("100",))
    dat = root / "mitdb" / "100.dat"
    size = dat.stat().st_size
    # format 212 with every sample at the baseline value 1024 (0x400): bytes 00 44 40 repeated
    dat.write_bytes(bytes([0x00, 0x44, 0x40]) * (size // 3))
    with pytest.raises(DataFormatError, match=r"100\.dat.*flat line"):
        mitbih.load_record("100", root)


def test_lead_problems_name_flat_saturated_and_implausible_leads():
    from ecglib.preprocess import lead_problems

    t = np.arange(5000) / 500.0
    good = np.sin(2 * np.pi * 1.2 * t)
    clipped = np.clip(good, -0.5, 0.5)
    problems = lead_problems(
        np.stack([good, good * 0, clipped, good * 100], axis=1), ["I", "II", "III", "V1"]
    )
    assert set(problems) == {"II", "III", "V1"}
    assert problems["II"].startswith("flat") and problems["III"].startswith("saturated")
    assert problems["V1"].startswith("implausible amplitude")


def test_ptbxl_records_with_only_unknown_scp_codes_are_counted_and_listed(tmp_path, monkeypatch):
    import native_layouts as nl

    from ecglib.data import ptbxl

    monkeypatch.delenv("ECGLIB_DATA", raising=False)
    nl.write_ptbxl(tmp_path / "ptb-xl", [{"NORM": 100.0}, {"XYZ1": 100.0}, {"SR": 0.0}], with_500=False)
    labelled = ptbxl.load_labelled(tmp_path, fs_hz=100)
    assert len(labelled) == 1
    assert labelled.exclusions["only_unknown_scp_codes"] == 1
    assert labelled.exclusions["no_superclass"] == 1  # SR: known, not diagnostic
    assert labelled.exclusions["records with unknown SCP code 'XYZ1'"] == 1


# ------------------------------------------------------------------ 8. duplicate keys in a profile


def test_duplicate_keys_in_a_profile_are_an_error(tmp_path, monkeypatch, capsys):
    from ecglib import cli

    folder = tmp_path / "tiny"
    folder.mkdir()
    shutil.copy(TESTS_DIR / "params" / "tiny" / "schema.yaml", folder)
    text = (
        (TESTS_DIR / "params" / "tiny" / "smoke.yaml").read_text().replace("profile: smoke", "profile: dup")
    )
    (folder / "dup.yaml").write_text(text + "n_values: 99\n")
    monkeypatch.setenv("ECGLIB_PARAMS_ROOT", str(tmp_path))
    assert cli.main(["run", "tiny", "--profile", "dup"]) == 2
    err = capsys.readouterr().err
    assert "dup.yaml" in err and "duplicate key 'n_values'" in err


# ------------------------------------------------------------------ 9. notebooks in JupyterLab


def test_opening_a_notebook_in_jupyterlab_leaves_no_git_diff(tmp_path):
    """Autosave adds language_info (and running adds outputs); the clean filter removes them."""
    import nbformat

    repo = tmp_path / "repo"
    (repo / "notebooks").mkdir(parents=True)
    committed = (ROOT / "notebooks" / "vavekanand.ipynb").read_bytes()
    (repo / "notebooks" / "vavekanand.ipynb").write_bytes(committed)
    shutil.copy(ROOT / ".gitattributes", repo)

    def git(*args):
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True)

    git("init", "-q")
    git("config", "user.email", "t@example.org")
    git("config", "user.name", "t")
    git("config", "filter.ecglib-notebook.clean", f"{sys.executable} -m ecglib.notebooks")
    git("add", ".")
    git("commit", "-qm", "notebook")
    nb = nbformat.read(repo / "notebooks" / "vavekanand.ipynb", as_version=4)
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.99", "mimetype": "text/x-python"}
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", text="hello\n")]
    nb.cells[2].execution_count = 1
    nbformat.write(nb, repo / "notebooks" / "vavekanand.ipynb")
    assert git("diff").stdout == ""  # (git status may list it until the index is refreshed by git add)
    git("add", "-A")
    assert git("status", "--porcelain").stdout.strip() == ""  # nothing to commit


def test_make_lab_opens_the_repository_root_with_notebooks_first():
    makefile = (ROOT / "Makefile").read_text()
    lab = makefile.split("\nlab:", 1)[1].split("\n\n", 1)[0]
    assert '--ServerApp.root_dir="$(CURDIR)"' in lab and "/lab/tree/notebooks" in lab


def test_a_notebook_run_by_hand_has_its_own_output_folder(tiny_params_root, tmp_path, monkeypatch, capsys):
    from ecglib import params, runner

    monkeypatch.setattr(
        runner, "interactive_output_dir", lambda study, profile: tmp_path / study / f"{profile}.interactive"
    )
    run = runner.start_run(params.load("tiny", "smoke"))
    printed = capsys.readouterr().out
    final = tmp_path / "tiny" / "smoke.interactive"
    assert str(final) in printed  # said in the first cell
    assert run.final_dir == final and run.output_dir != final and not final.exists()
    figure = run.figures_dir / "fig.png"
    assert run.final_path(figure) == final / "figures" / "fig.png"
    assert run.finish({"x": 1.0}) == final
    assert (final / "metrics.json").exists() and not list(tmp_path.glob("tiny/.smoke*staging*"))
    assert str(final) in capsys.readouterr().out  # the final path, not the staging one


# ------------------------------------------------------------------ 5. divergence during training


def test_a_fit_whose_loss_becomes_non_finite_fails_naming_the_epoch():
    import torch
    from torch import nn

    from ecglib import train
    from ecglib.errors import TrainingDiverged

    rng = np.random.default_rng(0)
    signals = rng.normal(0, 1, size=(64, 32, 1)).astype(np.float32)
    labels = (np.arange(64) % 2).astype(np.int64)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Conv1d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 30, 2))
    with torch.no_grad():  # weights so large that the logits overflow: the loss is inf/NaN at once
        model[2].weight.fill_(1e38)
    with pytest.raises(TrainingDiverged, match=r"diverged at epoch 1: the training loss is (nan|inf)"):
        train.fit(
            model,
            (signals, labels),
            (signals, labels),
            task="single_label",
            epochs=2,
            lr=1e-3,
            batch_size=16,
            seed=0,
            device="cpu",
            progress=False,
        )


def test_a_diverged_grid_run_is_marked_and_never_chosen():
    import pandas as pd

    from ecglib.grid import GridResult
    from ecglib.studies import vavekanand as vv

    history = pd.DataFrame(
        {"epoch": [1, 2], "train_loss": [0.6, np.nan], "train_balanced_accuracy": [0.6, 0.5]}
        | {"val_loss": [0.5, np.nan], "val_balanced_accuracy": [0.99, 0.5]}
    )
    result = GridResult(
        tags={}, history=history, best_epoch=1, best_state_dict=None, val_loss=0.5, val_balanced_accuracy=0.99
    )
    assert (
        result.diverged
        and not GridResult(
            tags={},
            history=history.iloc[:1],
            best_epoch=1,
            best_state_dict=None,
            val_loss=0.5,
            val_balanced_accuracy=0.9,
        ).diverged
    )
    rows = [
        {"patient": "p", "mode": m, "lr": lr, "batch_size": 4, "weighted_sampling": False}
        | {"val_balanced_accuracy": bacc, "val_loss": 0.5, "test_balanced_accuracy": bacc, "diverged": div}
        for m in ("individual", "fine_tuned")
        for lr, bacc, div in ((0.1, 0.99, True), (0.01, 0.8, False))
    ]
    chosen = vv.select_per_patient(pd.DataFrame(rows))
    assert set(chosen["lr"]) == {0.01}


# ------------------------------------------------------------------ 6. empty inputs are one clear error


def test_an_empty_patient_list_and_an_empty_chapman_table_are_clear_errors(tmp_path):
    from ecglib import params
    from ecglib.data import chapman

    with pytest.raises(params.ParamsError, match=r"'patients' = \[\] has 0 items; needs at least 1"):
        params.load("vavekanand", "smoke", {"patients": []})
    folder = tmp_path / "chapman"
    folder.mkdir()
    (folder / "Diagnostics.csv").write_text(",".join(chapman.REQUIRED_COLUMNS) + "\n")
    with pytest.raises(DataFormatError, match=r"Diagnostics.csv: the label table has no rows"):
        chapman.load_labels(tmp_path)
