"""Signal transformations of Kachuee-format beats for self-supervised transformation recognition.

A Kachuee beat (Kachuee et al. 2018; :func:`ecglib.segment.kachuee_beats`) is sampled at
125 Hz and zero-padded **after** the beat to 187 samples. Every transformation here acts on
the *unpadded* beat, the first ``length`` samples of the row, and the result is re-padded
with zeros to the row's length (187), as the Surrey COM3025 report describes ("applied
after the padding has been removed, and the padding is then reapplied").

How the unpadded length is known
--------------------------------
Pass ``lengths`` when you have them: :class:`ecglib.segment.Beats` carries ``lengths``
(the samples of signal before the padding). Where only the padded rows exist (the Kaggle
CSVs, a :class:`~ecglib.data.LabelledSet` of beats), :func:`unpadded_lengths` recovers the
length as one past the last non-zero sample, the rule of the authors' code. The beats are
min-max normalised to [0, 1] over a 10 s window, so a beat sample is exactly 0 only where
that window's minimum falls; when it falls on the last sample of the beat that sample is
taken for padding and the recovered length is one sample short. Measured on the 104,746
MLII beats of the 46 MIT-BIH records with that lead (``segment.kachuee_beats``): 72 beats
(0.07 %) recovered one sample short, none by more.

Short beats. A beat whose R peak lies near the end of its 10 s window is cut at the window
end (Kachuee's rule, kept by the segmenter): 1,272 of those MIT-BIH beats are shorter than
16 samples and one is empty. :func:`self_supervised_set` drops beats shorter than
``min_length_samples`` (default two shuffle segments) and counts them in ``exclusions``.

The eight versions (:data:`TRANSFORMATIONS`, in the order of the report's labels 0-7)
----------------------------------------------------------------------------------------
``original``     the beat itself.
``reversal``     time reversal of the unpadded beat (the report's "inversion").
``noise``        additive Gaussian noise, zero mean, on the unpadded samples only; its
                 standard deviation is set per beat from a requested SNR in dB
                 (``snr_db``; signal power = mean square of the unpadded beat, or its
                 variance with ``signal_power="variance"``), or fixed
                 (``noise_std``; the authors' code draws N(0, 0.1)). Sarkar & Etemad's
                 public SSL-ECG code draws N(1, sigma), which adds a DC offset: not done here.
``negation``     ``-x`` (the padding stays 0).
``scaling``      ``0.1 x`` (the report: "reduces the amplitude ... by a factor of 10").
``stretch``      time stretch by ``stretch_factor`` (2): the unpadded beat of ``n`` samples
                 becomes ``2 n`` samples (``scipy.signal.resample_poly``, polyphase
                 interpolation, ``padtype="line"`` so the ends do not droop towards 0).
                 A stretched beat longer than the row is **cropped at the end**: the first
                 187 samples are kept, because a Kachuee beat starts at its R peak and the
                 start holds the QRS complex. With the Kachuee rule (beat = 1.2 median RR)
                 every beat longer than 93 samples (RR > 0.62 s, heart rate < 97 bpm) is cropped.
``squeeze``      time compression by ``squeeze_factor`` (1/2): ``n`` samples become
                 ``ceil(n / 2)`` with the same anti-aliased polyphase filter (content above
                 31 Hz is removed rather than aliased).
``shuffle``      the unpadded beat is cut into consecutive segments of ``segment_samples``
                 (8, the authors' value; the last segment takes the remainder) that are
                 put back in a random order. A draw that leaves every segment in place is
                 drawn again, so a "shuffled" beat is never the original. The samples are a
                 permutation of the original's.

The authors' code, for comparison (``../shared/studies/REFERENCE-NOTES.md``): stretch and
squeeze act on the padded row (the padding is stretched with the beat); nothing is seeded.
Here everything random takes an explicit ``numpy.random.Generator``; the set builder
derives one per transformation from its ``seed`` with :func:`ecglib.seeds.derive_seed`.

Targets of the self-supervised set
----------------------------------
:func:`self_supervised_set` returns every beat in the 8 versions with one binary target
per head. Default (``original_head=True``): 8 heads, one per version **including the
original**, i.e. a one-hot row over the 8 versions. This follows the report (the 8
versions are "labelled from 0-7") and the authors' code (8 sigmoid heads fed the one-hot
columns of those labels), so each head's positive class is 1 version in 8 and its majority
rate is 7/8. ``original_head=False`` gives the Sarkar & Etemad layout instead: 7 heads,
one per transformation, and the original is the all-zeros row.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy import signal as scipy_signal

from ecglib.seeds import derive_seed

#: The eight versions of a beat, in the order of the report's labels 0-7.
TRANSFORMATIONS: tuple[str, ...] = (
    "original",
    "reversal",
    "noise",
    "negation",
    "scaling",
    "stretch",
    "squeeze",
    "shuffle",
)

KACHUEE_BEAT_SAMPLES = 187
#: Defaults of the transformations (report and authors' code; ``snr_db`` is our choice).
DEFAULT_SNR_DB = 15.0
AUTHORS_NOISE_STD = 0.1
DEFAULT_SCALE_FACTOR = 0.1
DEFAULT_STRETCH_FACTOR = 2.0
DEFAULT_SQUEEZE_FACTOR = 0.5
DEFAULT_SEGMENT_SAMPLES = 8


# --------------------------------------------------------------------------- lengths and checks


def unpadded_lengths(beats: np.ndarray) -> np.ndarray:
    """Samples of signal before the zero padding: one past the last non-zero sample of each row.

    Parameters
    ----------
    beats : ndarray of shape (n_beats, n_samples), zero-padded after each beat

    Returns
    -------
    ndarray of shape (n_beats,), int64; 0 for an all-zero row. See the module docstring for
    the case where a beat's own last samples are exactly 0.
    """
    beats = np.asarray(beats)
    if beats.ndim != 2:
        raise ValueError(f"beats must be (n_beats, n_samples), got shape {beats.shape}")
    nonzero = beats != 0
    last = beats.shape[1] - np.argmax(nonzero[:, ::-1], axis=1)
    return np.where(nonzero.any(axis=1), last, 0).astype(np.int64)


def _prepare(beats, lengths) -> tuple[np.ndarray, np.ndarray]:
    """``beats`` as float (n, n_samples) and checked ``lengths`` (recovered when None)."""
    beats = np.asarray(beats)
    if beats.ndim != 2:
        raise ValueError(f"beats must be (n_beats, n_samples), got shape {beats.shape}")
    if not np.issubdtype(beats.dtype, np.floating):
        beats = beats.astype(np.float32)
    if lengths is None:
        lengths = unpadded_lengths(beats)
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.shape != (len(beats),):
        raise ValueError(f"lengths must have shape ({len(beats)},), got {lengths.shape}")
    bad = np.flatnonzero((lengths < 1) | (lengths > beats.shape[1]))
    if len(bad):
        raise ValueError(
            f"{len(bad)} beat(s) have an unpadded length outside 1..{beats.shape[1]} "
            f"(first: beat {bad[0]}, length {lengths[bad[0]]}); an all-zero row has no beat to transform"
        )
    return beats, lengths


def _length_groups(lengths: np.ndarray):
    """(length, indices of the beats with that length) for each distinct length."""
    order = np.argsort(lengths, kind="stable")
    values, starts = np.unique(lengths[order], return_index=True)
    for value, group in zip(values, np.split(order, starts[1:])):
        yield int(value), group


def _padding_mask(lengths: np.ndarray, n_samples: int) -> np.ndarray:
    """True on the unpadded samples: (n_beats, n_samples) bool."""
    return np.arange(n_samples)[None, :] < lengths[:, None]


# --------------------------------------------------------------------------- the transformations


def time_reversal(beats: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """Reverse each unpadded beat in time; the padding stays at the end.

    Parameters
    ----------
    beats : ndarray of shape (n_beats, n_samples), zero-padded after each beat
    lengths : ndarray of shape (n_beats,), int, unpadded lengths; None: :func:`unpadded_lengths`

    Returns
    -------
    ndarray of shape (n_beats, n_samples), same dtype: ``out[i, :n] = beats[i, n-1::-1]``
    """
    beats, lengths = _prepare(beats, lengths)
    columns = np.arange(beats.shape[1])[None, :]
    source = np.where(columns < lengths[:, None], lengths[:, None] - 1 - columns, columns)
    return np.take_along_axis(beats, source, axis=1)


def negation(beats: np.ndarray) -> np.ndarray:
    """``-beats`` (the zero padding is unchanged); shape (n_beats, n_samples)."""
    return -np.asarray(beats)


def amplitude_scaling(beats: np.ndarray, factor: float = DEFAULT_SCALE_FACTOR) -> np.ndarray:
    """``factor * beats`` (report: 0.1, "reduces the amplitude ... by a factor of 10")."""
    return np.asarray(beats) * np.asarray(factor, dtype=np.asarray(beats).dtype)


def gaussian_noise(
    beats: np.ndarray,
    lengths: np.ndarray | None = None,
    *,
    rng: np.random.Generator,
    snr_db: float | None = DEFAULT_SNR_DB,
    noise_std: float | None = None,
    signal_power: str = "mean_square",
) -> np.ndarray:
    """Add zero-mean Gaussian noise to the unpadded samples of each beat.

    Exactly one of ``snr_db`` and ``noise_std`` is used: with ``snr_db`` the noise standard
    deviation of beat ``i`` is ``sqrt(P_i / 10**(snr_db / 10))`` where ``P_i`` is the mean
    square of its unpadded samples (so the expected noise power is ``P_i / 10**(snr_db/10)``),
    or their variance with ``signal_power="variance"`` (the power of the waveform without its
    mean: Kachuee beats in [0, 1] sit on a baseline of about 0.3-0.5, which dominates the
    mean square);
    with ``noise_std`` (pass ``snr_db=None``) every beat gets the same standard deviation
    (the authors' code: 0.1 on beats in [0, 1]).

    Parameters
    ----------
    beats : ndarray of shape (n_beats, n_samples), zero-padded after each beat
    lengths : ndarray of shape (n_beats,), int; None: :func:`unpadded_lengths`
    rng : numpy Generator (the only source of randomness)
    snr_db : signal-to-noise ratio in decibels
    noise_std : fixed noise standard deviation, in the units of ``beats``
    signal_power : "mean_square" (default) or "variance", the ``P_i`` of the SNR

    Returns
    -------
    ndarray of shape (n_beats, n_samples), same dtype; the padding stays 0.
    """
    if signal_power not in ("mean_square", "variance"):
        raise ValueError(f"signal_power must be 'mean_square' or 'variance', got {signal_power!r}")
    if (snr_db is None) == (noise_std is None):
        raise ValueError(
            f"give exactly one of snr_db and noise_std, got snr_db={snr_db}, noise_std={noise_std}"
        )
    beats, lengths = _prepare(beats, lengths)
    inside = _padding_mask(lengths, beats.shape[1])
    if snr_db is not None:
        values = beats.astype(np.float64)
        if signal_power == "variance":
            means = np.sum(np.where(inside, values, 0.0), axis=1) / lengths
            values = values - means[:, None]
        power = np.sum(np.where(inside, values**2, 0.0), axis=1) / lengths
        std = np.sqrt(power / 10.0 ** (snr_db / 10.0))
    else:
        if noise_std < 0:
            raise ValueError(f"noise_std must be >= 0, got {noise_std}")
        std = np.full(len(beats), float(noise_std))
    noise = rng.standard_normal(beats.shape) * std[:, None]
    return (beats + np.where(inside, noise, 0.0)).astype(beats.dtype)


def _ratio(factor: float, name: str) -> Fraction:
    if not factor > 0:
        raise ValueError(f"{name} must be positive, got {factor}")
    ratio = Fraction(factor).limit_denominator(100)
    if abs(float(ratio) - factor) > 1e-9:
        raise ValueError(f"{name}={factor} is not a ratio of small integers (denominator <= 100)")
    return ratio


def time_scaling(beats: np.ndarray, lengths: np.ndarray | None = None, *, factor: float) -> np.ndarray:
    """Resample each unpadded beat to ``ceil(factor * n)`` samples, then re-pad (or crop) to the row.

    ``factor > 1`` stretches (slower beat), ``factor < 1`` squeezes. Uses
    ``scipy.signal.resample_poly`` (polyphase, anti-aliased, ``padtype="line"``), vectorised
    over the beats of equal length. A result longer than the row is cropped at the end (the
    start holds the R peak; see the module docstring).

    Parameters
    ----------
    beats : ndarray of shape (n_beats, n_samples), zero-padded after each beat
    lengths : ndarray of shape (n_beats,), int; None: :func:`unpadded_lengths`
    factor : length factor, a ratio of small integers (2, 1/2, 3/2...)

    Returns
    -------
    ndarray of shape (n_beats, n_samples), same dtype. The new unpadded length is
    ``min(ceil(factor * n), n_samples)``.
    """
    ratio = _ratio(factor, "factor")
    beats, lengths = _prepare(beats, lengths)
    n_samples = beats.shape[1]
    out = np.zeros_like(beats)
    for length, group in _length_groups(lengths):
        if length == 1:
            resampled = np.repeat(beats[group, :1], int(np.ceil(float(ratio))), axis=1)
        else:
            resampled = scipy_signal.resample_poly(
                beats[group, :length].astype(np.float64),
                ratio.numerator,
                ratio.denominator,
                axis=1,
                padtype="line",
            )
        kept = min(resampled.shape[1], n_samples)
        out[group, :kept] = resampled[:, :kept]
    return out


def stretch(
    beats: np.ndarray, lengths: np.ndarray | None = None, *, factor: float = DEFAULT_STRETCH_FACTOR
) -> np.ndarray:
    """Stretch each unpadded beat by ``factor`` (2), cropped at the end to the row; see :func:`time_scaling`."""
    if not factor > 1:
        raise ValueError(f"a stretch factor must be > 1, got {factor}")
    return time_scaling(beats, lengths, factor=factor)


def squeeze(
    beats: np.ndarray, lengths: np.ndarray | None = None, *, factor: float = DEFAULT_SQUEEZE_FACTOR
) -> np.ndarray:
    """Squeeze each unpadded beat by ``factor`` (1/2) and re-pad; see :func:`time_scaling`."""
    if not 0 < factor < 1:
        raise ValueError(f"a squeeze factor must be in (0, 1), got {factor}")
    return time_scaling(beats, lengths, factor=factor)


def segment_bounds(length: int, segment_samples: int) -> np.ndarray:
    """Boundaries of the consecutive segments of a beat of ``length`` samples.

    ``length // segment_samples`` segments of ``segment_samples``, the last one taking the
    remainder (the authors' rule). Returns an int64 array of shape (n_segments + 1,) from 0 to
    ``length``.
    """
    n_segments = max(length // segment_samples, 1)
    bounds = np.arange(n_segments + 1, dtype=np.int64) * segment_samples
    bounds[-1] = length
    return bounds


def segment_shuffle(
    beats: np.ndarray,
    lengths: np.ndarray | None = None,
    *,
    rng: np.random.Generator,
    segment_samples: int = DEFAULT_SEGMENT_SAMPLES,
) -> np.ndarray:
    """Cut each unpadded beat into segments and put them back in a random, non-identity order.

    Parameters
    ----------
    beats : ndarray of shape (n_beats, n_samples), zero-padded after each beat
    lengths : ndarray of shape (n_beats,), int; None: :func:`unpadded_lengths`
    rng : numpy Generator (the only source of randomness)
    segment_samples : samples per segment (8, the authors' value); the last segment takes the
        remainder, see :func:`segment_bounds`

    Returns
    -------
    ndarray of shape (n_beats, n_samples), same dtype: each unpadded beat's samples permuted
    segment-wise, the padding unchanged.

    Raises
    ------
    ValueError
        a beat has fewer than two segments (shorter than ``2 * segment_samples``), so it
        cannot be shuffled.
    """
    if segment_samples < 1:
        raise ValueError(f"segment_samples must be >= 1, got {segment_samples}")
    beats, lengths = _prepare(beats, lengths)
    short = np.flatnonzero(lengths < 2 * segment_samples)
    if len(short):
        raise ValueError(
            f"{len(short)} beat(s) are shorter than two segments of {segment_samples} samples "
            f"(first: beat {short[0]}, length {lengths[short[0]]}) and cannot be shuffled"
        )
    out = beats.copy()
    for length, group in _length_groups(lengths):
        bounds = segment_bounds(length, segment_samples)
        n_segments = len(bounds) - 1
        identity = np.arange(n_segments)
        orders = rng.permuted(np.tile(identity, (len(group), 1)), axis=1)
        unchanged = np.flatnonzero((orders == identity).all(axis=1))
        while len(unchanged):  # a shuffle equal to the original would carry a false label
            orders[unchanged] = rng.permuted(np.tile(identity, (len(unchanged), 1)), axis=1)
            unchanged = unchanged[(orders[unchanged] == identity).all(axis=1)]
        pieces = [np.arange(bounds[k], bounds[k + 1]) for k in range(n_segments)]
        source = np.stack([np.concatenate([pieces[k] for k in order]) for order in orders])
        out[group, :length] = np.take_along_axis(beats[group, :length], source, axis=1)
    return out


# --------------------------------------------------------------------------- all versions at once


@dataclass(frozen=True)
class TransformParams:
    """Parameters of the eight versions (defaults: the report / authors' values, SNR ours)."""

    snr_db: float | None = DEFAULT_SNR_DB
    noise_std: float | None = None
    snr_signal_power: str = "mean_square"
    scale_factor: float = DEFAULT_SCALE_FACTOR
    stretch_factor: float = DEFAULT_STRETCH_FACTOR
    squeeze_factor: float = DEFAULT_SQUEEZE_FACTOR
    segment_samples: int = DEFAULT_SEGMENT_SAMPLES


def transform_all(
    beats: np.ndarray,
    lengths: np.ndarray | None = None,
    *,
    seed: int,
    params: TransformParams = TransformParams(),
) -> dict[str, np.ndarray]:
    """Every beat in the eight versions of :data:`TRANSFORMATIONS`.

    Parameters
    ----------
    beats : ndarray of shape (n_beats, n_samples), zero-padded after each beat
    lengths : ndarray of shape (n_beats,), int; None: :func:`unpadded_lengths`
    seed : run seed; the noise and the shuffle draw from
        ``derive_seed(seed, "transforms", name)``
    params : the transformations' parameters

    Returns
    -------
    dict name -> ndarray of shape (n_beats, n_samples), in :data:`TRANSFORMATIONS` order.
    """
    beats, lengths = _prepare(beats, lengths)

    def rng(name: str) -> np.random.Generator:
        return np.random.default_rng(derive_seed(seed, "transforms", name))

    return {
        "original": beats.copy(),
        "reversal": time_reversal(beats, lengths),
        "noise": gaussian_noise(
            beats,
            lengths,
            rng=rng("noise"),
            snr_db=params.snr_db,
            noise_std=params.noise_std,
            signal_power=params.snr_signal_power,
        ),
        "negation": negation(beats),
        "scaling": amplitude_scaling(beats, params.scale_factor),
        "stretch": stretch(beats, lengths, factor=params.stretch_factor),
        "squeeze": squeeze(beats, lengths, factor=params.squeeze_factor),
        "shuffle": segment_shuffle(
            beats, lengths, rng=rng("shuffle"), segment_samples=params.segment_samples
        ),
    }


@dataclass
class SelfSupervisedSet:
    """Every beat in eight versions with binary transformation targets.

    ``n_beats`` below is the number of input beats kept (see ``exclusions``).

    Attributes
    ----------
    signals : ndarray of shape (n_beats * 8, n_samples) or (n_beats * 8, n_samples, 1) (the
        input's layout), version-major: rows ``k * n_beats + i`` hold version ``k`` of beat ``i``
    targets : ndarray of shape (n_beats * 8, n_heads), float32 0/1; column ``j`` is head
        ``head_names[j]``
    versions : ndarray of shape (n_beats * 8,), int64, index into :data:`TRANSFORMATIONS`
    beat_index : ndarray of shape (n_beats * 8,), int64, the source beat of each row (its index
        in the input, so it maps back to the input's patients); split the
        self-supervised set on it (or on the beats' patients) so that no beat has versions on
        both sides
    head_names : names of the target columns
    exclusions : reason -> number of input beats left out (``shorter_than_min_length``)
    """

    signals: np.ndarray
    targets: np.ndarray
    versions: np.ndarray
    beat_index: np.ndarray
    head_names: tuple[str, ...]
    exclusions: dict[str, int]

    def __len__(self) -> int:
        return len(self.versions)


def self_supervised_set(
    beats: np.ndarray,
    lengths: np.ndarray | None = None,
    *,
    seed: int,
    params: TransformParams = TransformParams(),
    original_head: bool = True,
    min_length_samples: int | None = None,
) -> SelfSupervisedSet:
    """The self-supervised set: each beat in the 8 versions, one binary target per head.

    Parameters
    ----------
    beats : ndarray of shape (n_beats, n_samples) or (n_beats, n_samples, 1), zero-padded
        after each beat (a Kachuee beat set; labels are not used)
    lengths : ndarray of shape (n_beats,), int; None: :func:`unpadded_lengths`
    seed : run seed (see :func:`transform_all`)
    params : the transformations' parameters
    original_head : True (default; report and authors' code): 8 heads, one per version
        including the original, one-hot targets, majority rate 7/8 per head. False (Sarkar
        & Etemad): 7 heads, one per transformation, the original is the all-zeros row.
    min_length_samples : beats with fewer unpadded samples are left out (counted in
        ``exclusions``); default ``2 * params.segment_samples``, the shortest beat that can
        be shuffled

    Returns
    -------
    SelfSupervisedSet
    """
    beats = np.asarray(beats)
    with_channel = beats.ndim == 3
    if with_channel:
        if beats.shape[2] != 1:
            raise ValueError(f"beats must have one lead, got shape {beats.shape}")
        beats = beats[:, :, 0]
    lengths = unpadded_lengths(beats) if lengths is None else np.asarray(lengths, dtype=np.int64)
    if lengths.shape != (len(beats),):
        raise ValueError(f"lengths must have shape ({len(beats)},), got {lengths.shape}")
    if min_length_samples is None:
        min_length_samples = 2 * params.segment_samples
    kept = np.flatnonzero(lengths >= min_length_samples)
    versions = transform_all(beats[kept], lengths[kept], seed=seed, params=params)
    n_beats = len(kept)
    signals = np.concatenate([versions[name] for name in TRANSFORMATIONS])
    version_ids = np.repeat(np.arange(len(TRANSFORMATIONS), dtype=np.int64), n_beats)
    one_hot = np.eye(len(TRANSFORMATIONS), dtype=np.float32)[version_ids]
    head_names = TRANSFORMATIONS if original_head else TRANSFORMATIONS[1:]
    targets = one_hot if original_head else one_hot[:, 1:]
    return SelfSupervisedSet(
        signals=signals[:, :, None] if with_channel else signals,
        targets=np.ascontiguousarray(targets),
        versions=version_ids,
        beat_index=np.tile(kept.astype(np.int64), len(TRANSFORMATIONS)),
        head_names=tuple(head_names),
        exclusions={"shorter_than_min_length": int(len(beats) - n_beats)},
    )
