"""A paper's claims stated as data and tested on a run's numbers: one verdict table for every study.

A study module declares its claims once, as a list of small frozen records::

    CLAIMS = [
        claims.within("Individual classifiers: mean balanced accuracy 94.6 %", "a mean balanced accuracy of 94.6%",
                      ours="mean_bacc_individual", paper="mean_bacc_individual", tolerance=0.02, scale=100, unit="%"),
        claims.greater("Individual beat fine-tuned", "individual models slightly outperform ...",
                       a="bacc.individual", b="bacc.fine_tuned", test="paired_t"),
        claims.not_testable("Pre-training on 2.6 M ICU ECGs helps", "...", why="the ICU data are not public"),
    ]

and the notebook makes one call, ``claims.evaluate(CLAIMS, results, reported=..., data_source=...)``.
``results`` is a (nested) mapping of the run's numbers; a claim names the values it needs by a
dotted key (``"f1.transfer"``). A value is a number, a 1-D sample, or a mapping ``condition ->
sample`` (e.g. training size -> trials): then the claim must hold in every condition. ``reported``
is the paper's ``reported.yaml``, read the same way; in its keys ``{condition}`` stands for each
condition in turn (``"table2_best_f1.{condition}.transfer.mean"``).

Why records rather than a claims class with methods or closures over the numbers: the list reads
like the paper's list of claims, can be shown or tested without running anything, and the same
list is evaluated on every profile; binding happens only in :func:`evaluate`.

Verdicts (:data:`VERDICTS`): ``held``, ``did not hold``, ``undecided`` (this run cannot tell: too
few values, a test without significance where the paper claims none, or a failed precondition
such as "the autoencoder learnt nothing"), ``not tested on synthetic data`` (any claim on a
synthetic source: a simulator cannot confirm or refute a paper) and ``not testable here`` (the
setting cannot test it at all, whatever the data).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ecglib import stats
from ecglib.data import is_synthetic

HELD = "held"
DID_NOT_HOLD = "did not hold"
UNDECIDED = "undecided"
SYNTHETIC = "not tested on synthetic data"
NOT_TESTABLE = "not testable here"
VERDICTS = (HELD, DID_NOT_HOLD, UNDECIDED, SYNTHETIC, NOT_TESTABLE)

#: the columns of every verdict table
COLUMNS = ("claim", "paper's words", "paper", "ours", "test", "n", "p", "verdict", "note")


# --------------------------------------------------------------------------- declarations


@dataclass(frozen=True)
class Gate:
    """A precondition: when ``results[key]`` is ``False`` the claim is undecided, ``reason`` saying why.

    ``reason`` may name top-level results in braces (``"error per point {recon_error_per_point:.3f}"``).
    ``True`` or ``None`` (cannot be told) let the claim be tested.
    """

    key: str
    reason: str


@dataclass(frozen=True)
class Within:
    """Our number lies within ``tolerance`` of the paper's."""

    claim: str
    paper_words: str
    ours: str
    paper: str | float
    tolerance: float
    scale: float = 1.0
    unit: str = ""
    digits: int = 1
    requires: tuple[Gate, ...] = ()


@dataclass(frozen=True)
class Greater:
    """A is larger than B, by a named two-sample test at level ``alpha`` (or plainly, for two numbers)."""

    claim: str
    paper_words: str
    a: str
    b: str
    test: str | None = "welch"
    alpha: float = 0.05
    conditions: tuple | None = None
    significance_claimed: bool = True
    paper_a: str | float | None = None
    paper_b: str | float | None = None
    condition_label: str = "{}"
    digits: int = 3
    requires: tuple[Gate, ...] = ()


@dataclass(frozen=True)
class Correlated:
    """``x`` and ``y`` are correlated with the sign ``sign`` (rank correlation, p < ``alpha``)."""

    claim: str
    paper_words: str
    x: str
    y: str
    sign: int
    test: str = "spearman"
    alpha: float = 0.05
    requires: tuple[Gate, ...] = ()


@dataclass(frozen=True)
class NotTestable:
    """A claim this setting cannot test, whatever the data (``why`` says why)."""

    claim: str
    paper_words: str
    why: str
    requires: tuple[Gate, ...] = field(default=())


Claim = Within | Greater | Correlated | NotTestable


def gate(key: str, reason: str) -> Gate:
    """A precondition for claims (see :class:`Gate`)."""
    return Gate(key, reason)


def within(
    claim: str,
    paper_words: str,
    *,
    ours: str,
    paper: str | float,
    tolerance: float,
    scale: float = 1.0,
    unit: str = "",
    digits: int = 1,
    requires: Sequence[Gate] = (),
) -> Within:
    """Held when ``|ours - paper| <= tolerance``.

    Parameters
    ----------
    claim, paper_words : our one-line statement of the claim, and the paper's own words
    ours : key of the number in ``results`` (a sample is summarised by its mean)
    paper : key in ``reported`` or the paper's number itself
    tolerance : largest accepted difference, in the units of the values (before ``scale``)
    scale, unit, digits : how numbers are shown (``scale=100, unit="%"`` for percent)
    requires : preconditions (:func:`gate`)
    """
    if not tolerance >= 0:
        raise ValueError(f"claim {claim!r}: tolerance must be >= 0, got {tolerance!r}")
    return Within(claim, paper_words, ours, paper, float(tolerance), scale, unit, digits, tuple(requires))


def greater(
    claim: str,
    paper_words: str,
    *,
    a: str,
    b: str,
    test: str | None = "welch",
    alpha: float = 0.05,
    conditions: Sequence | None = None,
    significance_claimed: bool = True,
    paper_a: str | float | None = None,
    paper_b: str | float | None = None,
    condition_label: str = "{}",
    digits: int = 3,
    requires: Sequence[Gate] = (),
) -> Greater:
    """Held when A is larger than B with p < ``alpha`` (in every condition, when the values have conditions).

    Parameters
    ----------
    a, b : keys in ``results`` of two samples, two ``condition -> sample`` mappings, or two numbers
    test : {"welch", "mann_whitney", "paired_t", "wilcoxon", "mcnemar"} for samples (:func:`ecglib.stats.compare_samples`,
        two-sided p, direction from the means); None for two numbers (plain comparison)
    alpha : significance level
    conditions : the conditions tested (default: every condition both sides have)
    significance_claimed : True when the paper claims a significant difference: then p >= alpha
        means the claim did not hold. False when it claims only a direction: p >= alpha is undecided.
    paper_a, paper_b : the paper's values of A and B, as keys in ``reported`` (``{condition}``
        is replaced by each condition) or numbers; shown beside ours
    condition_label : format of a condition in the table (``"{}%"`` for training sizes)
    """
    if test is not None and test not in stats.TWO_SAMPLE_TESTS:
        raise ValueError(f"claim {claim!r}: test must be one of {sorted(stats.TWO_SAMPLE_TESTS)} or None")
    return Greater(
        claim,
        paper_words,
        a,
        b,
        test,
        alpha,
        None if conditions is None else tuple(conditions),
        significance_claimed,
        paper_a,
        paper_b,
        condition_label,
        digits,
        tuple(requires),
    )


def correlated(
    claim: str,
    paper_words: str,
    *,
    x: str,
    y: str,
    sign: int,
    test: str = "spearman",
    alpha: float = 0.05,
    requires: Sequence[Gate] = (),
) -> Correlated:
    """Held when ``x`` and ``y`` correlate significantly (p < ``alpha``) with the sign ``sign`` (+1 or -1).

    A correlation that is not significant leaves the claim undecided; a significant one of the
    other sign means it did not hold. ``test``: "spearman" (:func:`ecglib.stats.rank_correlation`).
    """
    if sign not in (1, -1):
        raise ValueError(f"claim {claim!r}: sign must be +1 or -1, got {sign!r}")
    if test != "spearman":
        raise ValueError(f"claim {claim!r}: test must be 'spearman', got {test!r}")
    return Correlated(claim, paper_words, x, y, sign, test, alpha, tuple(requires))


def not_testable(claim: str, paper_words: str = "", *, why: str) -> NotTestable:
    """A claim this setting cannot test (e.g. it needs data that are not public)."""
    return NotTestable(claim, paper_words, why)


# --------------------------------------------------------------------------- evaluation


class _Undecided(Exception):
    """Raised inside a test when the run cannot tell; the message says why."""


@dataclass
class _Outcome:
    verdict: str
    paper: str = ""
    ours: str = ""
    test: str = ""
    n: str = ""
    p: float = math.nan
    note: str = ""


def lookup(mapping: Mapping[str, Any], key: str, *, what: str = "results") -> Any:
    """``mapping[k1][k2]...`` for ``key = "k1.k2..."``; a part that is a number also matches an int key.

    Raises
    ------
    KeyError
        naming the full key and the part that is missing.
    """
    value: Any = mapping
    for part in key.split("."):
        if isinstance(value, Mapping):
            if part in value:
                value = value[part]
                continue
            try:
                number = int(part)
            except ValueError:
                number = None
            if number is not None and number in value:
                value = value[number]
                continue
        raise KeyError(f"{what} has no {key!r} (no {part!r} there)")
    return value


def _paper_value(paper: str | float | None, reported: Mapping[str, Any] | None, condition=None):
    if paper is None:
        return None
    if isinstance(paper, str):
        if reported is None:
            raise KeyError(f"the paper's value {paper!r} needs reported=")
        value = lookup(reported, paper.replace("{condition}", str(condition)), what="reported")
        return None if value is None else value
    return paper


def _number(value: Any) -> str:
    if isinstance(value, (int, np.integer)) or (isinstance(value, float) and value.is_integer()):
        return f"{int(value):,}"
    return f"{value:.4g}" if isinstance(value, (float, np.floating)) else str(value)


def _within(claim: Within, results, reported) -> _Outcome:
    ours = lookup(results, claim.ours)
    if ours is None:
        raise _Undecided(f"this run has no value for {claim.ours!r}")
    ours = float(np.mean(ours))
    paper = _paper_value(claim.paper, reported)
    if paper is None:
        raise _Undecided("the paper gives no number")
    paper = float(paper)
    scale, unit, digits = claim.scale, claim.unit, claim.digits
    shown_unit = f" {unit}" if unit else ""
    gap_unit = " points" if unit == "%" else shown_unit  # differences of percentages are points
    difference = ours - paper
    outcome = _Outcome(
        verdict=HELD if abs(difference) <= claim.tolerance + 1e-12 else DID_NOT_HOLD,
        paper=f"{paper * scale:.{digits}f}{shown_unit}",
        ours=f"{ours * scale:.{digits}f}{shown_unit}",
        test=f"|ours - paper| <= {claim.tolerance * scale:g}{gap_unit}",
        note=f"difference {difference * scale:+.{digits}f}{gap_unit}",
    )
    return outcome


def _by_condition(values: Any) -> dict:
    if isinstance(values, Mapping):
        return dict(values)
    return {None: values}


def _greater(claim: Greater, results, reported) -> _Outcome:
    a_values, b_values = lookup(results, claim.a), lookup(results, claim.b)
    label = claim.condition_label
    digits = claim.digits
    if claim.test is None:
        if a_values is None or b_values is None:
            raise _Undecided(f"this run has no value for {claim.a!r} or {claim.b!r}")
        a, b = float(a_values), float(b_values)
        paper_a, paper_b = _paper_value(claim.paper_a, reported), _paper_value(claim.paper_b, reported)
        return _Outcome(
            verdict=HELD if a > b else DID_NOT_HOLD,
            paper="" if paper_a is None else f"{float(paper_a):.{digits}f} vs {float(paper_b):.{digits}f}",
            ours=f"{a:.{digits}f} vs {b:.{digits}f}",
            test="A > B (one number each: no test)",
        )
    a_by, b_by = _by_condition(a_values), _by_condition(b_values)
    shared = [
        c
        for c in a_by
        if c in b_by
        and a_by[c] is not None
        and b_by[c] is not None
        and len(np.atleast_1d(a_by[c]))
        and len(np.atleast_1d(b_by[c]))
    ]
    conditions = shared if claim.conditions is None else [c for c in claim.conditions if c in shared]
    if not conditions:
        raise _Undecided(
            f"this run has no values of both {claim.a!r} and {claim.b!r} in the conditions tested"
        )
    ours, papers, ns, verdicts, pvalues = [], [], [], [], []
    for condition in conditions:
        result = stats.compare_samples(a_by[condition], b_by[condition], test=claim.test)
        prefix = "" if condition is None else label.format(condition) + ": "
        ours.append(
            f"{prefix}{result.mean_a:.{digits}f} vs {result.mean_b:.{digits}f} (p {stats.format_p(result.p)})"
        )
        paper_a = _paper_value(claim.paper_a, reported, condition)
        paper_b = _paper_value(claim.paper_b, reported, condition)
        if paper_a is not None and paper_b is not None:
            papers.append(f"{prefix}{float(paper_a):.{digits}f} vs {float(paper_b):.{digits}f}")
        ns.append(result.n_text)
        pvalues.append(result.p)
        if not np.isfinite(result.p):
            verdicts.append(UNDECIDED)
        elif result.p < claim.alpha:
            verdicts.append(HELD if result.difference > 0 else DID_NOT_HOLD)
        else:  # not significant: the claim of a significant difference fails; a claimed direction is untold
            verdicts.append(DID_NOT_HOLD if claim.significance_claimed else UNDECIDED)
    if DID_NOT_HOLD in verdicts:
        verdict, note = DID_NOT_HOLD, ""
    elif UNDECIDED in verdicts:
        verdict = UNDECIDED
        note = (
            f"no significant difference (p >= {claim.alpha}) where the paper claims only a direction"
            if all(np.isfinite(pvalues))
            else "the test is undefined (too few or identical values)"
        )
    else:
        verdict, note = HELD, ""
    finite = [p for p in pvalues if np.isfinite(p)]
    return _Outcome(
        verdict=verdict,
        paper="; ".join(papers),
        ours="; ".join(ours),
        test=f"{stats.TWO_SAMPLE_TESTS[claim.test]}, A > B with p < {claim.alpha}"
        + (" in every condition" if len(conditions) > 1 else ""),
        n="; ".join(dict.fromkeys(ns)),
        p=max(finite) if finite else math.nan,
        note=note,
    )


def _correlated(claim: Correlated, results, reported) -> _Outcome:
    x, y = lookup(results, claim.x), lookup(results, claim.y)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    test = f"Spearman rank correlation, sign {'+' if claim.sign > 0 else '-'} with p < {claim.alpha}"
    if x.size < 3:
        raise _Undecided(f"too few pairs ({x.size}) for a rank correlation")
    result = stats.rank_correlation(x, y)
    outcome = _Outcome(
        verdict=UNDECIDED, ours=f"rho {result.rho:.2f}", test=test, n=f"{result.n} pairs", p=result.p
    )
    if not np.isfinite(result.p):
        outcome.note = "a constant variable has no rank correlation"
    elif result.p >= claim.alpha:
        outcome.note = f"not significant (p >= {claim.alpha})"
    else:
        outcome.verdict = HELD if np.sign(result.rho) == claim.sign else DID_NOT_HOLD
    return outcome


_TESTS = {Within: _within, Greater: _greater, Correlated: _correlated}


def _format_reason(reason: str, results: Mapping[str, Any]) -> str:
    try:
        return reason.format_map(results)
    except (KeyError, ValueError, TypeError, IndexError):
        return reason


def evaluate_one(
    claim: Claim, results: Mapping[str, Any], *, reported: Mapping[str, Any] | None = None, synthetic: bool
) -> dict[str, Any]:
    """One row of the verdict table (see :func:`evaluate`)."""
    if isinstance(claim, NotTestable):
        outcome = _Outcome(verdict=NOT_TESTABLE, note=claim.why)
    else:
        failed = [g for g in claim.requires if lookup(results, g.key) is False]
        try:
            outcome = _TESTS[type(claim)](claim, results, reported)
        except _Undecided as why:
            outcome = _Outcome(verdict=UNDECIDED, note=str(why))
        if failed:
            reasons = "; ".join(_format_reason(g.reason, results) for g in failed)
            outcome.verdict = UNDECIDED
            outcome.note = f"{reasons}. {outcome.note}".strip()
        if synthetic:
            outcome.verdict = SYNTHETIC
    return {
        "claim": claim.claim,
        "paper's words": claim.paper_words,
        "paper": outcome.paper,
        "ours": outcome.ours,
        "test": outcome.test,
        "n": outcome.n,
        "p": outcome.p,
        "verdict": outcome.verdict,
        "note": outcome.note,
    }


def evaluate(
    claims: Sequence[Claim],
    results: Mapping[str, Any],
    *,
    data_source: str,
    reported: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Test each claim on this run's numbers: the verdict table, one row per claim.

    Parameters
    ----------
    claims : records made by :func:`within`, :func:`greater`, :func:`correlated`, :func:`not_testable`
    results : the run's numbers, keyed as the claims name them (nested mappings, dotted keys).
        A key a claim names must be present (a ``KeyError`` names it); a value of None, or an
        empty sample, stands for "not run" and leaves the claim undecided.
    data_source : the registered data source of the run; on a synthetic one
        (:func:`ecglib.data.is_synthetic`) no claim is ever "held"
    reported : the paper's numbers (``ecglib.params.reported(study)``)

    Returns
    -------
    DataFrame with the columns :data:`COLUMNS`: ``claim``, ``paper's words``, ``paper`` (the
    paper's number), ``ours``, ``test`` (named, with alpha), ``n``, ``p`` (the deciding, i.e.
    largest, p over conditions; NaN without a test), ``verdict`` (one of :data:`VERDICTS`) and
    ``note`` (why a claim is undecided, or the difference).
    """

    synthetic = is_synthetic(data_source)
    rows = [evaluate_one(claim, results, reported=reported, synthetic=synthetic) for claim in claims]
    return pd.DataFrame(rows, columns=list(COLUMNS))
