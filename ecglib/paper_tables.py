"""Paper-versus-ours tables, generic over arms x conditions x trials.

Every function takes *trials*: a tidy DataFrame with one row per (arm, condition, trial) and the
columns ``arm``, ``condition``, ``trial`` and ``value`` (:func:`tidy` renames a study's own
columns). An *arm* is what is compared (transfer vs random initialisation, individual vs
fine-tuned), a *condition* what the arms are compared under (training size, a patient group),
a *trial* one repetition (bootstrap trial, patient).

The paper's numbers come from ``params/<study>/reported.yaml`` in one shape::

    table2_best_f1:            # condition -> arm -> {mean, sd, trials}, and the paper's p
      100:
        random: {mean: 0.843, sd: 0.004, trials: [...]}
        transfer: {mean: 0.857, sd: 0.004}
        p_value: "<0.05"

Means and SDs are formatted by :func:`ecglib.stats.format_mean_sd` with an explicit ``ddof``,
and every table names its SD convention and its test (:func:`ecglib.stats.compare_samples`:
Welch, paired t or Wilcoxon). Scalar facts (counts, a single headline number) go through
:func:`scalars`, declared as :class:`Row` records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ecglib import stats

TIDY_COLUMNS = ("arm", "condition", "trial", "value")


def tidy(
    frame: pd.DataFrame, *, value: str, condition: str = "condition", arm: str = "arm", trial: str = "trial"
) -> pd.DataFrame:
    """The columns ``arm, condition, trial, value`` of ``frame`` (renamed from the given names), in its order."""
    missing = [name for name in (arm, condition, trial, value) if name not in frame.columns]
    if missing:
        raise KeyError(f"trials have no column(s) {missing}; columns are {list(frame.columns)}")
    out = frame[[arm, condition, trial, value]].copy()
    out.columns = list(TIDY_COLUMNS)
    return out.reset_index(drop=True)


def _check(trials: pd.DataFrame) -> None:
    missing = [name for name in TIDY_COLUMNS if name not in trials.columns]
    if missing:
        raise KeyError(
            f"trials need the columns {list(TIDY_COLUMNS)}; missing {missing} (see paper_tables.tidy)"
        )


def _values(trials: pd.DataFrame, arm: str, condition) -> np.ndarray:
    chosen = trials[(trials["arm"] == arm) & (trials["condition"] == condition)].sort_values("trial")
    return chosen["value"].to_numpy(dtype=np.float64)


def conditions(trials: pd.DataFrame) -> list:
    """The conditions of ``trials`` in the order they first appear."""
    return list(dict.fromkeys(trials["condition"]))


def samples(trials: pd.DataFrame, arms: Sequence[str]) -> dict[str, dict[Any, np.ndarray]]:
    """``arm -> condition -> values`` (trials in order) for every arm in ``arms``; an arm not run maps to {}.

    The shape :func:`ecglib.claims.greater` reads.
    """
    _check(trials)
    return {
        arm: {c: _values(trials, arm, c) for c in conditions(trials[trials["arm"] == arm])} for arm in arms
    }


def sd_caption(ddof: int, test: str | None = None) -> str:
    """The SD convention (and test) a table used, for its caption, e.g. "mean ± sample SD (ddof=1); Welch's t-test"."""
    text = f"mean ± {stats.SD_CONVENTIONS[ddof]}"
    return text if test is None else f"{text}; {stats.TWO_SAMPLE_TESTS[test]}"


def comparisons(
    trials: pd.DataFrame, pairs: Sequence[tuple[str, str]], *, test: str = "welch"
) -> pd.DataFrame:
    """Arm A vs arm B in each condition: sizes, means, difference and the two-sided p of ``test``.

    Returns
    -------
    DataFrame with ``condition, arm_a, arm_b, test, n, mean_a, mean_b, difference, p``, one row
    per condition and pair where both arms have values (conditions in order of appearance).
    """
    _check(trials)
    rows = []
    for condition in conditions(trials):
        for arm_a, arm_b in pairs:
            a, b = _values(trials, arm_a, condition), _values(trials, arm_b, condition)
            if len(a) == 0 or len(b) == 0:
                continue
            result = stats.compare_samples(a, b, test=test)
            rows.append(
                dict(
                    condition=condition,
                    arm_a=arm_a,
                    arm_b=arm_b,
                    test=stats.TWO_SAMPLE_TESTS[test],
                    n=result.n_text,
                    mean_a=result.mean_a,
                    mean_b=result.mean_b,
                    difference=result.difference,
                    p=result.p,
                )
            )
    columns = ["condition", "arm_a", "arm_b", "test", "n", "mean_a", "mean_b", "difference", "p"]
    return pd.DataFrame(rows, columns=columns)


def _label(arm: str, arm_labels: Mapping[str, str] | None) -> str:
    return (arm_labels or {}).get(arm, arm)


def layout(
    trials: pd.DataFrame,
    *,
    arms: Sequence[str],
    pairs: Sequence[tuple[str, str]] = (),
    test: str = "welch",
    ddof: int = 1,
    digits: int = 3,
    arm_labels: Mapping[str, str] | None = None,
    condition_label: str = "{}",
) -> pd.DataFrame:
    """A paper's results table: one row per trial, then mean ± SD, then a p row per compared pair.

    Columns are ``"<condition> <arm label>"`` (conditions in order, arms in ``arms`` order);
    cells are formatted strings. The mean row names the SD convention (``ddof``), each p row
    its test; a p appears under both arms of its pair.
    """
    _check(trials)
    trial_ids = sorted(trials["trial"].unique())
    columns: dict[str, list[str]] = {}
    for condition in conditions(trials):
        for arm in arms:
            values = _values(trials, arm, condition)
            if len(values) == 0:
                continue
            cells = [f"{v:.{digits}f}" for v in values] + [""] * (len(trial_ids) - len(values))
            cells.append(stats.format_mean_sd(values, digits=digits, ddof=ddof))
            columns[f"{condition_label.format(condition)} {_label(arm, arm_labels)}"] = cells
    mean_row = f"mean ± SD (ddof={ddof})"
    table = pd.DataFrame(columns, index=[f"trial {t}" for t in trial_ids] + [mean_row])
    p_rows = {}
    for row in comparisons(trials, pairs, test=test).itertuples():
        name = f"p ({row.arm_a} vs {row.arm_b}, {row.test})"
        for arm in (row.arm_a, row.arm_b):
            p_rows.setdefault(name, {})[
                f"{condition_label.format(row.condition)} {_label(arm, arm_labels)}"
            ] = stats.format_p(row.p)
    if p_rows:
        table = pd.concat([table, pd.DataFrame.from_dict(p_rows, orient="index")]).fillna("")
    table.index.name = "row"
    return table


def versus_paper(
    trials: pd.DataFrame,
    reported_table: Mapping[Any, Mapping[str, Any]],
    *,
    arms: Sequence[str],
    pairs: Sequence[tuple[str, str]] = (),
    test: str = "welch",
    ddof: int = 1,
    paper_ddof: int | None = None,
    digits: int = 3,
    quantity: str = "",
    arm_labels: Mapping[str, str] | None = None,
    condition_label: str = "{}",
) -> pd.DataFrame:
    """Ours beside the paper's, per condition and arm: mean ± SD, difference of means, and p values.

    Parameters
    ----------
    trials : tidy trials (``arm, condition, trial, value``)
    reported_table : ``condition -> {arm: {mean, sd (optional)}, p_value (optional)}`` from
        ``reported.yaml``; conditions or arms it lacks give empty paper cells
    arms : arms shown, in order
    pairs : (A, B) pairs tested; an arm that is B of a pair gets our p of A vs B and the paper's
        ``p_value`` of that condition beside it
    test, ddof : our test and SD convention (both in the column names)
    paper_ddof : the SD convention of the paper's SDs, when known (in the column name)
    quantity : what the values are (first column), e.g. "weighted F1"

    Returns
    -------
    DataFrame with ``quantity, condition, arm, n, ours (mean ± SD, ddof=...), paper (mean ± SD ...),
    ours mean, paper mean, difference (ours - paper), p vs (test), paper p``.
    """
    _check(trials)
    paper_sd = "SD" if paper_ddof is None else f"SD, ddof={paper_ddof}"
    ours_col, paper_col = f"ours (mean ± SD, ddof={ddof})", f"paper (mean ± {paper_sd})"
    p_col = f"ours p ({stats.TWO_SAMPLE_TESTS[test]})"
    tests = comparisons(trials, pairs, test=test)
    rows = []
    for condition in conditions(trials):
        paper_condition = _reported_condition(reported_table, condition)
        for arm in arms:
            values = _values(trials, arm, condition)
            if len(values) == 0:
                continue
            entry = (paper_condition or {}).get(arm) or {}
            paper_mean = entry.get("mean")
            paper_cell = ""
            if paper_mean is not None:
                paper_cell = f"{float(paper_mean):.{digits}f}"
                if entry.get("sd") is not None:
                    paper_cell += f" ± {float(entry['sd']):.{digits}f}"
            ours_mean = float(np.mean(values))
            match = tests[(tests["condition"] == condition) & (tests["arm_b"] == arm)]
            p_text = "; ".join(f"vs {r.arm_a}: {stats.format_p(r.p)}" for r in match.itertuples())
            paper_p = (paper_condition or {}).get("p_value") if len(match) else None
            rows.append(
                {
                    "quantity": quantity,
                    "condition": condition_label.format(condition),
                    "arm": _label(arm, arm_labels),
                    "n": len(values),
                    ours_col: stats.format_mean_sd(values, digits=digits, ddof=ddof),
                    paper_col: paper_cell,
                    "ours mean": ours_mean,
                    "paper mean": np.nan if paper_mean is None else float(paper_mean),
                    "difference (ours - paper)": np.nan
                    if paper_mean is None
                    else ours_mean - float(paper_mean),
                    p_col: p_text,
                    "paper p": "" if paper_p is None else str(paper_p),
                }
            )
    return pd.DataFrame(rows)


def _reported_condition(reported_table: Mapping[Any, Any], condition) -> Mapping[str, Any] | None:
    if condition in reported_table:
        return reported_table[condition]
    return reported_table.get(str(condition))


# --------------------------------------------------------------------------- scalar facts


@dataclass(frozen=True)
class Row:
    """One scalar fact compared with the paper.

    ``ours`` names a (dotted) key of our numbers, ``paper`` one of ``reported.yaml`` (default: the
    same key); ``scale`` multiplies both (100 for percent).
    """

    quantity: str
    ours: str
    unit: str = ""
    paper: str | None = None
    scale: float = 1.0


def scalars(rows: Sequence[Row], ours: Mapping[str, Any], reported: Mapping[str, Any]) -> pd.DataFrame:
    """Scalar facts beside the paper's: ``quantity, paper, ours, difference, unit``.

    A paper key that ``reported`` holds as null (the paper does not say) gives an empty paper
    cell; a key missing from ``ours`` or ``reported`` raises ``KeyError`` naming it.
    """
    from ecglib.claims import lookup

    records = []
    for row in rows:
        value = float(lookup(ours, row.ours, what="our numbers")) * row.scale
        paper = lookup(reported, row.paper or row.ours, what="reported")
        paper = np.nan if paper is None else float(paper) * row.scale
        records.append(
            {
                "quantity": row.quantity,
                "paper": paper,
                "ours": value,
                "difference": value - paper,
                "unit": row.unit,
            }
        )
    return pd.DataFrame.from_records(records, columns=["quantity", "paper", "ours", "difference", "unit"])
