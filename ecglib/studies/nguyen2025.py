"""Nguyen & Do 2025: is fine-tuning a pre-trained ECG classifier better than training it from scratch?

Study glue too large for the notebook (``notebooks/nguyen2025.py``):

1. :func:`load_dataset` / :func:`check_available`: every set as multi-label, ``fs_hz`` Hz,
   ``duration_s`` s (``ecglib.preprocess.prepare_fixed_length``: anti-aliased resampling, or
   the authors' decimation as the labelled option ``decimate_as_in_code``; longer records
   cropped, shorter dropped and counted). Public sets absent under the data root stop the run at
   once naming ``ecglib data download <name>``.
2. :func:`make_splits`: patient-wise hold-out (the paper's 0.33; PTB-XL's standard folds as an
   option) or patient-wise k-fold cross-validation; a validation part always comes from the
   training side.
3. :func:`plan_units`: the grid as cached units (:mod:`ecglib.units`): one pre-training per
   architecture x upstream set, one fine-tune and one from-scratch run per architecture x
   upstream x downstream x fold x seed, and the size sweep. Fine-tuning replaces the top layer
   and trains everything; scratch trains the same way from random weights.
4. :func:`train_unit`: one training run. Selection ``validation`` (default): the epoch (and so
   the pre-training checkpoint) with the lowest validation loss, per-label thresholds that
   maximise validation F1. ``test_set_as_in_paper`` (labelled option; leaks): the epoch with the
   best test F1, threshold 0.5, the reported F1 the maximum over the per-epoch test F1.
5. :func:`results_table`, :func:`paired_bootstrap`, :func:`claim_results`, :data:`CLAIMS`: the
   full result table, fine-tune minus scratch with paired bootstrap CIs per test set, and the
   paper's four findings as claims.

Study functions take explicit keywords; only the ``*_from_params`` adaptors read a profile.
The paper's facts (Table 1, label lists, findings) are in ``params/nguyen2025/reported.yaml``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.special import expit

from ecglib import claims, metrics, preprocess, stats, units
from ecglib.data import LabelledSet, dataset_folder, is_synthetic
from ecglib.data.splits import Split, assert_patient_disjoint, patient_kfold, patient_split
from ecglib.errors import DataMissingError
from ecglib.models import make_model
from ecglib.seeds import derive_seed
from ecglib.transfer import kept_and_replaced_table, replace_head
from ecglib.units import Unit

#: bump when a unit's computation changes its results
CODE_VERSION = "nguyen2025-unit-1"
#: bump when :func:`load_dataset` prepares the same files differently (its disk cache is keyed by it)
PREPARED_VERSION = "nguyen2025-prepared-1"
ARMS = ("fine_tune", "scratch")
SELECTIONS = ("validation", "test_set_as_in_paper")
CNNS = ("resnet1d18", "resnet1d50", "resnet1d101")
RNNS = ("lstm", "bilstm", "gru")
#: public sets of the paper -> loader keywords; LUDB label sets and the simulated sources besides
PUBLIC = ("ptbxl", "cpsc2018", "georgia", "ptbdb", "code-test")
LUDB_SETS = {"ludb-superclass": "superclass", "ludb-rhythm": "rhythm_conduction"}
SIMULATED = ("sim-ptbxl", "sim-chapman")
DATASETS = PUBLIC + tuple(LUDB_SETS) + SIMULATED


def registry_name(dataset: str) -> str:
    """The registered data source behind a dataset name of this study (``ludb-rhythm`` -> ``ludb``)."""
    return "ludb" if dataset in LUDB_SETS else dataset


# --------------------------------------------------------------------------- data


@dataclass
class Prepared:
    """One dataset ready for the grid.

    Attributes
    ----------
    name : dataset name of this study (:data:`DATASETS`)
    examples : LabelledSet, multi-label, signals (n, fs_hz * duration_s, n_leads)
    counts : records read, kept, cropped, dropped short (``prepare_fixed_length``)
    split_unit : "patient" or "record" (what the split keeps apart)
    digest : unit key of the signals and targets (computed once, named by every unit)
    unscored : labels dropped because they are too rare to score, label -> positives
    """

    name: str
    examples: LabelledSet
    counts: dict[str, int]
    split_unit: str
    digest: str = ""
    unscored: dict[str, int] = field(default_factory=dict)


def check_available(datasets: Sequence[str], *, data_root=None) -> None:
    """Stop at once when a public (or LUDB) set is absent, naming ``ecglib data download <name>``.

    Raises
    ------
    DataMissingError
        for the first absent set (its message names the download command).
    """
    for dataset in datasets:
        if dataset not in DATASETS:
            raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
        if dataset in SIMULATED:
            continue
        name = registry_name(dataset)
        folder = dataset_folder(name, data_root)
        if not folder.is_dir():
            raise DataMissingError(name, folder)


def _raw(dataset: str, *, data_root, n_sim: int, seed: int, duration_s: float, ludb_records):
    """(LabelledSet at its native rate, split_unit) of one dataset before resampling."""
    if dataset in SIMULATED:
        from ecglib.data import simulated

        raw = simulated.load_labelled(
            dataset, n_sim, seed=derive_seed(seed, dataset), fs_hz=500.0, duration_s=duration_s
        )
        if raw.task == "single_label":  # sim-chapman: one rhythm per record -> one-hot
            one_hot = np.eye(len(raw.target_names), dtype=np.float32)[raw.targets]
            raw = replace(raw, targets=one_hot, task="multi_label")
        return raw, "patient"
    if dataset in LUDB_SETS:
        from ecglib.data import ludb

        return ludb.load_labelled(data_root, label_set=LUDB_SETS[dataset], record_ids=ludb_records), "patient"
    from ecglib import data

    module = data.module(dataset)
    if dataset == "ptbxl":
        return module.load_labelled(data_root, fs_hz=500), "patient"
    if dataset == "ptbdb":
        return module.load_labelled(data_root, duration_s=max(duration_s, 10.0)), "patient"
    if dataset == "code-test":
        return module.load_labelled(data_root), "record"
    return module.load_labelled(data_root, duration_s=duration_s), "record"


def load_dataset(
    dataset: str,
    *,
    data_root=None,
    n_sim: int,
    seed: int,
    fs_hz: float,
    duration_s: float,
    resampling: str,
    normalisation: str,
    ludb_records=tuple(range(1, 151)),
    min_positives: int = 0,
    use_cache: bool = False,
) -> Prepared:
    """One dataset as the grid uses it: resampled, fixed length, multi-label.

    Parameters
    ----------
    dataset : one of :data:`DATASETS`
    n_sim : examples of a simulated set
    seed : seeds the simulated sets
    fs_hz, duration_s : output rate (Hz) and length (s); paper 100 Hz, 10 s
    resampling, normalisation : see :func:`ecglib.preprocess.prepare_fixed_length`
    ludb_records : LUDB records read (1-150 on these machines)
    min_positives : labels with fewer positives are not scored (dropped, listed in ``unscored``)
    use_cache : keep a public (or LUDB) set, once prepared, in the disk cache
        (:mod:`ecglib.data.cache`), keyed by these settings, :data:`PREPARED_VERSION` and the
        identity of every file in the dataset's folder (:func:`ecglib.cache.folder_identity`), so
        each unit job of a cluster run reads the prepared arrays instead of re-reading and
        resampling every record. Simulated sets are generated each time (their source is code).
    """
    settings = {
        "n_sim": int(n_sim),
        "seed": int(seed),
        "fs_hz": float(fs_hz),
        "duration_s": float(duration_s),
        "resampling": resampling,
        "normalisation": normalisation,
        "ludb_records": [int(record) for record in ludb_records],
        "min_positives": int(min_positives),
    }
    prepare = partial(_prepare, dataset, data_root=data_root, **settings)
    if not use_cache or dataset in SIMULATED:
        return prepare()
    from ecglib.cache import folder_identity
    from ecglib.data import cache as data_cache

    key = {
        "dataset": f"nguyen2025-{dataset}",
        "code_version": PREPARED_VERSION,
        **settings,
        "source_files": folder_identity(dataset_folder(registry_name(dataset), data_root)),
    }
    made: list[Prepared] = []

    def compute() -> dict[str, np.ndarray]:
        made.append(prepare())
        return _prepared_arrays(made[0])

    arrays = data_cache.cached(key, compute)
    return made[0] if made else _prepared_from_arrays(dataset, arrays)


def _prepared_arrays(item: Prepared) -> dict[str, np.ndarray]:
    """A :class:`Prepared` as plain arrays for the disk cache (facts as one JSON string)."""
    examples = item.examples
    facts = {
        "fs_hz": examples.fs_hz,
        "lead_names": list(examples.lead_names),
        "target_names": list(examples.target_names),
        "task": examples.task,
        "source": examples.source,
        "exclusions": examples.exclusions,
        "units": examples.units,
        "counts": item.counts,
        "split_unit": item.split_unit,
        "unscored": item.unscored,
    }
    return {
        "signals": examples.signals_mv,
        "targets": examples.targets,
        "patient_ids": examples.patient_ids.astype("U"),
        "facts": np.asarray(json.dumps(facts)),  # insertion order kept: tables list counts in it
    }


def _prepared_from_arrays(dataset: str, arrays: Mapping[str, np.ndarray]) -> Prepared:
    """The inverse of :func:`_prepared_arrays` (the digest recomputed from the arrays read)."""
    facts = json.loads(str(arrays["facts"]))
    examples = LabelledSet(
        signals_mv=arrays["signals"],
        targets=arrays["targets"],
        patient_ids=arrays["patient_ids"].astype(str),
        fs_hz=float(facts["fs_hz"]),
        lead_names=tuple(facts["lead_names"]),
        target_names=tuple(facts["target_names"]),
        task=facts["task"],
        source=facts["source"],
        exclusions=facts["exclusions"],
        units=facts["units"],
    )
    return Prepared(
        dataset, examples, facts["counts"], facts["split_unit"], _digest(examples), facts["unscored"]
    )


def _digest(examples: LabelledSet) -> str:
    return units.unit_key(
        signals=examples.signals_mv, targets=examples.targets, patients=examples.patient_ids.astype("U")
    )


def _prepare(
    dataset: str,
    *,
    data_root,
    n_sim: int,
    seed: int,
    fs_hz: float,
    duration_s: float,
    resampling: str,
    normalisation: str,
    ludb_records,
    min_positives: int,
) -> Prepared:
    """:func:`load_dataset` without the cache."""
    raw, split_unit = _raw(
        dataset, data_root=data_root, n_sim=n_sim, seed=seed, duration_s=duration_s, ludb_records=ludb_records
    )
    signals, kept, counts = preprocess.prepare_fixed_length(
        raw.signals_mv,
        raw.fs_hz,
        fs_out_hz=fs_hz,
        duration_s=duration_s,
        resampling=resampling,
        normalisation=normalisation,
    )
    targets = np.asarray(raw.targets, dtype=np.float32)[kept]
    positives = targets.sum(axis=0).astype(int)
    scored = positives >= max(min_positives, 1)
    unscored = {name: int(n) for name, n, keep in zip(raw.target_names, positives, scored) if not keep}
    examples = LabelledSet(
        signals_mv=signals,
        targets=targets[:, scored],
        patient_ids=np.asarray(raw.patient_ids).astype(str)[kept],
        fs_hz=float(fs_hz),
        lead_names=tuple(raw.lead_names),
        target_names=tuple(str(name) for name in np.asarray(raw.target_names)[scored]),
        task="multi_label",
        source=raw.source,
        exclusions={**raw.exclusions, "shorter_than_duration": counts["n_dropped_short"]},
        units="mV" if normalisation == "none" else normalisation,
    )
    return Prepared(dataset, examples, counts, split_unit, _digest(examples), unscored)


def datasets_from_params(
    cfg: Mapping[str, Any], names: Sequence[str], *, data_root=None
) -> dict[str, Prepared]:
    """:func:`load_dataset` for each name with the profile's settings (absent public sets stop first)."""
    check_available(names, data_root=data_root)
    return {
        name: load_dataset(
            name,
            data_root=data_root,
            n_sim=cfg["sim_n_examples"],
            seed=cfg["seed"],
            fs_hz=cfg["fs_hz"],
            duration_s=cfg["duration_s"],
            resampling=cfg["resampling"],
            normalisation=cfg["normalisation"],
            ludb_records=tuple(range(1, cfg["ludb_n_records"] + 1)),
            min_positives=cfg["min_positives"],
            use_cache=cfg["use_cache"],
        )
        for name in dict.fromkeys(names)
    }


def data_facts(prepared: Mapping[str, Prepared]) -> dict[str, dict[str, dict]]:
    """For ``run.record_data``: registered source -> dataset name -> records, counts, labels, unscored labels."""
    facts: dict[str, dict[str, dict]] = {}
    for name, item in prepared.items():
        facts.setdefault(registry_name(name), {})[name] = {
            "n_records": len(item.examples),
            "counts": item.counts,
            "labels": list(item.examples.target_names),
            "unscored": item.unscored,
            "split": f"{item.split_unit}-wise",
        }
    return facts


def table1(
    prepared: Mapping[str, Prepared], splits: Mapping[str, Sequence[Split]], reported_table1
) -> pd.DataFrame:
    """Table 1: labels, samples, training and test sizes (first split) beside the paper's."""
    rows = []
    for name, item in prepared.items():
        first = splits[name][0]
        paper = reported_table1.get(name, {}) if reported_table1 else {}
        rows.append(
            {
                "dataset": name,
                "labels": len(item.examples.target_names),
                "samples": len(item.examples),
                "train (+val)": len(first.train) + len(first.val),
                "test": len(first.test),
                "split": f"{item.split_unit}-wise, {len(splits[name])} split(s)",
                "dropped short": item.counts["n_dropped_short"],
                "unscored labels": ", ".join(f"{k} ({v})" for k, v in item.unscored.items()),
                "paper labels": paper.get("n_labels"),
                "paper samples": paper.get("samples"),
                "paper train": paper.get("train"),
                "paper test": paper.get("test"),
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- splits


def make_splits(
    examples: LabelledSet,
    *,
    rule: str,
    seed: int,
    test_fraction: float,
    val_fraction: float,
    n_folds: int,
) -> list[Split]:
    """Train / validation / test index sets, patient-disjoint (patients = records where no ids exist).

    ``rule="holdout"``: one patient-wise split (stratified), ``test_fraction`` of all examples for
    testing, ``val_fraction`` for validation from the rest. ``rule="patient_kfold"``: ``n_folds``
    splits; fold k is the test part, fold k+1 the validation part, the others train.
    """
    ids, targets = examples.patient_ids, examples.targets
    if rule == "holdout":
        return [
            patient_split(ids, targets, test_fraction=test_fraction, val_fraction=val_fraction, seed=seed)
        ]
    if rule != "patient_kfold":
        raise ValueError(f"split rule must be 'holdout' or 'patient_kfold', got {rule!r}")
    if n_folds < 3:
        raise ValueError(
            f"patient_kfold needs n_folds >= 3 (a test, a validation and a training fold), got {n_folds}"
        )
    folds = patient_kfold(ids, targets, n_folds=n_folds, seed=seed)
    out = []
    for k in range(n_folds):
        test = np.flatnonzero(folds == k)
        val = np.flatnonzero(folds == (k + 1) % n_folds)
        train = np.flatnonzero((folds != k) & (folds != (k + 1) % n_folds))
        assert_patient_disjoint(ids, train, val, test)
        out.append(Split(train=train, val=val, test=test))
    return out


def ptbxl_standard_split(data_root=None) -> Split:
    """PTB-XL's standard folds 1-8 / 9 / 10 (Table 1's sizes match them), positions in ``load_labelled``."""
    from ecglib.data import ptbxl

    return ptbxl.split_records(ptbxl.labelled_metadata(data_root), rule="standard_folds")


def splits_from_params(cfg: Mapping[str, Any], prepared: Mapping[str, Prepared], *, data_root=None) -> dict:
    """:func:`make_splits` for every dataset (PTB-XL by its standard folds when ``ptbxl_split`` says so)."""
    out = {}
    for name, item in prepared.items():
        if name == "ptbxl" and cfg["ptbxl_split"] == "standard_folds":
            out[name] = [ptbxl_standard_split(data_root)]
            continue
        out[name] = make_splits(
            item.examples,
            rule=cfg["split_rule"],
            seed=derive_seed(cfg["seed"], "split", name),
            test_fraction=cfg["test_fraction"],
            val_fraction=cfg["val_fraction"],
            n_folds=cfg["n_folds"],
        )
    return out


def size_subsets(train: np.ndarray, sizes: Sequence[int], *, seed: int) -> dict[int, np.ndarray]:
    """Nested training subsets of each size (a seeded order, the first N), sizes capped at ``len(train)``."""
    order = np.random.default_rng(seed).permutation(np.asarray(train))
    return {int(n): np.sort(order[: min(int(n), len(order))]) for n in sizes}


# --------------------------------------------------------------------------- models and transfer report


def build_model(
    arch: str,
    *,
    n_classes: int,
    n_leads: int,
    n_samples: int,
    seed: int,
    rnn_head: str,
    rnn_hidden_size: int,
    rnn_dropout: float,
) -> torch.nn.Module:
    """One of the paper's six models (``CNNS`` + ``RNNS``) with seeded initial weights."""
    if arch in CNNS:
        return make_model(arch, seed=seed, n_leads=n_leads, n_classes=n_classes)
    if arch in RNNS:
        return make_model(
            arch,
            seed=seed,
            n_leads=n_leads,
            n_classes=n_classes,
            hidden_size=rnn_hidden_size,
            dropout=rnn_dropout,
            head=rnn_head,
            n_samples=n_samples,
        )
    raise ValueError(f"unknown architecture {arch!r}; the paper's: {CNNS + RNNS}")


def transfer_report(
    models: Sequence[str],
    *,
    n_upstream: int,
    n_downstream: int,
    n_leads: int,
    n_samples: int,
    rnn_heads: Sequence[str],
    rnn_hidden_size: int,
    rnn_dropout: float,
) -> pd.DataFrame:
    """Parameters fine-tuning keeps and replaces, per model (and per RNN head), upstream -> downstream."""
    built = {}
    for arch in models:
        for head in rnn_heads if arch in RNNS else ("",):
            built[f"{arch} ({head})" if head else arch] = build_model(
                arch,
                n_classes=n_upstream,
                n_leads=n_leads,
                n_samples=n_samples,
                seed=0,
                rnn_head=head or "mean_pool",
                rnn_hidden_size=rnn_hidden_size,
                rnn_dropout=rnn_dropout,
            )
    return kept_and_replaced_table(built, n_downstream)


# --------------------------------------------------------------------------- one unit


def _best_thresholds(targets: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Per-label probability threshold maximising that label's F1 (0.5 where a label has no positive)."""
    grid = np.linspace(0.05, 0.95, 19)
    out = np.full(targets.shape[1], 0.5)
    for j in range(targets.shape[1]):
        positives = targets[:, j] > 0
        if not positives.any():
            continue
        predicted = probabilities[:, j][None, :] >= grid[:, None]
        tp = (predicted & positives).sum(axis=1)
        f1 = 2 * tp / np.maximum(predicted.sum(axis=1) + positives.sum(), 1)
        out[j] = grid[int(np.argmax(f1))]
    return out


def train_unit(
    examples: LabelledSet,
    split: Split,
    *,
    arch: str,
    seed: int,
    epochs: int,
    lr: float,
    batch_size: int,
    selection: str,
    device,
    model_kwargs: Mapping[str, Any],
    init_state: Mapping[str, torch.Tensor] | None = None,
    n_init_classes: int | None = None,
    pretraining: bool = False,
    keep_state: bool = False,
) -> dict:
    """Train one model and summarise it (the payload of a unit).

    Parameters
    ----------
    examples, split : the data and its train / val / test indices
    arch : architecture (:func:`build_model`)
    seed : initial weights (scratch) or the new top layer (fine-tune), batch order, dropout
    epochs, lr, batch_size : Adam (betas 0.9, 0.999), BCE with logits
    selection : "validation" (lowest validation loss; thresholds tuned on validation) or
        "test_set_as_in_paper" (best test F1 per epoch: weighted for downstream, unweighted for a
        pre-training as the authors' code; threshold 0.5; F1 = the best per-epoch test F1)
    model_kwargs : ``n_leads``, ``n_samples``, ``rnn_head``, ``rnn_hidden_size``, ``rnn_dropout``
    init_state, n_init_classes : pre-trained weights and their number of outputs (fine-tuning:
        the top layer is replaced by a fresh one with the downstream number of labels)
    pretraining : this is a pre-training (changes only the paper option's checkpoint metric)
    keep_state : return the selected weights (pre-trainings, to fine-tune from)

    Returns
    -------
    dict of tensors and numbers: ``history`` (:func:`ecglib.units.frame_payload`; per-epoch
    train/val/test loss and F1 at 0.5, test only recorded), ``best_epoch``, ``thresholds``,
    ``test_predictions`` (0/1 at the thresholds), ``test_probabilities``, ``f1_weighted``,
    ``auc_macro``, ``state`` (or None)
    """
    from ecglib.train import fit, predict

    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {SELECTIONS}, got {selection!r}")
    n_classes = examples.targets.shape[1]
    if init_state is None:
        model = build_model(arch, n_classes=n_classes, seed=seed, **model_kwargs)
    else:
        model = build_model(arch, n_classes=n_init_classes, seed=seed, **model_kwargs)
        model.load_state_dict(dict(init_state))
        replace_head(model, n_classes, seed=derive_seed(seed, "new head"))
    train, val, test = split.subsets(examples)
    on_test = selection == "test_set_as_in_paper"
    monitor = ("test_f1_macro" if pretraining else "test_f1_weighted") if on_test else "val_loss"
    result = fit(
        model,
        train,
        val,
        test,
        task="multi_label",
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        seed=seed,
        device=device,
        optimizer="adam",
        monitor=monitor,
        monitor_mode="max" if on_test else "min",
        select_on_test=on_test,
        progress=False,
        label=f"{arch}",
    )
    eval_batch = max(batch_size, 64)
    test_probabilities = expit(
        predict(result.model, test, batch_size=eval_batch, device=device).astype(np.float64)
    )
    if on_test:
        thresholds = np.full(n_classes, 0.5)
    else:
        val_probabilities = expit(
            predict(result.model, val, batch_size=eval_batch, device=device).astype(np.float64)
        )
        thresholds = _best_thresholds(val.targets, val_probabilities)
    predictions = (test_probabilities >= thresholds).astype(np.float32)
    f1 = (
        float(result.best_score)
        if on_test and not pretraining
        else metrics.f1_weighted(test.targets, predictions)
    )
    return {
        "history": units.frame_payload(result.history),
        "best_epoch": int(result.best_epoch),
        "thresholds": torch.as_tensor(thresholds),
        "test_predictions": torch.as_tensor(predictions),
        "test_probabilities": torch.as_tensor(test_probabilities.astype(np.float32)),
        "f1_weighted": f1,
        "auc_macro": float(metrics.roc_auc(test.targets, test_probabilities)),
        "state": {k: v.detach().cpu().clone() for k, v in result.best_state_dict.items()}
        if keep_state
        else None,
    }


# --------------------------------------------------------------------------- the grid as units


@dataclass(frozen=True)
class Job:
    """What one downstream unit is (a row of the result table once run)."""

    arch: str
    upstream: str  # "" for scratch
    downstream: str
    arm: str
    seed: int
    fold: int
    size: int | None  # training-set size of the size sweep, None for the main grid
    experiment: str  # "main" or "size_sweep"


def plan_units(
    prepared: Mapping[str, Prepared],
    splits: Mapping[str, Sequence[Split]],
    *,
    models: Sequence[str],
    upstream: Sequence[str],
    downstream: Sequence[str],
    seeds: Sequence[int],
    epochs: int,
    pretrain_epochs: int,
    lr: float,
    batch_size: int,
    selection: str,
    device,
    model_kwargs: Mapping[str, Any],
    sweep: Mapping[str, Any] | None = None,
) -> tuple[list[Unit], dict[str, Job]]:
    """The grid: pre-trainings first, then every fine-tune and scratch run, as :class:`~ecglib.units.Unit`.

    A downstream unit names its pre-training by that unit's key (the key determines the weights);
    the pair upstream == downstream is skipped (as in the paper's figures). ``sweep``: ``upstream``,
    ``downstream``, ``models``, ``sizes`` (training subsets of the first split of ``downstream``) and
    optionally ``epochs`` (default: ``epochs``).

    Returns
    -------
    units : list of Unit, runnable by :func:`ecglib.units.run_units`
    jobs : unit name -> :class:`Job` for each downstream unit
    """
    hyper = {
        "lr": float(lr),
        "batch_size": int(batch_size),
        "selection": selection,
        "model": dict(model_kwargs),
    }
    common = {"code": CODE_VERSION, **hyper}
    grid: list[Unit] = []
    jobs: dict[str, Job] = {}
    pre_names: dict[tuple[str, str], str] = {}
    pre_keys: dict[tuple[str, str], str] = {}

    def pretraining(arch: str, source: str) -> str:
        if (arch, source) in pre_names:
            return pre_names[(arch, source)]
        item, split = prepared[source], splits[source][0]
        seed = derive_seed(seeds[0], "pretrain", arch, source)
        parts = {
            **common,
            "role": "pretrain",
            "arch": arch,
            "data": item.digest,
            "train": split.train,
            "val": split.val,
            "test": split.test,
            "seed": seed,
            "epochs": int(pretrain_epochs),
        }
        name = f"pretrain/{arch}/{source}"
        compute = partial(
            _pretrain_compute,
            item.examples,
            split,
            arch=arch,
            seed=seed,
            epochs=pretrain_epochs,
            lr=lr,
            batch_size=batch_size,
            selection=selection,
            device=device,
            model_kwargs=model_kwargs,
        )
        grid.append(Unit(name, parts, compute))
        pre_names[(arch, source)], pre_keys[(arch, source)] = name, units.unit_key(**parts)
        return name

    def downstream_unit(job: Job, split: Split) -> None:
        item = prepared[job.downstream]
        n_epochs = int(sweep.get("epochs", epochs)) if job.experiment == "size_sweep" else int(epochs)
        parts = {
            **common,
            "role": job.arm,
            "arch": job.arch,
            "data": item.digest,
            "train": split.train,
            "val": split.val,
            "test": split.test,
            "seed": job.seed,
            "epochs": n_epochs,
        }
        needs: tuple[str, ...] = ()
        n_init = None
        if job.arm == "fine_tune":
            needs = (pretraining(job.arch, job.upstream),)
            parts["init"] = pre_keys[(job.arch, job.upstream)]
            n_init = prepared[job.upstream].examples.targets.shape[1]
        else:
            parts["init"] = f"random:{job.arch}:{job.seed}"
        name = f"{job.experiment}/{job.arm}/{job.arch}/{job.upstream or '-'}->{job.downstream}/fold{job.fold}/seed{job.seed}"
        if job.size is not None:
            name += f"/n{job.size}"
        compute = partial(
            _downstream_compute,
            item.examples,
            split,
            arch=job.arch,
            seed=job.seed,
            epochs=n_epochs,
            lr=lr,
            batch_size=batch_size,
            selection=selection,
            device=device,
            model_kwargs=model_kwargs,
            pre_name=needs[0] if needs else None,
            n_init_classes=n_init,
        )
        if name not in jobs:
            grid.append(Unit(name, parts, compute, needs))
            jobs[name] = job

    for source in upstream:
        for arch in models:
            pretraining(arch, source)
    for target in downstream:
        for fold, split in enumerate(splits[target]):
            for seed in seeds:
                for arch in models:
                    downstream_unit(Job(arch, "", target, "scratch", seed, fold, None, "main"), split)
                    for source in upstream:
                        if source != target:
                            downstream_unit(
                                Job(arch, source, target, "fine_tune", seed, fold, None, "main"), split
                            )
    if sweep:
        base = splits[sweep["downstream"]][0]
        for seed in seeds:
            subsets = size_subsets(base.train, sweep["sizes"], seed=derive_seed(seed, "size sweep"))
            for size, train in subsets.items():
                split = Split(train=train, val=base.val, test=base.test)
                for arch in sweep["models"]:
                    downstream_unit(
                        Job(arch, "", sweep["downstream"], "scratch", seed, 0, size, "size_sweep"), split
                    )
                    downstream_unit(
                        Job(
                            arch,
                            sweep["upstream"],
                            sweep["downstream"],
                            "fine_tune",
                            seed,
                            0,
                            size,
                            "size_sweep",
                        ),
                        split,
                    )
    # pre-trainings first (a downstream unit may have added one late)
    grid.sort(key=lambda unit: not unit.name.startswith("pretrain/"))
    return grid, jobs


def _pretrain_compute(examples, split, needed, **kwargs):
    return train_unit(examples, split, pretraining=True, keep_state=True, **kwargs)


def _downstream_compute(examples, split, needed, *, pre_name, n_init_classes, **kwargs):
    payload = train_unit(
        examples,
        split,
        init_state=None if pre_name is None else needed[pre_name]["state"],
        n_init_classes=n_init_classes,
        **kwargs,
    )
    payload["test_probabilities"] = None  # the 0/1 predictions suffice downstream; keeps units small
    return payload


def plan_from_params(
    cfg: Mapping[str, Any], prepared, splits, *, device
) -> tuple[list[Unit], dict[str, Job]]:
    """:func:`plan_units` with the profile's grid."""
    item = next(iter(prepared.values())).examples
    sweep = None
    if cfg["sweep_sizes"]:
        sweep = {
            "upstream": cfg["sweep_upstream"],
            "downstream": cfg["sweep_downstream"],
            "models": cfg["sweep_models"],
            "sizes": cfg["sweep_sizes"],
            "epochs": cfg["sweep_epochs"],
        }
    return plan_units(
        prepared,
        splits,
        models=cfg["models"],
        upstream=cfg["upstream"],
        downstream=cfg["downstream"],
        seeds=[derive_seed(cfg["seed"], "trial", k) for k in range(cfg["n_seeds"])],
        epochs=cfg["epochs"],
        pretrain_epochs=cfg["pretrain_epochs"],
        lr=cfg["lr"],
        batch_size=cfg["batch_size"],
        selection=cfg["selection"],
        device=device,
        model_kwargs={
            "n_leads": item.signals_mv.shape[2],
            "n_samples": item.signals_mv.shape[1],
            "rnn_head": cfg["rnn_head"],
            "rnn_hidden_size": cfg["rnn_hidden_size"],
            "rnn_dropout": cfg["rnn_dropout"],
        },
        sweep=sweep,
    )


def dataset_names(cfg: Mapping[str, Any]) -> list[str]:
    """Every dataset the profile reads: upstream, downstream, and the size sweep's two when it has sizes."""
    sweep = [cfg["sweep_upstream"], cfg["sweep_downstream"]] if cfg["sweep_sizes"] else []
    return list(dict.fromkeys([*cfg["upstream"], *cfg["downstream"], *sweep]))


#: LUDB records read on these machines (sizes of the stand-ins)
LUDB_N_RECORDS = 150


def stand_in_sizes(
    cfg: Mapping[str, Any], table1: Mapping[str, Mapping[str, int]]
) -> dict[str, tuple[int, int]]:
    """Dataset -> (records, labels) the profile would read: Table 1 (``reported.yaml``) for the public
    sets, LUDB's 150 records, ``sim_n_examples`` simulated records (5 labels each)."""
    sizes = {name: (row["train"] + row["test"], row["n_labels"]) for name, row in table1.items()}
    sizes.update({name: (LUDB_N_RECORDS, 5) for name in LUDB_SETS})
    sizes.update({name: (int(cfg["sim_n_examples"]), 5) for name in SIMULATED})
    return sizes


def _stand_in_split(n_train_part: int, n_test: int, val_fraction: float) -> Split:
    n_val = int(round(val_fraction * n_train_part))
    ids = np.arange(n_train_part + n_test, dtype=np.int64)
    return Split(
        train=ids[: n_train_part - n_val],
        val=ids[n_train_part - n_val : n_train_part],
        test=ids[n_train_part:],
    )


def stand_in_inputs(
    cfg: Mapping[str, Any], table1: Mapping[str, Mapping[str, int]]
) -> tuple[dict[str, Prepared], dict[str, list[Split]]]:
    """Shape-only stand-ins of the profile's datasets and splits, for :func:`plan_from_params` without data.

    Each set is index arrays of the size the profile implies (:func:`stand_in_sizes`; Table 1's
    train/test sizes for a hold-out of a public set, validation = ``val_fraction`` of the training
    part; ``n_folds`` consecutive folds for ``patient_kfold``) and zero-length signals of the
    profile's shape; its digest is its name. The grid (unit names, needs, epochs, sizes) is the
    profile's; the keys name no real data, so such units are for dry runs and cost models only
    (their ``compute`` cannot run).

    Parameters
    ----------
    cfg : the profile
    table1 : ``reported.yaml``'s ``table1`` (dataset -> n_labels, train, test)
    """
    sizes = stand_in_sizes(cfg, table1)
    n_samples = int(round(cfg["fs_hz"] * cfg["duration_s"]))
    prepared, splits = {}, {}
    for name in dataset_names(cfg):
        n, n_labels = sizes[name]
        stand_in = SimpleNamespace(  # what plan_from_params reads: the targets' and signals' shapes
            targets=np.zeros((n, n_labels), np.float32),
            signals_mv=np.zeros((0, n_samples, 12), np.float32),
        )
        prepared[name] = Prepared(name, stand_in, {}, "patient", digest=f"stand-in:{name}")
        if cfg["split_rule"] == "patient_kfold":
            folds = np.array_split(np.arange(n), cfg["n_folds"])
            splits[name] = [_stand_in_split(n - len(fold), len(fold), cfg["val_fraction"]) for fold in folds]
        elif name in table1:
            splits[name] = [_stand_in_split(table1[name]["train"], table1[name]["test"], cfg["val_fraction"])]
        else:
            n_test = int(round(cfg["test_fraction"] * n))
            splits[name] = [_stand_in_split(n - n_test, n_test, cfg["val_fraction"])]
    return prepared, splits


# --------------------------------------------------------------------------- aggregation


def results_table(jobs: Mapping[str, Job], payloads: Mapping[str, Any], splits) -> pd.DataFrame:
    """One row per downstream unit: the job, the training size, test weighted F1 and macro-AUC, best epoch."""
    rows = []
    for name, job in jobs.items():
        payload = payloads[name]
        split = splits[job.downstream][job.fold]
        rows.append(
            {
                "experiment": job.experiment,
                "arch": job.arch,
                "family": "CNN" if job.arch in CNNS else "RNN",
                "upstream": job.upstream,
                "downstream": job.downstream,
                "arm": job.arm,
                "seed": job.seed,
                "fold": job.fold,
                "n_train": len(split.train) if job.size is None else min(job.size, len(split.train)),
                "f1_weighted": payload["f1_weighted"],
                "auc_macro": payload["auc_macro"],
                "best_epoch": payload["best_epoch"],
                "unit": name,
            }
        )
    return pd.DataFrame(rows)


def paired_gains(results: pd.DataFrame, *, metric: str = "f1_weighted") -> pd.DataFrame:
    """Fine-tune minus scratch per (experiment, arch, upstream, downstream, seed, fold, n_train)."""
    scratch = results[results["arm"] == "scratch"].drop(columns=["upstream", "arm", "unit"])
    tuned = results[results["arm"] == "fine_tune"].drop(columns=["arm", "unit"])
    keys = ["experiment", "arch", "family", "downstream", "seed", "fold", "n_train"]
    merged = tuned.merge(scratch, on=keys, suffixes=("_fine_tune", "_scratch"))
    merged["gain"] = merged[f"{metric}_fine_tune"] - merged[f"{metric}_scratch"]
    return merged


def epochs_to_fraction(
    history: pd.DataFrame, *, column: str = "test_f1_weighted", fraction: float = 0.95
) -> int:
    """First epoch at which ``column`` reaches ``fraction`` of its maximum over the run."""
    values = history[column].to_numpy(dtype=np.float64)
    best = np.nanmax(values)
    if not np.isfinite(best) or best <= 0:
        return int(history["epoch"].iloc[-1])
    return int(history["epoch"].to_numpy()[np.flatnonzero(values >= fraction * best)[0]])


def convergence_table(jobs, payloads, *, fraction: float) -> pd.DataFrame:
    """Per main-grid downstream unit: epochs to reach ``fraction`` of its best per-epoch test F1 (at 0.5)."""
    rows = []
    for name, job in jobs.items():
        if job.experiment != "main":
            continue
        history = units.frame_from_payload(payloads[name]["history"])
        rows.append(
            {
                "arch": job.arch,
                "family": "CNN" if job.arch in CNNS else "RNN",
                "upstream": job.upstream,
                "downstream": job.downstream,
                "arm": job.arm,
                "seed": job.seed,
                "fold": job.fold,
                "epochs_to_fraction": epochs_to_fraction(history, fraction=fraction),
            }
        )
    return pd.DataFrame(rows)


def catch_up_epoch(curves: pd.DataFrame, *, tolerance: float = 0.01) -> float:
    """Median over (upstream, downstream) pairs of the first epoch from which the mean scratch test F1
    stays within ``tolerance`` of the mean fine-tune test F1 (NaN when it never does)."""
    epochs = []
    for _, pair in curves.groupby(["upstream", "downstream"]):
        mean = pair.groupby(["arm", "epoch"])["value"].mean().unstack("arm")
        if not {"fine_tune", "scratch"} <= set(mean.columns):
            continue
        behind = (mean["fine_tune"] - mean["scratch"]).to_numpy() > tolerance
        last_behind = np.flatnonzero(behind)
        epoch_index = mean.index.to_numpy()
        if not len(last_behind):
            epochs.append(float(epoch_index[0]))
        elif last_behind[-1] + 1 < len(epoch_index):
            epochs.append(float(epoch_index[last_behind[-1] + 1]))
    return float(np.median(epochs)) if epochs else float("nan")


def epoch_curve_table(jobs, payloads, *, arch: str, column: str = "test_f1_weighted") -> pd.DataFrame:
    """Long per-epoch curves (epoch, value, series, panel, upstream, downstream, arm) of one architecture."""
    frames = []
    for name, job in jobs.items():
        if job.experiment != "main" or job.arch != arch:
            continue
        history = units.frame_from_payload(payloads[name]["history"])
        frames.append(
            pd.DataFrame(
                {
                    "epoch": history["epoch"],
                    "value": history[column],
                    "arm": job.arm,
                    "downstream": job.downstream,
                    "upstream": job.upstream,
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["epoch", "value", "series", "panel", "upstream", "downstream", "arm"])
    curves = pd.concat(frames, ignore_index=True)
    tuned_sources = sorted(set(curves.loc[curves["arm"] == "fine_tune", "upstream"]))
    # a scratch run belongs to every (upstream -> downstream) panel of its downstream set
    scratch = curves[curves["arm"] == "scratch"]
    curves = pd.concat(
        [curves[curves["arm"] == "fine_tune"]]
        + [scratch.assign(upstream=source) for source in tuned_sources],
        ignore_index=True,
    )
    curves["series"] = curves["arm"].map({"fine_tune": "fine-tune", "scratch": "scratch"})
    curves["panel"] = curves["upstream"] + " -> " + curves["downstream"]
    return curves


def paired_bootstrap(jobs, payloads, prepared, splits, *, n_rounds: int, seed: int) -> pd.DataFrame:
    """Fine-tune minus scratch weighted F1 on each test set, with a paired bootstrap 95 % CI.

    Per (arch, upstream, downstream) of the main grid: every test example's 0/1 predictions of both
    arms (pooled over the folds, which together test each example once, and stacked over seeds);
    examples are resampled together and the difference is the mean over seeds of F1(fine-tune) -
    F1(scratch). The prevalence baseline ("always the training part's most frequent label") is shown beside.
    """
    stacks: dict[tuple, dict[str, dict[int, list]]] = {}
    sources: dict[str, list[str]] = {}
    for job in jobs.values():
        if job.experiment == "main" and job.arm == "fine_tune":
            sources.setdefault(job.downstream, [])
            if job.upstream not in sources[job.downstream]:
                sources[job.downstream].append(job.upstream)
    for name, job in jobs.items():
        if job.experiment != "main":
            continue
        split = splits[job.downstream][job.fold]
        for source in [job.upstream] if job.arm == "fine_tune" else sources.get(job.downstream, []):
            entry = stacks.setdefault((job.arch, source, job.downstream), {"fine_tune": {}, "scratch": {}})
            entry[job.arm].setdefault(job.seed, []).append(
                (split.test, payloads[name]["test_predictions"].numpy())
            )
    rows = []
    for (arch, source, target), arms in sorted(stacks.items()):
        seeds = sorted(set(arms["fine_tune"]) & set(arms["scratch"]))
        if not seeds:
            continue
        targets = prepared[target].examples.targets

        def pooled(parts):
            order = np.concatenate([indices for indices, _ in parts])
            return order, np.concatenate([predicted for _, predicted in parts])

        order, _ = pooled(arms["fine_tune"][seeds[0]])
        tuned = np.stack([pooled(arms["fine_tune"][s])[1] for s in seeds], axis=1)  # (n, n_seeds, n_labels)
        scratch = np.stack([pooled(arms["scratch"][s])[1] for s in seeds], axis=1)
        y = targets[order]

        def difference(y_true, a, b):
            return float(
                np.mean(
                    [
                        metrics.f1_weighted(y_true, a[:, s]) - metrics.f1_weighted(y_true, b[:, s])
                        for s in range(a.shape[1])
                    ]
                )
            )

        ci = stats.bootstrap_ci(
            (y, tuned, scratch),
            difference,
            n_rounds=n_rounds,
            seed=derive_seed(seed, "bootstrap", arch, source, target),
        )
        majority = np.zeros_like(y)
        majority[:, int(np.argmax(targets.sum(axis=0)))] = 1
        rows.append(
            {
                "arch": arch,
                "upstream": source,
                "downstream": target,
                "n_test": len(y),
                "n_seeds": len(seeds),
                "f1_fine_tune": float(
                    np.mean([metrics.f1_weighted(y, tuned[:, s]) for s in range(len(seeds))])
                ),
                "f1_scratch": float(
                    np.mean([metrics.f1_weighted(y, scratch[:, s]) for s in range(len(seeds))])
                ),
                "gain": ci.estimate,
                "ci_low": ci.lower,
                "ci_high": ci.upper,
                "f1_majority_label_baseline": metrics.f1_weighted(y, majority),
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- claims

CLAIMS_MAIN = (
    claims.greater(
        "1a. Fine-tuning beats scratch on small downstream sets",
        "it significantly improved the model's performance on Ribeiro and PTB, the two small downstream datasets",
        a="small.fine_tune",
        b="small.scratch",
        test="paired_t",
        condition_label="{}",
    ),
    claims.greater(
        "1b. ... but not consistently (some model x pair where scratch is as good or better)",
        "transfer learning does not consistently outperform training from scratch",
        a="n_cells_scratch_not_worse",
        b="zero",
        test=None,
        digits=0,
    ),
    claims.greater(
        "3a. Fine-tuning converges faster (fewer epochs to 95 % of the best test F1)",
        "fine-tuning can accelerate convergence",
        a="epochs_to_95.scratch",
        b="epochs_to_95.fine_tune",
        test="paired_t",
        significance_claimed=False,
    ),
    claims.within(
        "3b. Scratch catches up after about 30-35 epochs",
        "it took approximately 30-35 epochs to do so",
        ours="catch_up_epoch",
        paper="numbers.catch_up_epoch",
        tolerance=5.0,
        digits=1,
        requires=(claims.gate("catch_up_measured", "scratch never caught up within this run's epochs"),),
    ),
    claims.greater(
        "4. Transfer works better with CNNs than with RNNs (gain CNN > gain RNN)",
        "fine-tuning demonstrates greater effectiveness with CNNs than with RNNs",
        a="gain.CNN",
        b="gain.RNN",
        test="welch",
        significance_claimed=False,
    ),
)
#: claim 2 is evaluated on the size sweep's data source (simulated in the local profile, labelled as such)
CLAIMS_SWEEP = (
    claims.correlated(
        "2a. The gain fades with downstream training size",
        "the improvement from fine-tuning declines when the downstream dataset grows",
        x="sweep.size",
        y="sweep.gain",
        sign=-1,
    ),
    claims.within(
        "2b. Parity near 6,000 training samples",
        "training from scratch gradually reached comparable performance when the size reached 6000 samples",
        ours="sweep.parity_size",
        paper="numbers.parity_size",
        tolerance=2000.0,
        digits=0,
    ),
)
CLAIMS = CLAIMS_MAIN + CLAIMS_SWEEP


def claim_results(
    results: pd.DataFrame,
    convergence: pd.DataFrame,
    curves: pd.DataFrame,
    *,
    small_max_train: int,
    parity_tolerance: float = 0.005,
) -> dict:
    """The numbers :data:`CLAIMS` name, from the result table, the convergence table and the ResNet curves."""
    gains = paired_gains(results)
    main, sweep = gains[gains["experiment"] == "main"], gains[gains["experiment"] == "size_sweep"]
    order = ["downstream", "arch", "upstream", "seed", "fold"]
    main = main.sort_values(order)
    small = main[main["n_train"] <= small_max_train]
    cells = main.groupby(["arch", "upstream", "downstream"])[
        ["f1_weighted_fine_tune", "f1_weighted_scratch"]
    ].mean()
    conv = convergence.pivot_table(
        index=["arch", "downstream", "seed", "fold"],
        columns="arm",
        values="epochs_to_fraction",
        aggfunc="mean",
    ).dropna()
    catch_up = catch_up_epoch(curves) if len(curves) else float("nan")
    sweep_mean = sweep.groupby("n_train")["gain"].mean().sort_index()
    at_parity = sweep_mean.index[sweep_mean.to_numpy() <= parity_tolerance]
    return {
        "small": {
            "fine_tune": {t: g["f1_weighted_fine_tune"].to_numpy() for t, g in small.groupby("downstream")},
            "scratch": {t: g["f1_weighted_scratch"].to_numpy() for t, g in small.groupby("downstream")},
        },
        "n_cells_scratch_not_worse": int(
            (cells["f1_weighted_scratch"] >= cells["f1_weighted_fine_tune"]).sum()
        )
        if len(cells)
        else None,
        "zero": 0,
        "epochs_to_95": {
            "fine_tune": conv.get("fine_tune", pd.Series(dtype=float)).to_numpy(),
            "scratch": conv.get("scratch", pd.Series(dtype=float)).to_numpy(),
        },
        "catch_up_epoch": None if not np.isfinite(catch_up) else catch_up,
        "catch_up_measured": bool(np.isfinite(catch_up)),
        "gain": {family: group["gain"].to_numpy() for family, group in main.groupby("family")}
        | {family: np.zeros(0) for family in ("CNN", "RNN") if family not in set(main["family"])},
        "sweep": {
            "size": sweep["n_train"].to_numpy(dtype=float),
            "gain": sweep["gain"].to_numpy(),
            "parity_size": float(at_parity[0]) if len(at_parity) else None,
        },
    }


def verdict(
    results_for_claims: Mapping[str, Any], *, reported, main_source: str, sweep_source: str
) -> pd.DataFrame:
    """One verdict table: claims 1, 3, 4 on the main grid's data, claim 2 on the size sweep's (named in the note)."""
    main = claims.evaluate(CLAIMS_MAIN, results_for_claims, reported=reported, data_source=main_source)
    sweep = claims.evaluate(CLAIMS_SWEEP, results_for_claims, reported=reported, data_source=sweep_source)
    note = f"size sweep on {sweep_source}" + (" (simulated)" if is_synthetic(sweep_source) else "")
    sweep["note"] = [f"{note}. {text}".strip() if text else note for text in sweep["note"]]
    return pd.concat([main, sweep], ignore_index=True)
