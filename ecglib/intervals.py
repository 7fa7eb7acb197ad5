"""Heart rate, PR, QRS and QT of a 10 s multi-lead ECG, measured with neurokit2's delineators.

How a record is measured (:func:`measure_intervals`)
---------------------------------------------------
1. Every lead is cleaned with ``nk.ecg_clean`` (0.5 Hz high-pass, powerline filter).
2. R peaks are found once for all leads with ``nk.ecg_peaks``, in lead ``II`` unless another
   fails the quality gate or disagrees with most leads on the number of beats (neurokit2 misses
   or doubles paced complexes in some leads).
   A quality gate then rejects signals without consistent QRS complexes: fewer than
   ``MIN_BEATS`` peaks, a median correlation of the beats' ±200 ms windows with their median
   below ``MIN_BEAT_CORRELATION``, QRS peak-to-peak below ``MIN_QRS_RATIO`` times the
   baseline's robust spread, or a heart rate outside 20-250 bpm (flat lines and noise fail here).
3. Each lead is delineated with ``nk.ecg_delineate(method=...)`` at those R peaks, and the
   waves are turned into a table of P, QRS and T waves (onset, peak, offset), the same form
   :mod:`ecglib.data.ludb` gives for the cardiologists' annotations.
4. Leads are combined by one of two definitions (``definition=``), both offered because
   clinicians meet both:

   * ``"global"`` (default; MUSE and 12SL, so PTB-XL+ and the DeepFake dataset's targets):
     per beat, across leads, from the earliest onset to the latest offset
     (:func:`global_intervals`), made robust to one lead's delineation error by taking the
     ``GLOBAL_QRS_QUANTILE`` quantile of the onsets and the opposite one of the offsets;
     median over beats.
   * ``"median"``: :func:`intervals_from_waves` gives each lead's median over beats, then
     the median over leads (:func:`combine_leads`). Per-lead durations are shorter than the
     global ones (a wave starts and ends at different times in different leads).

   ``benchmarks/intervals_ludb.py`` scores both against LUDB's cardiologists.
5. P-wave check: PR is NaN, with a reason, when the atrial activity before the QRS complexes
   is not consistent (:func:`p_wave_evidence`, :func:`has_consistent_p_waves`): atrial
   fibrillation, flutter and ventricular pacing, where a delineator would otherwise report
   a "P onset" on f waves, F waves or noise. A caller who knows the rhythm passes
   ``has_p_waves``.

The same steps 3-4 applied to LUDB's annotation files give the reference values against
which ``benchmarks/intervals_ludb.py`` scores each method; there the default method was
chosen (see ``DEFAULT_METHOD``).

Definitions (per beat, in one lead)
-----------------------------------
* QRS = QRS offset - QRS onset.
* PR = QRS onset - onset of the P wave that lies between the previous QRS peak and this
  QRS onset.
* QT = offset of the T wave that lies between this QRS peak and the next QRS peak
  - QRS onset.
* HR = 60 / median RR, RR from consecutive QRS peaks.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

#: neurokit2 delineation methods that give QRS onsets and offsets ("peak" gives neither)
METHODS = ("prominence", "dwt", "cwt")
#: chosen on LUDB (150 records, benchmarks/intervals_ludb.py): lowest MAE for PR, QRS and QT
DEFAULT_METHOD = "prominence"
#: bump when the measurement changes, so cached targets are recomputed
ALGORITHM_VERSION = "2"
INTERVAL_NAMES = ("hr_bpm", "pr_ms", "qrs_ms", "qt_ms")

# quality gate (see _beat_consistency); on LUDB's 150 records the chosen lead always had
# correlation >= 0.99 and QRS ratio >= 3.7, on 64 GAN ECGs >= 0.98 and >= 8.9, while white
# noise stayed below 0.8 correlation and a random walk below 2.1 QRS ratio
MIN_BEATS = 3
MIN_BEAT_CORRELATION = 0.9
MIN_QRS_RATIO = 3.0
BEAT_WINDOW_S = 0.2
QRS_HALF_WIDTH_S = 0.05
HR_RANGE_BPM = (20.0, 250.0)
#: global QRS: per beat, from this quantile of the leads' QRS onsets to 1 - it of their offsets.
#: Against LUDB's cardiologists combined the same way (ludb.interval_targets, literal earliest
#: onset / latest offset), prominence method, records 1-150, MAE (bias) in ms for quantiles
#: 0 / 0.05 / 0.1 / 0.2: PR 63.6 (+62) / 39.4 / 21.2 (+14) / 14.2 (+3); QRS 20.6 (-16) / 24.3 /
#: 29.1 (-28) / 38.3 (-38); QT 28.6 (+8) / 24.5 / 23.6 (-10) / 26.7 (-22). 0.1 is a compromise
#: (chosen on the records it is scored on). The "median" definition scores PR 10.4, QRS 29.0,
#: QT 16.2 against its own reference. (Against the older lead-II reference, global QRS: 16.4.)
GLOBAL_QRS_QUANTILE = 0.1

#: interval definitions: "global" (per beat across leads, MUSE/12SL) or "median" (over leads)
DEFINITIONS = ("global", "median")
#: P-wave check (:func:`p_wave_evidence`): the atrial window, from this long before each R peak
#: to this long before it (s). On LUDB records 1-150 (chosen there, so an optimistic estimate)
#: the two thresholds below flag 18 of the 23 records whose cardiologists marked no P wave
#: (AF, flutter, ventricular pacing) and none of the 127 others, whose lowest atrial
#: correlation was 0.81 and largest PR IQR 68 ms. Missed: flutter with fixed conduction (35,
#: 103), a regular AF (101) and atrially paced / P-synchronous records (45, 104), whose atrial
#: activity repeats before every QRS. Callers who know the rhythm pass ``has_p_waves=False``.
ATRIAL_WINDOW_S = (0.3, 0.08)
P_WAVE_MIN_CORRELATION = 0.8
P_WAVE_MAX_PR_IQR_MS = 75.0

# nk.ecg_delineate's per-beat keys for each wave: (onset, peak, offset)
_NK_KEYS = {
    "P": ("ECG_P_Onsets", "ECG_P_Peaks", "ECG_P_Offsets"),
    "QRS": ("ECG_R_Onsets", None, "ECG_R_Offsets"),
    "T": ("ECG_T_Onsets", "ECG_T_Peaks", "ECG_T_Offsets"),
}


# --------------------------------------------------------------------------- from waves to intervals


def _as_float(column: pd.Series) -> np.ndarray:
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def beat_fiducials(waves: pd.DataFrame) -> pd.DataFrame:
    """Per-beat P onset, QRS onset/peak/offset and T offset of one lead, paired into beats.

    Pairing rules (per QRS complex, sorted by peak): its P wave starts after the previous QRS
    peak and before this QRS onset (the latest such onset is taken); its T wave peaks after
    this QRS peak and before the next one (the earliest such offset is taken).

    Parameters
    ----------
    waves : DataFrame with columns ``wave`` (``"P"``, ``"QRS"``, ``"T"``), ``onset``, ``peak``,
        ``offset`` in samples (missing values allowed), as from
        :func:`ecglib.data.ludb.load_delineation`

    Returns
    -------
    DataFrame with one row per QRS complex and columns ``qrs_peak``, ``p_onset``,
    ``qrs_onset``, ``qrs_offset``, ``t_offset`` (samples, float, NaN where not paired).
    """
    qrs = waves[waves["wave"] == "QRS"]
    qrs_onset, qrs_peak, qrs_offset = (_as_float(qrs[column]) for column in ("onset", "peak", "offset"))
    # a QRS annotated without a peak is placed at the middle of its bounds
    qrs_peak = np.where(np.isnan(qrs_peak), (qrs_onset + qrs_offset) / 2, qrs_peak)
    order = np.argsort(qrs_peak, kind="stable")
    qrs_onset, qrs_peak, qrs_offset = qrs_onset[order], qrs_peak[order], qrs_offset[order]
    keep = ~np.isnan(qrs_peak)
    qrs_onset, qrs_peak, qrs_offset = qrs_onset[keep], qrs_peak[keep], qrs_offset[keep]

    p = waves[waves["wave"] == "P"]
    p_onset, p_peak = _as_float(p["onset"]), _as_float(p["peak"])
    t = waves[waves["wave"] == "T"]
    t_peak, t_offset = _as_float(t["peak"]), _as_float(t["offset"])
    t_peak = np.where(np.isnan(t_peak), t_offset, t_peak)
    p_peak = np.where(np.isnan(p_peak), p_onset, p_peak)

    n_beats = len(qrs_peak)
    beat_p_onset = np.full(n_beats, np.nan)
    beat_t_offset = np.full(n_beats, np.nan)
    for beat in range(n_beats):
        previous_peak = qrs_peak[beat - 1] if beat > 0 else -np.inf
        next_peak = qrs_peak[beat + 1] if beat + 1 < n_beats else np.inf
        onset = qrs_onset[beat]
        if np.isnan(onset):
            continue
        # the P wave of this beat: after the previous QRS peak, starting before this QRS onset
        candidates = (p_onset > previous_peak) & (p_onset < onset) & (p_peak < onset)
        if candidates.any():
            beat_p_onset[beat] = p_onset[candidates].max()
        # the T wave of this beat: peak after this QRS peak and before the next one
        candidates = (t_peak > qrs_peak[beat]) & (t_peak < next_peak) & (t_offset > onset)
        if candidates.any():
            beat_t_offset[beat] = t_offset[candidates].min()
    return pd.DataFrame(
        {
            "qrs_peak": qrs_peak,
            "p_onset": beat_p_onset,
            "qrs_onset": qrs_onset,
            "qrs_offset": qrs_offset,
            "t_offset": beat_t_offset,
        }
    )


def beat_intervals(waves: pd.DataFrame, fs_hz: float) -> pd.DataFrame:
    """Per-beat PR, QRS and QT of one lead, and the RR interval before each beat.

    Parameters
    ----------
    waves : DataFrame of waves (see :func:`beat_fiducials`, whose pairing rules apply)
    fs_hz : sampling rate in hertz

    Returns
    -------
    DataFrame with one row per QRS complex (sorted by peak) and columns ``qrs_peak``
    (samples), ``rr_ms``, ``pr_ms``, ``qrs_ms``, ``qt_ms`` (NaN where not measurable).
    """
    ms_per_sample = 1000.0 / fs_hz
    beats = beat_fiducials(waves)
    rr_ms = np.full(len(beats), np.nan)
    if len(beats) > 1:
        rr_ms[1:] = np.diff(beats["qrs_peak"].to_numpy()) * ms_per_sample
    qrs_ms = (beats["qrs_offset"] - beats["qrs_onset"]).to_numpy() * ms_per_sample
    qrs_ms[qrs_ms <= 0] = np.nan
    return pd.DataFrame(
        {
            "qrs_peak": beats["qrs_peak"].to_numpy(),
            "rr_ms": rr_ms,
            "pr_ms": (beats["qrs_onset"] - beats["p_onset"]).to_numpy() * ms_per_sample,
            "qrs_ms": qrs_ms,
            "qt_ms": (beats["t_offset"] - beats["qrs_onset"]).to_numpy() * ms_per_sample,
        }
    )


def intervals_from_waves(waves: pd.DataFrame, fs_hz: float) -> dict[str, float]:
    """Median-over-beats HR (bpm), PR, QRS and QT (ms) of one lead; NaN where no beat gives one.

    Parameters
    ----------
    waves : DataFrame of waves (see :func:`beat_intervals`)
    fs_hz : sampling rate in hertz

    Returns
    -------
    dict with keys ``hr_bpm``, ``pr_ms``, ``qrs_ms``, ``qt_ms`` and ``n_beats`` (QRS complexes)
    """
    beats = beat_intervals(waves, fs_hz)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="All-NaN slice encountered", category=RuntimeWarning)
        median_rr_ms = np.nanmedian(beats["rr_ms"]) if beats["rr_ms"].notna().any() else np.nan
        values = {
            name: float(np.nanmedian(beats[name])) if beats[name].notna().any() else np.nan
            for name in ("pr_ms", "qrs_ms", "qt_ms")
        }
    return {"hr_bpm": 60000.0 / median_rr_ms, **values, "n_beats": int(len(beats))}


def combine_leads(per_lead: dict[str, dict[str, float]]) -> dict[str, float]:
    """The median over leads of each interval (leads with NaN ignored), and how many leads gave it.

    Parameters
    ----------
    per_lead : lead name -> dict from :func:`intervals_from_waves`

    Returns
    -------
    dict with ``hr_bpm``, ``pr_ms``, ``qrs_ms``, ``qt_ms`` (NaN when no lead gives a value)
    and ``n_leads_<name>`` for each of them.
    """
    combined: dict[str, float] = {}
    for name in INTERVAL_NAMES:
        values = np.array([intervals[name] for intervals in per_lead.values()], dtype=float)
        values = values[np.isfinite(values)]
        combined[name] = float(np.median(values)) if len(values) else np.nan
        combined[f"n_leads_{name}"] = int(len(values))
    return combined


# --------------------------------------------------------------------------- measuring a signal


def _nk_waves(delineation: dict, rpeaks: np.ndarray) -> pd.DataFrame:
    """nk.ecg_delineate's dict of per-beat lists as a waves table (P, QRS, T rows)."""
    rows = []
    for wave, (onset_key, peak_key, offset_key) in _NK_KEYS.items():
        onsets = np.asarray(delineation.get(onset_key, []), dtype=float)
        offsets = np.asarray(delineation.get(offset_key, []), dtype=float)
        peaks = (
            np.asarray(rpeaks, dtype=float)
            if peak_key is None
            else np.asarray(delineation.get(peak_key, []), dtype=float)
        )
        n = min(len(onsets), len(offsets), len(peaks))
        for onset, peak, offset in zip(onsets[:n], peaks[:n], offsets[:n]):
            if np.isnan(peak):
                continue
            # drop bounds on the wrong side of the peak (a delineator failure, not a wave)
            onset = onset if onset <= peak else np.nan
            offset = offset if offset >= peak else np.nan
            rows.append({"wave": wave, "onset": onset, "peak": peak, "offset": offset})
    return pd.DataFrame(rows, columns=["wave", "onset", "peak", "offset"])


def _beat_consistency(cleaned: np.ndarray, rpeaks: np.ndarray, fs_hz: float) -> tuple[float, float]:
    """How ECG-like one cleaned lead is around its R peaks.

    Returns
    -------
    correlation : median correlation of each beat's ±``BEAT_WINDOW_S`` window with the median
        window (-1 with fewer than 3 whole windows)
    qrs_ratio : median peak-to-peak of the ±``QRS_HALF_WIDTH_S`` QRS windows divided by the
        robust standard deviation (1.4826 MAD) of the signal outside them
    """
    half = int(round(BEAT_WINDOW_S * fs_hz))
    inside = rpeaks[(rpeaks >= half) & (rpeaks + half < len(cleaned))]
    if len(inside) < 3:
        return -1.0, 0.0
    windows = np.stack([cleaned[peak - half : peak + half + 1] for peak in inside])
    template = np.median(windows, axis=0)
    windows = windows - windows.mean(axis=1, keepdims=True)
    template = template - template.mean()
    norms = np.linalg.norm(windows, axis=1) * np.linalg.norm(template)
    correlation = float(np.median(windows @ template / np.maximum(norms, 1e-12)))
    qrs_half = int(round(QRS_HALF_WIDTH_S * fs_hz))
    in_qrs = np.zeros(len(cleaned), dtype=bool)
    for peak in rpeaks:
        in_qrs[max(peak - qrs_half, 0) : peak + qrs_half] = True
    outside = cleaned[~in_qrs]
    spread = 1.4826 * np.median(np.abs(outside - np.median(outside))) if len(outside) else 0.0
    qrs_height = np.median([np.ptp(cleaned[max(peak - qrs_half, 0) : peak + qrs_half]) for peak in rpeaks])
    return correlation, float(qrs_height / max(spread, 1e-12))


def _reference_peaks(
    cleaned: np.ndarray, fs_hz: float, preferred: int
) -> tuple[int, np.ndarray, float, float]:
    """R peaks for all leads, from one lead that passes the quality gate.

    Among the passing leads, the beat count most of them share wins (ties: the count of
    ``preferred``, then the larger count); among leads with that count, ``preferred`` wins,
    then the higher beat correlation. When no lead passes, the
    lead with the highest beat correlation is returned (and the caller rejects the signal).
    neurokit2's detector misses paced complexes in some leads (LUDB 45 and 90 give 0-1 peaks
    in lead II and half the beats in others), hence every lead is tried; the cost is one
    ``nk.ecg_peaks`` call per lead.
    """
    import neurokit2 as nk

    candidates = []
    for lead in range(cleaned.shape[1]):
        try:
            _, found = nk.ecg_peaks(cleaned[:, lead], sampling_rate=fs_hz)
            rpeaks = np.asarray(found["ECG_R_Peaks"], dtype=int)
        except Exception:  # noqa: BLE001 - neurokit2 raises assorted errors on degenerate leads
            rpeaks = np.zeros(0, dtype=int)
        correlation, qrs_ratio = (
            _beat_consistency(cleaned[:, lead], rpeaks, fs_hz) if len(rpeaks) else (-1.0, 0.0)
        )
        candidates.append((lead, rpeaks, correlation, qrs_ratio))
    passing = [
        candidate
        for candidate in candidates
        if len(candidate[1]) >= MIN_BEATS
        and candidate[2] >= MIN_BEAT_CORRELATION
        and candidate[3] >= MIN_QRS_RATIO
    ]
    if not passing:
        return max(candidates, key=lambda candidate: candidate[2])
    # the beat count most leads agree on (a lead that doubles or halves the count is outvoted)
    counts = [len(candidate[1]) for candidate in passing]
    agreed = max(
        set(counts),
        key=lambda count: (
            counts.count(count),
            count in [len(c[1]) for c in passing if c[0] == preferred],
            count,
        ),
    )
    return max(
        (candidate for candidate in passing if len(candidate[1]) == agreed),
        key=lambda candidate: (candidate[0] == preferred, candidate[2]),
    )


def global_qrs_ms(
    waves_by_lead: dict[str, pd.DataFrame], fs_hz: float, quantile: float = GLOBAL_QRS_QUANTILE
) -> float:
    """Median over beats of the across-lead QRS duration (ms); NaN when no beat has bounds.

    Parameters
    ----------
    waves_by_lead : lead name -> waves table whose QRS rows share peak samples across leads
        (one R-peak set for all leads, as in :func:`measure_intervals`)
    fs_hz : sampling rate in hertz
    quantile : per beat, onset = this quantile of the leads' onsets, offset = 1 - it of their offsets
    """
    qrs = pd.concat([waves[waves["wave"] == "QRS"] for waves in waves_by_lead.values()], ignore_index=True)
    if qrs.empty:
        return np.nan
    qrs = qrs.assign(
        onset=_as_float(qrs["onset"]), offset=_as_float(qrs["offset"]), peak=_as_float(qrs["peak"])
    )
    durations = []
    for _, beat in qrs.groupby("peak"):
        onsets, offsets = beat["onset"].dropna(), beat["offset"].dropna()
        if len(onsets) and len(offsets):
            durations.append(np.quantile(offsets, 1 - quantile) - np.quantile(onsets, quantile))
    durations = np.array(durations) * 1000.0 / fs_hz
    durations = durations[durations > 0]
    return float(np.median(durations)) if len(durations) else np.nan


def group_beats(
    qrs_onset: np.ndarray, qrs_peak: np.ndarray, qrs_offset: np.ndarray, fs_hz: float
) -> np.ndarray:
    """Beat number of each QRS complex pooled from several leads: overlapping complexes are one beat.

    Each complex spans ``[onset, offset]`` (``peak -/+ QRS_HALF_WIDTH_S`` where a bound is
    missing); complexes are sorted by start and merged while the next one starts before the
    current beat's latest end. Peaks alone would not do: LUDB marks a wide QRS's "peak" on
    different deflections in different leads, up to ~120 ms apart.

    Parameters
    ----------
    qrs_onset, qrs_peak, qrs_offset : ndarrays of shape (n,), samples (NaN allowed in the bounds)
    fs_hz : sampling rate in hertz

    Returns
    -------
    ndarray of shape (n,), int, beat numbers 0, 1, ... in time order
    """
    half = QRS_HALF_WIDTH_S * fs_hz
    peak = np.asarray(qrs_peak, dtype=float)
    start = np.where(np.isfinite(qrs_onset), qrs_onset, peak - half)
    end = np.where(np.isfinite(qrs_offset), qrs_offset, peak + half)
    beat_of = np.empty(len(peak), dtype=int)
    beat, beat_end = -1, -np.inf
    for index in np.argsort(start, kind="stable"):
        if start[index] > beat_end:
            beat += 1
            beat_end = end[index]
        else:
            beat_end = max(beat_end, end[index])
        beat_of[index] = beat
    return beat_of


def global_intervals(
    waves_by_lead: dict[str, pd.DataFrame], fs_hz: float, *, quantile: float = 0.0
) -> dict[str, float]:
    """HR, PR, QRS and QT with the global (across-lead, per-beat) definition of MUSE and 12SL.

    Each lead's waves are paired into beats (:func:`beat_fiducials`); QRS complexes of different
    leads that overlap in time are the same beat (:func:`group_beats`). Per beat, with
    ``q = quantile`` taken over the leads that mark the fiducial point:

    * QRS onset = q-quantile of the leads' QRS onsets, QRS offset = (1 - q)-quantile of their offsets;
    * P onset = q-quantile of the P onsets, T offset = (1 - q)-quantile of the T offsets;
    * PR = QRS onset - P onset, QRS = QRS offset - QRS onset, QT = T offset - QRS onset.

    ``quantile=0`` is the clinical "earliest onset to latest offset" (used for the cardiologists'
    delineation); a small positive quantile makes an automatic delineator robust to one lead's
    outlier. Each interval is the median over beats; HR = 60000 / median RR (ms) between
    consecutive beats (median of the leads' peaks per beat). PR is NaN when no lead has a P
    wave paired with a beat (atrial fibrillation, flutter, pacing in LUDB's annotations).

    Parameters
    ----------
    waves_by_lead : lead name -> waves table (``wave``, ``onset``, ``peak``, ``offset`` in samples)
    fs_hz : sampling rate in hertz
    quantile : in [0, 0.5]

    Returns
    -------
    dict with ``hr_bpm``, ``pr_ms``, ``qrs_ms``, ``qt_ms`` (NaN where no beat gives one) and
    ``n_beats`` (beats seen in any lead)
    """
    if not 0.0 <= quantile <= 0.5:
        raise ValueError(f"quantile must be in [0, 0.5], got {quantile}")
    tables = [beat_fiducials(waves) for waves in waves_by_lead.values()]
    tables = [table for table in tables if len(table)]
    nan = {name: np.nan for name in INTERVAL_NAMES}
    if not tables:
        return {**nan, "n_beats": 0}
    beats = pd.concat(tables, ignore_index=True)
    beats["beat"] = group_beats(
        beats["qrs_onset"].to_numpy(), beats["qrs_peak"].to_numpy(), beats["qrs_offset"].to_numpy(), fs_hz
    )
    ms_per_sample = 1000.0 / fs_hz

    def low(values):
        values = values.dropna()
        return np.quantile(values, quantile) if len(values) else np.nan

    def high(values):
        values = values.dropna()
        return np.quantile(values, 1.0 - quantile) if len(values) else np.nan

    per_beat = beats.groupby("beat").agg(
        qrs_peak=("qrs_peak", "median"),
        p_onset=("p_onset", low),
        qrs_onset=("qrs_onset", low),
        qrs_offset=("qrs_offset", high),
        t_offset=("t_offset", high),
    )
    values = {
        "pr_ms": (per_beat["qrs_onset"] - per_beat["p_onset"]) * ms_per_sample,
        "qrs_ms": (per_beat["qrs_offset"] - per_beat["qrs_onset"]) * ms_per_sample,
        "qt_ms": (per_beat["t_offset"] - per_beat["qrs_onset"]) * ms_per_sample,
        "rr_ms": per_beat["qrs_peak"].diff() * ms_per_sample,
    }
    result = {}
    for name, series in values.items():
        series = series[series > 0].dropna()
        result[name] = float(np.median(series)) if len(series) else np.nan
    return {
        "hr_bpm": 60000.0 / result["rr_ms"],
        "pr_ms": result["pr_ms"],
        "qrs_ms": result["qrs_ms"],
        "qt_ms": result["qt_ms"],
        "n_beats": int(len(per_beat)),
    }


def p_wave_evidence(
    cleaned: np.ndarray, rpeaks: np.ndarray, fs_hz: float, beats_by_lead: dict[str, pd.DataFrame]
) -> dict[str, float]:
    """How consistent the atrial activity before each QRS is (low in AF, flutter and pacing).

    Parameters
    ----------
    cleaned : ndarray of shape (n_samples, n_leads), cleaned signal (mV)
    rpeaks : R-peak samples shared by all leads
    fs_hz : sampling rate in hertz
    beats_by_lead : lead name -> :func:`beat_intervals` table of that lead

    Returns
    -------
    dict with ``atrial_correlation``: median over leads of the median correlation of each beat's
    atrial window (``ATRIAL_WINDOW_S`` before the R peak) with the median window (NaN with
    fewer than 3 windows), and ``pr_iqr_ms``: median over leads of the interquartile range of
    the per-beat PR (NaN where no lead has 3 PRs). In sinus rhythm a P wave sits at a fixed
    distance before each QRS, so both windows and PRs repeat; fibrillatory waves and
    dissociated atrial activity do not.
    """
    start, stop = (int(round(seconds * fs_hz)) for seconds in ATRIAL_WINDOW_S)
    inside = rpeaks[rpeaks - start >= 0]
    correlations = []
    if len(inside) >= 3:
        for lead in range(cleaned.shape[1]):
            windows = np.stack([cleaned[peak - start : peak - stop, lead] for peak in inside])
            windows = windows - windows.mean(axis=1, keepdims=True)
            template = np.median(windows, axis=0)
            template = template - template.mean()
            norms = np.linalg.norm(windows, axis=1) * np.linalg.norm(template)
            correlations.append(np.median(windows @ template / np.maximum(norms, 1e-12)))
    spreads = []
    for beats in beats_by_lead.values():
        pr_ms = beats["pr_ms"].dropna().to_numpy()
        if len(pr_ms) >= 3:
            spreads.append(np.subtract(*np.percentile(pr_ms, [75, 25])))
    return {
        "atrial_correlation": float(np.median(correlations)) if correlations else np.nan,
        "pr_iqr_ms": float(np.median(spreads)) if spreads else np.nan,
    }


def has_consistent_p_waves(evidence: dict[str, float]) -> bool:
    """False when :func:`p_wave_evidence` says no P waves (``P_WAVE_MIN_CORRELATION``, ``P_WAVE_MAX_PR_IQR_MS``)."""
    correlation, spread = evidence["atrial_correlation"], evidence["pr_iqr_ms"]
    if np.isfinite(correlation) and correlation < P_WAVE_MIN_CORRELATION:
        return False
    return not (np.isfinite(spread) and spread > P_WAVE_MAX_PR_IQR_MS)


def _nan_result(reason: str, **extra) -> dict:
    empty = {
        "n_beats": 0,
        "reference_lead": "",
        "beat_correlation": np.nan,
        "qrs_ratio": np.nan,
        "atrial_correlation": np.nan,
        "pr_iqr_ms": np.nan,
        "p_waves": False,
        **{f"{name}_{kind}": np.nan for kind in DEFINITIONS for name in ("pr_ms", "qrs_ms", "qt_ms")},
    }
    return {**{name: np.nan for name in INTERVAL_NAMES}, **empty, "reason": reason, **extra}


def measure_intervals(
    signal_mv: np.ndarray,
    fs_hz: float,
    lead_names: tuple[str, ...] | list[str],
    *,
    method: str = DEFAULT_METHOD,
    reference_lead: str = "II",
    definition: str = "global",
    global_quantile: float = GLOBAL_QRS_QUANTILE,
    qrs_combine: str | None = None,
    has_p_waves: bool | None = None,
) -> dict:
    """Measure HR, PR, QRS and QT of one ECG with a neurokit2 delineator.

    Parameters
    ----------
    signal_mv : ndarray of shape (n_samples, n_leads), millivolts (a 1-D array is one lead)
    fs_hz : sampling rate in hertz
    lead_names : names of the columns of ``signal_mv``
    method : ``"prominence"``, ``"dwt"`` or ``"cwt"`` (``nk.ecg_delineate``'s methods that
        give QRS bounds)
    reference_lead : lead preferred for R-peak detection (the first lead when absent); another
        lead is used when it fails the quality gate or its beat count disagrees with most leads
    definition : how leads are combined into PR, QRS and QT: ``"global"`` (per beat across
        leads, earliest onset to latest offset as MUSE and 12SL do, made robust by
        ``global_quantile``; see :func:`global_intervals`) or ``"median"`` (each lead's
        median over beats, then the median over leads; :func:`combine_leads`)
    global_quantile : the quantile of the leads' onsets (1 - it for offsets) taken per beat
        by ``definition="global"``; 0 is the literal earliest onset / latest offset
    qrs_combine : None (follow ``definition``), or ``"global"`` / ``"median"`` to override the
        definition for QRS alone (the behaviour before ``definition`` existed was
        ``definition="median", qrs_combine="global"``)
    has_p_waves : None: PR is NaN when :func:`p_wave_evidence` finds no consistent P waves
        (atrial fibrillation, flutter, pacing); False: the caller knows there are none (PR is
        NaN); True: skip the check

    Returns
    -------
    dict
        ``hr_bpm``, ``pr_ms``, ``qrs_ms``, ``qt_ms`` (float, NaN when not measurable),
        ``n_beats`` (R peaks), ``reference_lead`` (the lead they came from),
        ``beat_correlation`` and ``qrs_ratio`` (the quality gate's statistics),
        ``atrial_correlation`` and ``pr_iqr_ms`` (the P-wave check's statistics),
        ``p_waves`` (bool: whether PR was reported), ``definition``, the values of both
        definitions as ``pr_ms_global``, ``pr_ms_median``, ``qrs_ms_global``, ... (``qrs_combine``
        does not change these),
        ``n_leads_<interval>`` (leads that contributed) and ``reason``: ``""`` when every
        interval was measured, else ``"<interval>: <why>"`` entries joined by ``"; "``.

    See Also
    --------
    measure_batch : the same for a stack of ECGs, as a DataFrame.
    """
    import neurokit2 as nk
    from neurokit2.misc import NeuroKitWarning
    from scipy.signal._peak_finding_utils import PeakPropertyWarning

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if definition not in DEFINITIONS:
        raise ValueError(f"definition must be one of {DEFINITIONS}, got {definition!r}")
    if qrs_combine not in (None, "global", "median"):
        raise ValueError(f"qrs_combine must be None, 'global' or 'median', got {qrs_combine!r}")
    signal_mv = np.asarray(signal_mv, dtype=float)
    if signal_mv.ndim == 1:
        signal_mv = signal_mv[:, None]
    lead_names = list(lead_names)
    if signal_mv.ndim != 2 or signal_mv.shape[1] != len(lead_names):
        raise ValueError(
            f"signal_mv must be (n_samples, {len(lead_names)} leads), got shape {signal_mv.shape}"
        )
    if not np.all(np.isfinite(signal_mv)):
        return _nan_result("all: signal holds NaN or infinite samples")
    reference = lead_names.index(reference_lead) if reference_lead in lead_names else 0

    with warnings.catch_warnings():
        # neurokit2 warns (NeuroKitWarning) on every short or odd beat; the reasons we return say more
        warnings.filterwarnings("ignore", category=NeuroKitWarning)
        warnings.filterwarnings(
            "ignore", category=PeakPropertyWarning
        )  # scipy, inside nk's prominence method
        cleaned = np.stack(
            [nk.ecg_clean(signal_mv[:, lead], sampling_rate=fs_hz) for lead in range(len(lead_names))], axis=1
        )
        if np.max(np.ptp(cleaned, axis=0)) < 1e-3:
            return _nan_result("all: every lead is flat (peak-to-peak < 1 µV after cleaning)")
        reference, rpeaks, correlation, qrs_ratio = _reference_peaks(cleaned, fs_hz, reference)
        quality = {
            "n_beats": len(rpeaks),
            "reference_lead": lead_names[reference],
            "beat_correlation": correlation,
            "qrs_ratio": qrs_ratio,
        }
        where = f"in lead {lead_names[reference]}, the best lead"
        if len(rpeaks) < MIN_BEATS:
            return _nan_result(f"all: {len(rpeaks)} R peaks {where} (need {MIN_BEATS})", **quality)
        if correlation < MIN_BEAT_CORRELATION or qrs_ratio < MIN_QRS_RATIO:
            return _nan_result(
                f"all: no consistent QRS complexes {where} (beat correlation {correlation:.2f}, "
                f"need {MIN_BEAT_CORRELATION}; QRS-to-baseline ratio {qrs_ratio:.1f}, need {MIN_QRS_RATIO})",
                **quality,
            )
        hr_bpm = 60.0 * fs_hz / float(np.median(np.diff(rpeaks)))
        if not HR_RANGE_BPM[0] <= hr_bpm <= HR_RANGE_BPM[1]:
            return _nan_result(
                f"all: heart rate {hr_bpm:.0f} bpm {where} outside {HR_RANGE_BPM} bpm", **quality
            )

        per_lead: dict[str, dict] = {}
        waves_by_lead: dict[str, pd.DataFrame] = {}
        failures: list[str] = []
        for lead, name in enumerate(lead_names):
            try:
                _, delineation = nk.ecg_delineate(
                    cleaned[:, lead], rpeaks, sampling_rate=fs_hz, method=method
                )
            except Exception as error:  # noqa: BLE001 - a lead the delineator cannot handle is skipped
                failures.append(f"{name} ({type(error).__name__})")
                continue
            waves_by_lead[name] = _nk_waves(delineation, rpeaks)
            per_lead[name] = intervals_from_waves(waves_by_lead[name], fs_hz)

    combined = combine_leads(per_lead)
    median_qrs_ms = combined["qrs_ms"]
    across = global_intervals(waves_by_lead, fs_hz, quantile=global_quantile) if waves_by_lead else {}
    # both definitions' values, for comparison (the chosen one is also under the plain names)
    both = {
        f"{name}_{kind}": float(values.get(name, np.nan))
        for kind, values in (("global", across), ("median", dict(combined)))
        for name in ("pr_ms", "qrs_ms", "qt_ms")
    }
    if definition == "global" and waves_by_lead:
        combined.update({name: across[name] for name in ("pr_ms", "qrs_ms", "qt_ms")})
    if qrs_combine == "global" and waves_by_lead:
        combined["qrs_ms"] = global_qrs_ms(waves_by_lead, fs_hz)
    elif qrs_combine == "median":
        combined["qrs_ms"] = median_qrs_ms
    combined["hr_bpm"] = hr_bpm  # from the reference lead's R peaks, not per-lead medians
    combined["n_leads_hr_bpm"] = 1
    evidence = p_wave_evidence(
        cleaned, rpeaks, fs_hz, {name: beat_intervals(waves, fs_hz) for name, waves in waves_by_lead.items()}
    )
    reasons = []
    p_waves = has_p_waves if has_p_waves is not None else has_consistent_p_waves(evidence)
    if not p_waves:
        combined["pr_ms"] = both["pr_ms_global"] = both["pr_ms_median"] = np.nan
        if has_p_waves is False:
            reasons.append("pr_ms: no P waves (caller: has_p_waves=False)")
        else:
            reasons.append(
                f"pr_ms: no consistent P waves (atrial-window correlation {evidence['atrial_correlation']:.2f},"
                f" need {P_WAVE_MIN_CORRELATION}; per-beat PR IQR {evidence['pr_iqr_ms']:.0f} ms, at most"
                f" {P_WAVE_MAX_PR_IQR_MS:g} ms): atrial fibrillation, flutter or pacing?"
            )
    quality.update(evidence, p_waves=bool(p_waves), definition=definition, **both)
    for name in ("pr_ms", "qrs_ms", "qt_ms"):
        if name == "pr_ms" and not p_waves:
            continue
        if np.isnan(combined[name]):
            why = {
                "pr_ms": "no P-wave onset before a QRS onset",
                "qrs_ms": "no QRS onset and offset",
                "qt_ms": "no T-wave offset after a QRS onset",
            }[name]
            reasons.append(f"{name}: {why} in any lead (method {method})")
    if failures:
        reasons.append(f"delineation failed in leads {', '.join(failures)}")
    return {**combined, **quality, "reason": "; ".join(reasons)}


def measure_batch(
    signals_mv: np.ndarray,
    fs_hz: float,
    lead_names: tuple[str, ...] | list[str],
    *,
    method: str = DEFAULT_METHOD,
    reference_lead: str = "II",
    definition: str = "global",
    global_quantile: float = GLOBAL_QRS_QUANTILE,
    qrs_combine: str | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """:func:`measure_intervals` for every ECG of a stack.

    Parameters
    ----------
    signals_mv : ndarray of shape (n_examples, n_samples, n_leads), millivolts
    fs_hz, lead_names, method, reference_lead, definition, global_quantile, qrs_combine : as for
        :func:`measure_intervals` (``has_p_waves`` is left to the P-wave check)
    progress : show a tqdm bar

    Returns
    -------
    DataFrame with one row per example (index 0..n_examples-1) and the keys of
    :func:`measure_intervals` as columns.
    """
    signals_mv = np.asarray(signals_mv)
    if signals_mv.ndim != 3:
        raise ValueError(f"signals_mv must be (n_examples, n_samples, n_leads), got shape {signals_mv.shape}")
    examples = range(len(signals_mv))
    if progress:
        from tqdm.auto import tqdm

        examples = tqdm(examples, desc=f"intervals ({method})", unit="ECG")
    rows = [
        measure_intervals(
            signals_mv[index],
            fs_hz,
            lead_names,
            method=method,
            reference_lead=reference_lead,
            definition=definition,
            global_quantile=global_quantile,
            qrs_combine=qrs_combine,
        )
        for index in examples
    ]
    table = pd.DataFrame(rows)
    columns = [*INTERVAL_NAMES, "n_beats", "reference_lead", "beat_correlation", "qrs_ratio", "reason"]
    return table[columns + [column for column in table.columns if column not in columns]]
