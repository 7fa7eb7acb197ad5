"""Kaggle "ECG Heartbeat Categorization Dataset" (Kachuee, Fazeli & Sarrafzadeh 2018).

Facts kept beside the reader
----------------------------
- Four CSV files without a header row: ``mitbih_train.csv`` (87,554 beats),
  ``mitbih_test.csv`` (21,892), ``ptbdb_normal.csv`` (4,046), ``ptbdb_abnormal.csv``
  (10,506). Each row is one beat: 187 samples at 125 Hz (zero-padded at the end), then
  the label in column 188 (as a float, e.g. ``0.000000000000000000e+00``).
- MIT-BIH labels 0-4 = N, S, V, F, Q (AAMI classes); PTB labels 0 = normal, 1 = abnormal
  (myocardial infarction).
- Amplitudes were min-max normalised to [0, 1] per beat window by Kachuee et al.; they
  are not millivolts. The returned set says so in ``units``.
- **No patient or record ids exist in these files.** The patient-wise rule of this
  project cannot be applied: the MIT-BIH files come with an official train/test split
  (which is used as is), and PTB has no split at all. ``patient_ids`` are therefore row
  ids (``"mitbih_train:row000012"``), and ``exclusions`` carries the key
  :data:`NO_PATIENT_IDS_NOTE` (count 0) so the limitation travels with the data.
- Download needs a Kaggle account (``kaggle datasets download -d shayanfazeli/heartbeat``);
  ``ecglib data download kaggle-heartbeat`` works only with a mirror (``--base-url`` or
  ``$ECGLIB_MIRROR``) holding the four CSV files.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ecglib.data import DataFormatError, DataMissingError, DatasetInfo, LabelledSet, dataset_folder

NAME = "kaggle-heartbeat"
FS_HZ = 125.0
N_SAMPLES = 187
FILES: dict[str, str] = {
    "mitbih_train": "mitbih_train.csv",
    "mitbih_test": "mitbih_test.csv",
    "ptbdb_normal": "ptbdb_normal.csv",
    "ptbdb_abnormal": "ptbdb_abnormal.csv",
}
MITBIH_CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "Q")
PTBDB_CLASSES: tuple[str, ...] = ("normal", "abnormal")
UNITS = "normalised to [0, 1] per beat (Kachuee et al. 2018), not mV"
NO_PATIENT_IDS_NOTE = "no patient ids in source: patient_ids are row ids, patient-wise split impossible"

INFO = DatasetInfo(
    name=NAME,
    title="ECG Heartbeat Categorization Dataset (Kaggle, shayanfazeli/heartbeat)",
    version="Kaggle shayanfazeli/heartbeat v1",
    citation=(
        "Kachuee M, Fazeli S, Sarrafzadeh M. ECG heartbeat classification: a deep transferable representation. "
        "2018 IEEE International Conference on Healthcare Informatics (ICHI), pp. 443-444. "
        "https://doi.org/10.1109/ICHI.2018.00092"
    ),
    licence="Kaggle dataset licence (derived from MIT-BIH and PTB Diagnostic, ODC-By 1.0)",
    homepage="https://www.kaggle.com/datasets/shayanfazeli/heartbeat",
    kind="public",
    folder="kaggle-heartbeat",
    source_urls=(),
    approx_size_bytes=530_000_000,
    fs_hz=FS_HZ,
    lead_names=("MLII",),
    notes="Beats of 187 samples at 125 Hz, min-max normalised; NO patient ids (row ids used; official MIT-BIH train/test split).",
)

#: Files whose presence marks the dataset as installed (status without a completion marker).
REQUIRED_FILES: tuple[str, ...] = tuple(FILES.values())


def folder(root: str | os.PathLike | None = None) -> Path:
    """The folder holding the CSV files (possibly one level below the dataset folder)."""
    path = dataset_folder(NAME, root)
    candidates = [path, *sorted(p for p in path.glob("*") if p.is_dir())] if path.is_dir() else []
    for candidate in candidates:
        if any((candidate / name).exists() for name in FILES.values()):
            return candidate
    raise DataMissingError(NAME, path)


def load_split(name: str, root: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One CSV file as (beats of shape (n, 187) float32, labels of shape (n,) int64).

    Raises DataFormatError naming the file for a wrong column count, NaNs or labels that
    are not whole numbers in the file's class range.
    """
    if name not in FILES:
        raise ValueError(f"name must be one of {tuple(FILES)}, got {name!r}")
    path = folder(root) / FILES[name]
    if not path.exists():
        raise DataFormatError(f"{path}: file is missing")
    try:
        values = pd.read_csv(path, header=None, dtype=np.float64).to_numpy()
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise DataFormatError(f"{path}: cannot parse CSV ({exc})") from None
    if values.ndim != 2 or values.shape[1] != N_SAMPLES + 1:
        raise DataFormatError(
            f"{path}: {values.shape[1] if values.ndim == 2 else '?'} columns, expected {N_SAMPLES} samples + 1 label"
        )
    if np.isnan(values).any():
        raise DataFormatError(f"{path}: contains empty cells / NaN")
    labels = values[:, -1]
    n_classes = len(MITBIH_CLASSES) if name.startswith("mitbih") else len(PTBDB_CLASSES)
    if not np.all(labels == np.round(labels)) or labels.min() < 0 or labels.max() >= n_classes:
        raise DataFormatError(
            f"{path}: labels must be whole numbers 0..{n_classes - 1}, found {sorted(set(labels.tolist()))[:10]}"
        )
    return values[:, :N_SAMPLES].astype(np.float32), labels.astype(np.int64)


def load_labelled(
    root: str | os.PathLike | None = None, *, subset: str = "mitbih", split: str = "train"
) -> LabelledSet:
    """Single-label beat set.

    Parameters
    ----------
    subset : ``"mitbih"`` (5 classes N, S, V, F, Q) or ``"ptbdb"`` (normal, abnormal)
    split : for ``mitbih``, ``"train"`` or ``"test"`` (the official files); for ``ptbdb``
        only ``"all"`` exists (normal rows first, then abnormal)

    Returns
    -------
    LabelledSet, task ``single_label``: ``signals_mv`` (n, 187, 1) float32 in
    normalised units (``units`` says so), ``targets`` (n,) int64, ``patient_ids`` row ids.
    """
    if subset == "mitbih":
        if split not in ("train", "test"):
            raise ValueError(f"mitbih split must be 'train' or 'test', got {split!r}")
        key = f"mitbih_{split}"
        beats, labels = load_split(key, root)
        ids = [f"{key}:row{i:06d}" for i in range(len(beats))]
        classes, lead = MITBIH_CLASSES, "MLII"
    elif subset == "ptbdb":
        if split != "all":
            raise ValueError("ptbdb has no official split; use split='all' and split it yourself (beat-wise)")
        normal, normal_labels = load_split("ptbdb_normal", root)
        abnormal, abnormal_labels = load_split("ptbdb_abnormal", root)
        if normal_labels.any() or not abnormal_labels.all():
            raise DataFormatError(
                f"{folder(root)}: ptbdb_normal.csv must hold label 0 only and ptbdb_abnormal.csv label 1 only"
            )
        beats, labels = np.vstack([normal, abnormal]), np.concatenate([normal_labels, abnormal_labels])
        ids = [f"ptbdb_normal:row{i:06d}" for i in range(len(normal))] + [
            f"ptbdb_abnormal:row{i:06d}" for i in range(len(abnormal))
        ]
        classes, lead = PTBDB_CLASSES, "II"
    else:
        raise ValueError(f"subset must be 'mitbih' or 'ptbdb', got {subset!r}")
    return LabelledSet(
        signals_mv=beats[:, :, None],
        targets=labels,
        patient_ids=np.asarray(ids, dtype=str),
        fs_hz=FS_HZ,
        lead_names=(lead,),
        target_names=classes,
        task="single_label",
        source=NAME,
        exclusions={NO_PATIENT_IDS_NOTE: 0},
        units=UNITS,
    )
