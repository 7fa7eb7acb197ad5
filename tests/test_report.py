"""Report helpers: comparisons with the paper, verdicts that never call synthetic runs reproductions."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from ecglib import report


def test_compare_with_paper_difference():
    table = report.compare_with_paper(
        [
            {"quantity": "mean bacc", "paper": 94.6, "ours": 92.1, "unit": "%"},
            {"quantity": "extra", "paper": None, "ours": 1.0},
        ]
    )
    assert list(table.columns) == ["quantity", "paper", "ours", "difference", "unit"]
    assert table.loc[0, "difference"] == pytest.approx(-2.5)
    assert math.isnan(table.loc[1, "paper"]) and math.isnan(table.loc[1, "difference"])
    with pytest.raises(ValueError, match="lacks"):
        report.compare_with_paper([{"quantity": "x", "ours": 1.0}])


def test_verdict_on_synthetic_data_is_never_a_verdict():
    claims = [{"claim": "fine-tuning beats individual models", "held": True, "evidence": "93 vs 90"}]
    synthetic = report.verdict_table(claims, data_source="sim-chapman")
    assert synthetic.iloc[0, 1] == "not tested (synthetic data)"
    real = report.verdict_table(claims, data_source="mitbih")
    assert real.iloc[0, 1] == "held"
    assert "not a reproduction" in report.data_banner("sim-mitbih-windows")
    assert "not a reproduction" not in report.data_banner("mitbih")


def test_markdown_table_escapes_and_formats():
    text = report.markdown_table(pd.DataFrame({"a": [1.23456, float("nan")], "b": ["x|y", "z"]}))
    lines = text.splitlines()
    assert lines[0] == "| a | b |" and lines[2] == "| 1.235 | x\\|y |" and lines[3] == "|  | z |"


def test_markdown_table_writes_large_numbers_in_full():
    text = report.markdown_table(pd.DataFrame({"paper": [49245.0, 67169.0, 12345.67, 0.946, -48765.0]}))
    assert text.splitlines()[2:] == ["| 49,245 |", "| 67,169 |", "| 12,345.7 |", "| 0.946 |", "| -48,765 |"]
