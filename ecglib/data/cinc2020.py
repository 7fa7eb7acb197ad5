"""Reader for the PhysioNet/Computing in Cardiology Challenge 2020 layout (CPSC2018, Georgia).

Facts kept beside the reader
----------------------------
- Challenge 2020 (PhysioNet ``challenge-2020`` 1.0.2) ships each recording as two files:
  ``<id>.mat`` (MATLAB v4, one variable ``val`` of shape ``(n_leads, n_samples)``, int16
  ADC units) and ``<id>.hea`` (a WFDB header). Signal lines look like
  ``A0001.mat 16+24 1000/mV 16 0 28 -1716 0 I``: file, format, gain ``1000/mV`` (so
  1 ADC unit = 1 microvolt), ADC resolution, ADC zero, initial value, checksum, block
  size, lead name. Physical value in mV = (adc - baseline) / gain; the baseline is the
  ``(b)`` in ``1000(b)/mV`` when given, else the ADC zero (WFDB rule).
- Comment lines carry demographics and labels: ``#Age: 74``, ``#Sex: Male``,
  ``#Dx: 426783006,164889003`` (comma-separated SNOMED CT codes), ``#Rx/#Hx/#Sx: Unknown``.
- Files are grouped in sub-folders (``training/cpsc_2018/g1`` ... ``g7``,
  ``training/georgia/g1`` ... ``g11``); the reader finds headers recursively.
- The Challenge's scoring table (``dx_mapping_scored.csv`` in
  physionetchallenges/evaluation-2020) scores some codes as one diagnosis:
  713427006 (complete RBBB) = 59118001 (RBBB); 284470004 (PAC) = 63593006 (SVPB);
  427172004 (PVC) = 17338001 (VPB). CPSC2018 codes its PVCs as 164884008 (ventricular
  ectopics, 700 records in ``dx_mapping_unscored.csv``). The per-dataset label maps in
  :mod:`ecglib.data.cpsc2018` and :mod:`ecglib.data.georgia` use these equivalences.
- Neither database gives patient identifiers: each recording is treated as its own
  patient (patient id = record id). A patient-wise split is therefore a record-wise split
  here; this is a limitation of the data, stated in each dataset's ``INFO.notes``.

Label-code policy (``other_codes``)
-----------------------------------
``"ignore"``: codes outside the label map are ignored; records that carry none of the
mapped codes keep an all-zero target row (Nguyen & Do count them: Georgia's 10,344 records
include records with none of its 10 labels). ``"error"``: any code outside the map raises
:class:`~ecglib.data.DataFormatError` naming the header and the code (use it to catch a
different dataset version). ``"drop"``: records with none of the mapped codes are dropped
and counted under ``exclusions["no_target_label"]``. A ``#Dx`` entry that is not a number
always raises. :func:`code_counts` lists every code with its count for reporting.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ecglib.data import DataFormatError, EcgRecord, LabelledSet

#: Canonical names of the 12 standard leads, in the Challenge's column order.
STANDARD_LEADS: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
_CANONICAL_LEAD = {name.lower(): name for name in STANDARD_LEADS}

OTHER_CODE_POLICIES = ("ignore", "error", "drop")


@dataclass(frozen=True)
class CincHeader:
    """The parts of a Challenge 2020 ``.hea`` file the readers use.

    ``gains_per_mv`` and ``baselines`` have one entry per lead; ``comments`` maps comment
    keys (``"Age"``, ``"Sex"``, ``"Dx"``...) to their raw string values.
    """

    path: Path
    record_name: str
    n_leads: int
    fs_hz: float
    n_samples: int
    signal_file: str
    lead_names: tuple[str, ...]
    gains_per_mv: tuple[float, ...]
    baselines: tuple[int, ...]
    comments: dict[str, str] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs_hz

    @property
    def dx_codes(self) -> tuple[str, ...]:
        """SNOMED CT codes of the ``#Dx`` line (empty when absent)."""
        raw = self.comments.get("Dx", "").strip()
        if not raw or raw.lower() == "unknown":
            return ()
        codes = tuple(code.strip() for code in raw.split(",") if code.strip())
        for code in codes:
            if not code.isdigit():
                raise DataFormatError(
                    f"{self.path}: #Dx entry {code!r} is not a SNOMED CT code (digits expected)"
                )
        return codes


_GAIN = re.compile(r"^(?P<gain>[-+0-9.eE]+)(\((?P<baseline>-?\d+)\))?(/(?P<units>\S+))?$")


def read_header(path: str | os.PathLike) -> CincHeader:
    """Parse a Challenge 2020 WFDB header; raises DataFormatError naming the file on any fault."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except FileNotFoundError:
        raise DataFormatError(f"{path}: header file is missing") from None
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{path}: header is not text ({exc})") from None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    comments: dict[str, str] = {}
    body = []
    for line in lines:
        if line.startswith("#"):
            key, sep, value = line.lstrip("#").partition(":")
            if sep:
                comments[key.strip()] = value.strip()
        else:
            body.append(line)
    if not body:
        raise DataFormatError(f"{path}: header has no record line")
    record_fields = body[0].split()
    try:
        record_name = record_fields[0]
        n_leads = int(record_fields[1])
        fs_hz = float(record_fields[2].split("/")[0])
        n_samples = int(record_fields[3])
    except (IndexError, ValueError):
        raise DataFormatError(f"{path}: malformed record line {body[0]!r}") from None
    signal_lines = body[1:]
    if len(signal_lines) != n_leads:
        raise DataFormatError(
            f"{path}: record line announces {n_leads} leads but {len(signal_lines)} signal lines follow (truncated header?)"
        )
    files, leads, gains, baselines = [], [], [], []
    for line in signal_lines:
        parts = line.split()
        if len(parts) < 9:
            raise DataFormatError(f"{path}: malformed signal line {line!r}")
        match = _GAIN.match(parts[2])
        if match is None:
            raise DataFormatError(f"{path}: cannot read gain {parts[2]!r}")
        gain = float(match["gain"])
        if match["units"] not in (None, "mV"):
            raise DataFormatError(f"{path}: lead {parts[8]!r} is in {match['units']!r}, expected mV")
        if gain == 0:
            gain = 200.0  # WFDB rule: a zero gain means the default of 200 ADC units per mV
        try:
            adc_zero = int(parts[4])
        except ValueError:
            raise DataFormatError(f"{path}: malformed ADC zero in {line!r}") from None
        baseline = int(match["baseline"]) if match["baseline"] is not None else adc_zero
        files.append(parts[0])
        leads.append(_CANONICAL_LEAD.get(" ".join(parts[8:]).lower(), " ".join(parts[8:])))
        gains.append(gain)
        baselines.append(baseline)
    if len(set(files)) != 1:
        raise DataFormatError(
            f"{path}: leads are spread over several files {sorted(set(files))}; expected one .mat"
        )
    return CincHeader(
        path=path,
        record_name=record_name,
        n_leads=n_leads,
        fs_hz=fs_hz,
        n_samples=n_samples,
        signal_file=files[0],
        lead_names=tuple(leads),
        gains_per_mv=tuple(gains),
        baselines=tuple(baselines),
        comments=comments,
    )


def list_headers(folder: str | os.PathLike) -> list[Path]:
    """Every ``.hea`` file under ``folder`` (recursively), sorted by record name."""
    return sorted(Path(folder).rglob("*.hea"), key=lambda p: (p.stem, str(p)))


def read_signal_mv(header: CincHeader, *, expected_fs_hz: float | None = None) -> np.ndarray:
    """The record's samples as float32 millivolts, shape (n_samples, n_leads).

    Raises DataFormatError naming the file when the ``.mat`` is missing, unreadable,
    shorter than the header says, holds NaNs, or the rate differs from ``expected_fs_hz``.
    """
    from scipy.io import loadmat

    if expected_fs_hz is not None and header.fs_hz != expected_fs_hz:
        raise DataFormatError(
            f"{header.path}: sampling rate {header.fs_hz:g} Hz, expected {expected_fs_hz:g} Hz"
        )
    mat_path = header.path.parent / header.signal_file
    if not mat_path.exists():
        raise DataFormatError(f"{mat_path}: signal file named in {header.path.name} is missing")
    try:
        contents = loadmat(str(mat_path))
    except Exception as exc:  # scipy raises ValueError/OSError/TypeError for corrupt files
        raise DataFormatError(f"{mat_path}: cannot read MATLAB file ({exc})") from None
    if "val" not in contents:
        raise DataFormatError(
            f"{mat_path}: no variable 'val' (found {sorted(k for k in contents if not k.startswith('__'))})"
        )
    adc = np.asarray(contents["val"])
    if adc.ndim != 2 or adc.shape[0] != header.n_leads:
        raise DataFormatError(
            f"{mat_path}: 'val' has shape {adc.shape}, expected ({header.n_leads}, {header.n_samples})"
        )
    if adc.shape[1] != header.n_samples:
        raise DataFormatError(
            f"{mat_path}: {adc.shape[1]} samples per lead but {header.path.name} announces {header.n_samples} (truncated file?)"
        )
    signal = adc.astype(np.float64)
    if np.isnan(signal).any():
        raise DataFormatError(f"{mat_path}: signal contains NaN")
    baselines = np.asarray(header.baselines, dtype=np.float64)[:, None]
    gains = np.asarray(header.gains_per_mv, dtype=np.float64)[:, None]
    return ((signal - baselines) / gains).T.astype(np.float32)


def load_record(
    header_path: str | os.PathLike, *, source: str, expected_fs_hz: float | None = None
) -> EcgRecord:
    """One recording as an :class:`~ecglib.data.EcgRecord` (mV, (n_samples, n_leads)).

    ``meta`` holds ``dx_codes`` (tuple of str), ``age`` and ``sex`` (raw strings).
    The patient id is the record id (the databases give no patient identifiers).
    """
    header = read_header(header_path)
    signal_mv = read_signal_mv(header, expected_fs_hz=expected_fs_hz)
    return EcgRecord(
        record_id=header.record_name,
        patient_id=header.record_name,
        signal_mv=signal_mv,
        fs_hz=header.fs_hz,
        lead_names=header.lead_names,
        source=source,
        meta={
            "dx_codes": header.dx_codes,
            "age": header.comments.get("Age"),
            "sex": header.comments.get("Sex"),
        },
    )


def code_counts(
    folder: str | os.PathLike, label_codes: dict[str, tuple[str, ...]] | None = None
) -> pd.DataFrame:
    """How many records carry each SNOMED CT code: columns ``code, n_records, label``.

    ``label`` is the class a code maps to under ``label_codes`` (None for codes outside it).
    """
    code_to_label = _invert(label_codes or {})
    counts: dict[str, int] = {}
    for path in list_headers(folder):
        for code in set(read_header(path).dx_codes):
            counts[code] = counts.get(code, 0) + 1
    rows = [{"code": code, "n_records": n, "label": code_to_label.get(code)} for code, n in counts.items()]
    return pd.DataFrame(rows, columns=["code", "n_records", "label"]).sort_values(
        "n_records", ascending=False, ignore_index=True
    )


def _invert(label_codes: dict[str, tuple[str, ...]]) -> dict[str, str]:
    code_to_label: dict[str, str] = {}
    for label, codes in label_codes.items():
        for code in codes:
            code_to_label[code] = label
    return code_to_label


def labels_multi_hot(
    header: CincHeader, label_codes: dict[str, tuple[str, ...]], *, other_codes: str = "ignore"
) -> np.ndarray:
    """Multi-hot row of shape (n_classes,) float32 in the order of ``label_codes``.

    ``other_codes="error"`` raises DataFormatError naming the header and the first code
    outside ``label_codes``; ``"ignore"`` and ``"drop"`` leave such codes out.
    """
    if other_codes not in OTHER_CODE_POLICIES:
        raise ValueError(f"other_codes must be one of {OTHER_CODE_POLICIES}, got {other_codes!r}")
    code_to_label = _invert(label_codes)
    names = list(label_codes)
    row = np.zeros(len(names), dtype=np.float32)
    for code in header.dx_codes:
        label = code_to_label.get(code)
        if label is None:
            if other_codes == "error":
                raise DataFormatError(
                    f"{header.path}: SNOMED CT code {code} is not in the label map ({', '.join(names)})"
                )
            continue
        row[names.index(label)] = 1.0
    return row


def load_labelled(
    folder: str | os.PathLike,
    *,
    source: str,
    label_codes: dict[str, tuple[str, ...]],
    expected_fs_hz: float,
    duration_s: float = 10.0,
    fs_hz: float | None = None,
    other_codes: str = "ignore",
    limit: int | None = None,
) -> LabelledSet:
    """Multi-label examples of the first ``duration_s`` seconds of every record.

    Follows Nguyen & Do's preprocessing: records shorter than ``duration_s`` are dropped
    (counted in ``exclusions["shorter_than_<d>s"]``), longer ones are cropped to their
    first ``duration_s`` seconds. ``fs_hz`` resamples with an anti-aliasing polyphase filter
    (``scipy.signal.resample_poly``; the authors' code took every fifth sample instead).

    Returns
    -------
    LabelledSet with ``signals_mv`` of shape (n, round(duration_s * fs), 12), float32 mV;
    ``targets`` (n, n_classes) float32 multi-hot; ``patient_ids`` = record ids.
    """
    if other_codes not in OTHER_CODE_POLICIES:
        raise ValueError(f"other_codes must be one of {OTHER_CODE_POLICIES}, got {other_codes!r}")
    out_fs_hz = float(fs_hz or expected_fs_hz)
    n_out = int(round(duration_s * out_fs_hz))
    short_key = f"shorter_than_{duration_s:g}s"
    exclusions = {short_key: 0}
    if other_codes == "drop":
        exclusions["no_target_label"] = 0
    signals, targets, ids, lead_names = [], [], [], None
    for path in list_headers(folder):
        if limit is not None and len(ids) >= limit:
            break
        header = read_header(path)
        if header.fs_hz != expected_fs_hz:
            raise DataFormatError(
                f"{path}: sampling rate {header.fs_hz:g} Hz, expected {expected_fs_hz:g} Hz"
            )
        if header.n_samples < int(round(duration_s * header.fs_hz)):
            exclusions[short_key] += 1
            continue
        row = labels_multi_hot(header, label_codes, other_codes=other_codes)
        if other_codes == "drop" and not row.any():
            exclusions["no_target_label"] += 1
            continue
        signal = read_signal_mv(header, expected_fs_hz=expected_fs_hz)
        signal = signal[: int(round(duration_s * header.fs_hz))]
        if out_fs_hz != header.fs_hz:
            signal = _resample(signal, header.fs_hz, out_fs_hz)
        if lead_names is None:
            lead_names = header.lead_names
        elif header.lead_names != lead_names:
            raise DataFormatError(
                f"{path}: leads {header.lead_names} differ from the other records' {lead_names}"
            )
        signals.append(signal[:n_out])
        targets.append(row)
        ids.append(header.record_name)
    if not ids:
        raise DataFormatError(
            f"{folder}: no usable records (headers found: {len(list_headers(folder))}, exclusions {exclusions})"
        )
    return LabelledSet(
        signals_mv=np.stack(signals).astype(np.float32),
        targets=np.stack(targets),
        patient_ids=np.asarray(ids, dtype=str),
        fs_hz=out_fs_hz,
        lead_names=tuple(lead_names),
        target_names=tuple(label_codes),
        task="multi_label",
        source=source,
        exclusions=exclusions,
    )


def _resample(signal_mv: np.ndarray, fs_in_hz: float, fs_out_hz: float) -> np.ndarray:
    """Anti-aliased polyphase resampling along axis 0 (rates must be integer-ratio friendly)."""
    from fractions import Fraction

    from scipy.signal import resample_poly

    ratio = Fraction(fs_out_hz / fs_in_hz).limit_denominator(1000)
    return resample_poly(signal_mv, ratio.numerator, ratio.denominator, axis=0).astype(np.float32)
