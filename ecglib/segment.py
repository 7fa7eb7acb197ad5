"""Cutting annotated recordings into labelled examples: fixed windows, single beats, rhythm windows.

Pure functions on arrays (the readers in ``ecglib.data`` supply signal and annotations).
Every function reports what it dropped and why in an ``exclusions`` dict
(reason -> count), which notebooks pass to ``run.record_data``.

Three schemes
-------------
:func:`fixed_windows`
    Vavekanand et al.: non-overlapping windows (1 s = 360 samples at 360 Hz) labelled
    0 when every beat annotation inside is normal, 1 when any is abnormal; windows with no
    beat annotation are excluded. **Which symbols are normal** is the ``normal_labels``
    parameter; the default :data:`VAVEKANAND_NORMAL_SYMBOLS` is ``("N",)`` only, so
    bundle-branch-block beats (``L``, ``R``), escape beats (``e``, ``j``) and paced beats
    count as abnormal. The paper says "normal (0) or abnormal (1)" without a list; ``("N",)``
    is the only reading consistent with its Table 1: records 212 and 231 (only ``N`` and
    ``R`` beats, plus one ``A`` in 231) have balanced accuracies there, which needs abnormal
    windows, i.e. ``R`` abnormal; and the LBBB records 109, 111, 207, 214 (no ``N`` beats)
    are among the 19 dropped "imbalanced" records. Pass :data:`AAMI_NORMAL_SYMBOLS` for the
    AAMI reading (N, L, R, e, j normal).
:func:`kachuee_beats`
    Kachuee et al. 2018 ("ECG Heartbeat Classification: A Deep Transferable
    Representation", the Kaggle heartbeat CSVs): resample to 125 Hz, cut 10 s windows,
    min-max each window to [0, 1], take R peaks, T = median RR interval in the window,
    beat = the 1.2 T samples from each R peak, zero-padded (or cut) to 187 samples.
:func:`rhythm_windows`
    Fixed-length windows (10 s) lying wholly inside one rhythm interval of MIT-BIH's
    rhythm annotations, labelled with that rhythm.

Plus :func:`tiles` (unlabelled non-overlapping windows, for pre-training corpora) and
:func:`scaled_beat_windows`, Vavekanand et al.'s whole record chain (band-pass, min-max,
:func:`fixed_windows`, resampling of each window).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ecglib import preprocess

#: Vavekanand et al.: only ``N`` is normal (see the module docstring for the evidence).
VAVEKANAND_NORMAL_SYMBOLS: tuple[str, ...] = ("N",)
#: AAMI EC57 class N: normal, bundle-branch-block and escape beats.
AAMI_NORMAL_SYMBOLS: tuple[str, ...] = ("N", "L", "R", "e", "j")

KACHUEE_FS_HZ = 125.0
KACHUEE_BEAT_SAMPLES = 187
KACHUEE_WINDOW_S = 10.0
KACHUEE_RR_FACTOR = 1.2


@dataclass
class Windows:
    """Labelled windows cut from one signal.

    Attributes
    ----------
    signals : ndarray of shape (n_windows, window_samples) for a 1-D input or
        (n_windows, window_samples, n_leads) for a 2-D input; units of the input
    labels : ndarray of shape (n_windows,); int64 0/1 for :func:`fixed_windows`,
        str rhythm labels for :func:`rhythm_windows`
    start_samples : ndarray of shape (n_windows,), int64, first sample of each window in the input
    exclusions : reason -> number of windows dropped
    """

    signals: np.ndarray
    labels: np.ndarray
    start_samples: np.ndarray
    exclusions: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Beats:
    """Single beats in the Kachuee format.

    Attributes
    ----------
    signals : ndarray of shape (n_beats, beat_samples), float32 in [0, 1] (window min-max),
        zero-padded after the beat
    labels : ndarray of shape (n_beats,), the label of each beat's annotation
    r_samples : ndarray of shape (n_beats,), int64, R-peak sample at ``fs_hz``
    lengths : ndarray of shape (n_beats,), int64, samples of signal before the zero padding
    fs_hz : sampling rate of ``signals`` (125 Hz by default)
    exclusions : reason -> number of beats (or windows, where the key says so) dropped
    """

    signals: np.ndarray
    labels: np.ndarray
    r_samples: np.ndarray
    lengths: np.ndarray
    fs_hz: float
    exclusions: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)


def _check_beats(beat_samples, beat_labels) -> tuple[np.ndarray, np.ndarray]:
    beat_samples = np.asarray(beat_samples, dtype=np.int64)
    beat_labels = np.asarray(beat_labels)
    if beat_samples.ndim != 1 or beat_samples.shape != beat_labels.shape:
        raise ValueError(
            f"beat_samples and beat_labels must be 1-D of equal length, got {beat_samples.shape} and {beat_labels.shape}"
        )
    order = np.argsort(beat_samples, kind="stable")
    return beat_samples[order], beat_labels[order]


def fixed_windows(
    signal: np.ndarray,
    beat_samples: np.ndarray,
    beat_labels: np.ndarray,
    *,
    window_samples: int,
    normal_labels: tuple[str, ...] = VAVEKANAND_NORMAL_SYMBOLS,
    start_sample: int = 0,
) -> Windows:
    """Non-overlapping windows labelled normal (0) or abnormal (1) by the beats inside.

    A window ``[s, s + window_samples)`` is labelled 1 if any beat annotation inside has a
    label not in ``normal_labels``, 0 if all beats inside are normal, and is excluded
    (``exclusions["no_beat_annotation"]``) when it holds no beat annotation. Windows are
    tiled from ``start_sample``; the incomplete tail is dropped
    (``exclusions["incomplete_tail"]``, 0 or 1).

    Parameters
    ----------
    signal : ndarray of shape (n_samples,) or (n_samples, n_leads), any units
    beat_samples : ndarray of shape (n_beats,), int, sample index of each beat annotation
        (pass only beat annotations, e.g. ``mitbih.load_annotations(...).beat_samples``)
    beat_labels : ndarray of shape (n_beats,), the beat symbols (e.g. ``"N"``, ``"V"``)
    window_samples : window length in samples (Vavekanand: 360 = 1 s at 360 Hz)
    normal_labels : labels that count as normal; default ``("N",)`` (see module docstring)
    start_sample : first sample of the first window

    Returns
    -------
    Windows
        ``signals`` (n_windows, window_samples[, n_leads]), ``labels`` int64 0/1,
        ``start_samples``, ``exclusions`` with keys ``no_beat_annotation`` and ``incomplete_tail``.
    """
    if window_samples <= 0:
        raise ValueError(f"window_samples must be positive, got {window_samples}")
    signal = np.asarray(signal)
    beat_samples, beat_labels = _check_beats(beat_samples, beat_labels)
    n_samples = signal.shape[0]
    n_windows = max(0, (n_samples - start_sample) // window_samples)
    starts = start_sample + window_samples * np.arange(n_windows, dtype=np.int64)
    ends = starts + window_samples
    # beats [first[i], last[i]) fall in window i
    first = np.searchsorted(beat_samples, starts, side="left")
    last = np.searchsorted(beat_samples, ends, side="left")
    is_abnormal_beat = ~np.isin(beat_labels, list(normal_labels))
    abnormal_before = np.concatenate([[0], np.cumsum(is_abnormal_beat)])
    n_abnormal = abnormal_before[last] - abnormal_before[first]
    has_beat = last > first
    kept_starts = starts[has_beat]
    index = kept_starts[:, None] + np.arange(window_samples)[None, :]
    return Windows(
        signals=signal[index],
        labels=(n_abnormal[has_beat] > 0).astype(np.int64),
        start_samples=kept_starts,
        exclusions={
            "no_beat_annotation": int((~has_beat).sum()),
            "incomplete_tail": int(start_sample + n_windows * window_samples < n_samples),
        },
    )


def scaled_beat_windows(
    signal_mv: np.ndarray,
    fs_hz: float,
    beat_samples: np.ndarray,
    beat_labels: np.ndarray,
    *,
    band_hz: tuple[float, float] = (0.4, 30.0),
    filter_order: int = 3,
    normalise_range: tuple[float, float] = (0.0, 2.0),
    window_s: float = 1.0,
    window_samples_out: int = 128,
    normal_labels: tuple[str, ...] = VAVEKANAND_NORMAL_SYMBOLS,
    resample_method: str = "polyphase",
) -> Windows:
    """Vavekanand et al.'s windows of one record: scale the record, cut labelled windows, resample each.

    :func:`ecglib.preprocess.bandpass_minmax` over the whole record, :func:`fixed_windows` of
    ``round(window_s * fs_hz)`` samples, then :func:`ecglib.preprocess.resample_windows` to
    ``window_samples_out``.

    Parameters
    ----------
    signal_mv : ndarray of shape (n_samples,), one lead, millivolts
    fs_hz : its sampling rate in hertz
    beat_samples, beat_labels : beat annotations, as in :func:`fixed_windows`
    band_hz, filter_order, normalise_range : see :func:`ecglib.preprocess.bandpass_minmax`
    window_s : window length in seconds (paper: 1 s)
    window_samples_out : samples per window after resampling (paper: 128)
    normal_labels : labels that count as normal (see the module docstring)
    resample_method : "polyphase" or "fft", see :func:`ecglib.preprocess.resample_windows`

    Returns
    -------
    Windows
        ``signals`` (n_windows, window_samples_out) float32 in ``normalise_range``; ``labels``,
        ``start_samples`` (at ``fs_hz``) and ``exclusions`` as :func:`fixed_windows`.
    """
    scaled = preprocess.bandpass_minmax(
        signal_mv, fs_hz, band_hz=band_hz, filter_order=filter_order, normalise_range=normalise_range
    )
    cut = fixed_windows(
        scaled,
        beat_samples,
        beat_labels,
        window_samples=int(round(window_s * fs_hz)),
        normal_labels=tuple(normal_labels),
    )
    cut.signals = preprocess.resample_windows(cut.signals, window_samples_out, method=resample_method)
    return cut


def tiles(signal: np.ndarray, *, window_samples: int) -> Windows:
    """Unlabelled non-overlapping windows from the first sample; the incomplete tail is dropped.

    Parameters
    ----------
    signal : ndarray of shape (n_samples,) or (n_samples, n_leads), any units
    window_samples : window length in samples

    Returns
    -------
    Windows
        ``signals`` (n_samples // window_samples, window_samples[, n_leads]), ``labels`` all 0
        (unlabelled), ``exclusions["incomplete_tail"]`` (0 or 1).
    """
    if window_samples <= 0:
        raise ValueError(f"window_samples must be positive, got {window_samples}")
    signal = np.asarray(signal)
    n_windows = signal.shape[0] // window_samples
    return Windows(
        signals=signal[: n_windows * window_samples].reshape(n_windows, window_samples, *signal.shape[1:]),
        labels=np.zeros(n_windows, dtype=np.int64),
        start_samples=window_samples * np.arange(n_windows, dtype=np.int64),
        exclusions={"incomplete_tail": int(n_windows * window_samples < signal.shape[0])},
    )


def kachuee_r_peaks(window_01: np.ndarray, *, threshold: float = 0.9) -> np.ndarray:
    """R-peak candidates as in Kachuee et al.: local maxima (zero crossings of the first
    difference, from + to -) whose value in the [0, 1]-normalised window is >= ``threshold``.

    Parameters
    ----------
    window_01 : ndarray of shape (n_samples,), normalised to [0, 1]
    threshold : minimum normalised height of a candidate

    Returns
    -------
    ndarray of shape (n_peaks,), int64 sample indices
    """
    window_01 = np.asarray(window_01, dtype=np.float64)
    slope = np.diff(window_01)
    # a maximum where the slope goes from > 0 to <= 0
    maxima = np.flatnonzero((slope[:-1] > 0) & (slope[1:] <= 0)) + 1
    return maxima[window_01[maxima] >= threshold].astype(np.int64)


def kachuee_beat(
    window_01: np.ndarray,
    r_sample: int,
    rr_samples: float,
    *,
    rr_factor: float = KACHUEE_RR_FACTOR,
    beat_samples_out: int = KACHUEE_BEAT_SAMPLES,
) -> tuple[np.ndarray, int]:
    """One beat in the Kachuee format, cut from a normalised window.

    The ``round(rr_factor * rr_samples)`` samples from ``r_sample`` (fewer where the window
    ends), cut to ``beat_samples_out`` if longer and zero-padded to it. Used by
    :func:`kachuee_beats` and by the ``sim-beats`` simulator (``ecglib.data.simulated``).

    Parameters
    ----------
    window_01 : ndarray of shape (n_samples,), normalised to [0, 1]
    r_sample : R-peak sample in the window
    rr_samples : RR interval in samples (Kachuee et al.: the window's median)
    rr_factor : beat length as a multiple of the RR interval (1.2)
    beat_samples_out : fixed beat length in samples (187)

    Returns
    -------
    (beat, length) : ndarray of shape (beat_samples_out,), dtype of ``window_01``, and the
        number of samples of signal before the zero padding
    """
    beat_length = int(round(rr_factor * float(rr_samples)))
    piece = window_01[r_sample : r_sample + beat_length][:beat_samples_out]
    return preprocess.crop_or_pad(piece, beat_samples_out, where="end"), len(piece)


def kachuee_beats(
    signal_mv: np.ndarray,
    fs_hz: float,
    beat_samples: np.ndarray,
    beat_labels: np.ndarray,
    *,
    fs_out_hz: float = KACHUEE_FS_HZ,
    window_s: float = KACHUEE_WINDOW_S,
    beat_samples_out: int = KACHUEE_BEAT_SAMPLES,
    rr_factor: float = KACHUEE_RR_FACTOR,
) -> Beats:
    """Single beats in the format of Kachuee et al. 2018 (the Kaggle heartbeat CSVs).

    Steps: resample the lead to ``fs_out_hz`` (anti-aliased, :func:`ecglib.preprocess.resample`);
    cut non-overlapping ``window_s`` windows; min-max each window to [0, 1]; R peaks are the
    annotated beats (their samples rescaled to ``fs_out_hz``); T = median RR interval of the
    window's R peaks; each beat is the ``round(rr_factor * T)`` samples starting at its R peak
    (shorter where the window ends), cut to ``beat_samples_out`` if longer and zero-padded to it.

    Kachuee et al. found R peaks with a threshold detector (:func:`kachuee_r_peaks`) and
    labelled the beats from the annotations; using the annotated R peaks directly gives the
    same beats where the detector is right and avoids unlabelled detections. Beats in a
    window with fewer than two R peaks have no RR interval and are excluded
    (``exclusions["window_with_one_beat"]``); beats after the last complete window are
    excluded (``exclusions["incomplete_tail"]``).

    Parameters
    ----------
    signal_mv : ndarray of shape (n_samples,), one lead, millivolts
    fs_hz : its sampling rate in hertz
    beat_samples : ndarray of shape (n_beats,), R-peak sample indices at ``fs_hz``
    beat_labels : ndarray of shape (n_beats,), label of each beat (symbol or AAMI class)
    fs_out_hz : output rate in hertz (125)
    window_s : window length in seconds (10)
    beat_samples_out : fixed beat length in samples (187 = 1.5 s at 125 Hz)
    rr_factor : beat length as a multiple of the median RR interval (1.2)

    Returns
    -------
    Beats
        ``signals`` of shape (n_beats, beat_samples_out), float32 in [0, 1]
    """
    signal_mv = np.asarray(signal_mv)
    if signal_mv.ndim != 1:
        raise ValueError(f"kachuee_beats takes one lead of shape (n_samples,), got {signal_mv.shape}")
    beat_samples, beat_labels = _check_beats(beat_samples, beat_labels)
    resampled = preprocess.resample(signal_mv, fs_hz, fs_out_hz)
    r_out = np.round(beat_samples * (fs_out_hz / fs_hz)).astype(np.int64)
    window_out = int(round(window_s * fs_out_hz))
    n_windows = len(resampled) // window_out
    window_of_beat = r_out // window_out
    signals, labels, r_kept, lengths = [], [], [], []
    exclusions = {"window_with_one_beat": 0, "incomplete_tail": int((window_of_beat >= n_windows).sum())}
    for window_index in range(n_windows):
        in_window = np.flatnonzero(window_of_beat == window_index)
        if len(in_window) == 0:
            continue
        if len(in_window) < 2:
            exclusions["window_with_one_beat"] += len(in_window)
            continue
        start = window_index * window_out
        window_01 = preprocess.minmax(resampled[start : start + window_out], 0.0, 1.0, axis=0)
        peaks = r_out[in_window] - start
        rr_samples = float(np.median(np.diff(peaks)))
        for beat, peak in zip(in_window, peaks):
            signal, length = kachuee_beat(
                window_01, peak, rr_samples, rr_factor=rr_factor, beat_samples_out=beat_samples_out
            )
            signals.append(signal)
            labels.append(beat_labels[beat])
            r_kept.append(r_out[beat])
            lengths.append(length)
    return Beats(
        signals=np.asarray(signals, dtype=np.float32).reshape(-1, beat_samples_out),
        labels=np.asarray(labels, dtype=beat_labels.dtype),
        r_samples=np.asarray(r_kept, dtype=np.int64),
        lengths=np.asarray(lengths, dtype=np.int64),
        fs_hz=float(fs_out_hz),
        exclusions=exclusions,
    )


def rhythm_windows(
    signal: np.ndarray,
    rhythms: pd.DataFrame,
    *,
    window_samples: int,
    stride_samples: int | None = None,
    rhythm_labels: tuple[str, ...] | None = None,
) -> Windows:
    """Fixed-length windows lying wholly inside one rhythm interval, labelled with its rhythm.

    Windows are tiled from each interval's start with ``stride_samples`` (default:
    ``window_samples``, no overlap); a window never crosses a rhythm change. Interval tails
    shorter than a window are dropped; ``exclusions`` counts intervals that yield no window
    (``interval_shorter_than_window``) and intervals whose rhythm is not in
    ``rhythm_labels`` (``rhythm_not_selected``).

    Parameters
    ----------
    signal : ndarray of shape (n_samples,) or (n_samples, n_leads), any units
    rhythms : DataFrame with columns ``start_sample`` (inclusive), ``end_sample``
        (exclusive) and ``rhythm`` (as ``mitbih.load_annotations(...).rhythms``)
    window_samples : window length in samples (10 s at 360 Hz = 3600)
    stride_samples : step between window starts inside an interval
    rhythm_labels : keep only these rhythms (None: all)

    Returns
    -------
    Windows
        ``labels`` is a str array of rhythm labels.
    """
    if window_samples <= 0:
        raise ValueError(f"window_samples must be positive, got {window_samples}")
    stride_samples = window_samples if stride_samples is None else stride_samples
    if stride_samples <= 0:
        raise ValueError(f"stride_samples must be positive, got {stride_samples}")
    signal = np.asarray(signal)
    starts, labels = [], []
    exclusions = {"interval_shorter_than_window": 0, "rhythm_not_selected": 0}
    for start, end, rhythm in zip(rhythms["start_sample"], rhythms["end_sample"], rhythms["rhythm"]):
        if rhythm_labels is not None and rhythm not in rhythm_labels:
            exclusions["rhythm_not_selected"] += 1
            continue
        end = min(int(end), signal.shape[0])
        window_starts = np.arange(int(start), end - window_samples + 1, stride_samples, dtype=np.int64)
        if len(window_starts) == 0:
            exclusions["interval_shorter_than_window"] += 1
        starts.append(window_starts)
        labels.extend([rhythm] * len(window_starts))
    starts_array = np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)
    index = starts_array[:, None] + np.arange(window_samples)[None, :]
    return Windows(
        signals=signal[index],
        labels=np.asarray(labels, dtype=str),
        start_samples=starts_array,
        exclusions=exclusions,
    )
