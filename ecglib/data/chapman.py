"""Chapman University - Shaoxing People's Hospital 12-lead ECG database (Zheng et al. 2020).

Facts kept beside the reader
----------------------------
- 10,646 patients, one 10 s, 12-lead, 500 Hz ECG each (so the patient id is the
  ``FileName``), 11 rhythm labels (:data:`RHYTHM_NAMES`) and 67 other conditions
  (``Beat`` column, space separated). Published on figshare (collection 4560497,
  CC BY 4.0): ``Diagnostics.xlsx`` (labels and GE MUSE measurements),
  ``ECGData.zip`` (raw) and ``ECGDataDenoised.zip`` (the authors' denoising),
  ``RhythmNames.xlsx``, ``ConditionNames.xlsx``, ``AttributesDictionary.xlsx``.
- Waveforms: ``ECGData/<FileName>.csv`` and ``ECGDataDenoised/<FileName>.csv``, 5000 rows
  (samples) x 12 columns in the order I, II, III, aVR, aVL, aVF, V1-V6. The raw files start
  with a header row naming the leads; the denoised files have no header row. Both readers
  are supported: a header, when present, must name the leads in that order.
- Amplitudes in the CSVs are in microvolts (Zheng et al. 2020; confirmed by users of the
  data, e.g. LightX3ECG issue #5 and Strodthoff et al.'s loader, which multiplies by 0.001).
  :func:`load_record` returns millivolts.
- A copy of ``Diagnostics.xlsx`` saved as ``Diagnostics.csv`` (same columns) is read too.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ecglib.data import DataFormatError, DataMissingError, DatasetInfo, EcgRecord, dataset_folder
from ecglib.preprocess import LEADS_12, check_signal, select_lead

NAME = "chapman"
CHAPMAN_FS_HZ = 500.0
CHAPMAN_N_SAMPLES = 5000
MICROVOLTS_PER_MILLIVOLT = 1000.0
_FIGSHARE = "https://figshare.com/ndownloader/files/"

#: figshare download address of each published file (collection 4560497), file name -> URL.
FIGSHARE_FILES: dict[str, str] = {
    "Diagnostics.xlsx": _FIGSHARE + "15653771",
    "ECGDataDenoised.zip": _FIGSHARE + "15652862",
    "ECGData.zip": _FIGSHARE + "15651326",
    "RhythmNames.xlsx": _FIGSHARE + "15651296",
    "ConditionNames.xlsx": _FIGSHARE + "15651293",
    "AttributesDictionary.xlsx": _FIGSHARE + "15653762",
}

INFO = DatasetInfo(
    name=NAME,
    title="Chapman University - Shaoxing People's Hospital 12-lead ECG database",
    version="figshare collection 4560497 v2 (2020)",
    citation=(
        "Zheng J, Zhang J, Danioko S, Yao H, Guo H, Rakovski C. A 12-lead electrocardiogram database for "
        "arrhythmia research covering more than 10,000 patients. Sci Data 7, 48 (2020). "
        "doi:10.1038/s41597-020-0386-x"
    ),
    licence="CC BY 4.0",
    homepage="https://figshare.com/collections/ChapmanECG/4560497",
    kind="public",
    folder="chapman",
    source_urls=tuple(FIGSHARE_FILES.values()),
    fs_hz=CHAPMAN_FS_HZ,
    lead_names=LEADS_12,
    notes="10 s, 12 leads, 500 Hz; CSV amplitudes in microvolts (converted to mV); one record per patient.",
)

#: What `ecglib data status` needs to call Chapman present: the waveforms. The label table
#: alone (as on machines that only carry Diagnostics.csv) is not enough for a study.
REQUIRED_FILES: tuple[str, ...] = ("ECGDataDenoised",)

#: The 11 rhythm codes of ``Diagnostics`` (column ``Rhythm``) and their names (RhythmNames.xlsx).
RHYTHM_NAMES: dict[str, str] = {
    "SB": "Sinus Bradycardia",
    "SR": "Sinus Rhythm",
    "AFIB": "Atrial Fibrillation",
    "ST": "Sinus Tachycardia",
    "AF": "Atrial Flutter",
    "SA": "Sinus Irregularity",
    "SVT": "Supraventricular Tachycardia",
    "AT": "Atrial Tachycardia",
    "AVNRT": "Atrioventricular Node Reentrant Tachycardia",
    "AVRT": "Atrioventricular Reentrant Tachycardia",
    "SAAWR": "Sinus Atrium to Atrial Wandering Rhythm",
}
RHYTHM_CODES: tuple[str, ...] = tuple(RHYTHM_NAMES)

REQUIRED_COLUMNS = ("FileName", "Rhythm", "Beat", "PatientAge", "Gender")


def folder(root: str | os.PathLike | None = None) -> Path:
    """The Chapman folder under the data root; raises DataMissingError when it is absent."""
    path = dataset_folder(NAME, root)
    if not path.is_dir():
        raise DataMissingError(NAME, path)
    return path


def _missing_file(path: Path, what: str) -> DataMissingError:
    error = DataMissingError(NAME, path.parent)
    error.args = (f"{path}: {what} is missing. Fetch the dataset with `ecglib data download {NAME}`.",)
    return error


def load_labels(root: str | os.PathLike | None = None, *, unknown_rhythm: str = "raise") -> pd.DataFrame:
    """Read ``Diagnostics.csv`` (or ``Diagnostics.xlsx``): one row per record and patient.

    Parameters
    ----------
    root : data root; default ``$ECGLIB_DATA`` or ``~/ecglib_data``
    unknown_rhythm : ``"raise"`` (default) raises on a rhythm code outside
        :data:`RHYTHM_CODES`; ``"skip"`` drops such rows and counts them in
        ``frame.attrs["exclusions"]["unknown_rhythm"]``.

    Returns
    -------
    DataFrame
        the file's columns (``FileName``, ``Rhythm``, ``Beat``, ``PatientAge``, ``Gender``,
        MUSE measurements) plus ``patient_id`` (= ``FileName``), in file order.

    Raises
    ------
    DataMissingError
        neither ``Diagnostics.csv`` nor ``Diagnostics.xlsx`` is there.
    DataFormatError
        a required column is missing, a file name repeats, or a rhythm code is unknown
        (the message names the file, the row and the code).
    """
    if unknown_rhythm not in ("raise", "skip"):
        raise ValueError(f"unknown_rhythm must be 'raise' or 'skip', got {unknown_rhythm!r}")
    base = folder(root)
    csv_path, xlsx_path = base / "Diagnostics.csv", base / "Diagnostics.xlsx"
    if csv_path.is_file():
        path = csv_path
        try:
            labels = pd.read_csv(
                path, dtype={"FileName": str, "Rhythm": str, "Beat": str}, keep_default_na=False
            )
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise DataFormatError(f"{path}: cannot parse as CSV ({exc})") from exc
    elif xlsx_path.is_file():
        path = xlsx_path
        try:
            labels = pd.read_excel(
                path, dtype={"FileName": str, "Rhythm": str, "Beat": str}, keep_default_na=False
            )
        except Exception as exc:  # openpyxl raises several types for a damaged workbook
            raise DataFormatError(f"{path}: cannot read the workbook ({type(exc).__name__}: {exc})") from exc
    else:
        raise _missing_file(csv_path, "the label table (Diagnostics.csv or Diagnostics.xlsx)")
    missing = [column for column in REQUIRED_COLUMNS if column not in labels.columns]
    if missing:
        raise DataFormatError(f"{path}: missing column(s) {missing}; found {list(labels.columns)}")
    if labels.empty:
        raise DataFormatError(f"{path}: the label table has no rows (a header only); download it again")
    labels["FileName"] = labels["FileName"].str.strip()
    labels["Rhythm"] = labels["Rhythm"].str.strip()
    duplicated = labels["FileName"][labels["FileName"].duplicated()]
    if len(duplicated):
        raise DataFormatError(f"{path}: FileName repeats: {sorted(set(duplicated))[:5]}")
    unknown = ~labels["Rhythm"].isin(RHYTHM_CODES)
    exclusions = {"unknown_rhythm": int(unknown.sum())}
    if unknown.any() and unknown_rhythm == "raise":
        row = int(np.flatnonzero(unknown.to_numpy())[0])
        raise DataFormatError(
            f"{path}: row {row + 2} (record {labels['FileName'].iloc[row]}) has unknown rhythm code "
            f"{labels['Rhythm'].iloc[row]!r}; known codes: {', '.join(RHYTHM_CODES)} "
            f"({exclusions['unknown_rhythm']} such row(s); load_labels(unknown_rhythm='skip') drops them)"
        )
    labels = labels[~unknown].reset_index(drop=True)
    labels["patient_id"] = labels["FileName"]
    labels.attrs["exclusions"] = exclusions
    labels.attrs["source_file"] = str(path)
    return labels


def list_records(root: str | os.PathLike | None = None) -> list[str]:
    """File names (record ids) listed in the label table, in file order."""
    return load_labels(root)["FileName"].tolist()


def load_record(file_name: str, root: str | os.PathLike | None = None, denoised: bool = True) -> EcgRecord:
    """Read one 10 s, 12-lead record in millivolts.

    Parameters
    ----------
    file_name : ``FileName`` from the label table, e.g. ``"MUSE_20180113_171327_27000"``
    root : data root
    denoised : read ``ECGDataDenoised/`` (True, default) or the raw ``ECGData/`` (False)

    Returns
    -------
    EcgRecord
        ``signal_mv`` of shape (5000, 12), float32, millivolts (the CSV's microvolts / 1000);
        leads ``LEADS_12``; ``fs_hz`` 500; ``patient_id`` = ``file_name``.

    Raises
    ------
    DataMissingError
        the dataset folder or the record's CSV is absent.
    DataFormatError
        the CSV is not 5000 x 12 numbers, holds NaNs, or its header names other leads.
    """
    sub_folder = "ECGDataDenoised" if denoised else "ECGData"
    path = folder(root) / sub_folder / f"{file_name}.csv"
    if not path.is_file():
        raise _missing_file(path, f"the {'denoised' if denoised else 'raw'} waveform")
    with open(path, encoding="utf-8-sig") as handle:
        first_line = handle.readline().strip()
    first_field = first_line.split(",")[0].strip()
    try:
        float(first_field)
        has_header = False
    except ValueError:
        has_header = True
    if has_header:
        names = [name.strip() for name in first_line.split(",")]
        if [name.lower() for name in names] != [name.lower() for name in LEADS_12]:
            raise DataFormatError(f"{path}: header names leads {names}, expected {list(LEADS_12)}")
    try:
        values = pd.read_csv(
            path, header=0 if has_header else None, dtype=np.float64, encoding="utf-8-sig"
        ).to_numpy()
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataFormatError(f"{path}: not a table of numbers ({exc})") from exc
    check_signal(
        values,
        CHAPMAN_FS_HZ,
        expected_n_leads=len(LEADS_12),
        expected_n_samples=CHAPMAN_N_SAMPLES,
        source=str(path),
    )
    return EcgRecord(
        record_id=file_name,
        patient_id=file_name,
        signal_mv=(values / MICROVOLTS_PER_MILLIVOLT).astype(np.float32),
        fs_hz=CHAPMAN_FS_HZ,
        lead_names=LEADS_12,
        source=NAME,
        meta={"denoised": denoised, "file": str(path)},
    )


def waveform_folder(root: str | os.PathLike | None = None, *, denoised: bool = True) -> Path:
    """The folder of the waveform CSVs (``ECGDataDenoised/`` or ``ECGData/``).

    Raises
    ------
    DataMissingError
        the folder is absent or holds no CSV (the label table alone is not enough); the
        message names ``ecglib data download chapman``.
    """
    path = folder(root) / ("ECGDataDenoised" if denoised else "ECGData")
    if not path.is_dir() or not any(path.glob("*.csv")):
        raise DataMissingError(NAME, path)
    return path


def lead_signals(
    lead: str = "II", root: str | os.PathLike | None = None, *, denoised: bool = True
) -> tuple[np.ndarray, pd.DataFrame]:
    """One lead of every record in the label table.

    Parameters
    ----------
    lead : lead name (one of ``LEADS_12``)
    root : data root
    denoised : read ``ECGDataDenoised/`` (True) or the raw ``ECGData/`` (False)

    Returns
    -------
    (signals_mv, labels) : ndarray of shape (n_records, 5000), float32, millivolts, at 500 Hz,
        in the order of ``labels``, the table of :func:`load_labels` (``Rhythm``,
        ``patient_id``; ``attrs["exclusions"]``).

    Raises
    ------
    DataMissingError
        the waveforms are not under the data root.
    """
    waveform_folder(root, denoised=denoised)
    labels = load_labels(root)
    signals = []
    for file_name in labels["FileName"]:
        record = load_record(file_name, root, denoised=denoised)
        signals.append(select_lead(record.signal_mv, record.lead_names, lead, where=file_name)[0])
    return np.stack(signals), labels
