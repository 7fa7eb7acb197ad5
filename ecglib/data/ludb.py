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


def interval_targets_table(
    record_ids: list[str] | None = None, root: str | os.PathLike | None = None, *, definition: str = "global"
) -> pd.DataFrame:
    """:func:`interval_targets` for several records (default: all of RECORDS), indexed by record id.

    Returns
    -------
    DataFrame with index ``record_id`` and columns ``hr_bpm``, ``pr_ms``, ``qrs_ms``, ``qt_ms``,
    ``n_beats``, ``reason``
    """
    record_ids = list_records(root) if record_ids is None else [_record_number(r) for r in record_ids]
    rows = {record_id: interval_targets(record_id, root, definition=definition) for record_id in record_ids}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("record_id")
