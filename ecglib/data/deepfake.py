"""DeepFake ECG dataset (Thambawita et al. 2021): 121,977 GAN-generated normal 8-lead ECGs
with MUSE 12SL ground-truth parameters. This is the published *dataset* (OSF 6hved);
the generator itself is ``deepfake-gan`` (:mod:`ecglib.data.deepfake_gan`).

Facts kept beside the reader
----------------------------
- One ``<patid>.asc`` text file per ECG: 5000 rows (10 s at 500 Hz) x 8 space-separated
  integer columns, leads I, II, V1, V2, V3, V4, V5, V6, in microvolts (the generator's
  output times 6000; deepfake-ecg README gives the lead order). Returned as mV (/ 1000).
- Ground truth: ``filtered_all_normals_121977_ground_truth.csv`` (one row per ECG; the
  published ECGs sit in ``from_006_chck_2500_150k_filtered_all_normals_121977/``). Columns
  used here: ``patid`` (file stem), ``avgrrinterval`` (ms), ``pr``, ``qrs``, ``qt`` (ms);
  column names are matched case-insensitively (MUSE exports write ``AvgRRInterval``,
  ``PR_Interval``... in other tools). HR = 60000 / ``avgrrinterval`` as in the study code.
  A few rows have no PR (3 of 121,977 in the study's summary): they are dropped and counted.
- The large split used by the study (97,581/12,198/12,198 train/val/test) is a
  re-packaging; this reader takes any folder of ``.asc`` files plus a ground-truth CSV.
- Every ECG is synthetic and unrelated to a person: patient ids are ``"deepfake:<patid>"``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ecglib.data import DataFormatError, DataMissingError, DatasetInfo, LabelledSet, dataset_folder

NAME = "deepfake"
FS_HZ = 500.0
N_SAMPLES = 5000
LEADS: tuple[str, ...] = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
TARGET_NAMES: tuple[str, ...] = ("hr_bpm", "pr_ms", "qrs_ms", "qt_ms")
#: our name -> accepted ground-truth column names (compared lower-case, without "_").
TARGET_COLUMNS: dict[str, tuple[str, ...]] = {
    "rr_ms": ("avgrrinterval",),
    "pr_ms": ("pr", "printerval"),
    "qrs_ms": ("qrs", "qrsduration"),
    "qt_ms": ("qt", "qtinterval"),
}
GROUND_TRUTH_FILE = "filtered_all_normals_121977_ground_truth.csv"
ASC_FOLDER = "from_006_chck_2500_150k_filtered_all_normals_121977"

INFO = DatasetInfo(
    name=NAME,
    title="DeepFake electrocardiograms (121,977 normal 8-lead ECGs with MUSE parameters)",
    version="OSF 6hved (2021)",
    citation=(
        "Thambawita V, Isaksen JL, Hicks SA, et al. DeepFake electrocardiograms using generative adversarial "
        "networks are the beginning of the end for privacy issues in medicine. Sci Rep 11:21896 (2021). "
        "https://doi.org/10.1038/s41598-021-01295-2"
    ),
    licence="CC BY 4.0",
    homepage="https://osf.io/6hved/",
    kind="public",
    folder="deepfake",
    source_urls=("https://files.osf.io/v1/resources/6hved/providers/osfstorage/?zip=",),
    approx_size_bytes=10_000_000_000,
    fs_hz=FS_HZ,
    lead_names=LEADS,
    notes="Synthetic; .asc = 5000 x 8 integer microvolts (I, II, V1-V6); targets HR (60000/avgrrinterval), PR, QRS, QT ms.",
)

#: Files whose presence marks the dataset as installed (status without a completion marker).
REQUIRED_FILES: tuple[str, ...] = ()


def folder(root: str | os.PathLike | None = None) -> Path:
    """The DeepFake folder under the data root; raises DataMissingError when it has no ground truth."""
    path = dataset_folder(NAME, root)
    if not path.is_dir() or find_ground_truth(path) is None:
        raise DataMissingError(NAME, path)
    return path


def find_ground_truth(base: Path) -> Path | None:
    """The ground-truth CSV in ``base`` or up to two levels below (``*ground_truth*.csv``)."""
    for pattern in (
        GROUND_TRUTH_FILE,
        f"*/{GROUND_TRUTH_FILE}",
        "*ground_truth*.csv",
        "*/*ground_truth*.csv",
        "*/*/*ground_truth*.csv",
    ):
        found = sorted(base.glob(pattern))
        if found:
            return found[0]
    return None


def read_asc(path: str | os.PathLike) -> np.ndarray:
    """One ``.asc`` file as float32 mV, shape (5000, 8); raises DataFormatError naming the file."""
    path = Path(path)
    try:
        values = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except FileNotFoundError:
        raise DataFormatError(f"{path}: ECG file is missing") from None
    except ValueError as exc:
        raise DataFormatError(f"{path}: not a table of numbers ({exc})") from None
    if values.shape != (N_SAMPLES, len(LEADS)):
        raise DataFormatError(
            f"{path}: shape {values.shape}, expected ({N_SAMPLES}, {len(LEADS)}) (truncated file?)"
        )
    if np.isnan(values).any():
        raise DataFormatError(f"{path}: contains NaN")
    return (values / 1000.0).astype(np.float32)


def load_ground_truth(root: str | os.PathLike | None = None) -> pd.DataFrame:
    """Ground truth with columns ``patid, hr_bpm, pr_ms, qrs_ms, qt_ms`` (NaN where missing)."""
    path = find_ground_truth(folder(root))
    frame = pd.read_csv(path)
    normalised = {column.lower().replace("_", ""): column for column in frame.columns}
    if "patid" not in normalised:
        raise DataFormatError(f"{path}: no 'patid' column (columns: {list(frame.columns)})")
    out = pd.DataFrame({"patid": frame[normalised["patid"]].astype(str)})
    for ours, accepted in TARGET_COLUMNS.items():
        column = next((normalised[name] for name in accepted if name in normalised), None)
        if column is None:
            raise DataFormatError(
                f"{path}: none of the columns {accepted} for {ours} (columns: {list(frame.columns)})"
            )
        out[ours] = pd.to_numeric(frame[column], errors="coerce")
    out["hr_bpm"] = 60000.0 / out["rr_ms"].where(out["rr_ms"] > 0)
    if out["patid"].duplicated().any():
        raise DataFormatError(f"{path}: duplicated patid values")
    return out[["patid", *TARGET_NAMES]]


def asc_paths(root: str | os.PathLike | None = None) -> dict[str, Path]:
    """``patid`` -> path of every ``.asc`` file under the dataset folder."""
    return {path.stem: path for path in sorted(folder(root).rglob("*.asc"))}


def load_labelled(root: str | os.PathLike | None = None, *, limit: int | None = None) -> LabelledSet:
    """Regression set: 8-lead signals and HR/PR/QRS/QT targets.

    Returns
    -------
    LabelledSet, task ``regression``: ``signals_mv`` (n, 5000, 8) float32 mV at 500 Hz,
    ``targets`` (n, 4) float32 (hr_bpm, pr_ms, qrs_ms, qt_ms). Dropped and counted:
    ``missing_target`` (a NaN parameter), ``missing_asc`` (row without its file).
    """
    truth = load_ground_truth(root)
    paths = asc_paths(root)
    complete = truth[list(TARGET_NAMES)].notna().all(axis=1)
    has_file = truth["patid"].isin(paths.keys())
    exclusions = {"missing_target": int((~complete).sum()), "missing_asc": int((complete & ~has_file).sum())}
    truth = truth[complete & has_file]
    if limit is not None:
        truth = truth.iloc[:limit]
    signals = [read_asc(paths[patid]) for patid in truth["patid"]]
    return LabelledSet(
        signals_mv=np.stack(signals) if signals else np.zeros((0, N_SAMPLES, len(LEADS)), np.float32),
        targets=truth[list(TARGET_NAMES)].to_numpy(dtype=np.float32),
        patient_ids=np.asarray([f"deepfake:{patid}" for patid in truth["patid"]], dtype=str),
        fs_hz=FS_HZ,
        lead_names=LEADS,
        target_names=TARGET_NAMES,
        task="regression",
        source=NAME,
        exclusions=exclusions,
    )
