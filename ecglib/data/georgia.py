"""Georgia 12-lead ECG Challenge Database (Emory University), as distributed in the
PhysioNet/CinC Challenge 2020 training set (``training/georgia``, 10,344 records).

Facts kept beside the reader
----------------------------
- 12-lead, 10 s recordings at 500 Hz in the Challenge 2020 layout (see
  :mod:`ecglib.data.cinc2020`): ``g1`` ... ``g11`` sub-folders of ``E00001.{mat,hea}`` ...;
  int16 ADC units with gain 1000 per mV.
- 67 distinct diagnoses. Nguyen & Do keep the ten most frequent: NORM, AF, I-AVB, PAC,
  SB, LAD, STach, TAb, TInv, LQT, and drop the records shorter than 10 s (52 records).
  SNOMED CT codes (Challenge ``dx_mapping_scored.csv``, physionetchallenges/evaluation-2020):
  sinus rhythm 426783006, AF 164889003, IAVB 270492004, PAC 284470004 (= SVPB 63593006,
  scored as one diagnosis), sinus bradycardia 426177001, left axis deviation 39732003,
  sinus tachycardia 427084000, T-wave abnormal 164934002, T-wave inversion 59931005,
  prolonged QT 111975006.
- Other codes are ignored by default (``other_codes="ignore"``); records with none of the
  ten labels keep an all-zero target row, as in the paper's record count.
- No patient identifiers: each record is its own patient (record-wise split).
"""

from __future__ import annotations

import os
from pathlib import Path

from ecglib.data import DataMissingError, DatasetInfo, EcgRecord, LabelledSet, cinc2020, dataset_folder

NAME = "georgia"
FS_HZ = 500.0

#: Class name (as Nguyen & Do list them) -> SNOMED CT codes scored as that class.
LABEL_CODES: dict[str, tuple[str, ...]] = {
    "NORM": ("426783006",),
    "AF": ("164889003",),
    "I-AVB": ("270492004",),
    "PAC": ("284470004", "63593006"),
    "SB": ("426177001",),
    "LAD": ("39732003",),
    "STach": ("427084000",),
    "TAb": ("164934002",),
    "TInv": ("59931005",),
    "LQT": ("111975006",),
}

INFO = DatasetInfo(
    name=NAME,
    title="Georgia 12-lead ECG Challenge Database (PhysioNet/CinC Challenge 2020 training set)",
    version="challenge-2020 1.0.2",
    citation=(
        "Perez Alday EA, Gu A, Shah AJ, et al. Classification of 12-lead ECGs: the PhysioNet/Computing in "
        "Cardiology Challenge 2020. Physiol Meas 41(12):124003 (2020). https://doi.org/10.1088/1361-6579/abc960"
    ),
    licence="CC BY 4.0 (PhysioNet challenge-2020 1.0.2)",
    homepage="https://physionet.org/content/challenge-2020/1.0.2/",
    kind="public",
    folder="georgia",
    source_urls=("https://physionet.org/files/challenge-2020/1.0.2/training/georgia/",),
    approx_size_bytes=1_300_000_000,
    fs_hz=FS_HZ,
    lead_names=cinc2020.STANDARD_LEADS,
    notes="10,344 records of 10 s at 500 Hz; no patient ids (patient id = record id); 10 classes of Nguyen & Do 2025.",
)

#: Files whose presence marks the dataset as installed (status without a completion marker).
REQUIRED_FILES: tuple[str, ...] = ()


def folder(root: str | os.PathLike | None = None) -> Path:
    """The Georgia folder under the data root; raises DataMissingError when it is absent."""
    path = dataset_folder(NAME, root)
    if not path.is_dir() or not any(path.rglob("*.hea")):
        raise DataMissingError(NAME, path)
    return path


def list_records(root: str | os.PathLike | None = None) -> list[str]:
    """Record ids (``E00001`` ...) found under the dataset folder, sorted."""
    return [path.stem for path in cinc2020.list_headers(folder(root))]


def load_record(record_id: str, root: str | os.PathLike | None = None) -> EcgRecord:
    """One record in mV, shape (n_samples, 12) at 500 Hz; ``meta["dx_codes"]`` holds its SNOMED codes."""
    matches = sorted(folder(root).rglob(f"{record_id}.hea"))
    if not matches:
        raise FileNotFoundError(f"record {record_id!r} not found under {folder(root)}")
    return cinc2020.load_record(matches[0], source=NAME, expected_fs_hz=FS_HZ)


def load_labelled(
    root: str | os.PathLike | None = None,
    *,
    duration_s: float = 10.0,
    fs_hz: float | None = None,
    other_codes: str = "ignore",
    limit: int | None = None,
) -> LabelledSet:
    """Ten-class multi-label set (NORM, AF, I-AVB, PAC, SB, LAD, STach, TAb, TInv, LQT).

    Records shorter than ``duration_s`` are dropped and counted; longer ones are cropped.
    See :func:`ecglib.data.cinc2020.load_labelled` for shapes and the ``other_codes`` policy.
    """
    return cinc2020.load_labelled(
        folder(root),
        source=NAME,
        label_codes=LABEL_CODES,
        expected_fs_hz=FS_HZ,
        duration_s=duration_s,
        fs_hz=fs_hz,
        other_codes=other_codes,
        limit=limit,
    )
