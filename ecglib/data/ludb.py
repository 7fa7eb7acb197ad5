"""LUDB: the Lobachevsky University Electrocardiography Database (PhysioNet, version 1.0.1).

200 ten-second 12-lead ECGs at 500 Hz (one per subject), each lead delineated by
cardiologists: P wave, QRS complex and T wave onset, peak and offset. This module
reads the WFDB records, the per-lead annotation files (extension = lead name,
``1.ii``...) and ``ludb.csv`` (diagnoses, sex, age).

Layout under the data root (``ecglib.data.dataset_folder("ludb")``)::

    ludb/RECORDS            one record path a line: data/1, data/2, ...
    ludb/ludb.csv           ID, Sex, Age, Rhythms, ... (cells may hold several lines)
    ludb/data/1.hea 1.dat   12 leads i ii iii avr avl avf v1..v6, mV, 500 Hz
    ludb/data/1.i ... 1.v6  one WFDB annotation file per lead

Annotation grammar. Each wave is written as the triplet ``(`` ``sym`` ``)`` with ``sym``
one of ``p`` (P wave), ``N`` (QRS complex) and ``t`` (T wave); the sample of ``sym`` is
the peak. The published files deviate from this in a few documented ways, all of
which :func:`parse_waves` accepts and reports in the ``layout`` column:

``triplet``          ``( sym )`` the normal case
``no_onset``         ``sym )`` (first wave of a record; some paced beats)
``no_offset``        ``( sym`` (last wave of a record; an unclosed T wave)
``peak_before``      ``sym ( )`` the peak marked a few samples before the onset
``peak_after``       ``( ) sym`` the peak marked after the offset
``merged``           ``((..( sym sym .. ))..)`` k identical nested triplets (records
                     116 v1/v2); merged into one wave with the median onset, peak and offset
``peak_only``        a lone ``sym``

An unlabelled ``( )`` pair carries no wave type and is skipped. Anything else (an
unknown symbol, a ``)`` or ``(`` that belongs to no wave, nested triplets of mixed
types) raises :class:`ecglib.data.DataFormatError` naming the file and the sample.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ecglib.data import DataFormatError, DataMissingError, DatasetInfo, EcgRecord, dataset_folder
from ecglib.preprocess import select_lead

FS_HZ = 500.0
N_SAMPLES = 5000
#: lead names as the files spell them (signal names and annotation file extensions)
FILE_LEAD_NAMES = ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6")
#: the same leads in the spelling used across ecglib
LEAD_NAMES = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
_FILE_TO_LEAD = dict(zip(FILE_LEAD_NAMES, LEAD_NAMES))
_LEAD_TO_FILE = {name.lower(): ext for name, ext in zip(LEAD_NAMES, FILE_LEAD_NAMES)}

#: annotation symbol -> wave name
WAVE_SYMBOLS = {"p": "P", "N": "QRS", "t": "T"}
WAVE_COLUMNS = ("wave", "onset", "peak", "offset", "layout")

INFO = DatasetInfo(
    name="ludb",
    title="Lobachevsky University Electrocardiography Database",
    version="1.0.1",
    citation=(
        "Kalyakulina AI, Yusipov II, Moskalenko VA, Nikolskiy AV, Kosonogov KA, Osipov GV, "
        "Zolotykh NY, Ivanchenko MV. LUDB: a new open-access validation tool for electrocardiogram "
        "delineation algorithms. IEEE Access 8:186181-186190 (2020). Data: PhysioNet, LUDB v1.0.1; "
        "Goldberger AL et al. PhysioBank, PhysioToolkit, and PhysioNet. Circulation 101(23):e215-e220 (2000)."
    ),
    licence="ODC-By 1.0 (Open Data Commons Attribution License v1.0)",
    homepage="https://physionet.org/content/ludb/1.0.1/",
    kind="public",
    folder="ludb",
    source_urls=("https://physionet.org/files/ludb/1.0.1/",),
    fs_hz=FS_HZ,
    lead_names=LEAD_NAMES,
    notes=(
        "200 subjects, one 10 s 12-lead record each at 500 Hz; P/QRS/T onset, peak and offset "
        "annotated per lead by cardiologists (the first and last beats are usually left out)."
    ),
)


# --------------------------------------------------------------------------- paths


def _folder(root: str | os.PathLike | None) -> Path:
    folder = dataset_folder("ludb", root)
    if not (folder / "RECORDS").is_file():
        raise DataMissingError("ludb", folder)
    return folder


def _record_number(record_id: str | int) -> str:
    """``1``, ``"1"`` and ``"data/1"`` all name record ``"1"``."""
    text = str(record_id).strip()
    if text.startswith("data/"):
        text = text[len("data/") :]
    if not text.isdigit():
        raise ValueError(f"LUDB record ids are numbers such as '1' or 'data/1', got {record_id!r}")
    return str(int(text))


def _lead_extension(lead: str) -> str:
    key = str(lead).strip().lower()
    if key in _LEAD_TO_FILE:
        return _LEAD_TO_FILE[key]
    raise ValueError(f"unknown LUDB lead {lead!r}; leads are {', '.join(LEAD_NAMES)}")


# --------------------------------------------------------------------------- records


def list_records(root: str | os.PathLike | None = None) -> list[str]:
    """Record ids listed in ``ludb/RECORDS`` (``"1"``, ``"2"``, ...), in file order.

    Parameters
    ----------
    root : data root; default ``$ECGLIB_DATA`` (see :func:`ecglib.data.data_root`)

    Raises
    ------
    DataMissingError
        when ``ludb/RECORDS`` is not under the data root.
    DataFormatError
        when a line of RECORDS is not of the form ``data/<number>``.
    """
    path = _folder(root) / "RECORDS"
    record_ids = []
    for line_number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if not re.fullmatch(r"data/\d+", line):
            raise DataFormatError(f"{path}: line {line_number} is {line!r}, expected 'data/<number>'")
        record_ids.append(_record_number(line))
    return record_ids


def load_record(record_id: str | int, root: str | os.PathLike | None = None) -> EcgRecord:
    """One LUDB record in millivolts with the diagnoses of ``ludb.csv`` in ``meta``.

    Parameters
    ----------
    record_id : ``"1"``, ``1`` or ``"data/1"``
    root : data root; default ``$ECGLIB_DATA``

    Returns
    -------
    EcgRecord
        ``signal_mv`` of shape (5000, 12), float32, millivolts, 500 Hz; ``lead_names``
        ``("I", "II", "III", "aVR", "aVL", "aVF", "V1", ..., "V6")``; ``patient_id`` equals
        ``record_id`` (one record per subject); ``meta`` holds ``sex``, ``age`` (a string:
        ``">89"`` occurs), ``rhythm`` and the other ``ludb.csv`` columns in snake_case
        (empty string where the cell is empty).

    Raises
    ------
    DataMissingError
        when the dataset folder is absent.
    DataFormatError
        when the record's files are missing or not 12 leads at 500 Hz in mV.
    """
    import wfdb

    folder = _folder(root)
    number = _record_number(record_id)
    base = folder / "data" / number
    for suffix in (".hea", ".dat"):
        if not base.with_suffix(suffix).is_file():
            raise DataFormatError(f"{base.with_suffix(suffix)}: file missing for LUDB record {number}")
    try:
        record = wfdb.rdrecord(str(base))
    except Exception as error:  # wfdb raises assorted errors on corrupt headers/signals
        raise DataFormatError(f"{base.with_suffix('.hea')}: cannot read WFDB record ({error})") from error
    file_leads = tuple(name.lower() for name in record.sig_name)
    if file_leads != FILE_LEAD_NAMES:
        raise DataFormatError(f"{base.with_suffix('.hea')}: leads {file_leads}, expected {FILE_LEAD_NAMES}")
    if float(record.fs) != FS_HZ:
        raise DataFormatError(
            f"{base.with_suffix('.hea')}: sampling rate {record.fs} Hz, expected {FS_HZ:g} Hz"
        )
    units = {unit.lower() for unit in record.units}
    if units != {"mv"}:
        raise DataFormatError(f"{base.with_suffix('.hea')}: units {sorted(units)}, expected mV")
    signal_mv = np.asarray(record.p_signal, dtype=np.float32)
    if not np.all(np.isfinite(signal_mv)):
        raise DataFormatError(f"{base.with_suffix('.dat')}: signal holds NaN or infinite samples")
    from ecglib.preprocess import check_plausible_record

    check_plausible_record(signal_mv, LEAD_NAMES, source=f"{base.with_suffix('.dat')} (gain in its .hea)")

    diagnoses = load_diagnoses(root)
    meta: dict = {"header_comments": list(record.comments)}
    if number in diagnoses.index:
        row = diagnoses.loc[number]
        meta.update({_snake(column): row[column] for column in diagnoses.columns})
        meta["rhythm"] = meta.pop("rhythms")
    return EcgRecord(
        record_id=number,
        patient_id=number,
        signal_mv=signal_mv,
        fs_hz=FS_HZ,
        lead_names=LEAD_NAMES,
        source="ludb",
        meta=meta,
    )


def lead_signals(lead: str = "II", root: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One lead of every record (10 s at 500 Hz), in ``RECORDS`` order.

    Returns
    -------
    (signals_mv, patient_ids) : ndarray of shape (n_records, 5000), float32, millivolts, and
        ndarray of shape (n_records,), str (one record per subject)

    Raises
    ------
    DataMissingError
        LUDB is not under the data root.
    """
    signals, patients = [], []
    for record_id in list_records(root):
        record = load_record(record_id, root)
        signals.append(select_lead(record.signal_mv, record.lead_names, lead, where=f"LUDB {record_id}")[0])
        patients.append(record.patient_id)
    return np.stack(signals), np.asarray(patients, dtype=str)


def _snake(column: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", column.lower()).strip("_")


def load_diagnoses(root: str | os.PathLike | None = None) -> pd.DataFrame:
    """``ludb.csv`` as a DataFrame indexed by record id (str), whitespace stripped.

    Columns are the file's own (``Sex``, ``Age``, ``Rhythms``, ``Electric axis of the heart``,
    ...). Cells that list several findings keep them separated by ``"\\n"``; empty cells
    are ``""``. ``Age`` stays a string because the file writes ``">89"``.

    Raises
    ------
    DataFormatError
        when ``ludb.csv`` is missing or has no ``ID`` column.
    """
    path = _folder(root) / "ludb.csv"
    if not path.is_file():
        raise DataFormatError(f"{path}: file missing")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    if "ID" not in table.columns:
        raise DataFormatError(f"{path}: no 'ID' column (columns: {list(table.columns)})")
    table = table.apply(lambda column: column.str.strip())
    table["ID"] = [_record_number(value) for value in table["ID"]]
    return table.set_index("ID").rename_axis("record_id")


# --------------------------------------------------------------------------- delineation

# One token per annotation: '(' onset, ')' offset, or a wave symbol. Alternatives are
# tried in this order at each position (see the module docstring for their meaning).
_LAYOUTS = (
    ("merged", re.compile(r"(\({2,})([pNt])\2*(\)+)")),
    ("triplet", re.compile(r"\(([pNt])\)")),
    ("peak_before", re.compile(r"([pNt])\(\)")),
    ("peak_after", re.compile(r"\(\)([pNt])")),
    ("no_onset", re.compile(r"([pNt])\)")),
    ("no_offset", re.compile(r"\(([pNt])")),
    ("unlabelled", re.compile(r"\(\)")),
    ("peak_only", re.compile(r"([pNt])")),
)


def parse_waves(symbols: list[str], samples: np.ndarray, *, source: str = "<annotations>") -> pd.DataFrame:
    """Group LUDB delineation symbols into waves.

    Parameters
    ----------
    symbols : list of str, length n_annotations
        ``"("``, ``")"``, ``"p"``, ``"N"`` or ``"t"``, in sample order.
    samples : ndarray of shape (n_annotations,), int, sample indices
    source : name used in error messages (the annotation file)

    Returns
    -------
    DataFrame with columns ``wave`` (``"P"``, ``"QRS"``, ``"T"``), ``onset``, ``peak``,
    ``offset`` (sample indices, pandas ``Int64``, ``<NA>`` where the file gives none) and
    ``layout`` (how the wave was written, see the module docstring), one row per wave in
    file order.

    Raises
    ------
    DataFormatError
        naming ``source`` and the sample of the first annotation that fits no layout.
    """
    samples = np.asarray(samples, dtype=np.int64)
    if len(symbols) != len(samples):
        raise ValueError(f"{source}: {len(symbols)} symbols but {len(samples)} samples")
    for position, symbol in enumerate(symbols):
        if symbol not in ("(", ")") and symbol not in WAVE_SYMBOLS:
            raise DataFormatError(
                f"{source}: unknown annotation symbol {symbol!r} at sample {samples[position]} "
                f"(expected '(', ')', 'p', 'N' or 't')"
            )
    text = "".join(symbols)  # every symbol is one character
    rows = []
    position = 0
    while position < len(text):
        for layout, pattern in _LAYOUTS:  # noqa: B007 (layout is read after the break)
            match = pattern.match(text, position)
            if match is not None:
                break
        else:
            raise DataFormatError(
                f"{source}: malformed wave annotation at sample {samples[position]}: "
                f"{text[position : position + 6]!r} does not form an '( sym )' triplet"
            )
        span = range(match.start(), match.end())
        if layout == "merged":
            n_open, n_close = len(match.group(1)), len(match.group(3))
            n_peaks = len(span) - n_open - n_close
            if not n_open == n_peaks == n_close:
                raise DataFormatError(
                    f"{source}: malformed nested wave annotation at sample {samples[position]}: "
                    f"{n_open} onsets, {n_peaks} peaks, {n_close} offsets"
                )
        if layout != "unlabelled":
            onsets = [samples[i] for i in span if text[i] == "("]
            offsets = [samples[i] for i in span if text[i] == ")"]
            peaks = [samples[i] for i in span if text[i] in WAVE_SYMBOLS]
            symbol = next(text[i] for i in span if text[i] in WAVE_SYMBOLS)
            rows.append(
                {
                    "wave": WAVE_SYMBOLS[symbol],
                    "onset": int(np.median(onsets)) if onsets else pd.NA,
                    "peak": int(np.median(peaks)),
                    "offset": int(np.median(offsets)) if offsets else pd.NA,
                    "layout": layout,
                }
            )
        position = match.end()
    table = pd.DataFrame(rows, columns=list(WAVE_COLUMNS))
    for column in ("onset", "peak", "offset"):
        table[column] = table[column].astype("Int64")
    return table


def load_delineation(record_id: str | int, lead: str, root: str | os.PathLike | None = None) -> pd.DataFrame:
    """The cardiologists' P/QRS/T delineation of one lead of one record.

    Parameters
    ----------
    record_id : ``"1"``, ``1`` or ``"data/1"``
    lead : lead name in either spelling (``"II"``, ``"ii"``, ``"aVF"``, ``"avf"``)
    root : data root; default ``$ECGLIB_DATA``

    Returns
    -------
    DataFrame of waves, one row each, columns ``wave``, ``onset``, ``peak``, ``offset``
    (sample indices at 500 Hz, ``Int64`` with ``<NA>`` where not annotated), ``layout``;
    see :func:`parse_waves`.

    Raises
    ------
    DataFormatError
        when the annotation file is missing, unreadable or malformed (the message names it).
    """
    import wfdb

    folder = _folder(root)
    number = _record_number(record_id)
    extension = _lead_extension(lead)
    path = folder / "data" / f"{number}.{extension}"
    if not path.is_file():
        raise DataFormatError(
            f"{path}: annotation file missing (record {number}, lead {_FILE_TO_LEAD[extension]})"
        )
    try:
        annotation = wfdb.rdann(str(folder / "data" / number), extension)
    except Exception as error:  # wfdb raises assorted errors on corrupt annotation files
        raise DataFormatError(f"{path}: cannot read WFDB annotations ({error})") from error
    samples = np.asarray(annotation.sample, dtype=np.int64)
    if np.any(np.diff(samples) < 0):
        raise DataFormatError(f"{path}: annotation samples are not in increasing order")
    return parse_waves(list(annotation.symbol), samples, source=str(path))


def load_all_delineations(
    record_id: str | int, root: str | os.PathLike | None = None
) -> dict[str, pd.DataFrame]:
    """:func:`load_delineation` for all 12 leads: lead name (``"I"``...) -> waves."""
    return {lead: load_delineation(record_id, lead, root) for lead in LEAD_NAMES}


# --------------------------------------------------------------------------- diagnosis labels
#
# ``ludb.csv`` diagnoses mapped to label sets for classification (Nguyen & Do 2025's ``local``
# profile: LUDB as a real downstream set). LUDB has one record per subject (PhysioNet: 200
# subjects, 200 records; ``ludb.csv`` has no separate patient column), so a patient-wise split
# of LUDB is a record-wise split.
#
# Each rule is ``(ludb.csv column, start of the finding, label, PTB-XL statement it stands
# for)``; a finding matches when its lower-cased text starts with the given start (so
# "complete ..." never matches "incomplete ..."). Findings that match no rule are
# reported by :func:`diagnosis_labels`, never silently dropped.
#
# Superclasses (PTB-XL's five, Strodthoff et al. 2021): MI = infarction statements incl.
# injury (PTB-XL puts INJ* in MI), STTC = ischemia and non-specific ST/T changes, CD =
# conduction disturbances, HYP = hypertrophy / enlargement ("overload" in LUDB's wording).
# Our readings, stated: "Undefined ischemia/scar/supp.nstemi" -> MI (two of its three
# alternatives, scar and suspected NSTEMI, are MI statements in PTB-XL); "overload" -> HYP.
# NORM ("normal ECG") is derived: a sinus rhythm (sinus rhythm, bradycardia, tachycardia,
# arrhythmia or irregular sinus rhythm), a normal, vertical or horizontal (or unstated)
# electric axis and no finding in any other column. Records with none of the five (e.g. AF
# or pacing alone, or left axis deviation alone) keep an all-zero row.

SUPERCLASS_RULES: tuple[tuple[str, str, str, str], ...] = (
    ("Ischemia", "stemi", "MI", "AMI/ASMI/... (acute MI)"),
    ("Ischemia", "scar formation", "MI", "old MI (IMI, AMI, ...)"),
    ("Ischemia", "undefined ischemia/scar/supp.nstemi", "MI", "INJ* / old MI (our reading)"),
    ("Ischemia", "ischemia", "STTC", "ISC_ / ISCAL / ISCIN ..."),
    ("Non-specific repolarization abnormalities", "non-specific repolarization", "STTC", "NDT / NST_"),
    ("Conduction abnormalities", "i degree av block", "CD", "1AVB"),
    ("Conduction abnormalities", "ii degree av", "CD", "2AVB"),
    ("Conduction abnormalities", "iii degree av", "CD", "3AVB"),
    ("Conduction abnormalities", "complete right bundle branch block", "CD", "CRBBB"),
    ("Conduction abnormalities", "incomplete right bundle branch block", "CD", "IRBBB"),
    ("Conduction abnormalities", "complete left bundle branch block", "CD", "CLBBB"),
    ("Conduction abnormalities", "incomplete left bundle branch block", "CD", "ILBBB"),
    ("Conduction abnormalities", "left anterior hemiblock", "CD", "LAFB"),
    ("Conduction abnormalities", "left posterior hemiblock", "CD", "LPFB"),
    ("Conduction abnormalities", "non-specific intra", "CD", "IVCD"),
    ("Hypertrophies", "left ventricular hypertrophy", "HYP", "LVH"),
    ("Hypertrophies", "left ventricular overload", "HYP", "LVH (our reading)"),
    ("Hypertrophies", "right ventricular hypertrophy", "HYP", "RVH"),
    ("Hypertrophies", "right ventricular overload", "HYP", "RVH (our reading)"),
    ("Hypertrophies", "left atrial hypertrophy", "HYP", "LAO/LAE"),
    ("Hypertrophies", "left atrial overload", "HYP", "LAO/LAE"),
    ("Hypertrophies", "right atrial hypertrophy", "HYP", "RAO/RAE"),
    ("Hypertrophies", "right atrial overload", "HYP", "RAO/RAE"),
)
SUPERCLASSES: tuple[str, ...] = ("NORM", "MI", "STTC", "CD", "HYP")
#: Rhythms and axes compatible with a normal ECG (the NORM rule above).
NORMAL_RHYTHMS: tuple[str, ...] = (
    "sinus rhythm",
    "sinus bradycardia",
    "sinus tachycardia",
    "sinus arrhythmia",
    "irregular sinus rhythm",
)
NORMAL_AXES: tuple[str, ...] = (
    "electric axis of the heart: normal",
    "electric axis of the heart: vertical",
    "electric axis of the heart: horizontal",
)

#: Rhythm and conduction labels (names as in the paper's CPSC2018 / Georgia / Ribeiro lists
#: where they exist): ``(column, start of the finding, label, meaning)``.
RHYTHM_CONDUCTION_RULES: tuple[tuple[str, str, str, str], ...] = (
    ("Rhythms", "sinus rhythm", "SR", "sinus rhythm"),
    ("Rhythms", "sinus bradycardia", "SB", "sinus bradycardia"),
    ("Rhythms", "sinus tachycardia", "STach", "sinus tachycardia"),
    ("Rhythms", "sinus arrhythmia", "SA", "sinus arrhythmia"),
    ("Rhythms", "irregular sinus rhythm", "SA", "sinus arrhythmia (irregular sinus rhythm)"),
    ("Rhythms", "atrial fibrillation", "AF", "atrial fibrillation"),
    ("Rhythms", "atrial flutter", "AFL", "atrial flutter"),
    ("Rhythms", "wandering atrial pacemaker", "WAP", "wandering atrial pacemaker"),
    ("Electric axis of the heart", "electric axis of the heart: left axis", "LAD", "left axis deviation"),
    ("Electric axis of the heart", "electric axis of the heart: right axis", "RAD", "right axis deviation"),
    ("Conduction abnormalities", "i degree av block", "I-AVB", "first-degree AV block"),
    ("Conduction abnormalities", "iii degree av", "III-AVB", "third-degree AV block"),
    ("Conduction abnormalities", "complete right bundle branch block", "RBBB", "complete RBBB"),
    ("Conduction abnormalities", "incomplete right bundle branch block", "IRBBB", "incomplete RBBB"),
    ("Conduction abnormalities", "complete left bundle branch block", "LBBB", "complete LBBB"),
    ("Conduction abnormalities", "incomplete left bundle branch block", "ILBBB", "incomplete LBBB"),
    ("Conduction abnormalities", "left anterior hemiblock", "LAFB", "left anterior fascicular block"),
    ("Conduction abnormalities", "non-specific intra", "IVCD", "non-specific intraventricular delay"),
    ("Extrasystolies", "atrial extrasystole", "PAC", "premature atrial contractions"),
    ("Extrasystolies", "ventricular extrasystole", "PVC", "premature ventricular contractions"),
    ("Cardiac pacing", "", "PACE", "any cardiac pacing finding"),
)
RHYTHM_CONDUCTION_LABELS: tuple[str, ...] = tuple(dict.fromkeys(rule[2] for rule in RHYTHM_CONDUCTION_RULES))
LABEL_SETS: tuple[str, ...] = ("superclass", "rhythm_conduction")
#: Columns of ``ludb.csv`` that hold findings (the others are ``Sex`` and ``Age``).
FINDING_COLUMNS: tuple[str, ...] = (
    "Rhythms",
    "Electric axis of the heart",
    "Conduction abnormalities",
    "Extrasystolies",
    "Hypertrophies",
    "Cardiac pacing",
    "Ischemia",
    "Non-specific repolarization abnormalities",
    "Other states",
)


def findings(diagnoses: pd.DataFrame) -> pd.DataFrame:
    """One row per finding: ``record_id``, ``column``, ``finding`` (a cell listing several
    findings on separate lines gives one row each; empty cells give none)."""
    missing = [column for column in FINDING_COLUMNS if column not in diagnoses.columns]
    if missing:
        raise DataFormatError(f"ludb.csv: missing columns {missing}")
    rows = [
        (record_id, column, item.strip())
        for record_id, row in diagnoses[list(FINDING_COLUMNS)].iterrows()
        for column in FINDING_COLUMNS
        for item in str(row[column]).split("\n")
        if item.strip()
    ]
    return pd.DataFrame(rows, columns=["record_id", "column", "finding"])


def _match(rules, column: str, finding: str) -> list[str]:
    text = finding.lower()
    return [
        label for rule_column, start, label, _ in rules if rule_column == column and text.startswith(start)
    ]


def diagnosis_labels(
    diagnoses: pd.DataFrame, label_set: str = "superclass"
) -> tuple[np.ndarray, tuple[str, ...], pd.DataFrame]:
    """Multi-hot targets of LUDB records from their ``ludb.csv`` findings.

    Parameters
    ----------
    diagnoses : output of :func:`load_diagnoses` (possibly a subset of rows)
    label_set : ``"superclass"`` (NORM, MI, STTC, CD, HYP; :data:`SUPERCLASS_RULES`) or
        ``"rhythm_conduction"`` (:data:`RHYTHM_CONDUCTION_LABELS`)

    Returns
    -------
    targets : ndarray of shape (n_records, n_labels), float32 multi-hot, rows in
        ``diagnoses`` order
    names : the label names, columns of ``targets``
    unmapped : DataFrame (``column``, ``finding``, ``n_records``) of the findings no rule of
        this label set maps (for the superclass set, also those that merely rule out NORM)
    """
    if label_set not in LABEL_SETS:
        raise ValueError(f"label_set must be one of {LABEL_SETS}, got {label_set!r}")
    rules = SUPERCLASS_RULES if label_set == "superclass" else RHYTHM_CONDUCTION_RULES
    names = SUPERCLASSES if label_set == "superclass" else RHYTHM_CONDUCTION_LABELS
    table = findings(diagnoses)
    position = {record_id: i for i, record_id in enumerate(diagnoses.index)}
    targets = np.zeros((len(diagnoses), len(names)), dtype=np.float32)
    abnormal = np.zeros(len(diagnoses), dtype=bool)
    unmapped = []
    for record_id, column, finding in table.itertuples(index=False):
        row = position[record_id]
        labels = _match(rules, column, finding)
        for label in labels:
            targets[row, names.index(label)] = 1.0
        if label_set == "superclass":
            text = finding.lower()
            normal = (column == "Rhythms" and text in NORMAL_RHYTHMS) or (
                column == "Electric axis of the heart" and text in NORMAL_AXES
            )
            abnormal[row] |= not normal
            if labels or normal:
                continue
        elif labels:
            continue
        unmapped.append((column, finding))
    if label_set == "superclass":
        has_sinus = np.zeros(len(diagnoses), dtype=bool)
        for record_id, column, finding in table.itertuples(index=False):
            if column == "Rhythms" and finding.lower() in NORMAL_RHYTHMS:
                has_sinus[position[record_id]] = True
        targets[:, 0] = (has_sinus & ~abnormal).astype(np.float32)
    unmapped_table = (
        pd.DataFrame(unmapped, columns=["column", "finding"]).value_counts().rename("n_records").reset_index()
    )
    return targets, names, unmapped_table


def load_labelled(
    root: str | os.PathLike | None = None,
    *,
    label_set: str = "superclass",
    record_ids=tuple(range(1, 151)),
):
    """LUDB records with multi-hot diagnosis labels, for classification.

    Parameters
    ----------
    root : data root; default ``$ECGLIB_DATA``
    label_set : ``"superclass"`` or ``"rhythm_conduction"`` (see :func:`diagnosis_labels`)
    record_ids : records to read (default 1-150, the records on these machines)

    Returns
    -------
    LabelledSet with ``signals_mv`` (n, 5000, 12) float32 mV at 500 Hz, ``targets`` (n,
    n_labels) multi-hot, ``patient_ids`` = record ids (one record per subject); records
    with none of the labels keep an all-zero row (nothing is dropped). The findings no rule
    maps are in :func:`diagnosis_labels`' third output.
    """
    from ecglib.data import LabelledSet

    wanted = [_record_number(record_id) for record_id in record_ids]
    diagnoses = load_diagnoses(root)
    absent = [record_id for record_id in wanted if record_id not in diagnoses.index]
    if absent:
        raise DataFormatError(f"{_folder(root) / 'ludb.csv'}: no row for record(s) {absent[:10]}")
    diagnoses = diagnoses.loc[wanted]
    targets, names, _ = diagnosis_labels(diagnoses, label_set)
    signals = np.stack([load_record(record_id, root).signal_mv for record_id in wanted])
    return LabelledSet(
        signals_mv=signals,
        targets=targets,
        patient_ids=np.asarray(wanted, dtype=str),
        fs_hz=FS_HZ,
        lead_names=LEAD_NAMES,
        target_names=names,
        task="multi_label",
        source="ludb",
        exclusions={},
    )


# --------------------------------------------------------------------------- interval targets

#: columns of :func:`interval_targets_table`
TARGET_NAMES = ("hr_bpm", "pr_ms", "qrs_ms", "qt_ms")


def interval_targets(
    record_id: str | int, root: str | os.PathLike | None = None, *, definition: str = "global"
) -> dict:
    """HR (bpm), PR, QRS and QT (ms) of one record from its cardiologists' delineation of all 12 leads.

    Definition (``definition="global"``, the default; as MUSE and 12SL measure, so comparable
    with PTB-XL+ and the DeepFake dataset's targets): each lead's waves are paired into beats
    (:func:`ecglib.intervals.beat_fiducials`: a beat's P wave starts after the previous QRS
    peak and before its QRS onset, its T wave peaks before the next QRS peak); QRS complexes
    of different leads that overlap in time are one beat. Per beat: QRS onset =
    earliest onset over the leads, QRS offset = latest offset, P onset = earliest P onset,
    T offset = latest T offset; PR = QRS onset - P onset, QRS = QRS offset - QRS onset,
    QT = T offset - QRS onset. Each interval is the median over beats; HR = 60000 / the
    median RR (ms) between consecutive beats' QRS peaks (each the median over leads).
    PR is NaN when no P wave is annotated (LUDB's atrial fibrillation, flutter and paced
    records). See :func:`ecglib.intervals.global_intervals` (``quantile=0``).

    ``definition="median"``: each lead's median over beats, then the median over the 12 leads
    (:func:`ecglib.intervals.combine_leads`); HR from lead II's beats.

    Parameters
    ----------
    record_id : ``"1"``, ``1`` or ``"data/1"``
    root : data root; default ``$ECGLIB_DATA``
    definition : ``"global"`` or ``"median"``

    Returns
    -------
    dict with ``hr_bpm``, ``pr_ms``, ``qrs_ms``, ``qt_ms`` (float, NaN where not annotated),
    ``n_beats`` and ``reason`` (``""``, or why an interval is NaN)

    Raises
    ------
    DataFormatError
        naming the annotation file that is missing or malformed.
    """
    from ecglib import intervals

    if definition not in intervals.DEFINITIONS:
        raise ValueError(f"definition must be one of {intervals.DEFINITIONS}, got {definition!r}")
    waves_by_lead = load_all_delineations(record_id, root)
    if definition == "global":
        values = intervals.global_intervals(waves_by_lead, FS_HZ, quantile=0.0)
    else:
        per_lead = {
            lead: intervals.intervals_from_waves(waves, FS_HZ) for lead, waves in waves_by_lead.items()
        }
        values = intervals.combine_leads(per_lead)
        values = {**{name: values[name] for name in TARGET_NAMES}, "n_beats": per_lead["II"]["n_beats"]}
        values["hr_bpm"] = per_lead["II"]["hr_bpm"]
    has_p = any((waves["wave"] == "P").any() for waves in waves_by_lead.values())
    reasons = []
    for name in TARGET_NAMES:
        if np.isnan(values[name]):
            why = "no P wave annotated in any lead" if name == "pr_ms" and not has_p else "not annotated"
            reasons.append(f"{name}: {why} (record {_record_number(record_id)})")
    return {
        **{name: values[name] for name in TARGET_NAMES},
        "n_beats": values["n_beats"],
        "reason": "; ".join(reasons),
    }


#: bump when :func:`interval_targets` gives other values for the same files (its disk cache is keyed by it)
TARGETS_CODE_VERSION = "ludb-interval-targets-1"


def interval_targets_table(
    record_ids: list[str] | None = None,
    root: str | os.PathLike | None = None,
    *,
    definition: str = "global",
    use_cache: bool = False,
) -> pd.DataFrame:
    """:func:`interval_targets` for several records (default: all of RECORDS), indexed by record id.

    ``use_cache``: keep the table in the disk cache (:mod:`ecglib.data.cache`), keyed by the
    records, the definition, :data:`TARGETS_CODE_VERSION` and the identity of every annotation and
    header file read, so a changed file is measured again (measuring LUDB's 150 records from
    their 1,800 annotation files takes about 13 s, reading the cached table 0.2 s; each unit job of
    a cluster run needs the table).

    Returns
    -------
    DataFrame with index ``record_id`` and columns ``hr_bpm``, ``pr_ms``, ``qrs_ms``, ``qt_ms``,
    ``n_beats``, ``reason``
    """
    record_ids = list_records(root) if record_ids is None else [_record_number(r) for r in record_ids]

    def table() -> pd.DataFrame:
        rows = {
            record_id: interval_targets(record_id, root, definition=definition) for record_id in record_ids
        }
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("record_id")

    if not use_cache:
        return table()
    from ecglib.data import cache

    data = _folder(root) / "data"
    files = [data / f"{number}.hea" for number in record_ids]
    files += [data / f"{number}.{_lead_extension(lead)}" for number in record_ids for lead in LEAD_NAMES]
    key = {
        "dataset": "ludb-interval-targets",
        "version": INFO.version,
        "records": record_ids,
        "definition": definition,
        "code_version": TARGETS_CODE_VERSION,
    }

    def arrays() -> dict[str, np.ndarray]:
        computed = table()
        return {
            "record_id": computed.index.to_numpy(dtype=str),
            **{name: computed[name].to_numpy(dtype=np.float64) for name in TARGET_NAMES},
            "n_beats": computed["n_beats"].to_numpy(dtype=np.int64),
            "reason": computed["reason"].to_numpy(dtype=str),
        }

    stored = cache.cached(key, arrays, files=files)
    frame = pd.DataFrame(
        {
            **{name: stored[name] for name in TARGET_NAMES},
            "n_beats": stored["n_beats"],
            "reason": stored["reason"].astype(object),
        },
        index=pd.Index(stored["record_id"].astype(object), name="record_id"),
    )
    return frame
