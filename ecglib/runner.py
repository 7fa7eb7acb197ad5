"""Running a study: provenance inside the notebook (:func:`start_run`) and papermill outside it (:func:`run_study`).

Inside a notebook, ``run = start_run(cfg, output_dir=output_dir)`` seeds the global RNGs
(for third-party code; ecglib itself takes explicit seeds), picks the device and writes
``run.json``; ``with run.stage("pretrain"):`` times a stage; ``run.record_data(...)`` notes
a data source with its version and checksums; ``run.finish(metrics)`` writes
``metrics.json`` and closes ``run.json``.

Outside, :func:`run_study` validates the profile, executes the notebook with papermill into
a staging folder and only then swaps it into ``outputs/<study>/<profile>/``. A failed or
interrupted run leaves the previous good outputs untouched and records the failure (with
the cell that raised) in ``outputs/<study>/<profile>.failed/``.
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
import shutil
import subprocess
import sys
import time
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
    """The current commit and whether the work tree has uncommitted changes."""
    repo = repo or _params.repo_root()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
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
    _t0: float = field(default_factory=time.perf_counter)

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
        """Write ``metrics.json`` (flat name -> number; non-finite become null) and close ``run.json``."""
        flat = {}
        for key, value in (metrics or {}).items():
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise TypeError(f"metric {key!r} must be a number, got {type(value).__name__}")
            flat[str(key)] = _finite_or_none(float(value))
        write_json_atomic(self.output_dir / "metrics.json", flat)
        self.provenance["status"] = "completed"
        self.provenance["finished_at"] = _now()
        self.save()
        return self.output_dir


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def default_output_dir(study: str, profile: str) -> Path:
    return _params.repo_root() / "outputs" / study / profile


def start_run(cfg: _params.Params, *, output_dir: str | os.PathLike | None = None) -> Run:
    """Begin a run inside a notebook: seed, choose the device, write the first ``run.json``.

    When the study has an ``n_threads`` parameter (> 0), torch's CPU threads are set to it.

    ``output_dir`` is injected by :func:`run_study`; left ``None`` (JupyterLab, plain
    papermill) it is ``outputs/<study>/<profile>``.
    """
    from ecglib.train import resolve_device

    out = Path(output_dir) if output_dir else default_output_dir(cfg.study, cfg.profile)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tables").mkdir(exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)
    device = resolve_device(cfg.device)
    if cfg.values.get("n_threads"):
        # Studies may pin torch's intra-op threads: on small shared machines one thread
        # avoids OpenMP spin-waits that make small models several times slower.
        import torch

        torch.set_num_threads(int(cfg.n_threads))
    seeds = seed_everything(cfg.seed)
    run = Run(cfg=cfg, output_dir=out, device=device, data_root=_data_root())
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
    run.save()
    return run


# ---------------------------------------------------------------------------- outside: papermill


class RunFailed(RuntimeError):
    """A study notebook raised; the message names the cell and where the failure record is."""


def notebook_path(study: str) -> Path:
    return _params.repo_root() / "notebooks" / f"{study}.ipynb"


def available_studies() -> list[str]:
    """Studies that have both a notebook and a parameter folder."""
    from ecglib import STUDIES

    return [s for s in STUDIES if notebook_path(s).exists() and (_params.params_root() / s).is_dir()]


def _check_kernel(kernel_name: str) -> None:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        raise RunFailed(
            f"Jupyter kernel {kernel_name!r} is not registered. Register it for this environment with "
            f"`{sys.executable} -m ipykernel install --sys-prefix --name {kernel_name}` (README: `make setup`)."
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
    failed_dir = root / study / f"{profile}.failed"
    staging = root / study / f".{profile}.staging-{os.getpid()}-{int(time.time())}"
    staging.mkdir(parents=True)
    nb_out = staging / f"{study}.ipynb"
    env_backup = os.environ.get(DATA_ROOT_ENV)
    if data_root is not None:
        os.environ[DATA_ROOT_ENV] = str(Path(data_root).expanduser().resolve())
    t0 = time.perf_counter()
    log.info("running %s/%s -> %s", study, profile, final_dir)
    try:
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
            "failed_at": _now(),
            "wall_time_s": round(time.perf_counter() - t0, 3),
            "error": f"{type(err).__name__}: {str(err)[:4000]}",
            "cell": _failed_cell(nb_out) if nb_out.exists() else {"note": "notebook did not start"},
            "params": cfg.as_dict(),
            "previous_outputs_kept": final_dir.exists(),
        }
        write_json_atomic(staging / "failure.json", record)
        if failed_dir.exists():
            shutil.rmtree(failed_dir)
        os.replace(staging, failed_dir)
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
    if provenance.get("status") != "completed":
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
