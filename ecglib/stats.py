"""Resampling and statistical tests: seeded bootstraps, training subsets, Welch and paired tests.

Every random function takes ``seed`` and draws from its own ``np.random.default_rng(seed)``
(or passes ``seed`` as scikit-learn's ``random_state``); the global RNG is never touched, and
the same seed gives the same result. Tests come from statsmodels and scipy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.stats
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import ttest_ind

__all__ = [
    "bootstrap_indices",
    "subsample_indices",
    "mean_sd",
    "format_mean_sd",
    "format_p",
    "compare_samples",
    "Comparison",
    "TWO_SAMPLE_TESTS",
    "rank_correlation",
    "CorrelationResult",
    "SD_CONVENTIONS",
    "welch_ttest",
    "paired_test",
    "bootstrap_ci",
    "adjust_pvalues",
    "WelchResult",
    "PairedTestResult",
    "BootstrapCI",
]


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return int(seed)


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _sample(values, name: str, *, min_size: int = 1) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if array.size < min_size:
        raise ValueError(f"{name} needs at least {min_size} values, got {array.size}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


# --------------------------------------------------------------------------- resampling


def bootstrap_indices(n_items: int, n_rounds: int, *, seed: int) -> np.ndarray:
    """Resampling indices drawn with replacement; the same seed gives the same rows.

    Parameters
    ----------
    n_items : int, the number of items to resample
    n_rounds : int, the number of bootstrap rounds
    seed : int

    Returns
    -------
    ndarray of shape (n_rounds, n_items), int64, values in ``[0, n_items)``
    """
    n_items = _check_positive_int(n_items, "n_items")
    n_rounds = _check_positive_int(n_rounds, "n_rounds")
    rng = np.random.default_rng(_check_seed(seed))
    return rng.integers(0, n_items, size=(n_rounds, n_items), dtype=np.int64)


def _majority_label(labels: np.ndarray) -> object:
    values, counts = np.unique(labels, return_counts=True)
    return values[np.argmax(counts)]  # ties: the smallest label, deterministically


def subsample_indices(
    labels,
    fraction: float,
    n_rounds: int,
    *,
    seed: int,
    stratify: bool = True,
    patient_ids=None,
) -> list[np.ndarray]:
    """Repeated random subsets of a training set without replacement (e.g. 10 trials of 25 %).

    Parameters
    ----------
    labels : array-like of shape (n_examples,)
        Class ids used for stratification (any hashable values). Multi-label targets
        ``(n_examples, n_classes)`` are stratified on their label combination.
    fraction : float in (0, 1]
        Share of the units (examples, or patients when ``patient_ids`` is given) kept.
        ``1.0`` returns every example in every round.
    n_rounds : int, the number of subsets
    seed : int
    stratify : bool, default=True
        Keep the class proportions (:class:`sklearn.model_selection.StratifiedShuffleSplit`);
        otherwise a plain :class:`~sklearn.model_selection.ShuffleSplit`. Every class then
        needs at least 2 units.
    patient_ids : array-like of shape (n_examples,), optional
        When given, *patients* are drawn (each stratified by its most frequent label) and all
        of a chosen patient's examples are kept, so a subset never splits a patient.

    Returns
    -------
    list of n_rounds sorted int64 arrays of example indices into ``labels``.

    Raises
    ------
    ValueError
        Bad fraction or sizes, or a class too small to stratify (the message says which).
    """
    labels = np.asarray(labels)
    if labels.ndim == 2:
        labels = np.array(["|".join(map(str, row)) for row in labels.astype(np.int64)])
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D array, got shape {labels.shape}")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction}")
    n_rounds = _check_positive_int(n_rounds, "n_rounds")
    seed = _check_seed(seed)
    n_examples = len(labels)
    if patient_ids is None:
        unit_of_example = np.arange(n_examples)
        unit_labels = labels
    else:
        patient_ids = np.asarray(patient_ids)
        if patient_ids.shape != (n_examples,):
            raise ValueError(f"patient_ids must have shape ({n_examples},), got {patient_ids.shape}")
        patients, unit_of_example = np.unique(patient_ids, return_inverse=True)
        unit_labels = np.array(
            [_majority_label(labels[unit_of_example == unit]) for unit in range(len(patients))]
        )
    n_units = len(unit_labels)
    if fraction == 1:
        return [np.arange(n_examples, dtype=np.int64) for _ in range(n_rounds)]
    n_keep = int(round(fraction * n_units))
    if n_keep < 1:
        raise ValueError(f"fraction {fraction} of {n_units} units keeps none; raise the fraction")
    if n_keep == n_units:
        return [np.arange(n_examples, dtype=np.int64) for _ in range(n_rounds)]
    if stratify:
        classes, counts = np.unique(unit_labels, return_counts=True)
        if counts.min() < 2:
            raise ValueError(
                f"cannot stratify: class {classes[np.argmin(counts)]!r} has only {counts.min()} "
                f"{'patient' if patient_ids is not None else 'example'}; pass stratify=False"
            )
        if n_keep < len(classes) or n_units - n_keep < len(classes):
            raise ValueError(
                f"cannot stratify {n_keep} of {n_units} units over {len(classes)} classes; "
                "change the fraction or pass stratify=False"
            )
        splitter = StratifiedShuffleSplit(n_splits=n_rounds, train_size=n_keep, random_state=seed)
    else:
        splitter = ShuffleSplit(n_splits=n_rounds, train_size=n_keep, random_state=seed)
    subsets = []
    for kept_units, _ in splitter.split(np.zeros((n_units, 1)), unit_labels):
        keep = np.isin(unit_of_example, kept_units)
        subsets.append(np.flatnonzero(keep).astype(np.int64))
    return subsets


# --------------------------------------------------------------------------- summaries


#: the SD conventions a summary can state: ddof=1 is the sample SD (our default), ddof=0 the
#: population SD (what e.g. Jang et al. 2021 printed)
SD_CONVENTIONS = {1: "sample SD (ddof=1)", 0: "population SD (ddof=0)"}


def _check_ddof(ddof) -> int:
    if ddof not in SD_CONVENTIONS or isinstance(ddof, bool):
        raise ValueError(f"ddof must be 0 (population SD) or 1 (sample SD), got {ddof!r}")
    return int(ddof)


def mean_sd(values, *, ddof: int = 1) -> tuple[float, float]:
    """Mean and standard deviation of a 1-D sample.

    Parameters
    ----------
    values : array-like of shape (n,), n >= 1, no NaN
    ddof : {1, 0}, default=1
        1: sample SD (divides by n - 1); 0: population SD (divides by n).
        :data:`SD_CONVENTIONS` names each, for table captions.

    Returns
    -------
    (mean, sd) : floats; with ``ddof=1`` ``sd`` is ``nan`` for a single value.
    """
    ddof = _check_ddof(ddof)
    sample = _sample(values, "values")
    sd = float(np.std(sample, ddof=ddof)) if sample.size > ddof else float("nan")
    return float(np.mean(sample)), sd


def format_mean_sd(values, *, digits: int = 3, scale: float = 1.0, ddof: int = 1) -> str:
    """``"mean ± sd"`` of a sample, e.g. ``"0.812 ± 0.013"`` (``scale=100`` for percent).

    ``ddof`` as in :func:`mean_sd`; the caller's table states which (:data:`SD_CONVENTIONS`).
    """
    mean, sd = mean_sd(np.asarray(values, dtype=np.float64) * scale, ddof=ddof)
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def format_p(p: float) -> str:
    """A p-value for a table: ``"<0.001"``, three decimals, or ``"n/a"`` when it is not finite."""
    if p is None or not np.isfinite(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


# --------------------------------------------------------------------------- tests


@dataclass(frozen=True)
class WelchResult:
    """Welch's unequal-variance t-test: ``t`` statistic, two-sided (or chosen) ``p``, ``df``."""

    t: float
    p: float
    df: float
    alternative: str = "two-sided"


def welch_ttest(a, b, *, alternative: str = "two-sided") -> WelchResult:
    """Welch's t-test of equal means (statsmodels ``ttest_ind(..., usevar="unequal")``).

    Parameters
    ----------
    a, b : array-like of shape (n_a,), (n_b,); each needs at least 2 values
    alternative : {"two-sided", "larger", "smaller"}, default="two-sided"
        statsmodels' names: "larger" tests mean(a) > mean(b).

    Returns
    -------
    WelchResult(t, p, df) with Welch-Satterthwaite degrees of freedom.
    """
    sample_a = _sample(a, "a", min_size=2)
    sample_b = _sample(b, "b", min_size=2)
    if alternative not in ("two-sided", "larger", "smaller"):
        raise ValueError(f"alternative must be 'two-sided', 'larger' or 'smaller', got {alternative!r}")
    t, p, df = ttest_ind(sample_a, sample_b, alternative=alternative, usevar="unequal")
    return WelchResult(t=float(t), p=float(p), df=float(df), alternative=alternative)


@dataclass(frozen=True)
class PairedTestResult:
    """A paired test: which ``method`` ran, its ``statistic``, ``p`` and the number of pairs ``n``."""

    method: str
    statistic: float
    p: float
    n: int


PAIRED_METHODS = {
    "ttest": "paired t-test (scipy.stats.ttest_rel)",
    "wilcoxon": "Wilcoxon signed-rank test (scipy.stats.wilcoxon)",
}


def paired_test(a, b, *, method: str = "ttest", alternative: str = "two-sided") -> PairedTestResult:
    """Paired comparison of two matched samples (e.g. the same bootstrap trials, two models).

    Parameters
    ----------
    a, b : array-like of shape (n_pairs,), matched element by element, ``n_pairs >= 2``
    method : {"ttest", "wilcoxon"}, default="ttest"
        ``"ttest"``: :func:`scipy.stats.ttest_rel` (statistic = t);
        ``"wilcoxon"``: :func:`scipy.stats.wilcoxon` (statistic = W, scipy's defaults:
        zero differences dropped, exact or normal approximation chosen by scipy).
    alternative : {"two-sided", "greater", "less"}, default="two-sided"
        scipy's names, about ``a - b``.

    Returns
    -------
    PairedTestResult(method, statistic, p, n); ``method`` is the full name of the test run.
    """
    sample_a = _sample(a, "a", min_size=2)
    sample_b = _sample(b, "b", min_size=2)
    if sample_a.shape != sample_b.shape:
        raise ValueError(f"paired samples must have equal length, got {sample_a.size} and {sample_b.size}")
    if method not in PAIRED_METHODS:
        raise ValueError(f"method must be one of {sorted(PAIRED_METHODS)}, got {method!r}")
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"alternative must be 'two-sided', 'greater' or 'less', got {alternative!r}")
    if method == "ttest":
        result = scipy.stats.ttest_rel(sample_a, sample_b, alternative=alternative)
    else:
        if np.all(sample_a == sample_b):
            raise ValueError("Wilcoxon test undefined: every paired difference is zero")
        result = scipy.stats.wilcoxon(sample_a, sample_b, alternative=alternative)
    return PairedTestResult(
        method=PAIRED_METHODS[method],
        statistic=float(result.statistic),
        p=float(result.pvalue),
        n=int(sample_a.size),
    )


@dataclass(frozen=True)
class CorrelationResult:
    """A rank correlation: Spearman's ``rho``, its two-sided ``p`` and the number of pairs ``n``."""

    rho: float
    p: float
    n: int


def rank_correlation(x, y) -> CorrelationResult:
    """Spearman rank correlation of two matched samples (:func:`scipy.stats.spearmanr`, ties averaged).

    ``x`` and ``y``: array-like of shape (n,), ``n >= 3``, no NaN. A constant sample has no
    rank correlation: ``rho`` and ``p`` are then NaN (scipy's result), never an error.
    """
    sample_x = _sample(x, "x", min_size=3)
    sample_y = _sample(y, "y", min_size=3)
    if sample_x.shape != sample_y.shape:
        raise ValueError(f"matched samples must have equal length, got {sample_x.size} and {sample_y.size}")
    if np.all(sample_x == sample_x[0]) or np.all(sample_y == sample_y[0]):
        return CorrelationResult(rho=float("nan"), p=float("nan"), n=int(sample_x.size))
    result = scipy.stats.spearmanr(sample_x, sample_y)
    return CorrelationResult(rho=float(result.statistic), p=float(result.pvalue), n=int(sample_x.size))


#: the two-sample tests a paper-vs-ours table or a claim can name
TWO_SAMPLE_TESTS = {
    "welch": "Welch's t-test",
    "paired_t": "paired t-test",
    "wilcoxon": "Wilcoxon signed-rank test",
    "mann_whitney": "Mann-Whitney U test",
    "mcnemar": "McNemar's test",
}
#: the unpaired ones (the others need equal-length paired samples)
UNPAIRED_TESTS = ("welch", "mann_whitney")


@dataclass(frozen=True)
class Comparison:
    """Two samples compared by a named ``test``: means, two-sided ``p`` and sizes (``n_a``, ``n_b``)."""

    test: str
    mean_a: float
    mean_b: float
    p: float
    n_a: int
    n_b: int

    @property
    def difference(self) -> float:
        """``mean_a - mean_b``."""
        return self.mean_a - self.mean_b

    @property
    def n_text(self) -> str:
        """Sample sizes for a table: ``"10 pairs"`` for paired tests, else ``"10 vs 10"``."""
        return f"{self.n_a} vs {self.n_b}" if self.test in UNPAIRED_TESTS else f"{self.n_a} pairs"


def compare_samples(a, b, *, test: str = "welch") -> Comparison:
    """Means of two samples and the two-sided p of ``test`` (a key of :data:`TWO_SAMPLE_TESTS`).

    Degenerate samples give a p instead of an error, so a table can still be printed: fewer than
    two values on a side (paired: fewer than two pairs) give NaN; two constant samples give NaN when
    equal and 0.0 when they differ (Welch), and a paired sample whose differences are all equal gives
    NaN when they are zero and 0.0 otherwise.

    Parameters
    ----------
    a, b : array-like of shape (n_a,), (n_b,); paired tests need ``n_a == n_b``
    test : {"welch", "mann_whitney", "paired_t", "wilcoxon", "mcnemar"}, default="welch"
        ``mann_whitney``: two-sided rank test (``scipy.stats.mannwhitneyu``), robust to a few huge
        values; NaN with fewer than two values on a side or when every value is tied.
        ``mcnemar``: two classifiers on the same test items, ``a`` and ``b`` their 0/1 correctness
        per item (the means are their accuracies); statsmodels' McNemar test on the discordant
        pairs (exact binomial below 25 of them, else chi-square with continuity correction); NaN
        when no item is discordant.

    Returns
    -------
    Comparison(test, mean_a, mean_b, p, n_a, n_b); means are NaN for an empty side.
    """
    if test not in TWO_SAMPLE_TESTS:
        raise ValueError(f"test must be one of {sorted(TWO_SAMPLE_TESTS)}, got {test!r}")
    sample_a, sample_b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if sample_a.ndim != 1 or sample_b.ndim != 1:
        raise ValueError(f"samples must be 1-D, got shapes {sample_a.shape} and {sample_b.shape}")
    mean_a = float(np.mean(sample_a)) if sample_a.size else float("nan")
    mean_b = float(np.mean(sample_b)) if sample_b.size else float("nan")
    p = float("nan")
    if test == "welch":
        if sample_a.size >= 2 and sample_b.size >= 2:
            if np.ptp(sample_a) == 0 and np.ptp(sample_b) == 0:
                p = float("nan") if sample_a[0] == sample_b[0] else 0.0
            else:
                p = welch_ttest(sample_a, sample_b).p
    elif test == "mann_whitney":
        if sample_a.size >= 2 and sample_b.size >= 2 and np.ptp(np.concatenate([sample_a, sample_b])) > 0:
            p = float(scipy.stats.mannwhitneyu(sample_a, sample_b, alternative="two-sided").pvalue)
    else:
        if sample_a.shape != sample_b.shape:
            raise ValueError(
                f"paired samples must have equal length, got {sample_a.size} and {sample_b.size}"
            )
        if test == "mcnemar":
            p = _mcnemar_p(sample_a, sample_b)
        elif sample_a.size >= 2:
            differences = sample_a - sample_b
            if np.ptp(differences) == 0:
                p = float("nan") if differences[0] == 0 else 0.0
            else:
                method = "ttest" if test == "paired_t" else "wilcoxon"
                p = paired_test(sample_a, sample_b, method=method).p
    return Comparison(
        test=test, mean_a=mean_a, mean_b=mean_b, p=p, n_a=int(sample_a.size), n_b=int(sample_b.size)
    )


def _mcnemar_p(correct_a: np.ndarray, correct_b: np.ndarray) -> float:
    """Two-sided McNemar p of two 0/1 correctness vectors over the same items (NaN: no discordant item)."""
    for name, sample in (("a", correct_a), ("b", correct_b)):
        if not np.isin(sample, (0.0, 1.0)).all():
            raise ValueError(f"McNemar's test needs 0/1 correctness values, sample {name} has others")
    only_a = int(np.sum((correct_a == 1) & (correct_b == 0)))
    only_b = int(np.sum((correct_a == 0) & (correct_b == 1)))
    if only_a + only_b == 0:
        return float("nan")
    both = int(np.sum((correct_a == 1) & (correct_b == 1)))
    neither = int(np.sum((correct_a == 0) & (correct_b == 0)))
    table = [[both, only_a], [only_b, neither]]
    return float(mcnemar(table, exact=only_a + only_b < 25, correction=True).pvalue)


def adjust_pvalues(pvalues, *, method: str = "holm") -> np.ndarray:
    """Multiple-testing adjusted p-values (statsmodels ``multipletests``; e.g. "holm", "fdr_bh")."""
    p = _sample(pvalues, "pvalues")
    if np.any((p < 0) | (p > 1)):
        raise ValueError("pvalues must lie in [0, 1]")
    return multipletests(p, method=method)[1]


# --------------------------------------------------------------------------- bootstrap CI


@dataclass(frozen=True)
class BootstrapCI:
    """A percentile bootstrap confidence interval.

    ``estimate`` is the statistic on the full data; ``n_valid`` counts the rounds whose
    statistic was finite (e.g. an AUC is undefined when a resample holds one class).
    """

    estimate: float
    lower: float
    upper: float
    confidence: float
    n_rounds: int
    n_valid: int


def bootstrap_ci(
    data,
    statistic: Callable[..., float] = np.mean,
    *,
    n_rounds: int = 1000,
    confidence: float = 0.95,
    seed: int,
) -> BootstrapCI:
    """Percentile bootstrap CI of a statistic, resampling examples with replacement.

    Parameters
    ----------
    data : array-like of shape (n_examples, ...) or a tuple of such arrays
        One sample (e.g. per-example errors), or arrays resampled *together* along axis 0,
        e.g. ``(y_true, y_score)``.
    statistic : callable, default=np.mean
        Called as ``statistic(sample)`` or ``statistic(*arrays)``, returns a float
        (e.g. :func:`ecglib.metrics.roc_auc`).
    n_rounds : int, default=1000
    confidence : float in (0, 1), default=0.95
    seed : int

    Returns
    -------
    BootstrapCI(estimate, lower, upper, confidence, n_rounds, n_valid): the
    ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` percentiles of the finite
    bootstrap statistics.
    """
    arrays: Sequence[np.ndarray] = (
        [np.asarray(item) for item in data] if isinstance(data, tuple) else [np.asarray(data)]
    )
    if any(array.ndim == 0 for array in arrays):
        raise ValueError("data must be an array (or a tuple of arrays) with one row per example")
    n_examples = len(arrays[0])
    if n_examples == 0:
        raise ValueError("data is empty")
    if any(len(array) != n_examples for array in arrays):
        raise ValueError(f"arrays in data disagree in length: {[len(array) for array in arrays]}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    indices = bootstrap_indices(n_examples, n_rounds, seed=seed)
    estimate = float(statistic(*arrays))
    values = np.array([float(statistic(*(array[row] for array in arrays))) for row in indices])
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise ValueError("the statistic was undefined (NaN) in every bootstrap round")
    tail = (1 - confidence) / 2 * 100
    lower, upper = np.percentile(finite, [tail, 100 - tail])
    return BootstrapCI(
        estimate=estimate,
        lower=float(lower),
        upper=float(upper),
        confidence=float(confidence),
        n_rounds=int(n_rounds),
        n_valid=int(finite.size),
    )
