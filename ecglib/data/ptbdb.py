"""PTB Diagnostic ECG Database 1.0.0 (Bousseljot et al. 1995): 549 records from 290 subjects.

Facts kept beside the reader
----------------------------
- Layout: ``patientNNN/sNNNNlre.{hea,dat,xyz}`` (e.g. ``patient001/s0010_re``); the
  ``RECORDS`` file lists ``patient001/s0010_re`` ... . The folder is the subject, so the
  patient id is the folder name.
- 15 simultaneous signals at 1000 Hz, 16-bit, in mV: the 12 standard leads
  (``i ii iii avr avl avf v1 ... v6``) and the 3 Frank leads (``vx vy vz``). The reader
  returns canonical names I, II, III, aVR, aVL, aVF, V1-V6, vx, vy, vz.
- Header comments hold a clinical summary for 268 of the 290 subjects, e.g.
  ``# age: 81``, ``# sex: female``, ``# Reason for admission: Myocardial infarction`` or
  ``Healthy control``; records without it read ``n/a``.
- Nguyen & Do keep two classes, MI and healthy controls (NORM), 200 subjects of the 268.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ecglib.data import DataFormatError, DataMissingError, DatasetInfo, EcgRecord, LabelledSet, dataset_folder
from ecglib.data.wfdb_records import read_record_mv
from ecglib.preprocess import select_leads

NAME = "ptbdb"
FS_HZ = 1000.0
STANDARD_LEADS: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
ALL_LEADS: tuple[str, ...] = (*STANDARD_LEADS, "vx", "vy", "vz")
#: Reason for admission -> class, for the two classes Nguyen & Do use.
CLASS_OF_REASON: dict[str, str] = {"Myocardial infarction": "MI", "Healthy control": "NORM"}
CLASSES: tuple[str, ...] = ("NORM", "MI")

INFO = DatasetInfo(
    name=NAME,
    title="PTB Diagnostic ECG Database",
    version="1.0.0",
    citation=(
        "Bousseljot R, Kreiseler D, Schnabel A. Nutzung der EKG-Signaldatenbank CARDIODAT der PTB ueber das "
        "Internet. Biomedizinische Technik 40(S1):317 (1995). Goldberger AL et al. PhysioBank, PhysioToolkit, "
        "and PhysioNet. Circulation 101(23):e215-e220 (2000)."
    ),
    licence="ODC-By 1.0 (Open Data Commons Attribution License v1.0)",
    homepage="https://physionet.org/content/ptbdb/1.0.0/",
    kind="public",
    folder="ptbdb",
    source_urls=("https://physionet.org/files/ptbdb/1.0.0/",),
    approx_size_bytes=1_700_000_000,
    fs_hz=FS_HZ,
    lead_names=ALL_LEADS,
    notes="549 records, 290 subjects (folder = patient), 15 leads at 1000 Hz; MI vs healthy control from '# Reason for admission'.",
)

#: Files whose presence marks the dataset as installed (status without a completion marker).
REQUIRED_FILES: tuple[str, ...] = ("RECORDS",)

_CANONICAL_LEAD = {name.lower(): name for name in ALL_LEADS}


def folder(root: str | os.PathLike | None = None) -> Path:
    """The PTB Diagnostic folder under the data root; raises DataMissingError when it is absent."""
    path = dataset_folder(NAME, root)
    if not path.is_dir() or not ((path / "RECORDS").exists() or any(path.glob("patient*/*.hea"))):
        raise DataMissingError(NAME, path)
    return path


def list_records(root: str | os.PathLike | None = None) -> list[str]:
    """Record ids ``patientNNN/sNNNNlre`` from ``RECORDS`` (or the headers found when it is absent)."""
    base = folder(root)
    records_file = base / "RECORDS"
    if records_file.exists():
        return [line.strip() for line in records_file.read_text().splitlines() if line.strip()]
    return sorted(str(path.relative_to(base).with_suffix("")) for path in base.glob("patient*/*.hea"))


def patient_id(record_id: str) -> str:
    """The subject of a record: its folder (``patient001/s0010_re`` -> ``patient001``)."""
    return record_id.split("/")[0]


def parse_comments(comments: list[str]) -> dict[str, str]:
    """Header comment lines ``key: value`` -> dict (keys as written, e.g. ``"Reason for admission"``)."""
    parsed = {}
    for line in comments:
        key, sep, value = line.strip().lstrip("#").partition(":")
        if sep:
            parsed[key.strip()] = value.strip()
    return parsed


def load_record(
    record_id: str, root: str | os.PathLike | None = None, *, lead_names: tuple[str, ...] | None = None
) -> EcgRecord:
    """One record, shape (n_samples, 15) float32 mV at 1000 Hz (or the ``lead_names`` subset).

    ``meta`` holds ``reason_for_admission`` (None when the header has none), ``age`` and ``sex``.
    """
    base = folder(root) / record_id
    header_path = base.with_suffix(".hea")
    signal, names, comments_lines = read_record_mv(base, fs_hz=FS_HZ, canonical_leads=_CANONICAL_LEAD)
    if lead_names is not None:
        try:
            signal = select_leads(signal, names, lead_names)
        except KeyError as err:
            raise DataFormatError(f"{header_path}: {err.args[0]}") from None
        names = tuple(lead_names)
    comments = parse_comments(comments_lines)
    reason = comments.get("Reason for admission")
    return EcgRecord(
        record_id=record_id,
        patient_id=patient_id(record_id),
        signal_mv=signal,
        fs_hz=FS_HZ,
        lead_names=names,
        source=NAME,
        meta={
            "reason_for_admission": None if reason in (None, "", "n/a") else reason,
            "age": comments.get("age"),
            "sex": comments.get("sex"),
        },
    )


def load_labelled(
    root: str | os.PathLike | None = None,
    *,
    duration_s: float = 10.0,
    lead_names: tuple[str, ...] = STANDARD_LEADS,
    limit: int | None = None,
) -> LabelledSet:
    """MI vs healthy-control set: the first ``duration_s`` seconds of each record.

    Returns
    -------
    LabelledSet, task ``multi_label`` with two one-hot columns (NORM, MI), as Nguyen & Do
    train every dataset with one sigmoid per class; ``signals_mv`` (n, duration_s * 1000,
    len(lead_names)) mV at 1000 Hz; ``patient_ids`` = subject folders. Dropped and counted:
    ``no_clinical_summary`` (no reason for admission), ``other_diagnosis``,
    ``shorter_than_<d>s``.
    """
    n_samples = int(round(duration_s * FS_HZ))
    short_key = f"shorter_than_{duration_s:g}s"
    exclusions = {"no_clinical_summary": 0, "other_diagnosis": 0, short_key: 0}
    signals, targets, patients = [], [], []
    for record_id in list_records(root):
        if limit is not None and len(signals) >= limit:
            break
        record = load_record(record_id, root, lead_names=lead_names)
        reason = record.meta["reason_for_admission"]
        if reason is None:
            exclusions["no_clinical_summary"] += 1
            continue
        label = CLASS_OF_REASON.get(reason)
        if label is None:
            exclusions["other_diagnosis"] += 1
            continue
        if len(record.signal_mv) < n_samples:
            exclusions[short_key] += 1
            continue
        row = np.zeros(len(CLASSES), np.float32)
        row[CLASSES.index(label)] = 1.0
        signals.append(record.signal_mv[:n_samples])
        targets.append(row)
        patients.append(record.patient_id)
    return LabelledSet(
        signals_mv=np.stack(signals) if signals else np.zeros((0, n_samples, len(lead_names)), np.float32),
        targets=np.stack(targets) if targets else np.zeros((0, len(CLASSES)), np.float32),
        patient_ids=np.asarray(patients, dtype=str),
        fs_hz=FS_HZ,
        lead_names=tuple(lead_names),
        target_names=CLASSES,
        task="multi_label",
        source=NAME,
        exclusions=exclusions,
    )
