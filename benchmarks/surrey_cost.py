"""CPU seconds per example of the Surrey study's fits: the basis of params/surrey/local.yaml's budget.

For each trunk (MLP, CNN, LSTM): one training epoch (Adam, batch 64, :func:`ecglib.train.fit`)
on ``--n`` MIT-BIH beats with 5 classes and with the 8 SSL heads, and one forward pass at batch
64 (each epoch's validation pass) and 1024 (the final test predictions); then the ensemble of
the three. Times are ``time.process_time`` (user + sys CPU seconds of this process, all its
threads), after a warm-up fit. Real beats from ``$ECGLIB_DATA`` when MIT-BIH is there (a few
records; the cost does not depend on the beats), random beats of the same shape otherwise.
Multiply by the counts in local.yaml's header to size a run; nothing is asserted.

Usage: ``python benchmarks/surrey_cost.py [--threads 1] [--n 2000]``. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import copy
import json
import time

import numpy as np
import torch

from ecglib.errors import DataMissingError
from ecglib.models import make_model
from ecglib.models.ssl_multitask import TRUNKS, ProbabilityAverage
from ecglib.train import fit, predict


def _beats(n: int) -> tuple[np.ndarray, np.ndarray, str]:
    rng = np.random.default_rng(0)
    try:
        from ecglib.data import beat_sets

        mit = beat_sets.mitbih_beats(["100", "105", "106", "119", "201", "208"])
        chosen = np.sort(rng.choice(len(mit.targets), size=min(n, len(mit.targets)), replace=False))
        return mit.signals_mv[chosen], mit.targets[chosen], "MIT-BIH"
    except (DataMissingError, FileNotFoundError):
        return rng.random((n, 187, 1)).astype(np.float32), rng.integers(0, 5, n), "random"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    x, y, source = _beats(args.n)
    n = len(y)
    heads = np.eye(8, dtype=np.float32)[np.random.default_rng(1).integers(0, 8, n)]
    out: dict = {"threads": args.threads, "n": n, "beats": source}

    def ms_per_example(work) -> float:
        start = time.process_time()
        work()
        return round(1000 * (time.process_time() - start) / n, 4)

    def train(model, targets, task):
        return lambda: fit(
            model,
            (x, targets),
            (x[:64], targets[:64]),
            task=task,
            epochs=1,
            lr=1e-3,
            batch_size=64,
            seed=0,
            device="cpu",
            progress=False,
        )

    ms_per_example(train(make_model("surrey_mlp", seed=0, n_classes=5), y, "single_label"))  # warm-up
    models = {}
    for trunk in TRUNKS:
        models[trunk] = make_model(f"surrey_{trunk}", seed=0, n_classes=5)
        out[f"{trunk}_train_ms"] = ms_per_example(train(models[trunk], y, "single_label"))
        ssl = make_model(f"surrey_{trunk}", seed=0, n_classes=8)
        out[f"{trunk}_ssl_train_ms"] = ms_per_example(train(ssl, heads, "multi_label"))
        for batch in (64, 1024):
            out[f"{trunk}_forward{batch}_ms"] = ms_per_example(
                lambda model=models[trunk], batch=batch: predict(model, x, batch_size=batch, device="cpu")
            )
    ensemble = ProbabilityAverage([copy.deepcopy(models[t]) for t in TRUNKS])
    out["ensemble_train_ms"] = ms_per_example(train(ensemble, y, "single_label"))
    out["ensemble_forward64_ms"] = ms_per_example(lambda: predict(ensemble, x, batch_size=64, device="cpu"))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
