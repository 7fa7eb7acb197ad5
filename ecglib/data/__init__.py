"""Datasets: shared record types, the data root and the registry of every data source.

Every data source, public (``mitbih``, ``ptbxl``...) or generated offline
(``deepfake-gan``, ``sim-chapman``...), is registered here by name, so a parameter
file can swap one name for another. Each module listed in ``REGISTRY`` defines a
module-level ``INFO`` (a :class:`DatasetInfo`), or ``INFO_BY_NAME`` (a dict of them)
when one module serves several names. Modules are imported lazily.

Conventions (see ../shared/STYLE.md): a record is ``(n_samples, n_leads)`` in
millivolts; sampling rates are in hertz; a torch batch is ``(batch, n_leads, n_samples)``.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType

import numpy as np

# re-exported: the error types live in ecglib.errors (below every layer)
from ecglib.errors import DataFormatError as DataFormatError
from ecglib.errors import DataMissingError as DataMissingError

DATA_ROOT_ENV = "ECGLIB_DATA"
CACHE_ENV = "ECGLIB_CACHE"
DEFAULT_DATA_ROOT = Path("~/ecglib_data")
DEFAULT_CACHE_DIR = Path("~/.cache/ecglib")

#: registered name -> module that implements it. Add a line here for a new source.
REGISTRY: dict[str, str] = {
    # public datasets (real loaders and downloaders)
    "mitbih": "ecglib.data.mitbih",
    "ludb": "ecglib.data.ludb",
    "chapman": "ecglib.data.chapman",
    "ptbxl": "ecglib.data.ptbxl",
    "ptbxl-plus": "ecglib.data.ptbxl_plus",
    "cpsc2018": "ecglib.data.cpsc2018",
    "georgia": "ecglib.data.georgia",
    "ptbdb": "ecglib.data.ptbdb",
    "code-test": "ecglib.data.code_test",
    "kaggle-heartbeat": "ecglib.data.kaggle_heartbeat",
    "deepfake": "ecglib.data.deepfake",
    # generated offline (no download)
    "deepfake-gan": "ecglib.data.deepfake_gan",
    "sim-chapman": "ecglib.data.simulated",
    "sim-ptbxl": "ecglib.data.simulated",
    "sim-beats": "ecglib.data.simulated",
    "sim-mitbih-windows": "ecglib.data.simulated",
}


@dataclass(frozen=True)
class DatasetInfo:
    """Facts about one data source, kept beside its reader.

    ``folder`` is the sub-folder under the data root (None for generated sources);
    ``files`` maps relative paths to SHA-256 digests where the source publishes or we
    pinned them (used by the downloader and by run provenance).
    """

    name: str
    title: str
    version: str
    citation: str
    licence: str
    homepage: str
    kind: str  # "public" | "offline"
    folder: str | None = None
    source_urls: tuple[str, ...] = ()
    files: dict[str, str] = field(default_factory=dict)
    approx_size_bytes: int | None = None
    fs_hz: float | None = None
    lead_names: tuple[str, ...] = ()
    notes: str = ""


@dataclass
class EcgRecord:
    """One ECG recording.

    Attributes
    ----------
    signal_mv : ndarray of shape (n_samples, n_leads), float32, millivolts
    fs_hz : sampling rate in hertz
    lead_names : names of the columns of ``signal_mv``
    record_id, patient_id : identifiers within ``source``
    source : registered dataset name
    meta : anything else the dataset provides (labels, demographics, ...)
    """

    record_id: str
    patient_id: str
    signal_mv: np.ndarray
    fs_hz: float
    lead_names: tuple[str, ...]
    source: str
    meta: dict = field(default_factory=dict)


TASKS = ("single_label", "multi_label", "regression")


@dataclass
class LabelledSet:
    """Examples ready for a study: equal-length signals, targets and patient ids.

    Attributes
    ----------
    signals_mv : ndarray of shape (n_examples, n_samples, n_leads), float32, millivolts
        (or normalised units once a normalisation has been applied; see ``units``)
    targets : ndarray
        ``(n_examples,)`` int64 class ids for ``single_label``; ``(n_examples, n_classes)``
        float32 multi-hot for ``multi_label``; ``(n_examples, n_targets)`` float32 for
        ``regression``.
    patient_ids : ndarray of shape (n_examples,), str; splits are made on these
    fs_hz : sampling rate in hertz
    lead_names : names of the last axis of ``signals_mv``
    target_names : class names or regression target names (with units, e.g. ``qrs_ms``)
    task : one of ``TASKS``
    source : registered dataset name that produced the examples
    exclusions : reason -> number of records/windows dropped under a documented policy
    units : "mV" or the normalisation applied
    """

    signals_mv: np.ndarray
    targets: np.ndarray
    patient_ids: np.ndarray
    fs_hz: float
    lead_names: tuple[str, ...]
    target_names: tuple[str, ...]
    task: str
    source: str
    exclusions: dict[str, int] = field(default_factory=dict)
    units: str = "mV"

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        n = len(self.signals_mv)
        if self.signals_mv.ndim != 3:
            raise ValueError(
                f"signals_mv must be (n_examples, n_samples, n_leads), got shape {self.signals_mv.shape}"
            )
        if len(self.targets) != n or len(self.patient_ids) != n:
            raise ValueError(
                f"signals_mv, targets and patient_ids disagree in length: {n}, {len(self.targets)}, {len(self.patient_ids)}"
            )

    def __len__(self) -> int:
        return len(self.signals_mv)

    def subset(self, indices: np.ndarray) -> LabelledSet:
        """The examples at ``indices`` (an index array or boolean mask), everything else unchanged."""
        indices = np.asarray(indices)
        return replace(
            self,
            signals_mv=self.signals_mv[indices],
            targets=self.targets[indices],
            patient_ids=self.patient_ids[indices],
        )


def data_root(path: str | os.PathLike | None = None) -> Path:
    """The data root: ``path`` if given, else ``$ECGLIB_DATA``, else ``~/ecglib_data``."""
    chosen = path if path is not None else os.environ.get(DATA_ROOT_ENV) or DEFAULT_DATA_ROOT
    return Path(chosen).expanduser().resolve()


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """Folder for cached preprocessed arrays: ``path``, else ``$ECGLIB_CACHE``, else ``~/.cache/ecglib``."""
    chosen = path if path is not None else os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR
    return Path(chosen).expanduser().resolve()


def module(name: str) -> ModuleType:
    """Import and return the module that implements registered source ``name``."""
    if name not in REGISTRY:
        raise KeyError(f"unknown data source {name!r}; registered: {', '.join(sorted(REGISTRY))}")
    return importlib.import_module(REGISTRY[name])


def info(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` of registered source ``name``."""
    mod = module(name)
    by_name = getattr(mod, "INFO_BY_NAME", None)
    return by_name[name] if by_name is not None else mod.INFO


def is_synthetic(name: str) -> bool:
    """True when data source ``name`` is generated offline (simulator, GAN) rather than recorded.

    Unregistered names count as synthetic when they start with ``sim-`` or ``deepfake-gan``.
    """
    try:
        return info(name).kind == "offline"
    except (KeyError, ImportError, AttributeError):
        return name.startswith(("sim-", "deepfake-gan"))


def dataset_folder(name: str, root: str | os.PathLike | None = None) -> Path:
    """Where public dataset ``name`` lives under the data root."""
    meta = info(name)
    if meta.folder is None:
        raise ValueError(f"{name!r} is generated offline and has no folder under the data root")
    return data_root(root) / meta.folder
