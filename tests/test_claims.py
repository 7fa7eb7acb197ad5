"""Claims as data: every verdict path (held, did not hold, undecided, synthetic, not testable)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ecglib import claims

REAL = "mitbih"
SYNTHETIC = "sim-chapman"
RNG = np.random.default_rng(0)
HIGH = 0.85 + 0.002 * RNG.normal(size=6)
LOW = 0.80 + 0.002 * RNG.normal(size=6)


def _verdict(claim, results, data_source=REAL, reported=None):
    table = claims.evaluate([claim], results, data_source=data_source, reported=reported)
    assert list(table.columns) == list(claims.COLUMNS)
    return table.iloc[0]


def test_within_held_and_not_held_reads_the_paper_from_reported():
    claim = claims.within(
        "mean 94.6 %", "94.6%", ours="mean", paper="mean_bacc", tolerance=0.02, scale=100, unit="%"
    )
    reported = {"mean_bacc": 0.946}
    row = _verdict(claim, {"mean": 0.93}, reported=reported)
    assert row["verdict"] == "held" and row["paper"] == "94.6 %" and row["ours"] == "93.0 %"
    assert row["test"] == "|ours - paper| <= 2 points" and math.isnan(row["p"])
    assert row["note"] == "difference -1.6 points"
    assert _verdict(claim, {"mean": 0.90}, reported=reported)["verdict"] == "did not hold"
    # a sample is summarised by its mean; a literal paper number works too
    literal = claims.within("x", "", ours="values", paper=1.0, tolerance=0.1)
    assert _verdict(literal, {"values": np.array([0.9, 1.1])})["verdict"] == "held"


def test_greater_welch_every_condition_named_test_and_n():
    claim = claims.greater(
        "A beats B at every size",
        "p < 0.05",
        a="f1.a",
        b="f1.b",
        test="welch",
        paper_a="table.{condition}.a.mean",
        paper_b="table.{condition}.b.mean",
        condition_label="{}%",
    )
    reported = {
        "table": {
            100: {"a": {"mean": 0.857}, "b": {"mean": 0.843}},
            50: {"a": {"mean": 0.8}, "b": {"mean": 0.7}},
        }
    }
    results = {"f1": {"a": {100: HIGH, 50: HIGH}, "b": {100: LOW, 50: LOW}}}
    row = _verdict(claim, results, reported=reported)
    assert row["verdict"] == "held" and "Welch" in row["test"] and row["n"] == "6 vs 6" and row["p"] < 1e-6
    assert row["ours"].startswith("100%: 0.85") and row["paper"].startswith("100%: 0.857 vs 0.843")
    # reversed in one condition: did not hold
    results["f1"]["b"][50] = HIGH + 0.1
    assert _verdict(claim, results, reported=reported)["verdict"] == "did not hold"


def test_greater_not_significant_depends_on_what_the_paper_claims():
    noisy_a, noisy_b = np.array([0.80, 0.90, 0.85]), np.array([0.84, 0.86, 0.83])
    results = {"a": noisy_a, "b": noisy_b}
    significant = claims.greater("A > B (p < 0.05)", "", a="a", b="b", test="welch")
    assert _verdict(significant, results)["verdict"] == "did not hold"
    direction = claims.greater(
        "A slightly > B", "", a="a", b="b", test="paired_t", significance_claimed=False
    )
    row = _verdict(direction, results)
    assert row["verdict"] == "undecided" and "paired t-test" in row["test"] and row["n"] == "3 pairs"
    assert "no significant difference" in row["note"]


def test_greater_conditions_restrict_the_test_and_missing_values_are_undecided():
    results = {"a": {100: LOW, 50: HIGH}, "b": {100: HIGH, 50: LOW}}
    only_50 = claims.greater("A > B at 50 %", "", a="a", b="b", conditions=(50, 25))
    assert _verdict(only_50, results)["verdict"] == "held"
    only_25 = claims.greater("A > B at 25 %", "", a="a", b="b", conditions=(25,))
    row = _verdict(only_25, results)
    assert row["verdict"] == "undecided" and "no values" in row["note"]
    empty = claims.greater("A > B", "", a="a", b="b")
    assert _verdict(empty, {"a": {}, "b": {}})["verdict"] == "undecided"


def test_greater_two_numbers_without_a_test():
    claim = claims.greater("drop of B larger", "", a="drop_b", b="drop_a", test=None)
    row = _verdict(claim, {"drop_b": 0.3, "drop_a": 0.02})
    assert row["verdict"] == "held" and "no test" in row["test"]
    assert _verdict(claim, {"drop_b": 0.01, "drop_a": 0.02})["verdict"] == "did not hold"


def test_correlated_sign_significance_and_too_few_pairs():
    x = np.arange(12, dtype=float)
    claim = claims.correlated("less data, more gain", "", x="x", y="y", sign=-1)
    assert _verdict(claim, {"x": x, "y": -x})["verdict"] == "held"
    assert _verdict(claim, {"x": x, "y": x})["verdict"] == "did not hold"
    noise = np.array([0.1, -0.2, 0.05, 0.3, -0.1, 0.0, 0.2, -0.3, 0.15, -0.05, 0.25, -0.15])
    row = _verdict(claim, {"x": x, "y": noise})
    assert row["verdict"] == "undecided" and "not significant" in row["note"] and row["n"] == "12 pairs"
    row = _verdict(claim, {"x": x[:2], "y": x[:2]})
    assert row["verdict"] == "undecided" and "too few pairs" in row["note"]
    with pytest.raises(ValueError, match="sign"):
        claims.correlated("c", "", x="x", y="y", sign=0)


def test_gate_makes_claims_undecided_with_the_reason():
    learnt = claims.gate("learned", "the autoencoder learnt nothing (error {error:.2f})")
    claim = claims.greater("A > B", "", a="a", b="b", requires=[learnt])
    row = _verdict(claim, {"a": HIGH, "b": LOW, "learned": False, "error": 0.99})
    assert row["verdict"] == "undecided" and row["note"].startswith(
        "the autoencoder learnt nothing (error 0.99)"
    )
    assert row["ours"]  # the numbers are still shown
    assert _verdict(claim, {"a": HIGH, "b": LOW, "learned": True, "error": 0.3})["verdict"] == "held"
    assert _verdict(claim, {"a": HIGH, "b": LOW, "learned": None, "error": 0.3})["verdict"] == "held"


def test_synthetic_data_is_never_held_and_not_testable_says_why():
    held_on_real = claims.greater("A > B", "", a="a", b="b")
    results = {"a": HIGH, "b": LOW}
    assert _verdict(held_on_real, results)["verdict"] == "held"
    row = _verdict(held_on_real, results, data_source=SYNTHETIC)
    assert row["verdict"] == "not tested on synthetic data" and row["ours"]
    why = claims.not_testable("ICU pre-training", "2.6 M ECGs", why="the ICU data are not public")
    for source in (REAL, SYNTHETIC):
        row = _verdict(why, {}, data_source=source)
        assert row["verdict"] == "not testable here" and row["note"] == "the ICU data are not public"


def test_a_misspelt_key_raises_naming_it():
    claim = claims.greater("A > B", "", a="f1.transfer", b="f1.random")
    with pytest.raises(KeyError, match="f1.transfer"):
        claims.evaluate([claim], {"f1": {"random": LOW}}, data_source=REAL)
