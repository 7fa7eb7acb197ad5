"""Nguyen & Do 2025: examples/s per architecture, and what the whole grid of a profile costs.

1. For each of the paper's six architectures (``nguyen2025.build_model``: ResNet1d18/50/101, LSTM,
   BiLSTM, GRU) at the profile's input shape (12 leads, ``fs_hz * duration_s`` samples) and batch
   size: training examples/s (forward, BCE with logits, backward, Adam step) and inference
   examples/s, after one untimed warm-up step. Wall time and the process's CPU time are both
   recorded: on a shared machine the CPU seconds per example (with ``--threads 1``) are the
   robust number, and wall on an idle machine is about CPU / threads.
2. The profile's grid, enumerated by the study's own ``plan_from_params`` (so the unit count is the one
   the notebook runs) on ``nguyen2025.stand_in_inputs``: index arrays of the sizes the profile implies
   (the paper's Table 1 for ``paper``; LUDB's 150 records and ``sim_n_examples`` simulated records in
   ``n_folds`` patient folds for ``local``), the same stand-ins ``ecglib plan`` uses without the data. Each unit costs
   ``epochs * (n_train / train_rate + (n_val + n_test) / inference_rate)`` (``fit`` evaluates the
   validation and test parts every epoch); the sum is the estimated time of the grid.

No timing is asserted. Usage::

    python benchmarks/nguyen2025_throughput.py [--profiles paper local] [--threads 1] [--steps 3]
        [--device cpu|cuda|auto]

Prints a table per profile and writes ``outputs/benchmarks/nguyen2025_throughput.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import torch
import yaml

from ecglib.runner import write_json_atomic
from ecglib.studies import nguyen2025

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURES = nguyen2025.CNNS + nguyen2025.RNNS


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def throughput(arch: str, cfg: dict, *, batch: int, steps: int, device: torch.device) -> dict:
    """Training and inference examples/s (wall) and CPU seconds per example of one architecture."""
    n_samples = int(round(cfg["fs_hz"] * cfg["duration_s"]))
    n_classes = 5
    model = nguyen2025.build_model(
        arch,
        n_classes=n_classes,
        n_leads=12,
        n_samples=n_samples,
        seed=0,
        rnn_head=cfg["rnn_head"],
        rnn_hidden_size=cfg["rnn_hidden_size"],
        rnn_dropout=cfg["rnn_dropout"],
    ).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg["lr"], betas=(0.9, 0.999))
    generator = torch.Generator().manual_seed(0)
    signals = torch.randn(batch, 12, n_samples, generator=generator).to(device)
    targets = (torch.rand(batch, n_classes, generator=generator) < 0.3).float().to(device)

    def train_step() -> None:
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(signals), targets)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()

    def timed(step) -> tuple[float, float]:
        step()  # warm-up
        _sync(device)
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(steps):
            step()
        _sync(device)
        n = batch * steps
        return n / (time.perf_counter() - wall), (time.process_time() - cpu) / n

    model.train()
    train_rate, train_cpu = timed(train_step)
    model.eval()
    with torch.inference_mode():
        infer_rate, infer_cpu = timed(lambda: model(signals))
    return {
        "arch": arch,
        "batch": batch,
        "train_examples_per_s": train_rate,
        "train_cpu_s_per_example": train_cpu,
        "inference_examples_per_s": infer_rate,
        "inference_cpu_s_per_example": infer_cpu,
    }


def _table1() -> dict:
    return yaml.safe_load((ROOT / "params" / "nguyen2025" / "reported.yaml").read_text())["table1"]


def planned_grid(cfg: dict) -> tuple[list, dict]:
    """The profile's units from ``plan_from_params`` over the study's shape-only stand-ins (no data read)."""
    prepared, splits = nguyen2025.stand_in_inputs(cfg, _table1())
    return nguyen2025.plan_from_params(cfg, prepared, splits, device="cpu")


def grid_cost(units: list, rates: dict[str, dict], *, rate_key: str = "wall") -> dict:
    """Estimated seconds of every unit from per-architecture rates; totals by role and architecture."""
    by_role: dict[str, float] = {}
    by_arch: dict[str, float] = {}
    for unit in units:
        parts = unit.key_parts
        rate = rates[parts["arch"]]
        if rate_key == "wall":
            per_train, per_infer = 1 / rate["train_examples_per_s"], 1 / rate["inference_examples_per_s"]
        else:
            per_train, per_infer = rate["train_cpu_s_per_example"], rate["inference_cpu_s_per_example"]
        n_eval = len(parts["val"]) + len(parts["test"])
        seconds = parts["epochs"] * (len(parts["train"]) * per_train + n_eval * per_infer)
        by_role[parts["role"]] = by_role.get(parts["role"], 0.0) + seconds
        by_arch[parts["arch"]] = by_arch.get(parts["arch"], 0.0) + seconds
    return {"units": len(units), "seconds": sum(by_role.values()), "by_role": by_role, "by_arch": by_arch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--profiles", nargs="+", default=["paper", "local"], choices=["smoke", "local", "paper"]
    )
    parser.add_argument("--steps", type=int, default=3, help="timed steps per measurement")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    args = parser.parse_args()
    device_name = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    device = torch.device("cpu" if device_name == "auto" else device_name)
    torch.set_num_threads(args.threads)

    results = {}
    for profile in args.profiles:
        cfg = yaml.safe_load((ROOT / "params" / "nguyen2025" / f"{profile}.yaml").read_text())
        archs = sorted(set(cfg["models"]) | set(cfg["sweep_models"] if cfg["sweep_sizes"] else []))
        rates = {}
        for arch in archs:
            rates[arch] = throughput(arch, cfg, batch=cfg["batch_size"], steps=args.steps, device=device)
            r = rates[arch]
            print(
                f"{profile:6s} {device.type:4s} threads {args.threads} {arch:12s} batch {r['batch']:3d}  "
                f"train {r['train_examples_per_s']:8.1f}/s ({r['train_cpu_s_per_example'] * 1e3:7.2f} ms CPU)  "
                f"inference {r['inference_examples_per_s']:8.1f}/s",
                flush=True,
            )
        units, _ = planned_grid(cfg)
        cost = {key: grid_cost(units, rates, rate_key=key) for key in ("wall", "cpu")}
        print(
            f"{profile}: {cost['wall']['units']} units; estimated {cost['wall']['seconds'] / 3600:.2f} h wall "
            f"at these rates ({cost['cpu']['seconds'] / 3600:.2f} h of CPU); by role "
            + ", ".join(f"{k} {v / 3600:.2f} h" for k, v in cost["wall"]["by_role"].items()),
            flush=True,
        )
        results[profile] = {"rates": rates, "cost": cost}

    payload = {
        "benchmark": "nguyen2025_throughput",
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
        "torch": torch.__version__,
        "device": device.type,
        "threads": args.threads,
        "steps": args.steps,
        "results": results,
    }
    path = ROOT / "outputs" / "benchmarks" / "nguyen2025_throughput.json"
    write_json_atomic(path, payload)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
