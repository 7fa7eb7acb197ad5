"""DeepFake GAN generation speed and interval-measurement time per ECG.

    .venv/bin/python benchmarks/gan_throughput.py [--n 256] [--batch-size 32] [--device cpu] [--n-measure 20]

Prints ECGs per second for generation (weights loaded once, untimed; one warm-up batch),
the seconds to load the weights, and the seconds per ECG for ecglib.intervals.measure_intervals
with each method on 8-lead GAN ECGs. Writes outputs/benchmarks/gan_throughput.json.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch

from ecglib import intervals
from ecglib.data import deepfake_gan
from ecglib.runner import write_json_atomic

OUTPUT_DIR = Path(__file__).resolve().parents[1] / "outputs" / "benchmarks"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256, help="ECGs generated per timed run")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-measure", type=int, default=20, help="ECGs measured per interval method")
    args = parser.parse_args()

    start = time.perf_counter()
    generator = deepfake_gan.load_generator(args.device)
    load_s = time.perf_counter() - start
    deepfake_gan.generate(
        args.batch_size, seed=999, batch_size=args.batch_size, device=args.device, generator=generator
    )

    runs_s = []
    for repeat in range(args.repeats):
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        signals_mv = deepfake_gan.generate(
            args.n, seed=repeat, batch_size=args.batch_size, device=args.device, generator=generator
        )
        runs_s.append(time.perf_counter() - start)
    best_s = min(runs_s)
    result = {
        "device": args.device,
        "torch_threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "batch_size": args.batch_size,
        "n": args.n,
        "load_weights_s": load_s,
        "generate_runs_s": runs_s,
        "ecgs_per_s": args.n / best_s,
        "ms_per_ecg": 1000 * best_s / args.n,
    }
    print(f"device {args.device}, {torch.get_num_threads()} torch threads, batch {args.batch_size}")
    print(f"load weights: {load_s:.2f} s")
    print(
        f"generate {args.n} ECGs: best of {args.repeats} runs {best_s:.2f} s -> {result['ecgs_per_s']:.1f} ECG/s, {result['ms_per_ecg']:.1f} ms per ECG"
    )

    print(f"\ninterval measurement, {args.n_measure} GAN ECGs (8 leads), seconds per ECG:")
    print(f"{'method':<12}{'median':>8}{'mean':>8}{'max':>8}{'measured':>10}")
    names = deepfake_gan.lead_names("8")
    intervals.measure_intervals(signals_mv[0], deepfake_gan.FS_HZ, names)  # imports and first-call costs
    result["measure_s_per_ecg"] = {}
    for method in intervals.METHODS:
        seconds, measured = [], 0
        for signal_mv in signals_mv[: args.n_measure]:
            start = time.perf_counter()
            values = intervals.measure_intervals(signal_mv, deepfake_gan.FS_HZ, names, method=method)
            seconds.append(time.perf_counter() - start)
            measured += int(np.isfinite([values[name] for name in intervals.INTERVAL_NAMES]).all())
        result["measure_s_per_ecg"][method] = {
            "median": float(np.median(seconds)),
            "mean": float(np.mean(seconds)),
            "max": float(np.max(seconds)),
        }
        print(
            f"{method:<12}{np.median(seconds):>8.3f}{np.mean(seconds):>8.3f}{np.max(seconds):>8.3f}{measured:>7}/{args.n_measure}"
        )

    write_json_atomic(OUTPUT_DIR / "gan_throughput.json", result)
    print(f"\nwrote {OUTPUT_DIR / 'gan_throughput.json'}")


if __name__ == "__main__":
    main()
