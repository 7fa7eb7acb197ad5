"""Interval measurement on synthetic beat trains with known timings, and its failure reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecglib import intervals

FS_HZ = 500.0
LEADS = ("I", "II", "V5")


def gaussian_ecg(
    *,
    rr_ms: float = 1000.0,
    pr_gap_ms: float = 160.0,
    qrs_scale: float = 1.0,
    t_shift_ms: float = 0.0,
    noise_mv: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """(5000, 3) mV: P, Q, R, S, T Gaussians at known offsets from each R peak.

    With a wave's visible extent taken as its centre ± 2.5 sigma: P onset = R - pr_gap - 37.5 ms,
    QRS = R - 35 ms .. R + 35 ms (times qrs_scale), T offset = R + 392.5 ms + t_shift; so
    PR ~ pr_gap + 2.5 ms, QRS ~ 70 ms, QT ~ 427.5 ms + t_shift.
    """
    time_ms = np.arange(int(10 * FS_HZ)) / FS_HZ * 1000.0
    signal = np.zeros_like(time_ms)

    def wave(centre_ms, sigma_ms, amplitude_mv):
        return amplitude_mv * np.exp(-0.5 * ((time_ms - centre_ms) / sigma_ms) ** 2)

    for r_ms in np.arange(500.0, 9700.0, rr_ms):
        signal += wave(r_ms - pr_gap_ms, 15, 0.15)
        signal += wave(r_ms - 20 * qrs_scale, 6 * qrs_scale, -0.15)
        signal += wave(r_ms, 9 * qrs_scale, 1.2)
        signal += wave(r_ms + 20 * qrs_scale, 6 * qrs_scale, -0.25)
        signal += wave(r_ms + 280 + t_shift_ms, 45, 0.35)
    leads = np.stack([signal * gain for gain in (0.6, 1.0, 1.2)], axis=1)
    leads += np.random.default_rng(seed).normal(0.0, noise_mv, leads.shape)
    return leads.astype(np.float32)


def test_default_method_recovers_known_intervals():
    measured = intervals.measure_intervals(gaussian_ecg(), FS_HZ, LEADS)
    assert measured["reason"] == ""
    assert measured["hr_bpm"] == pytest.approx(60.0, abs=0.5)
    assert measured["pr_ms"] == pytest.approx(162.5, abs=25)
    assert measured["qrs_ms"] == pytest.approx(70.0, abs=20)
    assert measured["qt_ms"] == pytest.approx(427.5, abs=25)
    assert measured["n_leads_qrs_ms"] == 3


def test_heart_rate_follows_rr():
    measured = intervals.measure_intervals(gaussian_ecg(rr_ms=750.0), FS_HZ, LEADS)
    assert measured["hr_bpm"] == pytest.approx(80.0, abs=0.5)


@pytest.mark.parametrize("method", intervals.METHODS)
def test_shifting_waves_shifts_pr_and_qt(method):
    base = intervals.measure_intervals(gaussian_ecg(), FS_HZ, LEADS, method=method)
    later_p = intervals.measure_intervals(gaussian_ecg(pr_gap_ms=220.0), FS_HZ, LEADS, method=method)
    later_t = intervals.measure_intervals(gaussian_ecg(t_shift_ms=60.0), FS_HZ, LEADS, method=method)
    assert later_p["pr_ms"] - base["pr_ms"] == pytest.approx(60.0, abs=8)
    assert later_t["qt_ms"] - base["qt_ms"] == pytest.approx(60.0, abs=8)


def test_wider_qrs_measures_wider():
    base = intervals.measure_intervals(gaussian_ecg(), FS_HZ, LEADS)
    wide = intervals.measure_intervals(gaussian_ecg(qrs_scale=1.6), FS_HZ, LEADS)
    assert wide["qrs_ms"] - base["qrs_ms"] >= 10


def test_mild_noise_keeps_measurement():
    clean = intervals.measure_intervals(gaussian_ecg(), FS_HZ, LEADS)
    noisy = intervals.measure_intervals(gaussian_ecg(noise_mv=0.02), FS_HZ, LEADS)
    for name in ("pr_ms", "qrs_ms", "qt_ms"):
        assert noisy[name] == pytest.approx(clean[name], abs=10)


def test_flat_signal_gives_nan_and_reason():
    measured = intervals.measure_intervals(np.zeros((5000, 3), np.float32), FS_HZ, LEADS)
    assert all(np.isnan(measured[name]) for name in intervals.INTERVAL_NAMES)
    assert "flat" in measured["reason"]


@pytest.mark.parametrize("kind", ["white", "random_walk"])
def test_noise_gives_nan_and_reason(kind):
    rng = np.random.default_rng(1)
    noise_mv = (
        rng.normal(0.0, 0.5, (5000, 3))
        if kind == "white"
        else np.cumsum(rng.normal(0.0, 0.05, (5000, 3)), axis=0)
    )
    measured = intervals.measure_intervals(noise_mv, FS_HZ, LEADS)
    assert all(np.isnan(measured[name]) for name in intervals.INTERVAL_NAMES)
    assert measured["reason"].startswith("all:")


def test_nan_samples_and_bad_shapes():
    signal = gaussian_ecg()
    signal[100, 0] = np.nan
    assert "NaN" in intervals.measure_intervals(signal, FS_HZ, LEADS)["reason"]
    with pytest.raises(ValueError, match="leads"):
        intervals.measure_intervals(gaussian_ecg(), FS_HZ, ("I", "II"))
    with pytest.raises(ValueError, match="method"):
        intervals.measure_intervals(gaussian_ecg(), FS_HZ, LEADS, method="peak")


def test_measure_batch_rows_and_columns():
    signals = np.stack([gaussian_ecg(), np.zeros((5000, 3), np.float32)])
    table = intervals.measure_batch(signals, FS_HZ, LEADS)
    assert list(table.columns[:4]) == list(intervals.INTERVAL_NAMES)
    assert len(table) == 2
    assert table.loc[0, "reason"] == "" and np.isfinite(table.loc[0, "qrs_ms"])
    assert np.isnan(table.loc[1, "qrs_ms"]) and "flat" in table.loc[1, "reason"]


def test_intervals_from_annotated_waves():
    """Two beats written as LUDB-style waves: the pairing rules give exact values."""
    waves = pd.DataFrame(
        {
            "wave": ["P", "QRS", "T", "P", "QRS", "T"],
            "onset": [100, 180, 330, 600, 680, 830],
            "peak": [120, 200, 380, 620, 700, 880],
            "offset": [150, 230, 430, 650, 730, 930],
        }
    )
    values = intervals.intervals_from_waves(waves, 500.0)
    assert values["pr_ms"] == pytest.approx(160.0)  # (180 - 100) samples at 500 Hz
    assert values["qrs_ms"] == pytest.approx(100.0)
    assert values["qt_ms"] == pytest.approx(500.0)
    assert values["hr_bpm"] == pytest.approx(60.0)
    assert values["n_beats"] == 2


def test_intervals_from_waves_skips_unpaired_waves():
    # a QRS without onset gives no PR or QT; a P after its QRS onset is not that beat's P
    waves = pd.DataFrame(
        {
            "wave": ["QRS", "T", "P", "QRS", "T"],
            "onset": [pd.NA, 330, 690, 680, 830],
            "peak": [200, 380, 695, 700, 880],
            "offset": [230, 430, 699, 730, 930],
        }
    ).astype({"onset": "Int64"})
    beats = intervals.beat_intervals(waves, 500.0)
    assert np.isnan(beats.loc[0, "pr_ms"]) and np.isnan(beats.loc[0, "qt_ms"])
    assert np.isnan(beats.loc[1, "pr_ms"])
    assert beats.loc[1, "qt_ms"] == pytest.approx(500.0)


def test_combine_leads_takes_median_and_ignores_nan():
    per_lead = {
        "I": {"hr_bpm": 60.0, "pr_ms": 150.0, "qrs_ms": 80.0, "qt_ms": np.nan},
        "II": {"hr_bpm": 61.0, "pr_ms": 160.0, "qrs_ms": 90.0, "qt_ms": 400.0},
        "V1": {"hr_bpm": 62.0, "pr_ms": 200.0, "qrs_ms": 100.0, "qt_ms": np.nan},
    }
    combined = intervals.combine_leads(per_lead)
    assert combined["pr_ms"] == 160.0 and combined["qrs_ms"] == 90.0
    assert combined["qt_ms"] == 400.0 and combined["n_leads_qt_ms"] == 1


def test_global_qrs_spans_the_leads():
    # one beat (peak 200) seen by five leads; onsets 170..190, offsets 220..260 samples
    waves_by_lead = {
        lead: pd.DataFrame({"wave": ["QRS"], "onset": [onset], "peak": [200], "offset": [offset]})
        for lead, onset, offset in zip("ABCDE", [170, 175, 180, 185, 190], [220, 230, 240, 250, 260])
    }
    # quantile 0: earliest onset to latest offset = 90 samples = 180 ms at 500 Hz
    assert intervals.global_qrs_ms(waves_by_lead, 500.0, quantile=0.0) == pytest.approx(180.0)
    # quantile 0.5: median onset to median offset = 60 samples
    assert intervals.global_qrs_ms(waves_by_lead, 500.0, quantile=0.5) == pytest.approx(120.0)


def test_qrs_combine_median_is_not_wider_than_global():
    signal = gaussian_ecg()
    global_ms = intervals.measure_intervals(signal, FS_HZ, LEADS)["qrs_ms"]
    median_ms = intervals.measure_intervals(signal, FS_HZ, LEADS, qrs_combine="median")["qrs_ms"]
    assert median_ms <= global_ms + 1e-9
    with pytest.raises(ValueError, match="qrs_combine"):
        intervals.measure_intervals(signal, FS_HZ, LEADS, qrs_combine="mean")


def test_simulator_ground_truth_is_recovered_on_sinus_rhythms():
    """12-lead simulated sinus ECGs (SR, SB, ST) with exact ground truth, at 25 dB SNR."""
    from ecglib.data import simulated

    sim = simulated.simulate("sim-chapman", 40, seed=3, class_balance="uniform", snr_db=25)
    examples = sim.labelled
    sinus = np.isin(np.asarray(examples.target_names)[examples.targets], ["SR", "SB", "ST"])
    assert sinus.sum() >= 8
    measured = intervals.measure_batch(examples.signals_mv[sinus], examples.fs_hz, examples.lead_names)
    truth = sim.intervals[sinus].reset_index(drop=True)
    median_abs_error = {
        k: float(np.nanmedian(np.abs(measured[k].to_numpy() - truth[k].to_numpy())))
        for k in ("hr_bpm", "pr_ms", "qrs_ms", "qt_ms")
    }
    assert measured[["hr_bpm", "pr_ms", "qrs_ms", "qt_ms"]].notna().all().all()
    assert median_abs_error["hr_bpm"] < 2.0
    assert median_abs_error["pr_ms"] < 25.0
    assert median_abs_error["qrs_ms"] < 30.0
    assert median_abs_error["qt_ms"] < 60.0


# --------------------------------------------------------------------------- definitions and the P-wave check


def test_global_intervals_span_the_leads_per_beat():
    """Two leads, two beats; lead B's QRS starts earlier and its T ends later (samples at 500 Hz)."""

    def lead(qrs_onset, qrs_offset, t_offset, p_onset=100):
        rows = []
        for shift in (0, 500):
            rows += [
                {"wave": "P", "onset": p_onset + shift, "peak": 120 + shift, "offset": 150 + shift},
                {
                    "wave": "QRS",
                    "onset": qrs_onset + shift,
                    "peak": 200 + shift,
                    "offset": qrs_offset + shift,
                },
                {"wave": "T", "onset": 330 + shift, "peak": 380 + shift, "offset": t_offset + shift},
            ]
        return pd.DataFrame(rows)

    waves = {"A": lead(180, 230, 430), "B": lead(175, 240, 440, p_onset=95)}
    values = intervals.global_intervals(waves, 500.0)
    assert values["qrs_ms"] == pytest.approx((240 - 175) * 2.0)  # earliest onset to latest offset
    assert values["qt_ms"] == pytest.approx((440 - 175) * 2.0)
    assert values["pr_ms"] == pytest.approx((175 - 95) * 2.0)
    assert values["hr_bpm"] == pytest.approx(60.0) and values["n_beats"] == 2
    # the median definition is narrower: median over leads of per-lead values
    per_lead = {name: intervals.intervals_from_waves(table, 500.0) for name, table in waves.items()}
    assert intervals.combine_leads(per_lead)["qrs_ms"] == pytest.approx((50 + 65) / 2 * 2.0)
    # without any P wave, PR is NaN
    no_p = {name: table[table["wave"] != "P"] for name, table in waves.items()}
    assert np.isnan(intervals.global_intervals(no_p, 500.0)["pr_ms"])


def test_group_beats_merges_overlapping_complexes_across_leads():
    # lead 2 marks the first beat's "peak" 60 samples after lead 1's; its bounds overlap: one beat
    onsets = np.array([180.0, 185.0, 680.0, np.nan, 1180.0])
    peaks = np.array([200.0, 260.0, 700.0, 705.0, 1200.0])
    offsets = np.array([230.0, 280.0, 730.0, np.nan, 1230.0])
    assert list(intervals.group_beats(onsets, peaks, offsets, 500.0)) == [0, 0, 1, 1, 2]


def test_definition_median_vs_global_on_gaussian_ecg():
    signal = gaussian_ecg()
    global_values = intervals.measure_intervals(signal, FS_HZ, LEADS)
    median_values = intervals.measure_intervals(signal, FS_HZ, LEADS, definition="median")
    assert global_values["definition"] == "global" and median_values["definition"] == "median"
    assert median_values["qrs_ms"] <= global_values["qrs_ms"] + 1e-9
    assert median_values["qt_ms"] == pytest.approx(427.5, abs=25)
    with pytest.raises(ValueError, match="definition"):
        intervals.measure_intervals(signal, FS_HZ, LEADS, definition="muse")


def test_sinus_rhythm_keeps_pr_and_caller_can_drop_it():
    measured = intervals.measure_intervals(gaussian_ecg(noise_mv=0.01), FS_HZ, LEADS)
    assert measured["p_waves"] and np.isfinite(measured["pr_ms"])
    assert measured["atrial_correlation"] > 0.95
    told = intervals.measure_intervals(gaussian_ecg(), FS_HZ, LEADS, has_p_waves=False)
    assert np.isnan(told["pr_ms"]) and "has_p_waves=False" in told["reason"]
    assert np.isfinite(told["qrs_ms"]) and np.isfinite(told["qt_ms"])


def test_pr_is_nan_on_simulated_atrial_fibrillation():
    """Simulated AF (irregular RR, f waves, no P) gives no PR; the simulated sinus ECGs do."""
    from ecglib.data import simulated

    sim = simulated.simulate("sim-chapman", 60, seed=5, class_balance="uniform", snr_db=25)
    examples = sim.labelled
    names = np.asarray(examples.target_names)[examples.targets]
    afib = np.flatnonzero(names == "AFIB")[:4]
    sinus = np.flatnonzero(np.isin(names, ["SR", "SB"]))[:4]
    assert len(afib) >= 2 and len(sinus) >= 2
    assert sim.intervals.loc[afib, "pr_ms"].isna().all()  # the simulator's own ground truth
    measured = intervals.measure_batch(
        examples.signals_mv[np.r_[afib, sinus]], examples.fs_hz, examples.lead_names
    )
    on_af, on_sinus = measured.iloc[: len(afib)], measured.iloc[len(afib) :]
    assert on_af["pr_ms"].isna().all(), on_af[["pr_ms", "atrial_correlation", "pr_iqr_ms"]]
    assert on_af["reason"].str.contains("no consistent P waves").all()
    assert on_af["qrs_ms"].notna().all()
    assert on_sinus["pr_ms"].notna().all(), on_sinus[["pr_ms", "atrial_correlation", "pr_iqr_ms"]]


@pytest.mark.real_data
def test_pr_is_nan_on_a_real_ludb_atrial_fibrillation_record():
    """LUDB record 51: atrial fibrillation, no P wave marked by the cardiologists; record 1: sinus."""
    from ecglib.data import DataMissingError, ludb

    try:
        af_record, sinus_record = ludb.load_record("51"), ludb.load_record("1")
    except DataMissingError as error:
        pytest.skip(f"LUDB not found ({error}); set $ECGLIB_DATA")
    assert af_record.meta["rhythm"] == "Atrial fibrillation"
    assert not (ludb.load_delineation("51", "II")["wave"] == "P").any()
    af = intervals.measure_intervals(af_record.signal_mv, af_record.fs_hz, af_record.lead_names)
    assert np.isnan(af["pr_ms"]) and "no consistent P waves" in af["reason"]
    assert np.isfinite(af["qrs_ms"]) and np.isfinite(af["qt_ms"]) and np.isfinite(af["hr_bpm"])
    sinus = intervals.measure_intervals(sinus_record.signal_mv, sinus_record.fs_hz, sinus_record.lead_names)
    assert sinus["p_waves"] and 100 < sinus["pr_ms"] < 300


def test_both_definitions_are_returned_side_by_side():
    signal = gaussian_ecg()
    measured = intervals.measure_intervals(signal, FS_HZ, LEADS)
    median = intervals.measure_intervals(signal, FS_HZ, LEADS, definition="median")
    for name in ("pr_ms", "qrs_ms", "qt_ms"):
        assert measured[f"{name}_global"] == pytest.approx(measured[name])
        assert measured[f"{name}_median"] == pytest.approx(median[name])
