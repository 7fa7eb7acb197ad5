"""Interval measurement (ecglib.intervals) against LUDB's cardiologist delineation, per method and definition.

Two definitions of how 12 leads make one record's PR, QRS and QT are scored, each against
the cardiologists' annotations combined the same way (ecglib.data.ludb.interval_targets):

* ``global`` -- per beat across leads, earliest onset to latest offset (MUSE/12SL; the
  reference uses the literal earliest/latest, the measurement its robust quantile
  ecglib.intervals.GLOBAL_QRS_QUANTILE); median over beats;
* ``median`` -- each lead's median over beats, then the median over the 12 leads.

A lead-II-only reference is also reported. For each neurokit2 method and definition the
script prints, per interval: records with a reference, failure rate (reference present,
measurement NaN), measurements without a reference (e.g. a PR in atrial fibrillation), MAE,
median absolute error and bias (measured - reference), over all records and over records
without cardiac pacing; then the P-wave check's confusion table (PR reported or not vs
P waves annotated or not); then 50 DeepFake GAN ECGs per method.

    ECGLIB_DATA=/work/shared/data .venv/bin/python benchmarks/intervals_ludb.py [--jobs 2] [--n-gan 50]

Writes outputs/benchmarks/intervals_ludb.json and the per-record CSV beside it.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from ecglib import intervals
from ecglib.data import deepfake_gan, ludb
from ecglib.runner import write_json_atomic

OUTPUT_DIR = Path(__file__).resolve().parents[1] / "outputs" / "benchmarks"
NAMES = ("hr_bpm", "pr_ms", "qrs_ms", "qt_ms")
DEFINITIONS = intervals.DEFINITIONS


def _one_record(record_id: str) -> list[dict]:
    record = ludb.load_record(record_id)
    references = {
        definition: ludb.interval_targets(record_id, definition=definition) for definition in DEFINITIONS
    }
    lead_ii = intervals.intervals_from_waves(ludb.load_delineation(record_id, "II"), ludb.FS_HZ)
    paced = bool(record.meta.get("cardiac_pacing", ""))
    rows = []
    for method in intervals.METHODS:
        start = time.perf_counter()
        # one measurement gives both definitions (pr_ms_global, pr_ms_median, ...)
        measured = intervals.measure_intervals(
            record.signal_mv, record.fs_hz, record.lead_names, method=method
        )
        seconds = time.perf_counter() - start
        for definition in DEFINITIONS:
            row = {
                "record_id": record_id,
                "method": method,
                "definition": definition,
                "paced": paced,
                "rhythm": record.meta.get("rhythm", ""),
                "seconds": seconds,
                "atrial_correlation": measured["atrial_correlation"],
                "pr_iqr_ms": measured["pr_iqr_ms"],
                "reason": measured["reason"],
            }
            for name in NAMES:
                row[f"ref_{name}"] = references[definition][name]
                row[f"ref_lead_ii_{name}"] = lead_ii[name]
                row[f"measured_{name}"] = measured[name if name == "hr_bpm" else f"{name}_{definition}"]
            rows.append(row)
    return rows


def _one_gan(args: tuple[np.ndarray, str]) -> dict:
    signal_mv, method = args
    start = time.perf_counter()
    measured = intervals.measure_intervals(
        signal_mv, deepfake_gan.FS_HZ, deepfake_gan.lead_names("8"), method=method
    )
    return {
        **{name: measured[name] for name in NAMES},
        "method": method,
        "seconds": time.perf_counter() - start,
        "reason": measured["reason"],
    }


def score(table: pd.DataFrame, reference: str = "ref") -> pd.DataFrame:
    rows = []
    for (method, definition), group in table.groupby(["method", "definition"], sort=False):
        for name in NAMES:
            has_reference = group[f"{reference}_{name}"].notna()
            measured = group.loc[has_reference, f"measured_{name}"]
            error = (measured - group.loc[has_reference, f"{reference}_{name}"]).dropna()
            rows.append(
                {
                    "method": method,
                    "definition": definition,
                    "interval": name,
                    "n_reference": int(has_reference.sum()),
                    "failure_rate": float(measured.isna().mean()) if has_reference.any() else np.nan,
                    # e.g. a PR measured in atrial fibrillation, where the cardiologists marked no P wave
                    "n_measured_without_reference": int(
                        group.loc[~has_reference, f"measured_{name}"].notna().sum()
                    ),
                    "mae": float(error.abs().mean()),
                    "median_ae": float(error.abs().median()),
                    "bias": float(error.mean()),
                    "within_20ms_or_5bpm": float((error.abs() <= (5 if name == "hr_bpm" else 20)).mean()),
                }
            )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--n-gan", type=int, default=50)
    parser.add_argument("--records", type=int, default=None, help="first N records only")
    args = parser.parse_args()

    record_ids = ludb.list_records()[: args.records]
    start = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        table = pd.DataFrame([row for rows in pool.map(_one_record, record_ids) for row in rows])
    print(
        f"LUDB: {len(record_ids)} records x {len(intervals.METHODS)} methods in {time.perf_counter() - start:.0f} s ({args.jobs} processes)\n"
    )

    pd.set_option("display.width", 160)
    results = {}
    for label, subset, reference in (
        ("all records, consensus reference", table, "ref"),
        ("records without pacing, consensus reference", table[~table["paced"]], "ref"),
        ("all records, lead II reference", table, "ref_lead_ii"),
    ):
        scored = score(subset, reference)
        results[label] = scored.to_dict(orient="records")
        print(f"== {label} ({subset['record_id'].nunique()} records); errors in bpm (hr) or ms ==")
        print(scored.round(3).to_string(index=False), "\n")
    mae = (
        score(table, "ref")
        .pivot_table(index=["method", "definition"], columns="interval", values="mae", sort=False)
        .reindex(columns=list(NAMES))
    )
    print("== MAE against the cardiologists, each definition against its own reference (bpm or ms) ==")
    print(mae.round(1).to_string(), "\n")
    results["mae_table"] = {f"{m}/{d}": row.to_dict() for (m, d), row in mae.iterrows()}

    # the P-wave check: PR reported or not, against P waves annotated or not
    checks = table[table["definition"] == "global"].assign(
        p_annotated=lambda t: t["ref_pr_ms"].notna(), pr_reported=lambda t: t["measured_pr_ms"].notna()
    )
    confusion = checks.groupby(["method", "p_annotated", "pr_reported"]).size().unstack(fill_value=0)
    print("== P-wave check: records by P waves annotated (rows) and PR reported (columns) ==")
    print(confusion.to_string(), "\n")
    results["p_wave_confusion"] = {
        f"{m}/annotated={a}": row.to_dict() for (m, a), row in confusion.iterrows()
    }
    seconds = table.groupby("method")["seconds"].median()
    print("median seconds per record (12 leads):", seconds.round(3).to_dict(), "\n")
    results["seconds_per_record_median"] = seconds.to_dict()

    signals_mv = deepfake_gan.generate(args.n_gan, seed=0)
    with ProcessPoolExecutor(args.jobs) as pool:
        gan = pd.DataFrame(
            pool.map(_one_gan, [(signal, method) for method in intervals.METHODS for signal in signals_mv])
        )
    summary = gan.groupby("method", sort=False)[list(NAMES)].describe(percentiles=[0.05, 0.5, 0.95])
    print(f"== {args.n_gan} DeepFake GAN ECGs (seed 0, 8 leads): measured intervals per method ==")
    for name in NAMES:
        view = summary[name][["count", "5%", "50%", "95%", "min", "max"]]
        print(f"-- {name} (count = measured, of {args.n_gan})")
        print(view.round(1).to_string(), "\n")
    results["gan"] = {
        method: {
            name: gan.loc[gan["method"] == method, name].describe(percentiles=[0.05, 0.5, 0.95]).to_dict()
            for name in NAMES
        }
        for method in intervals.METHODS
    }

    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    table.to_csv(OUTPUT_DIR / "intervals_ludb_records.csv", index=False)
    gan.to_csv(OUTPUT_DIR / "intervals_gan.csv", index=False)
    write_json_atomic(OUTPUT_DIR / "intervals_ludb.json", results)
    print(f"wrote {OUTPUT_DIR / 'intervals_ludb.json'}")


if __name__ == "__main__":
    main()
