"""Records per second: loading + preprocessing from the raw files vs reading the disk cache.

MIT-BIH: read the record and its annotations (wfdb), band-pass MLII 0.4-30 Hz (zero-phase
Butterworth, order 3), min-max to (0, 2), cut 1 s windows labelled normal/abnormal
(Vavekanand et al.'s preprocessing). LUDB: read the 12-lead record, remove baseline
(0.5 Hz high-pass) and resample 500 -> 250 Hz. Each record is one cache entry
(``ecglib.data.cache.cached``) in a fresh temporary cache folder, so the first pass
computes and writes, and the second pass only reads. The raw files sit in the OS page
cache after the first read, so "raw" here is a warm-disk figure; the cache's advantage on
a cold disk is larger.

Usage: ``ECGLIB_DATA=/path/to/data python benchmarks/data_loading.py [--records N]``.
Prints a table and writes ``outputs/benchmarks/data_loading.json``. No timing asserts.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import ecglib.data
from ecglib import preprocess, segment
from ecglib.data import cache, mitbih
from ecglib.runner import write_json_atomic

CODE_VERSION = "benchmark-1"


def mitbih_arrays(record_id: str, root) -> dict[str, np.ndarray]:
    """Vavekanand-style 1 s windows of one record's MLII (lead 0 where there is no MLII)."""
    record = mitbih.load_record(record_id, root)
    annotations = mitbih.load_annotations(record_id, root)
    signal_mv, _ = preprocess.select_lead(record.signal_mv, record.lead_names, "MLII", fallback="first_lead")
    scaled = preprocess.bandpass_minmax(
        signal_mv, record.fs_hz, band_hz=(0.4, 30.0), normalise_range=(0.0, 2.0)
    )
    windows = segment.fixed_windows(
        scaled, annotations.beat_samples, annotations.beat_symbols, window_samples=int(record.fs_hz)
    )
    return {"signals": windows.signals, "labels": windows.labels, "start_samples": windows.start_samples}


def ludb_arrays(record_id: str, root) -> dict[str, np.ndarray]:
    """One LUDB record: baseline removed, resampled to 250 Hz, (2500, 12) mV."""
    from ecglib.data import ludb

    record = ludb.load_record(record_id, root)
    cleaned = preprocess.remove_baseline(record.signal_mv, record.fs_hz, cutoff_hz=0.5)
    return {"signal_mv": preprocess.resample(cleaned, record.fs_hz, 250.0)}


def time_passes(name: str, record_ids: list[str], make, key_of, cache_folder: Path) -> dict:
    """Seconds for: raw (no cache), cache write pass (compute + write), cache read pass."""
    start = time.perf_counter()
    raw_shapes = [make(record_id) for record_id in record_ids]
    raw_s = time.perf_counter() - start
    start = time.perf_counter()
    for record_id in record_ids:
        cache.cached(key_of(record_id), lambda record_id=record_id: make(record_id), cache_dir=cache_folder)
    write_s = time.perf_counter() - start
    start = time.perf_counter()
    read = [
        cache.cached(key_of(record_id), lambda record_id=record_id: make(record_id), cache_dir=cache_folder)
        for record_id in record_ids
    ]
    read_s = time.perf_counter() - start
    for computed, loaded in zip(raw_shapes, read):
        for array_name in computed:
            np.testing.assert_array_equal(computed[array_name], loaded[array_name])
    n_bytes = sum(path.stat().st_size for path in cache_folder.glob(f"{name}-*.npz"))
    return {
        "dataset": name,
        "n_records": len(record_ids),
        "raw_records_per_s": len(record_ids) / raw_s,
        "cache_write_records_per_s": len(record_ids) / write_s,
        "cached_records_per_s": len(record_ids) / read_s,
        "speedup_cached_vs_raw": raw_s / read_s,
        "cache_mb": n_bytes / 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=None, help="records per dataset (default: all)")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--output", default="outputs/benchmarks/data_loading.json")
    args = parser.parse_args(argv)
    root = ecglib.data.data_root(args.data_root)
    rows, skipped = [], []
    with tempfile.TemporaryDirectory(prefix="ecglib-cache-bench-") as cache_folder:
        try:
            record_ids = mitbih.list_records(root)[: args.records]
        except ecglib.data.DataMissingError as exc:
            skipped.append(f"mitbih: {exc}")
        else:

            def mitbih_key(record_id):
                return {
                    "dataset": "mitbih",
                    "version": mitbih.INFO.version,
                    "record": record_id,
                    "lead": "MLII",
                    "band_hz": [0.4, 30.0],
                    "order": 3,
                    "range": [0, 2],
                    "window_samples": 360,
                    "normal_labels": list(segment.VAVEKANAND_NORMAL_SYMBOLS),
                    "code_version": CODE_VERSION,
                }

            rows.append(
                time_passes(
                    "mitbih", record_ids, lambda r: mitbih_arrays(r, root), mitbih_key, Path(cache_folder)
                )
            )
        try:
            from ecglib.data import ludb
        except ImportError as exc:
            skipped.append(f"ludb: ecglib.data.ludb not importable ({exc})")
        else:
            try:
                record_ids = ludb.list_records(root)[: args.records]
            except ecglib.data.DataMissingError as exc:
                skipped.append(f"ludb: {exc}")
            else:

                def ludb_key(record_id):
                    return {
                        "dataset": "ludb",
                        "version": ludb.INFO.version,
                        "record": record_id,
                        "baseline_hz": 0.5,
                        "fs_out_hz": 250,
                        "code_version": CODE_VERSION,
                    }

                rows.append(
                    time_passes(
                        "ludb", record_ids, lambda r: ludb_arrays(r, root), ludb_key, Path(cache_folder)
                    )
                )
    header = f"{'dataset':8} {'records':>7} {'raw rec/s':>10} {'write rec/s':>12} {'cached rec/s':>13} {'speedup':>8} {'cache MB':>9}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['dataset']:8} {row['n_records']:>7} {row['raw_records_per_s']:>10.1f} "
            f"{row['cache_write_records_per_s']:>12.1f} {row['cached_records_per_s']:>13.1f} "
            f"{row['speedup_cached_vs_raw']:>7.1f}x {row['cache_mb']:>9.1f}"
        )
    for message in skipped:
        print(f"skipped {message}")
    result = {
        "rows": rows,
        "skipped": skipped,
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "target": "cached >= 20x raw",
    }
    output = Path(args.output)
    write_json_atomic(output, result)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
