"""PTB-XL+ 1.0.1 (Strodthoff et al. 2023): ECG features for every PTB-XL record.

Facts kept beside the reader
----------------------------
- ``features/12sl_features.csv``: features from the GE 12SL algorithm, one row per PTB-XL
  ``ecg_id``, with global interval columns ``RR_Mean_Global``, ``PR_Int_Global``,
  ``QRS_Dur_Global``, ``QT_Int_Global`` (all in ms; ``HR__Global`` is 12SL's own rate).
  Heart rate is computed as 60000 / ``RR_Mean_Global`` (the "Comprehensive ECG analysis"
  study did the same). Other feature files (``ecgdeli_features.csv``,
  ``unig_features.csv``) and median beats are not read here.
- Missing values are empty cells; :func:`load_intervals` keeps them as NaN and
  :func:`load_labelled` drops those records, counting them.
- The signals come from PTB-XL (:mod:`ecglib.data.ptbxl`, a separate folder).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ecglib.data import DataFormatError, DataMissingError, DatasetInfo, LabelledSet, dataset_folder, ptbxl

NAME = "ptbxl-plus"
FEATURE_FILE = "features/12sl_features.csv"
#: 12SL column -> our column name (ms).
INTERVAL_COLUMNS: dict[str, str] = {
    "RR_Mean_Global": "rr_ms",
    "PR_Int_Global": "pr_ms",
    "QRS_Dur_Global": "qrs_ms",
    "QT_Int_Global": "qt_ms",
}
TARGET_NAMES: tuple[str, ...] = ("hr_bpm", "pr_ms", "qrs_ms", "qt_ms")
EIGHT_LEADS: tuple[str, ...] = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")

INFO = DatasetInfo(
    name=NAME,
    title="PTB-XL+, a comprehensive electrocardiographic feature dataset",
    version="1.0.1",
    citation=(
        "Strodthoff N, Mehari T, Nagel C, et al. PTB-XL+, a comprehensive electrocardiographic feature dataset. "
        "Sci Data 10:279 (2023). https://doi.org/10.1038/s41597-023-02153-8. "
        "PhysioNet ptb-xl-plus version 1.0.1."
    ),
    licence="CC BY 4.0",
    homepage="https://physionet.org/content/ptb-xl-plus/1.0.1/",
    kind="public",
    folder="ptb-xl-plus",
    source_urls=("https://physionet.org/files/ptb-xl-plus/1.0.1/",),
    approx_size_bytes=200_000_000,
    notes="Only features/ is downloaded; targets HR = 60000 / RR_Mean_Global, PR/QRS/QT *_Global in ms (GE 12SL).",
)

#: Files whose presence marks the dataset as installed (status without a completion marker).
REQUIRED_FILES: tuple[str, ...] = (FEATURE_FILE,)


def folder(root: str | os.PathLike | None = None) -> Path:
    """The PTB-XL+ folder under the data root; raises DataMissingError when it is absent."""
    path = dataset_folder(NAME, root)
    if not (path / FEATURE_FILE).exists():
        raise DataMissingError(NAME, path)
    return path


def load_intervals(root: str | os.PathLike | None = None) -> pd.DataFrame:
    """Global intervals of every PTB-XL record: columns ``ecg_id, hr_bpm, pr_ms, qrs_ms, qt_ms``.

    ``hr_bpm`` = 60000 / ``RR_Mean_Global``; non-positive RR gives NaN. Raises
    DataFormatError naming the file when ``ecg_id`` or an interval column is missing.
    """
    path = folder(root) / FEATURE_FILE
    try:
        frame = pd.read_csv(path, usecols=lambda column: column == "ecg_id" or column in INTERVAL_COLUMNS)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{path}: cannot parse CSV ({exc})") from None
    missing = [column for column in ("ecg_id", *INTERVAL_COLUMNS) if column not in frame.columns]
    if missing:
        raise DataFormatError(f"{path}: missing columns {missing}")
    frame = frame.rename(columns=INTERVAL_COLUMNS)
    for column in INTERVAL_COLUMNS.values():
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    rr_ms = frame["rr_ms"].where(frame["rr_ms"] > 0)
    frame["hr_bpm"] = 60000.0 / rr_ms
    if frame["ecg_id"].duplicated().any():
        raise DataFormatError(f"{path}: duplicated ecg_id values")
    return frame[["ecg_id", *TARGET_NAMES]].astype({"ecg_id": int}).reset_index(drop=True)


def load_labelled(
    root: str | os.PathLike | None = None,
    fs_hz: int = 500,
    *,
    lead_names: tuple[str, ...] = EIGHT_LEADS,
    normal_only: bool = True,
    folds: tuple[int, ...] | None = None,
    limit: int | None = None,
) -> LabelledSet:
    """PTB-XL signals with PTB-XL+ interval targets (regression: hr_bpm, pr_ms, qrs_ms, qt_ms).

    Parameters
    ----------
    fs_hz : 100 or 500 (PTB-XL record set)
    lead_names : leads to keep, default the 8 independent leads I, II, V1-V6 (the
        DeepFake models' input)
    normal_only : keep only records whose superclass set is exactly {NORM} (the study used
        "only normal ECGs"); others are counted in ``exclusions["not_normal"]``
    folds : PTB-XL ``strat_fold`` values to keep (None = all)

    Returns
    -------
    LabelledSet, task ``regression``: ``signals_mv`` (n, 10 * fs_hz, len(lead_names)) mV,
    ``targets`` (n, 4) float32. Records missing from PTB-XL+ or with a missing interval are
    dropped and counted (``exclusions["no_features"]``, ``["missing_interval"]``).
    """
    metadata = ptbxl.load_metadata(root)
    if folds is not None:
        metadata = metadata[metadata["strat_fold"].isin(tuple(folds))]
    exclusions: dict[str, int] = {}
    if normal_only:
        superclasses = ptbxl.superclass_labels(metadata, ptbxl.load_scp_statements(root))
        norm = np.zeros(len(ptbxl.SUPERCLASSES), np.float32)
        norm[ptbxl.SUPERCLASSES.index("NORM")] = 1.0
        keep = (superclasses == norm).all(axis=1)
        exclusions["not_normal"] = int((~keep).sum())
        metadata = metadata[keep]
    intervals = load_intervals(root).set_index("ecg_id")
    has_features = metadata.index.isin(intervals.index)
    exclusions["no_features"] = int((~has_features).sum())
    metadata = metadata[has_features]
    targets = intervals.loc[metadata.index, list(TARGET_NAMES)].to_numpy(dtype=np.float32)
    complete = ~np.isnan(targets).any(axis=1)
    exclusions["missing_interval"] = int((~complete).sum())
    metadata, targets = metadata[complete], targets[complete]
    if limit is not None:
        metadata, targets = metadata.iloc[:limit], targets[:limit]
    signals = [
        ptbxl._select_leads(ptbxl.load_record(ecg_id, root, fs_hz, metadata=metadata), lead_names)
        for ecg_id in metadata.index
    ]
    return LabelledSet(
        signals_mv=np.stack(signals) if signals else np.zeros((0, 10 * fs_hz, len(lead_names)), np.float32),
        targets=targets,
        patient_ids=metadata["patient_id"].to_numpy(dtype=str),
        fs_hz=float(fs_hz),
        lead_names=tuple(lead_names),
        target_names=TARGET_NAMES,
        task="regression",
        source=NAME,
        exclusions=exclusions,
    )
