"""Labelled simulated ECG data sets that need no download: ``sim-chapman``, ``sim-ptbxl``,
``sim-beats`` and ``sim-mitbih-windows``.

They stand in for the real data sets when those are absent (smoke runs, CI, teaching). They
are NOT a reproduction of any study: results on them say nothing about the papers' claims.
The engine is :mod:`ecglib.simulator` (heart-vector model, rhythms, noise, ground truth);
this module turns it into data sets with labels, patients and class priors.

- ``sim-chapman``: the 11 Chapman-Shaoxing rhythm classes, 10 s, 12 leads. Class priors and
  per-class distributions of ventricular rate, QRS duration, QTc and QRS/T axes come from the
  embedded :data:`CHAPMAN_TABLE`, derived from Chapman's ``Diagnostics.csv`` (see
  :func:`chapman_table_from_csv`, which recomputes it when the file is present).
- ``sim-ptbxl``: PTB-XL diagnostic superclasses NORM, MI, STTC, CD, HYP (multi-label), 10 s, 12 leads.
- ``sim-beats``: single beats in the Kachuee et al. (2018) format (125 Hz, min-max 0-1,
  zero-padded to 187 samples), ``beat_set="mitbih"`` (AAMI N, S, V, F, Q) or ``"ptb"`` (normal, MI).
- ``sim-mitbih-windows``: non-overlapping 1 s windows of lead II ("MLII") at 360 Hz, label 1
  if any beat other than N has its R peak inside.

Every example belongs to a simulated patient with its own morphology (axes, amplitudes,
intervals, lead field); a patient contributes several examples, so patient-wise splits are
meaningful. All randomness comes from ``seed``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import signal as sps

from ecglib import simulator as sim
from ecglib.data import DataFormatError, DatasetInfo, LabelledSet
from ecglib.segment import KACHUEE_BEAT_SAMPLES, KACHUEE_FS_HZ, kachuee_beat

_COMMON = dict(
    version="1",
    citation="ecglib simulator (heart-vector model; this repository)",
    licence="MIT",
    homepage="",
    kind="offline",
)

INFO_BY_NAME: dict[str, DatasetInfo] = {
    "sim-chapman": DatasetInfo(
        name="sim-chapman",
        title="Simulated Chapman-Shaoxing rhythms (11 classes, 12 leads)",
        fs_hz=500.0,
        lead_names=sim.LEAD_NAMES,
        notes="Priors and interval distributions embedded from Chapman Diagnostics.csv (10,646 records).",
        **_COMMON,
    ),
    "sim-ptbxl": DatasetInfo(
        name="sim-ptbxl",
        title="Simulated PTB-XL diagnostic superclasses (NORM, MI, STTC, CD, HYP; multi-label, 12 leads)",
        fs_hz=500.0,
        lead_names=sim.LEAD_NAMES,
        **_COMMON,
    ),
    "sim-beats": DatasetInfo(
        name="sim-beats",
        title="Simulated single beats in the Kachuee 187-sample format (MIT-BIH N/S/V/F/Q or PTB normal/MI)",
        fs_hz=125.0,
        lead_names=("II",),
        **_COMMON,
    ),
    "sim-mitbih-windows": DatasetInfo(
        name="sim-mitbih-windows",
        title="Simulated 1 s MLII windows at 360 Hz, normal (0) vs any abnormal beat (1)",
        fs_hz=360.0,
        lead_names=("II",),
        **_COMMON,
    ),
}

CHAPMAN_CLASSES: tuple[str, ...] = (
    "SR",
    "SB",
    "ST",
    "SA",
    "AFIB",
    "AF",
    "SVT",
    "AT",
    "AVNRT",
    "AVRT",
    "SAAWR",
)
CHAPMAN_CLASS_TITLES = {
    "SR": "sinus rhythm",
    "SB": "sinus bradycardia",
    "ST": "sinus tachycardia",
    "SA": "sinus irregularity",
    "AFIB": "atrial fibrillation",
    "AF": "atrial flutter",
    "SVT": "supraventricular tachycardia",
    "AT": "atrial tachycardia",
    "AVNRT": "AV node reentrant tachycardia",
    "AVRT": "AV reentrant tachycardia",
    "SAAWR": "wandering atrial pacemaker",
}
_CHAPMAN_RHYTHM = {
    "SR": "sinus",
    "SB": "sinus",
    "ST": "sinus",
    "SA": "sinus_arrhythmia",
    "AFIB": "afib",
    "AF": "flutter",
    "SVT": "svt",
    "AT": "at",
    "AVNRT": "avnrt",
    "AVRT": "avrt",
    "SAAWR": "wap",
}
#: clinical definitions that bound the sampled ventricular rate (bpm), applied after the table
_RATE_LIMITS_BPM = {"SB": (None, 58.5), "SR": (60.5, 99.5), "ST": (101.0, None)}

CHAPMAN_QUANTILES: tuple[float, ...] = (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99)
_CHAPMAN_COLUMNS = {
    "vent_rate_bpm": "VentricularRate",
    "atrial_rate_bpm": "AtrialRate",
    "qrs_ms": "QRSDuration",
    "qt_ms": "QTInterval",
    "qtc_ms": "QTCorrected",
    "qrs_axis_deg": "RAxis",
    "t_axis_deg": "TAxis",
}
_CHAPMAN_BEAT_TOKENS = {
    "rbbb": ("RBBB",),
    "lbbb": ("LBBB",),
    "iavb": ("1AVB",),
    "lvh": ("LVHV", "LVH"),
    "sttc": ("STTC", "STDD", "STTU"),
    "twc": ("TWC", "TWO"),
    "vpb": ("VPB",),
    "apb": ("APB",),
}

# Derived from /work/shared/data/chapman/Diagnostics.csv (10,646 records; Zheng et al. 2020)
# by chapman_table_from_csv(): per Rhythm class, n (records), prior (n / 10,646), the
# CHAPMAN_QUANTILES (1, 10, 25, 50, 75, 90, 99 %) of each numeric column (axes wrapped to
# [-180, 180) deg first), and the fraction of records whose Beat column contains each
# condition token. AtrialRate and QTInterval are kept for checks; the simulator samples
# ventricular rate, QRS, QTc and both axes (QT then follows from QTc and RR). Regenerate
# with `python -c "from ecglib.data.simulated import *; print(chapman_table_from_csv(PATH))"`;
# tests/test_simulated.py checks that this table equals the recomputed one when the CSV exists.
CHAPMAN_TABLE: dict[str, dict] = {
    "SR": {
        "n": 1826,
        "prior": 0.17152,
        "vent_rate_bpm": [60, 64, 68, 74, 83, 90, 99],
        "atrial_rate_bpm": [60, 64, 68, 74, 83, 90, 100],
        "qrs_ms": [66, 74, 78, 86, 94, 100, 132],
        "qt_ms": [328, 352, 366, 384, 402, 422, 462],
        "qtc_ms": [378, 399, 413, 429, 447, 462, 507],
        "qrs_axis_deg": [-47, -9, 16, 44, 66, 77, 89],
        "t_axis_deg": [-82, 6, 24, 40, 56, 67, 106],
        "conditions": {
            "rbbb": 0.014,
            "lbbb": 0.002,
            "iavb": 0.016,
            "lvh": 0.049,
            "sttc": 0.062,
            "twc": 0.112,
            "vpb": 0.009,
            "apb": 0.02,
        },
    },
    "SB": {
        "n": 3889,
        "prior": 0.3653,
        "vent_rate_bpm": [43, 50, 53, 56, 58, 59, 59],
        "atrial_rate_bpm": [43, 50, 53, 56, 58, 59, 59],
        "qrs_ms": [70, 78, 84, 92, 100, 110, 148],
        "qt_ms": [374, 396, 412, 430, 450, 472, 530],
        "qtc_ms": [358, 380, 393, 411, 429, 449, 502],
        "qrs_axis_deg": [-50, -13, 13, 41, 64, 76, 93],
        "t_axis_deg": [-88, 0, 22, 41, 58, 70, 113],
        "conditions": {
            "rbbb": 0.031,
            "lbbb": 0.004,
            "iavb": 0.041,
            "lvh": 0.156,
            "sttc": 0.063,
            "twc": 0.16,
            "vpb": 0.01,
            "apb": 0.026,
        },
    },
    "ST": {
        "n": 1568,
        "prior": 0.14729,
        "vent_rate_bpm": [101, 102, 104, 108, 117, 128, 150],
        "atrial_rate_bpm": [101, 102, 104, 108, 118, 129, 194],
        "qrs_ms": [60, 70, 76, 82, 92, 100, 144],
        "qt_ms": [265, 300, 318, 334, 350, 368, 418],
        "qtc_ms": [379, 419, 435, 452, 469, 494, 577],
        "qrs_axis_deg": [-87, -19, 17, 50, 70, 83, 115],
        "t_axis_deg": [-107, 5, 27, 45, 63, 79, 161],
        "conditions": {
            "rbbb": 0.038,
            "lbbb": 0.011,
            "iavb": 0.036,
            "lvh": 0.083,
            "sttc": 0.229,
            "twc": 0.191,
            "vpb": 0.04,
            "apb": 0.064,
        },
    },
    "SA": {
        "n": 399,
        "prior": 0.03748,
        "vent_rate_bpm": [55, 62, 66, 72, 78, 87, 101],
        "atrial_rate_bpm": [55, 62, 66, 72, 78, 87, 102],
        "qrs_ms": [64, 74, 80, 86, 94, 102, 128],
        "qt_ms": [324, 352, 366, 382, 402, 424, 456],
        "qtc_ms": [366, 392, 404, 420, 438, 452, 479],
        "qrs_axis_deg": [-40, 14, 44, 65, 79, 87, 102],
        "t_axis_deg": [-32, 14, 30, 43, 56, 66, 90],
        "conditions": {
            "rbbb": 0.015,
            "lbbb": 0.003,
            "iavb": 0.013,
            "lvh": 0.048,
            "sttc": 0.053,
            "twc": 0.078,
            "vpb": 0.04,
            "apb": 0.05,
        },
    },
    "AFIB": {
        "n": 1780,
        "prior": 0.1672,
        "vent_rate_bpm": [49, 65, 76, 91, 109, 135, 176],
        "atrial_rate_bpm": [40, 62, 79, 104, 153, 288, 441],
        "qrs_ms": [66, 74, 80, 88, 98, 118, 158],
        "qt_ms": [244, 298, 332, 366, 400, 432, 498],
        "qtc_ms": [366, 401, 424, 448, 471, 496, 568],
        "qrs_axis_deg": [-79, -33, 6, 42, 69, 85, 114],
        "t_axis_deg": [-172, -106, -48, 11, 53, 86, 170],
        "conditions": {
            "rbbb": 0.08,
            "lbbb": 0.017,
            "iavb": 0.0,
            "lvh": 0.212,
            "sttc": 0.269,
            "twc": 0.368,
            "vpb": 0.083,
            "apb": 0.0,
        },
    },
    "AF": {
        "n": 445,
        "prior": 0.0418,
        "vent_rate_bpm": [43, 69, 86, 115, 140, 158, 204],
        "atrial_rate_bpm": [40, 70, 104, 141, 241, 314, 394],
        "qrs_ms": [65, 72, 80, 90, 110, 133, 169],
        "qt_ms": [215, 270, 300, 344, 388, 436, 546],
        "qtc_ms": [332, 406, 431, 459, 494, 530, 600],
        "qrs_axis_deg": [-114, -50, 0, 48, 75, 88, 145],
        "t_axis_deg": [-167, -105, -59, 22, 63, 100, 169],
        "conditions": {
            "rbbb": 0.126,
            "lbbb": 0.029,
            "iavb": 0.0,
            "lvh": 0.124,
            "sttc": 0.169,
            "twc": 0.258,
            "vpb": 0.043,
            "apb": 0.0,
        },
    },
    "SVT": {
        "n": 587,
        "prior": 0.05514,
        "vent_rate_bpm": [123, 138, 151, 168, 184, 198, 217],
        "atrial_rate_bpm": [0, 64, 103, 153, 184, 207, 316],
        "qrs_ms": [60, 70, 76, 84, 104, 143, 216],
        "qt_ms": [192, 234, 254, 278, 304, 324, 388],
        "qtc_ms": [353, 417, 440, 461, 481, 516, 604],
        "qrs_axis_deg": [-111, -47, 18, 56, 78, 93, 128],
        "t_axis_deg": [-158, -103, -64, -3, 53, 87, 167],
        "conditions": {
            "rbbb": 0.065,
            "lbbb": 0.015,
            "iavb": 0.002,
            "lvh": 0.041,
            "sttc": 0.106,
            "twc": 0.049,
            "vpb": 0.01,
            "apb": 0.0,
        },
    },
    "AT": {
        "n": 121,
        "prior": 0.01137,
        "vent_rate_bpm": [58, 82, 95, 111, 138, 152, 190],
        "atrial_rate_bpm": [46, 79, 97, 115, 150, 187, 363],
        "qrs_ms": [64, 74, 78, 86, 92, 114, 140],
        "qt_ms": [214, 276, 310, 336, 360, 394, 478],
        "qtc_ms": [366, 406, 423, 454, 483, 508, 560],
        "qrs_axis_deg": [-86, -32, 2, 51, 68, 85, 96],
        "t_axis_deg": [-148, -72, -19, 28, 57, 88, 160],
        "conditions": {
            "rbbb": 0.074,
            "lbbb": 0.025,
            "iavb": 0.017,
            "lvh": 0.207,
            "sttc": 0.298,
            "twc": 0.273,
            "vpb": 0.033,
            "apb": 0.14,
        },
    },
    "AVNRT": {
        "n": 16,
        "prior": 0.0015,
        "vent_rate_bpm": [145, 149, 169, 174, 179, 184, 203],
        "atrial_rate_bpm": [88, 98, 119, 161, 180, 190, 200],
        "qrs_ms": [65, 71, 78, 82, 90, 108, 171],
        "qt_ms": [223, 253, 258, 278, 292, 297, 301],
        "qtc_ms": [408, 438, 444, 462, 477, 491, 503],
        "qrs_axis_deg": [-29, 32, 54, 70, 86, 98, 106],
        "t_axis_deg": [-63, -60, -41, -1, 48, 62, 75],
        "conditions": {
            "rbbb": 0.0,
            "lbbb": 0.0,
            "iavb": 0.0,
            "lvh": 0.0,
            "sttc": 0.125,
            "twc": 0.188,
            "vpb": 0.0,
            "apb": 0.0,
        },
    },
    "AVRT": {
        "n": 8,
        "prior": 0.00075,
        "vent_rate_bpm": [127, 136, 144, 162, 196, 218, 229],
        "atrial_rate_bpm": [33, 76, 118, 140, 162, 215, 228],
        "qrs_ms": [70, 71, 74, 78, 90, 96, 96],
        "qt_ms": [200, 215, 230, 288, 302, 315, 327],
        "qtc_ms": [387, 392, 426, 458, 477, 483, 484],
        "qrs_axis_deg": [17, 19, 46, 59, 74, 90, 94],
        "t_axis_deg": [-117, -103, -74, -18, -6, 11, 35],
        "conditions": {
            "rbbb": 0.0,
            "lbbb": 0.0,
            "iavb": 0.0,
            "lvh": 0.125,
            "sttc": 0.125,
            "twc": 0.125,
            "vpb": 0.0,
            "apb": 0.125,
        },
    },
    "SAAWR": {
        "n": 7,
        "prior": 0.00066,
        "vent_rate_bpm": [53, 55, 58, 63, 71, 77, 78],
        "atrial_rate_bpm": [53, 55, 58, 63, 71, 81, 87],
        "qrs_ms": [72, 76, 78, 90, 90, 92, 96],
        "qt_ms": [374, 378, 390, 404, 418, 436, 452],
        "qtc_ms": [390, 394, 401, 426, 430, 441, 453],
        "qrs_axis_deg": [-1, 4, 22, 41, 70, 77, 84],
        "t_axis_deg": [37, 38, 43, 53, 70, 73, 77],
        "conditions": {
            "rbbb": 0.0,
            "lbbb": 0.0,
            "iavb": 0.0,
            "lvh": 0.286,
            "sttc": 0.143,
            "twc": 0.143,
            "vpb": 0.0,
            "apb": 0.286,
        },
    },
}


def chapman_table_from_csv(path: str | Path) -> dict[str, dict]:
    """Recompute :data:`CHAPMAN_TABLE` from Chapman's ``Diagnostics.csv``.

    Raises
    ------
    DataFormatError
        The file lacks a needed column or a class.
    """
    path = Path(path)
    table = pd.read_csv(path)
    needed = {"Rhythm", "Beat", *_CHAPMAN_COLUMNS.values()}
    missing = needed - set(table.columns)
    if missing:
        raise DataFormatError(f"{path}: missing column(s) {sorted(missing)}")
    absent = set(CHAPMAN_CLASSES) - set(table["Rhythm"])
    if absent:
        raise DataFormatError(f"{path}: no records of rhythm class(es) {sorted(absent)}")
    out: dict[str, dict] = {}
    for name in CHAPMAN_CLASSES:
        rows = table[table["Rhythm"] == name]
        entry: dict = {"n": int(len(rows)), "prior": round(len(rows) / len(table), 5)}
        for key, column in _CHAPMAN_COLUMNS.items():
            values = rows[column].astype(float)
            if key.endswith("axis_deg"):
                values = (values + 180.0) % 360.0 - 180.0
            entry[key] = [int(v) for v in np.round(values.quantile(list(CHAPMAN_QUANTILES)).to_numpy())]
        tokens = rows["Beat"].fillna("").str.split()
        entry["conditions"] = {
            cond: round(
                float(tokens.apply(lambda found, names=names: any(t in found for t in names)).mean()), 3
            )
            for cond, names in _CHAPMAN_BEAT_TOKENS.items()
        }
        out[name] = entry
    return out


def _from_quantiles(knots: list[float], u: np.ndarray) -> np.ndarray:
    """Inverse CDF by linear interpolation between the embedded quantiles; u in [0.01, 0.99]."""
    return np.interp(u, CHAPMAN_QUANTILES, np.asarray(knots, dtype=float))


# --------------------------------------------------------------------------- results


@dataclass
class SimulatedSet:
    """A labelled simulated set with its ground truth.

    Attributes
    ----------
    labelled : LabelledSet ready for a study
    beats : DataFrame of every beat (see :class:`ecglib.simulator.Simulation`); ``example``
        indexes ``labelled``. For ``sim-beats`` these are the beats of the strip each beat came from.
    intervals : DataFrame, one row per example: hr_bpm, rr_cv, pr_ms, qrs_ms, qt_ms, n_beats
    meta : DataFrame, one row per example: label names, rhythm, conditions, snr_db, ...
    """

    labelled: LabelledSet
    beats: pd.DataFrame
    intervals: pd.DataFrame
    meta: pd.DataFrame


_CHUNK = 128  # examples simulated at once; fixed so results do not depend on memory settings


def _snr_per_example(snr_db, n: int, rng: np.random.Generator) -> np.ndarray | None:
    if snr_db is None:
        return None
    if np.ndim(snr_db) == 0:
        return np.full(n, float(snr_db))
    low, high = snr_db
    return rng.uniform(low, high, n)


def _lead_index(leads) -> list[int]:
    if leads is None:
        return list(range(12))
    names = [leads] if isinstance(leads, str) else list(leads)
    unknown = [name for name in names if name not in sim.LEAD_NAMES]
    if unknown:
        raise ValueError(f"unknown lead(s) {unknown}; choose from {sim.LEAD_NAMES}")
    return [sim.LEAD_NAMES.index(name) for name in names]


def _patients(n_examples: int, examples_per_patient: int) -> tuple[int, np.ndarray]:
    n_patients = max(1, math.ceil(n_examples / examples_per_patient))
    return n_patients, np.arange(n_examples) // examples_per_patient


def _run_chunks(n: int, rng: np.random.Generator, make_chunk) -> tuple[list, pd.DataFrame, pd.DataFrame]:
    """Call ``make_chunk(slice, child_rng) -> Simulation`` per chunk and merge ground truth."""
    signals, beats, intervals = [], [], []
    for start in range(0, n, _CHUNK):
        part = slice(start, min(n, start + _CHUNK))
        child = np.random.default_rng(rng.integers(2**63))
        result = make_chunk(part, child)
        signals.append(result.signals_mv)
        table = result.beats.copy()
        table["example"] += start
        beats.append(table)
        intervals.append(result.intervals)
    return signals, pd.concat(beats, ignore_index=True), pd.concat(intervals, ignore_index=True)


def _class_indices(n: int, priors: np.ndarray, class_balance: str, rng: np.random.Generator) -> np.ndarray:
    if class_balance == "prior":
        return rng.choice(len(priors), size=n, p=priors / priors.sum())
    if class_balance == "uniform":
        return rng.permutation(np.arange(n) % len(priors))
    raise ValueError(f"class_balance must be 'prior' or 'uniform', got {class_balance!r}")


# --------------------------------------------------------------------------- sim-chapman


def simulate_chapman(
    n_examples: int,
    *,
    seed: int,
    fs_hz: float = 500.0,
    duration_s: float = 10.0,
    leads=None,
    snr_db=(10.0, 30.0),
    class_balance: str = "prior",
    examples_per_patient: int = 4,
    table: dict[str, dict] | None = None,
) -> SimulatedSet:
    """Simulate ``sim-chapman``: 11 rhythm classes with Chapman's priors and interval distributions.

    Parameters
    ----------
    n_examples : number of records
    seed : all randomness derives from it
    fs_hz, duration_s : sampling rate (Hz) and length (s) of each record
    leads : lead names to keep (default all 12, in ``ecglib.simulator.LEAD_NAMES`` order)
    snr_db : float, (low, high) for a uniform draw per record, or None for no noise
    class_balance : "prior" (Chapman's class frequencies) or "uniform" (equal counts)
    examples_per_patient : records per simulated patient (same class and base morphology)
    table : per-class statistics (default the embedded :data:`CHAPMAN_TABLE`)

    Returns
    -------
    SimulatedSet whose ``labelled`` has signals ``(n_examples, round(fs_hz * duration_s), n_leads)``
    in mV, single-label targets indexing :data:`CHAPMAN_CLASSES`.
    """
    table = CHAPMAN_TABLE if table is None else table
    rng = np.random.default_rng(seed)
    n_patients, patient_of = _patients(n_examples, examples_per_patient)
    priors = np.array([table[name]["prior"] for name in CHAPMAN_CLASSES])
    patient_class = _class_indices(n_patients, priors, class_balance, rng)
    labels = patient_class[patient_of]
    class_names = np.array(CHAPMAN_CLASSES)[labels]

    # patient-level draws from the class's quantile table (inverse CDF of a uniform draw)
    patient_names = np.array(CHAPMAN_CLASSES)[patient_class]

    def per_patient(key):
        u = rng.uniform(0.01, 0.99, n_patients)
        return np.array([_from_quantiles(table[c][key], [ui])[0] for c, ui in zip(patient_names, u)])

    qrs_ms = per_patient("qrs_ms")
    qtc_ms = per_patient("qtc_ms")
    qrs_axis = per_patient("qrs_axis_deg")
    t_axis = per_patient("t_axis_deg")
    rate_u = rng.uniform(0.01, 0.99, n_patients)
    morph = sim.sample_morphology(
        n_patients,
        rng,
        qrs_axis_deg=qrs_axis,
        t_axis_deg=t_axis,
        qrs_ms=np.minimum(qrs_ms, 119.0),
        qtc_ms=qtc_ms,
    )
    conditions = np.full(n_patients, "", dtype=object)

    def flag(name: str, mask: np.ndarray) -> None:
        conditions[mask] = np.where(conditions[mask] == "", name, conditions[mask] + "+" + name)

    wide = qrs_ms >= 120
    rbbb_share = np.array(
        [
            (table[c]["conditions"]["rbbb"] + 1e-3)
            / (table[c]["conditions"]["rbbb"] + table[c]["conditions"]["lbbb"] + 2e-3)
            for c in patient_names
        ]
    )
    pattern = rng.random(n_patients)
    for name, mask in (
        ("rbbb", wide & (pattern < 0.9 * rbbb_share)),
        ("lbbb", wide & (pattern >= 0.9 * rbbb_share) & (pattern < 0.9)),
        ("ivcd", wide & (pattern >= 0.9)),
        ("irbbb", (qrs_ms >= 105) & (qrs_ms < 120) & (pattern < 0.4)),
    ):
        sim.apply_condition(morph, name, mask, rng)
        flag(name, mask)
    morph["qrs_s"][wide] = np.maximum(morph["qrs_s"][wide], qrs_ms[wide] / 1000.0)
    for name in ("iavb", "lvh", "sttc"):
        fraction = np.array([table[c]["conditions"][name] for c in patient_names])
        mask = rng.random(n_patients) < fraction
        if name == "iavb":
            mask &= ~np.isin(patient_names, ["AFIB", "AF"])
        sim.apply_condition(morph, name, mask, rng)
        flag(name, mask)
    p_kind = np.zeros((n_patients, 5))
    for name, code in (("vpb", sim.KIND_V), ("apb", sim.KIND_S)):
        fraction = np.array([table[c]["conditions"][name] for c in patient_names])
        mask = rng.random(n_patients) < fraction
        p_kind[mask, code] = rng.uniform(0.05, 0.2, mask.sum())
        flag(name, mask)

    # example-level draws: rate varies around the patient's own
    u_rate = np.clip(rate_u[patient_of] + rng.normal(0, 0.04, n_examples), 0.01, 0.99)
    vent_rate = np.array(
        [_from_quantiles(table[c]["vent_rate_bpm"], [u])[0] for c, u in zip(class_names, u_rate)]
    )
    for name, (low, high) in _RATE_LIMITS_BPM.items():
        sel = class_names == name
        vent_rate[sel] = np.clip(vent_rate[sel], low, high)
    rhythm = np.array([_CHAPMAN_RHYTHM[c] for c in class_names])
    snr = _snr_per_example(snr_db, n_examples, rng)
    lead_index = _lead_index(leads)
    example_morph = sim.take_morphology(morph, patient_of)
    example_pkind = p_kind[patient_of]

    def make_chunk(part, child):
        spec = sim.RhythmSpec(rhythm[part], vent_rate[part], p_kind=example_pkind[part])
        chunk_morph = {key: value[part] for key, value in example_morph.items()}
        out = sim.simulate_rhythms(
            spec,
            chunk_morph,
            fs_hz=fs_hz,
            duration_s=duration_s,
            snr_db=None if snr is None else snr[part],
            rng=child,
        )
        out.signals_mv = out.signals_mv[:, :, lead_index]
        return out

    signals, beats, intervals = _run_chunks(n_examples, rng, make_chunk)
    patient_ids = np.array([f"simchap{p:05d}" for p in patient_of])
    labelled = LabelledSet(
        signals_mv=np.concatenate(signals),
        targets=labels.astype(np.int64),
        patient_ids=patient_ids,
        fs_hz=float(fs_hz),
        lead_names=tuple(sim.LEAD_NAMES[i] for i in lead_index),
        target_names=CHAPMAN_CLASSES,
        task="single_label",
        source="sim-chapman",
    )
    meta = pd.DataFrame(
        {
            "rhythm": class_names,
            "generator": rhythm,
            "patient_id": patient_ids,
            "conditions": conditions[patient_of],
            "target_vent_rate_bpm": vent_rate,
            "snr_db": np.full(n_examples, np.nan) if snr is None else snr,
        }
    )
    return SimulatedSet(labelled, beats, intervals, meta)


# --------------------------------------------------------------------------- sim-ptbxl

PTBXL_SUPERCLASSES: tuple[str, ...] = ("NORM", "MI", "STTC", "CD", "HYP")
#: records per superclass in PTB-XL (Wagner et al. 2020, 21,837 records); NORM is taken as
#: exclusive, the other four are drawn independently (conditioned on at least one), which
#: keeps their order of frequency but not PTB-XL's exact co-occurrences.
PTBXL_COUNTS = {"NORM": 9528, "MI": 5486, "STTC": 5250, "CD": 4907, "HYP": 2655}
PTBXL_N_RECORDS = 21837
_CD_PATTERNS = (("rbbb", 0.3), ("lbbb", 0.15), ("lafb", 0.25), ("iavb", 0.2), ("ivcd", 0.1))
_HYP_PATTERNS = (("lvh", 0.85), ("rvh", 0.15))


def simulate_ptbxl(
    n_examples: int,
    *,
    seed: int,
    fs_hz: float = 500.0,
    duration_s: float = 10.0,
    leads=None,
    snr_db=(10.0, 30.0),
    examples_per_patient: int = 2,
) -> SimulatedSet:
    """Simulate ``sim-ptbxl``: multi-label NORM/MI/STTC/CD/HYP on 12 consistent leads.

    MI: pathological Q and loss of R toward a territory (anterior/inferior/lateral), with T
    inversion (old) or ST elevation (acute); STTC: ST depression and/or T flattening/inversion;
    CD: RBBB, LBBB, LAFB, first-degree AV block or IVCD; HYP: LVH (voltage, strain) or RVH.
    Rhythm is sinus (rate from Chapman's SR/SB/ST tables) or, in non-NORM records, AF (8 %).

    Returns
    -------
    SimulatedSet; ``labelled.targets`` float32 multi-hot ``(n_examples, 5)`` in
    :data:`PTBXL_SUPERCLASSES` order; ``meta`` names the patterns (e.g. ``mi_territory``).
    """
    rng = np.random.default_rng(seed)
    n_patients, patient_of = _patients(n_examples, examples_per_patient)
    norm = rng.random(n_patients) < PTBXL_COUNTS["NORM"] / PTBXL_N_RECORDS
    abnormal_share = 1.0 - PTBXL_COUNTS["NORM"] / PTBXL_N_RECORDS
    labels = np.zeros((n_patients, 5), dtype=bool)
    labels[norm, 0] = True
    todo = ~norm
    while todo.any():
        draw = rng.random((todo.sum(), 4)) < np.array(
            [PTBXL_COUNTS[c] / PTBXL_N_RECORDS / abnormal_share for c in PTBXL_SUPERCLASSES[1:]]
        )
        labels[np.flatnonzero(todo)[:, None], np.arange(1, 5)[None, :]] = draw
        todo = ~labels.any(axis=1)
    morph = sim.sample_morphology(n_patients, rng)
    patterns = np.full(n_patients, "", dtype=object)
    extra = {
        "mi_territory": np.full(n_patients, "", dtype=object),
        "mi_stage": np.full(n_patients, "", dtype=object),
    }

    def add(name, mask):
        patterns[mask] = np.where(patterns[mask] == "", name, patterns[mask] + "+" + name)

    for column, choices in ((3, _CD_PATTERNS), (4, _HYP_PATTERNS)):
        names = np.array([c for c, _ in choices])
        pick = rng.choice(len(names), size=n_patients, p=[p for _, p in choices])
        for k, name in enumerate(names):
            mask = labels[:, column] & (pick == k)
            sim.apply_condition(morph, name, mask, rng)
            add(name, mask)
    mask = labels[:, 4] & (rng.random(n_patients) < 0.3)
    sim.apply_condition(morph, "lae", mask, rng)
    add("lae", mask)
    mask = labels[:, 2]
    sim.apply_condition(morph, "sttc", mask, rng)
    add("sttc", mask)
    mask = labels[:, 1]
    extra.update(sim.apply_condition(morph, "mi", mask, rng))
    add("mi", mask)

    afib = (~norm) & (rng.random(n_patients) < 0.08)
    sinus_class = rng.choice(np.array(["SR", "SB", "ST"]), size=n_patients, p=[0.8, 0.12, 0.08])
    rate_class = np.where(afib, "AFIB", sinus_class)[patient_of]
    u_rate = np.clip(
        rng.uniform(0.01, 0.99, n_patients)[patient_of] + rng.normal(0, 0.04, n_examples), 0.01, 0.99
    )
    vent_rate = np.array(
        [_from_quantiles(CHAPMAN_TABLE[c]["vent_rate_bpm"], [u])[0] for c, u in zip(rate_class, u_rate)]
    )
    rhythm = np.where(afib[patient_of], "afib", "sinus")
    snr = _snr_per_example(snr_db, n_examples, rng)
    lead_index = _lead_index(leads)
    example_morph = sim.take_morphology(morph, patient_of)

    def make_chunk(part, child):
        spec = sim.RhythmSpec(rhythm[part], vent_rate[part])
        chunk_morph = {key: value[part] for key, value in example_morph.items()}
        out = sim.simulate_rhythms(
            spec,
            chunk_morph,
            fs_hz=fs_hz,
            duration_s=duration_s,
            snr_db=None if snr is None else snr[part],
            rng=child,
        )
        out.signals_mv = out.signals_mv[:, :, lead_index]
        return out

    signals, beats, intervals = _run_chunks(n_examples, rng, make_chunk)
    patient_ids = np.array([f"simptbxl{p:05d}" for p in patient_of])
    labelled = LabelledSet(
        signals_mv=np.concatenate(signals),
        targets=labels[patient_of].astype(np.float32),
        patient_ids=patient_ids,
        fs_hz=float(fs_hz),
        lead_names=tuple(sim.LEAD_NAMES[i] for i in lead_index),
        target_names=PTBXL_SUPERCLASSES,
        task="multi_label",
        source="sim-ptbxl",
    )
    meta = pd.DataFrame(
        {
            "patient_id": patient_ids,
            "patterns": patterns[patient_of],
            "rhythm": rhythm,
            "mi_territory": extra["mi_territory"][patient_of],
            "mi_stage": extra["mi_stage"][patient_of],
            "snr_db": np.full(n_examples, np.nan) if snr is None else snr,
        }
    )
    return SimulatedSet(labelled, beats, intervals, meta)


# --------------------------------------------------------------------------- sim-beats

MITBIH_FS_HZ = 360.0
BEAT_CLASSES = {"mitbih": ("N", "S", "V", "F", "Q"), "ptb": ("normal", "MI")}
#: class sizes of Kachuee's published CSVs (mitbih_train.csv; ptbdb_normal/abnormal.csv), used as priors
BEAT_COUNTS = {"mitbih": (72471, 2223, 5788, 641, 6431), "ptb": (4046, 10506)}


def _target_beats(strip_mv: np.ndarray, r_peaks: np.ndarray, target: np.ndarray, fs_hz: float) -> np.ndarray:
    """The target beat of each single-lead strip, in the Kachuee format.

    Following Kachuee et al. (2018): resample to 125 Hz, min-max normalise the strip to
    [0, 1], take the median RR, and keep from the target beat's R peak for 1.2 x median RR,
    zero-padded (or cut) to 187 samples (the cut is :func:`ecglib.segment.kachuee_beat`; a
    recording is cut into beats by :func:`ecglib.segment.kachuee_beats`). A strip is one
    window here, and a strip with a single beat takes an RR interval of 1 s.

    Parameters
    ----------
    strip_mv : ndarray of shape (n, n_samples), millivolts
    r_peaks : list of n arrays of R-peak sample indices (at ``fs_hz``)
    target : ndarray of shape (n,), the R-peak sample (at ``fs_hz``) of the beat to keep
    fs_hz : sampling rate of ``strip_mv``

    Returns
    -------
    ndarray of shape (n, 187), float32, in [0, 1]
    """
    ratio = KACHUEE_FS_HZ / fs_hz
    frac = np.round(ratio * 1000).astype(int)
    gcd = math.gcd(frac, 1000)
    resampled = sps.resample_poly(strip_mv, frac // gcd, 1000 // gcd, axis=1)
    low = resampled.min(axis=1, keepdims=True)
    high = resampled.max(axis=1, keepdims=True)
    normalised = (resampled - low) / np.maximum(high - low, 1e-9)
    out = np.zeros((len(strip_mv), KACHUEE_BEAT_SAMPLES), dtype=np.float32)
    for i, (peaks, start) in enumerate(zip(r_peaks, target)):
        rr = np.median(np.diff(peaks)) * ratio if len(peaks) > 1 else KACHUEE_FS_HZ
        out[i] = kachuee_beat(normalised[i], int(round(start * ratio)), rr, rr_factor=1.2)[0]
    return out


def simulate_beats(
    n_examples: int,
    *,
    seed: int,
    beat_set: str = "mitbih",
    lead: str = "II",
    snr_db=(15.0, 35.0),
    class_balance: str = "prior",
    examples_per_patient: int = 20,
) -> SimulatedSet:
    """Simulate ``sim-beats``: single beats in Kachuee's 187-sample format.

    ``beat_set="mitbih"``: AAMI classes N (normal, with some bundle-branch-block patients),
    S (premature, narrow, ectopic P), V (premature, wide, discordant T, compensatory pause),
    F (fusion of V and N), Q (paced: spike then wide QRS). Strips are simulated at 360 Hz
    like MIT-BIH, then cut as Kachuee did. ``beat_set="ptb"``: normal vs MI beats (MI
    territory anterior/inferior/lateral; not every territory shows well in one lead).

    Returns
    -------
    SimulatedSet; ``labelled.signals_mv`` ``(n, 187, 1)`` float32 in [0, 1] (``units``
    "minmax-0-1"), targets int64 indexing ``BEAT_CLASSES[beat_set]``, fs 125 Hz.
    """
    if beat_set not in BEAT_CLASSES:
        raise ValueError(f"beat_set must be one of {sorted(BEAT_CLASSES)}, got {beat_set!r}")
    rng = np.random.default_rng(seed)
    classes = BEAT_CLASSES[beat_set]
    labels = _class_indices(n_examples, np.array(BEAT_COUNTS[beat_set], dtype=float), class_balance, rng)
    # patients: examples of one label go to patients of a compatible type (paced beats come
    # from paced patients, ectopic beats from ectopy-prone ones); sort by label, then group
    order = np.argsort(labels, kind="stable")
    patient_of = np.empty(n_examples, dtype=np.int64)
    patient_label = []
    next_patient = 0
    for code in range(len(classes)):
        members = order[labels[order] == code]
        members = rng.permutation(members)
        n_pat = max(1, math.ceil(len(members) / examples_per_patient)) if len(members) else 0
        patient_of[members] = next_patient + (np.arange(len(members)) % max(n_pat, 1))
        patient_label += [code] * n_pat
        next_patient += n_pat
    n_patients = next_patient
    patient_label = np.array(patient_label)
    morph = sim.sample_morphology(n_patients, rng)
    lead_index = sim.LEAD_NAMES.index(lead)
    sinus_class = rng.choice(np.array(["SR", "SB", "ST"]), size=n_patients, p=[0.8, 0.12, 0.08])
    u_rate = np.clip(
        rng.uniform(0.01, 0.99, n_patients)[patient_of] + rng.normal(0, 0.05, n_examples), 0.01, 0.99
    )
    vent_rate = np.array(
        [
            _from_quantiles(CHAPMAN_TABLE[c]["vent_rate_bpm"], [u])[0]
            for c, u in zip(sinus_class[patient_of], u_rate)
        ]
    )
    p_kind = np.zeros((n_patients, 5))
    forced = np.full(n_examples, -1)
    extra = {"mi_territory": np.full(n_patients, "", dtype=object)}
    if beat_set == "mitbih":
        bbb = rng.random(n_patients)
        sim.apply_condition(morph, "rbbb", bbb < 0.08, rng)
        sim.apply_condition(morph, "lbbb", (bbb >= 0.08) & (bbb < 0.14), rng)
        ectopic = patient_label > 0
        p_kind[ectopic, sim.KIND_V] = rng.uniform(0.0, 0.15, ectopic.sum())
        p_kind[ectopic, sim.KIND_S] = rng.uniform(0.0, 0.1, ectopic.sum())
        p_kind[patient_label == 3, sim.KIND_F] = 0.05
        paced = patient_label == 4
        p_kind[paced] = 0.0
        p_kind[paced, sim.KIND_Q] = rng.uniform(0.8, 1.0, paced.sum())
        forced = labels.copy()  # class code equals simulator kind code (N, S, V, F, Q)
    else:
        mi = patient_label == 1
        extra.update(sim.apply_condition(morph, "mi", mi, rng))
        p_kind[:, sim.KIND_V] = rng.uniform(0, 0.03, n_patients)
        forced = np.zeros(n_examples, dtype=np.int64)
    snr = _snr_per_example(snr_db, n_examples, rng)
    example_morph = sim.take_morphology(morph, patient_of)
    example_pkind = p_kind[patient_of]
    duration_s = 6.0
    target_offset = 1  # the second beat after the strip starts
    targets_at: list[np.ndarray] = []

    def make_chunk(part, child):
        spec = sim.RhythmSpec(
            np.full(part.stop - part.start, "sinus"), vent_rate[part], p_kind=example_pkind[part]
        )
        chunk_morph = {key: value[part] for key, value in example_morph.items()}
        out = sim.simulate_rhythms(
            spec,
            chunk_morph,
            fs_hz=MITBIH_FS_HZ,
            duration_s=duration_s,
            snr_db=None if snr is None else snr[part],
            rng=child,
            forced_kinds={target_offset: forced[part]},
        )
        strip = out.signals_mv[:, :, lead_index]
        beats_table = out.beats
        peaks = [g["r_peak"].to_numpy() for _, g in beats_table.groupby("example")]
        target_rows = beats_table[beats_table["forced"]]
        if not np.array_equal(target_rows["example"].to_numpy(), np.arange(part.stop - part.start)):
            raise RuntimeError(
                "a simulated strip lacks its target beat; this is a bug in ecglib.data.simulated"
            )
        out.signals_mv = _target_beats(strip, peaks, target_rows["r_peak"].to_numpy(), MITBIH_FS_HZ)[
            :, :, None
        ]
        targets_at.append(target_rows["kind"].to_numpy())
        return out

    signals, beats, intervals = _run_chunks(n_examples, rng, make_chunk)
    realised = np.concatenate(targets_at)
    expected = np.array(sim.KINDS)[forced] if beat_set == "mitbih" else np.full(n_examples, "N")
    if not np.array_equal(realised, expected):  # the forced beat must be the one we cut
        raise RuntimeError(
            "simulated target beats do not match their labels; this is a bug in ecglib.data.simulated"
        )
    patient_ids = np.array([f"simbeat{p:05d}" for p in patient_of])
    labelled = LabelledSet(
        signals_mv=np.concatenate(signals),
        targets=labels.astype(np.int64),
        patient_ids=patient_ids,
        fs_hz=KACHUEE_FS_HZ,
        lead_names=(lead,),
        target_names=classes,
        task="single_label",
        source="sim-beats",
        units="minmax-0-1",
    )
    meta = pd.DataFrame(
        {
            "patient_id": patient_ids,
            "label": np.array(classes)[labels],
            "beat_set": beat_set,
            "mi_territory": extra["mi_territory"][patient_of],
            "snr_db": np.full(n_examples, np.nan) if snr is None else snr,
        }
    )
    return SimulatedSet(labelled, beats, intervals, meta)


# --------------------------------------------------------------------------- sim-mitbih-windows


def simulate_mitbih_windows(
    n_examples: int,
    *,
    seed: int,
    fs_hz: float = MITBIH_FS_HZ,
    window_s: float = 1.0,
    windows_per_patient: int = 60,
    lead: str = "II",
    snr_db=(15.0, 35.0),
) -> SimulatedSet:
    """Simulate ``sim-mitbih-windows``: consecutive non-overlapping windows of one lead.

    Each patient is one continuous record of ``windows_per_patient * window_s`` seconds with
    a patient-specific ectopy burden (about 40 % of patients almost none, 40 % a few percent,
    20 % frequent, bigeminy-like), a few paced patients, and AF in 10 %. A window is labelled 1
    if the R peak of any beat other than N falls inside it, else 0 (as in the public
    ChryssaNab pipeline). Resampling (e.g. to 128 samples) is left to the study.

    Returns
    -------
    SimulatedSet; signals ``(n_examples, round(window_s * fs_hz), 1)`` in mV, targets 0/1 int64;
    ``meta`` gives each window's patient, start sample and abnormal beat kinds.
    """
    rng = np.random.default_rng(seed)
    n_patients = max(1, math.ceil(n_examples / windows_per_patient))
    window_samples = int(round(window_s * fs_hz))
    morph = sim.sample_morphology(n_patients, rng)
    burden = np.select(
        [rng.random(n_patients) < 0.4, rng.random(n_patients) < 0.67],
        [rng.uniform(0.0, 0.01, n_patients), rng.uniform(0.01, 0.08, n_patients)],
        rng.uniform(0.1, 0.45, n_patients),
    )
    share = rng.dirichlet([1.0, 2.0, 0.3], size=n_patients)  # S, V, F
    p_kind = np.zeros((n_patients, 5))
    p_kind[:, sim.KIND_S] = burden * share[:, 0]
    p_kind[:, sim.KIND_V] = burden * share[:, 1]
    p_kind[:, sim.KIND_F] = burden * share[:, 2]
    paced = rng.random(n_patients) < 0.06
    p_kind[paced] = 0.0
    p_kind[paced, sim.KIND_Q] = rng.uniform(0.6, 1.0, paced.sum())
    bbb = rng.random(n_patients)
    sim.apply_condition(morph, "rbbb", bbb < 0.08, rng)
    sim.apply_condition(morph, "lbbb", (bbb >= 0.08) & (bbb < 0.14), rng)
    afib = (~paced) & (rng.random(n_patients) < 0.1)
    rate_class = np.where(
        afib, "AFIB", rng.choice(np.array(["SR", "SB", "ST"]), size=n_patients, p=[0.8, 0.12, 0.08])
    )
    vent_rate = np.array(
        [
            _from_quantiles(CHAPMAN_TABLE[c]["vent_rate_bpm"], [u])[0]
            for c, u in zip(rate_class, rng.uniform(0.01, 0.99, n_patients))
        ]
    )
    rhythm = np.where(afib, "afib", "sinus")
    snr = _snr_per_example(snr_db, n_patients, rng)
    duration_s = windows_per_patient * window_s
    lead_index = sim.LEAD_NAMES.index(lead)

    def make_chunk(part, child):
        spec = sim.RhythmSpec(rhythm[part], vent_rate[part], p_kind=p_kind[part])
        chunk_morph = {key: value[part] for key, value in morph.items()}
        out = sim.simulate_rhythms(
            spec,
            chunk_morph,
            fs_hz=fs_hz,
            duration_s=duration_s,
            snr_db=None if snr is None else snr[part],
            rng=child,
        )
        out.signals_mv = out.signals_mv[:, :, lead_index]
        return out

    records, beats, _ = _run_chunks(n_patients, rng, make_chunk)
    records = np.concatenate(records)[:, : windows_per_patient * window_samples]
    windows = records.reshape(n_patients * windows_per_patient, window_samples)[:n_examples, :, None]
    patient_of = np.arange(n_examples) // windows_per_patient
    start = (np.arange(n_examples) % windows_per_patient) * window_samples
    window_of_beat = (
        beats["example"].to_numpy() * windows_per_patient + beats["r_peak"].to_numpy() // window_samples
    )
    inside = (beats["r_peak"].to_numpy() >= 0) & (
        beats["r_peak"].to_numpy() < windows_per_patient * window_samples
    )
    abnormal = inside & (beats["kind"].to_numpy() != "N")
    labels = np.zeros(n_examples, dtype=np.int64)
    hit = window_of_beat[abnormal]
    hit = hit[hit < n_examples]
    labels[hit] = 1
    kinds = (
        pd.Series(beats["kind"].to_numpy()[abnormal])
        .groupby(window_of_beat[abnormal])
        .agg(lambda k: "".join(sorted(set(k))))
    )
    patient_ids = np.array([f"simwin{p:04d}" for p in patient_of])
    labelled = LabelledSet(
        signals_mv=np.ascontiguousarray(windows),
        targets=labels,
        patient_ids=patient_ids,
        fs_hz=float(fs_hz),
        lead_names=(lead,),
        target_names=("normal", "abnormal"),
        task="single_label",
        source="sim-mitbih-windows",
    )
    meta = pd.DataFrame(
        {
            "patient_id": patient_ids,
            "start_sample": start,
            "abnormal_kinds": kinds.reindex(np.arange(n_examples)).fillna("").to_numpy(),
            "rhythm": rhythm[patient_of],
            "snr_db": np.full(n_examples, np.nan) if snr is None else snr[patient_of],
        }
    )
    window_beats = beats.assign(record=beats["example"], example=window_of_beat)[
        inside & (window_of_beat < n_examples)
    ]
    intervals = pd.DataFrame({"example": np.arange(n_examples)})
    return SimulatedSet(labelled, window_beats.reset_index(drop=True), intervals, meta)


# --------------------------------------------------------------------------- registry entry points

_SIMULATORS = {
    "sim-chapman": simulate_chapman,
    "sim-ptbxl": simulate_ptbxl,
    "sim-beats": simulate_beats,
    "sim-mitbih-windows": simulate_mitbih_windows,
}


def simulate(name: str, n_examples: int, *, seed: int, **options) -> SimulatedSet:
    """Simulate registered source ``name`` (signals, labels and ground truth).

    ``options`` go to :func:`simulate_chapman`, :func:`simulate_ptbxl`, :func:`simulate_beats`
    or :func:`simulate_mitbih_windows`.
    """
    if name not in _SIMULATORS:
        raise KeyError(f"unknown simulated source {name!r}; known: {', '.join(_SIMULATORS)}")
    return _SIMULATORS[name](n_examples, seed=seed, **options)


def load_labelled(name: str, n_examples: int, *, seed: int, **options) -> LabelledSet:
    """The :class:`~ecglib.data.LabelledSet` of :func:`simulate` (ground truth dropped)."""
    return simulate(name, n_examples, seed=seed, **options).labelled
