"""PTB-XL 1.0.3 (Wagner et al. 2020): 21,799 clinical 12-lead, 10 s ECGs from 18,869 patients.

Facts kept beside the reader
----------------------------
- ``ptbxl_database.csv``: one row per ECG, key ``ecg_id``; ``patient_id`` (float in the
  file, e.g. ``15709.0``), ``scp_codes`` (a Python dict literal, SCP code -> likelihood in
  %, e.g. ``{'NORM': 100.0, 'SR': 0.0}``), ``strat_fold`` (1-10), ``filename_lr``
  (``records100/00000/00001_lr``) and ``filename_hr`` (``records500/00000/00001_hr``).
- ``scp_statements.csv``: index = SCP code; ``diagnostic`` (1 for the 44 diagnostic
  statements), ``diagnostic_class`` (superclass NORM, MI, STTC, CD, HYP), ``form``, ``rhythm``.
- ``records100/`` (100 Hz) and ``records500/`` (500 Hz) WFDB records, 12 leads in mV
  named I, II, III, AVR, AVL, AVF, V1-V6 (returned with canonical names aVR, aVL, aVF).
- Official folds (``strat_fold``, patient-wise stratified): 1-8 train, 9 validation,
  10 test (Strodthoff et al. 2021 benchmark).

Superclass labels
-----------------
A record's superclasses are the ``diagnostic_class`` of every SCP code in its
``scp_codes`` that has ``diagnostic == 1`` in ``scp_statements.csv``. Likelihood policy:
by default every listed code counts *regardless of its likelihood*, as in the benchmark
code of Strodthoff et al. (helme/ecg_ptbxl_benchmarking ``utils.compute_label_aggregations``
iterates over all keys of ``scp_codes``). ``min_likelihood`` keeps only codes whose
likelihood is at least that value (e.g. 100 for certain statements) as an option.
Records without any superclass are dropped by :func:`load_labelled` and counted under
``exclusions["no_superclass"]`` (the benchmark keeps only ``superdiagnostic_len > 0``).
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ecglib.data import DataFormatError, DataMissingError, DatasetInfo, EcgRecord, LabelledSet, dataset_folder
from ecglib.data.wfdb_records import read_record_mv
from ecglib.preprocess import select_leads

NAME = "ptbxl"
SUPERCLASSES: tuple[str, ...] = ("NORM", "MI", "STTC", "CD", "HYP")
LEADS: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
SAMPLING_RATES_HZ: tuple[int, ...] = (100, 500)
TRAIN_FOLDS, VALIDATION_FOLDS, TEST_FOLDS = tuple(range(1, 9)), (9,), (10,)
DATABASE_COLUMNS = ("ecg_id", "patient_id", "scp_codes", "strat_fold", "filename_lr", "filename_hr")

INFO = DatasetInfo(
    name=NAME,
    title="PTB-XL, a large publicly available electrocardiography dataset",
    version="1.0.3",
    citation=(
        "Wagner P, Strodthoff N, Bousseljot RD, et al. PTB-XL, a large publicly available electrocardiography "
        "dataset. Sci Data 7:154 (2020). https://doi.org/10.1038/s41597-020-0495-6. "
        "Wagner P et al. PTB-XL (version 1.0.3). PhysioNet (2022). https://doi.org/10.13026/kfzx-aw45"
    ),
    licence="CC BY 4.0",
    homepage="https://physionet.org/content/ptb-xl/1.0.3/",
    kind="public",
    folder="ptb-xl",
    source_urls=("https://physionet.org/files/ptb-xl/1.0.3/",),
    approx_size_bytes=3_000_000_000,
    fs_hz=500.0,
    lead_names=LEADS,
    notes="12-lead 10 s ECGs at 100 Hz (records100) and 500 Hz (records500); strat_fold 1-8 train, 9 val, 10 test.",
)

#: Files whose presence marks the dataset as installed (status without a completion marker).
REQUIRED_FILES: tuple[str, ...] = ("ptbxl_database.csv", "scp_statements.csv")

_CANONICAL_LEAD = {name.lower(): name for name in LEADS}


def folder(root: str | os.PathLike | None = None) -> Path:
    """The PTB-XL folder under the data root; raises DataMissingError when it is absent."""
    path = dataset_folder(NAME, root)
    if not (path / "ptbxl_database.csv").exists():
        raise DataMissingError(NAME, path)
    return path


def _parse_scp_codes(text: str, path: Path, ecg_id) -> dict[str, float]:
    try:
        codes = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise DataFormatError(
            f"{path}: scp_codes of ecg_id {ecg_id} is not a dict literal: {text!r}"
        ) from None
    if not isinstance(codes, dict):
        raise DataFormatError(f"{path}: scp_codes of ecg_id {ecg_id} is not a dict: {text!r}")
    return {str(code): float(likelihood) for code, likelihood in codes.items()}


def load_metadata(root: str | os.PathLike | None = None) -> pd.DataFrame:
    """``ptbxl_database.csv`` indexed by ``ecg_id``, ``scp_codes`` parsed to dicts, ``patient_id`` as str.

    Raises DataFormatError naming the file when a required column is missing or a
    ``scp_codes`` entry is not a dict literal.
    """
    path = folder(root) / "ptbxl_database.csv"
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{path}: cannot parse CSV ({exc})") from None
    missing = [column for column in DATABASE_COLUMNS if column not in frame.columns]
    if missing:
        raise DataFormatError(f"{path}: missing columns {missing}")
    if frame["patient_id"].isna().any() or frame["strat_fold"].isna().any():
        raise DataFormatError(
            f"{path}: empty patient_id or strat_fold in {int(frame[['patient_id', 'strat_fold']].isna().any(axis=1).sum())} rows"
        )
    frame["scp_codes"] = [
        _parse_scp_codes(text, path, ecg_id) for text, ecg_id in zip(frame["scp_codes"], frame["ecg_id"])
    ]
    frame["patient_id"] = frame["patient_id"].astype(float).astype(int).astype(str)
    frame["strat_fold"] = frame["strat_fold"].astype(int)
    return frame.set_index("ecg_id", verify_integrity=True)


def load_scp_statements(root: str | os.PathLike | None = None) -> pd.DataFrame:
    """``scp_statements.csv`` indexed by SCP code; raises DataMissingError/DataFormatError naming the file."""
    path = folder(root) / "scp_statements.csv"
    if not path.exists():
        raise DataFormatError(f"{path}: label file is missing (needed for superclass aggregation)")
    frame = pd.read_csv(path, index_col=0)
    missing = [column for column in ("diagnostic", "diagnostic_class") if column not in frame.columns]
    if missing:
        raise DataFormatError(f"{path}: missing columns {missing}")
    return frame


def superclass_labels(
    metadata: pd.DataFrame, scp_statements: pd.DataFrame, *, min_likelihood: float = 0.0
) -> np.ndarray:
    """Multi-hot superclass targets, shape (n_records, 5) float32, columns in :data:`SUPERCLASSES`.

    Parameters
    ----------
    metadata : output of :func:`load_metadata` (``scp_codes`` as dicts)
    scp_statements : output of :func:`load_scp_statements`
    min_likelihood : codes with a likelihood below this (in %) are ignored; the default 0
        keeps every code, as the PTB-XL benchmark does.
    """
    diagnostic = scp_statements[scp_statements["diagnostic"] == 1]
    class_of_code = {
        code: cls for code, cls in diagnostic["diagnostic_class"].items() if isinstance(cls, str)
    }
    unknown = {cls for cls in class_of_code.values() if cls not in SUPERCLASSES}
    if unknown:
        raise DataFormatError(f"scp_statements.csv: unknown diagnostic_class values {sorted(unknown)}")
    targets = np.zeros((len(metadata), len(SUPERCLASSES)), dtype=np.float32)
    for row, codes in enumerate(metadata["scp_codes"]):
        for code, likelihood in codes.items():
            cls = class_of_code.get(code)
            if cls is not None and likelihood >= min_likelihood:
                targets[row, SUPERCLASSES.index(cls)] = 1.0
    return targets


def official_split(metadata: pd.DataFrame) -> dict[str, np.ndarray]:
    """``ecg_id`` arrays of the official folds: train (1-8), val (9), test (10)."""
    folds = metadata["strat_fold"]
    return {
        "train": metadata.index[folds.isin(TRAIN_FOLDS)].to_numpy(),
        "val": metadata.index[folds.isin(VALIDATION_FOLDS)].to_numpy(),
        "test": metadata.index[folds.isin(TEST_FOLDS)].to_numpy(),
    }


def _check_fs(fs_hz: int) -> None:
    if fs_hz not in SAMPLING_RATES_HZ:
        raise ValueError(f"PTB-XL comes at {SAMPLING_RATES_HZ} Hz, got fs_hz={fs_hz}")


def read_signal_mv(record_path: Path, *, fs_hz: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """Samples (n_samples, 12) float32 mV and canonical lead names of one WFDB record path (no extension)."""
    signal, names, _ = read_record_mv(record_path, fs_hz=fs_hz, canonical_leads=_CANONICAL_LEAD)
    return signal, names


def load_record(
    ecg_id: int,
    root: str | os.PathLike | None = None,
    fs_hz: int = 100,
    *,
    metadata: pd.DataFrame | None = None,
) -> EcgRecord:
    """One ECG, shape (1000 or 5000, 12) float32 mV; ``meta`` holds ``scp_codes`` and ``strat_fold``.

    Pass ``metadata`` (from :func:`load_metadata`) to avoid re-reading the CSV.
    """
    _check_fs(fs_hz)
    metadata = load_metadata(root) if metadata is None else metadata
    if ecg_id not in metadata.index:
        raise KeyError(f"ecg_id {ecg_id} is not in ptbxl_database.csv")
    row = metadata.loc[ecg_id]
    filename = row["filename_lr"] if fs_hz == 100 else row["filename_hr"]
    signal, names = read_signal_mv(folder(root) / filename, fs_hz=fs_hz)
    return EcgRecord(
        record_id=str(ecg_id),
        patient_id=row["patient_id"],
        signal_mv=signal,
        fs_hz=float(fs_hz),
        lead_names=names,
        source=NAME,
        meta={"scp_codes": row["scp_codes"], "strat_fold": int(row["strat_fold"])},
    )


def load_labelled(
    root: str | os.PathLike | None = None,
    fs_hz: int = 100,
    *,
    folds: tuple[int, ...] | None = None,
    min_likelihood: float = 0.0,
    lead_names: tuple[str, ...] | None = None,
    limit: int | None = None,
) -> LabelledSet:
    """Five-superclass multi-label set (NORM, MI, STTC, CD, HYP).

    Parameters
    ----------
    fs_hz : 100 (``records100``) or 500 (``records500``)
    folds : keep only these ``strat_fold`` values (None = all ten)
    min_likelihood : see :func:`superclass_labels`
    lead_names : subset/order of leads (e.g. ``("I", "II", "V1", ..., "V6")``); None = all 12
    limit : read at most this many records (after filtering), for smoke runs

    Returns
    -------
    LabelledSet with ``signals_mv`` (n, 10 * fs_hz, n_leads) float32 mV, ``targets`` (n, 5)
    multi-hot, ``patient_ids`` from ``patient_id``; records without a superclass are
    dropped and counted in ``exclusions["no_superclass"]``.
    """
    _check_fs(fs_hz)
    metadata = load_metadata(root)
    if folds is not None:
        metadata = metadata[metadata["strat_fold"].isin(tuple(folds))]
    statements = load_scp_statements(root)
    targets = superclass_labels(metadata, statements, min_likelihood=min_likelihood)
    has_label = targets.any(axis=1)
    from ecglib.preprocess import unknown_label_codes

    only_unknown, unknown_counts = unknown_label_codes(metadata["scp_codes"].tolist(), statements.index)
    exclusions = {"no_superclass": int((~has_label & ~only_unknown).sum())}
    if only_unknown.any():
        exclusions["only_unknown_scp_codes"] = int(only_unknown.sum())
    exclusions.update({f"records with unknown SCP code {code!r}": n for code, n in unknown_counts.items()})
    metadata, targets = metadata[has_label], targets[has_label]
    if limit is not None:
        metadata, targets = metadata.iloc[:limit], targets[:limit]
    signals = [
        _select_leads(load_record(ecg_id, root, fs_hz, metadata=metadata), lead_names)
        for ecg_id in metadata.index
    ]
    names = lead_names or LEADS
    return LabelledSet(
        signals_mv=np.stack(signals) if signals else np.zeros((0, 10 * fs_hz, len(names)), np.float32),
        targets=targets,
        patient_ids=metadata["patient_id"].to_numpy(dtype=str),
        fs_hz=float(fs_hz),
        lead_names=tuple(names),
        target_names=SUPERCLASSES,
        task="multi_label",
        source=NAME,
        exclusions=exclusions,
    )


def _select_leads(record: EcgRecord, lead_names: tuple[str, ...] | None) -> np.ndarray:
    if lead_names is None:
        return record.signal_mv
    try:
        return select_leads(record.signal_mv, record.lead_names, lead_names)
    except KeyError as err:
        raise DataFormatError(f"ecg_id {record.record_id}: {err.args[0]}") from None


# --------------------------------------------------------------------------- study splits (Nguyen & Do 2025)

#: ``"standard_folds"``: ``strat_fold`` 1-8 train, 9 validation, 10 test (Table 1 of Nguyen &
#: Do 2025 matches folds 1-8 / 10: 17,441 / 2,203). ``"test_fraction"``: the rule the paper
#: states, a patient-wise, label-stratified hold-out of ``test_fraction`` (0.33).
SPLIT_RULES: tuple[str, ...] = ("standard_folds", "test_fraction")


def labelled_metadata(
    root: str | os.PathLike | None = None,
    *,
    folds: tuple[int, ...] | None = None,
    min_likelihood: float = 0.0,
    limit: int | None = None,
) -> pd.DataFrame:
    """The metadata rows of the records :func:`load_labelled` returns, in the same order.

    Same filtering as :func:`load_labelled` (``folds``, records without a superclass
    dropped, ``limit``) without reading any signal; use its ``strat_fold`` and
    ``patient_id`` columns to split the labelled set (:func:`split_records`).
    """
    metadata = load_metadata(root)
    if folds is not None:
        metadata = metadata[metadata["strat_fold"].isin(tuple(folds))]
    targets = superclass_labels(metadata, load_scp_statements(root), min_likelihood=min_likelihood)
    metadata = metadata[targets.any(axis=1)]
    return metadata if limit is None else metadata.iloc[:limit]


def split_records(
    metadata: pd.DataFrame,
    targets: np.ndarray | None = None,
    *,
    rule: str = "standard_folds",
    seed: int = 0,
    test_fraction: float = 0.33,
    val_fraction: float = 0.1,
):
    """Train / validation / test indices (positions in ``metadata``) under one of :data:`SPLIT_RULES`.

    Parameters
    ----------
    metadata : DataFrame with ``strat_fold`` and ``patient_id`` (e.g. :func:`labelled_metadata`)
    targets : ndarray of shape (n_records, 5), multi-hot; stratifies the ``"test_fraction"``
        rule (ignored by ``"standard_folds"``)
    rule : ``"standard_folds"`` (default; folds 1-8 / 9 / 10) or ``"test_fraction"``
    seed : seeds the ``"test_fraction"`` rule
    test_fraction, val_fraction : shares of all records for the ``"test_fraction"`` rule
        (patient-wise, see :func:`ecglib.data.splits.patient_split`)

    Returns
    -------
    ecglib.data.splits.Split of sorted int64 positions; no patient is in two parts.
    """
    from ecglib.data import splits

    if rule not in SPLIT_RULES:
        raise ValueError(f"rule must be one of {SPLIT_RULES}, got {rule!r}")
    if rule == "standard_folds":
        split = splits.ptbxl_folds(metadata["strat_fold"].to_numpy())
        splits.assert_patient_disjoint(metadata["patient_id"].to_numpy(), split.train, split.val, split.test)
        return split
    return splits.patient_split(
        metadata["patient_id"].to_numpy(),
        targets,
        test_fraction=test_fraction,
        val_fraction=val_fraction,
        seed=seed,
    )
