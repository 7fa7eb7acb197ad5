"""Signal preprocessing: filters, anti-aliased resampling, cropping, normalisation, leads.

The steps, then the chains built from them that studies share: :func:`bandpass_minmax`
(Vavekanand et al.'s record scaling), :func:`resample_windows` (windows to a fixed length)
and :func:`fixed_length_examples` (Jang et al.'s resample, baseline removal, crop and
normalisation of single-lead ECGs). :func:`select_lead` is the one lookup of a lead by name,
with the fallback every reader and study uses.

Every function is pure: arrays in, arrays out, no I/O. A record is ``(n_samples, n_leads)``
in millivolts; one-dimensional ``(n_samples,)`` signals are accepted wherever the time axis
is the first axis. Filters are zero-phase (forward-backward, ``scipy.signal.sosfiltfilt``)
so wave timings are not shifted; resampling uses a polyphase anti-aliasing filter
(``scipy.signal.resample_poly``) and never keeps every k-th sample.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy import signal as scipy_signal

from ecglib.errors import DataFormatError, LeadMissingError

#: The 12 standard leads in the usual order.
LEADS_12: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
#: The 8 independent leads (I, II, V1-V6) from which the other four follow.
LEADS_8: tuple[str, ...] = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
#: What :func:`select_lead` does when the wanted lead is absent.
LEAD_FALLBACKS: tuple[str, ...] = ("error", "first_lead")
NORMALISATIONS: tuple[str, ...] = ("zscore", "minmax", "none")


def resample(signal_mv: np.ndarray, fs_in_hz: float, fs_out_hz: float) -> np.ndarray:
    """Resample every lead with an anti-aliasing polyphase filter (scipy.signal.resample_poly).

    Parameters
    ----------
    signal_mv : ndarray of shape (n_samples,) or (n_samples, n_leads), millivolts
    fs_in_hz, fs_out_hz : float, sampling rates in hertz (their ratio must be a fraction
        with a denominator of at most 1000, e.g. 360 -> 125 Hz is 25/72)

    Returns
    -------
    ndarray of shape (ceil(n_samples * fs_out_hz / fs_in_hz),) or (..., n_leads), float32, millivolts
        Components above the new Nyquist frequency ``fs_out_hz / 2`` are removed.
    """
    if fs_in_hz <= 0 or fs_out_hz <= 0:
        raise ValueError(f"sampling rates must be positive, got {fs_in_hz} -> {fs_out_hz} Hz")
    signal_mv = np.asarray(signal_mv)
    if fs_in_hz == fs_out_hz:
        return signal_mv.astype(np.float32, copy=True)
    ratio = Fraction(fs_out_hz / fs_in_hz).limit_denominator(1000)
    if abs(float(ratio) - fs_out_hz / fs_in_hz) > 1e-9:
        raise ValueError(f"cannot express {fs_in_hz} -> {fs_out_hz} Hz as a ratio of small integers")
    resampled = scipy_signal.resample_poly(
        signal_mv.astype(np.float64), ratio.numerator, ratio.denominator, axis=0, padtype="line"
    )
    return resampled.astype(np.float32)


def bandpass(
    signal_mv: np.ndarray, fs_hz: float, low_hz: float, high_hz: float, order: int = 3
) -> np.ndarray:
    """Zero-phase Butterworth band-pass (scipy.signal.butter + sosfiltfilt) along the time axis.

    Parameters
    ----------
    signal_mv : ndarray of shape (n_samples,) or (n_samples, n_leads), millivolts
    fs_hz : sampling rate in hertz
    low_hz, high_hz : pass band edges in hertz, ``0 < low_hz < high_hz < fs_hz / 2``
    order : Butterworth order of the design (the forward-backward pass doubles it)

    Returns
    -------
    ndarray of the same shape, float32, millivolts
    """
    if not 0 < low_hz < high_hz < fs_hz / 2:
        raise ValueError(f"need 0 < low_hz < high_hz < fs_hz/2, got {low_hz}, {high_hz} at {fs_hz} Hz")
    sos = scipy_signal.butter(order, [low_hz, high_hz], btype="bandpass", fs=fs_hz, output="sos")
    return scipy_signal.sosfiltfilt(sos, np.asarray(signal_mv, dtype=np.float64), axis=0).astype(np.float32)


def lowpass(signal_mv: np.ndarray, fs_hz: float, cutoff_hz: float, order: int = 3) -> np.ndarray:
    """Zero-phase Butterworth low-pass; shapes and units as :func:`bandpass`."""
    if not 0 < cutoff_hz < fs_hz / 2:
        raise ValueError(f"need 0 < cutoff_hz < fs_hz/2, got {cutoff_hz} at {fs_hz} Hz")
    sos = scipy_signal.butter(order, cutoff_hz, btype="lowpass", fs=fs_hz, output="sos")
    return scipy_signal.sosfiltfilt(sos, np.asarray(signal_mv, dtype=np.float64), axis=0).astype(np.float32)


def remove_baseline(
    signal_mv: np.ndarray, fs_hz: float, cutoff_hz: float = 0.5, order: int = 2
) -> np.ndarray:
    """Remove baseline wander with a zero-phase Butterworth high-pass.

    Parameters
    ----------
    signal_mv : ndarray of shape (n_samples,) or (n_samples, n_leads), millivolts
    fs_hz : sampling rate in hertz
    cutoff_hz : high-pass corner in hertz (0.5 Hz keeps the ST segment for heart rates
        above 30 bpm; AHA recommends <= 0.67 Hz)
    order : Butterworth order of the design

    Returns
    -------
    ndarray of the same shape, float32, millivolts
    """
    if not 0 < cutoff_hz < fs_hz / 2:
        raise ValueError(f"need 0 < cutoff_hz < fs_hz/2, got {cutoff_hz} at {fs_hz} Hz")
    sos = scipy_signal.butter(order, cutoff_hz, btype="highpass", fs=fs_hz, output="sos")
    return scipy_signal.sosfiltfilt(sos, np.asarray(signal_mv, dtype=np.float64), axis=0).astype(np.float32)


def crop_or_pad(
    signal: np.ndarray, n_samples: int, *, where: str = "end", pad_value: float = 0.0
) -> np.ndarray:
    """Cut or zero-pad the time axis (axis 0) to exactly ``n_samples``.

    Parameters
    ----------
    signal : ndarray of shape (n_in, ...) , any units
    n_samples : wanted length
    where : ``"end"`` keeps the start (crops/pads at the end); ``"center"`` crops/pads
        equally on both sides (the extra sample goes to the end)
    pad_value : value used for padding

    Returns
    -------
    ndarray of shape (n_samples, ...), same dtype
    """
    if where not in ("end", "center"):
        raise ValueError(f"where must be 'end' or 'center', got {where!r}")
    if n_samples < 0:
        raise ValueError(f"n_samples must be >= 0, got {n_samples}")
    signal = np.asarray(signal)
    n_in = signal.shape[0]
    if n_in >= n_samples:
        start = 0 if where == "end" else (n_in - n_samples) // 2
        return signal[start : start + n_samples].copy()
    missing = n_samples - n_in
    before = 0 if where == "end" else missing // 2
    widths = [(before, missing - before)] + [(0, 0)] * (signal.ndim - 1)
    return np.pad(signal, widths, mode="constant", constant_values=pad_value)


def zscore(x: np.ndarray, axis: int | tuple[int, ...] | None = 0, eps: float = 1e-8) -> np.ndarray:
    """Subtract the mean and divide by the standard deviation along ``axis``.

    Parameters
    ----------
    x : ndarray, any shape; ``axis=0`` normalises each lead of a ``(n_samples, n_leads)`` record
    axis : axis or axes over which the statistics are taken (None: the whole array)
    eps : added to the standard deviation so a flat signal gives zeros, not NaN

    Returns
    -------
    ndarray of the same shape, float32, dimensionless
    """
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=axis, keepdims=True)
    std = x.std(axis=axis, keepdims=True)
    return ((x - mean) / (std + eps)).astype(np.float32)


def minmax(
    x: np.ndarray, low: float = 0.0, high: float = 1.0, axis: int | tuple[int, ...] | None = 0
) -> np.ndarray:
    """Scale linearly so the minimum along ``axis`` maps to ``low`` and the maximum to ``high``.

    Vavekanand et al. scale to the range (0, 2): ``minmax(x, 0, 2)``. A flat signal maps to ``low``.

    Parameters
    ----------
    x : ndarray, any shape
    low, high : target range
    axis : axis or axes over which min and max are taken (None: the whole array)

    Returns
    -------
    ndarray of the same shape, float32, dimensionless
    """
    if not high > low:
        raise ValueError(f"need high > low, got ({low}, {high})")
    x = np.asarray(x, dtype=np.float64)
    x_min = x.min(axis=axis, keepdims=True)
    span = x.max(axis=axis, keepdims=True) - x_min
    scaled = np.divide(x - x_min, span, out=np.zeros_like(x), where=span > 0)
    return (low + (high - low) * scaled).astype(np.float32)


def select_leads(
    signal_mv: np.ndarray, lead_names: tuple[str, ...] | list[str], wanted: tuple[str, ...] | list[str]
) -> np.ndarray:
    """Columns of ``signal_mv`` in the order of ``wanted``.

    Parameters
    ----------
    signal_mv : ndarray of shape (..., n_samples, n_leads), millivolts
    lead_names : names of the last axis
    wanted : names to keep, in the order wanted

    Returns
    -------
    ndarray of shape (..., n_samples, len(wanted))

    Raises
    ------
    LeadMissingError
        (a ``KeyError``) naming the missing leads and the available ones. Names match as in
        :func:`lead_column` (exactly, else case-insensitively).
    """
    lead_names = list(lead_names)
    lowered = {name.lower() for name in lead_names}
    missing = [name for name in wanted if name.lower() not in lowered]
    if missing:
        raise LeadMissingError(f"leads {missing} not in the signal's leads {lead_names}")
    signal_mv = np.asarray(signal_mv)
    if signal_mv.shape[-1] != len(lead_names):
        raise ValueError(f"signal has {signal_mv.shape[-1]} leads but {len(lead_names)} names were given")
    return signal_mv[..., [lead_column(lead_names, name) for name in wanted]]


def lead_column(lead_names: tuple[str, ...] | list[str], wanted: str, *, where: str = "signal") -> int:
    """Index of lead ``wanted`` in ``lead_names``: an exact match, else the only case-insensitive one.

    Raises
    ------
    LeadMissingError
        (a ``KeyError``) naming ``where`` (a record or file), the lead and the leads it has.
    """
    lead_names = list(lead_names)
    if wanted in lead_names:
        return lead_names.index(wanted)
    lowered = [name.lower() for name in lead_names]
    if wanted.lower() in lowered:
        return lowered.index(wanted.lower())
    raise LeadMissingError(f"{where} has no lead {wanted!r}; its leads are {tuple(lead_names)}")


def select_lead(
    signal_mv: np.ndarray,
    lead_names: tuple[str, ...] | list[str],
    wanted: str,
    *,
    fallback: str = "error",
    where: str = "signal",
) -> tuple[np.ndarray, str]:
    """One lead of a record by name, with a stated fallback when the record lacks it.

    Parameters
    ----------
    signal_mv : ndarray of shape (n_samples, n_leads), millivolts
    lead_names : names of the columns of ``signal_mv``
    wanted : lead name (matched exactly, else case-insensitively: ``"II"`` finds ``"ii"``)
    fallback : ``"error"`` raises :class:`~ecglib.errors.LeadMissingError`; ``"first_lead"``
        uses column 0 (MIT-BIH records 102 and 104 have no MLII: their first lead is V5).
        Callers that drop such records catch the error.
    where : the record or file, named in the error

    Returns
    -------
    (signal, lead_used) : ndarray of shape (n_samples,) (a view of the column, same dtype and
        units) and the name of the lead it holds.

    Raises
    ------
    LeadMissingError
        the lead is absent and ``fallback="error"``; the message names ``where`` and its leads.
    """
    if fallback not in LEAD_FALLBACKS:
        raise ValueError(f"fallback must be one of {LEAD_FALLBACKS}, got {fallback!r}")
    signal_mv = np.asarray(signal_mv)
    if signal_mv.ndim != 2 or signal_mv.shape[1] != len(lead_names):
        raise ValueError(
            f"{where}: signal of shape {signal_mv.shape} does not have one column per lead {tuple(lead_names)}"
        )
    try:
        column = lead_column(lead_names, wanted, where=where)
    except LeadMissingError:
        if fallback == "error":
            raise
        column = 0
    return signal_mv[:, column], str(lead_names[column])


def leads_8_to_12(signal_mv: np.ndarray) -> np.ndarray:
    """Derive the 12 standard leads from the 8 independent ones.

    Einthoven and Goldberger: III = II - I, aVR = -(I + II)/2, aVL = I - II/2, aVF = II - I/2.

    Parameters
    ----------
    signal_mv : ndarray of shape (..., n_samples, 8), leads ``LEADS_8`` (I, II, V1-V6), millivolts

    Returns
    -------
    ndarray of shape (..., n_samples, 12), leads ``LEADS_12``, millivolts
    """
    signal_mv = np.asarray(signal_mv)
    if signal_mv.shape[-1] != 8:
        raise ValueError(f"expected 8 leads {LEADS_8} on the last axis, got shape {signal_mv.shape}")
    lead_i, lead_ii = signal_mv[..., 0], signal_mv[..., 1]
    limb = np.stack(
        [
            lead_i,
            lead_ii,
            lead_ii - lead_i,
            -(lead_i + lead_ii) / 2,
            lead_i - lead_ii / 2,
            lead_ii - lead_i / 2,
        ],
        axis=-1,
    )
    return np.concatenate([limb, signal_mv[..., 2:]], axis=-1).astype(signal_mv.dtype, copy=False)


def leads_12_to_8(signal_mv: np.ndarray) -> np.ndarray:
    """Keep the 8 independent leads (I, II, V1-V6) of a ``LEADS_12`` signal.

    Parameters
    ----------
    signal_mv : ndarray of shape (..., n_samples, 12), leads ``LEADS_12``, millivolts

    Returns
    -------
    ndarray of shape (..., n_samples, 8), leads ``LEADS_8``, millivolts
    """
    return select_leads(signal_mv, LEADS_12, LEADS_8)


def check_signal(
    signal: np.ndarray,
    fs_hz: float,
    *,
    expected_fs_hz: float | None = None,
    expected_n_leads: int | None = None,
    expected_n_samples: int | None = None,
    source: str = "signal",
) -> np.ndarray:
    """Validate a ``(n_samples, n_leads)`` signal; return it unchanged.

    Parameters
    ----------
    signal : ndarray of shape (n_samples, n_leads)
    fs_hz : its sampling rate in hertz
    expected_fs_hz, expected_n_leads, expected_n_samples : checked when given
    source : what the signal is (a file path, a record id), named in the error

    Raises
    ------
    DataFormatError
        naming ``source`` and the problem: not 2-D, NaN/inf values, wrong sampling rate,
        wrong lead count or wrong length.
    """
    signal = np.asarray(signal)
    if signal.ndim != 2:
        raise DataFormatError(f"{source}: expected a (n_samples, n_leads) signal, got shape {signal.shape}")
    n_bad = int(np.size(signal) - np.count_nonzero(np.isfinite(signal)))
    if n_bad:
        raise DataFormatError(f"{source}: {n_bad} NaN/inf values in the signal")
    if expected_fs_hz is not None and not np.isclose(fs_hz, expected_fs_hz):
        raise DataFormatError(f"{source}: sampling rate {fs_hz} Hz, expected {expected_fs_hz} Hz")
    if expected_n_leads is not None and signal.shape[1] != expected_n_leads:
        raise DataFormatError(f"{source}: {signal.shape[1]} leads, expected {expected_n_leads}")
    if expected_n_samples is not None and signal.shape[0] != expected_n_samples:
        raise DataFormatError(f"{source}: {signal.shape[0]} samples, expected {expected_n_samples}")
    return signal


#: Options of :func:`prepare_fixed_length`.
RESAMPLING_METHODS: tuple[str, ...] = ("anti_aliased", "decimate_as_in_code")
PER_LEAD_NORMALISATIONS: tuple[str, ...] = ("none", "minmax_per_lead_as_in_code", "zscore_per_lead")


def prepare_fixed_length(
    records_mv,
    fs_in_hz: float,
    *,
    fs_out_hz: float = 100.0,
    duration_s: float = 10.0,
    resampling: str = "anti_aliased",
    normalisation: str = "none",
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Nguyen & Do 2025's input: every record at ``fs_out_hz``, exactly ``duration_s`` long.

    Records are resampled, then longer ones keep their first ``duration_s`` seconds and
    shorter ones are dropped (the paper: "for records exceeding this timeframe, we applied
    cropping ... shorter records ... we simply omitted them"), then normalised.

    Parameters
    ----------
    records_mv : sequence of ndarrays of shape (n_samples_i, n_leads), millivolts (lengths may
        differ), or one ndarray of shape (n_records, n_samples, n_leads)
    fs_in_hz : sampling rate of the records in hertz
    fs_out_hz : target sampling rate in hertz (paper: 100)
    duration_s : kept length in seconds (paper: 10)
    resampling : ``"anti_aliased"`` (default, :func:`resample`: polyphase low-pass, so
        components above ``fs_out_hz / 2`` are removed) or ``"decimate_as_in_code"`` (the
        authors' ``x[::k]``, keeping every k-th sample with no filter, so such components
        alias; needs an integer ratio ``fs_in_hz / fs_out_hz``)
    normalisation : ``"none"`` (default; the paper states no normalisation, values stay in
        mV), ``"minmax_per_lead_as_in_code"`` (the authors' code: each lead of each record
        scaled to [-1, 1]) or ``"zscore_per_lead"`` (each lead of each record to zero mean and
        unit variance)

    Returns
    -------
    signals : ndarray of shape (n_kept, round(duration_s * fs_out_hz), n_leads), float32, mV
        (or dimensionless once normalised)
    kept : ndarray of shape (n_kept,), int64 positions in ``records_mv`` of the kept records
    counts : dict with ``n_records``, ``n_kept``, ``n_cropped`` (longer, cut to length),
        ``n_exact`` and ``n_dropped_short`` (shorter than ``duration_s`` after resampling)
    """
    if resampling not in RESAMPLING_METHODS:
        raise ValueError(f"resampling must be one of {RESAMPLING_METHODS}, got {resampling!r}")
    if normalisation not in PER_LEAD_NORMALISATIONS:
        raise ValueError(f"normalisation must be one of {PER_LEAD_NORMALISATIONS}, got {normalisation!r}")
    n_out = int(round(duration_s * fs_out_hz))
    if n_out < 1:
        raise ValueError(
            f"duration_s * fs_out_hz must give at least one sample, got {duration_s} s x {fs_out_hz} Hz"
        )
    step = fs_in_hz / fs_out_hz
    if resampling == "decimate_as_in_code" and (step < 1 or abs(step - round(step)) > 1e-9):
        raise ValueError(
            f"resampling='decimate_as_in_code' keeps every k-th sample and needs an integer ratio "
            f"fs_in_hz / fs_out_hz, got {fs_in_hz} / {fs_out_hz} = {step:g}"
        )
    signals, kept = [], []
    counts = {"n_records": 0, "n_kept": 0, "n_cropped": 0, "n_exact": 0, "n_dropped_short": 0}
    n_leads = None
    for position, record in enumerate(records_mv):
        record = np.asarray(record)
        counts["n_records"] += 1
        if record.ndim != 2:
            raise ValueError(f"record {position}: expected shape (n_samples, n_leads), got {record.shape}")
        if n_leads is not None and record.shape[1] != n_leads:
            raise ValueError(f"record {position}: {record.shape[1]} leads, earlier records have {n_leads}")
        n_leads = record.shape[1]
        if resampling == "anti_aliased":
            at_out = resample(record, fs_in_hz, fs_out_hz)
        else:
            at_out = record[:: int(round(step))].astype(np.float32)
        if len(at_out) < n_out:
            counts["n_dropped_short"] += 1
            continue
        counts["n_cropped" if len(at_out) > n_out else "n_exact"] += 1
        signals.append(at_out[:n_out])
        kept.append(position)
    counts["n_kept"] = len(kept)
    out = np.stack(signals) if signals else np.zeros((0, n_out, n_leads or 0), np.float32)
    if normalisation == "minmax_per_lead_as_in_code":
        out = minmax(out, -1.0, 1.0, axis=1)
    elif normalisation == "zscore_per_lead":
        out = zscore(out, axis=1)
    return out.astype(np.float32), np.asarray(kept, dtype=np.int64), counts


# --------------------------------------------------------------------------- chains shared by studies


def bandpass_minmax(
    signal_mv: np.ndarray,
    fs_hz: float,
    *,
    band_hz: tuple[float, float] = (0.4, 30.0),
    filter_order: int = 3,
    normalise_range: tuple[float, float] = (0.0, 2.0),
) -> np.ndarray:
    """Zero-phase Butterworth band-pass, then min-max over the whole record (Vavekanand et al.).

    Parameters
    ----------
    signal_mv : ndarray of shape (n_samples,), one lead, millivolts
    fs_hz : sampling rate in hertz
    band_hz : pass band in hertz (paper: 0.4-30 Hz)
    filter_order : Butterworth order (3, as in the public code of the paper)
    normalise_range : target range of the min-max scaling (paper: (0, 2))

    Returns
    -------
    ndarray of shape (n_samples,), float32, in ``normalise_range``
    """
    filtered = bandpass(signal_mv, fs_hz, band_hz[0], band_hz[1], order=filter_order)
    return minmax(filtered, normalise_range[0], normalise_range[1], axis=0)


def resample_windows(windows: np.ndarray, n_samples_out: int, *, method: str = "polyphase") -> np.ndarray:
    """Resample each window to ``n_samples_out`` samples.

    Parameters
    ----------
    windows : ndarray of shape (n_windows, n_samples), any units
    n_samples_out : samples per window after resampling
    method : "polyphase" (:func:`resample`, anti-aliased; the project's default) or "fft"
        (``scipy.signal.resample``, what the public ChryssaNab code used)

    Returns
    -------
    ndarray of shape (n_windows, n_samples_out), float32, units of the input
    """
    windows = np.asarray(windows, dtype=np.float32)
    if windows.ndim != 2:
        raise ValueError(f"windows must be (n_windows, n_samples), got shape {windows.shape}")
    if len(windows) == 0:
        return np.zeros((0, n_samples_out), np.float32)
    n_samples = windows.shape[1]
    if method == "polyphase":
        out = resample(windows.T, float(n_samples), float(n_samples_out)).T
        return np.ascontiguousarray(out[:, :n_samples_out], dtype=np.float32)
    if method == "fft":
        return scipy_signal.resample(windows, n_samples_out, axis=1).astype(np.float32)
    raise ValueError(f"method must be 'polyphase' or 'fft', got {method!r}")


def fixed_length_examples(
    signals_mv: np.ndarray,
    *,
    fs_in_hz: float,
    fs_hz: float = 250.0,
    window_samples: int = 2048,
    baseline_cutoff_hz: float = 0.5,
    baseline_order: int = 2,
    normalisation: str = "zscore",
    crop: str = "end",
) -> np.ndarray:
    """Single-lead ECGs resampled, baseline-corrected, cropped and normalised (Jang et al. 2021).

    Anti-aliased resampling to ``fs_hz`` (:func:`resample`; the authors' code took every
    second sample), zero-phase Butterworth high-pass for baseline wander
    (:func:`remove_baseline`), crop or zero-pad to ``window_samples`` (:func:`crop_or_pad`)
    and per-example normalisation.

    Parameters
    ----------
    signals_mv : ndarray of shape (n, n_samples) or (n, n_samples, 1), millivolts
    fs_in_hz, fs_hz : input and output sampling rates, hertz
    window_samples : output length (Jang et al.: 2,048 = 8.2 s at 250 Hz)
    baseline_cutoff_hz, baseline_order : Butterworth high-pass corner (Hz) and order
    normalisation : one of :data:`NORMALISATIONS`; "zscore" (the paper's "zero-normalized"
        data), "minmax" to [0, 1] or "none" (millivolts)
    crop : "end" (keeps the start) or "center", see :func:`crop_or_pad`

    Returns
    -------
    ndarray of shape (n, window_samples, 1), float32 (z-scores, [0, 1] or mV)
    """
    signals = np.asarray(signals_mv, dtype=np.float32)
    if signals.ndim == 3:
        if signals.shape[2] != 1:
            raise ValueError(f"expected one lead, got signals of shape {signals.shape}")
        signals = signals[:, :, 0]
    if signals.ndim != 2:
        raise ValueError(f"signals_mv must be (n, n_samples) or (n, n_samples, 1), got shape {signals.shape}")
    if normalisation not in NORMALISATIONS:
        raise ValueError(f"normalisation must be 'zscore', 'minmax' or 'none', got {normalisation!r}")
    if len(signals) == 0:
        return np.zeros((0, window_samples, 1), dtype=np.float32)
    # examples as the columns of one (n_samples, n) array: each step filters along time only
    columns = resample(signals.T, fs_in_hz, fs_hz)
    columns = remove_baseline(columns, fs_hz, cutoff_hz=baseline_cutoff_hz, order=baseline_order)
    columns = crop_or_pad(columns, window_samples, where=crop)
    if normalisation == "zscore":
        columns = zscore(columns, axis=0)
    elif normalisation == "minmax":
        columns = minmax(columns, axis=0)
    return np.ascontiguousarray(columns.T[:, :, None], dtype=np.float32)


# ---------------------------------------------------------------- physiological sanity at load time

#: a surface ECG's robust amplitude (99.9th percentile of |x - median|) above this is not plausible, in mV
MAX_PLAUSIBLE_AMPLITUDE_MV = 10.0
#: a lead whose 0.5-99.5 percentile range is below this is a flat line, in mV
FLAT_RANGE_MV = 0.02
#: a lead with more than this fraction of its samples exactly at its minimum or maximum is clipped
SATURATED_FRACTION = 0.02


def lead_problems(
    signal_mv: np.ndarray, lead_names: tuple[str, ...] | list[str] | None = None
) -> dict[str, str]:
    """Leads of a record that cannot be a recorded ECG, with the reason.

    Parameters
    ----------
    signal_mv : ndarray of shape (n_samples, n_leads), millivolts
    lead_names : names of the leads (default ``lead0``, ``lead1``...)

    Returns
    -------
    dict lead name -> reason ("implausible amplitude ...", "flat line ...", "saturated ...");
    empty when every lead is plausible. Thresholds: :data:`MAX_PLAUSIBLE_AMPLITUDE_MV`,
    :data:`FLAT_RANGE_MV`, :data:`SATURATED_FRACTION`.
    """
    signal_mv = np.asarray(signal_mv, dtype=np.float64)
    if signal_mv.ndim != 2 or signal_mv.shape[0] == 0:
        raise DataFormatError(
            f"expected a non-empty (n_samples, n_leads) signal, got shape {signal_mv.shape}"
        )
    names = list(lead_names) if lead_names is not None else [f"lead{i}" for i in range(signal_mv.shape[1])]
    problems: dict[str, str] = {}
    for column, name in enumerate(names):
        lead = signal_mv[:, column]
        low, high = np.percentile(lead, [0.5, 99.5])
        amplitude_mv = float(np.percentile(np.abs(lead - np.median(lead)), 99.9))
        at_rails = max(np.mean(lead == lead.min()), np.mean(lead == lead.max()))
        if high - low < FLAT_RANGE_MV:
            problems[name] = f"flat line (range {high - low:.3g} mV < {FLAT_RANGE_MV} mV)"
        elif amplitude_mv > MAX_PLAUSIBLE_AMPLITUDE_MV:
            problems[name] = (
                f"implausible amplitude ({amplitude_mv:.3g} mV > {MAX_PLAUSIBLE_AMPLITUDE_MV} mV; "
                "check the gain in the header)"
            )
        elif at_rails > SATURATED_FRACTION:
            problems[name] = f"saturated ({at_rails:.1%} of samples at the lead's minimum or maximum)"
    return problems


def check_plausible_record(
    signal_mv: np.ndarray, lead_names: tuple[str, ...] | list[str] | None = None, *, source: str
) -> np.ndarray:
    """Refuse a record that cannot be a recorded ECG; return it unchanged otherwise.

    A record is refused when any lead has an implausible amplitude (a wrong gain in the
    header scales every lead), or when every lead is flat or saturated (nothing to learn
    from). A single flat or saturated lead among good ones passes; use :func:`lead_problems`
    to count such leads as exclusions.

    Raises
    ------
    DataFormatError
        naming ``source``, the leads and the reason.
    """
    problems = lead_problems(signal_mv, lead_names)
    amplitude = {lead: reason for lead, reason in problems.items() if reason.startswith("implausible")}
    n_leads = np.asarray(signal_mv).shape[1]
    if amplitude or (problems and len(problems) == n_leads):
        shown = amplitude or problems
        detail = "; ".join(f"{lead}: {reason}" for lead, reason in shown.items())
        raise DataFormatError(f"{source}: not a plausible ECG ({detail})")
    return signal_mv


def unknown_label_codes(code_sets, known) -> tuple[np.ndarray, dict[str, int]]:
    """Label codes that the dataset's code table does not define, for counting in a run's exclusions.

    Parameters
    ----------
    code_sets : one iterable of codes per record (e.g. PTB-XL ``scp_codes`` dicts)
    known : the codes the dataset defines (e.g. the index of ``scp_statements.csv``)

    Returns
    -------
    only_unknown : ndarray of shape (n_records,), bool, True where a record has codes and none is known
    counts : unknown code -> number of records carrying it (sorted by code)
    """
    known = set(known)
    only_unknown = np.zeros(len(code_sets), dtype=bool)
    counts: dict[str, int] = {}
    for row, codes in enumerate(code_sets):
        codes = list(codes)
        unknown = [code for code in codes if code not in known]
        for code in unknown:
            counts[str(code)] = counts.get(str(code), 0) + 1
        only_unknown[row] = bool(codes) and len(unknown) == len(codes)
    return only_unknown, dict(sorted(counts.items()))
