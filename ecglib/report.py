"""Saving tables, figures and the verdict of a run; the data banner every study shows.

Every table is saved as CSV (for code) and Markdown (for reading on GitHub), and every
figure as PNG and SVG, under the run's output folder, each written atomically. Every
table and figure says which data produced it; a synthetic source is never presented as a
reproduction of a paper. Paper-versus-ours tables are built by :mod:`ecglib.paper_tables`,
verdicts by :mod:`ecglib.claims`, figures by :mod:`ecglib.figures`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ecglib.data import is_synthetic

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from ecglib.runner import Run

SYNTHETIC_NOTE = (
    "synthetic data: this run exercises the protocol end to end; it is not a reproduction of the "
    "paper and cannot confirm or refute its claims"
)


def set_style() -> None:
    """One figure style for all notebooks: seaborn 'paper' context, white grid, colour-blind palette."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(context="paper", style="whitegrid", palette="colorblind", font_scale=1.2)
    mpl.rcParams.update(
        {"figure.dpi": 110, "savefig.dpi": 200, "savefig.bbox": "tight", "axes.titleweight": "bold"}
    )


def data_label(data_source: str | Sequence[str]) -> str:
    """Short provenance line for captions: the source's title and version, flagged when synthetic.

    Several sources (a table mixing pre-training and fine-tuning data) are joined with " + ".
    """
    from ecglib import data

    if not isinstance(data_source, str):
        return " + ".join(data_label(source) for source in dict.fromkeys(data_source))
    try:
        meta = data.info(data_source)
        label = f"{data_source}: {meta.title}, version {meta.version}"
    except (KeyError, ImportError, AttributeError):
        label = data_source
    return f"{label} [{SYNTHETIC_NOTE.split(':')[0]}]" if is_synthetic(data_source) else label


def data_banner(data_source: str) -> str:
    """A Markdown paragraph that says which data produced the results below it."""
    if is_synthetic(data_source):
        return f"**Data: {data_label(data_source)}.** {SYNTHETIC_NOTE.capitalize()}."
    return f"**Data: {data_label(data_source)}** (real recordings)."


def _atomic_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def markdown_table(df: pd.DataFrame, *, float_format: str = "{:.4g}") -> str:
    """Render a DataFrame as a GitHub Markdown table.

    Written here rather than with ``DataFrame.to_markdown`` to avoid the extra ``tabulate`` dependency.
    """

    def cell(value: Any) -> str:
        if isinstance(value, (float, np.floating)):
            if math.isnan(value):
                return ""
            if math.isfinite(value) and abs(value) >= 1e4:
                # counts such as 49,245 windows read better in full than as 4.924e+04
                return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
            return float_format.format(value)
        return str(value).replace("|", "\\|").replace("\n", " ")

    frame = df.reset_index() if not isinstance(df.index, pd.RangeIndex) else df
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def save_table(
    run: Run,
    df: pd.DataFrame,
    name: str,
    *,
    caption: str = "",
    data_source: str | Sequence[str] | None = None,
) -> Path:
    """Save ``df`` as ``tables/<name>.csv`` and ``tables/<name>.md`` (with caption and data source).

    ``data_source``: the data the table comes from (default the run's); a list for a table that
    mixes sources (e.g. pre-training and fine-tuning experiments side by side).

    Returns the CSV path where it will be once the run has finished (not the staging folder).
    """
    source = data_source or run.cfg.data_source
    folder = run.tables_dir
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / f"{name}.csv"
    tmp = _atomic_path(csv_path)
    df.to_csv(tmp, index=not isinstance(df.index, pd.RangeIndex))
    os.replace(tmp, csv_path)
    md_path = folder / f"{name}.md"
    text = f"**{name}**{': ' + caption if caption else ''}\n\nData: {data_label(source)}\n\n{markdown_table(df)}\n"
    tmp = _atomic_path(md_path)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, md_path)
    return run.final_path(csv_path)


def save_figure(
    run: Run,
    fig: Figure,
    name: str,
    *,
    data_source: str | Sequence[str] | None = None,
    formats: Sequence[str] = ("png", "svg"),
) -> Path:
    """Save ``fig`` as ``figures/<name>.png`` and ``.svg``, stamped with the data source. Returns the PNG path once the run has finished."""
    source = data_source or run.cfg.data_source
    fig.text(0.01, 0.005, f"data: {data_label(source)}", fontsize=7, color="0.35", ha="left", va="bottom")
    folder = run.figures_dir
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = folder / f"{name}.{fmt}"
        tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.{fmt}")
        fig.savefig(tmp, format=fmt)
        os.replace(tmp, path)
        paths.append(path)
    return run.final_path(paths[0])


def show_verdict(
    run: Run,
    verdict: pd.DataFrame,
    *,
    caption: str = "the paper's claims on this run's data",
    data_source: str | None = None,
) -> Path:
    """Save the verdict table (:func:`ecglib.claims.evaluate`) as ``tables/verdict.{csv,md}`` and display it.

    The display starts with the data banner (:func:`data_banner`), so a synthetic run says it is
    not a reproduction right above its verdicts. Returns the CSV path.
    """
    from ecglib.claims import COLUMNS

    if list(verdict.columns) != list(COLUMNS):
        raise ValueError(
            f"a verdict table has the columns {list(COLUMNS)} (ecglib.claims.evaluate), got {list(verdict.columns)}"
        )
    source = data_source or run.cfg.data_source
    path = save_table(run, verdict, "verdict", caption=caption, data_source=source)
    text = data_banner(source) + "\n\n" + markdown_table(verdict)
    try:
        from IPython.display import Markdown, display

        display(Markdown(text))
    except ImportError:  # pragma: no cover - plain Python
        print(text)
    return path
