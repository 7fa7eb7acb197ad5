"""The ECG simulator and the sim-* data sources: determinism, shapes, units, lead identities,
noise level, and each class's defining property measured on the generated signals."""

from pathlib import Path

import numpy as np
import pytest
from scipy import signal as sps

import ecglib.data
from ecglib import simulator as sim
from ecglib.data import simulated

FS_HZ = 250.0


@pytest.fixture(scope="module")
def chapman_clean():
    """Four noise-free records of each of the 11 Chapman classes, 10 s at 250 Hz."""
    return simulated.simulate(
        "sim-chapman", 44, seed=11, fs_hz=FS_HZ, snr_db=None, class_balance="uniform", examples_per_patient=2
    )


def _class_rows(result, name):
    names = np.array(result.labelled.target_names)[result.labelled.targets]
    return np.flatnonzero(names == name)


def _detect_r_peaks(record_mv: np.ndarray, fs_hz: float) -> np.ndarray:
    """A plain QRS detector: peaks of the summed absolute slope of all leads."""
    slope = np.abs(np.diff(record_mv, axis=0)).sum(axis=1)
    smooth = np.convolve(slope, np.ones(int(0.04 * fs_hz)) / int(0.04 * fs_hz), mode="same")
    peaks, _ = sps.find_peaks(smooth, height=0.35 * np.percentile(smooth, 99.5), distance=int(0.22 * fs_hz))
    return peaks


def _measured_rate_and_cv(record_mv, fs_hz):
    rr_s = np.diff(_detect_r_peaks(record_mv, fs_hz)) / fs_hz
    return 60.0 / rr_s.mean(), rr_s.std() / rr_s.mean()


# --------------------------------------------------------------------------- basics


def test_same_seed_same_data_other_seed_other_data():
    a = simulated.simulate("sim-chapman", 6, seed=3, fs_hz=100, duration_s=4)
    b = simulated.simulate("sim-chapman", 6, seed=3, fs_hz=100, duration_s=4)
    c = simulated.simulate("sim-chapman", 6, seed=4, fs_hz=100, duration_s=4)
    assert np.array_equal(a.labelled.signals_mv, b.labelled.signals_mv)
    assert np.array_equal(a.labelled.targets, b.labelled.targets)
    assert a.beats.equals(b.beats)
    assert not np.allclose(a.labelled.signals_mv, c.labelled.signals_mv)


def test_shapes_units_and_registry(chapman_clean):
    lab = chapman_clean.labelled
    assert lab.signals_mv.shape == (44, int(10 * FS_HZ), 12) and lab.signals_mv.dtype == np.float32
    assert lab.lead_names == sim.LEAD_NAMES and lab.fs_hz == FS_HZ and lab.task == "single_label"
    assert lab.units == "mV" and lab.source == "sim-chapman"
    # millivolts: the largest QRS deflection of a record is between 0.4 and 8 mV
    peak_mv = np.abs(lab.signals_mv).max(axis=(1, 2))
    assert peak_mv.min() > 0.4 and peak_mv.max() < 8.0
    for name in ("sim-chapman", "sim-ptbxl", "sim-beats", "sim-mitbih-windows"):
        assert ecglib.data.info(name).kind == "offline"
    one_lead = simulated.load_labelled("sim-chapman", 3, seed=0, fs_hz=100, duration_s=2, leads=("II",))
    assert one_lead.signals_mv.shape == (3, 200, 1) and one_lead.lead_names == ("II",)
    with pytest.raises(ValueError, match="unknown lead"):
        simulated.load_labelled("sim-chapman", 2, seed=0, leads=("X9",))


def test_patients_share_class_and_contribute_several_examples(chapman_clean):
    lab = chapman_clean.labelled
    for patient in np.unique(lab.patient_ids):
        members = lab.patient_ids == patient
        assert members.sum() == 2
        assert len(np.unique(lab.targets[members])) == 1


def test_einthoven_and_goldberger_identities_hold_with_noise():
    lab = simulated.load_labelled("sim-ptbxl", 4, seed=2, fs_hz=200, duration_s=5, snr_db=5.0)
    x = lab.signals_mv.astype(np.float64)
    lead = {name: x[..., i] for i, name in enumerate(lab.lead_names)}
    assert np.allclose(lead["III"], lead["II"] - lead["I"], atol=1e-5)
    assert np.allclose(lead["aVR"] + lead["aVL"] + lead["aVF"], 0.0, atol=1e-5)
    assert np.allclose(lead["aVF"], lead["II"] - lead["I"] / 2, atol=1e-5)


def test_noise_reaches_requested_snr_and_has_its_components():
    rng = np.random.default_rng(0)
    n = 4
    morph = sim.sample_morphology(n, rng)
    spec = sim.RhythmSpec(np.array(["sinus"] * n), np.full(n, 70.0))
    snr_db = np.array([0.0, 6.0, 12.0, 24.0])
    out = sim.simulate_rhythms(spec, morph, fs_hz=500, duration_s=10, snr_db=snr_db, rng=rng, keep_noise=True)
    clean = out.clean_mv.astype(np.float64)
    clean -= clean.mean(axis=1, keepdims=True)
    noise = out.signals_mv.astype(np.float64) - out.clean_mv
    measured = 10 * np.log10((clean**2).mean(axis=(1, 2)) / (noise**2).mean(axis=(1, 2)))
    assert np.allclose(measured, snr_db, atol=0.2)
    # noise spectrum: baseline wander below 0.6 Hz, mains at 50/60 Hz or muscle above 20 Hz
    freqs, power = sps.welch(noise[:, :, 1], fs=500, nperseg=2048, axis=1)
    low = power[:, freqs < 0.6].sum(axis=1)
    high = power[:, freqs > 20].sum(axis=1)
    assert np.all(low + high > 0.5 * power.sum(axis=1))
    assert np.all(noise.std(axis=1) > 0)


# --------------------------------------------------------------------------- rhythm classes


def test_rates_measured_on_signals_follow_class_definitions(chapman_clean):
    lab = chapman_clean.labelled
    measured = np.array([_measured_rate_and_cv(lab.signals_mv[i], FS_HZ)[0] for i in range(len(lab))])
    truth = chapman_clean.intervals["hr_bpm"].to_numpy()
    assert np.median(np.abs(measured - truth) / truth) < 0.03
    rate = {name: measured[_class_rows(chapman_clean, name)] for name in simulated.CHAPMAN_CLASSES}
    truth_by_class = {name: truth[_class_rows(chapman_clean, name)] for name in simulated.CHAPMAN_CLASSES}
    assert np.all(truth_by_class["SB"] < 60) and np.all(rate["SB"] < 61)
    assert np.all(truth_by_class["ST"] > 100) and np.all(rate["ST"] > 99)
    assert np.all((truth_by_class["SR"] >= 60) & (truth_by_class["SR"] <= 100))
    for name in ("SVT", "AVNRT", "AVRT"):
        assert np.all(rate[name] > 120), name


def test_afib_is_irregularly_irregular_and_sinus_is_regular(chapman_clean):
    lab = chapman_clean.labelled
    cv = {
        name: np.array(
            [_measured_rate_and_cv(lab.signals_mv[i], FS_HZ)[1] for i in _class_rows(chapman_clean, name)]
        )
        for name in ("SR", "SB", "AFIB", "SA", "SVT")
    }
    assert cv["AFIB"].min() > 0.08
    assert np.median(cv["SR"]) < 0.04 and np.median(cv["SVT"]) < 0.03
    assert np.median(cv["SA"]) > np.median(cv["SR"])


def test_no_p_waves_in_afib_and_flutter(chapman_clean):
    lab, beats = chapman_clean.labelled, chapman_clean.beats
    lead_ii = lab.signals_mv[:, :, lab.lead_names.index("II")]
    for name in ("AFIB", "AF"):
        rows = beats[beats["example"].isin(_class_rows(chapman_clean, name))]
        assert not rows["has_p"].any() and (rows["p_onset"] == -1).all()
    sinus_rows = beats[beats["example"].isin(_class_rows(chapman_clean, "SR")) & (beats["kind"] == "N")]
    assert sinus_rows["has_p"].all()

    def averaged_p_wave_mv(examples):
        """Beat-averaged lead II from 250 to 40 ms before QRS onset, minus its level at -300 ms."""
        amplitudes = []
        for i in examples:
            onsets = beats.loc[
                (beats["example"] == i) & (beats["qrs_onset"] > 0.3 * FS_HZ), "qrs_onset"
            ].to_numpy()
            segments = np.stack([lead_ii[i, o - int(0.3 * FS_HZ) : o - int(0.04 * FS_HZ)] for o in onsets])
            average = segments.mean(axis=0)
            amplitudes.append(np.abs(average - average[0]).max())
        return np.array(amplitudes)

    sinus_p = averaged_p_wave_mv(_class_rows(chapman_clean, "SR"))
    afib_p = averaged_p_wave_mv(_class_rows(chapman_clean, "AFIB"))
    assert sinus_p.min() > 0.03
    assert np.median(afib_p) < 0.5 * np.median(sinus_p)

    def tq_baseline_sd_mv(examples, until, lead="II"):
        signal_mv = lab.signals_mv[:, :, lab.lead_names.index(lead)]
        sds = []
        for i in examples:
            rows = beats[beats["example"] == i].sort_values("qrs_onset")
            for (_, a), (_, b) in zip(rows.iloc[:-1].iterrows(), rows.iloc[1:].iterrows()):
                end = b[until] if until == "p_onset" else b["qrs_onset"]
                if a["t_offset"] + 0.08 * FS_HZ < end and a["t_offset"] >= 0:
                    sds.append(signal_mv[i, a["t_offset"] : end].std())
        return np.median(sds) if sds else np.nan

    # no isoelectric line: flutter waves (lead II) and f waves (best seen in V1) fill the T-to-QRS interval
    sinus_sd = tq_baseline_sd_mv(_class_rows(chapman_clean, "SB"), "p_onset")
    assert sinus_sd < 0.01
    assert tq_baseline_sd_mv(_class_rows(chapman_clean, "AF"), "qrs_onset") > 2 * sinus_sd + 0.01
    sinus_sd_v1 = tq_baseline_sd_mv(_class_rows(chapman_clean, "SB"), "p_onset", lead="V1")
    assert (
        tq_baseline_sd_mv(_class_rows(chapman_clean, "AFIB"), "qrs_onset", lead="V1")
        > 2 * sinus_sd_v1 + 0.005
    )


def test_retrograde_and_ectopic_p_waves_are_inverted_in_lead_ii():
    rng = np.random.default_rng(5)
    n = 6
    morph = sim.sample_morphology(n, rng)
    morph["t"][:] = 0.0  # a controlled experiment: no T wave, so P stands on the baseline
    spec = sim.RhythmSpec(
        np.array(["sinus", "sinus", "avrt", "avrt", "at", "at"]), np.array([70, 70, 160, 160, 130, 130.0])
    )
    out = sim.simulate_rhythms(spec, morph, fs_hz=500, duration_s=6, snr_db=None, rng=rng)
    lead_ii = out.signals_mv[:, :, 1]
    p_sign = []
    for i in range(n):
        rows = out.beats[
            (out.beats["example"] == i)
            & out.beats["has_p"]
            & (out.beats["p_onset"] >= 0)
            & (out.beats["p_offset"] < lead_ii.shape[1])
        ]
        centre = ((rows["p_onset"] + rows["p_offset"]) // 2).to_numpy()
        p_sign.append(np.median(lead_ii[i, centre]))
    assert p_sign[0] > 0 and p_sign[1] > 0
    assert p_sign[2] < 0 and p_sign[3] < 0
    # AVRT's P follows the QRS (retrograde), AT's precedes it
    avrt = out.beats[out.beats["example"] == 2]
    assert (avrt["p_onset"] > avrt["qrs_onset"]).all()
    at = out.beats[out.beats["example"] == 4]
    assert (at["p_onset"] < at["qrs_onset"]).all()


def test_interval_distributions_follow_embedded_chapman_table():
    result = simulated.simulate(
        "sim-chapman",
        120,
        seed=7,
        fs_hz=100,
        duration_s=8,
        snr_db=None,
        class_balance="uniform",
        examples_per_patient=1,
    )
    names = np.array(result.labelled.target_names)[result.labelled.targets]
    for name in ("SB", "ST", "SVT", "SR"):
        qt = result.intervals["qt_ms"].to_numpy()[names == name]
        table_median = simulated.CHAPMAN_TABLE[name]["qt_ms"][3]
        assert abs(np.median(qt) - table_median) < 40, (name, np.median(qt), table_median)
    assert 0.99 < sum(entry["prior"] for entry in simulated.CHAPMAN_TABLE.values()) < 1.01
    drawn = simulated._class_indices(
        20000,
        np.array([simulated.CHAPMAN_TABLE[c]["prior"] for c in simulated.CHAPMAN_CLASSES]),
        "prior",
        np.random.default_rng(0),
    )
    assert (
        abs(np.mean(drawn == simulated.CHAPMAN_CLASSES.index("SB")) - simulated.CHAPMAN_TABLE["SB"]["prior"])
        < 0.015
    )


@pytest.mark.real_data
def test_embedded_chapman_table_equals_one_recomputed_from_csv():
    csv = ecglib.data.data_root() / "chapman" / "Diagnostics.csv"
    if not csv.exists():
        pytest.skip(f"Chapman Diagnostics.csv not found under {csv.parent}")
    assert simulated.chapman_table_from_csv(csv) == simulated.CHAPMAN_TABLE


def test_chapman_table_from_csv_rejects_missing_columns(tmp_path: Path):
    bad = tmp_path / "Diagnostics.csv"
    bad.write_text("FileName,Rhythm\nMUSE_1,SR\n")
    with pytest.raises(ecglib.data.DataFormatError, match="Diagnostics.csv: missing column"):
        simulated.chapman_table_from_csv(bad)


# --------------------------------------------------------------------------- morphology


def _measured_qrs_ms(record_mv, r_peaks, fs_hz):
    """Width of the span around each R peak where the summed slope exceeds 15 % of its local maximum."""
    slope = np.abs(np.diff(record_mv, axis=0)).sum(axis=1)
    widths = []
    half = int(0.15 * fs_hz)
    for r in r_peaks:
        if r - half < 0 or r + half >= len(slope):
            continue
        local = slope[r - half : r + half]
        above = np.flatnonzero(local > 0.15 * local.max())
        widths.append((above[-1] - above[0]) / fs_hz * 1000)
    return np.median(widths)


def test_conduction_disease_and_ventricular_beats_have_wider_qrs():
    result = simulated.simulate(
        "sim-ptbxl", 80, seed=1, fs_hz=500, duration_s=4, snr_db=None, examples_per_patient=1
    )
    lab = result.labelled
    widths = np.array(
        [
            _measured_qrs_ms(
                lab.signals_mv[i], result.beats.loc[result.beats["example"] == i, "r_peak"].to_numpy(), 500
            )
            for i in range(len(lab))
        ]
    )
    patterns = result.meta["patterns"].to_numpy()
    bbb = np.array([("rbbb" in p) or ("lbbb" in p) for p in patterns])
    norm = lab.targets[:, 0] == 1
    assert bbb.sum() >= 2 and norm.sum() >= 10
    assert np.median(widths[bbb]) > np.median(widths[norm]) + 20
    assert (result.intervals["qrs_ms"][bbb] >= 120).all()
    # ventricular ectopic beats vs normal beats in the same records
    rng = np.random.default_rng(3)
    n = 6
    morph = sim.sample_morphology(n, rng)
    p_kind = np.zeros((n, 5))
    p_kind[:, sim.KIND_V] = 0.3
    out = sim.simulate_rhythms(
        sim.RhythmSpec(np.array(["sinus"] * n), np.full(n, 70.0), p_kind=p_kind),
        morph,
        fs_hz=500,
        duration_s=10,
        snr_db=None,
        rng=rng,
    )
    width = {}
    for kind in ("N", "V"):
        width[kind] = np.nanmedian(
            [
                _measured_qrs_ms(
                    out.signals_mv[i],
                    out.beats.loc[
                        (out.beats["example"] == i) & (out.beats["kind"] == kind), "r_peak"
                    ].to_numpy(),
                    500,
                )
                for i in range(n)
                if ((out.beats["example"] == i) & (out.beats["kind"] == kind)).sum() > 0
            ]
        )
    assert width["V"] > width["N"] + 25
    assert not out.beats.loc[out.beats["kind"] == "V", "has_p"].any()


def test_ptbxl_labels_are_consistent_multi_hot():
    result = simulated.simulate("sim-ptbxl", 60, seed=4, fs_hz=100, duration_s=2)
    targets = result.labelled.targets
    assert targets.shape == (60, 5) and result.labelled.task == "multi_label"
    assert result.labelled.target_names == ("NORM", "MI", "STTC", "CD", "HYP")
    assert (targets.sum(axis=1) >= 1).all()
    assert (targets[targets[:, 0] == 1, 1:] == 0).all(), "NORM must be exclusive"
    mi = targets[:, 1] == 1
    assert (result.meta["mi_territory"][mi] != "").all() and (result.meta["mi_territory"][~mi] == "").all()


def test_beats_in_kachuee_format():
    result = simulated.simulate("sim-beats", 40, seed=0, class_balance="uniform", examples_per_patient=4)
    lab = result.labelled
    assert lab.signals_mv.shape == (40, 187, 1) and lab.fs_hz == 125.0 and lab.units == "minmax-0-1"
    assert lab.signals_mv.min() >= 0.0 and lab.signals_mv.max() <= 1.0
    assert np.bincount(lab.targets, minlength=5).tolist() == [8] * 5
    assert (lab.signals_mv[:, -10:, 0] == 0).mean() > 0.5, "beats are zero-padded to 187 samples"
    forced = result.beats[result.beats["forced"]]
    assert forced["kind"].tolist() == [lab.target_names[t] for t in lab.targets]
    ptb = simulated.simulate("sim-beats", 20, seed=0, beat_set="ptb", class_balance="uniform")
    assert ptb.labelled.target_names == ("normal", "MI") and set(ptb.labelled.targets) == {0, 1}
    assert (ptb.meta["mi_territory"][ptb.labelled.targets == 1] != "").all()


def test_mitbih_windows_labels_match_beat_ground_truth():
    result = simulated.simulate("sim-mitbih-windows", 240, seed=2, windows_per_patient=60)
    lab = result.labelled
    assert lab.signals_mv.shape == (240, 360, 1) and lab.fs_hz == 360.0
    assert len(np.unique(lab.patient_ids)) == 4
    abnormal_windows = set(result.beats.loc[result.beats["kind"] != "N", "example"])
    assert set(np.flatnonzero(lab.targets == 1)) == abnormal_windows
    assert 0 < lab.targets.mean() < 1
