"""Figure with one simulated example of every class -> outputs/benchmarks/sim_examples.png.

Rows: the 11 sim-chapman rhythms (leads II and V1, first 6 s), the 5 sim-ptbxl superclasses
(leads II, V2, V5; 3 s), sim-beats (MIT-BIH N/S/V/F/Q and PTB normal/MI, Kachuee format)
and sim-mitbih-windows (a normal and an abnormal 1 s window). Synthetic data, not a dataset.

Run: .venv/bin/python benchmarks/sim_examples.py [--seed 0] [--snr-db 25]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ecglib.data import simulated  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "outputs" / "benchmarks" / "sim_examples.png"


def _first_of_each(targets: np.ndarray, n_classes: int) -> list[int]:
    return [int(np.flatnonzero(targets == k)[0]) for k in range(n_classes)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--snr-db", type=float, default=25.0)
    args = parser.parse_args()

    chapman = simulated.simulate(
        "sim-chapman", 44, seed=args.seed, class_balance="uniform", examples_per_patient=1, snr_db=args.snr_db
    )
    ptbxl = simulated.simulate("sim-ptbxl", 60, seed=args.seed, snr_db=args.snr_db, examples_per_patient=1)
    beats = simulated.simulate("sim-beats", 50, seed=args.seed, class_balance="uniform")
    ptb = simulated.simulate("sim-beats", 20, seed=args.seed, beat_set="ptb", class_balance="uniform")
    windows = simulated.simulate("sim-mitbih-windows", 600, seed=args.seed)

    fig = plt.figure(figsize=(18, 30))
    grid = fig.add_gridspec(11 + 5 + 2, 4, hspace=0.9, wspace=0.25)
    lab = chapman.labelled
    fs = lab.fs_hz
    time_s = np.arange(int(6 * fs)) / fs
    for row, index in enumerate(_first_of_each(lab.targets, len(lab.target_names))):
        gt = chapman.intervals.iloc[index]
        for col, lead in enumerate(("II", "V1")):
            ax = fig.add_subplot(grid[row, 2 * col : 2 * col + 2])
            ax.plot(
                time_s, lab.signals_mv[index, : len(time_s), lab.lead_names.index(lead)], lw=0.7, color="k"
            )
            ax.set_ylabel(f"{lead} (mV)")
            ax.set_title(
                f"sim-chapman {lab.target_names[lab.targets[index]]} ({simulated.CHAPMAN_CLASS_TITLES[lab.target_names[lab.targets[index]]]}), "
                f"lead {lead}: HR {gt.hr_bpm:.0f} bpm, QRS {gt.qrs_ms:.0f} ms, QT {gt.qt_ms:.0f} ms, "
                f"{chapman.meta.conditions.iloc[index] or 'no conduction/ST finding'}",
                fontsize=8,
            )
            ax.grid(alpha=0.3)
    lab = ptbxl.labelled
    time_s = np.arange(int(3 * lab.fs_hz)) / lab.fs_hz
    for k, name in enumerate(simulated.PTBXL_SUPERCLASSES):
        candidates = np.flatnonzero((lab.targets[:, k] == 1) & (lab.targets.sum(1) == 1))
        if len(candidates) == 0:
            candidates = np.flatnonzero(lab.targets[:, k] == 1)
        index = int(candidates[0])
        for col, lead in enumerate(("II", "V2", "V5")):
            ax = fig.add_subplot(grid[11 + k, col])
            ax.plot(
                time_s, lab.signals_mv[index, : len(time_s), lab.lead_names.index(lead)], lw=0.7, color="navy"
            )
            ax.set_title(
                f"sim-ptbxl {name} [{ptbxl.meta.patterns.iloc[index]} {ptbxl.meta.mi_territory.iloc[index]}] lead {lead}",
                fontsize=8,
            )
            ax.grid(alpha=0.3)
        ax = fig.add_subplot(grid[11 + k, 3])
        if k < 5:
            source, set_name, classes = (beats, "mitbih", simulated.BEAT_CLASSES["mitbih"])
            index = _first_of_each(source.labelled.targets, 5)[k]
            ax.plot(source.labelled.signals_mv[index, :, 0], color="darkred")
            ax.set_title(f"sim-beats ({set_name}) {classes[k]} (187 samples, 125 Hz, 0-1)", fontsize=8)
    for k in range(2):
        ax = fig.add_subplot(grid[16, 2 * k : 2 * k + 2])
        index = _first_of_each(ptb.labelled.targets, 2)[k]
        ax.plot(ptb.labelled.signals_mv[index, :, 0], color="darkgreen")
        ax.set_title(
            f"sim-beats (ptb) {simulated.BEAT_CLASSES['ptb'][k]} {ptb.meta.mi_territory.iloc[index]}",
            fontsize=8,
        )
        ax = fig.add_subplot(grid[17, 2 * k : 2 * k + 2])
        index = _first_of_each(windows.labelled.targets, 2)[k]
        ax.plot(np.arange(360) / 360.0, windows.labelled.signals_mv[index, :, 0], color="purple")
        ax.set_title(
            f"sim-mitbih-windows label {k} ({windows.meta.abnormal_kinds.iloc[index] or 'N only'}), MLII 360 Hz, 1 s",
            fontsize=8,
        )
    fig.suptitle(
        f"Simulated ECG examples (synthetic, seed {args.seed}, SNR {args.snr_db:g} dB for the 10 s records)",
        y=0.9,
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=OUT.parent, suffix=".png", delete=False) as handle:
        temporary = Path(handle.name)
    fig.savefig(temporary, dpi=80, bbox_inches="tight")
    os.replace(temporary, OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
