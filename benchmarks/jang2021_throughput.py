"""Training throughput (examples per second) of Jang et al.'s autoencoder and classifier.

For each configuration, device and torch thread count: a few warm-up steps, then timed
training steps (forward, backward, Adam step) on random inputs of the study's shape:

- ``cae``: the full convolutional autoencoder, summed squared reconstruction error;
- ``classifier``: the CAE encoder plus head, cross-entropy over 11 classes (the transfer and
  random-initialisation arms; they share the architecture).

Configurations: ``paper`` (2,048 samples at 250 Hz, f = 16 filters, as in params/jang2021/paper.yaml)
and ``smoke`` (1,024 samples at 125 Hz, f = 4, the smoke/local profiles). CUDA is timed too
when available (with ``torch.cuda.synchronize``). The other helpers share the machine, so
runs are short and the numbers are indicative only; nothing is asserted.

Usage: ``python benchmarks/jang2021_throughput.py [--steps 3] [--batch 32] [--threads 1 2]``.
Prints a table and writes ``outputs/benchmarks/jang2021_throughput.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import torch

from ecglib.models import cae
from ecglib.runner import write_json_atomic

CONFIGS = {
    "paper": dict(n_samples=2048, base_filters=16),
    "smoke": dict(n_samples=1024, base_filters=4),
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_training(
    kind: str, config: dict, *, batch: int, steps: int, warmup: int, device: torch.device
) -> float:
    """Examples per second over ``steps`` timed training steps after ``warmup`` untimed ones."""
    if kind == "cae":
        model = cae.make_autoencoder(seed=0, **config)
    else:
        model = cae.make_classifier(seed=0, n_classes=11, **config)
    model.to(device).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    signals = torch.randn(batch, 1, config["n_samples"], generator=generator).to(device)
    labels = torch.randint(0, 11, (batch,), generator=generator).to(device)

    def step() -> None:
        output = model(signals)
        if kind == "cae":
            loss = ((output - signals) ** 2).flatten(1).sum(dim=1).mean()
        else:
            loss = torch.nn.functional.cross_entropy(output, labels)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()

    for _ in range(warmup):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="CPU thread counts to try")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    args = parser.parse_args()

    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    rows = []
    previous_threads = torch.get_num_threads()
    for device in devices:
        for threads in args.threads if device.type == "cpu" else [previous_threads]:
            torch.set_num_threads(threads)
            for config_name in args.configs:
                for kind in ("cae", "classifier"):
                    rate = time_training(
                        kind,
                        CONFIGS[config_name],
                        batch=args.batch,
                        steps=args.steps,
                        warmup=args.warmup,
                        device=device,
                    )
                    rows.append(
                        dict(
                            device=device.type,
                            threads=threads,
                            config=config_name,
                            model=kind,
                            batch=args.batch,
                            examples_per_s=round(rate, 1),
                        )
                    )
                    print(
                        f"{device.type:5s} threads {threads:2d}  {config_name:6s} {kind:10s} "
                        f"batch {args.batch:3d}  {rate:8.1f} examples/s",
                        flush=True,
                    )
    torch.set_num_threads(previous_threads)

    payload = {
        "benchmark": "jang2021_throughput",
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
        "torch": torch.__version__,
        "configs": CONFIGS,
        "steps": args.steps,
        "rows": rows,
    }
    out_dir = Path(__file__).resolve().parents[1] / "outputs" / "benchmarks"
    path = out_dir / "jang2021_throughput.json"
    write_json_atomic(path, payload)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
