"""Paper-vs-ours tables over arms x conditions x trials: layout, SD convention, tests, the paper beside ours."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ecglib import paper_tables, stats


def _trials(n_trials=4):
    rows = []
    for condition, offset in ((100, 0.0), (25, -0.2)):
        for trial in range(1, n_trials + 1):
            for arm, mean in (("transfer", 0.85), ("random", 0.80 + offset)):
                rows.append(dict(arm=arm, size=condition, trial=trial, f1=mean + 0.01 * trial))
    return paper_tables.tidy(pd.DataFrame(rows), value="f1", condition="size")


REPORTED = {
    100: {
        "random": {"mean": 0.843, "sd": 0.004},
        "transfer": {"mean": 0.857, "sd": 0.004},
        "p_value": "<0.05",
    },
    25: {"transfer": {"mean": 0.835}},
}


def test_tidy_names_missing_columns():
    with pytest.raises(KeyError, match="f1"):
        paper_tables.tidy(pd.DataFrame({"arm": [], "condition": [], "trial": []}), value="f1")


def test_layout_rows_columns_sd_convention_and_p():
    trials = _trials()
    table = paper_tables.layout(
        trials, arms=["random", "transfer"], pairs=[("transfer", "random")], ddof=1, condition_label="{}%"
    )
    assert list(table.index) == [
        "trial 1",
        "trial 2",
        "trial 3",
        "trial 4",
        "mean ± SD (ddof=1)",
        "p (transfer vs random, Welch's t-test)",
    ]
    assert list(table.columns) == ["100% random", "100% transfer", "25% random", "25% transfer"]
    values = 0.85 + 0.01 * np.arange(1, 5)
    assert table.loc["mean ± SD (ddof=1)", "100% transfer"] == stats.format_mean_sd(values, ddof=1)
    population = paper_tables.layout(trials, arms=["transfer"], ddof=0)
    assert population.loc["mean ± SD (ddof=0)", "100 transfer"] == stats.format_mean_sd(values, ddof=0)
    assert stats.format_mean_sd(values, ddof=0) != stats.format_mean_sd(values, ddof=1)
    # random is shifted by a constant from transfer: Welch's p of identical spreads, shifted by 0.25
    assert table.loc["p (transfer vs random, Welch's t-test)", "25% transfer"] == "<0.001"


def test_comparisons_welch_and_paired():
    trials = _trials()
    welch = paper_tables.comparisons(trials, [("transfer", "random")])
    assert list(welch["condition"]) == [100, 25]
    assert welch["difference"].iloc[0] == pytest.approx(0.05)
    a = 0.85 + 0.01 * np.arange(1, 5)
    assert welch["p"].iloc[0] == pytest.approx(stats.welch_ttest(a, a - 0.05).p)
    paired = paper_tables.comparisons(trials, [("transfer", "random")], test="paired_t")
    # every paired difference is the same non-zero constant: p 0.0 (not an error), named
    assert paired["p"].iloc[0] == 0.0 and paired["n"].iloc[0] == "4 pairs"
    assert set(paired["test"]) == {"paired t-test"}


def test_compare_samples_degenerate_cases():
    assert math.isnan(stats.compare_samples([1.0], [2.0, 3.0]).p)
    assert math.isnan(stats.compare_samples([1.0, 1.0], [1.0, 1.0]).p)
    assert stats.compare_samples([1.0, 1.0], [2.0, 2.0]).p == 0.0
    with pytest.raises(ValueError, match="test must be"):
        stats.compare_samples([1, 2], [1, 2], test="t")


def test_versus_paper_puts_the_paper_beside_ours():
    table = paper_tables.versus_paper(
        _trials(),
        REPORTED,
        arms=["random", "transfer"],
        pairs=[("transfer", "random")],
        paper_ddof=0,
        quantity="F1",
        condition_label="{}%",
    )
    assert list(table["condition"]) == ["100%", "100%", "25%", "25%"]
    row = table.iloc[0]
    assert row["arm"] == "random" and row["n"] == 4
    assert row["paper (mean ± SD, ddof=0)"] == "0.843 ± 0.004" and row["paper p"] == "<0.05"
    assert row["difference (ours - paper)"] == pytest.approx(row["ours mean"] - 0.843)
    assert row["ours p (Welch's t-test)"].startswith("vs transfer: ")
    assert "ours (mean ± SD, ddof=1)" in table.columns
    # transfer is no pair's B: no p; 25% random has no paper value: empty cells
    assert table.iloc[1]["ours p (Welch's t-test)"] == "" and table.iloc[1]["paper p"] == ""
    assert table.iloc[2]["paper (mean ± SD, ddof=0)"] == "" and math.isnan(table.iloc[2]["paper mean"])
    assert table.iloc[3]["paper (mean ± SD, ddof=0)"] == "0.835"


def test_samples_shape_for_claims():
    samples = paper_tables.samples(_trials(), ["transfer", "image_transfer"])
    assert set(samples) == {"transfer", "image_transfer"} and samples["image_transfer"] == {}
    assert list(samples["transfer"]) == [100, 25] and len(samples["transfer"][25]) == 4


def test_scalars_reads_dotted_keys_scales_and_null_paper():
    rows = [
        paper_tables.Row("windows", "n_windows", "windows"),
        paper_tables.Row("mean", "mean", "%", paper="bacc.mean", scale=100),
        paper_tables.Row("below 75", "n_below", "patients"),
    ]
    table = paper_tables.scalars(
        rows,
        {"n_windows": 100, "mean": 0.9, "n_below": 2},
        {"n_windows": 120, "bacc": {"mean": 0.946}, "n_below": None},
    )
    assert table["difference"].tolist()[:2] == [-20.0, pytest.approx(-4.6)]
    assert math.isnan(table["paper"].iloc[2])
    with pytest.raises(KeyError, match="n_windows"):
        paper_tables.scalars(rows[:1], {}, {"n_windows": 1})
