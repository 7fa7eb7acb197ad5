"""Training throughput of the Vavekanand grid: plain one-model loop vs ``ecglib.grid.train_grid``.

The study's full protocol trains, per patient, 18 grid points (3 learning rates x 3 batch
sizes x weighted sampling on/off) for each of 2 modes (individual, fine-tuned): 29 x 36 runs
of 30 epochs. Here one epoch of a realistic slice: ``--patients`` synthetic "patients" with
``--n-train`` training and ``--n-val`` validation windows each (1 x 128 samples, the BeatCNN
input), that is 12 runs per patient and batch size (4, 16, 32). The plain loop
(``ecglib.grid.train_single``: nn.Module + torch.optim.Adam, one run at a time, torch's
default threads) is timed on one run per batch size; ``train_grid`` on all runs of each
batch size for several ``max_samples_per_step`` values. Both include the per-epoch
validation pass.

Throughput is training examples per second (one example = one window through one model's
forward + backward + update). The last line estimates the full local protocol's wall time
from the best grid setting: 29 patients x 12 runs per batch size x 30 epochs x the measured
per-batch-size throughput, with ``--n-train`` windows per run, plus the pre-training (29 x
``--n-train`` windows x 30 epochs at the batch-32 rate).

Usage: ``python benchmarks/vavekanand_grid.py [--epochs 1] [--patients 3] [--n-train 1088] [--workers 2]``.
Prints a table and writes ``outputs/benchmarks/vavekanand_grid.json``. No timing asserts.
Timings on a shared machine vary; rerun when the CPU is idle for clean figures.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from ecglib.grid import GridRun, train_grid, train_single
from ecglib.models.beat_cnn import BeatCNN
from ecglib.runner import write_json_atomic

BATCH_SIZES = (4, 16, 32)
LEARNING_RATES = (0.001, 0.01, 0.1)
N_PATIENTS_PAPER = 29
EPOCHS_PAPER = 30


def synthetic_windows(n_per_patient: int, n_patients: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random 1 x 128 windows with 20 % positives carrying a bump (only the shapes matter here)."""
    rng = np.random.default_rng(seed)
    n = n_per_patient * n_patients
    targets = (rng.random(n) < 0.2).astype(np.int64)
    signals = rng.normal(0.0, 0.1, size=(n, 1, 128)).astype(np.float32) + 1.0
    signals[targets == 1, :, 60:70] += 0.5
    return signals, targets


def runs_for(batch_size: int, n_patients: int, n_train: int, n_val: int) -> list[GridRun]:
    runs = []
    per_patient = n_train + n_val
    for patient in range(n_patients):
        start = patient * per_patient
        train = np.arange(start, start + n_train)
        val = np.arange(start + n_train, start + per_patient)
        for lr in LEARNING_RATES:
            for weighted in (True, False):
                for repeat in range(2):  # individual + fine-tuned: same cost, two models
                    runs.append(
                        GridRun(
                            train,
                            val,
                            lr=lr,
                            batch_size=batch_size,
                            weighted_sampling=weighted,
                            seed=len(runs),
                            tags={"patient": patient, "repeat": repeat},
                        )
                    )
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--patients", type=int, default=3)
    parser.add_argument(
        "--n-train", type=int, default=1088, help="training windows per patient (paper average ~1,090)"
    )
    parser.add_argument("--n-val", type=int, default=272)
    parser.add_argument("--steps", default="64,128,256", help="max_samples_per_step values to try")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--skip-plain", action="store_true")
    parser.add_argument(
        "--workers", type=int, default=1, help="train_grid n_workers (processes, one thread each)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    signals, targets = synthetic_windows(args.n_train + args.n_val, args.patients, seed=0)
    rows = []
    plain_rate = {}
    for batch_size in BATCH_SIZES:
        runs = runs_for(batch_size, args.patients, args.n_train, args.n_val)
        if not args.skip_plain:
            start = time.perf_counter()
            result = train_single(BeatCNN, signals, targets, runs[0], epochs=args.epochs, weight_decay=1e-4)
            seconds = time.perf_counter() - start
            plain_rate[batch_size] = result.n_train_examples_seen / seconds
            rows.append(
                {
                    "method": "plain loop",
                    "batch_size": batch_size,
                    "models": 1,
                    "max_samples_per_step": None,
                    "seconds": seconds,
                    "examples_per_s": plain_rate[batch_size],
                }
            )
        for steps in [int(s) for s in args.steps.split(",")]:
            start = time.perf_counter()
            results = train_grid(
                BeatCNN,
                signals,
                targets,
                runs,
                epochs=args.epochs,
                weight_decay=1e-4,
                max_samples_per_step=steps,
                n_workers=args.workers,
            )
            seconds = time.perf_counter() - start
            seen = sum(r.n_train_examples_seen for r in results)
            rows.append(
                {
                    "method": f"train_grid x{args.workers}",
                    "batch_size": batch_size,
                    "models": len(runs),
                    "max_samples_per_step": steps,
                    "seconds": seconds,
                    "examples_per_s": seen / seconds,
                }
            )
    print(
        f"{'method':<12} {'batch':>5} {'models':>6} {'step':>5} {'seconds':>8} {'examples/s':>10} {'speed-up':>8}"
    )
    for row in rows:
        speedup = row["examples_per_s"] / plain_rate[row["batch_size"]] if plain_rate else float("nan")
        row["speedup_vs_plain"] = speedup
        print(
            f"{row['method']:<12} {row['batch_size']:>5} {row['models']:>6} {str(row['max_samples_per_step']):>5} "
            f"{row['seconds']:>8.1f} {row['examples_per_s']:>10.0f} {speedup:>8.2f}"
        )
    best = {
        b: max(
            r["examples_per_s"] for r in rows if r["method"].startswith("train_grid") and r["batch_size"] == b
        )
        for b in BATCH_SIZES
    }
    examples_per_batch_size = (
        N_PATIENTS_PAPER * 12 * EPOCHS_PAPER * args.n_train
    )  # 12 = 6 grid points x 2 modes
    grid_hours = sum(examples_per_batch_size / best[b] for b in BATCH_SIZES) / 3600
    pretrain_hours = N_PATIENTS_PAPER * args.n_train * EPOCHS_PAPER / (plain_rate.get(32) or best[32]) / 3600
    estimate = {
        "grid_hours": grid_hours,
        "pretrain_hours": pretrain_hours,
        "total_hours": grid_hours + pretrain_hours,
    }
    if plain_rate:
        estimate["plain_loop_hours"] = (
            sum(examples_per_batch_size / plain_rate[b] for b in BATCH_SIZES) / 3600 + pretrain_hours
        )
    print("estimated full local protocol: " + ", ".join(f"{k} {v:.2f}" for k, v in estimate.items()))
    out_dir = Path("outputs/benchmarks")
    payload = {
        "rows": rows,
        "estimate": estimate,
        "args": vars(args),
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.platform(),
        "load_average": os.getloadavg(),
    }
    write_json_atomic(out_dir / "vavekanand_grid.json", payload)


if __name__ == "__main__":
    main()
