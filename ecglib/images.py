"""One-dimensional ECG windows turned into images for two-dimensional networks.

Two families, both returning ``(n, 3, image_size, image_size)`` float32 arrays in
``[0, 1]`` (channels first, ready for a torch image model):

- :func:`spectrogram_images`: the short-time power spectrum (scipy.signal.spectrogram)
  in decibels, scaled per image and drawn through a matplotlib colour map, as in the
  "2D transfer" arm of Jang et al. 2021 (spectrograms into an ImageNet GoogLeNet).
- :func:`gaf_mtf_rp_images`: a Gramian angular field, a Markov transition field and a
  recurrence plot stacked as the three channels (pyts), as in Vavekanand et al.

``pyts`` is imported inside the function that needs it: its import costs ~17 s.
Every function here is pure (arrays in, arrays out); none touches a random state.
"""

from __future__ import annotations

import numpy as np
import scipy.signal
import torch
import torch.nn.functional as F

__all__ = ["spectrogram_images", "gaf_mtf_rp_images", "resize_images"]


def _check_windows(windows: np.ndarray, name: str = "windows") -> np.ndarray:
    windows = np.asarray(windows, dtype=np.float64)
    if windows.ndim != 2:
        raise ValueError(f"{name} must be (n_windows, n_samples), got shape {windows.shape}")
    if windows.shape[1] < 2:
        raise ValueError(f"{name} must have at least 2 samples per window, got {windows.shape[1]}")
    if not np.all(np.isfinite(windows)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return windows


def resize_images(images: np.ndarray, image_size: int) -> np.ndarray:
    """Bilinear resize of a stack of images to ``image_size`` x ``image_size``.

    Parameters
    ----------
    images : ndarray of shape (n, channels, height, width)
    image_size : int, output height and width in pixels

    Returns
    -------
    ndarray of shape (n, channels, image_size, image_size), float32
    """
    if images.ndim != 4:
        raise ValueError(f"images must be (n, channels, height, width), got shape {images.shape}")
    if images.shape[-2:] == (image_size, image_size):
        return images.astype(np.float32, copy=False)
    tensor = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    resized = F.interpolate(tensor, size=(image_size, image_size), mode="bilinear", align_corners=False)
    return resized.numpy()


def _scale_per_image(values: np.ndarray) -> np.ndarray:
    """Min-max scale each image (first axis) to [0, 1]; constant images become 0."""
    axes = tuple(range(1, values.ndim))
    low = values.min(axis=axes, keepdims=True)
    span = values.max(axis=axes, keepdims=True) - low
    return np.where(span > 0, (values - low) / np.where(span > 0, span, 1.0), 0.0)


def spectrogram_images(
    windows: np.ndarray,
    *,
    fs_hz: float,
    image_size: int = 224,
    nperseg: int = 64,
    noverlap: int | None = None,
    max_freq_hz: float | None = 50.0,
    dynamic_range_db: float = 80.0,
    colormap: str | None = "viridis",
) -> np.ndarray:
    """Log-power spectrogram images of single-lead ECG windows.

    Each window's spectrogram (``scipy.signal.spectrogram``, Hann window, density
    scaling) is converted to decibels, clipped to ``dynamic_range_db`` below its peak,
    scaled to [0, 1] per image, flipped so low frequencies are at the bottom, resized
    bilinearly and mapped to RGB through ``colormap`` (``None``: the grey image copied
    into the three channels).

    Parameters
    ----------
    windows : ndarray of shape (n_windows, n_samples)
        One lead per window, any amplitude unit (the per-image scaling removes it).
    fs_hz : float, sampling rate in hertz
    image_size : int, default=224, output height and width in pixels
    nperseg, noverlap : int, segment length and overlap in samples
        (``noverlap=None``: ``nperseg * 7 // 8``)
    max_freq_hz : float or None, default=50.0
        Frequencies above this are dropped before resizing (None keeps up to fs/2).
    dynamic_range_db : float, default=80.0
    colormap : str or None, default="viridis", a matplotlib colour-map name

    Returns
    -------
    ndarray of shape (n_windows, 3, image_size, image_size), float32, values in [0, 1]
    """
    windows = _check_windows(windows)
    if nperseg > windows.shape[1]:
        raise ValueError(f"nperseg={nperseg} exceeds the window length {windows.shape[1]}")
    if noverlap is None:
        noverlap = nperseg * 7 // 8
    freqs_hz, _, power = scipy.signal.spectrogram(
        windows, fs=fs_hz, nperseg=nperseg, noverlap=noverlap, axis=-1, scaling="density"
    )
    if max_freq_hz is not None:
        keep = freqs_hz <= max_freq_hz
        if keep.sum() < 2:
            raise ValueError(
                f"max_freq_hz={max_freq_hz} keeps fewer than 2 frequency bins (resolution {freqs_hz[1]:.2f} Hz)"
            )
        power = power[:, keep, :]
    power_db = 10.0 * np.log10(power + 1e-20)
    peak_db = power_db.max(axis=(1, 2), keepdims=True)
    power_db = np.maximum(power_db, peak_db - dynamic_range_db)
    grey = _scale_per_image(power_db)[:, ::-1, :]  # low frequencies at the bottom row
    grey = resize_images(grey[:, None, :, :], image_size)[:, 0]
    grey = np.clip(grey, 0.0, 1.0)
    if colormap is None:
        return np.repeat(grey[:, None, :, :], 3, axis=1).astype(np.float32)
    import matplotlib

    rgba = matplotlib.colormaps[colormap](grey)  # (n, H, W, 4)
    return np.ascontiguousarray(rgba[..., :3].transpose(0, 3, 1, 2), dtype=np.float32)


def gaf_mtf_rp_images(
    windows: np.ndarray,
    *,
    image_size: int,
    gaf_method: str = "summation",
    mtf_n_bins: int = 8,
    rp_threshold: float | str | None = None,
    rp_percentage: float = 10.0,
) -> np.ndarray:
    """Gramian angular field, Markov transition field and recurrence plot as 3 channels.

    Channel 0 is the Gramian angular field (pyts ``GramianAngularField``; each window
    min-max scaled to [-1, 1], image values mapped from [-1, 1] to [0, 1]); channel 1
    the Markov transition field (``MarkovTransitionField``, quantile bins, values in
    [0, 1]); channel 2 the recurrence plot (``RecurrencePlot`` of the window reduced
    to ``image_size`` points by piecewise aggregate approximation; unthresholded
    distances scaled to [0, 1] per image, or the binary plot when ``rp_threshold`` is
    given). GAF and MTF reduce to ``image_size`` by pyts' own aggregation.

    Parameters
    ----------
    windows : ndarray of shape (n_windows, n_samples), any amplitude unit
    image_size : int, output height and width (at most ``n_samples``)
    gaf_method : {"summation", "difference"}, default="summation"
    mtf_n_bins : int, default=8, quantile bins of the Markov transition field
    rp_threshold : float, "point", "distance" or None, default=None
        Passed to pyts ``RecurrencePlot`` (None: the distance matrix).
    rp_percentage : float, default=10.0, used by the "point"/"distance" thresholds

    Returns
    -------
    ndarray of shape (n_windows, 3, image_size, image_size), float32, values in [0, 1]

    Raises
    ------
    ValueError
        If ``windows`` is not 2-D, holds non-finite values, or is shorter than
        ``image_size``.
    """
    windows = _check_windows(windows)
    n_windows, n_samples = windows.shape
    if not 2 <= image_size <= n_samples:
        raise ValueError(f"image_size must be between 2 and the window length {n_samples}, got {image_size}")
    import warnings

    from pyts.approximation import PiecewiseAggregateApproximation
    from pyts.image import GramianAngularField, MarkovTransitionField, RecurrencePlot

    gaf = GramianAngularField(image_size=image_size, method=gaf_method, sample_range=(-1, 1)).fit_transform(
        windows
    )
    with warnings.catch_warnings():
        # pyts warns when quantile bins of a near-constant window coincide; the field stays defined.
        warnings.filterwarnings("ignore", message=".*bin.*", category=UserWarning)
        mtf = MarkovTransitionField(
            image_size=image_size, n_bins=mtf_n_bins, strategy="quantile"
        ).fit_transform(windows)
    if image_size < n_samples:
        reduced = PiecewiseAggregateApproximation(window_size=None, output_size=image_size).fit_transform(
            windows
        )
    else:
        reduced = windows
    rp = RecurrencePlot(threshold=rp_threshold, percentage=rp_percentage).fit_transform(reduced)
    if rp_threshold is None:
        rp = _scale_per_image(rp)
    images = np.stack([(gaf + 1.0) / 2.0, mtf, rp], axis=1)
    return np.clip(images, 0.0, 1.0).astype(np.float32)
