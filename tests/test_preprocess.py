"""Filters, resampling, cropping, normalisation and lead derivation on small synthetic signals."""

from __future__ import annotations

import numpy as np
import pytest

from ecglib import preprocess
from ecglib.errors import DataFormatError, LeadMissingError


def _sine(freq_hz: float, fs_hz: float, duration_s: float, amplitude_mv: float = 1.0) -> np.ndarray:
    time_s = np.arange(int(round(duration_s * fs_hz))) / fs_hz
    return amplitude_mv * np.sin(2 * np.pi * freq_hz * time_s)


def _amplitude_at(signal: np.ndarray, fs_hz: float, freq_hz: float) -> float:
    """Amplitude of the ``freq_hz`` component (exact bin for integer cycles)."""
    spectrum = np.fft.rfft(signal) / len(signal) * 2
    freqs = np.fft.rfftfreq(len(signal), 1 / fs_hz)
    return float(np.abs(spectrum[np.argmin(np.abs(freqs - freq_hz))]))


def test_resample_halves_length_keeps_10hz_removes_200hz():
    fs_in, fs_out = 500, 250
    signal = np.stack([_sine(10, fs_in, 10) + 0.5 * _sine(200, fs_in, 10), _sine(10, fs_in, 10)], axis=1)
    resampled = preprocess.resample(signal, fs_in, fs_out)
    assert resampled.shape == (2500, 2) and resampled.dtype == np.float32
    middle = slice(250, -250)  # away from edge effects
    expected = _sine(10, fs_out, 10)
    np.testing.assert_allclose(resampled[middle, 0], expected[middle], atol=0.02)
    # 200 Hz lies above the new Nyquist (125 Hz): removed, not aliased to 50 Hz
    assert _amplitude_at(resampled[:, 0], fs_out, 50) < 0.01
    # plain decimation would alias it
    assert _amplitude_at(signal[::2, 0], fs_out, 50) > 0.4


def test_resample_mitbih_to_kachuee_rate():
    signal = _sine(5, 360, 10)
    resampled = preprocess.resample(signal, 360, 125)
    assert resampled.shape == (1250,)
    assert _amplitude_at(resampled, 125, 5) == pytest.approx(1.0, abs=0.02)
    with pytest.raises(ValueError):
        preprocess.resample(signal, 360, 0)


def test_bandpass_keeps_in_band_and_removes_baseline_and_high_frequency():
    fs_hz = 360
    in_band = _sine(10, fs_hz, 20)
    wander = 2.0 * _sine(0.1, fs_hz, 20)
    noise = 0.5 * _sine(60, fs_hz, 20)
    filtered = preprocess.bandpass(in_band + wander + noise, fs_hz, 0.4, 30, order=3)
    middle = slice(fs_hz * 5, -fs_hz * 5)
    np.testing.assert_allclose(filtered[middle], in_band[middle], atol=0.05)
    # zero phase: peaks do not move
    assert np.argmax(filtered[middle][:36]) == np.argmax(in_band[middle][:36])
    with pytest.raises(ValueError, match="fs_hz/2"):
        preprocess.bandpass(in_band, fs_hz, 0.4, 200)


def test_remove_baseline_and_lowpass():
    fs_hz = 500
    ecg_like = _sine(5, fs_hz, 20)
    wander = 1.5 * _sine(0.05, fs_hz, 20) + 0.7
    cleaned = preprocess.remove_baseline(np.stack([ecg_like + wander] * 3, axis=1), fs_hz, cutoff_hz=0.5)
    middle = slice(fs_hz * 5, -fs_hz * 5)
    np.testing.assert_allclose(cleaned[middle, 2], ecg_like[middle], atol=0.05)
    smooth = preprocess.lowpass(ecg_like + 0.3 * _sine(100, fs_hz, 20), fs_hz, 40)
    np.testing.assert_allclose(smooth[middle], ecg_like[middle], atol=0.02)


def test_crop_or_pad():
    signal = np.arange(10).reshape(5, 2)
    assert preprocess.crop_or_pad(signal, 3).tolist() == [[0, 1], [2, 3], [4, 5]]
    assert preprocess.crop_or_pad(signal, 3, where="center").tolist() == [[2, 3], [4, 5], [6, 7]]
    padded = preprocess.crop_or_pad(signal, 8, where="center")
    assert padded.shape == (8, 2) and padded[:1].sum() == 0 and padded[1:6].tolist() == signal.tolist()
    assert preprocess.crop_or_pad(np.ones(3), 5).tolist() == [1, 1, 1, 0, 0]
    with pytest.raises(ValueError, match="where"):
        preprocess.crop_or_pad(signal, 3, where="start")


def test_zscore_and_minmax():
    rng = np.random.default_rng(0)
    x = rng.normal(3, 2, size=(1000, 3))
    z = preprocess.zscore(x, axis=0)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-4)
    scaled = preprocess.minmax(x, 0, 2, axis=0)  # Vavekanand's range
    np.testing.assert_allclose(scaled.min(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(scaled.max(axis=0), 2, atol=1e-6)
    assert np.all(preprocess.minmax(np.ones(5)) == 0)
    assert np.all(np.isfinite(preprocess.zscore(np.ones(5))))
    per_window = preprocess.minmax(x.T, axis=1)  # (n_windows, n_samples)
    np.testing.assert_allclose(per_window.max(axis=1), 1, atol=1e-6)


def test_leads_8_to_12_einthoven_and_round_trip():
    rng = np.random.default_rng(1)
    eight = rng.normal(size=(500, 8)).astype(np.float32)
    twelve = preprocess.leads_8_to_12(eight)
    assert twelve.shape == (500, 12) and twelve.dtype == np.float32
    lead = {name: twelve[:, i] for i, name in enumerate(preprocess.LEADS_12)}
    # Einthoven: I + III = II; Goldberger: aVR + aVL + aVF = 0
    np.testing.assert_allclose(lead["I"] + lead["III"], lead["II"], atol=1e-6)
    np.testing.assert_allclose(lead["aVR"] + lead["aVL"] + lead["aVF"], 0, atol=1e-5)
    np.testing.assert_allclose(lead["aVL"], (lead["I"] - lead["III"]) / 2, atol=1e-6)
    np.testing.assert_array_equal(preprocess.leads_12_to_8(twelve), eight)
    batch = rng.normal(size=(4, 100, 8))
    assert preprocess.leads_8_to_12(batch).shape == (4, 100, 12)
    with pytest.raises(ValueError, match="8 leads"):
        preprocess.leads_8_to_12(twelve)


def test_select_leads():
    twelve = np.arange(24).reshape(2, 12)
    assert preprocess.select_leads(twelve, preprocess.LEADS_12, ["V1", "I"]).tolist() == [[6, 0], [18, 12]]
    with pytest.raises(KeyError, match="V7"):
        preprocess.select_leads(twelve, preprocess.LEADS_12, ["V7"])


def test_check_signal_names_source_and_problem():
    good = np.zeros((5000, 12), dtype=np.float32)
    assert preprocess.check_signal(good, 500, expected_fs_hz=500, expected_n_leads=12) is good
    bad = good.copy()
    bad[3, 4] = np.nan
    with pytest.raises(DataFormatError, match=r"rec\.csv: 1 NaN"):
        preprocess.check_signal(bad, 500, source="rec.csv")
    with pytest.raises(DataFormatError, match="sampling rate 250 Hz, expected 500"):
        preprocess.check_signal(good, 250, expected_fs_hz=500, source="rec.csv")
    with pytest.raises(DataFormatError, match="12 leads, expected 8"):
        preprocess.check_signal(good, 500, expected_n_leads=8, source="rec.csv")
    with pytest.raises(DataFormatError, match="5000 samples, expected 2500"):
        preprocess.check_signal(good, 500, expected_n_samples=2500, source="rec.csv")
    with pytest.raises(DataFormatError, match="shape"):
        preprocess.check_signal(np.zeros(10), 500, source="rec.csv")


# --- chains shared by studies ---------------------------------------------------------------


def test_resample_windows_to_128_samples_keeps_a_slow_wave():
    t_s = np.arange(360) / 360.0
    windows = np.stack([np.sin(2 * np.pi * 3 * t_s), np.cos(2 * np.pi * 2 * t_s)]).astype(np.float32)
    for method in ("polyphase", "fft"):
        out = preprocess.resample_windows(windows, 128, method=method)
        assert out.shape == (2, 128) and out.dtype == np.float32
        t_out = np.arange(128) / 128.0
        np.testing.assert_allclose(out[0, 10:-10], np.sin(2 * np.pi * 3 * t_out)[10:-10], atol=0.05)
    assert preprocess.resample_windows(np.zeros((0, 360)), 128).shape == (0, 128)
    with pytest.raises(ValueError, match="method"):
        preprocess.resample_windows(windows, 128, method="linear")


def test_bandpass_minmax_scales_the_record_to_the_range():
    fs_hz = 360.0
    t_s = np.arange(3600) / fs_hz
    signal_mv = 3.0 + 0.2 * t_s + np.sin(2 * np.pi * 5 * t_s)  # offset, drift, a 5 Hz wave
    out = preprocess.bandpass_minmax(signal_mv, fs_hz, band_hz=(0.4, 30.0), normalise_range=(0.0, 2.0))
    assert out.dtype == np.float32 and out.min() == 0.0 and out.max() == pytest.approx(2.0)
    # the offset and drift are gone: the 5 Hz wave is centred on the middle of the range
    assert abs(float(np.median(out[360:-360])) - 1.0) < 0.1


def test_fixed_length_examples_resamples_removes_baseline_and_normalises():
    fs_in = 500.0
    time_s = np.arange(5000) / fs_in
    ecg_like = np.sin(2 * np.pi * 1.2 * time_s) + 0.3 * np.sin(2 * np.pi * 8 * time_s)
    drift = 2.0 + 1.5 * np.sin(2 * np.pi * 0.05 * time_s)  # offset and slow wander
    signals = np.stack([ecg_like + drift, 2 * ecg_like])
    out = preprocess.fixed_length_examples(signals, fs_in_hz=fs_in, fs_hz=250.0, window_samples=2048)
    assert out.shape == (2, 2048, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, :, 0].mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(out[:, :, 0].std(axis=1), 1, atol=1e-3)
    # after baseline removal and z-scoring, the drifting and the clean record agree away from the edges
    middle = slice(300, 1800)
    assert np.corrcoef(out[0, middle, 0], out[1, middle, 0])[0, 1] > 0.99
    with pytest.raises(ValueError, match="normalisation"):
        preprocess.fixed_length_examples(signals, fs_in_hz=fs_in, normalisation="robust")
    assert preprocess.fixed_length_examples(np.zeros((0, 5000)), fs_in_hz=fs_in).shape == (0, 2048, 1)


def test_select_lead_exact_case_insensitive_and_fallback():
    signal_mv = np.arange(12, dtype=np.float32).reshape(4, 3)
    column, used = preprocess.select_lead(signal_mv, ("V5", "MLII", "ii"), "MLII")
    np.testing.assert_array_equal(column, signal_mv[:, 1])
    assert used == "MLII"
    assert preprocess.select_lead(signal_mv, ("V5", "MLII", "ii"), "II")[1] == "ii"
    column, used = preprocess.select_lead(signal_mv, ("V5", "V2", "V1"), "MLII", fallback="first_lead")
    np.testing.assert_array_equal(column, signal_mv[:, 0])
    assert used == "V5"
    with pytest.raises(LeadMissingError, match="record 102 has no lead 'MLII'; its leads are"):
        preprocess.select_lead(signal_mv, ("V5", "V2", "V1"), "MLII", where="record 102")
    with pytest.raises(KeyError):  # LeadMissingError is a KeyError
        preprocess.select_lead(signal_mv, ("V5", "V2", "V1"), "MLII")
    with pytest.raises(ValueError, match="one column per lead"):
        preprocess.select_lead(signal_mv, ("V5", "V2"), "V5")
    with pytest.raises(ValueError, match="fallback"):
        preprocess.select_lead(signal_mv, ("V5", "V2", "V1"), "V5", fallback="exclude")
