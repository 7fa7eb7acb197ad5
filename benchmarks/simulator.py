"""Simulator throughput on one core: 10 s 12-lead ECGs per second at 500 Hz (target >= 200).

Threads are pinned to 1 (BLAS/OpenMP before numpy is imported, torch.set_num_threads(1)).
Reports wall-clock and process-CPU rates; on a shared machine the CPU rate is the fairer one.
Writes outputs/benchmarks/simulator.json.

Run: .venv/bin/python benchmarks/simulator.py [--n 1000] [--repeats 3]
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ecglib.data import simulated  # noqa: E402
from ecglib.runner import write_json_atomic  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "outputs" / "benchmarks" / "simulator.json"


def _measure(label: str, make, n: int, repeats: int) -> dict:
    wall, cpu = [], []
    for repeat in range(repeats):
        t_wall, t_cpu = time.perf_counter(), time.process_time()
        make(repeat)
        wall.append(time.perf_counter() - t_wall)
        cpu.append(time.process_time() - t_cpu)
    return {
        "case": label,
        "n_examples": n,
        "best_wall_s": min(wall),
        "ecgs_per_s_wall": n / min(wall),
        "ecgs_per_s_cpu": n / min(cpu),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cases = [
        (
            "sim-chapman 500 Hz 10 s 12 leads, noise",
            lambda r: simulated.simulate("sim-chapman", args.n, seed=r),
        ),
        (
            "sim-chapman 500 Hz 10 s 12 leads, no noise",
            lambda r: simulated.simulate("sim-chapman", args.n, seed=r, snr_db=None),
        ),
        ("sim-ptbxl 500 Hz 10 s 12 leads, noise", lambda r: simulated.simulate("sim-ptbxl", args.n, seed=r)),
        (
            "sim-chapman 100 Hz 10 s 12 leads, noise",
            lambda r: simulated.simulate("sim-chapman", args.n, seed=r, fs_hz=100),
        ),
    ]
    rows = [_measure(label, make, args.n, args.repeats) for label, make in cases]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"threads=1, numpy {np.__version__}, load average (1 min) {load:.1f}, best of {args.repeats}")
    print(f"{'case':46s} {'n':>6s} {'wall s':>8s} {'ECG/s wall':>11s} {'ECG/s CPU':>10s}")
    for row in rows:
        print(
            f"{row['case']:46s} {row['n_examples']:6d} {row['best_wall_s']:8.2f} {row['ecgs_per_s_wall']:11.0f} {row['ecgs_per_s_cpu']:10.0f}"
        )
    write_json_atomic(OUT, {"load_average_1min": load, "rows": rows})


if __name__ == "__main__":
    main()
