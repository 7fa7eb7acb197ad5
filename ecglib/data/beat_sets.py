"""Kachuee-format beat sets cut from real records: MIT-BIH AAMI classes and LUDB MI vs not.

Both go through the library's segmenter :func:`ecglib.segment.kachuee_beats` (resample to
125 Hz, 10 s windows min-max normalised to [0, 1], beat = 1.2 median RR from each annotated
R peak, zero-padded to 187 samples), so every beat carries its record in ``patient_ids``
and splits can be made by record.

:func:`mitbih_beats`
    The 48 MIT-BIH records (or a subset), lead MLII, beats at the reference annotations,
    labelled with the five AAMI classes of :data:`ecglib.data.mitbih.AAMI_CLASS_OF_SYMBOL`
    (N, S, V, F, Q). ``patient_ids`` are **record ids** (``"201"`` and ``"202"`` stay
    distinct) so that :func:`ecglib.data.mitbih.inter_patient_split` (de Chazal's DS1/DS2)
    applies; use :func:`ecglib.data.mitbih.patient_id` for patient-wise random splits.
:func:`ludb_mi_beats`
    The stand-in for Kachuee's PTB normal-vs-MI beats: LUDB lead II (500 Hz -> 125 Hz),
    beats at the cardiologists' QRS annotations of lead II (the annotated QRS peak is taken
    as the R peak; LUDB leaves the first and last beats of most records unannotated), one
    label per record from ``ludb.csv``: **1 = ischemia/scar/infarction**, a non-empty
    ``Ischemia`` column (its entries are "Ischemia: <wall>", "Scar formation: <wall>",
    "Stemi: <wall>" and "Undefined ischemia/scar/supp.nstemi: <wall>"), **0 = no such
    finding** (an empty ``Ischemia`` cell). Unlike PTB's healthy controls, class 0 holds
    records with other findings (hypertrophy, conduction blocks, atrial fibrillation...).
    Records with any entry in ``Cardiac pacing`` are excluded (``exclusions["paced_record"]``).
    On the 150 records of LUDB 1.0.1 stored here: 10 paced, 47 with ischemia/scar/infarction,
    93 without.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from ecglib import segment
from ecglib.data import DataFormatError, LabelledSet, ludb, mitbih

KACHUEE_UNITS = "minmax-0-1"
#: ``ludb.csv`` column whose entries make a record positive (ischemia, scar, infarction)
LUDB_MI_COLUMN = "Ischemia"
#: ``ludb.csv`` column whose entries mark a paced record (excluded)
LUDB_PACING_COLUMN = "Cardiac pacing"
LUDB_MI_CLASSES: tuple[str, ...] = ("no_ischemia_scar_infarction", "ischemia_scar_infarction")


def _merge_exclusions(total: dict[str, int], more: dict[str, int]) -> None:
    for reason, count in more.items():
        total[reason] = total.get(reason, 0) + int(count)


def _beat_set(signals, targets, patient_ids, lead, target_names, source, exclusions) -> LabelledSet:
    signals = np.concatenate(signals) if signals else np.zeros((0, segment.KACHUEE_BEAT_SAMPLES), np.float32)
    return LabelledSet(
        signals_mv=signals[:, :, None],
        targets=np.concatenate(targets).astype(np.int64) if targets else np.zeros(0, np.int64),
        patient_ids=np.concatenate(patient_ids) if patient_ids else np.zeros(0, dtype=str),
        fs_hz=segment.KACHUEE_FS_HZ,
        lead_names=(lead,),
        target_names=target_names,
        task="single_label",
        source=source,
        exclusions=exclusions,
        units=KACHUEE_UNITS,
    )


# --------------------------------------------------------------------------- MIT-BIH


def mitbih_beats(
    record_ids=None, *, root: str | os.PathLike | None = None, lead: str = "MLII"
) -> LabelledSet:
    """MIT-BIH beats in the Kachuee format with AAMI class targets.

    Parameters
    ----------
    record_ids : records to read (default: all 48 of :data:`ecglib.data.mitbih.RECORD_IDS`)
    root : data root; default ``$ECGLIB_DATA``
    lead : lead to cut (MLII, as Kachuee et al.); records without it (102 and 104, both
        paced) are excluded and counted in ``exclusions["record_without_lead"]``

    Returns
    -------
    LabelledSet
        ``signals_mv`` (n_beats, 187, 1) float32 in [0, 1] (``units`` "minmax-0-1"), 125 Hz;
        ``targets`` int64 indexing ``("N", "S", "V", "F", "Q")``; ``patient_ids`` the record
        id of each beat; ``exclusions`` from the segmenter (beats alone in their window,
        beats after the last complete window) plus ``record_without_lead``.
    """
    record_ids = list(mitbih.RECORD_IDS if record_ids is None else record_ids)
    class_index = {name: index for index, name in enumerate(mitbih.AAMI_CLASSES)}
    signals, targets, patient_ids = [], [], []
    exclusions = {"record_without_lead": 0}
    for record_id in record_ids:
        record = mitbih.load_record(record_id, root)
        if lead not in record.lead_names:
            exclusions["record_without_lead"] += 1
            continue
        annotations = mitbih.load_annotations(record_id, root)
        beats = segment.kachuee_beats(
            record.signal_mv[:, mitbih.lead_index(record, lead)],
            record.fs_hz,
            annotations.beat_samples,
            annotations.beat_classes,
        )
        _merge_exclusions(exclusions, beats.exclusions)
        signals.append(beats.signals)
        targets.append(np.asarray([class_index[label] for label in beats.labels], dtype=np.int64))
        patient_ids.append(np.full(len(beats), record.record_id))
    return _beat_set(signals, targets, patient_ids, lead, mitbih.AAMI_CLASSES, "mitbih", exclusions)


# --------------------------------------------------------------------------- LUDB


def ludb_mi_labels(diagnoses: pd.DataFrame) -> pd.DataFrame:
    """Per-record MI label and pacing flag from ``ludb.csv`` (as read by :func:`ludb.load_diagnoses`).

    Parameters
    ----------
    diagnoses : DataFrame indexed by record id with the ``Ischemia`` and ``Cardiac pacing``
        columns (cells empty or several findings separated by newlines)

    Returns
    -------
    DataFrame indexed by record id with columns ``mi`` (int 0/1: a non-empty ``Ischemia``
    cell), ``paced`` (bool: a non-empty ``Cardiac pacing`` cell) and ``finding`` (the
    ``Ischemia`` cell, findings joined by "; ").

    Raises
    ------
    DataFormatError
        a needed column is missing (the message names it).
    """
    for column in (LUDB_MI_COLUMN, LUDB_PACING_COLUMN):
        if column not in diagnoses.columns:
            raise DataFormatError(f"ludb.csv: no {column!r} column (columns: {list(diagnoses.columns)})")
    ischemia = diagnoses[LUDB_MI_COLUMN].fillna("").astype(str).str.strip()
    pacing = diagnoses[LUDB_PACING_COLUMN].fillna("").astype(str).str.strip()
    return pd.DataFrame(
        {
            "mi": (ischemia != "").astype(np.int64),
            "paced": pacing != "",
            "finding": [
                "; ".join(part.strip() for part in cell.splitlines() if part.strip()) for cell in ischemia
            ],
        },
        index=diagnoses.index,
    )


def ludb_mi_beats(
    record_ids=None,
    *,
    root: str | os.PathLike | None = None,
    lead: str = "II",
    exclude_paced: bool = True,
) -> LabelledSet:
    """LUDB beats in the Kachuee format labelled ischemia/scar/infarction (1) or not (0).

    Parameters
    ----------
    record_ids : records to read (default: every record of ``RECORDS``)
    root : data root; default ``$ECGLIB_DATA``
    lead : lead to cut and whose QRS annotations give the beats ("II")
    exclude_paced : leave out records with a ``Cardiac pacing`` entry (default True)

    Returns
    -------
    LabelledSet
        ``signals_mv`` (n_beats, 187, 1) float32 in [0, 1], 125 Hz; ``targets`` int64 indexing
        :data:`LUDB_MI_CLASSES`; ``patient_ids`` the record id of each beat (one record per
        subject); ``exclusions``: ``paced_record`` (records), ``record_without_diagnosis``
        (records), ``record_without_qrs`` (records) and the segmenter's beat counts.
    """
    if lead not in ludb.LEAD_NAMES:
        raise ValueError(f"unknown LUDB lead {lead!r}; leads are {', '.join(ludb.LEAD_NAMES)}")
    record_ids = ludb.list_records(root) if record_ids is None else [str(r) for r in record_ids]
    labels = ludb_mi_labels(ludb.load_diagnoses(root))
    signals, targets, patient_ids = [], [], []
    exclusions = {"paced_record": 0, "record_without_diagnosis": 0, "record_without_qrs": 0}
    for record_id in record_ids:
        if record_id not in labels.index:
            exclusions["record_without_diagnosis"] += 1
            continue
        if exclude_paced and labels.at[record_id, "paced"]:
            exclusions["paced_record"] += 1
            continue
        waves = ludb.load_delineation(record_id, lead, root)
        r_samples = waves.loc[waves["wave"] == "QRS", "peak"].to_numpy(dtype=np.int64)
        if len(r_samples) == 0:
            exclusions["record_without_qrs"] += 1
            continue
        record = ludb.load_record(record_id, root)
        label = int(labels.at[record_id, "mi"])
        beats = segment.kachuee_beats(
            record.signal_mv[:, record.lead_names.index(lead)],
            record.fs_hz,
            r_samples,
            np.full(len(r_samples), label, dtype=np.int64),
        )
        _merge_exclusions(exclusions, beats.exclusions)
        signals.append(beats.signals)
        targets.append(beats.labels.astype(np.int64))
        patient_ids.append(np.full(len(beats), record.record_id))
    return _beat_set(signals, targets, patient_ids, lead, LUDB_MI_CLASSES, "ludb", exclusions)
