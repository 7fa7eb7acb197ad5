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

Beat symbols are mapped to the five AAMI EC57 classes with :data:`AAMI_CLASS_OF_SYMBOL`
(de Chazal et al. 2004 grouping). Symbols outside that map are not beats and are left
out of the beat arrays: rhythm ``+``, noise ``~``, comments ``"``, isolated QRS-like
artefact ``|``, non-conducted P wave ``x``, ventricular flutter start/end ``[``/``]`` and
ventricular flutter wave ``!`` (flutter waves are not classified beats in AAMI EC57).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ecglib.data import DataFormatError, DataMissingError, DatasetInfo, EcgRecord, dataset_folder

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
    KeyError
        the record has no such lead (records 102 and 104 have no MLII); the message
        lists the leads it does have.
    """
    try:
        return record.lead_names.index(lead_name)
    except ValueError:
        raise KeyError(
            f"record {record.record_id} ({record.source}) has no lead {lead_name!r}; its leads are {record.lead_names}"
        ) from None
