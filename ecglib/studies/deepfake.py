""" "Comprehensive ECG analysis with deep learning": HR, PR, QRS and QT regressed from 8-lead ECGs,
pre-trained on GAN ECGs and fine-tuned on real ECGs (the DeepFake study).

Glue for ``notebooks/deepfake.ipynb``: the pre-training set (GAN ECGs with targets from
:mod:`ecglib.intervals` after a quality gate, or the DeepFake dataset's MUSE values), the
fine-tuning set (simulated ECGs with exact intervals, LUDB with targets from the cardiologists'
delineation, or PTB-XL normal ECGs with PTB-XL+ 12SL targets), the seven experiments as the
paper lists them (:data:`EXPERIMENTS`), the error tables (MAE, RMSE, MSE beside the
mean-predictor baseline and each target's variance), the transfer gain, the measurement floor
and the verdict. Models live in :mod:`ecglib.models` (``fc_regressor``, ``interval_resnet``,
``vit1d``); the training loop is :func:`ecglib.train.fit`.

The experiments are cached units (:mod:`ecglib.units`, :func:`plan_units`): one per pre-training
experiment (1, 2, 5), one per fine-tuning experiment (3, 4, 6, 7) and fold, and the final model;
the notebook runs the missing ones (:func:`ecglib.units.run_units`) and aggregates their payloads
(:func:`results_from_payloads`); ``ecglib plan deepfake`` and ``workflow/Snakefile`` run the same
units as cluster jobs (:func:`plan_from_params`, :func:`stand_in_inputs` without the data).

Functions take explicit keywords; only the ``*_from_params`` adaptors read a profile.

Selection rule: every model keeps the epoch with the lowest validation loss; errors are
reported on a held-out test split (pre-training) or on the held-out folds (fine-tuning). The
test split is never passed to training. ``report_split="validation_minimum_as_in_paper"``
reports the validation errors at that minimum instead, as the authors did (labelled; their
validation minimum was also their early-stopping criterion).

Targets are standardised with the training split's mean and SD for training (errors are always
reported in bpm and ms). With ``per_target=True`` (the authors' code) each target has its own
network trained on the ECGs where that target exists, so a NaN PR (no P wave) drops the ECG from
the PR network only; with one four-output head, ECGs with any NaN target are dropped from training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ecglib import claims, preprocess, train, units
from ecglib.data import LabelledSet
from ecglib.data.splits import Split, patient_kfold, patient_split
from ecglib.models import make_model
from ecglib.seeds import derive_seed
from ecglib.units import Unit

TARGETS: tuple[str, ...] = ("hr_bpm", "pr_ms", "qrs_ms", "qt_ms")
TARGET_TITLES = {
    "hr_bpm": "Heart Rate",
    "pr_ms": "PR Interval",
    "qrs_ms": "QRS Duration",
    "qt_ms": "QT Interval",
}
TARGET_UNITS = {"hr_bpm": "bpm", "pr_ms": "ms", "qrs_ms": "ms", "qt_ms": "ms"}
EIGHT_LEADS: tuple[str, ...] = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
MODELS: tuple[str, ...] = ("fc", "resnet", "vit")
MODEL_FAMILIES = {"fc": "fc_regressor", "resnet": "interval_resnet", "vit": "vit1d"}
MODEL_TITLES = {"fc": "Fully connected", "resnet": "ResNet", "vit": "ViT"}
LOSSES = ("mae", "mse")
REPORT_SPLITS = ("test", "validation_minimum_as_in_paper")
PRETRAIN_SOURCES = ("deepfake-gan", "deepfake")
FINETUNE_SOURCES = ("sim-chapman", "ludb", "ptbxl-plus")
GATE_COLUMNS = ("target", "measured", "failed", "implausible", "kept")


@dataclass(frozen=True)
class Experiment:
    """One of the paper's seven experiments: a model trained on a data set from an initialisation."""

    number: int
    model: str
    dataset: str  # "pretrain" (GAN / DeepFake; the paper's DeepFake-small) or "finetune" (the paper's PTB-XL)
    init: str  # "scratch" or "transfer" (from the same model's pre-training experiment)
    title: str


#: the paper's section 4 list, in its order
EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment(1, "fc", "pretrain", "scratch", "Baseline FC on the pre-training ECGs"),
    Experiment(2, "resnet", "pretrain", "scratch", "ResNet on the pre-training ECGs"),
    Experiment(3, "resnet", "finetune", "scratch", "ResNet on the fine-tuning ECGs from scratch"),
    Experiment(4, "resnet", "finetune", "transfer", "ResNet on the fine-tuning ECGs after transfer"),
    Experiment(5, "vit", "pretrain", "scratch", "ViT on the pre-training ECGs"),
    Experiment(6, "vit", "finetune", "scratch", "ViT on the fine-tuning ECGs from scratch"),
    Experiment(7, "vit", "finetune", "transfer", "ViT on the fine-tuning ECGs after transfer"),
)

#: table -> (column title, experiment number, key of the paper's column in reported.yaml)
PAPER_TABLES: dict[str, tuple[tuple[str, int, str], ...]] = {
    "table1": (("FC, DeepFake-small", 1, "fc_deepfake"),),
    "table2": (
        ("ResNet, DeepFake-small", 2, "resnet_deepfake"),
        ("ResNet, fine-tuning set, scratch", 3, "resnet_ptbxl"),
    ),
    "table3": (
        ("ResNet, fine-tuning set, before transfer", 3, "resnet_ptbxl"),
        ("ResNet, fine-tuning set, after transfer", 4, "resnet_transfer"),
    ),
    "table4": (("ViT, DeepFake-small", 5, "vit_deepfake"), ("ViT, fine-tuning set, scratch", 6, "vit_ptbxl")),
    "table5": (
        ("FC, DeepFake", 1, "fc_deepfake"),
        ("ResNet, DeepFake", 2, "resnet_deepfake"),
        ("ViT, DeepFake", 5, "vit_deepfake"),
        ("ResNet, fine-tuning set", 3, "resnet_ptbxl"),
        ("ViT, fine-tuning set", 6, "vit_ptbxl"),
        ("ResNet, fine-tuning set, transfer", 4, "resnet_transfer"),
        ("ViT, fine-tuning set, transfer", 7, "vit_transfer"),
    ),
}


def experiment(number: int) -> Experiment:
    """The experiment numbered ``number`` (1-7)."""
    for item in EXPERIMENTS:
        if item.number == number:
            return item
    raise KeyError(f"no experiment {number}; the paper lists 1-{len(EXPERIMENTS)}")


def pretraining_experiment(model: str) -> Experiment:
    """The experiment whose weights ``model``'s transfer experiment starts from."""
    return next(e for e in EXPERIMENTS if e.model == model and e.dataset == "pretrain")


# --------------------------------------------------------------------------- data


@dataclass
class IntervalSet:
    """ECGs with interval targets (NaN where a target does not exist or was gated out).

    Attributes
    ----------
    signals_mv : ndarray of shape (n, n_samples, 8), float32, millivolts, leads :data:`EIGHT_LEADS`
    targets : ndarray of shape (n, 4), float64, :data:`TARGETS` order (bpm, ms, ms, ms)
    patient_ids : ndarray of shape (n,), str
    fs_hz : sampling rate
    source : dataset name
    gate : DataFrame with :data:`GATE_COLUMNS` (what the quality gate did per target), or empty
    exclusions : reason -> ECGs dropped
    """

    signals_mv: np.ndarray
    targets: np.ndarray
    patient_ids: np.ndarray
    fs_hz: float
    source: str
    gate: pd.DataFrame = field(default_factory=pd.DataFrame)
    exclusions: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.signals_mv)

    def subset(self, rows: np.ndarray) -> IntervalSet:
        """The ECGs at ``rows`` (same gate and exclusions)."""
        return IntervalSet(
            self.signals_mv[rows],
            self.targets[rows],
            self.patient_ids[rows],
            self.fs_hz,
            self.source,
            self.gate,
            dict(self.exclusions),
        )


def quality_gate(
    targets: np.ndarray, *, plausible_ranges: Mapping[str, Sequence[float]]
) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """Drop failed and implausible measurements: targets outside their range become NaN.

    Parameters
    ----------
    targets : array of shape (n, 4), :data:`TARGETS` order; NaN = the measurement failed
    plausible_ranges : target -> (low, high), inclusive, in the target's units

    Returns
    -------
    gated : array of shape (n, 4), float64, NaN where failed or implausible
    counts : DataFrame with :data:`GATE_COLUMNS`, one row per target: measured (n), failed (NaN),
        implausible (outside the range), kept
    keep : bool array of shape (n,): ECGs with at least one target left (the others are dropped)
    """
    targets = np.asarray(targets, dtype=np.float64)
    if targets.ndim != 2 or targets.shape[1] != len(TARGETS):
        raise ValueError(f"targets must have shape (n, {len(TARGETS)}), got {targets.shape}")
    missing = [name for name in TARGETS if name not in plausible_ranges]
    if missing:
        raise ValueError(f"plausible_ranges lacks {missing}")
    gated = targets.copy()
    rows = []
    for column, name in enumerate(TARGETS):
        low, high = plausible_ranges[name]
        values = targets[:, column]
        failed = ~np.isfinite(values)
        implausible = ~failed & ((values < low) | (values > high))
        gated[implausible, column] = np.nan
        rows.append(
            {
                "target": name,
                "measured": len(values),
                "failed": int(failed.sum()),
                "implausible": int(implausible.sum()),
                "kept": int((~failed & ~implausible).sum()),
            }
        )
    keep = np.isfinite(gated).any(axis=1)
    return gated, pd.DataFrame(rows, columns=list(GATE_COLUMNS)), keep


def _gated_set(labelled: LabelledSet, targets: np.ndarray, plausible_ranges, source: str) -> IntervalSet:
    gated, counts, keep = quality_gate(targets, plausible_ranges=plausible_ranges)
    exclusions = dict(labelled.exclusions)
    if (~keep).any():
        exclusions["no target left after the quality gate"] = int((~keep).sum())
    signals_mv = preprocess.select_leads(labelled.signals_mv, labelled.lead_names, EIGHT_LEADS)
    return IntervalSet(
        signals_mv[keep].astype(np.float32),
        gated[keep],
        np.asarray(labelled.patient_ids)[keep],
        float(labelled.fs_hz),
        source,
        counts,
        exclusions,
    )


def pretraining_set(
    source: str,
    *,
    n_ecgs: int,
    seed: int,
    plausible_ranges: Mapping[str, Sequence[float]],
    device: str | torch.device = "cpu",
    data_root=None,
) -> IntervalSet:
    """The pre-training ECGs after the quality gate.

    ``deepfake-gan``: ``n_ecgs`` generated ECGs (:func:`ecglib.data.deepfake_gan.load_labelled`,
    targets measured by :mod:`ecglib.intervals`, global definition, cached); ``deepfake``: the
    first ``n_ecgs`` ECGs of the DeepFake dataset with their MUSE targets. Failed or
    implausible measurements are gated out per target (:func:`quality_gate`).
    """
    if source == "deepfake-gan":
        from ecglib.data import deepfake_gan

        labelled = deepfake_gan.load_labelled(
            n_ecgs, seed=seed, device=device, drop_unmeasurable=False, progress=False
        )
    elif source == "deepfake":
        from ecglib.data import deepfake

        labelled = deepfake.load_labelled(data_root, limit=n_ecgs)
    else:
        raise ValueError(f"pretrain_source must be one of {PRETRAIN_SOURCES}, got {source!r}")
    targets = _targets_in_order(labelled)
    return _gated_set(labelled, targets, plausible_ranges, source)


def _targets_in_order(labelled: LabelledSet) -> np.ndarray:
    names = list(labelled.target_names)
    missing = [name for name in TARGETS if name not in names]
    if missing:
        raise ValueError(f"{labelled.source}: targets {missing} missing (has {names})")
    return np.asarray(labelled.targets, dtype=np.float64)[:, [names.index(name) for name in TARGETS]]


def simulated_finetuning_set(
    *, n_ecgs: int, seed: int, snr_db: float, plausible_ranges: Mapping[str, Sequence[float]]
) -> IntervalSet:
    """``sim-chapman`` ECGs (8 leads) with their exact intervals (the simulator's ground truth).

    PR is NaN for rhythms without P waves (atrial fibrillation, flutter).
    """
    from ecglib.data import simulated

    sim = simulated.simulate("sim-chapman", n_ecgs, seed=seed, snr_db=snr_db, leads=list(EIGHT_LEADS))
    targets = sim.intervals[list(TARGETS)].to_numpy(dtype=np.float64)
    return _gated_set(sim.labelled, targets, plausible_ranges, "sim-chapman")


def ludb_finetuning_set(
    *, record_ids: Sequence[str] | None, definition: str, plausible_ranges, data_root=None, use_cache=False
) -> IntervalSet:
    """LUDB records (8 leads, mV) with targets from the cardiologists' delineation.

    Targets: :func:`ecglib.data.ludb.interval_targets` (``definition`` "global": per beat the
    earliest onset to the latest offset over the 12 annotated leads, as MUSE and 12SL measure).
    Every record is its own patient. ``use_cache``: the targets table is kept in the disk cache
    (:func:`ecglib.data.ludb.interval_targets_table`), so a unit job does not measure it again.
    """
    from ecglib.data import ludb

    record_ids = ludb.list_records(data_root) if record_ids is None else [str(r) for r in record_ids]
    table = ludb.interval_targets_table(record_ids, data_root, definition=definition, use_cache=use_cache)
    signals = []
    for record_id in record_ids:
        record = ludb.load_record(record_id, data_root)
        signals.append(preprocess.select_leads(record.signal_mv, record.lead_names, EIGHT_LEADS))
    labelled = LabelledSet(
        signals_mv=np.stack(signals).astype(np.float32),
        targets=table[list(TARGETS)].to_numpy(dtype=np.float32),
        patient_ids=np.array(record_ids),
        fs_hz=ludb.FS_HZ,
        lead_names=EIGHT_LEADS,
        target_names=TARGETS,
        task="regression",
        source="ludb",
    )
    return _gated_set(labelled, labelled.targets, plausible_ranges, "ludb")


def ptbxl_finetuning_set(*, plausible_ranges, limit: int | None = None, data_root=None) -> IntervalSet:
    """PTB-XL normal ECGs (superclass set exactly {NORM}, parsed from ``scp_codes``), 500 Hz, 8 leads,
    with PTB-XL+ 12SL global intervals (:func:`ecglib.data.ptbxl_plus.load_labelled`)."""
    from ecglib.data import ptbxl_plus

    labelled = ptbxl_plus.load_labelled(data_root, 500, lead_names=EIGHT_LEADS, normal_only=True, limit=limit)
    return _gated_set(labelled, _targets_in_order(labelled), plausible_ranges, "ptbxl-plus")


def check_data_present(pretrain_source: str, finetune_source: str, *, data_root=None) -> None:
    """Fail at once, before generating or training anything, when a public dataset is absent.

    Raises
    ------
    DataMissingError
        naming the folder and ``ecglib data download <name>``.
    """
    if pretrain_source == "deepfake":
        from ecglib.data import deepfake

        deepfake.folder(data_root)
    if finetune_source == "ptbxl-plus":
        from ecglib.data import ptbxl, ptbxl_plus

        ptbxl.folder(data_root)
        ptbxl_plus.folder(data_root)
    elif finetune_source == "ludb":
        from ecglib.data import ludb

        ludb.list_records(data_root)


def to_model_input(signals_mv: np.ndarray, *, fs_hz: float, model_fs_hz: float) -> np.ndarray:
    """Signals ``(n, n_samples, n_leads)`` in mV resampled (anti-aliased) to ``model_fs_hz``, float32."""
    if float(fs_hz) == float(model_fs_hz):
        return np.ascontiguousarray(signals_mv, dtype=np.float32)
    return np.stack([preprocess.resample(s, fs_hz, model_fs_hz) for s in signals_mv]).astype(np.float32)


def pretraining_from_params(cfg: Mapping[str, Any], *, device, data_root=None) -> IntervalSet:
    """:func:`pretraining_set` with a profile's keys."""
    check_data_present(cfg["pretrain_source"], cfg["data_source"], data_root=data_root)
    return pretraining_set(
        cfg["pretrain_source"],
        n_ecgs=cfg["pretrain_n_ecgs"],
        seed=derive_seed(cfg["seed"], "pretraining-ecgs"),
        plausible_ranges=cfg["plausible_ranges"],
        device=device,
        data_root=data_root,
    )


def finetuning_from_params(cfg: Mapping[str, Any], *, data_root=None) -> IntervalSet:
    """The fine-tuning set of a profile (``data_source``)."""
    source = cfg["data_source"]
    check_data_present(cfg["pretrain_source"], source, data_root=data_root)
    if source == "sim-chapman":
        return simulated_finetuning_set(
            n_ecgs=cfg["finetune_n_ecgs"],
            seed=derive_seed(cfg["seed"], "finetuning-ecgs"),
            snr_db=cfg["sim_snr_db"],
            plausible_ranges=cfg["plausible_ranges"],
        )
    if source == "ludb":
        return ludb_finetuning_set(
            record_ids=cfg["ludb_records"],
            definition=cfg["target_definition"],
            plausible_ranges=cfg["plausible_ranges"],
            data_root=data_root,
            use_cache=cfg["use_cache"],
        )
    if source == "ptbxl-plus":
        return ptbxl_finetuning_set(
            plausible_ranges=cfg["plausible_ranges"], limit=cfg["finetune_n_ecgs"], data_root=data_root
        )
    raise ValueError(f"data_source must be one of {FINETUNE_SOURCES}, got {source!r}")


# --------------------------------------------------------------------------- splits


def pretraining_split(
    patient_ids: np.ndarray, *, val_fraction: float, test_fraction: float, seed: int
) -> Split:
    """Train / validation / test of the pre-training ECGs (each ECG its own subject)."""
    return patient_split(patient_ids, test_fraction=test_fraction, val_fraction=val_fraction, seed=seed)


def finetuning_folds(
    patient_ids: np.ndarray,
    *,
    protocol: str,
    n_folds: int,
    val_fraction: float,
    test_fraction: float,
    seed: int,
) -> list[Split]:
    """The fine-tuning splits, patient-wise.

    ``protocol="cv"``: ``n_folds`` folds; fold k tests on the k-th group of patients and takes
    ``val_fraction`` of the remaining patients for validation (selection). ``"split"``: one
    train / validation / test split (the paper's PTB-XL 80/10/10, by patient).
    """
    patient_ids = np.asarray(patient_ids)
    if protocol == "split":
        return [patient_split(patient_ids, test_fraction=test_fraction, val_fraction=val_fraction, seed=seed)]
    if protocol != "cv":
        raise ValueError(f"finetune_protocol must be 'cv' or 'split', got {protocol!r}")
    fold_of = patient_kfold(patient_ids, n_folds=n_folds, seed=seed)
    folds = []
    for fold in range(n_folds):
        test = np.flatnonzero(fold_of == fold)
        rest = np.flatnonzero(fold_of != fold)
        inner = patient_split(
            patient_ids[rest],
            test_fraction=val_fraction,
            val_fraction=0.0,
            seed=derive_seed(seed, "fold", fold),
        )
        folds.append(Split(train=rest[inner.train], val=rest[inner.test], test=test))
    return folds


# --------------------------------------------------------------------------- models


def model_kwargs(model: str, sizes: Mapping[str, Any], *, n_samples: int, per_target: bool) -> dict[str, Any]:
    """Constructor arguments of ``model`` ("fc", "resnet", "vit") from ``sizes`` (profile keys).

    ``sizes`` holds ``fc_hidden_features``; ``resnet_stem_channels``, ``resnet_block_channels``,
    ``resnet_block_kernel_size``, ``resnet_n_blocks``; ``vit_patch_size``, ``vit_dim``,
    ``vit_depth``, ``vit_heads``, ``vit_mlp_dim``, ``vit_attention_scale``.
    """
    common = {"n_leads": len(EIGHT_LEADS), "n_outputs": len(TARGETS), "per_target": bool(per_target)}
    if model == "fc":
        return {**common, "n_samples": n_samples, "hidden_features": tuple(sizes["fc_hidden_features"])}
    if model == "resnet":
        return {
            **common,
            "stem_channels": tuple(sizes["resnet_stem_channels"]),
            "block_channels": sizes["resnet_block_channels"],
            "block_kernel_size": sizes["resnet_block_kernel_size"],
            "n_blocks": sizes["resnet_n_blocks"],
        }
    if model == "vit":
        return {
            **common,
            "n_samples": n_samples,
            "patch_size": sizes["vit_patch_size"],
            "dim": sizes["vit_dim"],
            "depth": sizes["vit_depth"],
            "n_heads": sizes["vit_heads"],
            "mlp_dim": sizes["vit_mlp_dim"],
            "attention_scale": sizes["vit_attention_scale"],
        }
    raise ValueError(f"model must be one of {MODELS}, got {model!r}")


def model_sizes(kwargs_by_model: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Trainable parameters of each model as built (all targets together), with its settings."""
    from ecglib.transfer import count_parameters

    rows = []
    for model, kwargs in kwargs_by_model.items():
        built = make_model(MODEL_FAMILIES[model], seed=0, **kwargs)
        settings = {k: v for k, v in kwargs.items() if k not in ("n_leads", "n_outputs")}
        rows.append(
            {
                "model": model,
                "family": MODEL_FAMILIES[model],
                "trainable_parameters": count_parameters(built)[0],
                "settings": ", ".join(f"{k}={v}" for k, v in settings.items()),
            }
        )
    return pd.DataFrame(rows)


def make_loss(name: str) -> nn.Module:
    """The training loss: ``"mae"`` (L1, the paper's word; default) or ``"mse"`` (the authors' code)."""
    if name == "mae":
        return nn.L1Loss()
    if name == "mse":
        return nn.MSELoss()
    raise ValueError(f"loss must be one of {LOSSES}, got {name!r}")


# --------------------------------------------------------------------------- training


@dataclass(frozen=True)
class TrainSettings:
    """How every model is trained (the same for all seven experiments unless stated)."""

    epochs: int
    lr: float
    batch_size: int
    optimizer: str
    weight_decay: float
    early_stopping_patience: int | None
    loss: str
    report_split: str
    finetune_lr: float


@dataclass
class Trained:
    """A trained model: its state, its per-target standardisation, best epochs and histories."""

    state_dict: dict[str, torch.Tensor]
    target_mean: np.ndarray
    target_std: np.ndarray
    best_epochs: list[int]
    histories: list[pd.DataFrame]


def _standardise(values: np.ndarray) -> tuple[float, float]:
    mean = float(np.mean(values))
    std = float(np.std(values))
    return mean, std if std > 0 else 1.0


def _finite_rows(targets: np.ndarray, index: np.ndarray, columns: list[int]) -> np.ndarray:
    """The rows of ``index`` whose targets in ``columns`` are all finite (NaN targets dropped per target)."""
    return index[np.isfinite(targets[index][:, columns]).all(axis=1)]


def _submodels(model: nn.Module, per_target: bool) -> list[nn.Module]:
    return list(model.models) if per_target else [model]


def train_model(
    model: str,
    kwargs: Mapping[str, Any],
    signals: np.ndarray,
    targets: np.ndarray,
    split: Split,
    *,
    settings: TrainSettings,
    seed: int,
    device,
    init_state: Mapping[str, torch.Tensor] | None = None,
    lr: float | None = None,
) -> Trained:
    """Train ``model`` on ``split.train``, keeping the lowest validation loss (``split.val``).

    The test split is never passed to training. Per target (``kwargs["per_target"]``) each
    network sees only the rows where its target is finite; a four-output head sees rows with
    every target finite.

    Parameters
    ----------
    signals : array of shape (n, n_samples, 8), model input
    targets : array of shape (n, 4), NaN where missing
    init_state : weights to start from (transfer), same architecture
    lr : learning rate (default ``settings.lr``)
    """
    per_target = bool(kwargs["per_target"])
    built = make_model(MODEL_FAMILIES[model], seed=derive_seed(seed, "init", model), **kwargs)
    if init_state is not None:
        built.load_state_dict(init_state)
    columns = [[k] for k in range(len(TARGETS))] if per_target else [list(range(len(TARGETS)))]
    means, stds, best_epochs, histories = np.zeros(len(TARGETS)), np.ones(len(TARGETS)), [], []
    for part, (submodel, cols) in enumerate(zip(_submodels(built, per_target), columns)):
        train_rows, val_rows = (
            _finite_rows(targets, split.train, cols),
            _finite_rows(targets, split.val, cols),
        )
        if len(train_rows) < 2 or len(val_rows) < 1:
            raise ValueError(
                f"{model} target(s) {[TARGETS[c] for c in cols]}: {len(train_rows)} training and "
                f"{len(val_rows)} validation ECGs with a finite target; need at least 2 and 1"
            )
        for c in cols:
            means[c], stds[c] = _standardise(targets[train_rows, c])
        scaled = (targets[:, cols] - means[cols]) / stds[cols]
        result = train.fit(
            submodel,
            (signals[train_rows], scaled[train_rows]),
            (signals[val_rows], scaled[val_rows]),
            task="regression",
            epochs=settings.epochs,
            lr=lr or settings.lr,
            batch_size=settings.batch_size,
            seed=derive_seed(seed, "fit", model, part),
            device=device,
            optimizer=settings.optimizer,
            weight_decay=settings.weight_decay,
            early_stopping_patience=settings.early_stopping_patience,
            loss_fn=make_loss(settings.loss),
            progress=False,
            label=f"{model}-{part}",
        )
        submodel.load_state_dict(result.best_state_dict)
        best_epochs.append(int(result.best_epoch))
        histories.append(result.history.assign(part=part))
    state = {key: value.detach().cpu().clone() for key, value in built.state_dict().items()}
    return Trained(state, means, stds, best_epochs, histories)


def predict_targets(
    model: str,
    kwargs: Mapping[str, Any],
    trained: Trained,
    signals: np.ndarray,
    *,
    device,
    batch_size: int = 64,
) -> np.ndarray:
    """Predictions of shape (n, 4) in bpm and ms."""
    built = make_model(MODEL_FAMILIES[model], seed=0, **kwargs)
    built.load_state_dict(trained.state_dict)
    outputs = train.predict(built, signals, batch_size=batch_size, device=device)
    return outputs.reshape(len(signals), -1) * trained.target_std + trained.target_mean


def reported_rows(split: Split, report_split: str) -> np.ndarray:
    """The rows whose errors are reported: the held-out test split, or (labelled option) validation."""
    if report_split == "test":
        return split.test
    if report_split == "validation_minimum_as_in_paper":
        return split.val
    raise ValueError(f"report_split must be one of {REPORT_SPLITS}, got {report_split!r}")


def _prediction_rows(
    number: int, fold: int, rows: np.ndarray, ids, truth: np.ndarray, predicted: np.ndarray, baseline
) -> pd.DataFrame:
    frames = []
    for column, name in enumerate(TARGETS):
        frames.append(
            pd.DataFrame(
                {
                    "experiment": number,
                    "fold": fold,
                    "row": rows,
                    "patient_id": np.asarray(ids)[rows],
                    "target": name,
                    "true": truth[rows, column],
                    "predicted": predicted[:, column],
                    "baseline": baseline[column],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@dataclass
class ExperimentResults:
    """Everything the seven experiments produced.

    ``predictions``: one row per experiment, fold, reported ECG and target (``true`` may be NaN);
    ``baseline`` is the training split's target mean (the mean predictor). ``pretrained``: model
    -> the pre-training experiment's trained weights. ``best_epochs``: experiment -> epochs.
    ``histories``: (experiment, fold) -> list of histories, one per network.
    """

    predictions: pd.DataFrame
    pretrained: dict[str, Trained]
    best_epochs: dict[int, list[int]]
    histories: dict[tuple[int, int], list[pd.DataFrame]]


def run_experiments(
    pretrain_signals: np.ndarray,
    pretrain: IntervalSet,
    pretrain_split: Split,
    finetune_signals: np.ndarray,
    finetune: IntervalSet,
    folds: Sequence[Split],
    *,
    kwargs_by_model: Mapping[str, Mapping[str, Any]],
    settings: TrainSettings,
    seed: int,
    device,
    experiments: Sequence[int] = tuple(e.number for e in EXPERIMENTS),
) -> ExperimentResults:
    """Run the paper's experiments (all seven by default), in its order, without a cache.

    Pre-training experiments (1, 2, 5) use ``pretrain_split``; fine-tuning experiments run on
    every fold; transfer experiments (4, 7) start from the weights of their model's pre-training
    experiment and train with ``settings.finetune_lr``. The same as :func:`plan_units` run by
    :func:`ecglib.units.run_units` and aggregated by :func:`results_from_payloads` (what the
    notebook does, with the unit cache).
    """
    inputs = unit_inputs(pretrain_signals, pretrain, pretrain_split, finetune_signals, finetune, folds)
    grid = plan_units(
        inputs,
        kwargs_by_model=kwargs_by_model,
        settings=settings,
        seed=seed,
        device=device,
        experiments=experiments,
    )
    payloads = units.run_units(grid, cache_dir=None, use_cache=False)
    return results_from_payloads(payloads, inputs, settings=settings, experiments=experiments)


# --------------------------------------------------------------------------- units
# The seven experiments as cached units (ecglib.units): one per pre-training experiment (1, 2, 5),
# one per (fine-tuning experiment, fold) for 3, 4, 6, 7 (a transfer unit needs its model's
# pre-training unit), and the final model when the profile saves one. A unit's key names its data
# (digest of the model input and the targets), its split's indices, the model and its sizes, the
# training settings, its seed, the pre-training unit it starts from and CODE_VERSION; bump
# CODE_VERSION whenever a unit's computation changes its result.

CODE_VERSION = "deepfake-unit-1"


@dataclass
class UnitInputs:
    """What the units train on: the model inputs, the interval sets, the splits, the data digests.

    ``pretrain_digest`` / ``finetune_digest``: :func:`ecglib.units.unit_key` of the model input
    and the targets (or ``"stand-in:..."`` for shape-only stand-ins, whose units cannot run).
    """

    pretrain_signals: np.ndarray
    pretrain: IntervalSet
    pretrain_split: Split
    finetune_signals: np.ndarray
    finetune: IntervalSet
    folds: list[Split]
    pretrain_digest: str
    finetune_digest: str


def data_digest(signals: np.ndarray, targets: np.ndarray) -> str:
    """The digest a unit's key names its data by: the model input and the targets (NaN kept)."""
    return units.unit_key(signals=np.asarray(signals), targets=np.asarray(targets, dtype=np.float64))


def unit_inputs(
    pretrain_signals: np.ndarray,
    pretrain: IntervalSet,
    pretrain_split: Split,
    finetune_signals: np.ndarray,
    finetune: IntervalSet,
    folds: Sequence[Split],
) -> UnitInputs:
    """:class:`UnitInputs` of real data (both digests computed here, once)."""
    return UnitInputs(
        pretrain_signals,
        pretrain,
        pretrain_split,
        finetune_signals,
        finetune,
        list(folds),
        data_digest(pretrain_signals, pretrain.targets),
        data_digest(finetune_signals, finetune.targets),
    )


def unit_name(number: int, fold: int = 0) -> str:
    """The unit of experiment ``number`` (and ``fold`` for a fine-tuning experiment), e.g.
    ``exp2/resnet/pretrain``, ``exp4/resnet/transfer/fold0``."""
    spec = experiment(number)
    if spec.dataset == "pretrain":
        return f"exp{number}/{spec.model}/pretrain"
    return f"exp{number}/{spec.model}/{spec.init}/fold{fold}"


def final_unit_name(model: str) -> str:
    """The unit of the final model of ``model`` (transfer, every fine-tuning ECG)."""
    return f"final/{model}"


def transfer_experiment(model: str) -> Experiment:
    """The transfer experiment of ``model`` (4 for the ResNet, 7 for the ViT)."""
    return next(e for e in EXPERIMENTS if e.model == model and e.init == "transfer")


def _settings_part(settings: TrainSettings) -> dict[str, Any]:
    return {
        "epochs": int(settings.epochs),
        "lr": float(settings.lr),
        "batch_size": int(settings.batch_size),
        "optimizer": settings.optimizer,
        "weight_decay": float(settings.weight_decay),
        "early_stopping_patience": settings.early_stopping_patience,
        "loss": settings.loss,
        "report_split": settings.report_split,
        "finetune_lr": float(settings.finetune_lr),
    }


def plan_units(
    inputs: UnitInputs,
    *,
    kwargs_by_model: Mapping[str, Mapping[str, Any]],
    settings: TrainSettings,
    seed: int,
    device,
    experiments: Sequence[int] = tuple(e.number for e in EXPERIMENTS),
    final: str | None = None,
) -> list[Unit]:
    """The experiments as :class:`~ecglib.units.Unit` records, in the paper's order.

    One unit per pre-training experiment and one per (fine-tuning experiment, fold); a transfer
    unit needs its model's pre-training unit (and names its key as ``init``). With
    ``final`` ("resnet" or "vit"), a last unit trains that model's final network on every
    fine-tuning ECG from its pre-training, for the median of the transfer experiment's best
    epochs: it needs the pre-training and every fold of the transfer experiment.

    Payloads (:func:`trained_from_payload`, :func:`results_from_payloads`): ``state`` (the weights;
    pre-training and final units only, None for a fine-tuning fold), ``target_mean``,
    ``target_std``, ``best_epochs``, ``histories`` (one per network) and ``predicted`` (bpm and ms
    on the reported rows of the split; None for the final model).

    Raises
    ------
    ValueError
        a transfer experiment without its pre-training experiment before it in ``experiments``.
    """
    common = {"code": CODE_VERSION, "settings": _settings_part(settings)}
    grid: list[Unit] = []
    pre_units: dict[str, Unit] = {}
    for number in experiments:
        spec = experiment(number)
        kwargs = dict(kwargs_by_model[spec.model])
        if spec.dataset == "pretrain":
            splits, signals, data, digest = (
                [inputs.pretrain_split],
                inputs.pretrain_signals,
                inputs.pretrain,
                inputs.pretrain_digest,
            )
        else:
            splits, signals, data, digest = (
                inputs.folds,
                inputs.finetune_signals,
                inputs.finetune,
                inputs.finetune_digest,
            )
        needs: tuple[str, ...] = ()
        init, lr = "random", None
        if spec.init == "transfer":
            source = pretraining_experiment(spec.model)
            if spec.model not in pre_units:
                raise ValueError(f"experiment {number} needs experiment {source.number} (pre-training) first")
            needs, init, lr = (pre_units[spec.model].name,), pre_units[spec.model].key, settings.finetune_lr
        for fold, split in enumerate(splits):
            run_seed = derive_seed(seed, "experiment", number, fold)
            parts = {
                **common,
                "role": spec.dataset if spec.dataset == "pretrain" else spec.init,
                "experiment": number,
                "model": spec.model,
                "model_kwargs": kwargs,
                "data": digest,
                "train": split.train,
                "val": split.val,
                "test": split.test,
                "seed": run_seed,
                "init": init,
            }
            compute = partial(
                _experiment_compute,
                spec.model,
                kwargs,
                signals,
                data.targets,
                split,
                settings=settings,
                seed=run_seed,
                device=device,
                lr=lr,
                pre_name=needs[0] if needs else None,
                keep_state=spec.dataset == "pretrain",
            )
            unit = Unit(unit_name(number, fold), parts, compute, needs)
            grid.append(unit)
            if spec.dataset == "pretrain":
                pre_units[spec.model] = unit
    if final is not None:
        number = transfer_experiment(final).number
        if number not in experiments or final not in pre_units:
            raise ValueError(
                f"the final {final} needs experiments {pretraining_experiment(final).number} "
                f"and {number} first"
            )
        pre = pre_units[final]
        folds = [unit for unit in grid if unit.name.startswith(f"exp{number}/")]
        kwargs = dict(kwargs_by_model[final])
        parts = {
            **common,
            "role": "final",
            "model": final,
            "model_kwargs": kwargs,
            "data": inputs.finetune_digest,
            "seed": int(seed),
            "init": pre.key,
            "epochs_from": [unit.key for unit in folds],  # the median of their best epochs
        }
        compute = partial(
            _final_compute,
            final,
            kwargs,
            inputs.finetune_signals,
            inputs.finetune.targets,
            settings=settings,
            seed=seed,
            device=device,
            pre_name=pre.name,
            fold_names=[unit.name for unit in folds],
        )
        grid.append(Unit(final_unit_name(final), parts, compute, (pre.name, *(u.name for u in folds))))
    return grid


def _history_payload(frame: pd.DataFrame) -> dict[str, Any]:
    """A history as tensors of each column's own dtype (so it comes back identical)."""
    return {
        "columns": [str(column) for column in frame.columns],
        "values": {
            str(column): torch.from_numpy(frame[column].to_numpy().copy()) for column in frame.columns
        },
    }


def _history_from_payload(payload: Mapping[str, Any]) -> pd.DataFrame:
    return pd.DataFrame({column: payload["values"][column].numpy() for column in payload["columns"]})


def trained_payload(trained: Trained, *, keep_state: bool) -> dict[str, Any]:
    """A :class:`Trained` as a unit payload (``state`` None unless ``keep_state``)."""
    return {
        "state": dict(trained.state_dict) if keep_state else None,
        "target_mean": torch.from_numpy(np.asarray(trained.target_mean, dtype=np.float64).copy()),
        "target_std": torch.from_numpy(np.asarray(trained.target_std, dtype=np.float64).copy()),
        "best_epochs": [int(epoch) for epoch in trained.best_epochs],
        "histories": [_history_payload(history) for history in trained.histories],
    }


def trained_from_payload(payload: Mapping[str, Any]) -> Trained:
    """The :class:`Trained` of a unit payload (``state_dict`` empty for a fine-tuning fold)."""
    return Trained(
        dict(payload["state"] or {}),
        payload["target_mean"].numpy(),
        payload["target_std"].numpy(),
        list(payload["best_epochs"]),
        [_history_from_payload(history) for history in payload["histories"]],
    )


def _experiment_compute(
    model, kwargs, signals, targets, split, needed, *, settings, seed, device, lr, pre_name, keep_state
) -> dict[str, Any]:
    init_state = None if pre_name is None else needed[pre_name]["state"]
    trained = train_model(
        model,
        kwargs,
        signals,
        targets,
        split,
        settings=settings,
        seed=seed,
        device=device,
        init_state=init_state,
        lr=lr,
    )
    rows = reported_rows(split, settings.report_split)
    predicted = predict_targets(model, kwargs, trained, signals[rows], device=device)
    return {
        **trained_payload(trained, keep_state=keep_state),
        "predicted": torch.from_numpy(np.asarray(predicted).copy()),
    }


def _final_compute(
    model, kwargs, signals, targets, needed, *, settings, seed, device, pre_name, fold_names
) -> dict[str, Any]:
    best = [epoch for name in fold_names for epoch in needed[name]["best_epochs"]]
    trained = final_model(
        model,
        kwargs,
        signals,
        targets,
        epochs=max(1, int(np.median(best))),
        settings=settings,
        seed=seed,
        device=device,
        init_state=needed[pre_name]["state"],
    )
    return {**trained_payload(trained, keep_state=True), "predicted": None}


def results_from_payloads(
    payloads: Mapping[str, Any],
    inputs: UnitInputs,
    *,
    settings: TrainSettings,
    experiments: Sequence[int] = tuple(e.number for e in EXPERIMENTS),
) -> ExperimentResults:
    """The :class:`ExperimentResults` of the units' payloads (as :func:`run_experiments` returns them).

    Predictions are put beside the split's reported rows, the true targets and the mean
    predictor (the training split's target mean) of ``inputs``.
    """
    frames, pretrained, best_epochs, histories = [], {}, {}, {}
    for number in experiments:
        spec = experiment(number)
        if spec.dataset == "pretrain":
            splits, data = [inputs.pretrain_split], inputs.pretrain
        else:
            splits, data = inputs.folds, inputs.finetune
        best_epochs[number] = []
        for fold, split in enumerate(splits):
            payload = payloads[unit_name(number, fold)]
            trained = trained_from_payload(payload)
            if spec.dataset == "pretrain":
                pretrained[spec.model] = trained
            rows = reported_rows(split, settings.report_split)
            predicted = payload["predicted"].numpy()
            baseline = np.nanmean(data.targets[split.train], axis=0)
            frames.append(
                _prediction_rows(number, fold, rows, data.patient_ids, data.targets, predicted, baseline)
            )
            best_epochs[number] += trained.best_epochs
            histories[(number, fold)] = trained.histories
    return ExperimentResults(pd.concat(frames, ignore_index=True), pretrained, best_epochs, histories)


def settings_from_params(cfg: Mapping[str, Any]) -> TrainSettings:
    """The :class:`TrainSettings` of a profile."""
    return TrainSettings(
        epochs=cfg["epochs"],
        lr=cfg["lr"],
        batch_size=cfg["batch_size"],
        optimizer=cfg["optimizer"],
        weight_decay=cfg["weight_decay"],
        early_stopping_patience=cfg["early_stopping_patience"],
        loss=cfg["loss"],
        report_split=cfg["report_split"],
        finetune_lr=cfg["finetune_lr"],
    )


def kwargs_from_params(cfg: Mapping[str, Any], *, n_samples: int) -> dict[str, dict[str, Any]]:
    """Model -> constructor arguments of a profile (:func:`model_kwargs` of every model)."""
    return {m: model_kwargs(m, cfg, n_samples=n_samples, per_target=cfg["per_target"]) for m in MODELS}


def splits_from_params(
    cfg: Mapping[str, Any], pretrain: IntervalSet, finetune: IntervalSet
) -> tuple[Split, list[Split]]:
    """The pre-training split and the fine-tuning folds of a profile."""
    pretrain_split = pretraining_split(
        pretrain.patient_ids,
        val_fraction=cfg["pretrain_val_fraction"],
        test_fraction=cfg["pretrain_test_fraction"],
        seed=cfg["seed"],
    )
    folds = finetuning_folds(
        finetune.patient_ids,
        protocol=cfg["finetune_protocol"],
        n_folds=cfg["finetune_n_folds"],
        val_fraction=cfg["finetune_val_fraction"],
        test_fraction=cfg["finetune_test_fraction"],
        seed=cfg["seed"],
    )
    return pretrain_split, folds


def unit_inputs_from_params(cfg: Mapping[str, Any], *, data_root=None) -> UnitInputs:
    """The profile's data prepared as the notebook prepares them (GAN ECGs generated on the CPU),
    split and resampled to ``model_fs_hz``: what ``ecglib plan deepfake`` plans over."""
    pretrain = pretraining_from_params(cfg, device="cpu", data_root=data_root)
    finetune = finetuning_from_params(cfg, data_root=data_root)
    pretrain_split, folds = splits_from_params(cfg, pretrain, finetune)
    return unit_inputs(
        to_model_input(pretrain.signals_mv, fs_hz=pretrain.fs_hz, model_fs_hz=cfg["model_fs_hz"]),
        pretrain,
        pretrain_split,
        to_model_input(finetune.signals_mv, fs_hz=finetune.fs_hz, model_fs_hz=cfg["model_fs_hz"]),
        finetune,
        folds,
    )


def plan_from_params(cfg: Mapping[str, Any], inputs: UnitInputs, *, device="cpu") -> list[Unit]:
    """:func:`plan_units` with the profile's models, settings and seed, and its final model when
    ``save_final_model`` (the notebook's units)."""
    n_samples = int(inputs.pretrain_signals.shape[1])
    return plan_units(
        inputs,
        kwargs_by_model=kwargs_from_params(cfg, n_samples=n_samples),
        settings=settings_from_params(cfg),
        seed=cfg["seed"],
        device=device,
        final=cfg["final_model"] if cfg["save_final_model"] else None,
    )


#: ECGs a stand-in fine-tuning set has when the profile does not say: LUDB's records here, and all of
#: PTB-XL (an upper bound: its normal subset is smaller and unknown without the data)
STAND_IN_FINETUNE_SIZES = {"ludb": 150, "ptbxl-plus": 21_799}
#: seconds of every ECG of the study (the GAN's, LUDB's, PTB-XL's: 10 s)
ECG_SECONDS = 10.0


def stand_in_inputs(cfg: Mapping[str, Any]) -> UnitInputs:
    """Shape-only stand-ins of the profile's data, for :func:`plan_from_params` without the data.

    ``pretrain_n_ecgs`` pre-training ECGs (none dropped: the quality gate needs the data) and
    ``finetune_n_ecgs`` fine-tuning ECGs (else :data:`STAND_IN_FINETUNE_SIZES`), one patient
    each, split by the profile's own protocol; zero-length signals of the model input's shape;
    digests that name the profile, not data. The units (names, needs, splits' sizes) are the
    profile's; their keys name no real data, so they are for dry runs only.
    """
    n_samples = int(round(cfg["model_fs_hz"] * ECG_SECONDS))
    n_pretrain = int(cfg["pretrain_n_ecgs"])
    n_finetune = cfg["finetune_n_ecgs"] or STAND_IN_FINETUNE_SIZES.get(cfg["data_source"], 0)
    if cfg["data_source"] == "ludb" and cfg["ludb_records"]:
        n_finetune = len(cfg["ludb_records"])

    def stand_in(n: int, source: str) -> IntervalSet:
        ids = np.array([f"stand-in-{k}" for k in range(n)])
        return IntervalSet(
            np.zeros((0, n_samples, len(EIGHT_LEADS)), np.float32),
            np.zeros((n, len(TARGETS))),
            ids,
            0.0,
            source,
        )

    pretrain, finetune = (
        stand_in(n_pretrain, cfg["pretrain_source"]),
        stand_in(int(n_finetune), cfg["data_source"]),
    )
    pretrain_split, folds = splits_from_params(cfg, pretrain, finetune)
    name = f"stand-in:deepfake/{cfg['profile']}"
    return UnitInputs(
        pretrain.signals_mv,
        pretrain,
        pretrain_split,
        finetune.signals_mv,
        finetune,
        folds,
        f"{name}/{cfg['pretrain_source']}",
        f"{name}/{cfg['data_source']}",
    )


# --------------------------------------------------------------------------- tables


def _errors(true: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    diff = predicted - true
    mse = float(np.mean(diff**2)) if len(diff) else float("nan")
    return {
        "mae": float(np.mean(np.abs(diff))) if len(diff) else float("nan"),
        "rmse": float(np.sqrt(mse)),
        "mse": mse,
    }


def error_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per experiment and target: n, MAE, RMSE, MSE of the model and of the mean predictor, and the
    variance of the target over the reported ECGs (NaN targets dropped per target)."""
    rows = []
    for (number, target), group in predictions.groupby(["experiment", "target"], sort=False):
        group = group[np.isfinite(group["true"])]
        true = group["true"].to_numpy()
        model = _errors(true, group["predicted"].to_numpy())
        mean_predictor = _errors(true, group["baseline"].to_numpy())
        rows.append(
            {
                "experiment": number,
                "title": experiment(number).title,
                "target": target,
                "n": len(group),
                **model,
                **{f"baseline_{k}": v for k, v in mean_predictor.items()},
                "target_variance": float(np.var(true)) if len(true) else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def paper_table_sources(table: str, *, pretrain_source: str, finetune_source: str) -> list[str]:
    """The data sources of one of Tables I-V (its experiments' data sets, in column order)."""
    sources = {"pretrain": pretrain_source, "finetune": finetune_source}
    return list(dict.fromkeys(sources[experiment(number).dataset] for _, number, _ in PAPER_TABLES[table]))


def paper_table(errors: pd.DataFrame, reported: Mapping[str, Any], table: str) -> pd.DataFrame:
    """Table I-V beside the paper's: per target, our MAE, RMSE, MSE and the paper's number per column.

    Table I also shows each target's variance over the reported ECGs (the paper's Table I looks
    like target variances, see the notebook).
    """
    rows = []
    for target in TARGETS:
        row: dict[str, Any] = {"parameter": TARGET_TITLES[target]}
        for title, number, key in PAPER_TABLES[table]:
            found = errors[(errors["experiment"] == number) & (errors["target"] == target)]
            values = found.iloc[0] if len(found) else None
            for metric in ("mae", "rmse", "mse"):
                row[f"{title}: {metric.upper()}"] = float(values[metric]) if values is not None else np.nan
            row[f"{title}: mean predictor MAE"] = (
                float(values["baseline_mae"]) if values is not None else np.nan
            )
            row[f"{title}: paper"] = reported["tables"][key][target]
            if table == "table1":
                row[f"{title}: target variance"] = (
                    float(values["target_variance"]) if values is not None else np.nan
                )
        rows.append(row)
    return pd.DataFrame(rows).set_index("parameter")


def transfer_gain(errors: pd.DataFrame) -> pd.DataFrame:
    """Per model and target: MAE from scratch, after transfer, and the gain (scratch - transfer, > 0 helps)."""
    rows = []
    for model in ("resnet", "vit"):
        scratch = next(
            e for e in EXPERIMENTS if e.model == model and e.dataset == "finetune" and e.init == "scratch"
        )
        transfer = next(e for e in EXPERIMENTS if e.model == model and e.init == "transfer")
        for target in TARGETS:
            a = errors[(errors["experiment"] == scratch.number) & (errors["target"] == target)]
            b = errors[(errors["experiment"] == transfer.number) & (errors["target"] == target)]
            if not len(a) or not len(b):
                continue
            mae_scratch, mae_transfer = float(a.iloc[0]["mae"]), float(b.iloc[0]["mae"])
            rows.append(
                {
                    "model": model,
                    "target": target,
                    "mae_scratch": mae_scratch,
                    "mae_transfer": mae_transfer,
                    "gain": mae_scratch - mae_transfer,
                    "relative_gain": (mae_scratch - mae_transfer) / mae_scratch if mae_scratch else np.nan,
                }
            )
    return pd.DataFrame(rows)


def measurement_floor(data: IntervalSet, *, method: str | None = None) -> pd.DataFrame:
    """How far :mod:`ecglib.intervals` (8 leads, global definition) is from ``data``'s targets.

    On LUDB that is the cardiologists' delineation; on simulated ECGs the exact intervals.
    Returns per target: n (both finite), failures (target finite, measurement NaN), MAE, median
    absolute error and bias (measured - reference).
    """
    from ecglib import intervals

    measured = intervals.measure_batch(
        data.signals_mv, data.fs_hz, EIGHT_LEADS, method=method or intervals.DEFAULT_METHOD
    )
    rows = []
    for column, target in enumerate(TARGETS):
        reference = data.targets[:, column]
        value = measured[target].to_numpy(dtype=np.float64)
        both = np.isfinite(reference) & np.isfinite(value)
        diff = value[both] - reference[both]
        rows.append(
            {
                "target": target,
                "n": int(both.sum()),
                "failures": int((np.isfinite(reference) & ~np.isfinite(value)).sum()),
                "mae": float(np.mean(np.abs(diff))) if both.any() else np.nan,
                "median_abs_error": float(np.median(np.abs(diff))) if both.any() else np.nan,
                "bias": float(np.mean(diff)) if both.any() else np.nan,
            }
        )
    return pd.DataFrame(rows)


def headline(errors: pd.DataFrame, floor: pd.DataFrame | None = None) -> pd.DataFrame:
    """The headline: per target, fine-tuned vs from-scratch MAE (ResNet and ViT) beside the measurement floor."""
    gain = transfer_gain(errors)
    table = gain.pivot(index="target", columns="model", values=["mae_scratch", "mae_transfer"])
    table.columns = [f"{model} {what.removeprefix('mae_')} MAE" for what, model in table.columns]
    if floor is not None:
        table["ecglib.intervals MAE (measurement floor)"] = floor.set_index("target")["mae"]
    return table.reindex(TARGETS)


def learning_curves(results: ExperimentResults, *, dataset: str) -> pd.DataFrame:
    """Validation loss per epoch (standardised targets) of every network of ``dataset``'s experiments.

    One panel per target, one series per experiment; the folds of a fine-tuning experiment are
    its runs (drawn as mean +/- SD by :func:`ecglib.figures.epoch_curves`).
    """
    from ecglib.figures import long_curves

    frames = []
    for (number, _fold), histories in results.histories.items():
        spec = experiment(number)
        if spec.dataset != dataset:
            continue
        per_target = len(histories) == len(TARGETS)
        for part, history in enumerate(histories):
            panel = TARGET_TITLES[TARGETS[part]] if per_target else "all targets"
            label = f"{number}: {MODEL_TITLES[spec.model]}{', transfer' if spec.init == 'transfer' else ''}"
            frames.append(long_curves(history, {"val_loss": label}, panel=panel))
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- final model


def final_model(
    model: str,
    kwargs: Mapping[str, Any],
    signals: np.ndarray,
    targets: np.ndarray,
    *,
    epochs: int,
    settings: TrainSettings,
    seed: int,
    device,
    init_state: Mapping[str, torch.Tensor] | None,
) -> Trained:
    """Train on every fine-tuning ECG (after the cross-validation) for ``epochs`` epochs, no selection."""
    per_target = bool(kwargs["per_target"])
    built = make_model(MODEL_FAMILIES[model], seed=derive_seed(seed, "init", model), **kwargs)
    if init_state is not None:
        built.load_state_dict(init_state)
    columns = [[k] for k in range(len(TARGETS))] if per_target else [list(range(len(TARGETS)))]
    means, stds, histories = np.zeros(len(TARGETS)), np.ones(len(TARGETS)), []
    for part, (submodel, cols) in enumerate(zip(_submodels(built, per_target), columns)):
        rows = np.flatnonzero(np.isfinite(targets[:, cols]).all(axis=1))
        for c in cols:
            means[c], stds[c] = _standardise(targets[rows, c])
        scaled = (targets[rows][:, cols] - means[cols]) / stds[cols]
        result = train.fit(
            submodel,
            (signals[rows], scaled),
            None,
            task="regression",
            epochs=epochs,
            lr=settings.finetune_lr if init_state is not None else settings.lr,
            batch_size=settings.batch_size,
            seed=derive_seed(seed, "final", model, part),
            device=device,
            optimizer=settings.optimizer,
            weight_decay=settings.weight_decay,
            monitor="train_loss",
            loss_fn=make_loss(settings.loss),
            progress=False,
            label=f"final-{model}-{part}",
        )
        submodel.load_state_dict(result.model.state_dict())  # the last epoch: no held-out data left
        histories.append(result.history.assign(part=part))
    state = {key: value.detach().cpu().clone() for key, value in built.state_dict().items()}
    return Trained(state, means, stds, [epochs] * len(columns), histories)


def final_model_module(model: str, kwargs: Mapping[str, Any], trained: Trained) -> nn.Module:
    """The network of ``trained`` (CPU, eval mode), built from ``kwargs``."""
    built = make_model(MODEL_FAMILIES[model], seed=0, **kwargs)
    built.load_state_dict(trained.state_dict)
    return built.eval()


def model_card(trained: Trained, *, trained_on: str, fs_hz: float, n_samples: int) -> dict[str, Any]:
    """The card :func:`ecglib.predict.save_interval_model` stores with the final model."""
    return {
        "trained_on": trained_on,
        "target_names": list(TARGETS),
        "target_units": [TARGET_UNITS[t] for t in TARGETS],
        "fs_hz": float(fs_hz),
        "lead_names": list(EIGHT_LEADS),
        "n_samples": int(n_samples),
        "input_units": "mV",
        "input_normalisation": "none",
        "target_mean": [float(v) for v in trained.target_mean],
        "target_std": [float(v) for v in trained.target_std],
    }


# --------------------------------------------------------------------------- claims

CLAIMS = (
    claims.greater(
        "Transfer learning lowers the error of every target, for ResNet and ViT",
        "Table V, clearly demonstrates that transfer learning significantly impacted to decrease the "
        "validation losses in ECG parameters (Tables III and V)",
        a="abs_error.scratch",
        b="abs_error.transfer",
        test="wilcoxon",
        paper_a="transfer_claim.{condition}.scratch",
        paper_b="transfer_claim.{condition}.transfer",
        digits=2,
    ),
    claims.greater(
        "ResNet beats ViT on every target (after transfer)",
        "The residual neural network gives the best result among all the models (Table V)",
        a="abs_error.vit_transfer",
        b="abs_error.resnet_transfer",
        test="wilcoxon",
        significance_claimed=False,
        paper_a="tables.vit_transfer.{condition}",
        paper_b="tables.resnet_transfer.{condition}",
        digits=2,
    ),
)


def _abs_errors(predictions: pd.DataFrame, number: int, target: str) -> pd.Series:
    rows = predictions[(predictions["experiment"] == number) & (predictions["target"] == target)]
    rows = rows[np.isfinite(rows["true"])]
    return (rows["predicted"] - rows["true"]).abs().set_axis(rows["row"].to_numpy())


def claim_results(predictions: pd.DataFrame) -> dict[str, Any]:
    """The numbers :data:`CLAIMS` are tested on: absolute errors per ECG (paired by ECG).

    ``abs_error.scratch`` / ``.transfer``: condition ``"<model> <target>"`` -> errors from scratch /
    after transfer; ``abs_error.resnet_transfer`` / ``.vit_transfer``: target -> errors.
    """
    scratch, transfer = {}, {}
    for model, (a, b) in (("resnet", (3, 4)), ("vit", (6, 7))):
        for target in TARGETS:
            x, y = _abs_errors(predictions, a, target), _abs_errors(predictions, b, target)
            common = x.index.intersection(y.index)
            scratch[f"{model} {target}"] = x.loc[common].to_numpy()
            transfer[f"{model} {target}"] = y.loc[common].to_numpy()
    resnet, vit = {}, {}
    for target in TARGETS:
        x, y = _abs_errors(predictions, 4, target), _abs_errors(predictions, 7, target)
        common = x.index.intersection(y.index)
        resnet[target], vit[target] = x.loc[common].to_numpy(), y.loc[common].to_numpy()
    return {
        "abs_error": {
            "scratch": scratch,
            "transfer": transfer,
            "resnet_transfer": resnet,
            "vit_transfer": vit,
        }
    }


def headline_metrics(errors: pd.DataFrame, gain: pd.DataFrame) -> dict[str, float]:
    """Named scalars for ``run.finish``: MAE per experiment and target, and the transfer gain."""
    metrics = {}
    for _, row in errors.iterrows():
        metrics[f"mae_exp{row['experiment']}_{row['target']}"] = float(row["mae"])
    for _, row in gain.iterrows():
        metrics[f"transfer_gain_{row['model']}_{row['target']}"] = float(row["gain"])
    return metrics
