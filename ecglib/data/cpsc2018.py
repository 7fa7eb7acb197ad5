"""China Physiological Signal Challenge 2018 (CPSC2018), as distributed in the
PhysioNet/CinC Challenge 2020 training set (``training/cpsc_2018``, 6,877 records).

Facts kept beside the reader
----------------------------
- 12-lead recordings at 500 Hz lasting 6-60 s (Nguyen & Do 2025, "Data" section), stored
  in the Challenge 2020 layout (see :mod:`ecglib.data.cinc2020`): ``g1`` ... ``g7``
  sub-folders of ``A0001.{mat,hea}`` ... ``A6877.{mat,hea}``; int16 ADC units with gain
  1000 per mV.
- Nguyen & Do use nine labels: NORM, AF, I-AVB, LBBB, RBBB, PAC, PVC, STD, STE, and drop
  records shorter than 10 s (six of 6,877). The SNOMED CT codes of :data:`LABEL_CODES`
  come from the Challenge's ``dx_mapping_scored.csv`` / ``dx_mapping_unscored.csv``
  (physionetchallenges/evaluation-2020 and -2021): sinus rhythm 426783006, AF 164889003,
  IAVB 270492004, LBBB 164909002, RBBB 59118001 (= complete RBBB 713427006), PAC 284470004
  (= SVPB 63593006), ventricular ectopics 164884008 (CPSC's PVC code; = PVC 427172004 =
  VPB 17338001), ST depression 429622005, ST elevation 164931005.
- Every code in CPSC2018 belongs to these nine classes, so the default ``other_codes``
  policy is ``"error"``: a foreign code means a different or corrupted copy.
- No patient identifiers: each record is its own patient (record-wise split).
"""

from __future__ import annotations

import os
from pathlib import Path

from ecglib.data import DataMissingError, DatasetInfo, EcgRecord, LabelledSet, cinc2020, dataset_folder

NAME = "cpsc2018"
FS_HZ = 500.0

#: Class name (as Nguyen & Do list them) -> SNOMED CT codes scored as that class.
LABEL_CODES: dict[str, tuple[str, ...]] = {
    "NORM": ("426783006",),
    "AF": ("164889003",),
    "I-AVB": ("270492004",),
    "LBBB": ("164909002",),
    "RBBB": ("59118001", "713427006"),
    "PAC": ("284470004", "63593006"),
    "PVC": ("164884008", "427172004", "17338001"),
    "STD": ("429622005",),
    "STE": ("164931005",),
}

INFO = DatasetInfo(
    name=NAME,
    title="China Physiological Signal Challenge 2018 (PhysioNet/CinC Challenge 2020 training set)",
    version="challenge-2020 1.0.2",
    citation=(
        "Liu F, Liu C, Zhao L, et al. An open access database for evaluating the algorithms of electrocardiogram "
        "rhythm and morphology abnormality detection. J Med Imaging Health Inform 8(7):1368-1373 (2018). "
        "Perez Alday EA, Gu A, Shah AJ, et al. Classification of 12-lead ECGs: the PhysioNet/Computing in "
        "Cardiology Challenge 2020. Physiol Meas 41(12):124003 (2020)."
    ),
    licence="CC BY 4.0 (PhysioNet challenge-2020 1.0.2)",
    homepage="https://physionet.org/content/challenge-2020/1.0.2/",
    kind="public",
    folder="cpsc2018",
    source_urls=("https://physionet.org/files/challenge-2020/1.0.2/training/cpsc_2018/",),
    approx_size_bytes=1_400_000_000,
    fs_hz=FS_HZ,
    lead_names=cinc2020.STANDARD_LEADS,
    notes="6,877 records, 6-60 s at 500 Hz; no patient ids (patient id = record id); 9 classes of Nguyen & Do 2025.",
)

#: Files whose presence marks the dataset as installed (status without a completion marker).
REQUIRED_FILES: tuple[str, ...] = ()


def folder(root: str | os.PathLike | None = None) -> Path:
    """The CPSC2018 folder under the data root; raises DataMissingError when it is absent."""
    path = dataset_folder(NAME, root)
    if not path.is_dir() or not any(path.rglob("*.hea")):
        raise DataMissingError(NAME, path)
    return path


def list_records(root: str | os.PathLike | None = None) -> list[str]:
    """Record ids (``A0001`` ...) found under the dataset folder, sorted."""
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
    other_codes: str = "error",
    limit: int | None = None,
) -> LabelledSet:
    """Nine-class multi-label set (NORM, AF, I-AVB, LBBB, RBBB, PAC, PVC, STD, STE).

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
