"""MIT-BIH Arrhythmia Database 1.0.0 (Moody & Mark 2001): records, beat and rhythm annotations.

Facts kept beside the reader
----------------------------
- 48 half-hour two-lead records, 360 Hz, 11-bit format 212, 650,000 samples each
  (``RECORDS`` lists them). Lead 0 is MLII in 45 records (the other lead is V1, V2, V4
  or V5); record 114 has (V5, MLII) and records 102 and 104 have (V5, V2), no MLII.
  Lead names are read from each header, never assumed: use :func:`lead_index`.
- Records 201 and 202 come from the same patient (the MIT-BIH directory says so), so
  both map to patient id ``"201"``; every other record is its own patient (47 patients).
  Patient-wise splits must use :func:`patient_id`.
- Reference annotations are in ``NNN.atr``: beat symbols at R peaks and, at symbol ``+``,
  rhythm changes in ``aux_note`` (``(N``, ``(AFIB``, ``(AFL``, ``(B``, ``(T``, ``(SVTA``,
  ``(VT``, ``(VFL``, ``(P``, ``(PREX``, ``(NOD``, ``(BII``, ``(IVR``, ``(AB``, ``(SBR``).

:func:`cut_records` is the one loop over records that every study uses to cut windows (lead
selection with a stated fallback, a cutting function from :mod:`ecglib.segment`, an optional
per-record cache).

Beat symbols are mapped to the five AAMI EC57 classes with :data:`AAMI_CLASS_OF_SYMBOL`
(de Chazal et al. 2004 grouping). Symbols outside that map are not beats and are left
out of the beat arrays: rhythm ``+``, noise ``~``, comments ``"``, isolated QRS-like
artefact ``|``, non-conducted P wave ``x``, ventricular flutter start/end ``[``/``]`` and
ventricular flutter wave ``!`` (flutter waves are not classified beats in AAMI EC57).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ecglib import preprocess
from ecglib.data import DataFormatError, DataMissingError, DatasetInfo, EcgRecord, dataset_folder
from ecglib.errors import LeadMissingError
from ecglib.segment import Windows

NAME = "mitbih"
MITBIH_FS_HZ = 360.0
MITBIH_N_SAMPLES = 650_000

INFO = DatasetInfo(
    name=NAME,
    title="MIT-BIH Arrhythmia Database",
    version="1.0.0",
    citation=(
        "Moody GB, Mark RG. The impact of the MIT-BIH Arrhythmia Database. "
        "IEEE Eng in Med and Biol 20(3):45-50 (May-June 2001). PMID: 11446209. "
        "Goldberger AL et al. PhysioBank, PhysioToolkit, and PhysioNet. Circulation 101(23):e215-e220 (2000)."
    ),
    licence="ODC-By 1.0 (Open Data Commons Attribution License v1.0)",
    homepage="https://physionet.org/content/mitdb/1.0.0/",
    kind="public",
    folder="mitdb",
    source_urls=("https://physionet.org/files/mitdb/1.0.0/",),
    approx_size_bytes=94_000_000,  # the 48 .dat/.hea/.atr files plus RECORDS, ANNOTATORS
    fs_hz=MITBIH_FS_HZ,
    lead_names=("MLII", "V1", "V2", "V4", "V5"),
    notes=(
        "48 two-lead records at 360 Hz; lead 0 is MLII except records 114 (V5, MLII), 102 and 104 (V5, V2). "
        "Records 201 and 202 are the same patient (patient id '201')."
    ),
)

#: Record ids of the database (the content of ``RECORDS``).
RECORD_IDS: tuple[str, ...] = (
    "100",
    "101",
    "102",
    "103",
    "104",
    "105",
    "106",
    "107",
    "108",
    "109",
    "111",
    "112",
    "113",
    "114",
    "115",
    "116",
    "117",
    "118",
    "119",
    "121",
    "122",
    "123",
    "124",
    "200",
    "201",
    "202",
    "203",
    "205",
    "207",
    "208",
    "209",
    "210",
    "212",
    "213",
    "214",
    "215",
    "217",
    "219",
    "220",
    "221",
    "222",
    "223",
    "228",
    "230",
    "231",
    "232",
    "233",
    "234",
)

#: Records that share a patient, record id -> patient id (MIT-BIH directory: 201 and 202
#: "came from the same male subject"). Every other record is its own patient.
SAME_PATIENT: dict[str, str] = {"202": "201"}

#: MIT-BIH beat symbol -> AAMI EC57 class (N normal/bundle-branch/escape, S supraventricular
#: ectopic, V ventricular ectopic, F fusion, Q paced/unclassifiable).
AAMI_CLASS_OF_SYMBOL: dict[str, str] = {
    "N": "N",
    "L": "N",
    "R": "N",
    "e": "N",
    "j": "N",
    "A": "S",
    "a": "S",
    "J": "S",
    "S": "S",
    "V": "V",
    "E": "V",
    "F": "F",
    "/": "Q",
    "f": "Q",
    "Q": "Q",
}

AAMI_CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "Q")

#: Annotation symbol that carries a rhythm change in ``aux_note``.
RHYTHM_SYMBOL = "+"

# Bytes per sample of the WFDB storage formats we can size-check.
_BYTES_PER_SAMPLE = {"212": 1.5, "16": 2.0, "61": 2.0, "80": 1.0, "8": 1.0, "24": 3.0, "32": 4.0}


@dataclass
class Annotations:
    """Reference annotations of one record.

    Attributes
    ----------
    record_id : record name, e.g. ``"100"``
    fs_hz : sampling rate of the sample indices, hertz
    n_samples : length of the record, samples
    beat_samples : ndarray of shape (n_beats,), int64, sample index of each beat (R peak)
    beat_symbols : ndarray of shape (n_beats,), str, MIT-BIH beat symbol
    beat_classes : ndarray of shape (n_beats,), str, AAMI class (one of ``AAMI_CLASSES``)
    rhythms : DataFrame with columns ``start_sample`` (inclusive), ``end_sample``
        (exclusive; the next rhythm change or the end of the record) and ``rhythm``
        (e.g. ``"N"``, ``"AFIB"``, without the leading parenthesis)
    """

    record_id: str
    fs_hz: float
    n_samples: int
    beat_samples: np.ndarray
    beat_symbols: np.ndarray
    beat_classes: np.ndarray
    rhythms: pd.DataFrame


def folder(root: str | os.PathLike | None = None) -> Path:
    """The MIT-BIH folder under the data root; raises DataMissingError when it is absent."""
    path = dataset_folder(NAME, root)
    if not path.is_dir():
        raise DataMissingError(NAME, path)
    return path


def _missing_file(path: Path, what: str) -> DataMissingError:
    error = DataMissingError(NAME, path.parent)
    error.args = (
        f"{path}: {what} is missing (incomplete MIT-BIH copy). "
        f"Fetch the dataset again with `ecglib data download {NAME}`.",
    )
    return error


def list_records(root: str | os.PathLike | None = None) -> list[str]:
    """Record ids listed in the dataset's ``RECORDS`` file (48 for the full database)."""
    records_path = folder(root) / "RECORDS"
    if not records_path.is_file():
        raise _missing_file(records_path, "the RECORDS list")
    record_ids = records_path.read_text().split()
    unknown = sorted(set(record_ids) - set(RECORD_IDS))
    if unknown:
        raise DataFormatError(f"{records_path}: lists records that MIT-BIH does not have: {unknown}")
    return record_ids


def patient_id(record_id: str) -> str:
    """Patient of a record: the record id, except record 202 which is patient ``"201"``."""
    record_id = _check_record_id(record_id)
    return SAME_PATIENT.get(record_id, record_id)


def _check_record_id(record_id: str | int) -> str:
    record_id = str(record_id)
    if record_id not in RECORD_IDS:
        raise ValueError(f"unknown MIT-BIH record {record_id!r}; the records are {', '.join(RECORD_IDS)}")
    return record_id


def _read_header(record_id: str, root) -> tuple[object, Path]:
    import wfdb

    base = folder(root) / record_id
    header_path = base.with_suffix(".hea")
    if not header_path.is_file():
        raise _missing_file(header_path, "the header")
    try:
        header = wfdb.rdheader(str(base))
    except Exception as exc:  # wfdb raises several types for a malformed header
        raise DataFormatError(
            f"{header_path}: cannot parse the WFDB header ({type(exc).__name__}: {exc})"
        ) from exc
    if header.n_sig != 2 or header.fs != MITBIH_FS_HZ or not header.sig_len:
        raise DataFormatError(
            f"{header_path}: expected 2 signals at {MITBIH_FS_HZ:g} Hz with a length, got "
            f"n_sig={header.n_sig}, fs={header.fs}, sig_len={header.sig_len}"
        )
    return header, base


def load_record(record_id: str | int, root: str | os.PathLike | None = None) -> EcgRecord:
    """Read both leads of one record in millivolts.

    Parameters
    ----------
    record_id : record name such as ``"100"``
    root : data root; default ``$ECGLIB_DATA`` or ``~/ecglib_data``

    Returns
    -------
    EcgRecord
        ``signal_mv`` of shape (650000, 2), float32, millivolts; ``lead_names`` from the
        header (e.g. ``("MLII", "V5")``); ``fs_hz`` 360; ``patient_id`` per :func:`patient_id`;
        ``meta`` holds the header comments (age, sex, medications).

    Raises
    ------
    DataMissingError
        the dataset folder or one of the record's files is absent.
    DataFormatError
        the header cannot be parsed or the signal file is truncated or corrupt.
    """
    import wfdb

    record_id = _check_record_id(record_id)
    header, base = _read_header(record_id, root)
    for file_name in sorted(set(header.file_name)):
        dat_path = base.parent / file_name
        if not dat_path.is_file():
            raise _missing_file(dat_path, "the signal file")
        fmt = str(header.fmt[0])
        if fmt in _BYTES_PER_SAMPLE:
            n_sig_in_file = sum(1 for name in header.file_name if name == file_name)
            expected_bytes = int(np.ceil(header.sig_len * n_sig_in_file * _BYTES_PER_SAMPLE[fmt]))
            actual_bytes = dat_path.stat().st_size
            if actual_bytes < expected_bytes:
                raise DataFormatError(
                    f"{dat_path}: truncated signal file, {actual_bytes} bytes where the header promises "
                    f"{expected_bytes} ({header.sig_len} samples x {n_sig_in_file} signals, format {fmt})"
                )
    try:
        record = wfdb.rdrecord(str(base), physical=True)
    except Exception as exc:
        raise DataFormatError(f"{base}.dat: cannot read the signal ({type(exc).__name__}: {exc})") from exc
    signal_mv = np.asarray(record.p_signal, dtype=np.float32)
    units = [unit.lower() for unit in (record.units or [])]
    if any(unit != "mv" for unit in units):
        raise DataFormatError(f"{base}.hea: expected signals in mV, the header says {record.units}")
    if not np.isfinite(signal_mv).all():
        raise DataFormatError(f"{base}.dat: the signal holds NaN/inf values (invalid samples)")
    from ecglib.preprocess import check_plausible_record

    check_plausible_record(signal_mv, tuple(record.sig_name), source=f"{base}.dat (gain in {base}.hea)")
    return EcgRecord(
        record_id=record_id,
        patient_id=patient_id(record_id),
        signal_mv=signal_mv,
        fs_hz=float(record.fs),
        lead_names=tuple(record.sig_name),
        source=NAME,
        meta={"comments": list(record.comments)},
    )


def load_annotations(record_id: str | int, root: str | os.PathLike | None = None) -> Annotations:
    """Read the reference beat and rhythm annotations (``NNN.atr``) of one record.

    Beats are the annotations whose symbol is in :data:`AAMI_CLASS_OF_SYMBOL`; every other
    symbol is dropped from the beat arrays (see the module docstring). Rhythm intervals run
    from one ``+`` annotation whose ``aux_note`` starts with ``(`` to the next one (or to the
    end of the record).

    Returns
    -------
    Annotations

    Raises
    ------
    DataMissingError
        the dataset folder, the header or the ``.atr`` file is absent.
    DataFormatError
        the annotation file cannot be parsed or holds samples outside the record.
    """
    import wfdb

    record_id = _check_record_id(record_id)
    header, base = _read_header(record_id, root)
    atr_path = base.with_suffix(".atr")
    if not atr_path.is_file():
        raise _missing_file(atr_path, "the reference annotation file")
    try:
        annotation = wfdb.rdann(str(base), "atr")
    except Exception as exc:
        raise DataFormatError(
            f"{atr_path}: cannot parse the annotation file ({type(exc).__name__}: {exc})"
        ) from exc
    samples = np.asarray(annotation.sample, dtype=np.int64)
    symbols = np.asarray(annotation.symbol, dtype=str)
    aux_notes = [(note or "").rstrip("\x00").strip() for note in (annotation.aux_note or [""] * len(samples))]
    n_samples = int(header.sig_len)
    if len(samples) and (samples.min() < 0 or samples.max() >= n_samples):
        raise DataFormatError(
            f"{atr_path}: annotation samples run from {samples.min()} to {samples.max()}, "
            f"outside the record's {n_samples} samples"
        )
    is_beat = np.isin(symbols, list(AAMI_CLASS_OF_SYMBOL))
    beat_symbols = symbols[is_beat]
    rhythm_starts, rhythm_labels = [], []
    for sample, symbol, note in zip(samples, symbols, aux_notes):
        if symbol == RHYTHM_SYMBOL and note.startswith("("):
            rhythm_starts.append(int(sample))
            rhythm_labels.append(note[1:])
    rhythm_ends = rhythm_starts[1:] + [n_samples]
    rhythms = pd.DataFrame(
        {
            "start_sample": np.asarray(rhythm_starts, dtype=np.int64),
            "end_sample": np.asarray(rhythm_ends, dtype=np.int64),
            "rhythm": pd.Series(rhythm_labels, dtype=object),
        }
    )
    return Annotations(
        record_id=record_id,
        fs_hz=float(header.fs),
        n_samples=n_samples,
        beat_samples=samples[is_beat],
        beat_symbols=beat_symbols,
        beat_classes=np.asarray([AAMI_CLASS_OF_SYMBOL[symbol] for symbol in beat_symbols], dtype=str),
        rhythms=rhythms,
    )


def lead_index(record: EcgRecord, lead_name: str) -> int:
    """Column of ``record.signal_mv`` that holds ``lead_name`` (e.g. ``"MLII"``).

    Raises
    ------
    LeadMissingError
        (a ``KeyError``) the record has no such lead (records 102 and 104 have no MLII); the
        message lists the leads it does have.
    """
    return preprocess.lead_column(
        record.lead_names, lead_name, where=f"record {record.record_id} ({record.source})"
    )


# --------------------------------------------------------------------------- inter-patient split

#: Paced records, left out of the inter-patient split (de Chazal et al. 2004; AAMI EC57).
PACED_RECORDS: tuple[str, ...] = ("102", "104", "107", "217")
#: The inter-patient split of de Chazal, O'Dwyer & Reilly (2004), "Automatic classification
#: of heartbeats using ECG morphology and heartbeat interval features", IEEE TBME 51(7):
#: DS1 (training) and DS2 (test), 22 records each, the 4 paced records in neither.
#: Records 201 (DS1) and 202 (DS2) are the same patient (:data:`SAME_PATIENT`): the split is
#: record-disjoint but not strictly patient-disjoint, as published.
DECHAZAL_DS1: tuple[str, ...] = (
    "101",
    "106",
    "108",
    "109",
    "112",
    "114",
    "115",
    "116",
    "118",
    "119",
    "122",
    "124",
    "201",
    "203",
    "205",
    "207",
    "208",
    "209",
    "215",
    "220",
    "223",
    "230",
)
DECHAZAL_DS2: tuple[str, ...] = (
    "100",
    "103",
    "105",
    "111",
    "113",
    "117",
    "121",
    "123",
    "200",
    "202",
    "210",
    "212",
    "213",
    "214",
    "219",
    "221",
    "222",
    "228",
    "231",
    "232",
    "233",
    "234",
)


def inter_patient_split(record_ids) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the examples in de Chazal's DS1 (train) and DS2 (test), by their record.

    Parameters
    ----------
    record_ids : array-like of shape (n_examples,), the MIT-BIH record of each example
        (e.g. a beat set's ``patient_ids`` when they are record ids)

    Returns
    -------
    (ndarray, ndarray): int64 indices of the DS1 and DS2 examples, sorted. Examples from the
    paced records (:data:`PACED_RECORDS`) are in neither.

    Raises
    ------
    ValueError
        a record id is not an MIT-BIH record.
    """
    record_ids = np.asarray(record_ids).astype(str)
    unknown = sorted(set(record_ids) - set(RECORD_IDS))
    if unknown:
        raise ValueError(f"not MIT-BIH records: {unknown[:10]}; the records are {', '.join(RECORD_IDS)}")
    ds1 = np.flatnonzero(np.isin(record_ids, DECHAZAL_DS1)).astype(np.int64)
    ds2 = np.flatnonzero(np.isin(record_ids, DECHAZAL_DS2)).astype(np.int64)
    return ds1, ds2


# --------------------------------------------------------------------------- windows of many records

#: what :func:`cut_records` does with a record that lacks the lead: drop it, use its first lead, or raise
LEAD_FALLBACKS = ("exclude", "first_lead", "error")
#: array names of a cached record that are not exclusion counts
_CACHED_ARRAYS = ("signals", "labels", "start_samples", "lead_used")


@dataclass
class RecordCut:
    """Windows cut from one record.

    Attributes
    ----------
    record_id, patient_id : the record and its patient (record 202 is patient ``"201"``)
    lead : the lead the windows come from (the wanted one, or the fallback)
    windows : the :class:`ecglib.segment.Windows` the cutting function returned
    """

    record_id: str
    patient_id: str
    lead: str
    windows: Windows


@dataclass
class CutRecords:
    """Windows of many records (:func:`cut_records`), in the order the records were asked for.

    Attributes
    ----------
    records : one :class:`RecordCut` per record that has the lead (or a fallback)
    without_lead : ids of records dropped because they lack the lead (``fallback="exclude"``)
    files : the data files of every record asked for (``.hea``, ``.dat``, ``.atr``), for provenance
    """

    records: list[RecordCut]
    without_lead: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def _joined(self, name: str) -> np.ndarray:
        return np.concatenate([getattr(cut.windows, name) for cut in self.records])

    @property
    def signals(self) -> np.ndarray:
        """Windows of every record, concatenated: (n_windows, ...), as the cutting function made them."""
        return self._joined("signals")

    @property
    def labels(self) -> np.ndarray:
        """Label of every window: (n_windows,)."""
        return self._joined("labels")

    @property
    def start_samples(self) -> np.ndarray:
        """First sample of every window in its record: (n_windows,), int64."""
        return self._joined("start_samples").astype(np.int64)

    @property
    def record_ids(self) -> np.ndarray:
        """Record of every window: (n_windows,), str."""
        return np.concatenate([np.full(len(cut.windows), cut.record_id) for cut in self.records]).astype(str)

    @property
    def patient_ids(self) -> np.ndarray:
        """Patient of every window: (n_windows,), str (records 201 and 202 share patient ``"201"``)."""
        return np.concatenate([np.full(len(cut.windows), cut.patient_id) for cut in self.records]).astype(str)

    @property
    def exclusions(self) -> dict[str, int]:
        """Windows dropped per reason (the cutting function's reasons), summed over records."""
        total: dict[str, int] = {}
        for cut in self.records:
            for reason, count in cut.windows.exclusions.items():
                total[reason] = total.get(reason, 0) + int(count)
        return total


def _cut_arrays(cut: Windows, lead_used: str) -> dict[str, np.ndarray]:
    return {
        "signals": cut.signals,
        "labels": cut.labels,
        "start_samples": cut.start_samples,
        "lead_used": np.frombuffer(lead_used.ljust(8).encode(), dtype=np.uint8).copy(),
        **{reason: np.array([count], np.int64) for reason, count in cut.exclusions.items()},
    }


def cut_records(
    cut: Callable[[np.ndarray, float, Annotations | None], Windows],
    record_ids: Sequence[str] | None = None,
    *,
    root: str | os.PathLike | None = None,
    lead: str = "MLII",
    fallback: str = "exclude",
    annotations: bool = True,
    cache_key: Mapping | None = None,
    use_cache: bool = False,
) -> CutRecords:
    """Cut windows from one lead of each record with ``cut``.

    Parameters
    ----------
    cut : function ``(signal_mv, fs_hz, annotations) -> ecglib.segment.Windows`` applied to each
        record's lead (``signal_mv`` of shape (n_samples,), millivolts; ``annotations`` is the
        record's :class:`Annotations`, or None when ``annotations=False``)
    record_ids : records, in the order wanted (default: every record in ``RECORDS``)
    root : data root (default ``$ECGLIB_DATA``)
    lead : lead to cut (``"MLII"``: records 102 and 104 lack it)
    fallback : for a record without ``lead``: "exclude" drops it (listed in
        ``CutRecords.without_lead``), "first_lead" uses its first lead, "error" raises
        :class:`~ecglib.errors.LeadMissingError` (see :func:`ecglib.preprocess.select_lead`)
    annotations : read each record's annotations for ``cut``
    cache_key : when given, each record's windows are kept in the disk cache
        (:mod:`ecglib.data.cache`) under ``{"dataset", "version", "record", "lead",
        "lead_fallback"}`` plus these parts, which must name everything ``cut`` depends on
        (its settings and a code version)
    use_cache : read and write that cache (False: compute every record)

    Returns
    -------
    CutRecords

    Raises
    ------
    DataMissingError
        MIT-BIH (or a file of a record) is not under the data root; the message names
        ``ecglib data download mitbih``.
    """
    if fallback not in LEAD_FALLBACKS:
        raise ValueError(f"fallback must be one of {LEAD_FALLBACKS}, got {fallback!r}")
    data_folder = folder(root)  # raises DataMissingError naming the download command
    record_ids = list_records(root) if record_ids is None else [_check_record_id(r) for r in record_ids]
    result = CutRecords(records=[])

    def compute(record_id: str) -> dict[str, np.ndarray]:
        record = load_record(record_id, root)
        try:
            signal_mv, used = preprocess.select_lead(
                record.signal_mv,
                record.lead_names,
                lead,
                fallback="first_lead" if fallback == "first_lead" else "error",
                where=f"MIT-BIH record {record_id}",
            )
        except LeadMissingError:
            if fallback == "error":
                raise
            return {"lead_missing": np.ones(1, np.int64)}
        record_annotations = load_annotations(record_id, root) if annotations else None
        return _cut_arrays(cut(signal_mv, record.fs_hz, record_annotations), used)

    for record_id in record_ids:
        record_files = [data_folder / f"{record_id}.{ext}" for ext in ("hea", "dat", "atr")]
        if cache_key is None:
            arrays = compute(record_id)
        else:
            from ecglib.data import cache

            key = {
                "dataset": NAME,
                "version": INFO.version,
                "record": record_id,
                "lead": lead,
                "lead_fallback": fallback,
                **cache_key,
            }
            arrays = cache.cached(
                key, lambda record_id=record_id: compute(record_id), use_cache=use_cache, files=record_files
            )
        result.files += record_files
        if "lead_missing" in arrays:
            result.without_lead.append(record_id)
            continue
        windows = Windows(
            signals=arrays["signals"],
            labels=arrays["labels"],
            start_samples=arrays["start_samples"],
            exclusions={name: int(arrays[name][0]) for name in arrays if name not in _CACHED_ARRAYS},
        )
        used = bytes(arrays["lead_used"]).decode().strip()
        result.records.append(RecordCut(record_id, patient_id(record_id), used, windows))
    return result
