"""Windowing and beat segmentation: synthetic unit tests and checks on real MIT-BIH records."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ecglib.data
from ecglib import segment
from ecglib.data import mitbih

FS_HZ = 360


@pytest.fixture(scope="module")
def mitbih_root():
    root = ecglib.data.data_root()
    folder = ecglib.data.dataset_folder("mitbih", root)
    if not (folder / "RECORDS").is_file():
        pytest.skip(f"MIT-BIH not found under {folder} (set $ECGLIB_DATA to a data root holding mitdb/)")
    return root


# ---------------------------------------------------------------- fixed windows (synthetic)


def test_fixed_windows_labels_and_exclusions():
    signal = np.arange(1000, dtype=np.float32)
    beats = np.array([10, 50, 150, 420, 480, 700])
    symbols = np.array(["N", "N", "N", "V", "N", "L"])
    windows = segment.fixed_windows(signal, beats, symbols, window_samples=100)
    # windows: [0,100) N N -> 0; [100,200) N -> 0; [200..400) none -> excluded x2;
    # [400,500) V N -> 1; [500,600) none; [600,700) none (700 belongs to next); [700,800) L -> 1 (L abnormal by default)
    assert windows.start_samples.tolist() == [0, 100, 400, 700]
    assert windows.labels.tolist() == [0, 0, 1, 1]
    assert windows.labels.dtype == np.int64
    assert windows.exclusions == {"no_beat_annotation": 6, "incomplete_tail": 0}
    assert windows.signals.shape == (4, 100)
    np.testing.assert_array_equal(windows.signals[2], signal[400:500])


def test_fixed_windows_normal_labels_parameter():
    signal = np.zeros(300)
    beats, symbols = np.array([50, 150, 250]), np.array(["N", "L", "R"])
    default = segment.fixed_windows(signal, beats, symbols, window_samples=100)
    aami = segment.fixed_windows(
        signal, beats, symbols, window_samples=100, normal_labels=segment.AAMI_NORMAL_SYMBOLS
    )
    assert default.labels.tolist() == [0, 1, 1]
    assert aami.labels.tolist() == [0, 0, 0]


def test_fixed_windows_multilead_tail_and_unsorted_beats():
    signal = np.random.default_rng(0).normal(size=(250, 2))
    windows = segment.fixed_windows(signal, [120, 30], ["V", "N"], window_samples=100)
    assert windows.signals.shape == (2, 100, 2)
    assert windows.labels.tolist() == [0, 1]
    assert windows.exclusions["incomplete_tail"] == 1
    np.testing.assert_array_equal(windows.signals[1], signal[100:200])


def test_fixed_windows_rejects_mismatched_beats():
    with pytest.raises(ValueError, match="equal length"):
        segment.fixed_windows(np.zeros(100), [1, 2], ["N"], window_samples=10)


# ---------------------------------------------------------------- Kachuee beats (synthetic)


def _pulse_train(rr_s: float, duration_s: float, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    time_s = np.arange(int(duration_s * fs_hz)) / fs_hz
    peaks_s = np.arange(0.3, duration_s - 0.1, rr_s)
    signal = sum(np.exp(-0.5 * ((time_s - peak) / 0.01) ** 2) for peak in peaks_s)
    return signal.astype(np.float32), np.round(peaks_s * fs_hz).astype(int)


def test_kachuee_beats_length_padding_and_range():
    signal, peaks = _pulse_train(rr_s=0.8, duration_s=30.0, fs_hz=FS_HZ)
    labels = np.array(["N"] * len(peaks))
    labels[5] = "V"
    beats = segment.kachuee_beats(signal, FS_HZ, peaks, labels)
    assert beats.fs_hz == 125 and beats.signals.shape[1] == 187
    # median RR 0.8 s = 100 samples at 125 Hz -> 1.2 T = 120 samples, then zeros
    window_end = (beats.r_samples // 1250 + 1) * 1250
    np.testing.assert_array_equal(beats.lengths, np.minimum(120, window_end - beats.r_samples))
    full = beats.lengths == 120
    assert full.sum() > len(beats) // 2
    assert np.all(beats.signals[full][:, 120:] == 0)
    assert beats.signals.min() >= 0 and beats.signals.max() <= 1
    # each beat starts at its R peak: the window maximum (1 after min-max)
    assert np.all(beats.signals[:, 0] > 0.9)
    assert (beats.labels == "V").sum() == 1
    assert len(beats) + sum(beats.exclusions.values()) == len(peaks)


def test_kachuee_beats_cut_to_187_for_slow_rhythm_and_single_beat_windows_excluded():
    signal, peaks = _pulse_train(rr_s=1.5, duration_s=20.0, fs_hz=FS_HZ)  # 40 bpm: 1.2 T = 225 > 187
    beats = segment.kachuee_beats(signal, FS_HZ, peaks, np.array(["N"] * len(peaks)))
    assert beats.signals.shape[1] == 187 and beats.lengths.max() == 187
    one_beat = segment.kachuee_beats(signal, FS_HZ, peaks[:1], np.array(["N"]))
    assert len(one_beat) == 0 and one_beat.exclusions["window_with_one_beat"] == 1


def test_kachuee_r_peak_detector_finds_pulses():
    signal, peaks = _pulse_train(rr_s=1.0, duration_s=10.0, fs_hz=125)
    window_01 = (signal - signal.min()) / (signal.max() - signal.min())
    detected = segment.kachuee_r_peaks(window_01)
    np.testing.assert_allclose(detected, peaks, atol=1)


# ---------------------------------------------------------------- rhythm windows (synthetic)


def test_rhythm_windows_stay_inside_intervals():
    signal = np.arange(100)
    rhythms = pd.DataFrame(
        {"start_sample": [0, 25, 32], "end_sample": [25, 32, 100], "rhythm": ["N", "VT", "AFIB"]}
    )
    windows = segment.rhythm_windows(signal, rhythms, window_samples=10)
    assert windows.start_samples.tolist() == [0, 10, 32, 42, 52, 62, 72, 82]
    assert windows.labels.tolist() == ["N", "N"] + ["AFIB"] * 6
    assert windows.exclusions == {"interval_shorter_than_window": 1, "rhythm_not_selected": 0}
    only_afib = segment.rhythm_windows(signal, rhythms, window_samples=10, rhythm_labels=("AFIB",))
    assert set(only_afib.labels) == {"AFIB"} and only_afib.exclusions["rhythm_not_selected"] == 2
    overlapping = segment.rhythm_windows(signal, rhythms, window_samples=10, stride_samples=5)
    assert overlapping.start_samples[:3].tolist() == [0, 5, 10]


# ---------------------------------------------------------------- real MIT-BIH records


def _windows_of(record_id, root, **kwargs):
    record = mitbih.load_record(record_id, root)
    annotations = mitbih.load_annotations(record_id, root)
    mlii = record.signal_mv[:, mitbih.lead_index(record, "MLII")]
    windows = segment.fixed_windows(
        mlii, annotations.beat_samples, annotations.beat_symbols, window_samples=FS_HZ, **kwargs
    )
    return mlii, annotations, windows


@pytest.mark.real_data
def test_real_windows_one_v_beat_is_abnormal_only_n_is_normal(mitbih_root):
    mlii, annotations, windows = _windows_of("208", mitbih_root)
    window_of_beat = annotations.beat_samples // FS_HZ
    symbols_by_window: dict[int, list[str]] = {}
    for window_index, symbol in zip(window_of_beat, annotations.beat_symbols):
        if window_index >= len(mlii) // FS_HZ:
            continue  # incomplete tail window
        symbols_by_window.setdefault(int(window_index), []).append(str(symbol))
    one_v = [
        w
        for w, symbols in symbols_by_window.items()
        if sorted(symbols).count("V") == 1 and set(symbols) <= {"N", "V"}
    ]
    only_n = [w for w, symbols in symbols_by_window.items() if set(symbols) == {"N"}]
    assert one_v and only_n
    label_at = dict(zip((windows.start_samples // FS_HZ).tolist(), windows.labels.tolist()))
    assert all(label_at[w] == 1 for w in one_v)
    assert all(label_at[w] == 0 for w in only_n)
    index = int(np.flatnonzero(windows.start_samples == one_v[0] * FS_HZ)[0])
    np.testing.assert_array_equal(windows.signals[index], mlii[one_v[0] * FS_HZ : (one_v[0] + 1) * FS_HZ])


@pytest.mark.real_data
def test_real_window_without_beat_is_excluded(mitbih_root):
    mlii, annotations, windows = _windows_of("119", mitbih_root)
    n_windows = len(mlii) // FS_HZ
    with_beat = set((annotations.beat_samples // FS_HZ).tolist())
    empty = sorted(set(range(n_windows)) - with_beat)
    assert empty, "record 119 has 1 s stretches without a beat annotation (noise)"
    assert windows.exclusions["no_beat_annotation"] == len(empty)
    assert not set(empty) & set((windows.start_samples // FS_HZ).tolist())
    assert len(windows) == n_windows - len(empty)


@pytest.mark.real_data
def test_real_bundle_branch_record_depends_on_normal_labels(mitbih_root):
    # record 212 holds only N and R beats: abnormal windows exist only when R is abnormal
    _, _, default = _windows_of("212", mitbih_root)
    _, _, aami = _windows_of("212", mitbih_root, normal_labels=segment.AAMI_NORMAL_SYMBOLS)
    assert 0.3 < default.labels.mean() < 0.9
    assert aami.labels.sum() == 0


@pytest.mark.real_data
def test_real_kachuee_beats_record_100(mitbih_root):
    record = mitbih.load_record("100", mitbih_root)
    annotations = mitbih.load_annotations("100", mitbih_root)
    beats = segment.kachuee_beats(
        record.signal_mv[:, 0], record.fs_hz, annotations.beat_samples, annotations.beat_classes
    )
    assert beats.signals.shape[1] == 187 and beats.signals.dtype == np.float32
    assert len(beats) + sum(beats.exclusions.values()) == len(annotations.beat_samples)
    assert len(beats) > 2200
    # beats start at the R peak: high after the window min-max
    assert np.median(beats.signals[:, 0]) > 0.6
    # record 100 at ~76 bpm: 1.2 x RR is about 118 samples at 125 Hz
    assert 100 < np.median(beats.lengths) < 135
    assert set(beats.labels) == {"N", "S", "V"}


@pytest.mark.real_data
def test_real_rhythm_windows_record_203(mitbih_root):
    record = mitbih.load_record("203", mitbih_root)
    rhythms = mitbih.load_annotations("203", mitbih_root).rhythms
    windows = segment.rhythm_windows(record.signal_mv, rhythms, window_samples=10 * FS_HZ)
    assert windows.signals.shape[1:] == (3600, 2)
    assert {"AFIB"} <= set(windows.labels)
    for start, label in zip(windows.start_samples, windows.labels):
        inside = rhythms[(rhythms.start_sample <= start) & (rhythms.end_sample >= start + 3600)]
        assert inside["rhythm"].tolist() == [label]


def test_tiles_cut_from_the_start_and_drop_the_tail():
    signal = np.arange(25, dtype=np.float32)
    cut = segment.tiles(signal, window_samples=10)
    np.testing.assert_array_equal(cut.signals, signal[:20].reshape(2, 10))
    np.testing.assert_array_equal(cut.start_samples, [0, 10])
    assert cut.exclusions == {"incomplete_tail": 1} and len(cut) == 2
    two_leads = segment.tiles(np.ones((20, 2)), window_samples=10)
    assert two_leads.signals.shape == (2, 10, 2) and two_leads.exclusions == {"incomplete_tail": 0}
    with pytest.raises(ValueError, match="window_samples"):
        segment.tiles(signal, window_samples=0)


def test_scaled_beat_windows_is_bandpass_minmax_then_fixed_windows_then_resampling():
    from ecglib import preprocess

    rng = np.random.default_rng(3)
    signal_mv = np.cumsum(rng.normal(size=FS_HZ * 12)).astype(np.float32) * 0.01
    beats = np.arange(100, FS_HZ * 12, 300)
    symbols = np.where(np.arange(len(beats)) % 5 == 0, "V", "N")
    cut = segment.scaled_beat_windows(signal_mv, FS_HZ, beats, symbols, window_s=1.0, window_samples_out=128)
    scaled = preprocess.bandpass_minmax(signal_mv, FS_HZ)
    plain = segment.fixed_windows(scaled, beats, symbols, window_samples=FS_HZ)
    np.testing.assert_array_equal(cut.labels, plain.labels)
    np.testing.assert_array_equal(cut.start_samples, plain.start_samples)
    np.testing.assert_array_equal(cut.signals, preprocess.resample_windows(plain.signals, 128))
    assert cut.signals.shape == (len(plain), 128) and cut.exclusions == plain.exclusions
