"""preprocess.prepare_fixed_length: 100 Hz x 10 s inputs of Nguyen & Do 2025, with the authors'
decimation and min-max as labelled options."""

import numpy as np
import pytest

from ecglib.preprocess import prepare_fixed_length


def _tone_mv(frequency_hz: float, fs_hz: float, duration_s: float, n_leads: int = 2, amplitude_mv=1.0):
    time_s = np.arange(int(round(duration_s * fs_hz))) / fs_hz
    return np.repeat((amplitude_mv * np.sin(2 * np.pi * frequency_hz * time_s))[:, None], n_leads, axis=1)


def _amplitude_at(signal_1d: np.ndarray, frequency_hz: float, fs_hz: float) -> float:
    """Amplitude (mV) of the ``frequency_hz`` component, from a Hann-windowed spectrum."""
    window = np.hanning(len(signal_1d))
    spectrum = np.abs(np.fft.rfft(signal_1d * window)) * 2 / window.sum()
    freqs = np.fft.rfftfreq(len(signal_1d), 1 / fs_hz)
    return float(spectrum[np.argmin(np.abs(freqs - frequency_hz))])


@pytest.mark.parametrize("resampling", ["anti_aliased", "decimate_as_in_code"])
def test_a_10_hz_sine_survives_500_to_100_hz(resampling):
    signals, kept, counts = prepare_fixed_length([_tone_mv(10, 500, 10)], 500, resampling=resampling)
    assert signals.shape == (1, 1000, 2) and signals.dtype == np.float32
    expected = _tone_mv(10, 100, 10)
    np.testing.assert_allclose(signals[0, 50:950], expected[50:950], atol=0.02)
    assert _amplitude_at(signals[0, :, 0], 10, 100) == pytest.approx(1.0, abs=0.02)
    assert counts == {"n_records": 1, "n_kept": 1, "n_cropped": 0, "n_exact": 1, "n_dropped_short": 0}


def test_decimation_aliases_a_70_hz_tone_and_resampling_removes_it():
    record = _tone_mv(10, 500, 10, amplitude_mv=0.5) + _tone_mv(70, 500, 10, amplitude_mv=1.0)
    decimated, _, _ = prepare_fixed_length([record], 500, resampling="decimate_as_in_code")
    resampled, _, _ = prepare_fixed_length([record], 500, resampling="anti_aliased")
    # 70 Hz sampled at 100 Hz folds to |70 - 100| = 30 Hz at full amplitude
    assert _amplitude_at(decimated[0, :, 0], 30, 100) == pytest.approx(1.0, abs=0.05)
    assert _amplitude_at(resampled[0, :, 0], 30, 100) < 0.01
    for signals in (decimated, resampled):  # the 10 Hz component is kept by both
        assert _amplitude_at(signals[0, :, 0], 10, 100) == pytest.approx(0.5, abs=0.02)


def test_longer_records_are_cropped_shorter_dropped_and_counted():
    records = [
        _tone_mv(5, 500, 12),  # cropped to its first 10 s
        _tone_mv(5, 500, 10),
        _tone_mv(5, 500, 9.98),  # 998 samples at 100 Hz: dropped
        _tone_mv(5, 500, 60),
    ]
    signals, kept, counts = prepare_fixed_length(records, 500)
    assert signals.shape == (3, 1000, 2) and kept.tolist() == [0, 1, 3]
    assert counts == {"n_records": 4, "n_kept": 3, "n_cropped": 2, "n_exact": 1, "n_dropped_short": 1}
    np.testing.assert_allclose(signals[0], signals[1], atol=0.01)  # the first 10 s are kept
    ptb, _, _ = prepare_fixed_length(
        [_tone_mv(5, 1000, 32, n_leads=12)], 1000, resampling="decimate_as_in_code"
    )
    assert ptb.shape == (1, 1000, 12)  # PTB: [::10]


def test_normalisations():
    record = _tone_mv(3, 500, 10) * np.array([[2.0, 0.1]]) + np.array([[0.5, -1.0]])
    plain, _, _ = prepare_fixed_length([record], 500)
    assert plain[0, :, 0].max() == pytest.approx(2.5, abs=0.02)  # still mV: the paper states none
    scaled, _, _ = prepare_fixed_length([record], 500, normalisation="minmax_per_lead_as_in_code")
    np.testing.assert_allclose(scaled[0].min(axis=0), [-1, -1], atol=1e-6)
    np.testing.assert_allclose(scaled[0].max(axis=0), [1, 1], atol=1e-6)
    standard, _, _ = prepare_fixed_length([record], 500, normalisation="zscore_per_lead")
    np.testing.assert_allclose(standard[0].mean(axis=0), [0, 0], atol=1e-5)
    np.testing.assert_allclose(standard[0].std(axis=0), [1, 1], atol=1e-4)


def test_bad_options_and_shapes_raise_clearly():
    record = _tone_mv(5, 500, 10)
    with pytest.raises(ValueError, match="integer ratio"):
        prepare_fixed_length([record], 500, fs_out_hz=300, resampling="decimate_as_in_code")
    with pytest.raises(ValueError, match="resampling must be one of"):
        prepare_fixed_length([record], 500, resampling="slice")
    with pytest.raises(ValueError, match="normalisation must be one of"):
        prepare_fixed_length([record], 500, normalisation="minmax")
    with pytest.raises(ValueError, match="record 1: 3 leads, earlier records have 2"):
        prepare_fixed_length([record, _tone_mv(5, 500, 10, n_leads=3)], 500)
    empty, kept, counts = prepare_fixed_length([_tone_mv(5, 500, 2)], 500)
    assert empty.shape == (0, 1000, 2) and len(kept) == 0 and counts["n_dropped_short"] == 1


def test_code_test_zero_padding_is_stripped_so_7_s_exams_are_dropped():
    from ecglib.data import code_test

    tracings = np.zeros((2, 4096, 12), np.float32)
    tracings[0, 48:4048] = 0.3  # a 10 s exam at 400 Hz, padded 48 samples each side
    tracings[1, 648:3448] = 0.3  # a 7 s exam, padded 648 each side
    recorded = code_test.strip_zero_padding(tracings)
    assert [len(r) for r in recorded] == [4000, 2800]
    padded, _, padded_counts = prepare_fixed_length(tracings, 400)
    assert padded_counts["n_kept"] == 2  # padding hides the short exam
    signals, kept, counts = prepare_fixed_length(recorded, 400)
    assert kept.tolist() == [0] and counts["n_dropped_short"] == 1 and signals.shape == (1, 1000, 12)
    assert code_test.strip_zero_padding(np.zeros((1, 10, 12)))[0].shape == (0, 12)
