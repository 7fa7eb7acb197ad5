"""The figures every study draws; a study passes only its numbers, labels and titles.

- :func:`epoch_curves`: per-epoch curves, one line per series and one panel per group, with a
  mean ± SD band wherever a series has several runs (trials) per epoch.
- :func:`histogram`: a histogram with labelled reference lines.
- :func:`grouped_bars`: bars per group and series, with the paper's values as markers.
- :func:`scatter`: points with optional labels, a reference line and an identity line.
- :func:`signal_vs_reconstruction`: signals and their reconstructions, one panel per example.

Each function returns a matplotlib ``Figure`` (saved by :func:`ecglib.report.save_figure`, which
stamps the data source) and draws nothing else: no I/O, no global style (see
:func:`ecglib.report.set_style`). matplotlib is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def long_curves(
    history: pd.DataFrame, series: Mapping[str, str], *, panel: str = "", epoch: str = "epoch"
) -> pd.DataFrame:
    """A wide per-epoch history as the long table :func:`epoch_curves` draws.

    Parameters
    ----------
    history : DataFrame with an ``epoch`` column and one column per curve
    series : column -> label shown in the legend (e.g. ``{"val_loss": "validation"}``)
    panel : name of the panel these curves go in

    Returns
    -------
    DataFrame with ``epoch, value, series, panel``.
    """
    missing = [column for column in [epoch, *series] if column not in history.columns]
    if missing:
        raise KeyError(f"history has no column(s) {missing}; columns are {list(history.columns)}")
    frames = [
        pd.DataFrame(
            {"epoch": history[epoch].to_numpy(), "value": history[column].to_numpy(), "series": label}
        )
        for column, label in series.items()
    ]
    return pd.concat(frames, ignore_index=True).assign(panel=panel)


def epoch_curves(
    curves: pd.DataFrame,
    *,
    ylabel: str | Mapping[str, str],
    title: str | None = None,
    panel_titles: bool = True,
    sharey: bool = False,
    ylim: tuple[float, float] | None = None,
    mark_best: str | None = None,
    mark_epoch: int | None = None,
    markers: bool = False,
    legend_title: str | None = None,
) -> Figure:
    """Per-epoch curves: mean over runs per epoch, with a mean ± SD band where there are several runs.

    Parameters
    ----------
    curves : DataFrame with ``epoch, value, series`` and optionally ``panel`` (one panel per value,
        in order of appearance); several rows of one (panel, series, epoch) are runs (trials), drawn
        as their mean with a band of ± one sample SD
    ylabel : y-axis label, or panel -> label
    title : figure title
    panel_titles : show each panel's name as its title
    sharey, ylim : shared y axis; y limits
    mark_best : "max" or "min": mark each series' best mean epoch with a triangle
    mark_epoch : draw a dashed vertical line "kept (epoch N)" at this epoch
    markers : draw a dot at every epoch
    legend_title : title of the legend (e.g. "mean ± SD over trials")

    Returns
    -------
    matplotlib Figure, one axis per panel.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    missing = [column for column in ("epoch", "value", "series") if column not in curves.columns]
    if missing:
        raise KeyError(
            f"curves need columns epoch, value, series; missing {missing} (see figures.long_curves)"
        )
    if mark_best not in (None, "max", "min"):
        raise ValueError(f"mark_best must be 'max', 'min' or None, got {mark_best!r}")
    curves = curves if "panel" in curves.columns else curves.assign(panel="")
    panels = list(dict.fromkeys(curves["panel"]))
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.5 * len(panels) + 1.0, 3.5), sharey=sharey, squeeze=False
    )
    for ax, panel in zip(axes[0], panels):
        chosen = curves[curves["panel"] == panel]
        for series in dict.fromkeys(chosen["series"]):
            summary = (
                chosen[chosen["series"] == series].groupby("epoch")["value"].agg(["mean", "std", "count"])
            )
            line = ax.plot(
                summary.index, summary["mean"], lw=1.4, marker="o" if markers else None, ms=3, label=series
            )[0]
            if (summary["count"] > 1).any():
                sd = summary["std"].fillna(0.0)
                ax.fill_between(
                    summary.index,
                    summary["mean"] - sd,
                    summary["mean"] + sd,
                    color=line.get_color(),
                    alpha=0.2,
                    lw=0,
                )
            if mark_best is not None and len(summary):
                best = summary["mean"].idxmax() if mark_best == "max" else summary["mean"].idxmin()
                ax.plot([best], [summary["mean"][best]], marker="v", color=line.get_color(), ms=7, ls="none")
        if mark_epoch:
            ax.axvline(mark_epoch, color="grey", ls="--", lw=1, label=f"kept (epoch {mark_epoch})")
        if panel_titles and panel:
            ax.set_title(str(panel))
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(ylabel.get(panel, "") if isinstance(ylabel, Mapping) else ylabel)
        if ylim is not None:
            ax.set_ylim(*ylim)
    if sharey and not isinstance(ylabel, Mapping):
        for ax in axes[0, 1:]:
            ax.set_ylabel("")
    best_note = "; ▼ best epoch" if mark_best else ""
    axes[0, -1].legend(
        fontsize=8,
        title=(legend_title or "") + best_note if (legend_title or best_note) else None,
        title_fontsize=7,
    )
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def histogram(
    values,
    *,
    bins,
    xlabel: str,
    ylabel: str = "count",
    title: str | None = None,
    reference_lines: Mapping[str, float] | None = None,
) -> Figure:
    """A histogram of ``values`` (array-like of shape (n,)) with labelled vertical reference lines.

    ``bins``: as :func:`numpy.histogram` takes them; ``reference_lines``: label -> x.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist(np.asarray(values, dtype=np.float64), bins=bins, edgecolor="white")
    for (label, x), style in zip((reference_lines or {}).items(), ("--", ":", "-.", "-")):
        ax.axvline(x, color="0.3", ls=style, lw=1, label=label)
    if reference_lines:
        ax.legend(fontsize=8, loc="upper left")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    fig.tight_layout()
    return fig


def grouped_bars(
    values: pd.DataFrame,
    *,
    ylabel: str,
    title: str | None = None,
    paper: pd.Series | None = None,
    paper_label: str = "paper",
    ylim: tuple[float, float] | None = None,
    rotate_labels: bool = True,
) -> Figure:
    """Bars per group (``values.index``) and series (``values.columns``), the paper's values as black dots.

    ``paper``: one value per group (same index; NaN where the paper has none), drawn over the bars.
    ``ylim``: y limits; by default from just under the lowest bar to just over 1 for values <= 1.
    """
    import matplotlib.pyplot as plt

    numbers = values.astype(float)
    x = np.arange(len(numbers))
    width = 0.8 / max(1, len(numbers.columns))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * len(numbers) + 2), 3.8))
    for i, column in enumerate(numbers.columns):
        ax.bar(x - 0.4 + width * (i + 0.5), numbers[column], width=width, label=str(column))
    if paper is not None:
        paper_values = pd.to_numeric(pd.Series(paper).reindex(numbers.index), errors="coerce")
        if paper_values.notna().any():
            ax.plot(x, paper_values.to_numpy(), "k.", ms=8, label=paper_label)
    ax.set_xticks(x, [str(g) for g in numbers.index], rotation=90 if rotate_labels else 0)
    if ylim is None and np.isfinite(numbers.to_numpy()).any():
        low = float(np.nanmin(numbers.to_numpy()))
        high = float(np.nanmax(numbers.to_numpy()))
        ylim = (max(0.0, low - 0.05), 1.01) if high <= 1.0 else None
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set(ylabel=ylabel, title=title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)  # beside the bars, never over them
    fig.tight_layout()
    return fig


def scatter(
    x,
    y,
    *,
    xlabel: str,
    ylabel: str,
    title: str | None = None,
    labels: Sequence[str] | None = None,
    hline: float | None = None,
    identity: bool = False,
) -> Figure:
    """Points (x, y) (array-likes of shape (n,)), each annotated with ``labels[i]`` when given.

    ``hline``: a horizontal reference line (e.g. 0); ``identity``: the line y = x.
    """
    import matplotlib.pyplot as plt

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.scatter(x, y)
    for label, xi, yi in zip(labels if labels is not None else [], x, y):
        ax.annotate(str(label), (xi, yi), fontsize=7, alpha=0.7, xytext=(2, 2), textcoords="offset points")
    if hline is not None:
        ax.axhline(hline, color="grey", lw=1)
    if identity and x.size:
        low, high = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        ax.plot([low, high], [low, high], color="grey", ls="--", lw=1, label="y = x")
        ax.legend(fontsize=8)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    fig.tight_layout()
    return fig


def signal_vs_reconstruction(
    signals,
    reconstructions,
    *,
    fs_hz: float,
    ylabel: str,
    titles: Sequence[str] | None = None,
    labels: tuple[str, str] = ("original ECG", "reconstructed ECG"),
) -> Figure:
    """Signals and their reconstructions, one panel per example.

    Parameters
    ----------
    signals, reconstructions : ndarray of shape (k, n_samples), in the units ``ylabel`` names
    fs_hz : sampling rate in hertz (x axis in seconds)
    titles : one title per example
    """
    import matplotlib.pyplot as plt

    signals, reconstructions = np.asarray(signals), np.asarray(reconstructions)
    if signals.shape != reconstructions.shape or signals.ndim != 2:
        raise ValueError(
            f"signals and reconstructions must both be (k, n_samples), got {signals.shape} and {reconstructions.shape}"
        )
    k = len(signals)
    fig, axes = plt.subplots(k, 1, figsize=(10, 1.9 * k + 0.4), sharex=True, squeeze=False)
    time_s = np.arange(signals.shape[1]) / fs_hz
    for i, ax in enumerate(axes[:, 0]):
        ax.plot(time_s, signals[i], color="black", lw=0.9, label=labels[0])
        ax.plot(time_s, reconstructions[i], color="tab:red", lw=0.9, alpha=0.8, label=labels[1])
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
        ax.set_ylabel(ylabel)
    axes[0, 0].legend(loc="upper right", fontsize=8, ncol=2)
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    return fig


def limits_of_agreement(reference, measured, *, z: float = 1.96) -> tuple[float, float, float]:
    """Bland-Altman bias and limits of agreement of ``measured - reference``.

    Parameters
    ----------
    reference, measured : array-like of shape (n,); pairs with a NaN are dropped
    z : width of the limits in SDs of the differences (1.96: 95 % for normal differences)

    Returns
    -------
    (bias, lower, upper) : mean difference and ``bias -/+ z * SD`` (SD with ddof=1); NaN when
    fewer than two pairs remain
    """
    reference, measured = np.asarray(reference, dtype=np.float64), np.asarray(measured, dtype=np.float64)
    if reference.shape != measured.shape or reference.ndim != 1:
        raise ValueError(
            f"reference and measured must be (n,) of one shape, got {reference.shape}, {measured.shape}"
        )
    both = np.isfinite(reference) & np.isfinite(measured)
    diff = measured[both] - reference[both]
    if len(diff) < 2:
        return float("nan"), float("nan"), float("nan")
    bias, sd = float(diff.mean()), float(diff.std(ddof=1))
    return bias, bias - z * sd, bias + z * sd


def _panel_pairs(panels: Mapping[str, tuple]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    out = []
    for name, (reference, measured) in panels.items():
        reference, measured = np.asarray(reference, dtype=np.float64), np.asarray(measured, dtype=np.float64)
        if reference.shape != measured.shape:
            raise ValueError(
                f"panel {name!r}: reference {reference.shape} and measured {measured.shape} differ"
            )
        both = np.isfinite(reference) & np.isfinite(measured)
        out.append((name, reference[both], measured[both]))
    if not out:
        raise ValueError("need at least one panel")
    return out


def bland_altman(
    panels: Mapping[str, tuple],
    *,
    units: Mapping[str, str] | None = None,
    reference_label: str = "true",
    measured_label: str = "predicted",
    title: str | None = None,
) -> Figure:
    """Bland-Altman plots, one panel per quantity: difference vs mean, with bias and 95 % limits.

    Parameters
    ----------
    panels : title -> (reference, measured), each array-like of shape (n,) in the quantity's units
        (NaN pairs dropped)
    units : title -> unit shown on the axes
    reference_label, measured_label : names of the two methods (y axis: measured - reference)
    """
    import matplotlib.pyplot as plt

    pairs = _panel_pairs(panels)
    fig, axes = plt.subplots(1, len(pairs), figsize=(3.6 * len(pairs), 3.4), squeeze=False)
    for ax, (name, reference, measured) in zip(axes[0], pairs):
        unit = f" ({units[name]})" if units and name in units else ""
        ax.scatter((reference + measured) / 2, measured - reference, s=10, alpha=0.7)
        bias, lower, upper = limits_of_agreement(reference, measured)
        if np.isfinite(bias):
            ax.axhline(bias, color="black", lw=1, label=f"bias {bias:.3g}")
            for limit in (lower, upper):
                ax.axhline(limit, color="grey", ls="--", lw=1)
            ax.plot([], [], color="grey", ls="--", lw=1, label=f"95% limits {lower:.3g}, {upper:.3g}")
            ax.legend(fontsize=7)
        ax.axhline(0, color="0.8", lw=0.8, zorder=0)
        ax.set(
            title=name,
            xlabel=f"mean of {reference_label} and {measured_label}{unit}",
            ylabel=f"{measured_label} - {reference_label}{unit}",
        )
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def predicted_vs_true(
    panels: Mapping[str, tuple],
    *,
    units: Mapping[str, str] | None = None,
    title: str | None = None,
) -> Figure:
    """Predicted against true values, one panel per quantity, with the identity line.

    Parameters
    ----------
    panels : title -> (true, predicted), each array-like of shape (n,) (NaN pairs dropped)
    units : title -> unit shown on the axes
    """
    import matplotlib.pyplot as plt

    pairs = _panel_pairs(panels)
    fig, axes = plt.subplots(1, len(pairs), figsize=(3.4 * len(pairs), 3.4), squeeze=False)
    for ax, (name, true, predicted) in zip(axes[0], pairs):
        unit = f" ({units[name]})" if units and name in units else ""
        ax.scatter(true, predicted, s=10, alpha=0.7)
        if true.size:
            low, high = float(min(true.min(), predicted.min())), float(max(true.max(), predicted.max()))
            ax.plot([low, high], [low, high], color="grey", ls="--", lw=1, label="y = x")
            ax.legend(fontsize=7)
        ax.set(title=name, xlabel=f"true{unit}", ylabel=f"predicted{unit}")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrices(matrices: Mapping[str, pd.DataFrame], *, title: str) -> Figure:
    """Row-normalised confusion matrices side by side (true class on the y axis, predicted on the x axis).

    ``matrices``: panel title -> counts from :func:`ecglib.metrics.confusion_table` (true rows).
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(matrices), figsize=(3.2 * len(matrices), 3.2), squeeze=False)
    for ax, (name, matrix) in zip(axes[0], matrices.items()):
        counts = matrix.to_numpy()
        share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        ax.imshow(share, vmin=0, vmax=1, cmap="Blues")
        classes = [c.removeprefix("true ") for c in matrix.index]
        ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(classes)), classes, fontsize=7)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.set_title(name, fontsize=9)
        ax.grid(False)
        for i in range(len(classes)):
            for j in range(len(classes)):
                ax.text(
                    j,
                    i,
                    f"{counts[i, j]}",
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if share[i, j] > 0.6 else "black",
                )
    fig.suptitle(title + " (colour: share of the true class)", fontsize=10)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig
