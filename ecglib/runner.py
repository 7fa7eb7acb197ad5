"""Running a study: provenance inside the notebook (:func:`start_run`) and papermill outside it (:func:`run_study`).

Inside a notebook, ``run = start_run(cfg, output_dir=output_dir)`` seeds the global RNGs
(for third-party code; ecglib itself takes explicit seeds), picks the device and writes
``run.json``; ``with run.stage("pretrain"):`` times a stage; ``run.record_data(...)`` notes
a data source with its version and checksums; ``run.finish(metrics)`` writes
``metrics.json`` and closes ``run.json``.

Outside, :func:`run_study` validates the profile, executes the notebook with papermill into
a staging folder and only then swaps it into ``outputs/<study>/<profile>/``. A failed or
interrupted run (an exception, Ctrl-C, SIGTERM or SIGHUP) leaves the previous good outputs
untouched and records the failure (when, which run, the cell that raised) in
``outputs/<study>/<profile>.failed/``. A run killed outright (SIGKILL, out of memory) cannot
clean up; the next run finds its staging folder, sees that its process is gone and turns it
into the failure record.

The notebook's own :func:`start_run` stages the same way when nothing injected a staging
folder (the plain papermill CLI, JupyterLab): files go to a staging folder beside the
final one and are swapped in by ``run.finish()``; a cell that raises, or a kernel that shuts
down before ``finish``, leaves the previous outputs alone and a failure record beside them.
Without ``output_dir`` (a notebook run by hand) the final folder is
``outputs/<study>/<profile>.interactive/``, kept apart from the outputs of ``ecglib run``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import math
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ecglib import cache as _cache
from ecglib import params as _params
from ecglib.data import DATA_ROOT_ENV
from ecglib.data import data_root as _data_root

log = logging.getLogger(__name__)

KERNEL_NAME = "ecglib"
#: distributions whose versions go into run.json
TRACKED_PACKAGES = (
    "ecglib",
    "torch",
    "torchvision",
    "numpy",
    "scipy",
    "pandas",
    "scikit-learn",
    "statsmodels",
    "wfdb",
    "neurokit2",
    "pyts",
    "deepfake-ecg",
    "matplotlib",
    "seaborn",
    "papermill",
    "h5py",
)


# ---------------------------------------------------------------------------- small I/O helpers


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON to a temporary file beside ``path`` and rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2, sort_keys=False, default=_json_default)
        handle.write("\n")
    os.replace(tmp, path)


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return _finite_or_none(float(value))
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return str(value)


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def sha256_file(path: Path, chunk_bytes: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_bytes), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------------------- provenance facts


def git_commit(repo: Path | None = None) -> dict[str, Any]:
    """The current commit and whether the work tree differs from it.

    Dirty means a modified tracked file or an untracked file that git does not ignore (a new module
    that is not committed yet changes what ran just as much as an edit does).
    """
    repo = repo or _params.repo_root()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=normal"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        return {"commit": commit, "dirty": bool(dirty)}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None, "note": "not a git checkout (or git missing)"}


def library_versions(names: Iterable[str] = TRACKED_PACKAGES) -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_facts(device: Any) -> dict[str, Any]:
    import torch

    facts: dict[str, Any] = {
        "device": str(device),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }
    if getattr(device, "type", str(device)) == "cuda":
        facts["gpu"] = torch.cuda.get_device_name(device)
        facts["cuda"] = torch.version.cuda
    return facts


def seed_everything(seed: int) -> dict[str, Any]:
    """Seed Python, NumPy's legacy global RNG and torch (for third-party code that uses them)."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return {"python_random": seed, "numpy_global": seed % 2**32, "torch_manual_seed": seed}


# ---------------------------------------------------------------------------- inside the notebook


@dataclass
class Run:
    """One execution of a study notebook and everything recorded about it."""

    cfg: _params.Params
    output_dir: Path
    device: Any
    data_root: Path
    provenance: dict[str, Any] = field(default_factory=dict)
    #: where the outputs are once the run has finished (``output_dir`` is the staging folder until then)
    final_dir: Path | None = None
    #: True when this Run swaps its staging folder into ``final_dir`` itself (no ``ecglib run`` around it)
    owns_swap: bool = False
    finished: bool = False
    _t0: float = field(default_factory=time.perf_counter)
    _last_error: dict[str, Any] | None = None

    def final_path(self, path: str | os.PathLike) -> Path:
        """Where ``path`` (a file under the staging ``output_dir``) will be once the run has finished."""
        path = Path(path)
        if self.final_dir is not None and path.is_relative_to(self.output_dir):
            return self.final_dir / path.relative_to(self.output_dir)
        return path

    @property
    def study(self) -> str:
        return self.cfg.study

    @property
    def profile(self) -> str:
        return self.cfg.profile

    @property
    def seed(self) -> int:
        return self.cfg.seed

    @property
    def tables_dir(self) -> Path:
        return self.output_dir / "tables"

    @property
    def figures_dir(self) -> Path:
        return self.output_dir / "figures"

    @property
    def run_json(self) -> Path:
        return self.output_dir / "run.json"

    def save(self) -> None:
        self.provenance["wall_time_s"] = round(time.perf_counter() - self._t0, 3)
        write_json_atomic(self.run_json, self.provenance)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a stage of the protocol; the wall time goes into ``run.json`` under ``stages``."""
        t0 = time.perf_counter()
        log.info("stage %s: started", name)
        try:
            yield
        finally:
            seconds = round(time.perf_counter() - t0, 3)
            self.provenance["stages"][name] = self.provenance["stages"].get(name, 0.0) + seconds
            log.info("stage %s: %.1f s", name, seconds)
            self.save()

    def run_units(self, grid: list, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The payload of every unit of ``grid`` (:class:`ecglib.units.Unit`), training the missing ones.

        The units live in this study's unit cache (:func:`ecglib.units.study_cache_dir`; none when
        ``use_cache`` is off), where ``ecglib unit run`` puts them too. Prints how many units the
        grid has and how many are trained now, and adds both to ``run.json`` (``units``). A study
        that runs its grid in parts (one stage each) passes the payloads of the earlier parts as
        ``given`` (not counted again, not read again).
        """
        from ecglib import units

        given = given or {}
        grid_left = [unit for unit in grid if unit.name not in given]
        folder = units.study_cache_dir(self.study, self.cfg["use_cache"])
        todo = units.missing(grid_left, folder) if folder is not None else [unit.name for unit in grid_left]
        n_read = len(grid_left) - len(todo)
        print(
            f"{len(grid_left)} units, {len(todo)} to train"
            + (f" ({n_read} read from {folder})" if n_read else "")
        )
        payloads = units.run_units(grid, cache_dir=folder, use_cache=folder is not None, given=given)
        record = self.provenance.setdefault(
            "units", {"cache_dir": None if folder is None else str(folder), "n_units": 0, "n_trained": 0}
        )
        record["n_units"] += len(grid_left)
        record["n_trained"] += len(todo)
        self.save()
        return payloads

    def record_data(self, name: str, *, files: Iterable[Path] = (), **facts: Any) -> dict[str, Any]:
        """Note a data source used by this run: registry facts, file checksums and ``facts``.

        Parameters
        ----------
        name : registered data source name (``mitbih``, ``sim-chapman``...)
        files : data files the run read; each gets the SHA-256 of the bytes actually used: the
            checksum stored with the cache entry the arrays came from when there was one
            (:func:`ecglib.cache.used_checksums`), else the file's current checksum
        **facts : counts, exclusions, seeds of generated data, anything a reader needs
        """
        from ecglib import data as _data

        entry: dict[str, Any] = {}
        try:
            meta = _data.info(name)
            entry.update(title=meta.title, version=meta.version, kind=meta.kind, citation=meta.citation)
            if meta.folder is not None:
                entry["folder"] = str(self.data_root / meta.folder)
        except (KeyError, ImportError, AttributeError) as err:
            entry["registry"] = f"not in registry ({err})"
        checksums = {}
        for path in files:
            path = Path(path)
            checksums[path.name] = _cache.used_checksums(path) or sha256_file(path)
        if checksums:
            entry["sha256"] = checksums
        entry.update(facts)
        self.provenance["data"][name] = entry
        self.save()
        return entry

    def finish(self, metrics: Mapping[str, float] | None = None) -> Path:
        """Write ``metrics.json`` (flat name -> number; non-finite become null) and close ``run.json``.

        A non-finite metric (a diverged model, an empty split) is not published as a plain
        completed run: ``run.json`` gets ``status: "completed_with_non_finite_metrics"`` and
        lists the metrics under ``non_finite_metrics``, and a warning names them.
        """
        flat = {}
        non_finite = []
        for key, value in (metrics or {}).items():
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise TypeError(f"metric {key!r} must be a number, got {type(value).__name__}")
            flat[str(key)] = _finite_or_none(float(value))
            if flat[str(key)] is None:
                non_finite.append(str(key))
        write_json_atomic(self.output_dir / "metrics.json", flat)
        self.provenance["status"] = "completed_with_non_finite_metrics" if non_finite else "completed"
        if non_finite:
            self.provenance["non_finite_metrics"] = non_finite
            warnings.warn(
                f"{self.study}/{self.profile}: non-finite metrics {non_finite} (a diverged model?); "
                "run.json flags the run",
                RuntimeWarning,
                stacklevel=2,
            )
        self.provenance["finished_at"] = _now()
        self.save()
        self.finished = True
        if self.owns_swap and self.final_dir is not None:
            _publish(self.output_dir, self.final_dir)
            failed = failed_dir_for(self.final_dir)
            if failed.exists():
                shutil.rmtree(failed)
            self.output_dir = self.final_dir
            print(f"outputs: {self.final_dir}")
        return self.final_dir or self.output_dir

    # -------------------------------------------------------- failure record for notebook-owned runs

    def _note_cell_error(self, result: Any) -> None:
        """IPython post_run_cell hook: remember the cell that raised (for the failure record)."""
        error = getattr(result, "error_in_exec", None) or getattr(result, "error_before_exec", None)
        if error is None or self.finished:
            return
        info = getattr(result, "info", None)
        self._last_error = {
            "source": (getattr(info, "raw_cell", "") or "")[:2000],
            "ename": type(error).__name__,
            "evalue": str(error)[:4000],
        }
        if isinstance(error, KeyboardInterrupt):
            return
        record = self._failure_record(f"{type(error).__name__}: {str(error)[:4000]}")
        write_json_atomic(failed_dir_for(self.final_dir) / "failure.json", record)
        print(
            f"run not finished: {record['error']}. Previous outputs in {self.final_dir} are untouched; "
            f"failure recorded in {failed_dir_for(self.final_dir)}",
            file=sys.stderr,
        )

    def _failure_record(self, error: str) -> dict[str, Any]:
        return {
            "study": self.study,
            "profile": self.profile,
            "run_id": self.output_dir.name,
            "pid": os.getpid(),
            "started_at": self.provenance.get("started_at"),
            "failed_at": _now(),
            "error": error,
            "cell": self._last_error or {"note": "no cell raised (the kernel stopped before run.finish())"},
            "previous_outputs_kept": bool(self.final_dir and self.final_dir.exists()),
        }

    def _abandon(self) -> None:
        """At interpreter exit: an unfinished notebook-owned run becomes ``<final>.failed/``."""
        if self.finished or not self.owns_swap or self.final_dir is None or not self.output_dir.is_dir():
            return
        error = (
            f"{self._last_error['ename']}: {self._last_error['evalue']}"
            if self._last_error
            else "the kernel shut down before run.finish()"
        )
        self.provenance["status"] = "failed"
        with contextlib.suppress(OSError):
            self.save()
        with contextlib.suppress(OSError):
            _record_failure(self.output_dir, failed_dir_for(self.final_dir), self._failure_record(error))


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def default_output_dir(study: str, profile: str) -> Path:
    return _params.repo_root() / "outputs" / study / profile


def interactive_output_dir(study: str, profile: str) -> Path:
    """Final folder of a notebook run without ``output_dir`` (JupyterLab, plain papermill)."""
    return _params.repo_root() / "outputs" / study / f"{profile}{INTERACTIVE_SUFFIX}"


INTERACTIVE_SUFFIX = ".interactive"
_STAGING = re.compile(r"^\.(?P<final>.+)\.staging-(?P<pid>\d+)-(?P<started>\d+)$")
_OLD = re.compile(r"^\.(?P<final>.+)\.old-(?P<pid>\d+)$")


def failed_dir_for(final_dir: Path) -> Path:
    """``<final>.failed``: the record of the last failed run that was to publish into ``final_dir``."""
    return final_dir.with_name(f"{final_dir.name}.failed")


def new_staging_dir(final_dir: Path) -> Path:
    """A fresh ``.<final>.staging-<pid>-<time_ns>`` folder beside ``final_dir`` (stale ones cleaned first)."""
    clean_stale(final_dir.parent)
    staging = final_dir.with_name(f".{final_dir.name}.staging-{os.getpid()}-{time.time_ns()}")
    staging.mkdir(parents=True)
    return staging


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (a zombie counts as gone)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    with contextlib.suppress(OSError, IndexError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return True


def clean_stale(folder: Path) -> list[Path]:
    """Turn the staging folders of runs whose process is gone into failure records; returns them.

    A run killed with SIGKILL (or by the out-of-memory killer, or a power cut) leaves
    ``.<profile>.staging-<pid>-<time>/``. When ``<pid>`` no longer runs, the newest such
    folder of a profile becomes ``<profile>.failed/`` (with a ``failure.json`` that says so,
    when it started and when it was found), unless a newer failure is already recorded;
    older ones are removed. A half-done swap (``.<profile>.old-<pid>``) is undone.
    """
    if not folder.is_dir():
        return []
    found = []
    stale = []
    for child in folder.iterdir():
        match = _STAGING.match(child.name)
        if match and child.is_dir() and not process_alive(int(match["pid"])):
            stale.append((int(match["started"]), child, match))
        old = _OLD.match(child.name)
        if old and child.is_dir() and not process_alive(int(old["pid"])):
            final = folder / old["final"]
            if final.exists():
                shutil.rmtree(child, ignore_errors=True)
            else:
                os.replace(child, final)  # killed between the two renames of a swap: put the old outputs back
    for started, staging, match in sorted(stale, key=lambda item: item[0]):
        final = folder / match["final"]
        failed = failed_dir_for(final)
        started_s = started / 1e9 if started > 1e12 else float(started)
        previous = failed / "failure.json"
        newer_recorded = False
        with contextlib.suppress(OSError, ValueError, TypeError):
            recorded = json.loads(previous.read_text())
            newer_recorded = _dt.datetime.fromisoformat(recorded["failed_at"]).timestamp() > started_s
        if newer_recorded:
            shutil.rmtree(staging, ignore_errors=True)
            continue
        record = {
            "study": folder.name,
            "profile": match["final"],
            "run_id": staging.name,
            "pid": int(match["pid"]),
            "started_at": _dt.datetime.fromtimestamp(started_s, _dt.UTC).isoformat(timespec="seconds"),
            "failed_at": _now(),
            "error": (
                f"process {match['pid']} ended without finishing or recording a failure "
                "(killed with SIGKILL, out of memory, or the machine stopped); found by a later run"
            ),
            "previous_outputs_kept": final.exists(),
        }
        with contextlib.suppress(OSError):
            _record_failure(staging, failed, record)
            found.append(failed)
    return found


def _record_failure(staging: Path, failed_dir: Path, record: Mapping[str, Any]) -> None:
    """Write ``failure.json`` into ``staging`` and make it ``failed_dir`` (replacing an older record)."""
    write_json_atomic(staging / "failure.json", dict(record))
    if failed_dir.exists():
        shutil.rmtree(failed_dir)
    os.replace(staging, failed_dir)


def start_run(cfg: _params.Params, *, output_dir: str | os.PathLike | None = None) -> Run:
    """Begin a run inside a notebook: seed, choose the device, write the first ``run.json``.

    When the study has an ``n_threads`` parameter (> 0), torch's CPU threads are set to it.

    ``output_dir`` is the folder the outputs end up in. :func:`run_study` injects its own
    staging folder (and swaps it in itself). Any other ``output_dir`` (``papermill -p
    output_dir ...``) is staged here and swapped in by ``run.finish()``; left ``None`` (a
    notebook run by hand in JupyterLab) it is ``outputs/<study>/<profile>.interactive``, so
    the outputs of ``ecglib run`` are never mixed with an interactive run's. The final
    folder is printed.
    """
    from ecglib.train import resolve_device

    requested = Path(output_dir).expanduser() if output_dir else None
    if requested is not None and _STAGING.match(requested.name):  # the runner's staging folder
        out, final_dir, owns_swap = (
            requested,
            requested.parent / _STAGING.match(requested.name)["final"],
            False,
        )
        out.mkdir(parents=True, exist_ok=True)
    else:
        final_dir = (requested or interactive_output_dir(cfg.study, cfg.profile)).resolve()
        _discard_own_unfinished(final_dir)
        out, owns_swap = new_staging_dir(final_dir), True
    (out / "tables").mkdir(exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)
    device = resolve_device(cfg.device)
    if cfg.values.get("n_threads"):
        # Studies may pin torch's intra-op threads: on small shared machines one thread
        # avoids OpenMP spin-waits that make small models several times slower.
        import torch

        torch.set_num_threads(int(cfg.n_threads))
    seeds = seed_everything(cfg.seed)
    run = Run(
        cfg=cfg,
        output_dir=out,
        device=device,
        data_root=_data_root(),
        final_dir=final_dir,
        owns_swap=owns_swap,
    )
    run.provenance = {
        "study": cfg.study,
        "profile": cfg.profile,
        "status": "running",
        "started_at": _now(),
        "params": cfg.as_dict(),
        "seeds": {"seed": cfg.seed, "global_rngs_seeded_by_start_run": seeds},
        "data_source": cfg.data_source,
        "data_root": str(run.data_root),
        "data": {},
        "git": git_commit(),
        "versions": library_versions(),
        "device": device_facts(device),
        "stages": {},
    }
    run.provenance["git_commit"] = run.provenance["git"].get("commit")
    run.provenance["run_id"] = out.name
    run.save()
    if owns_swap:
        _watch(run)
    where = "a notebook run by hand" if requested is None else ("output_dir" if owns_swap else "ecglib run")
    print(
        f"outputs of this run ({where}): {final_dir} (staged in {out.name} beside it until the run completes)"
    )
    return run


_ACTIVE: list[Run] = []


def _discard_own_unfinished(final_dir: Path) -> None:
    """Running the first cell again in the same kernel abandons the previous unfinished run."""
    for run in list(_ACTIVE):
        if run.final_dir == final_dir and not run.finished:
            shutil.rmtree(run.output_dir, ignore_errors=True)
            run.finished = True
            _ACTIVE.remove(run)


def _watch(run: Run) -> None:
    """Record the cell that raises (IPython) and turn an unfinished run into a failure record at exit."""
    import atexit

    _ACTIVE.append(run)
    atexit.register(run._abandon)
    with contextlib.suppress(ImportError, AttributeError):
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            shell.events.register("post_run_cell", run._note_cell_error)


# ---------------------------------------------------------------------------- outside: papermill


class RunFailed(RuntimeError):
    """A study notebook raised; the message names the cell and where the failure record is."""


class RunTerminated(KeyboardInterrupt):
    """The runner received SIGTERM or SIGHUP (a timeout, a scheduler, a closed terminal)."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"received {signal.Signals(signum).name}")


@contextlib.contextmanager
def _terminate_like_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`RunTerminated` (handled like Ctrl-C)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise RunTerminated(signum)

    names = [name for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    previous = {name: signal.signal(getattr(signal, name), handler) for name in names}
    try:
        yield
    finally:
        for name, old in previous.items():
            signal.signal(getattr(signal, name), old)


def notebook_path(study: str) -> Path:
    return _params.repo_root() / "notebooks" / f"{study}.ipynb"


def available_studies() -> list[str]:
    """Studies that have both a notebook and a parameter folder."""
    from ecglib import STUDIES

    return [s for s in STUDIES if notebook_path(s).exists() and (_params.params_root() / s).is_dir()]


#: ipykernel logs a warning about plain TCP on every start; kernels here talk to a local client only
QUIET_KERNEL_ARGS = ("--IPKernelApp.log_level=ERROR",)


def install_kernel(
    name: str = KERNEL_NAME, *, display_name: str = "Python (ecglib)", prefix: str | None = None
) -> Path:
    """Register this Python as Jupyter kernel ``name`` (in ``prefix``, default ``sys.prefix``).

    The kernel logs errors only, so a normal papermill or ``ecglib run`` prints no warning
    (a real problem, such as an unknown parameter, is then not drowned by routine noise).
    Returns the kernelspec folder.
    """
    from ipykernel.kernelspec import install

    folder = Path(install(kernel_name=name, display_name=display_name, prefix=prefix or sys.prefix))
    spec_file = folder / "kernel.json"
    spec = json.loads(spec_file.read_text())
    spec["argv"] += [arg for arg in QUIET_KERNEL_ARGS if arg not in spec["argv"]]
    write_json_atomic(spec_file, spec)
    return folder


def _check_kernel(kernel_name: str) -> None:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        raise RunFailed(
            f"Jupyter kernel {kernel_name!r} is not registered. Register it for this environment with "
            f"`{sys.executable} -c 'import ecglib.runner as r; r.install_kernel()'` (README: `make setup`)."
        ) from None


def _failed_cell(notebook_file: Path) -> dict[str, Any]:
    """Index, source and error of the first cell that raised in an executed notebook."""
    import nbformat

    try:
        nb = nbformat.read(notebook_file, as_version=4)
    except Exception as err:  # noqa: BLE001 - a half-written notebook must not hide the real failure
        return {"note": f"executed notebook unreadable: {err}"}
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return {
                    "cell_index": index,
                    "execution_count": cell.get("execution_count"),
                    "source": cell.get("source", "")[:2000],
                    "ename": output.get("ename"),
                    "evalue": output.get("evalue"),
                }
    return {"note": "no cell with an error output (interrupted or failed outside a cell)"}


def run_study(
    study: str,
    profile: str = "smoke",
    *,
    output_root: str | os.PathLike | None = None,
    overrides: Mapping[str, Any] | None = None,
    data_root: str | os.PathLike | None = None,
    notebook: str | os.PathLike | None = None,
    kernel_name: str = KERNEL_NAME,
    log_output: bool = True,
) -> Path:
    """Execute ``notebooks/<study>.ipynb`` with a profile and publish its outputs atomically.

    Returns
    -------
    Path of ``<output_root>/<study>/<profile>/`` holding the executed notebook,
    ``tables/``, ``figures/``, ``metrics.json`` and ``run.json``.

    Raises
    ------
    ParamsError
        before anything runs, when the profile is invalid.
    RunFailed
        when the notebook raised; previous outputs are kept and the failure is recorded in
        ``<study>/<profile>.failed/failure.json`` beside the executed notebook.
    """
    import papermill

    cfg = _params.load(study, profile, overrides)
    nb_in = Path(notebook) if notebook else notebook_path(study)
    if not nb_in.exists():
        raise RunFailed(f"{nb_in}: no notebook for study {study!r}")
    _check_kernel(kernel_name)
    root = Path(output_root) if output_root else _params.repo_root() / "outputs"
    final_dir = root / study / profile
    failed_dir = failed_dir_for(final_dir)
    try:
        staging = new_staging_dir(final_dir)
    except OSError as err:
        raise RunFailed(
            f"{root / study}: cannot create the output folder ({err.strerror or err}); "
            "choose a writable --output-root"
        ) from err
    nb_out = staging / f"{study}.ipynb"
    env_backup = os.environ.get(DATA_ROOT_ENV)
    if data_root is not None:
        os.environ[DATA_ROOT_ENV] = str(Path(data_root).expanduser().resolve())
    t0 = time.perf_counter()
    started_at = _now()
    log.info("running %s/%s -> %s", study, profile, final_dir)
    try:
        with _terminate_like_interrupt():
            papermill.execute_notebook(
                str(nb_in),
                str(nb_out),
                parameters={**cfg.as_dict(), "output_dir": str(staging)},
                kernel_name=kernel_name,
                log_output=log_output,
                progress_bar=False,
                cwd=str(_params.repo_root()),
            )
    except BaseException as err:  # noqa: BLE001 - record interrupts too, then re-raise
        record = {
            "study": study,
            "profile": profile,
            "run_id": staging.name,
            "pid": os.getpid(),
            "command": " ".join(sys.argv),
            "started_at": started_at,
            "failed_at": _now(),
            "wall_time_s": round(time.perf_counter() - t0, 3),
            "error": f"{type(err).__name__}: {str(err)[:4000]}",
            "cell": _failed_cell(nb_out) if nb_out.exists() else {"note": "notebook did not start"},
            "params": cfg.as_dict(),
            "previous_outputs_kept": final_dir.exists(),
        }
        _record_failure(staging, failed_dir, record)
        if isinstance(err, Exception):
            cell = record["cell"]
            where = f"cell {cell['cell_index']}" if "cell_index" in cell else "the notebook"
            raise RunFailed(
                f"{study}/{profile} failed in {where}: {cell.get('ename', type(err).__name__)}: "
                f"{cell.get('evalue', err)}. Previous outputs kept; failure recorded in {failed_dir}"
            ) from err
        raise
    finally:
        if data_root is not None:
            if env_backup is None:
                os.environ.pop(DATA_ROOT_ENV, None)
            else:
                os.environ[DATA_ROOT_ENV] = env_backup

    run_json = staging / "run.json"
    provenance = json.loads(run_json.read_text()) if run_json.exists() else {}
    if not str(provenance.get("status", "")).startswith("completed"):
        provenance.setdefault("status", "incomplete")
        provenance["note"] = "the notebook ended without calling run.finish()"
    provenance["runner"] = {
        "notebook": str(
            nb_in.relative_to(_params.repo_root()) if nb_in.is_relative_to(_params.repo_root()) else nb_in
        ),
        "kernel": kernel_name,
        "papermill_wall_time_s": round(time.perf_counter() - t0, 3),
        "command": " ".join(sys.argv),
    }
    write_json_atomic(run_json, provenance)
    _publish(staging, final_dir)
    if failed_dir.exists():
        shutil.rmtree(failed_dir)
    log.info("%s/%s done in %.1f s", study, profile, time.perf_counter() - t0)
    return final_dir


def _publish(staging: Path, final_dir: Path) -> None:
    """Swap ``staging`` into ``final_dir``; the old outputs are removed only after the swap."""
    old = final_dir.with_name(f".{final_dir.name}.old-{os.getpid()}")
    if final_dir.exists():
        os.replace(final_dir, old)
    os.replace(staging, final_dir)
    if old.exists():
        shutil.rmtree(old)
