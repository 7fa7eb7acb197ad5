"""Training and inference throughput (examples/s) of ``ecglib.train.fit``/``predict``.

A small 1D CNN (three Conv-BN-ReLU-MaxPool blocks, global average pooling, a linear head;
about 19 k parameters for one lead) is trained on random single-label data held in memory, at a few
batch sizes. ``fit`` runs without a validation set (``monitor="train_loss"``), so an
epoch is pure training; the first epoch (warm-up) is left out and the median of the
others is reported. ``predict`` is timed once per batch size after training.

Usage: ``python benchmarks/train_throughput.py [--device cpu|cuda|auto] [--batch-sizes 32 128]
[--n-examples 1024] [--n-samples 2048] [--n-leads 1] [--epochs 3] [--threads N]``.
Prints a table and writes ``outputs/benchmarks/train_throughput.json``. No timing asserts.
On a small, busy CPU box ``--threads 1`` can be several times faster than torch's default.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ecglib import train
from ecglib.runner import write_json_atomic


def small_cnn(n_leads: int, n_classes: int, *, seed: int) -> nn.Module:
    """Conv(16)-Conv(32)-Conv(64) blocks, kernel 7, max-pool 4, global average pool, Linear."""
    layers: list[nn.Module] = []
    channels = [n_leads, 16, 32, 64]
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for n_in, n_out in zip(channels[:-1], channels[1:]):
            layers += [
                nn.Conv1d(n_in, n_out, 7, padding=3),
                nn.BatchNorm1d(n_out),
                nn.ReLU(),
                nn.MaxPool1d(4),
            ]
        layers += [nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(channels[-1], n_classes)]
        return nn.Sequential(*layers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--n-examples", type=int, default=1024)
    parser.add_argument(
        "--n-samples", type=int, default=2048, help="samples per example (Jang: 2048 at 250 Hz)"
    )
    parser.add_argument("--n-leads", type=int, default=1)
    parser.add_argument("--n-classes", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per batch size; the first is warm-up")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument("--output", default="outputs/benchmarks/train_throughput.json")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be >= 2 (the first epoch is warm-up)")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = train.resolve_device(args.device)
    rng = np.random.default_rng(0)
    signals = rng.normal(size=(args.n_examples, args.n_samples, args.n_leads)).astype(np.float32)
    labels = rng.integers(0, args.n_classes, size=args.n_examples)
    n_parameters = sum(p.numel() for p in small_cnn(args.n_leads, args.n_classes, seed=0).parameters())

    rows = []
    for batch_size in args.batch_sizes:
        model = small_cnn(args.n_leads, args.n_classes, seed=0)
        result = train.fit(
            model,
            (signals, labels),
            None,
            task="single_label",
            epochs=args.epochs,
            lr=1e-3,
            batch_size=batch_size,
            seed=0,
            device=device,
            monitor="train_loss",
            progress=False,
        )
        epoch_s = statistics.median(result.epoch_seconds[1:])
        train.predict(model, signals[:batch_size], batch_size=batch_size, device=device)  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        train.predict(model, signals, batch_size=batch_size, device=device)
        predict_s = time.perf_counter() - start
        rows.append(
            {
                "batch_size": batch_size,
                "train_examples_per_s": args.n_examples / epoch_s,
                "epoch_s": epoch_s,
                "predict_examples_per_s": args.n_examples / predict_s,
                "final_train_loss": float(result.history["train_loss"].iloc[-1]),
            }
        )

    print(
        f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, model {n_parameters} parameters, "
        f"data ({args.n_examples}, {args.n_samples}, {args.n_leads}), median of epochs 2..{args.epochs}"
    )
    header = f"{'batch':>6} {'train ex/s':>11} {'epoch s':>8} {'predict ex/s':>13}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['batch_size']:>6} {row['train_examples_per_s']:>11.0f} {row['epoch_s']:>8.2f} "
            f"{row['predict_examples_per_s']:>13.0f}"
        )
    report = {
        "rows": rows,
        "settings": vars(args),
        "n_parameters": n_parameters,
        "machine": {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "threads": torch.get_num_threads(),
            "device": str(device),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        },
    }
    output = Path(args.output)
    write_json_atomic(output, report)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
