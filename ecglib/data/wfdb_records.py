"""Reading one WFDB record in millivolts with the checks every WFDB-based dataset needs.

Shared by the PTB-XL and PTB Diagnostic readers (MIT-BIH and LUDB keep their own reads
because they also parse annotation files and lead-name quirks of their own).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ecglib.data import DataFormatError


def read_record_mv(
    record_path: Path, *, fs_hz: float, canonical_leads: Mapping[str, str]
) -> tuple[np.ndarray, tuple[str, ...], list[str]]:
    """Samples, lead names and header comments of one WFDB record.

    Parameters
    ----------
    record_path : path of the record without extension (``.../00001_lr``)
    fs_hz : the sampling rate the dataset promises; another rate is an error
    canonical_leads : lower-case lead name -> the dataset's canonical spelling

    Returns
    -------
    signal_mv : ndarray of shape (n_samples, n_leads), float32, millivolts
    lead_names : canonical lead names of the columns
    comments : the header's comment lines

    Raises
    ------
    DataFormatError
        naming the file: missing header, unreadable record, wrong rate, units other than mV, NaNs.
    """
    import wfdb

    record_path = Path(record_path)
    header_path = record_path.with_suffix(".hea")
    if not header_path.exists():
        raise DataFormatError(f"{header_path}: record header is missing")
    try:
        record = wfdb.rdrecord(str(record_path))
    except Exception as exc:  # wfdb raises ValueError/IndexError/OSError on damaged files
        raise DataFormatError(f"{record_path}: cannot read WFDB record ({exc})") from None
    if record.fs != fs_hz:
        raise DataFormatError(f"{header_path}: sampling rate {record.fs:g} Hz, expected {fs_hz:g} Hz")
    if any(unit != "mV" for unit in record.units):
        raise DataFormatError(f"{header_path}: units {record.units}, expected mV")
    signal = np.asarray(record.p_signal, dtype=np.float32)
    if np.isnan(signal).any():
        raise DataFormatError(f"{record_path}: signal contains NaN (truncated .dat?)")
    names = tuple(canonical_leads.get(name.lower(), name) for name in record.sig_name)
    from ecglib.preprocess import check_plausible_record

    check_plausible_record(signal, names, source=f"{record_path} (gain in {header_path.name})")
    return signal, names, list(record.comments)
