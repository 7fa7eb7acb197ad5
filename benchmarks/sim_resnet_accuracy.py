"""How hard is sim-chapman? ResNet1d-18 test accuracy and macro F1 with 500 and 5,000 training examples.

Synthetic data (not a reproduction of any study). One pool of sim-chapman records (Chapman
class priors, 4 records per simulated patient) is split patient-wise into test, validation
and a training pool; the training sets are the first 500 / 5,000 records of a fixed shuffle
of the pool's patients. Model selection uses the validation loss only. Defaults keep it to
about 10-15 minutes on 2 shared CPU cores (50 Hz, 10 s, 12 leads, 10 and 3 epochs, batch 32); the per-size
epoch counts are printed with the results. Writes outputs/benchmarks/sim_resnet_accuracy.json.

Run: nice .venv/bin/python benchmarks/sim_resnet_accuracy.py [--sizes 500 5000] [--epochs 10 3]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import ecglib.metrics
import ecglib.train
from ecglib.data import simulated, splits
from ecglib.models import make_model
from ecglib.runner import write_json_atomic

OUT = Path(__file__).resolve().parents[1] / "outputs" / "benchmarks" / "sim_resnet_accuracy.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--epochs", type=int, nargs="+", default=[10, 3], help="epochs per training size")
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--n-val", type=int, default=500)
    parser.add_argument("--fs-hz", type=float, default=50.0)
    parser.add_argument("--duration-s", type=float, default=10.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if len(args.epochs) != len(args.sizes):
        parser.error("give one --epochs value per --sizes value")
    torch.set_num_threads(args.threads)

    n_pool = max(args.sizes) + args.n_test + args.n_val
    started = time.perf_counter()
    pool = simulated.load_labelled(
        "sim-chapman", int(n_pool * 1.05), seed=args.seed, fs_hz=args.fs_hz, duration_s=args.duration_s
    )
    simulate_s = time.perf_counter() - started
    split = splits.patient_split(
        pool.patient_ids,
        pool.targets,
        test_fraction=args.n_test / len(pool),
        val_fraction=args.n_val / len(pool),
        seed=args.seed,
    )
    test, val = pool.subset(split.test), pool.subset(split.val)
    # a fixed shuffle of training patients; the smaller set is a subset of the larger one
    rng = np.random.default_rng(args.seed)
    train_patients = rng.permutation(np.unique(pool.patient_ids[split.train]))
    order = np.concatenate([split.train[pool.patient_ids[split.train] == p] for p in train_patients])

    rows = []
    for n_train, epochs in zip(args.sizes, args.epochs):
        train = pool.subset(order[:n_train])
        model = make_model(
            "resnet1d18", seed=args.seed, n_leads=len(pool.lead_names), n_classes=len(pool.target_names)
        )
        t0 = time.perf_counter()
        result = ecglib.train.fit(
            model,
            train,
            val,
            task="single_label",
            epochs=epochs,
            lr=args.lr,
            batch_size=args.batch_size,
            seed=args.seed,
            device="cpu",
            progress=False,
        )
        logits = ecglib.train.predict(result.model, test, batch_size=256, device="cpu")
        rows.append(
            {
                "n_train": int(len(train)),
                "n_train_patients": int(len(np.unique(train.patient_ids))),
                "epochs": epochs,
                "best_epoch": int(result.best_epoch),
                "test_accuracy": float(ecglib.metrics.accuracy(test.targets, logits)),
                "test_f1_macro": float(ecglib.metrics.f1_macro(test.targets, logits)),
                "train_s": time.perf_counter() - t0,
            }
        )
        print(rows[-1], flush=True)
    majority = float(np.mean(test.targets == np.bincount(pool.targets[split.train]).argmax()))
    settings = {
        "source": "sim-chapman (synthetic)",
        "fs_hz": args.fs_hz,
        "duration_s": args.duration_s,
        "leads": list(pool.lead_names),
        "model": "resnet1d18",
        "optimizer": "adam",
        "lr": args.lr,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "n_test": int(len(test)),
        "n_val": int(len(val)),
        "test_patients": int(len(np.unique(test.patient_ids))),
        "class_priors": "Chapman",
        "selection": "best validation loss",
        "threads": args.threads,
        "simulate_s": simulate_s,
        "test_majority_class_accuracy": majority,
    }
    print("settings:", json.dumps(settings))
    print(f"{'n_train':>8s} {'epochs':>6s} {'best':>5s} {'test acc':>9s} {'macro F1':>9s} {'train s':>8s}")
    for row in rows:
        print(
            f"{row['n_train']:8d} {row['epochs']:6d} {row['best_epoch']:5d} {row['test_accuracy']:9.3f} {row['test_f1_macro']:9.3f} {row['train_s']:8.0f}"
        )
    print(f"majority-class test accuracy: {majority:.3f}")
    write_json_atomic(OUT, {"settings": settings, "rows": rows})


if __name__ == "__main__":
    main()
