"""Tests for ecglib.images: spectrogram and GAF/MTF/RP images of ECG windows."""

import numpy as np
import pytest

from ecglib import images

FS_HZ = 250.0


def _sine_windows(freqs_hz, n_samples=2048, fs_hz=FS_HZ):
    time_s = np.arange(n_samples) / fs_hz
    return np.stack([np.sin(2 * np.pi * f * time_s) for f in freqs_hz])


def test_spectrogram_shape_dtype_and_range():
    windows = _sine_windows([5.0, 10.0, 20.0])
    out = images.spectrogram_images(windows, fs_hz=FS_HZ, image_size=224)
    assert out.shape == (3, 3, 224, 224)
    assert out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_spectrogram_grey_copies_channels():
    out = images.spectrogram_images(_sine_windows([5.0]), fs_hz=FS_HZ, image_size=32, colormap=None)
    assert out.shape == (1, 3, 32, 32)
    np.testing.assert_array_equal(out[:, 0], out[:, 1])
    np.testing.assert_array_equal(out[:, 0], out[:, 2])


def test_spectrogram_puts_a_sine_at_its_frequency_row():
    # nperseg=64 at 250 Hz gives bins every 3.90625 Hz; max_freq_hz=50 keeps bins 0..12,
    # drawn top (bin 12) to bottom (bin 0). Sines centred on bins 3 and 10 must light
    # up the rows of those bins.
    image_size, n_bins = 130, 13
    bin_hz = FS_HZ / 64
    out = images.spectrogram_images(
        _sine_windows([3 * bin_hz, 10 * bin_hz]),
        fs_hz=FS_HZ,
        image_size=image_size,
        nperseg=64,
        colormap=None,
        max_freq_hz=50.0,
    )
    brightest_row = out[:, 0].mean(axis=2).argmax(axis=1)
    rows_per_bin = image_size / n_bins
    for row, freq_bin in zip(brightest_row, [3, 10]):
        expected_row = (n_bins - 1 - freq_bin + 0.5) * rows_per_bin
        assert abs(row - expected_row) <= rows_per_bin / 2


def test_spectrogram_rejects_bad_input():
    with pytest.raises(ValueError, match="n_windows, n_samples"):
        images.spectrogram_images(np.zeros((2, 3, 100)), fs_hz=FS_HZ)
    with pytest.raises(ValueError, match="NaN"):
        images.spectrogram_images(np.full((1, 512), np.nan), fs_hz=FS_HZ)
    with pytest.raises(ValueError, match="nperseg"):
        images.spectrogram_images(np.zeros((1, 32)), fs_hz=FS_HZ, nperseg=64)


def test_resize_images_shape():
    out = images.resize_images(np.random.default_rng(0).random((2, 1, 10, 30)), 16)
    assert out.shape == (2, 1, 16, 16) and out.dtype == np.float32


@pytest.mark.slow  # imports pyts (~17 s)
def test_gaf_mtf_rp_images_shape_range_and_channels():
    rng = np.random.default_rng(0)
    windows = _sine_windows([1.2, 2.0], n_samples=360, fs_hz=360.0) + 0.05 * rng.normal(size=(2, 360))
    out = images.gaf_mtf_rp_images(windows, image_size=64)
    assert out.shape == (2, 3, 64, 64)
    assert out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    # GAF (summation) and RP distances are symmetric; RP has zeros on the diagonal
    np.testing.assert_allclose(out[:, 0], out[:, 0].transpose(0, 2, 1), atol=1e-6)
    np.testing.assert_allclose(out[:, 2], out[:, 2].transpose(0, 2, 1), atol=1e-6)
    np.testing.assert_allclose(np.diagonal(out[:, 2], axis1=1, axis2=2), 0.0, atol=1e-6)
    # the three channels hold different transforms
    assert not np.allclose(out[:, 0], out[:, 1]) and not np.allclose(out[:, 1], out[:, 2])
    binary = images.gaf_mtf_rp_images(windows, image_size=64, rp_threshold="point", rp_percentage=10)
    assert set(np.unique(binary[:, 2])) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="image_size"):
        images.gaf_mtf_rp_images(windows, image_size=400)
