"""Report helpers: saved verdict tables, banners that never call synthetic runs reproductions."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from ecglib import claims, report


def test_show_verdict_saves_the_claims_table_and_rejects_other_shapes(tmp_path):
    staging, final = tmp_path / ".smoke.staging-1-2", tmp_path / "smoke"
    run = SimpleNamespace(
        cfg=SimpleNamespace(data_source="sim-chapman"),
        tables_dir=staging / "tables",
        final_path=lambda path: final / Path(path).relative_to(staging),
    )
    greater = claims.greater("fine-tuning beats individual models", "", a="a", b="b")
    verdict = claims.evaluate(
        [greater], {"a": [0.93, 0.94, 0.95], "b": [0.80, 0.81, 0.79]}, data_source="sim-chapman"
    )
    path = report.show_verdict(run, verdict)
    assert path == final / "tables" / "verdict.csv"  # where the reader finds it, not the staging folder
    saved = pd.read_csv(staging / "tables" / "verdict.csv")
    assert list(saved.columns) == list(claims.COLUMNS) and saved["verdict"].tolist() == [claims.SYNTHETIC]
    assert "not a reproduction" in report.data_banner("sim-mitbih-windows")
    assert "not a reproduction" not in report.data_banner("mitbih")
    with pytest.raises(ValueError, match="columns"):
        report.show_verdict(run, pd.DataFrame({"claim": ["x"], "held": [True]}))


def test_markdown_table_escapes_and_formats():
    text = report.markdown_table(pd.DataFrame({"a": [1.23456, float("nan")], "b": ["x|y", "z"]}))
    lines = text.splitlines()
    assert lines[0] == "| a | b |" and lines[2] == "| 1.235 | x\\|y |" and lines[3] == "|  | z |"


def test_markdown_table_writes_large_numbers_in_full():
    text = report.markdown_table(pd.DataFrame({"paper": [49245.0, 67169.0, 12345.67, 0.946, -48765.0]}))
    assert text.splitlines()[2:] == ["| 49,245 |", "| 67,169 |", "| 12,345.7 |", "| 0.946 |", "| -48,765 |"]


def test_a_table_from_two_sources_names_both_and_flags_the_synthetic_one(tmp_path):
    run = SimpleNamespace(
        cfg=SimpleNamespace(data_source="ludb"),
        tables_dir=tmp_path / "tables",
        final_path=lambda path: Path(path),
    )
    report.save_table(run, pd.DataFrame({"a": [1]}), "mixed", data_source=["deepfake-gan", "ludb", "ludb"])
    line = (tmp_path / "tables" / "mixed.md").read_text().splitlines()[2]
    gan, ludb = line.removeprefix("Data: ").split(" + ")
    assert gan.startswith("deepfake-gan: ") and "[synthetic data]" in gan
    assert ludb.startswith("ludb: Lobachevsky") and "synthetic" not in ludb
    report.save_table(run, pd.DataFrame({"a": [1]}), "default")
    assert (tmp_path / "tables" / "default.md").read_text().splitlines()[2].startswith("Data: ludb: ")
