"""Surrey COM3025: self-supervised transformation recognition transferred to arrhythmia and MI beats.

Glue for ``notebooks/surrey.ipynb`` (report: ``../shared/studies/surrey.txt``). What is specific
to the report lives here: its data sources and splits, its protocol steps (self-supervised
pre-training of three trunks on the 8-version set, transfer, ensemble, baselines from scratch),
its evaluation options, its tables and its claims as data. The transformations are
:mod:`ecglib.transforms`, the networks :mod:`ecglib.models.ssl_multitask`, the training loop
:func:`ecglib.train.fit`.

Arms (names used in every table)
--------------------------------
``scratch``      a trunk + head trained from random weights for ``epochs`` (report's Table 1)
``ssl``          the self-supervised trunk transferred, trained ``epochs`` (Table 2)
``ensemble``     the three ``ssl`` models averaged (probabilities) and trained ``ensemble_epochs`` more
``ssl_longer``   each ``ssl`` model trained alone ``ensemble_epochs`` more: the ensemble's equal-budget
                 comparison (the report compares its 40-epoch ensemble with 20-epoch single models;
                 ``ensemble_comparison="unequal_as_in_report"`` does the same, labelled)

Tasks: ``mitbih`` (5 AAMI classes, cross-entropy) and ``mi`` (MI vs not, one logit, BCE; PTB in
the report and the ``paper`` profile, LUDB in ``local``, simulated in ``smoke``; every table
names the dataset through :func:`task_title`).

Every fit is a cached unit (:mod:`ecglib.units`): one self-supervised pre-training per trunk,
one unit per classifier fit (task x split x arm x trunk) and one per ensemble
(:func:`plan_units`); the notebook runs the missing ones, ``ecglib plan surrey`` lists them and
``ecglib unit run surrey KEY`` runs one (``workflow/Snakefile``: one cluster job per unit).

Only the ``*_from_params`` adaptors and the workflow's hooks (:func:`stand_in_inputs`,
:func:`ecglib.units.study_cache_dir`) read a profile; every other function takes explicit keywords.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split

from ecglib import claims, metrics, stats, transforms, units
from ecglib.data import LabelledSet
from ecglib.errors import DataMissingError
from ecglib.models import make_model
from ecglib.models.ssl_multitask import (
    TRUNKS,
    BeatNet,
    ProbabilityAverage,
    head_accuracy_table,
    transfer_trunk,
)
from ecglib.seeds import derive_seed
from ecglib.train import fit, predict
from ecglib.units import Unit

TASKS: tuple[str, ...] = ("mitbih", "mi")
ARMS: tuple[str, ...] = ("scratch", "ssl", "ssl_longer", "ensemble")
ARM_TITLES = {
    "scratch": "from scratch",
    "ssl": "with SSL (transferred)",
    "ssl_longer": "with SSL, trained as long as the ensemble",
    "ensemble": "ensemble of the SSL models",
}
SPLITS: tuple[str, ...] = ("beat_random", "inter_patient", "official_csv", "record")
SPLIT_TITLES = {
    "beat_random": "beat-level random split (patients on both sides)",
    "inter_patient": "inter-patient DS1/DS2 (de Chazal 2004; paced records excluded)",
    "official_csv": "the Kaggle CSVs' own train/test files",
    "record": "split by record",
}
MODEL_SELECTIONS = ("validation", "best_test_epoch_as_in_paper")
ENSEMBLE_COMPARISONS = ("equal_budget", "unequal_as_in_report")
DATA_SOURCES = ("sim-beats", "mitbih", "kaggle-heartbeat")
#: the dataset each task reads, per data source (every table says which)
TASK_DATASETS = {
    "sim-beats": {"mitbih": "simulated MIT-BIH-like beats", "mi": "simulated PTB-like beats"},
    "mitbih": {"mitbih": "MIT-BIH records (Kachuee segmenter)", "mi": "LUDB lead II (not PTB)"},
    "kaggle-heartbeat": {"mitbih": "MIT-BIH (Kaggle CSVs)", "mi": "PTB (Kaggle CSVs)"},
}
KAGGLE_DOWNLOAD = "ecglib data download kaggle-heartbeat"


def task_title(task: str, data_source: str) -> str:
    """``"MI vs not, LUDB lead II (not PTB)"``: the task and the dataset it ran on."""
    name = {"mitbih": "arrhythmia (5 AAMI classes)", "mi": "MI vs not"}[task]
    return f"{name}, {TASK_DATASETS[data_source][task]}"


# --------------------------------------------------------------------------- data


def check_data_present(data_source: str, *, data_root=None) -> None:
    """Stop at once, naming the download command, when the source's files are absent.

    Raises
    ------
    DataMissingError
        ``kaggle-heartbeat`` without its four CSVs, ``mitbih`` without MIT-BIH or LUDB.
    """
    from ecglib.data import kaggle_heartbeat, ludb, mitbih

    if data_source == "kaggle-heartbeat":
        path = kaggle_heartbeat.folder(data_root)  # raises DataMissingError when the folder is absent
        if not all((path / name).exists() for name in kaggle_heartbeat.FILES.values()):
            raise DataMissingError(kaggle_heartbeat.NAME, path)
    elif data_source == "mitbih":
        mitbih.list_records(data_root)
        ludb.list_records(data_root)


def load_beats(
    data_source: str,
    task: str,
    *,
    seed: int,
    data_root=None,
    sim_n_beats: int = 400,
    sim_class_balance: str = "prior",
    mitbih_records: Sequence[str] | None = None,
    ludb_records: Sequence[str] | None = None,
    ludb_exclude_paced: bool = True,
) -> LabelledSet:
    """One task's beats (Kachuee format, ``signals_mv`` (n, 187, 1) in [0, 1], 125 Hz).

    Parameters
    ----------
    data_source : one of :data:`DATA_SOURCES`
    task : "mitbih" or "mi"
    seed : seeds the simulation
    sim_n_beats, sim_class_balance : ``sim-beats`` only
    mitbih_records, ludb_records : ``mitbih`` only; None = every record
    ludb_exclude_paced : leave out LUDB's paced records

    Returns
    -------
    LabelledSet; for ``kaggle-heartbeat`` MIT-BIH the ``patient_ids`` start with the file name
    (``mitbih_train:``/``mitbih_test:``), which the ``official_csv`` split reads.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if data_source == "sim-beats":
        from ecglib.data import simulated

        return simulated.load_labelled(
            "sim-beats",
            sim_n_beats,
            seed=derive_seed(seed, "sim-beats", task),
            beat_set="mitbih" if task == "mitbih" else "ptb",
            class_balance=sim_class_balance,
        )
    if data_source == "mitbih":
        from ecglib.data import beat_sets

        if task == "mitbih":
            return beat_sets.mitbih_beats(mitbih_records, root=data_root)
        return beat_sets.ludb_mi_beats(ludb_records, root=data_root, exclude_paced=ludb_exclude_paced)
    if data_source == "kaggle-heartbeat":
        from ecglib.data import kaggle_heartbeat

        if task == "mi":
            return kaggle_heartbeat.load_labelled(data_root, subset="ptbdb", split="all")
        parts = [
            kaggle_heartbeat.load_labelled(data_root, subset="mitbih", split=s) for s in ("train", "test")
        ]
        return LabelledSet(
            signals_mv=np.concatenate([p.signals_mv for p in parts]),
            targets=np.concatenate([p.targets for p in parts]),
            patient_ids=np.concatenate([p.patient_ids for p in parts]),
            fs_hz=parts[0].fs_hz,
            lead_names=parts[0].lead_names,
            target_names=parts[0].target_names,
            task="single_label",
            source=parts[0].source,
            exclusions=parts[0].exclusions,
            units=parts[0].units,
        )
    raise ValueError(f"data_source must be one of {DATA_SOURCES}, got {data_source!r}")


def data_files(data_source: str, *, data_root=None) -> list[Path]:
    """The files a run read, for ``run.record_data`` checksums (the CSVs only: record folders are many)."""
    if data_source != "kaggle-heartbeat":
        return []
    from ecglib.data import kaggle_heartbeat

    path = kaggle_heartbeat.folder(data_root)
    return [path / name for name in kaggle_heartbeat.FILES.values()]


def data_facts(beats: Mapping[str, LabelledSet], *, data_source: str) -> dict[str, dict[str, Any]]:
    """Registered source -> {task: its facts} (beats, records, class counts, exclusions), for ``run.record_data``."""
    out: dict[str, dict[str, Any]] = {}
    for task, task_beats in beats.items():
        out.setdefault(task_beats.source, {})[task] = {
            "task": task_title(task, data_source),
            "n_beats": len(task_beats.targets),
            "n_records": len(set(np.asarray(task_beats.patient_ids).tolist())),
            "class_counts": class_counts(task_beats),
            "exclusions": dict(task_beats.exclusions),
        }
    return out


def class_counts(beats: LabelledSet) -> dict[str, int]:
    """Beats per class name."""
    counts = np.bincount(beats.targets, minlength=len(beats.target_names))
    return {name: int(n) for name, n in zip(beats.target_names, counts)}


# --------------------------------------------------------------------------- splits


@dataclass(frozen=True)
class Split:
    """Indices into one task's beats: ``train``, ``val`` (model selection) and ``test``; all int64, disjoint."""

    name: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    #: the training part before :func:`cap_training` subsampled it (None: not capped)
    train_before_cap: np.ndarray | None = None

    @property
    def train_pool(self) -> np.ndarray:
        """Every training beat of the split, capped or not (the self-supervised set draws from it)."""
        return self.train if self.train_before_cap is None else self.train_before_cap

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def _random_split(indices: np.ndarray, labels: np.ndarray, fraction: float, seed: int):
    """Stratified random split of ``indices`` (stratified only when every class has >= 2 members)."""
    counts = np.unique(labels, return_counts=True)[1]
    stratify = labels if counts.min() >= 2 else None
    keep, held = train_test_split(indices, test_size=fraction, random_state=seed, stratify=stratify)
    return np.sort(keep).astype(np.int64), np.sort(held).astype(np.int64)


def _group_split(indices: np.ndarray, groups: np.ndarray, labels: np.ndarray, fraction: float, seed: int):
    """Split ``indices`` by group (record), stratified by the group's label (each group has one label)."""
    group_names, first = np.unique(groups, return_index=True)
    group_labels = labels[first]
    if any(len(np.unique(labels[groups == g])) > 1 for g in group_names):
        raise ValueError("a record split stratifies records by their label: every record must have one label")
    if len(group_names) < 2:
        raise ValueError(f"a record split needs at least 2 records, got {len(group_names)}")
    counts = np.unique(group_labels, return_counts=True)[1]
    stratify = group_labels if counts.min() >= 2 else None
    keep, held = train_test_split(group_names, test_size=fraction, random_state=seed, stratify=stratify)
    return (
        np.sort(indices[np.isin(groups, keep)]).astype(np.int64),
        np.sort(indices[np.isin(groups, held)]).astype(np.int64),
    )


def make_split(
    beats: LabelledSet, kind: str, *, test_fraction: float, val_fraction: float, seed: int
) -> Split:
    """One split of a task's beats.

    Parameters
    ----------
    beats : the task's beats
    kind : ``beat_random`` (stratified, beats of one patient on both sides: what the Kaggle CSVs
        imply), ``inter_patient`` (de Chazal's DS1 train / DS2 test by MIT-BIH record, paced
        records in neither; validation = DS1 records held out), ``official_csv`` (the Kaggle
        ``mitbih_test`` rows are the test set) or ``record`` (records split, stratified by their
        label; validation records held out of the training records)
    test_fraction, val_fraction : shares of the beats (records for ``record``); ``test_fraction``
        is unused by ``inter_patient`` and ``official_csv``
    seed : split seed

    Returns
    -------
    Split
    """
    from ecglib.data import mitbih

    every = np.arange(len(beats.targets), dtype=np.int64)
    labels, groups = beats.targets, np.asarray(beats.patient_ids).astype(str)
    split_seed = derive_seed(seed, "split", kind) % (2**32)
    val_seed = derive_seed(seed, "val", kind) % (2**32)
    if kind == "beat_random":
        rest, test = _random_split(every, labels, test_fraction, split_seed)
        train, val = _random_split(rest, labels[rest], val_fraction, val_seed)
    elif kind == "inter_patient":
        rest, test = mitbih.inter_patient_split(groups)
        train, val = _group_split(rest, groups[rest], np.zeros(len(rest), np.int64), val_fraction, val_seed)
    elif kind == "official_csv":
        is_test = np.char.startswith(groups, "mitbih_test:")
        if not is_test.any():
            raise ValueError("official_csv needs the Kaggle CSV beats (patient ids 'mitbih_test:...')")
        test = every[is_test]
        train, val = _random_split(every[~is_test], labels[~is_test], val_fraction, val_seed)
    elif kind == "record":
        rest, test = _group_split(every, groups, labels, test_fraction, split_seed)
        train, val = _group_split(rest, groups[rest], labels[rest], val_fraction, val_seed)
    else:
        raise ValueError(f"split must be one of {SPLITS}, got {kind!r}")
    return Split(kind, train, val, test)


def _stratified_quota(counts: np.ndarray, size: int) -> np.ndarray:
    """Beats drawn per class: proportional to ``counts`` (largest remainder), every present class >= 1."""
    present = counts > 0
    exact = size * counts / counts.sum()
    quota = np.minimum(np.maximum(np.floor(exact).astype(np.int64), present.astype(np.int64)), counts)
    while quota.sum() > size:  # the minimum of 1 per class overshot: take from the largest class
        quota[np.argmax(quota)] -= 1
    order = np.argsort(-(exact - np.floor(exact)), kind="stable")
    while quota.sum() < size:
        for c in order:
            if quota.sum() < size and quota[c] < counts[c]:
                quota[c] += 1
    return quota


def cap_training(split: Split, labels: np.ndarray, *, max_beats: int | None, seed: int) -> Split:
    """Subsample a split's training part to ``max_beats`` beats (a CPU budget), class-stratified and seeded.

    Only the training part shrinks: validation and test are untouched, and the drawn beats are
    training beats, so a patient-wise split stays patient-wise. Each class keeps its share of the
    training beats (largest remainder) and at least one beat. ``max_beats`` None, or not fewer than
    the training beats: the split unchanged.

    Parameters
    ----------
    split : the split
    labels : ndarray of shape (n_beats,), the task's classes (indexed by the split)
    max_beats : training beats kept (None: all)
    seed : draw seed (the split's name is mixed in)

    Returns
    -------
    Split whose ``train_before_cap`` holds the uncapped training beats when it was capped
    """
    if max_beats is None or len(split.train) <= max_beats:
        return split
    train_labels = labels[split.train]
    classes = np.unique(train_labels)
    if max_beats < len(classes):
        raise ValueError(
            f"max_train_beats {max_beats} is fewer than the {len(classes)} classes of the {split.name} training part"
        )
    quota = _stratified_quota(np.asarray([np.sum(train_labels == c) for c in classes]), max_beats)
    rng = np.random.default_rng(derive_seed(seed, "cap_training", split.name))
    drawn = [
        rng.choice(split.train[train_labels == c], size=int(k), replace=False) for c, k in zip(classes, quota)
    ]
    train = np.sort(np.concatenate(drawn)).astype(np.int64)
    return Split(split.name, train, split.val, split.test, train_before_cap=split.train)


def split_table(splits: Mapping[tuple[str, str], Split], beats: Mapping[str, LabelledSet]) -> pd.DataFrame:
    """Beats per (task, split, part) and class, and records on both sides of train/test.

    ``beats_before_cap``: the training beats before :func:`cap_training` (equal to ``beats`` when
    not capped); the class counts are those trained on.
    """
    rows = []
    for (task, name), split in splits.items():
        data = beats[task]
        groups = np.asarray(data.patient_ids).astype(str)
        shared = len(set(groups[split.train]) & set(groups[split.test]))
        for part in ("train", "val", "test"):
            index = getattr(split, part)
            counts = np.bincount(data.targets[index], minlength=len(data.target_names))
            rows.append(
                {
                    "task": task,
                    "split": name,
                    "part": part,
                    "beats": len(index),
                    "beats_before_cap": len(split.train_pool) if part == "train" else len(index),
                    "records": len(set(groups[index])),
                    "records_in_train_and_test": shared,
                    **{f"n_{c}": int(n) for c, n in zip(data.target_names, counts)},
                }
            )
    return pd.DataFrame(rows)


def rebalance_indices(indices: np.ndarray, labels: np.ndarray, *, per_class: int, seed: int) -> np.ndarray:
    """The authors' test rebalancing: ``per_class`` beats of each class drawn with replacement.

    A labelled option, never the default: a rare class's few beats repeat many times.

    Parameters
    ----------
    indices : ndarray of shape (n,), the test beats
    labels : ndarray of shape (n,), their classes
    per_class : beats drawn per class (the authors: 2,000)
    seed : draw seed

    Returns
    -------
    ndarray of shape (n_classes_present * per_class,), int64, indices into the beats (repeats)
    """
    rng = np.random.default_rng(derive_seed(seed, "rebalance"))
    drawn = [rng.choice(indices[labels == c], size=per_class, replace=True) for c in np.unique(labels)]
    return np.concatenate(drawn).astype(np.int64)


# --------------------------------------------------------------------------- self-supervision


def ssl_beat_indices(
    n_beats: int, splits: Sequence[Split], *, max_beats: int | None, seed: int
) -> np.ndarray:
    """Beats for the self-supervised set: training beats of *every* MIT-BIH split, subsampled.

    No test or validation beat of any split is seen, even unlabelled. A split capped by
    :func:`cap_training` contributes its whole training part (``train_pool``), not only the capped
    beats. ``max_beats`` (None: all) keeps the LSTM within a CPU budget.
    """
    keep = np.ones(n_beats, dtype=bool)
    for split in splits:
        keep &= np.isin(np.arange(n_beats), split.train_pool)
    chosen = np.flatnonzero(keep)
    if max_beats is not None and len(chosen) > max_beats:
        rng = np.random.default_rng(derive_seed(seed, "ssl_subsample"))
        chosen = np.sort(rng.choice(chosen, size=max_beats, replace=False))
    return chosen.astype(np.int64)


@dataclass
class SslData:
    """The self-supervised set split by source beat into training and held-out versions."""

    train: tuple[np.ndarray, np.ndarray]
    held_out: tuple[np.ndarray, np.ndarray]
    head_names: tuple[str, ...]
    n_beats: int
    exclusions: dict[str, int]


def ssl_data(
    signals: np.ndarray,
    *,
    seed: int,
    params: transforms.TransformParams,
    held_out_fraction: float,
    original_head: bool = True,
) -> SslData:
    """Every beat in the 8 versions (:func:`ecglib.transforms.self_supervised_set`), split by beat.

    Parameters
    ----------
    signals : ndarray of shape (n_beats, 187, 1), the unlabelled beats
    seed : transformation and split seed
    params : the transformations' parameters
    held_out_fraction : share of the beats whose 8 versions are held out (report: 1/5, "4:1")
    original_head : 8 heads including the original's (report) or 7 (Sarkar & Etemad)
    """
    full = transforms.self_supervised_set(
        signals, seed=derive_seed(seed, "ssl_set"), params=params, original_head=original_head
    )
    beats = np.unique(full.beat_index)
    rng = np.random.default_rng(derive_seed(seed, "ssl_held_out"))
    n_held = max(1, int(round(held_out_fraction * len(beats))))
    held = np.isin(full.beat_index, rng.choice(beats, size=n_held, replace=False))
    return SslData(
        train=(full.signals[~held], full.targets[~held]),
        held_out=(full.signals[held], full.targets[held]),
        head_names=full.head_names,
        n_beats=len(beats),
        exclusions=full.exclusions,
    )


@dataclass
class SslResult:
    """One trunk's self-supervised pre-training: the model, its history, the head table and the verdict."""

    trunk: str
    model: BeatNet
    history: pd.DataFrame
    heads: pd.DataFrame
    learnt: bool


def pretrain_ssl(
    data: SslData,
    trunk: str,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    device,
    bottleneck: bool = False,
    head_margin: float = 0.02,
) -> SslResult:
    """Train one trunk with its 8 binary heads (BCE) on the training versions; judge it on the held-out ones.

    The held-out versions also select the epoch (lowest loss). The head table is
    :func:`ecglib.models.ssl_multitask.head_accuracy_table` on the held-out versions. Cached as
    one unit per trunk (:func:`plan_units`).
    """
    model = make_model(
        f"surrey_{trunk}",
        seed=derive_seed(seed, "ssl_init", trunk),
        n_classes=len(data.head_names),
        bottleneck=bottleneck,
    )
    result = fit(
        model,
        data.train,
        data.held_out,
        task="multi_label",
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        seed=derive_seed(seed, "ssl_fit", trunk),
        device=device,
        progress=False,
        label=f"ssl {trunk}",
    )
    logits = predict(result.model, data.held_out[0], batch_size=1024, device=device)
    heads, learnt = head_accuracy_table(logits, data.held_out[1], data.head_names, margin=head_margin)
    return SslResult(trunk, result.model, result.history, heads, learnt)


def head_table(ssl: Mapping[str, SslResult]) -> pd.DataFrame:
    """All trunks' head tables in one: ``trunk, head, accuracy, majority_rate, margin_over_majority, learnt``."""
    return pd.concat([r.heads.assign(trunk=t) for t, r in ssl.items()], ignore_index=True)[
        ["trunk", "head", "accuracy", "majority_rate", "margin_over_majority", "learnt"]
    ]


def ssl_summary(ssl: Mapping[str, SslResult]) -> pd.DataFrame:
    """Per trunk: heads learnt out of all, and whether self-supervision learnt anything (the gate)."""
    return pd.DataFrame(
        [
            {
                "trunk": t,
                "heads_learnt": int(r.heads["learnt"].sum()),
                "heads": len(r.heads),
                "ssl_learnt": r.learnt,
                "rule": r.heads.attrs.get("rule", ""),
            }
            for t, r in ssl.items()
        ]
    )


# --------------------------------------------------------------------------- supervised training


def _fit_targets(targets: np.ndarray, task: str) -> np.ndarray:
    return targets.astype(np.float32)[:, None] if task == "mi" else targets


def predicted_classes(logits: np.ndarray, task: str) -> np.ndarray:
    """Class ids from logits: argmax (mitbih) or logit > 0 (mi, one logit)."""
    return (logits[:, 0] > 0).astype(np.int64) if task == "mi" else logits.argmax(axis=1)


def _epoch_metrics(task: str):
    def compute(targets: np.ndarray, outputs: np.ndarray) -> dict[str, float]:
        truth = targets[:, 0].astype(np.int64) if task == "mi" else np.asarray(targets, dtype=np.int64)
        guess = predicted_classes(outputs, task)
        return {
            "accuracy": float(np.mean(truth == guess)),
            "balanced_accuracy": metrics.balanced_accuracy(truth, guess),
            "f1_macro": metrics.f1_macro(truth, guess),
        }

    return compute


def train_classifier(
    model,
    beats: LabelledSet,
    split: Split,
    *,
    task: str,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    device,
    test_indices: np.ndarray | None = None,
    model_selection: str = "validation",
    label: str = "fit",
    checkpoint_dir: Path | None = None,
):
    """Train a classifier (Adam; cross-entropy for mitbih, BCE for mi) and keep its selected epoch.

    Parameters
    ----------
    model : a :class:`BeatNet` (or an ensemble of them), trained in place
    beats, split : the task's beats and the split
    task : "mitbih" or "mi"
    test_indices : test beats evaluated each epoch (curves, and the labelled best-test-epoch
        option); default ``split.test``; None-like empty array: no test curves
    model_selection : ``validation`` (lowest validation loss; default) or
        ``best_test_epoch_as_in_paper`` (highest test accuracy: the authors' Keras runs report
        the best epoch on the test set; leaks, labelled)
    checkpoint_dir : keep the fit's checkpoints there and resume from them (None: no checkpoints)

    Returns
    -------
    ecglib.train.FitResult
    """
    if model_selection not in MODEL_SELECTIONS:
        raise ValueError(f"model_selection must be one of {MODEL_SELECTIONS}, got {model_selection!r}")
    test_indices = split.test if test_indices is None else test_indices
    signals, targets = beats.signals_mv, _fit_targets(beats.targets, task)

    def part(index):
        return (signals[index], targets[index])

    on_test = model_selection == "best_test_epoch_as_in_paper"
    if on_test and len(test_indices) == 0:
        raise ValueError("best_test_epoch_as_in_paper needs test curves")
    return fit(
        model,
        part(split.train),
        part(split.val),
        part(test_indices) if len(test_indices) else None,
        task="single_label" if task == "mitbih" else "multi_label",
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        seed=seed,
        device=device,
        metrics_fn=_epoch_metrics(task),
        monitor="test_accuracy" if on_test else "val_loss",
        monitor_mode="max" if on_test else "min",
        select_on_test=on_test,
        progress=False,
        label=label,
        checkpoint_dir=checkpoint_dir,
        resume=checkpoint_dir is not None,
    )


@dataclass
class Experiment:
    """One task x split: every arm's fit, test logits and the test beats they were computed on."""

    task: str
    split: str
    test_indices: np.ndarray
    fits: dict[tuple[str, str], Any] = field(default_factory=dict)
    logits: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    epochs_trained: dict[tuple[str, str], int] = field(default_factory=dict)


ENSEMBLE = "ensemble"  # the trunk name of the ensemble's rows


def model_label(arm: str, trunk: str) -> str:
    """``"LSTM from scratch"``, ``"ensemble of the SSL models"``: one model's name in tables and figures."""
    return ARM_TITLES[arm] if trunk == ENSEMBLE else f"{trunk.upper()} {ARM_TITLES[arm]}"


def experiment_test_indices(
    split: Split, labels: np.ndarray, *, test_rebalance_per_class: int | None, seed: int
) -> np.ndarray:
    """The test beats an experiment's models are judged on: ``split.test`` (natural, the default) or,
    with ``test_rebalance_per_class``, the authors' rebalancing of them (:func:`rebalance_indices`)."""
    if test_rebalance_per_class is None:
        return split.test
    return rebalance_indices(split.test, labels[split.test], per_class=test_rebalance_per_class, seed=seed)


def run_experiment(
    beats: LabelledSet,
    split: Split,
    ssl: Mapping[str, SslResult],
    *,
    task: str,
    trunks: Sequence[str],
    epochs: int,
    ensemble_epochs: int,
    ensemble_comparison: str,
    lr: float,
    batch_size: int,
    seed: int,
    device,
    model_selection: str = "validation",
    test_rebalance_per_class: int | None = None,
    test_curves: bool = True,
    cache_dir: Path | None = None,
) -> Experiment:
    """Every arm of one task and split (see the module docstring), from pre-trained trunks at hand.

    ``scratch`` and ``ssl`` train ``epochs`` each; the ensemble of the ``ssl`` models trains
    ``ensemble_epochs`` more; with ``ensemble_comparison="equal_budget"`` each ``ssl`` model also
    trains alone for ``ensemble_epochs`` more (``ssl_longer``), the ensemble's comparison.
    ``test_rebalance_per_class`` (None = natural test distribution, the default) rebalances the
    test beats as the authors did (:func:`rebalance_indices`).

    Each fit is one unit (:func:`experiment_units`, the units the notebook's grid holds for this
    task and split); the pre-trained trunks enter as units keyed by their weights. ``cache_dir``:
    the units are stored there and a stored one is read back, not trained again (None: no cache).
    """
    given = [
        Unit(
            ssl_unit(trunk),
            {
                "code": CODE_VERSION,
                "role": "ssl_given",
                "trunk": trunk,
                "state": _cpu_state(ssl[trunk].model),
            },
            partial(_given_payload, ssl_payload(ssl[trunk])),
        )
        for trunk in trunks
    ]
    grid = experiment_units(
        beats,
        split,
        task=task,
        digest=data_digest({task: beats}),
        ssl_keys={unit.name: unit.key for unit in given},
        trunks=trunks,
        epochs=epochs,
        ensemble_epochs=ensemble_epochs,
        ensemble_comparison=ensemble_comparison,
        lr=lr,
        batch_size=batch_size,
        seed=seed,
        device=device,
        model_selection=model_selection,
        test_rebalance_per_class=test_rebalance_per_class,
        test_curves=test_curves,
    )
    payloads = units.run_units([*given, *grid], cache_dir=cache_dir, use_cache=cache_dir is not None)
    test = experiment_test_indices(
        split, beats.targets, test_rebalance_per_class=test_rebalance_per_class, seed=seed
    )
    return experiment_from_payloads(
        payloads,
        task=task,
        split=split.name,
        test_indices=test,
        trunks=trunks,
        ensemble_comparison=ensemble_comparison,
        device=device,
    )


# --------------------------------------------------------------------------- evaluation


def evaluate_predictions(
    targets: np.ndarray, predicted: np.ndarray, *, n_bootstrap: int, seed: int
) -> dict[str, float]:
    """Accuracy (the report's metric), balanced accuracy and macro-F1, each with a 95 % bootstrap CI.

    Parameters
    ----------
    targets, predicted : ndarray of shape (n_test,), class ids
    n_bootstrap : bootstrap rounds (beats resampled with replacement; 0: no CI)
    seed : bootstrap seed
    """
    out: dict[str, float] = {}
    statistics = {
        "accuracy": lambda t, p: float(np.mean(t == p)),
        "balanced_accuracy": metrics.balanced_accuracy,
        "f1_macro": metrics.f1_macro,
    }
    for name, statistic in statistics.items():
        out[name] = float(statistic(targets, predicted))
        if n_bootstrap:
            ci = stats.bootstrap_ci(
                (targets, predicted),
                statistic,
                n_rounds=n_bootstrap,
                seed=derive_seed(seed, "bootstrap", name),
            )
            out[f"{name}_ci_low"], out[f"{name}_ci_high"] = ci.lower, ci.upper
    return out


def results_table(
    experiments: Sequence[Experiment], beats: Mapping[str, LabelledSet], *, n_bootstrap: int, seed: int
) -> pd.DataFrame:
    """One row per task x split x arm x trunk: test metrics with CIs, epochs trained, selected epoch,
    and the best test-epoch accuracy (labelled: the authors' reporting, leaks)."""
    rows = []
    for experiment in experiments:
        targets = beats[experiment.task].targets[experiment.test_indices]
        for (arm, trunk), logits in experiment.logits.items():
            history = experiment.fits[(arm, trunk)].history
            predicted = predicted_classes(logits, experiment.task)
            row = {
                "task": experiment.task,
                "split": experiment.split,
                "arm": arm,
                "trunk": trunk,
                "n_test": len(targets),
                **evaluate_predictions(
                    targets,
                    predicted,
                    n_bootstrap=n_bootstrap,
                    seed=derive_seed(seed, experiment.task, experiment.split, arm, trunk),
                ),
                "epochs_trained": experiment.epochs_trained[(arm, trunk)],
                "selected_epoch": experiment.fits[(arm, trunk)].best_epoch,
                "accuracy_best_test_epoch_leaky": (
                    float(history["test_accuracy"].max()) if "test_accuracy" in history else np.nan
                ),
            }
            rows.append(row)
    return pd.DataFrame(rows)


def experiment_confusions(experiment: Experiment, beats: LabelledSet) -> dict[tuple[str, str], pd.DataFrame]:
    """Confusion matrix of every arm x trunk of one experiment."""
    targets = beats.targets[experiment.test_indices]
    return {
        key: metrics.confusion_table(targets, predicted_classes(logits, experiment.task), beats.target_names)
        for key, logits in experiment.logits.items()
    }


def training_curves(experiment: Experiment, *, value: str = "val_loss") -> pd.DataFrame:
    """Long curves (``epoch, value, series, panel``) of one experiment for :func:`ecglib.figures.epoch_curves`:
    one panel per trunk, one series per arm (``ssl_longer`` and the ensemble, drawn in every panel,
    continue after ``epochs``)."""
    frames = []
    for (arm, trunk), result in experiment.fits.items():
        history = result.history
        if value not in history:
            continue
        offset = experiment.epochs_trained[(arm, trunk)] - len(history)
        panels = [t for t in TRUNKS if ("scratch", t) in experiment.fits] if trunk == ENSEMBLE else [trunk]
        for panel in panels:  # the ensemble is drawn in every trunk's panel
            frames.append(
                pd.DataFrame(
                    {
                        "epoch": history["epoch"].to_numpy() + offset,
                        "value": history[value].to_numpy(),
                        "series": ARM_TITLES[arm],
                        "panel": panel,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- tables beside the report


def _cell(row: pd.Series, name: str) -> str:
    low, high = row.get(f"{name}_ci_low", np.nan), row.get(f"{name}_ci_high", np.nan)
    text = f"{100 * row[name]:.2f}"
    return text + (f" [{100 * low:.1f}, {100 * high:.1f}]" if np.isfinite(low) else "")


def table_vs_report(
    results: pd.DataFrame,
    reported: Mapping[str, Any],
    *,
    arms: Sequence[str],
    splits: Mapping[str, str],
    data_source: str,
) -> pd.DataFrame:
    """The report's Table 1 or 2 beside ours: one row per arm x trunk, per task the report's accuracy and
    our accuracy / balanced accuracy / macro-F1 (%, 95 % bootstrap CI) on the given split, and Kachuee
    et al.'s reported accuracy as a last row.

    Parameters
    ----------
    results : :func:`results_table`
    reported : ``ecglib.params.reported("surrey")``
    arms : arms shown (Table 1: ``["scratch"]``; Table 2: ``["ssl", "ensemble"]``)
    splits : task -> split shown
    data_source : names the datasets in the column titles
    """
    rows = []
    for arm in arms:
        for trunk in [*TRUNKS, ENSEMBLE]:
            row: dict[str, Any] = {"model": model_label(arm, trunk)}
            found = False
            for task, split in splits.items():
                ours = results[
                    (results["task"] == task)
                    & (results["split"] == split)
                    & (results["arm"] == arm)
                    & (results["trunk"] == trunk)
                ]
                paper = reported["accuracy"][task].get(arm, {})
                paper = paper if not isinstance(paper, Mapping) else paper.get(trunk)
                where = f"{TASK_DATASETS[data_source][task]}, {split}"
                row[f"report {'MIT-BIH' if task == 'mitbih' else 'PTB'} accuracy %"] = (
                    np.nan if paper is None else 100 * float(paper)
                )
                if len(ours):
                    found = True
                    first = ours.iloc[0]
                    for name in ("accuracy", "balanced_accuracy", "f1_macro"):
                        row[f"ours {name} % ({where})"] = _cell(first, name)
                else:
                    for name in ("accuracy", "balanced_accuracy", "f1_macro"):
                        row[f"ours {name} % ({where})"] = ""
            if found:
                rows.append(row)
    kachuee = {"model": "Kachuee et al. 2018 CNN (reported)"}
    for task in splits:
        kachuee[f"report {'MIT-BIH' if task == 'mitbih' else 'PTB'} accuracy %"] = (
            100 * reported["kachuee"][task]
        )
    rows.append(kachuee)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- claims


def _gate(trunk: str) -> claims.Gate:
    return claims.gate(
        f"ssl_learnt.{trunk}",
        f"Self-supervision did not learn for the {trunk.upper()} ({{ssl_heads_learnt[{trunk}]}} heads above their "
        "majority rate), so its transferred trunk is no pre-training",
    )


ALL_SSL_GATE = claims.gate(
    "ssl_learnt_all",
    "Self-supervision did not learn for every trunk (heads learnt: {ssl_heads_learnt}), so the ensemble "
    "of transferred models is not the report's",
)

#: the report's claims (results: :func:`claim_results`); accuracy on the headline split's natural test set.
#: The report compares one accuracy with another; here the two models' per-beat correctness on the
#: same test beats goes through McNemar's test, so a gain of a few beats is not read as a gain: the
#: report claims directions, so p >= 0.05 leaves a claim undecided.
CLAIMS = (
    claims.greater(
        "SSL pre-training raises the LSTM's MIT-BIH accuracy (report: +4.91 points)",
        "the LSTM making the largest gain in terms of accuracy with a percentage accuracy gain of 4.91%",
        a="correct.mitbih.ssl.lstm",
        b="correct.mitbih.scratch.lstm",
        test="mcnemar",
        significance_claimed=False,
        paper_a="accuracy.mitbih.ssl.lstm",
        paper_b="accuracy.mitbih.scratch.lstm",
        digits=4,
        requires=[_gate("lstm")],
    ),
    claims.greater(
        "SSL pre-training lowers the MLP's MIT-BIH accuracy (report: -3.2 points)",
        "in the case of the MLP, the pre-training has had a detrimental effect causing to lose an accuracy of 3.2%",
        a="correct.mitbih.scratch.mlp",
        b="correct.mitbih.ssl.mlp",
        test="mcnemar",
        significance_claimed=False,
        paper_a="accuracy.mitbih.scratch.mlp",
        paper_b="accuracy.mitbih.ssl.mlp",
        digits=4,
        requires=[_gate("mlp")],
    ),
    claims.greater(
        "SSL pre-training raises the CNN's MIT-BIH accuracy a little (report: +0.41 points)",
        "For MIT, shown in Table 2, the CNN and the LSTM perform very well (92.28% -> 92.69%)",
        a="correct.mitbih.ssl.cnn",
        b="correct.mitbih.scratch.cnn",
        test="mcnemar",
        significance_claimed=False,
        paper_a="accuracy.mitbih.ssl.cnn",
        paper_b="accuracy.mitbih.scratch.cnn",
        digits=4,
        requires=[_gate("cnn")],
    ),
    claims.greater(
        "SSL pre-training raises the LSTM's and CNN's MI accuracy (LSTM shown; report: 83.85 -> 97.04 %)",
        "For PTB, both the CNN and the LSTM make positive gains",
        a="correct.mi.ssl.lstm",
        b="correct.mi.scratch.lstm",
        test="mcnemar",
        significance_claimed=False,
        paper_a="accuracy.mi.ssl.lstm",
        paper_b="accuracy.mi.scratch.lstm",
        digits=4,
        requires=[_gate("lstm")],
    ),
    claims.greater(
        "The ensemble beats every single model on MIT-BIH",
        "The final ensemble scores the highest accuracy of 93.01%",
        a="correct.mitbih.ensemble",
        b="correct.mitbih.best_single",
        test="mcnemar",
        significance_claimed=False,
        paper_a="accuracy.mitbih.ensemble",
        paper_b="accuracy.mitbih.best_single",
        digits=4,
        requires=[ALL_SSL_GATE],
    ),
    claims.greater(
        "The ensemble beats every single model on the MI task",
        "The final ensemble for PTB scores an impressive highest test accuracy of 98.49%",
        a="correct.mi.ensemble",
        b="correct.mi.best_single",
        test="mcnemar",
        significance_claimed=False,
        paper_a="accuracy.mi.ensemble",
        paper_b="accuracy.mi.best_single",
        digits=4,
        requires=[ALL_SSL_GATE],
    ),
)


def beat_correctness(
    experiments: Sequence[Experiment], beats: Mapping[str, LabelledSet]
) -> dict[tuple[str, str, str, str], np.ndarray]:
    """Per model, 0/1 per test beat: was it classified right? Keyed ``(task, split, arm, trunk)``."""
    out = {}
    for experiment in experiments:
        targets = beats[experiment.task].targets[experiment.test_indices]
        for (arm, trunk), logits in experiment.logits.items():
            predicted = predicted_classes(logits, experiment.task)
            out[(experiment.task, experiment.split, arm, trunk)] = (predicted == targets).astype(np.int64)
    return out


def claim_results(
    results: pd.DataFrame,
    ssl: Mapping[str, SslResult],
    correct: Mapping[tuple[str, str, str, str], np.ndarray],
    *,
    headline_splits: Mapping[str, str],
    ensemble_comparison: str,
) -> dict[str, Any]:
    """The numbers :data:`CLAIMS` are tested on.

    ``accuracy.<task>.<arm>.<trunk>`` and ``accuracy.<task>.ensemble`` on each task's headline
    split, and ``correct.<...>`` the same models' per-beat correctness (:func:`beat_correctness`,
    what the claims test); ``<task>.best_single``: the most accurate single model the ensemble is
    compared with (``ssl_longer`` with an equal budget, ``ssl`` as in the report);
    ``ssl_learnt.<trunk>`` and ``ssl_learnt_all`` gate the claims.
    """
    accuracy: dict[str, Any] = {}
    correctness: dict[str, Any] = {}
    single_arm = "ssl_longer" if ensemble_comparison == "equal_budget" else "ssl"
    for task, split in headline_splits.items():
        rows = results[(results["task"] == task) & (results["split"] == split)]
        by_arm: dict[str, Any] = {
            arm: {r.trunk: float(r.accuracy) for r in rows[rows["arm"] == arm].itertuples()}
            for arm in ("scratch", "ssl", "ssl_longer")
        }
        correct_by_arm: dict[str, Any] = {
            arm: {trunk: correct.get((task, split, arm, trunk)) for trunk in by_arm[arm]}
            for arm in ("scratch", "ssl", "ssl_longer")
        }
        ensemble = rows[rows["arm"] == "ensemble"]["accuracy"]
        by_arm["ensemble"] = float(ensemble.iloc[0]) if len(ensemble) else None
        correct_by_arm["ensemble"] = correct.get((task, split, "ensemble", ENSEMBLE))
        singles = by_arm[single_arm]
        best = max(singles, key=singles.get) if singles else None
        by_arm["best_single"] = singles[best] if best else None
        correct_by_arm["best_single"] = correct_by_arm[single_arm][best] if best else None
        accuracy[task], correctness[task] = by_arm, correct_by_arm
    for table in (accuracy, correctness):
        for task in TASKS:
            table.setdefault(
                task, {"scratch": {}, "ssl": {}, "ssl_longer": {}, "ensemble": None, "best_single": None}
            )
            for arm in ("scratch", "ssl"):
                for trunk in TRUNKS:
                    table[task][arm].setdefault(trunk, None)
    learnt = {t: bool(r.learnt) for t, r in ssl.items()}
    return {
        "accuracy": accuracy,
        "correct": correctness,
        "ssl_learnt": {t: learnt.get(t) for t in TRUNKS},
        "ssl_learnt_all": all(learnt.get(t, False) for t in TRUNKS),
        "ssl_heads_learnt": {t: f"{int(r.heads['learnt'].sum())} of {len(r.heads)}" for t, r in ssl.items()},
    }


def headline_metrics(results: pd.DataFrame, ssl: Mapping[str, SslResult]) -> dict[str, float]:
    """Flat metrics for ``metrics.json``: every test metric per task, split, arm and trunk; SSL heads learnt."""
    out: dict[str, float] = {}
    for row in results.itertuples():
        stem = f"{row.task}_{row.split}_{row.arm}_{row.trunk}"
        for name in ("accuracy", "balanced_accuracy", "f1_macro"):
            out[f"{name}_{stem}"] = float(getattr(row, name))
    for trunk, result in ssl.items():
        out[f"ssl_heads_learnt_{trunk}"] = float(result.heads["learnt"].sum())
        out[f"ssl_mean_head_margin_{trunk}"] = float(result.heads["margin_over_majority"].mean())
    return out


# --------------------------------------------------------------------------- Figure 1


def figure1(beat: np.ndarray, *, seed: int, params: transforms.TransformParams, fs_hz: float = 125.0):
    """The report's Figure 1: one beat under each of the 8 versions (the padding drawn grey).

    Parameters
    ----------
    beat : ndarray of shape (187,) or (187, 1), one zero-padded Kachuee beat
    seed, params : as for :func:`ecglib.transforms.transform_all`
    """
    beat = np.asarray(beat, dtype=np.float32).reshape(1, -1)
    versions = transforms.transform_all(beat, seed=seed, params=params)
    length = int(transforms.unpadded_lengths(beat)[0])
    time_s = np.arange(beat.shape[1]) / fs_hz
    fig, axes = plt.subplots(2, 4, figsize=(12, 5), sharex=True, sharey=True)
    for ax, name in zip(axes.ravel(), transforms.TRANSFORMATIONS):
        ax.plot(time_s, versions[name][0], color="C0", lw=1.2)
        ax.axvspan(length / fs_hz, time_s[-1], color="0.9", zorder=0)
        ax.set_title(name, fontsize=10)
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    fig.supylabel("amplitude (min-max units)")
    fig.suptitle(f"One beat in the 8 versions (Fig. 1); unpadded length {length} samples, its padding shaded")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


# --------------------------------------------------------------------------- adaptors (read a profile)


def transform_params_from_params(cfg) -> transforms.TransformParams:
    """The transformations' parameters of a profile."""
    return transforms.TransformParams(
        snr_db=cfg.noise_snr_db,
        noise_std=cfg.noise_std,
        stretch_factor=cfg.stretch_factor,
        squeeze_factor=cfg.squeeze_factor,
        scale_factor=cfg.scale_factor,
        segment_samples=cfg.shuffle_segment_samples,
    )


def beats_from_params(cfg, task: str, *, data_root=None) -> LabelledSet:
    """One task's beats as the profile asks (:func:`load_beats`)."""
    return load_beats(
        cfg.data_source,
        task,
        seed=cfg.seed,
        data_root=data_root,
        sim_n_beats=cfg.sim_n_beats,
        sim_class_balance=cfg.sim_class_balance,
        mitbih_records=cfg.mitbih_records,
        ludb_records=cfg.ludb_records,
        ludb_exclude_paced=True,
    )


def splits_from_params(cfg, beats: Mapping[str, LabelledSet]) -> dict[tuple[str, str], Split]:
    """(task, split name) -> :class:`Split` for the profile's ``mitbih_splits`` and ``mi_split``.

    Each MIT-BIH split's training part is capped to ``max_train_beats`` (:func:`cap_training`);
    the MI task's is not (LUDB's few hundred training beats need no cap).
    """
    check_params(cfg)
    out = {}
    for task, kinds, test_fraction in (
        ("mitbih", cfg.mitbih_splits, cfg.test_fraction),
        ("mi", [cfg.mi_split], cfg.mi_test_fraction),
    ):
        for kind in kinds:
            split = make_split(
                beats[task], kind, test_fraction=test_fraction, val_fraction=cfg.val_fraction, seed=cfg.seed
            )
            if task == "mitbih":
                split = cap_training(split, beats[task].targets, max_beats=cfg.max_train_beats, seed=cfg.seed)
            out[(task, kind)] = split
    return out


def check_params(cfg) -> None:
    """Stop at once on parameters that contradict each other (before any data is read).

    Raises
    ------
    ValueError
        ``headline_split`` not in ``mitbih_splits``; ``model_selection:
        best_test_epoch_as_in_paper`` without ``test_curves`` (it picks the epoch on them).
    """
    if cfg.headline_split not in cfg.mitbih_splits:
        raise ValueError(
            f"params/surrey: headline_split {cfg.headline_split!r} is not one of mitbih_splits {cfg.mitbih_splits}"
        )
    if cfg.model_selection == "best_test_epoch_as_in_paper" and not cfg.test_curves:
        raise ValueError("params/surrey: model_selection best_test_epoch_as_in_paper needs test_curves: true")


def headline_splits_from_params(cfg) -> dict[str, str]:
    """task -> the split the claims and Tables 1-2 use."""
    return {"mitbih": cfg.headline_split, "mi": cfg.mi_split}


def data_digest(beats: Mapping[str, LabelledSet]) -> str:
    """A digest of the beats' contents (signals, targets, record ids, class names, per task).

    :func:`ecglib.units.unit_key` over the arrays: any changed beat, label or record id changes it.
    """
    return units.unit_key(
        **{
            task: {
                "signals": np.asarray(data.signals_mv),
                "targets": np.asarray(data.targets),
                "patient_ids": np.asarray(data.patient_ids).astype(str),
                "target_names": list(data.target_names),
            }
            for task, data in beats.items()
        }
    )


# --------------------------------------------------------------------------- the grid as units
# Every fit of the study is a cached unit (ecglib.units): one self-supervised pre-training per
# trunk, then per task x split one unit per classifier fit (scratch, ssl and, with an equal budget,
# ssl_longer, per trunk) and one per ensemble. The notebook runs the missing ones
# (ecglib.units.run_units) and aggregates; `ecglib plan surrey` / `ecglib unit run` run them one
# by one (ecglib.workflow). A unit computed either way is the same file. A unit's key names what
# decides its result (the code version below, the data's digest, the split indices, the
# hyper-parameters, the seed, the unit it starts from), never the source text: a change to this
# module that changes a result must bump CODE_VERSION.

#: bump when a unit's computation changes its results
CODE_VERSION = "surrey-unit-1"


def ssl_unit(trunk: str) -> str:
    """The name of ``trunk``'s self-supervised pre-training unit."""
    return f"ssl/{trunk}"


def fit_unit(task: str, split: str, arm: str, trunk: str) -> str:
    """The name of one classifier fit's unit (``fit/<task>/<split>/<arm>[/<trunk>]``; the ensemble has no trunk)."""
    return f"fit/{task}/{split}/{arm}" if trunk == ENSEMBLE else f"fit/{task}/{split}/{arm}/{trunk}"


def experiment_models(trunks: Sequence[str], ensemble_comparison: str) -> list[tuple[str, str]]:
    """The (arm, trunk) of every fit of one task x split, in the order they are trained and tabled."""
    if ensemble_comparison not in ENSEMBLE_COMPARISONS:
        raise ValueError(
            f"ensemble_comparison must be one of {ENSEMBLE_COMPARISONS}, got {ensemble_comparison!r}"
        )
    arms = ("scratch", "ssl", "ssl_longer") if ensemble_comparison == "equal_budget" else ("scratch", "ssl")
    return [(arm, trunk) for arm in arms for trunk in trunks] + [("ensemble", ENSEMBLE)]


def _cpu_state(model) -> dict[str, torch.Tensor]:
    return {name: value.detach().cpu().clone() for name, value in model.state_dict().items()}


def _arch(trunks: Sequence[str], n_classes: int, *, bottleneck: bool, ensemble: bool = False) -> dict:
    """What rebuilds a model from its weights: its trunks, outputs, bottleneck, ensemble or not."""
    return {
        "trunks": [str(t) for t in trunks],
        "n_classes": int(n_classes),
        "bottleneck": bool(bottleneck),
        "ensemble": bool(ensemble),
    }


def model_from_payload(payload: Mapping[str, Any], device):
    """The model a unit stored (``arch`` and ``state``): a :class:`BeatNet` or an ensemble of them, on ``device``."""
    from ecglib.train import resolve_device

    arch = payload["arch"]
    members = [
        make_model(
            f"surrey_{trunk}", seed=0, n_classes=int(arch["n_classes"]), bottleneck=bool(arch["bottleneck"])
        )
        for trunk in arch["trunks"]
    ]
    model = ProbabilityAverage(members) if arch["ensemble"] else members[0]
    model.load_state_dict(payload["state"])
    return model.to(resolve_device(device))


def ssl_payload(result: SslResult) -> dict:
    """One pre-training as a unit payload: the model (``arch``, ``state``), history, head table, verdict."""
    heads = result.heads
    return {
        "arch": _arch([result.trunk], result.model.n_classes, bottleneck=result.model.bottleneck),
        "state": _cpu_state(result.model),
        "history": units.frame_payload(result.history),
        "heads": {
            "head": [str(name) for name in heads["head"]],
            **{
                column: torch.as_tensor(heads[column].to_numpy(dtype=np.float64))
                for column in ("accuracy", "majority_rate", "margin_over_majority")
            },
            "learnt": [bool(value) for value in heads["learnt"]],
        },
        "heads_attrs": {
            "n_heads_learnt": int(heads.attrs.get("n_heads_learnt", int(heads["learnt"].sum()))),
            "rule": str(heads.attrs.get("rule", "")),
        },
        "learnt": bool(result.learnt),
    }


def ssl_result_from_payload(payload: Mapping[str, Any], device) -> SslResult:
    """The inverse of :func:`ssl_payload`."""
    stored = payload["heads"]
    heads = pd.DataFrame(
        {
            "head": list(stored["head"]),
            **{
                column: stored[column].numpy()
                for column in ("accuracy", "majority_rate", "margin_over_majority")
            },
            "learnt": np.asarray(stored["learnt"], dtype=bool),
        }
    )
    heads.attrs.update(payload["heads_attrs"])
    return SslResult(
        payload["arch"]["trunks"][0],
        model_from_payload(payload, device),
        units.frame_from_payload(payload["history"]),
        heads,
        bool(payload["learnt"]),
    )


def _fit_payload(result, logits: np.ndarray, *, arch: dict, epochs_trained: int) -> dict:
    """One classifier fit as a unit payload: the selected weights, history, selection and test logits."""
    return {
        "arch": arch,
        "state": {name: value.detach().cpu().clone() for name, value in result.best_state_dict.items()},
        "history": units.frame_payload(result.history),
        "best_epoch": int(result.best_epoch),
        "best_score": float(result.best_score),
        "monitor": str(result.monitor),
        "monitor_mode": str(result.monitor_mode),
        "stopped_early": bool(result.stopped_early),
        "logits": torch.as_tensor(np.asarray(logits)),
        "epochs_trained": int(epochs_trained),
    }


def fit_result_from_payload(payload: Mapping[str, Any], device):
    """A fit unit's :class:`ecglib.train.FitResult` (the model rebuilt with its selected weights)."""
    from ecglib.train import FitResult, resolve_device

    return FitResult(
        model=model_from_payload(payload, device),
        history=units.frame_from_payload(payload["history"]),
        best_epoch=int(payload["best_epoch"]),
        best_score=float(payload["best_score"]),
        best_state_dict=dict(payload["state"]),
        monitor=str(payload["monitor"]),
        monitor_mode=str(payload["monitor_mode"]),
        stopped_early=bool(payload["stopped_early"]),
        device=resolve_device(device),
    )


def _given_payload(payload, needed):
    """A unit's compute that returns a payload at hand (pre-trainings given to :func:`run_experiment`)."""
    return payload


def _once(compute):
    """``compute()`` evaluated at most once (the SSL set, shared by the pre-trainings of one process)."""
    value: list = []

    def get():
        if not value:
            value.append(compute())
        return value[0]

    return get


def _ssl_compute(ssl_set, needed, *, trunk: str, **settings) -> dict:
    data = ssl_set()
    payload = ssl_payload(pretrain_ssl(data, trunk, **settings))
    payload["n_beats"] = int(data.n_beats)
    payload["exclusions"] = {str(reason): int(n) for reason, n in data.exclusions.items()}
    return payload


def _fit_compute(
    beats: LabelledSet,
    split: Split,
    needed,
    *,
    arm: str,
    trunk: str,
    trunks: Sequence[str],
    task: str,
    n_classes: int,
    epochs: int,
    epochs_trained: int,
    seed: int,
    test: np.ndarray,
    device,
    **common,
) -> dict:
    """One fit of :func:`experiment_units`: its model (from scratch, the pre-trained trunk, the
    transferred model, or the transferred models averaged), trained, and its test logits."""
    where = (task, split.name)
    if arm == "scratch":
        model = make_model(
            f"surrey_{trunk}", seed=derive_seed(seed, "scratch_init", *where, trunk), n_classes=n_classes
        )
        arch = _arch([trunk], n_classes, bottleneck=False)
    elif arm == "ssl":
        pretrained = model_from_payload(needed[ssl_unit(trunk)], device)
        model, _ = transfer_trunk(pretrained, n_classes, seed=derive_seed(seed, "ssl_head", *where, trunk))
        arch = _arch([trunk], n_classes, bottleneck=model.bottleneck)
    elif arm == "ssl_longer":
        start = needed[fit_unit(task, split.name, "ssl", trunk)]
        model, arch = model_from_payload(start, device), dict(start["arch"])
    else:
        members = [needed[fit_unit(task, split.name, "ssl", t)] for t in trunks]
        model = ProbabilityAverage([model_from_payload(member, device) for member in members])
        arch = _arch(trunks, n_classes, bottleneck=members[0]["arch"]["bottleneck"], ensemble=True)
    if arm == "ensemble":
        fit_seed, label = derive_seed(seed, "ensemble", *where), f"ensemble {task}/{split.name}"
    else:
        fit_seed, label = derive_seed(seed, arm, *where, trunk), f"{arm} {trunk} {task}/{split.name}"
    result = train_classifier(
        model, beats, split, task=task, epochs=epochs, seed=fit_seed, device=device, label=label, **common
    )
    logits = predict(result.model, beats.signals_mv[test], batch_size=1024, device=device)
    return _fit_payload(result, logits, arch=arch, epochs_trained=epochs_trained)


def experiment_units(
    beats: LabelledSet,
    split: Split,
    *,
    task: str,
    digest: str,
    ssl_keys: Mapping[str, str],
    trunks: Sequence[str],
    epochs: int,
    ensemble_epochs: int,
    ensemble_comparison: str,
    lr: float,
    batch_size: int,
    seed: int,
    device,
    model_selection: str = "validation",
    test_rebalance_per_class: int | None = None,
    test_curves: bool = True,
) -> list[Unit]:
    """The fits of one task and split (:func:`run_experiment`'s arms) as units, in training order.

    A fit's key names the code version, the task's data digest (``digest``), the split's
    train/validation indices, the test beats its logits are computed on and those its curves
    use, the arm, trunk, epochs, learning rate, batch size, model selection and master seed, and
    the unit it starts from by that unit's key: ``ssl`` its trunk's pre-training (``ssl_keys``:
    unit name -> key), ``ssl_longer`` the ``ssl`` fit, the ensemble every ``ssl`` fit. ``device``
    is not part of it.

    Returns
    -------
    list of Unit; each payload holds the selected weights (``arch``, ``state``), ``history``,
    ``best_epoch``, ``best_score``, ``monitor``, ``monitor_mode``, ``stopped_early``, the test
    ``logits`` and ``epochs_trained`` (:func:`experiment_from_payloads` reads them back)
    """
    if model_selection not in MODEL_SELECTIONS:
        raise ValueError(f"model_selection must be one of {MODEL_SELECTIONS}, got {model_selection!r}")
    models = experiment_models(trunks, ensemble_comparison)
    n_classes = 1 if task == "mi" else len(beats.target_names)
    test = experiment_test_indices(
        split, beats.targets, test_rebalance_per_class=test_rebalance_per_class, seed=seed
    )
    curves_on = test if test_curves else np.zeros(0, np.int64)
    common_parts = {
        "code": CODE_VERSION,
        "role": "fit",
        "task": task,
        "split": split.name,
        "data": digest,
        "train": split.train,
        "val": split.val,
        "test": test,
        "curves_on": curves_on,
        "n_classes": int(n_classes),
        "lr": float(lr),
        "batch_size": int(batch_size),
        "model_selection": model_selection,
        "seed": int(seed),
    }
    grid: list[Unit] = []
    keys: dict[str, str] = {}
    for arm, trunk in models:
        name = fit_unit(task, split.name, arm, trunk)
        if arm == "scratch":
            needs, init, n_epochs, total = (), "random", epochs, epochs
        elif arm == "ssl":
            needs = (ssl_unit(trunk),)
            init, n_epochs, total = ssl_keys[needs[0]], epochs, epochs
        elif arm == "ssl_longer":
            needs = (fit_unit(task, split.name, "ssl", trunk),)
            init, n_epochs, total = keys[needs[0]], ensemble_epochs, epochs + ensemble_epochs
        else:
            needs = tuple(fit_unit(task, split.name, "ssl", t) for t in trunks)
            init, n_epochs, total = [keys[n] for n in needs], ensemble_epochs, epochs + ensemble_epochs
        parts = {
            **common_parts,
            "arm": arm,
            "trunk": trunk,
            "trunks": list(trunks) if arm == "ensemble" else [trunk],
            "epochs": int(n_epochs),
            "init": init,
        }
        compute = partial(
            _fit_compute,
            beats,
            split,
            arm=arm,
            trunk=trunk,
            trunks=list(trunks),
            task=task,
            n_classes=n_classes,
            epochs=n_epochs,
            epochs_trained=total,
            seed=seed,
            test=test,
            device=device,
            lr=lr,
            batch_size=batch_size,
            test_indices=curves_on,
            model_selection=model_selection,
        )
        grid.append(Unit(name, parts, compute, needs))
        keys[name] = grid[-1].key
    return grid


def experiment_from_payloads(
    payloads: Mapping[str, Any],
    *,
    task: str,
    split: str,
    test_indices: np.ndarray,
    trunks: Sequence[str],
    ensemble_comparison: str,
    device,
) -> Experiment:
    """One task x split's :class:`Experiment` from its units' payloads (:func:`experiment_units`)."""
    out = Experiment(task, split, test_indices)
    for arm, trunk in experiment_models(trunks, ensemble_comparison):
        payload = payloads[fit_unit(task, split, arm, trunk)]
        out.fits[(arm, trunk)] = fit_result_from_payload(payload, device)
        out.logits[(arm, trunk)] = payload["logits"].numpy()
        out.epochs_trained[(arm, trunk)] = int(payload["epochs_trained"])
    return out


@dataclass
class GridInputs:
    """What the grid trains on.

    Attributes
    ----------
    beats : task -> its beats (or, for a dry run, a shape-only stand-in: targets, record ids,
        class names, no signals)
    splits : (task, split name) -> :class:`Split` (:func:`splits_from_params`)
    digests : task -> digest of its beats (:func:`data_digest`; ``stand-in:...`` for stand-ins)
    """

    beats: Mapping[str, Any]
    splits: Mapping[tuple[str, str], Split]
    digests: Mapping[str, str]


def grid_inputs(beats: Mapping[str, LabelledSet], splits: Mapping[tuple[str, str], Split]) -> GridInputs:
    """The beats and splits with each task's data digest, for :func:`plan_units`."""
    return GridInputs(beats, splits, {task: data_digest({task: data}) for task, data in beats.items()})


def plan_units(
    inputs: GridInputs,
    *,
    trunks: Sequence[str],
    ssl_max_beats: int | None,
    ssl_held_out_fraction: float,
    ssl_epochs: int,
    ssl_bottleneck: bool,
    ssl_head_margin: float,
    transform_params: transforms.TransformParams,
    epochs: int,
    ensemble_epochs: int,
    ensemble_comparison: str,
    lr: float,
    batch_size: int,
    seed: int,
    device,
    model_selection: str = "validation",
    test_rebalance_per_class: int | None = None,
    test_curves: bool = True,
) -> list[Unit]:
    """The study's grid: one self-supervised pre-training per trunk, then every task x split's fits.

    A pre-training's key names the code version, the MIT-BIH beats' digest and the beats drawn
    into the self-supervised set (:func:`ssl_beat_indices`: training beats of every MIT-BIH
    split), the transformations' parameters, the held-out share, the trunk, epochs, learning
    rate, batch size, bottleneck, head margin and master seed. The 8-version set is built when a
    pre-training first runs (once per process). The fits: :func:`experiment_units` per
    task x split, in the order of ``inputs.splits``.

    Returns
    -------
    list of Unit, runnable by :func:`ecglib.units.run_units` (needs first)
    """
    mitbih = inputs.beats["mitbih"]
    mit_splits = [split for (task, _), split in inputs.splits.items() if task == "mitbih"]
    chosen = ssl_beat_indices(len(mitbih.targets), mit_splits, max_beats=ssl_max_beats, seed=seed)
    ssl_set = _once(
        lambda: ssl_data(
            mitbih.signals_mv[chosen],
            seed=seed,
            params=transform_params,
            held_out_fraction=ssl_held_out_fraction,
        )
    )
    ssl_parts = {
        "code": CODE_VERSION,
        "role": "ssl",
        "data": inputs.digests["mitbih"],
        "beats": chosen,
        "transforms": dataclasses.asdict(transform_params),
        "held_out_fraction": float(ssl_held_out_fraction),
        "original_head": True,
        "epochs": int(ssl_epochs),
        "lr": float(lr),
        "batch_size": int(batch_size),
        "bottleneck": bool(ssl_bottleneck),
        "head_margin": float(ssl_head_margin),
        "seed": int(seed),
    }
    grid = [
        Unit(
            ssl_unit(trunk),
            {**ssl_parts, "trunk": trunk},
            partial(
                _ssl_compute,
                ssl_set,
                trunk=trunk,
                epochs=ssl_epochs,
                lr=lr,
                batch_size=batch_size,
                seed=seed,
                device=device,
                bottleneck=ssl_bottleneck,
                head_margin=ssl_head_margin,
            ),
        )
        for trunk in trunks
    ]
    ssl_keys = {unit.name: unit.key for unit in grid}
    for (task, _), split in inputs.splits.items():
        grid += experiment_units(
            inputs.beats[task],
            split,
            task=task,
            digest=inputs.digests[task],
            ssl_keys=ssl_keys,
            trunks=trunks,
            epochs=epochs,
            ensemble_epochs=ensemble_epochs,
            ensemble_comparison=ensemble_comparison,
            lr=lr,
            batch_size=batch_size,
            seed=seed,
            device=device,
            model_selection=model_selection,
            test_rebalance_per_class=test_rebalance_per_class,
            test_curves=test_curves,
        )
    return grid


def plan_from_params(cfg, inputs: GridInputs, *, device="cpu") -> list[Unit]:
    """:func:`plan_units` with the profile's settings (the notebook's grid, and ``ecglib plan surrey``'s)."""
    check_params(cfg)
    return plan_units(
        inputs,
        trunks=cfg.trunks,
        ssl_max_beats=cfg.ssl_max_beats,
        ssl_held_out_fraction=cfg.ssl_held_out_fraction,
        ssl_epochs=cfg.ssl_epochs,
        ssl_bottleneck=cfg.ssl_bottleneck,
        ssl_head_margin=cfg.ssl_head_margin,
        transform_params=transform_params_from_params(cfg),
        epochs=cfg.epochs,
        ensemble_epochs=cfg.ensemble_epochs,
        ensemble_comparison=cfg.ensemble_comparison,
        lr=cfg.lr,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        device=device,
        model_selection=cfg.model_selection,
        test_rebalance_per_class=cfg.test_rebalance_per_class,
        test_curves=cfg.test_curves,
    )


def grid_inputs_from_params(cfg, *, data_root=None) -> GridInputs:
    """The profile's beats (every task) and splits, digested (what ``ecglib plan surrey`` plans over).

    Raises
    ------
    DataMissingError
        the profile's data are absent (:func:`check_data_present`).
    """
    check_params(cfg)
    check_data_present(cfg.data_source, data_root=data_root)
    beats = {task: beats_from_params(cfg, task, data_root=data_root) for task in TASKS}
    return grid_inputs(beats, splits_from_params(cfg, beats))


#: shape-only stand-ins: the Kaggle MIT-BIH test file's beats (its training file's class mix is
#: ecglib.data.simulated.BEAT_COUNTS), MIT-BIH's annotated beats per record (about 109,500 / 48)
#: and LUDB's records with about 8 beats each
_KAGGLE_MITBIH_TEST_BEATS = 21_892
_STAND_IN_BEATS_PER_MITBIH_RECORD = 2_280
_STAND_IN_LUDB_RECORDS = 200
_STAND_IN_BEATS_PER_LUDB_RECORD = 8


def _stand_in_set(targets, patient_ids, target_names) -> SimpleNamespace:
    """What the planning reads of a beat set: targets, record ids and class names; no signals."""
    return SimpleNamespace(
        targets=np.asarray(targets, dtype=np.int64),
        patient_ids=np.asarray(patient_ids).astype(str),
        target_names=tuple(target_names),
        signals_mv=np.zeros((0, 187, 1), np.float32),
    )


def stand_in_inputs(cfg) -> GridInputs:
    """Shape-only stand-ins of the profile's beats and splits, for :func:`plan_from_params` without the data.

    ``kaggle-heartbeat``: the four CSVs' beat counts (MIT-BIH 87,554 training beats in the
    files' class mix and 21,892 test beats, ids ``mitbih_train:``/``mitbih_test:``; PTB 4,046
    normal and 10,506 abnormal); ``mitbih``: the profile's MIT-BIH records (those with MLII) with
    about 2,280 beats each and LUDB's records with 8 beats each, one label per record;
    ``sim-beats``: the simulated beats themselves (nothing can be missing). The real split code
    runs over them, so the units (names, needs, split sizes) are the profile's; the digests are
    ``stand-in:surrey/<profile>/<task>``, so the keys name no real data: for dry runs only (the
    units' ``compute`` cannot run).
    """
    from ecglib.data import kaggle_heartbeat, mitbih, simulated
    from ecglib.data.beat_sets import LUDB_MI_CLASSES

    check_params(cfg)
    if cfg.data_source == "kaggle-heartbeat":
        train_counts = np.asarray(simulated.BEAT_COUNTS["mitbih"], dtype=np.int64)
        test_counts = _stratified_quota(train_counts, _KAGGLE_MITBIH_TEST_BEATS)
        labels = np.concatenate([np.repeat(np.arange(5), counts) for counts in (train_counts, test_counts)])
        ids = [f"mitbih_train:{i}" for i in range(int(train_counts.sum()))] + [
            f"mitbih_test:{i}" for i in range(int(test_counts.sum()))
        ]
        normal, abnormal = simulated.BEAT_COUNTS["ptb"]
        mi_labels = np.repeat([0, 1], [normal, abnormal])
        beats = {
            "mitbih": _stand_in_set(labels, ids, kaggle_heartbeat.MITBIH_CLASSES),
            "mi": _stand_in_set(
                mi_labels, [f"ptbdb:{i}" for i in range(len(mi_labels))], kaggle_heartbeat.PTBDB_CLASSES
            ),
        }
    elif cfg.data_source == "mitbih":
        records = [r for r in (cfg.mitbih_records or mitbih.RECORD_IDS) if r not in ("102", "104")]
        n = _STAND_IN_BEATS_PER_MITBIH_RECORD
        ludb_records = cfg.ludb_records or [str(i) for i in range(1, _STAND_IN_LUDB_RECORDS + 1)]
        per_ludb = _STAND_IN_BEATS_PER_LUDB_RECORD
        beats = {
            "mitbih": _stand_in_set(
                np.arange(n * len(records)) % 5, np.repeat(records, n), mitbih.AAMI_CLASSES
            ),
            "mi": _stand_in_set(
                np.repeat([i % 2 for i in range(len(ludb_records))], per_ludb),
                np.repeat(ludb_records, per_ludb),
                LUDB_MI_CLASSES,
            ),
        }
    else:
        beats = {task: beats_from_params(cfg, task) for task in TASKS}
    digests = {task: f"stand-in:surrey/{cfg.profile}/{task}" for task in TASKS}
    return GridInputs(beats, splits_from_params(cfg, beats), digests)


def ssl_from_payloads(payloads: Mapping[str, Any], trunks: Sequence[str], *, device) -> dict[str, SslResult]:
    """trunk -> its pre-training's :class:`SslResult`, from :func:`ecglib.units.run_units`' payloads."""
    return {trunk: ssl_result_from_payload(payloads[ssl_unit(trunk)], device) for trunk in trunks}


def experiments_from_payloads(
    payloads: Mapping[str, Any],
    inputs: GridInputs,
    *,
    trunks: Sequence[str],
    ensemble_comparison: str,
    test_rebalance_per_class: int | None,
    seed: int,
    device,
) -> list[Experiment]:
    """Every task x split's :class:`Experiment` (the order of ``inputs.splits``), from the units' payloads
    (the settings as given to :func:`plan_units`)."""
    return [
        experiment_from_payloads(
            payloads,
            task=task,
            split=split.name,
            test_indices=experiment_test_indices(
                split,
                inputs.beats[task].targets,
                test_rebalance_per_class=test_rebalance_per_class,
                seed=seed,
            ),
            trunks=trunks,
            ensemble_comparison=ensemble_comparison,
            device=device,
        )
        for (task, _), split in inputs.splits.items()
    ]
