"""Wall time and peak memory of every study's smoke run (the main job's budget: 10 min, 4 GiB together).

Each study runs in its own ``ecglib run`` process; the peak is the largest sum of resident
memory over that process tree (runner + Jupyter kernel), sampled every 0.2 s.

    python benchmarks/smoke_runs.py [--profile smoke] [--output-root DIR] [STUDY ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from ecglib import runner


def tree_rss_bytes(process: psutil.Process) -> int:
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def measure(study: str, profile: str, output_root: Path) -> dict:
    command = [
        sys.executable,
        "-m",
        "ecglib",
        "run",
        study,
        "--profile",
        profile,
        "--output-root",
        str(output_root),
        "--quiet",
    ]
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    handle = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            peak = max(peak, tree_rss_bytes(handle))
        except psutil.NoSuchProcess:
            break
        time.sleep(0.2)
    stderr = proc.stderr.read() if proc.stderr else ""
    return {
        "study": study,
        "profile": profile,
        "ok": proc.returncode == 0,
        "wall_s": round(time.perf_counter() - t0, 1),
        "peak_rss_gib": round(peak / 2**30, 2),
        "error": stderr.strip().splitlines()[-1] if proc.returncode else "",
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("studies", nargs="*", help="default: every study with a notebook")
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--output-root", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    studies = args.studies or runner.available_studies()
    output_root = args.output_root or Path(tempfile.mkdtemp(prefix="ecglib-bench-"))
    rows = [measure(study, args.profile, output_root) for study in studies]
    print(f"{'study':12s} {'ok':>3s} {'wall s':>8s} {'peak GiB':>9s}")
    for row in rows:
        print(
            f"{row['study']:12s} {'yes' if row['ok'] else 'NO':>3s} {row['wall_s']:8.1f} {row['peak_rss_gib']:9.2f} {row['error']}"
        )
    total = sum(row["wall_s"] for row in rows)
    peak = max((row["peak_rss_gib"] for row in rows), default=0.0)
    print(f"{'all':12s}     {total:8.1f} {peak:9.2f}   (budget: 600 s, 4 GiB)")
    if args.json:
        runner.write_json_atomic(args.json, {"rows": rows, "total_wall_s": total, "peak_rss_gib": peak})
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
