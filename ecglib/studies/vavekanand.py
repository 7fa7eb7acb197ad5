"""Vavekanand et al.: patient-specific normal/abnormal CNNs on MIT-BIH, from scratch vs fine-tuned.

Study glue too large for the notebook (``notebooks/vavekanand.py``):

1. :func:`windows_from_params` (:func:`mitbih_windows` / :func:`simulated_windows`): 1 s
   windows of one lead, band-pass 0.4-30 Hz, min-max to (0, 2) per record, labelled normal (0)
   / abnormal (1) by the beat annotations inside, each resampled to 128 samples
   (``ecglib.segment.scaled_beat_windows`` over ``ecglib.data.mitbih.cut_records``).
2. :func:`split_windows`: per patient, stratified 80/20 train+val / test, then 80/20
   train / val (``ecglib.data.splits.within_patient_split``).
3. :func:`pretrain`: one CNN on the pooled *training* windows of all patients (validation on
   the pooled validation windows; no test window ever), keeping the lowest validation loss.
4. :func:`run_patient_grid`: per patient, the grid lr x batch size x weighted sampling,
   from random initialisation ("individual") and from the pre-trained weights
   ("fine-tuned"), all trained together by ``ecglib.grid.train_grid``.
   :func:`plan_units`: the same two steps as cached units (:mod:`ecglib.units`), the pooled
   pre-training and one unit per patient (its whole grid), which the notebook runs and
   ``ecglib plan`` / ``ecglib unit run`` / ``workflow/Snakefile`` run as jobs (``ecglib.workflow``).
5. :func:`select_per_patient` / :func:`table1` / :func:`summary`: the grid point chosen per
   patient (validation balanced accuracy by default; the test set only as the labelled
   option ``test_set_as_in_paper``), Table 1 beside the paper's, and the headline numbers.
6. :data:`CLAIMS` and :data:`SUMMARY_ROWS`: the paper's claims and numbers, tested and compared by
   :mod:`ecglib.claims` and :mod:`ecglib.paper_tables`; figures are drawn by :mod:`ecglib.figures`.

Study functions take explicit keywords; only :func:`windows_from_params` reads a profile.
The paper's facts (its 29 patients, window and parameter counts, Table 1) are read from
``params/vavekanand/reported.yaml``. Patients are MIT-BIH *records*, as in the paper's Table 1 (records 201 and 202 come from the
same person; each gets its own classifier there, and here).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import torch

from ecglib import claims, paper_tables, preprocess, segment, stats, units
from ecglib.data import LabelledSet
from ecglib.data.splits import within_patient_split
from ecglib.errors import TrainingDiverged
from ecglib.grid import GridResult, GridRun, train_grid
from ecglib.params import reported
from ecglib.seeds import derive_seed
from ecglib.units import Unit

MODES = ("individual", "fine_tuned")
CODE_VERSION = "vavekanand-windows-1"


def paper_patients() -> tuple[str, ...]:
    """The paper's 29 patients (MIT-BIH records), in the order of its Table 1 (``reported.yaml``)."""
    return tuple(str(patient) for patient in reported("vavekanand")["patients"])


@dataclass
class WindowSet:
    """Windows of every selected patient.

    Attributes
    ----------
    windows : LabelledSet, signals (n_windows, window_samples_out, 1) in the normalised units
        (``units`` says which), targets 0/1, patient_ids = record ids
    per_patient : DataFrame, one row per patient: patient, lead, n_windows, n_normal,
        n_abnormal, and the exclusion counts
    exclusions : reason -> count, summed over patients (for ``run.record_data``)
    files : data files read (for checksums in the run's provenance)
    start_samples : ndarray of shape (n_windows,), int64, first sample of each window in its
        record at the original sampling rate
    """

    windows: LabelledSet
    per_patient: pd.DataFrame
    exclusions: dict[str, int] = field(default_factory=dict)
    files: list = field(default_factory=list)
    start_samples: np.ndarray | None = None

    def counts_table(self) -> pd.DataFrame:
        """``per_patient`` with a total row (the notebook's windows-per-patient table)."""
        targets = self.windows.targets
        total = {
            "patient": "total",
            "lead": "",
            "n_windows": len(targets),
            "n_normal": int((targets == 0).sum()),
            "n_abnormal": int(targets.sum()),
            "windows_without_beats": int(self.per_patient["windows_without_beats"].sum()),
        }
        return pd.concat([self.per_patient, pd.DataFrame([total])], ignore_index=True)


# --------------------------------------------------------------------------- windows
def _patient_row(patient: str, lead: str, labels: np.ndarray, windows_without_beats: int) -> dict:
    return {
        "patient": patient,
        "lead": lead,
        "n_windows": len(labels),
        "n_normal": int((labels == 0).sum()),
        "n_abnormal": int((labels == 1).sum()),
        "windows_without_beats": windows_without_beats,
    }


def _window_set(
    signals,
    targets,
    patient_ids,
    rows,
    exclusions,
    files,
    starts,
    *,
    lead_names,
    source,
    fs_hz,
    normalise_range,
):
    labelled = LabelledSet(
        signals_mv=signals[:, :, None].astype(np.float32),
        targets=targets,
        patient_ids=np.asarray(patient_ids),
        fs_hz=fs_hz,
        lead_names=lead_names,
        target_names=("normal", "abnormal"),
        task="single_label",
        source=source,
        exclusions=exclusions,
        units=f"min-max per record to {tuple(normalise_range)}",
    )
    return WindowSet(labelled, pd.DataFrame(rows), exclusions, files, starts)


def mitbih_windows(
    patients=None,
    *,
    root=None,
    lead: str = "MLII",
    lead_fallback: str = "first_lead",
    band_hz=(0.4, 30.0),
    filter_order: int = 3,
    normalise_range=(0.0, 2.0),
    window_s: float = 1.0,
    window_samples_out: int = 128,
    normal_symbols=segment.VAVEKANAND_NORMAL_SYMBOLS,
    resample_method: str = "polyphase",
    use_cache: bool = True,
) -> WindowSet:
    """Labelled 1 s windows of MIT-BIH records ``patients`` (record ids).

    Each record: ``ecglib.segment.scaled_beat_windows`` (band-pass, min-max over the record,
    1 s windows labelled by the beats inside, each resampled), through
    ``ecglib.data.mitbih.cut_records`` (lead selection, per-record cache).

    Parameters
    ----------
    patients : record ids (default: the paper's 29, :func:`paper_patients`)
    root : data root (default ``$ECGLIB_DATA``)
    lead : lead to use (paper: MLII)
    lead_fallback : what to do with records that lack ``lead`` (102 and 104 have no MLII):
        "first_lead" uses the record's first lead (V5 there; the public code used column 0
        of every record) and notes it in ``per_patient.lead``; "exclude" drops the record
    band_hz, filter_order : Butterworth band-pass (paper: 0.4-30 Hz; order 3 as in the public code)
    normalise_range : min-max target range over the whole record (paper: (0, 2))
    window_s : window length in seconds (paper: 1 s = 360 samples)
    window_samples_out : samples per window after resampling (paper: 128)
    normal_symbols : beat symbols that count as normal (see ``ecglib.segment``)
    resample_method : "polyphase" or "fft" (see ``ecglib.preprocess.resample_windows``)
    use_cache : cache each record's windows under ``ecglib.data.cache_dir()``

    Raises
    ------
    DataMissingError
        MIT-BIH is not under the data root (the message names ``ecglib data download mitbih``).
    """
    from ecglib.data import mitbih

    patients = paper_patients() if patients is None else patients
    settings = dict(
        band_hz=tuple(band_hz),
        filter_order=filter_order,
        normalise_range=tuple(normalise_range),
        window_s=window_s,
        window_samples_out=window_samples_out,
        resample_method=resample_method,
    )

    def cut(signal_mv, fs_hz, annotations):
        return segment.scaled_beat_windows(
            signal_mv,
            fs_hz,
            annotations.beat_samples,
            annotations.beat_symbols,
            normal_labels=tuple(normal_symbols),
            **settings,
        )

    # the cache key names everything the windows depend on (tuples are stored as lists)
    cache_key = {**settings, "normal_symbols": list(normal_symbols), "code_version": CODE_VERSION}
    records = mitbih.cut_records(
        cut,
        [str(p) for p in patients],
        root=root,
        lead=lead,
        fallback=lead_fallback,
        cache_key=cache_key,
        use_cache=use_cache,
    )
    exclusions = {f"windows_{reason}": count for reason, count in records.exclusions.items()}
    if records.without_lead:
        exclusions[f"record_without_{lead}"] = len(records.without_lead)
    if not records.records:
        raise ValueError(f"no windows: every requested record ({list(patients)}) was excluded ({exclusions})")
    rows = [
        _patient_row(
            cut.record_id,
            cut.lead,
            cut.windows.labels.astype(np.int64),
            cut.windows.exclusions["no_beat_annotation"],
        )
        for cut in records.records
    ]
    return _window_set(
        records.signals,
        records.labels.astype(np.int64),
        records.record_ids,
        rows,
        exclusions,
        records.files,
        records.start_samples,
        lead_names=(lead,),
        source="mitbih",
        fs_hz=window_samples_out / window_s,
        normalise_range=normalise_range,
    )


def simulated_windows(
    n_patients: int,
    windows_per_patient: int,
    *,
    seed: int,
    min_windows_per_class: int = 5,
    band_hz=(0.4, 30.0),
    filter_order: int = 3,
    normalise_range=(0.0, 2.0),
    window_samples_out: int = 128,
    resample_method: str = "polyphase",
) -> WindowSet:
    """Windows from the ``sim-mitbih-windows`` source, preprocessed like the real ones.

    The simulator returns consecutive 1 s windows of one continuous record per patient, so
    each patient's windows are joined back into a record, band-passed and min-max scaled
    over the record, cut again and resampled. Patients with fewer than
    ``min_windows_per_class`` windows of either class are dropped (the paper likewise
    excluded "imbalanced" records); simulation continues until ``n_patients`` are kept
    (at most 20 x ``n_patients`` simulated).
    """
    from ecglib.data import simulated

    simulated_set = simulated.simulate(
        "sim-mitbih-windows",
        n_patients * windows_per_patient * 20,
        seed=derive_seed(seed, "sim-mitbih-windows"),
        windows_per_patient=windows_per_patient,
    ).labelled
    signals, targets, patient_ids, rows, starts = [], [], [], [], []
    dropped = 0
    for patient in pd.unique(simulated_set.patient_ids):
        if len(rows) == n_patients:
            break
        mask = simulated_set.patient_ids == patient
        labels = simulated_set.targets[mask].astype(np.int64)
        if min((labels == 0).sum(), (labels == 1).sum()) < min_windows_per_class:
            dropped += 1
            continue
        record = simulated_set.signals_mv[mask][:, :, 0].reshape(-1)
        scaled = preprocess.bandpass_minmax(
            record,
            simulated_set.fs_hz,
            band_hz=band_hz,
            filter_order=filter_order,
            normalise_range=normalise_range,
        )
        signals.append(
            preprocess.resample_windows(
                scaled.reshape(len(labels), -1), window_samples_out, method=resample_method
            )
        )
        targets.append(labels)
        starts.append(np.arange(len(labels), dtype=np.int64) * (record.size // len(labels)))
        patient_ids += [str(patient)] * len(labels)
        rows.append(_patient_row(str(patient), simulated_set.lead_names[0], labels, 0))
    if len(rows) < n_patients:
        raise ValueError(
            f"only {len(rows)} of {n_patients} simulated patients have >= {min_windows_per_class} windows of each class"
        )
    return _window_set(
        np.concatenate(signals),
        np.concatenate(targets),
        patient_ids,
        rows,
        {"simulated_patients_imbalanced": dropped},
        [],
        np.concatenate(starts),
        lead_names=simulated_set.lead_names,
        source="sim-mitbih-windows",
        fs_hz=window_samples_out / 1.0,
        normalise_range=normalise_range,
    )


def windows_from_params(cfg: Mapping[str, Any], *, data_root=None) -> WindowSet:
    """The windows a profile asks for (``data_source`` mitbih or sim-mitbih-windows): the cfg adaptor."""
    shared = dict(
        band_hz=cfg["bandpass_hz"],
        filter_order=cfg["filter_order"],
        normalise_range=cfg["normalise_range"],
        window_samples_out=cfg["window_samples_out"],
        resample_method=cfg["resample_method"],
    )
    if cfg["data_source"] == "mitbih":
        return mitbih_windows(
            cfg["patients"],
            root=data_root,
            lead=cfg["lead"],
            lead_fallback=cfg["lead_fallback"],
            window_s=cfg["window_s"],
            normal_symbols=tuple(cfg["normal_symbols"]),
            use_cache=cfg["use_cache"],
            **shared,
        )
    return simulated_windows(
        cfg["sim_n_patients"],
        cfg["sim_windows_per_patient"],
        seed=cfg["seed"],
        min_windows_per_class=cfg["sim_min_windows_per_class"],
        **shared,
    )


# --------------------------------------------------------------------------- splits
@dataclass
class PatientSplits:
    """Per-window assignment: ``part`` (n_windows,) in {"train", "val", "test"}; index arrays per patient."""

    part: np.ndarray
    by_patient: dict[str, dict[str, np.ndarray]]

    def indices(self, part: str, patients=None) -> np.ndarray:
        """Global indices of ``part`` windows of ``patients`` (default: all), sorted."""
        patients = list(self.by_patient) if patients is None else patients
        return np.sort(np.concatenate([self.by_patient[p][part] for p in patients])).astype(np.int64)


def split_windows(
    windows: LabelledSet, *, test_fraction: float = 0.2, val_fraction: float = 0.2, seed: int
) -> PatientSplits:
    """Within each patient: stratified ``test_fraction`` test, then ``val_fraction`` of the rest as validation.

    Every patient is split on its own (the paper's protocol) with its own seed
    (``derive_seed(seed, "split", patient)``), so patients do not share a split pattern.
    """
    part = np.empty(len(windows), dtype=object)
    by_patient = {}
    for patient in pd.unique(windows.patient_ids):
        rows = np.flatnonzero(windows.patient_ids == patient)
        split = within_patient_split(
            windows.targets[rows],
            test_fraction=test_fraction,
            val_fraction_of_rest=val_fraction,
            seed=derive_seed(seed, "split", str(patient)),
        )
        by_patient[str(patient)] = {
            "train": rows[split.train],
            "val": rows[split.val],
            "test": rows[split.test],
        }
        for name in ("train", "val", "test"):
            part[rows[getattr(split, name)]] = name
    return PatientSplits(part.astype(str), by_patient)


def subset_splits(splits: PatientSplits, patients) -> tuple[np.ndarray, PatientSplits]:
    """The windows of ``patients`` only, with the same train/val/test assignment.

    Returns ``(rows, sub_splits)``: ``rows`` are the kept windows' indices in the full set
    (sorted); ``sub_splits`` indexes into ``rows`` (position ``i`` = window ``rows[i]``).
    """
    patients = [str(p) for p in patients]
    rows = np.sort(np.concatenate([np.concatenate(list(splits.by_patient[p].values())) for p in patients]))
    position = np.full(len(splits.part), -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    by_patient = {p: {name: position[idx] for name, idx in splits.by_patient[p].items()} for p in patients}
    return rows, PatientSplits(splits.part[rows], by_patient)


def assert_no_test_in(indices: np.ndarray, splits: PatientSplits) -> None:
    """Raise AssertionError if any of ``indices`` is a test window."""
    leaked = np.asarray(indices)[splits.part[np.asarray(indices)] == "test"]
    if len(leaked):
        raise AssertionError(
            f"{len(leaked)} test windows would be used for training or selection, e.g. {leaked[:5]}"
        )


# --------------------------------------------------------------------------- training
def pretrain(
    model_factory,
    signals,
    targets,
    splits: PatientSplits,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    weight_decay: float,
    seed: int,
    device="cpu",
    patients=None,
    checkpoint_dir=None,
) -> GridResult:
    """Pre-train one model on the pooled training windows of ``patients`` (default all).

    Validation: the pooled validation windows; the weights with the lowest validation loss
    are kept. Test windows are never used (checked). ``checkpoint_dir``: as in
    :func:`run_patient_grid` (a finished pre-training found there is reused).
    """
    train = splits.indices("train", patients)
    val = splits.indices("val", patients)
    assert_no_test_in(np.concatenate([train, val]), splits)
    run = GridRun(
        train,
        val,
        lr=lr,
        batch_size=batch_size,
        weighted_sampling=False,
        seed=derive_seed(seed, "pretrain"),
        tags={"mode": "pretrain"},
    )
    result = train_grid(
        model_factory,
        signals,
        targets,
        [run],
        epochs=epochs,
        weight_decay=weight_decay,
        device=device,
        checkpoint_dir=checkpoint_dir,
    )[0]
    if result.diverged:
        raise TrainingDiverged(
            f"pre-training diverged (a loss became NaN or infinite at lr {lr}); lower pretrain_lr"
        )
    return result


def grid_runs(
    splits: PatientSplits,
    patients,
    *,
    learning_rates,
    batch_sizes,
    weighted_sampling,
    seed: int,
    pretrained_state=None,
    modes=MODES,
) -> list[GridRun]:
    """Every (patient, mode, lr, batch size, weighted sampling) run.

    Individual and fine-tuned runs of the same patient and grid point share the data-order
    seed (a paired comparison: they differ only in their initial weights).
    """
    runs = []
    for patient in patients:
        parts = splits.by_patient[patient]
        for lr, batch_size, weighted in (
            (lr, b, w) for lr in learning_rates for b in batch_sizes for w in weighted_sampling
        ):
            run_seed = derive_seed(seed, "grid", patient, float(lr), int(batch_size), bool(weighted))
            for mode in modes:
                if mode == "fine_tuned" and pretrained_state is None:
                    raise ValueError("fine-tuned runs need pretrained_state")
                runs.append(
                    GridRun(
                        parts["train"],
                        parts["val"],
                        lr=float(lr),
                        batch_size=int(batch_size),
                        weighted_sampling=bool(weighted),
                        seed=run_seed,
                        test_indices=parts["test"],
                        init_state=pretrained_state if mode == "fine_tuned" else None,
                        tags={
                            "patient": patient,
                            "mode": mode,
                            "lr": float(lr),
                            "batch_size": int(batch_size),
                            "weighted_sampling": bool(weighted),
                        },
                    )
                )
    return runs


def run_patient_grid(
    model_factory,
    signals,
    targets,
    splits: PatientSplits,
    patients,
    *,
    learning_rates,
    batch_sizes,
    weighted_sampling,
    epochs: int,
    weight_decay: float,
    seed: int,
    pretrained_state,
    device="cpu",
    max_samples_per_step: int = 256,
    n_workers: int = 1,
    progress: bool = False,
    checkpoint_dir=None,
):
    """Train the whole grid for both modes; return (results DataFrame, {(patient, mode, lr, bs, ws): history}).

    ``checkpoint_dir``: keep each finished run there and reuse the ones found (see
    ``ecglib.grid.train_grid``), so an interrupted grid resumes.

    The results have one row per run: patient, mode, lr, batch_size, weighted_sampling,
    best_epoch, val_loss, val_balanced_accuracy, test_loss, test_balanced_accuracy, n_train,
    n_val, n_test.
    """
    runs, results = train_patient_grid(
        model_factory,
        signals,
        targets,
        splits,
        patients,
        learning_rates=learning_rates,
        batch_sizes=batch_sizes,
        weighted_sampling=weighted_sampling,
        epochs=epochs,
        weight_decay=weight_decay,
        seed=seed,
        pretrained_state=pretrained_state,
        device=device,
        max_samples_per_step=max_samples_per_step,
        n_workers=n_workers,
        progress=progress,
        checkpoint_dir=checkpoint_dir,
    )
    return grid_table(results, [_sizes(run) for run in runs])


def _sizes(run: GridRun) -> tuple[int, int, int]:
    return len(run.train_indices), len(run.val_indices), len(run.test_indices)


def train_patient_grid(
    model_factory,
    signals,
    targets,
    splits: PatientSplits,
    patients,
    *,
    learning_rates,
    batch_sizes,
    weighted_sampling,
    epochs: int,
    weight_decay: float,
    seed: int,
    pretrained_state,
    device="cpu",
    max_samples_per_step: int = 256,
    n_workers: int = 1,
    progress: bool = False,
    checkpoint_dir=None,
    label: str = "",
) -> tuple[list[GridRun], list[GridResult]]:
    """The runs of :func:`grid_runs` and their results (``ecglib.grid.train_grid``, no weights kept).

    One line is printed per finished chunk (``label`` is added to it).
    """
    runs = grid_runs(
        splits,
        patients,
        learning_rates=learning_rates,
        batch_sizes=batch_sizes,
        weighted_sampling=weighted_sampling,
        seed=seed,
        pretrained_state=pretrained_state,
    )
    started, n_done = time.perf_counter(), 0

    def log_chunk(chunk_results):  # a line per finished chunk: long headless runs show where they are
        nonlocal n_done
        n_done += len(chunk_results)
        print(
            f"grid{label}: {n_done}/{len(runs)} runs done after {time.perf_counter() - started:.0f} s",
            flush=True,
        )

    results = train_grid(
        model_factory,
        signals,
        targets,
        runs,
        epochs=epochs,
        weight_decay=weight_decay,
        max_samples_per_step=max_samples_per_step,
        device=device,
        progress=progress,
        keep_states=False,
        n_workers=n_workers,
        on_chunk_done=log_chunk,
        checkpoint_dir=checkpoint_dir,
    )
    return runs, results


#: the tags of a grid run (:func:`grid_runs`), the first columns of :func:`grid_table`
GRID_TAGS = ("patient", "mode", "lr", "batch_size", "weighted_sampling")


def grid_table(results, sizes) -> tuple[pd.DataFrame, dict]:
    """:func:`run_patient_grid`'s (results DataFrame, histories) from the grid's results in run order.

    ``sizes``: per run (n_train, n_val, n_test).
    """
    rows, histories = [], {}
    for (n_train, n_val, n_test), result in zip(sizes, results, strict=True):
        tags = result.tags  # a cached result's tags come back in sorted order: the columns in grid order
        rows.append(
            {
                **{name: tags[name] for name in GRID_TAGS},
                **tags,
                "best_epoch": result.best_epoch,
                "val_loss": result.val_loss,
                "val_balanced_accuracy": result.val_balanced_accuracy,
                "test_loss": result.test_loss,
                "test_balanced_accuracy": result.test_balanced_accuracy,
                "n_train": n_train,
                "n_val": n_val,
                "n_test": n_test,
                "diverged": result.diverged,
            }
        )
        histories[
            (tags["patient"], tags["mode"], tags["lr"], tags["batch_size"], tags["weighted_sampling"])
        ] = result.history
    return pd.DataFrame(rows), histories


# The thin adaptors of the notebook's training cells: the only training code that reads a
# profile's parameters (everything above takes explicit keywords).


def grid_checkpoint_dir(cfg):
    """``<cache>/grid_runs`` (a ``pathlib.Path``) when the profile uses the cache (finished runs are
    kept there and resumed), else None. The notebook's 2-D variant uses it; the 1-D grid is units
    (:func:`plan_units`, :func:`ecglib.units.study_cache_dir`)."""
    from ecglib.data import cache_dir

    return cache_dir() / "grid_runs" if cfg["use_cache"] else None


def pretrain_from_params(
    cfg, model_factory, signals, targets, splits: PatientSplits, *, patients, device, variant: bool = False
) -> GridResult:
    """:func:`pretrain` with the profile's ``pretrain_*`` settings (``variant=True``: the 2-D
    variant's ``variant_pretrain_epochs``), checkpointed under :func:`grid_checkpoint_dir`."""
    return pretrain(
        model_factory,
        signals,
        targets,
        splits,
        epochs=cfg["variant_pretrain_epochs"] if variant else cfg["pretrain_epochs"],
        lr=cfg["pretrain_lr"],
        batch_size=cfg["pretrain_batch_size"],
        weight_decay=cfg["weight_decay"],
        seed=cfg["seed"],
        device=device,
        patients=patients,
        checkpoint_dir=grid_checkpoint_dir(cfg),
    )


def patient_grid_from_params(
    cfg,
    model_factory,
    signals,
    targets,
    splits: PatientSplits,
    patients,
    *,
    pretrained_state,
    device,
    variant: bool = False,
):
    """:func:`run_patient_grid` with the profile's grid (``learning_rates``, ``batch_sizes``,
    ``weighted_sampling``, ``epochs``; ``variant=True``: their ``variant_*`` versions),
    checkpointed under :func:`grid_checkpoint_dir`."""
    grid_keys = ("learning_rates", "batch_sizes", "weighted_sampling", "epochs")
    grid = {key: cfg[f"variant_{key}" if variant else key] for key in grid_keys}
    return run_patient_grid(
        model_factory,
        signals,
        targets,
        splits,
        patients,
        **grid,
        weight_decay=cfg["weight_decay"],
        seed=cfg["seed"],
        pretrained_state=pretrained_state,
        device=device,
        max_samples_per_step=cfg["grid_samples_per_step"],
        n_workers=cfg["grid_workers"],
        checkpoint_dir=grid_checkpoint_dir(cfg),
    )


# --------------------------------------------------------------------------- the grid as units
# The 1-D grid as cached units (ecglib.units): the pooled pre-training, then one unit per patient
# (that patient's whole grid, both modes, trained together as train_grid does). The notebook runs
# the missing ones (ecglib.units.run_units); `ecglib plan vavekanand` / `ecglib unit run` run them
# one by one (ecglib.workflow). A unit computed either way is the same file, bit for bit.

#: bump when a unit's computation changes its results
UNIT_CODE_VERSION = "vavekanand-unit-1"
#: name of the pre-training unit (a patient's unit is ``patient/<record id>``)
PRETRAIN_UNIT = "pretrain"


def patient_unit(patient: str) -> str:
    """The name of ``patient``'s grid unit."""
    return f"patient/{patient}"


@dataclass
class GridInputs:
    """What the 1-D grid trains on.

    Attributes
    ----------
    signals : tensor (n_windows, 1, window_samples_out), float32 (:func:`to_model_input`)
    targets : int64 array (n_windows,), 0 normal / 1 abnormal
    splits : the per-patient splits (:func:`split_windows`)
    patients : the patients of the grid and of the pooled pre-training, in order
    digest : unit key of the signals and targets (named by every unit)
    """

    signals: torch.Tensor
    targets: np.ndarray
    splits: PatientSplits
    patients: list[str]
    digest: str


def grid_inputs(
    windows: LabelledSet, patients, *, test_fraction: float, val_fraction: float, seed: int
) -> GridInputs:
    """Split ``windows`` per patient (:func:`split_windows`) and digest them, for :func:`plan_units`."""
    splits = split_windows(windows, test_fraction=test_fraction, val_fraction=val_fraction, seed=seed)
    signals = to_model_input(windows)
    targets = np.asarray(windows.targets).astype(np.int64)
    return GridInputs(
        signals, targets, splits, [str(p) for p in patients], units.unit_key(signals=signals, targets=targets)
    )


def patients_from_params(cfg: Mapping[str, Any], window_set: WindowSet) -> list[str]:
    """The profile's patients among those with windows (MIT-BIH: every record read, i.e. ``patients``)."""
    requested = cfg["patients"] if cfg["data_source"] != "mitbih" else None
    return check_patients(requested, window_set.per_patient["patient"])


def grid_inputs_from_params(cfg: Mapping[str, Any], window_set: WindowSet) -> GridInputs:
    """:func:`grid_inputs` with the profile's split fractions, seed and patients."""
    return grid_inputs(
        window_set.windows,
        patients_from_params(cfg, window_set),
        test_fraction=cfg["test_fraction"],
        val_fraction=cfg["val_fraction"],
        seed=cfg["seed"],
    )


def model_factory_from_params(cfg: Mapping[str, Any]):
    """The 1-D CNN of the profile (``window_samples_out`` inputs, ``dense_activation``), as a factory."""
    from ecglib.models.beat_cnn import BeatCNN

    return partial(BeatCNN, 1, cfg["window_samples_out"], dense_activation=cfg["dense_activation"])


def plan_units(
    model_factory,
    inputs: GridInputs,
    *,
    pretrain_epochs: int,
    pretrain_lr: float,
    pretrain_batch_size: int,
    learning_rates,
    batch_sizes,
    weighted_sampling,
    epochs: int,
    weight_decay: float,
    seed: int,
    device="cpu",
    max_samples_per_step: int = 256,
    n_workers: int = 1,
) -> list[Unit]:
    """The pre-training unit, then one unit per patient of ``inputs.patients`` (its whole grid).

    A unit's key names the code version, the architecture, the data's digest, its split indices,
    its hyper-parameters and the master seed; a patient's unit names the pre-training by that
    unit's key (which determines the weights it starts the fine-tuned runs from), not by the weights.
    ``max_samples_per_step`` is part of a patient's key: it decides which runs are trained together,
    and so the last bits of their numbers. ``device`` and ``n_workers`` are not (the same results).

    Returns
    -------
    list of Unit, runnable by :func:`ecglib.units.run_units` (payloads: :func:`ecglib.grid.result_payload`
    of the pre-training; per patient ``{"results": [result_payload, ...], "n_train", "n_val", "n_test"}``)
    """
    from ecglib.grid import initial_state_module

    splits, patients = inputs.splits, list(inputs.patients)
    common = {
        "code": UNIT_CODE_VERSION,
        "architecture": repr(initial_state_module(model_factory)),
        "data": inputs.digest,
        "weight_decay": float(weight_decay),
        "seed": int(seed),
    }
    pre_parts = {
        **common,
        "role": "pretrain",
        "train": splits.indices("train", patients),
        "val": splits.indices("val", patients),
        "epochs": int(pretrain_epochs),
        "lr": float(pretrain_lr),
        "batch_size": int(pretrain_batch_size),
    }
    pre_compute = partial(
        _pretrain_compute,
        model_factory,
        inputs.signals,
        inputs.targets,
        splits,
        patients=patients,
        epochs=pretrain_epochs,
        lr=pretrain_lr,
        batch_size=pretrain_batch_size,
        weight_decay=weight_decay,
        seed=seed,
        device=device,
    )
    grid = [Unit(PRETRAIN_UNIT, pre_parts, pre_compute)]
    pre_key = grid[0].key
    grid_settings = dict(
        learning_rates=[float(lr) for lr in learning_rates],
        batch_sizes=[int(size) for size in batch_sizes],
        weighted_sampling=[bool(weighted) for weighted in weighted_sampling],
        epochs=int(epochs),
    )
    for patient in patients:
        parts = splits.by_patient[patient]
        unit_parts = {
            **common,
            **grid_settings,
            "role": "patient_grid",
            "patient": patient,
            "train": parts["train"],
            "val": parts["val"],
            "test": parts["test"],
            "samples_per_step": int(max_samples_per_step),
            "init": pre_key,
        }
        compute = partial(
            _patient_compute,
            model_factory,
            inputs.signals,
            inputs.targets,
            splits,
            patient,
            **grid_settings,
            weight_decay=weight_decay,
            seed=seed,
            device=device,
            max_samples_per_step=max_samples_per_step,
            n_workers=n_workers,
        )
        grid.append(Unit(patient_unit(patient), unit_parts, compute, needs=(PRETRAIN_UNIT,)))
    return grid


def _pretrain_compute(model_factory, signals, targets, splits, needed, **kwargs) -> dict:
    from ecglib.grid import result_payload

    return result_payload(pretrain(model_factory, signals, targets, splits, **kwargs))


def _patient_compute(model_factory, signals, targets, splits, patient, needed, **kwargs) -> dict:
    from ecglib.grid import result_payload

    runs, results = train_patient_grid(
        model_factory,
        signals,
        targets,
        splits,
        [patient],
        pretrained_state=needed[PRETRAIN_UNIT]["best_state_dict"],
        label=f" {patient}",
        **kwargs,
    )
    n_train, n_val, n_test = _sizes(runs[0])
    return {
        "results": [result_payload(result) for result in results],
        "n_train": n_train,
        "n_val": n_val,
        "n_test": n_test,
    }


def plan_from_params(cfg: Mapping[str, Any], inputs: GridInputs, *, device="cpu") -> list[Unit]:
    """:func:`plan_units` with the profile's CNN, pre-training and grid (the notebook's units)."""
    return plan_units(
        model_factory_from_params(cfg),
        inputs,
        pretrain_epochs=cfg["pretrain_epochs"],
        pretrain_lr=cfg["pretrain_lr"],
        pretrain_batch_size=cfg["pretrain_batch_size"],
        learning_rates=cfg["learning_rates"],
        batch_sizes=cfg["batch_sizes"],
        weighted_sampling=cfg["weighted_sampling"],
        epochs=cfg["epochs"],
        weight_decay=cfg["weight_decay"],
        seed=cfg["seed"],
        device=device,
        max_samples_per_step=cfg["grid_samples_per_step"],
        n_workers=cfg["grid_workers"],
    )


def stand_in_inputs(cfg: Mapping[str, Any]) -> GridInputs:
    """Shape-only stand-ins of the profile's windows and splits, for :func:`plan_from_params` without MIT-BIH.

    The profile's patients (``patients``, default the paper's 29), each with the paper's mean
    window count (``reported.yaml``: n_windows / n_patients) split as the profile says; no signals,
    and a digest that is the profile's name. The units (names, needs, sizes) are the profile's; their
    keys name no real data, so they are for dry runs only (their ``compute`` cannot run). Records a
    profile would exclude (``lead_fallback: exclude``) cannot be known without the data and are kept.
    """
    paper = reported("vavekanand")
    patients = [str(p) for p in (cfg["patients"] or paper_patients())]
    n_per_patient = int(paper["n_windows"]) // int(paper["n_patients"])
    n_test = int(round(cfg["test_fraction"] * n_per_patient))
    n_val = int(round(cfg["val_fraction"] * (n_per_patient - n_test)))
    part = np.empty(n_per_patient * len(patients), dtype=object)
    by_patient = {}
    for number, patient in enumerate(patients):
        rows = number * n_per_patient + np.arange(n_per_patient, dtype=np.int64)
        by_patient[patient] = {
            "train": rows[: n_per_patient - n_test - n_val],
            "val": rows[n_per_patient - n_test - n_val : n_per_patient - n_test],
            "test": rows[n_per_patient - n_test :],
        }
        for name, indices in by_patient[patient].items():
            part[indices] = name
    return GridInputs(
        signals=torch.zeros((0, 1, int(cfg["window_samples_out"]))),
        targets=np.zeros(len(part), dtype=np.int64),
        splits=PatientSplits(part.astype(str), by_patient),
        patients=patients,
        digest=f"stand-in:vavekanand/{cfg['profile']}",
    )


def pretrained_from_payloads(payloads: Mapping[str, Any]) -> GridResult:
    """The pre-training's result (weights, history, best epoch) from :func:`ecglib.units.run_units`' payloads."""
    from ecglib.grid import result_from_payload

    return result_from_payload(payloads[PRETRAIN_UNIT])


def grid_from_payloads(payloads: Mapping[str, Any], patients) -> tuple[pd.DataFrame, dict]:
    """:func:`run_patient_grid`'s (results DataFrame, histories) of ``patients`` from their units' payloads.

    The rows come in the order :func:`run_patient_grid` gives them (patients, grid points, modes).
    """
    from ecglib.grid import result_from_payload

    results, sizes = [], []
    for patient in patients:
        payload = payloads[patient_unit(patient)]
        for item in payload["results"]:
            results.append(result_from_payload(item))
            sizes.append((int(payload["n_train"]), int(payload["n_val"]), int(payload["n_test"])))
    return grid_table(results, sizes)


# --------------------------------------------------------------------------- selection and tables
SELECTIONS = ("validation", "test_set_as_in_paper")


def select_per_patient(
    results: pd.DataFrame, *, model_selection: str = "validation", finetune_hyperparameters: str = "own_grid"
) -> pd.DataFrame:
    """The chosen grid point per (patient, mode).

    ``model_selection``: "validation" picks the highest validation balanced accuracy (ties:
    lower validation loss, then grid order); "test_set_as_in_paper" picks the highest *test*
    balanced accuracy (the flaw the reference notes describe; a labelled option only).
    ``finetune_hyperparameters``: "own_grid" selects the fine-tuned models from their own
    grid; "individual_choice" fine-tunes with the grid point chosen for the patient's
    individual classifier (the paper's discussion says it reused those hyper-parameters).
    Runs marked ``diverged`` (a loss became NaN or infinite) are never chosen.
    """
    if model_selection not in SELECTIONS:
        raise ValueError(f"model_selection must be one of {SELECTIONS}, got {model_selection!r}")
    if finetune_hyperparameters not in ("own_grid", "individual_choice"):
        raise ValueError(
            f"finetune_hyperparameters must be 'own_grid' or 'individual_choice', got {finetune_hyperparameters!r}"
        )
    score = "val_balanced_accuracy" if model_selection == "validation" else "test_balanced_accuracy"
    usable = results[score].fillna(-1.0)
    if "diverged" in results:  # a run whose loss became NaN/inf is never chosen
        usable = usable.where(~results["diverged"].astype(bool), -1.0)
    ordered = results.assign(_order=np.arange(len(results)), _score=usable)
    ordered = ordered.sort_values(
        ["patient", "mode", "_score", "val_loss", "_order"], ascending=[True, True, False, True, True]
    )
    chosen = ordered.groupby(["patient", "mode"], sort=False).head(1)
    if finetune_hyperparameters == "individual_choice":
        keys = ["patient", "lr", "batch_size", "weighted_sampling"]
        individual = chosen[chosen["mode"] == "individual"][keys]
        fine = results[results["mode"] == "fine_tuned"].merge(individual, on=keys)
        chosen = pd.concat([chosen[chosen["mode"] == "individual"], fine.assign(_order=0, _score=0.0)])
    return chosen.drop(columns=["_order", "_score"]).reset_index(drop=True)


def table1(
    chosen: pd.DataFrame, per_patient: pd.DataFrame, reported_rows: dict | None = None, patients=None
) -> pd.DataFrame:
    """Table 1: per patient the chosen batch size, lr, weighted sampling and test balanced accuracy, both modes, beside the paper's.

    ``reported_rows``: record id -> {batch_size, lr, weighted_sampling, balanced_accuracy}
    (``params/vavekanand/reported.yaml``); missing patients get empty paper columns.
    """
    patients = list(per_patient["patient"]) if patients is None else list(patients)
    rows = []
    for patient in patients:
        row = {"patient": patient}
        counts = per_patient.set_index("patient").loc[patient]
        row.update(n_windows=int(counts["n_windows"]), n_abnormal=int(counts["n_abnormal"]))
        for mode, short in (("individual", "ind"), ("fine_tuned", "ft")):
            pick = chosen[(chosen["patient"] == patient) & (chosen["mode"] == mode)]
            if len(pick):
                pick = pick.iloc[0]
                row.update(
                    {
                        f"{short}_batch_size": int(pick["batch_size"]),
                        f"{short}_lr": float(pick["lr"]),
                        f"{short}_weighted_sampling": bool(pick["weighted_sampling"]),
                        f"{short}_balanced_accuracy": float(pick["test_balanced_accuracy"]),
                    }
                )
        paper = (reported_rows or {}).get(str(patient))
        row.update(
            paper_batch_size=paper["batch_size"] if paper else None,
            paper_lr=paper["lr"] if paper else None,
            paper_weighted_sampling=paper["weighted_sampling"] if paper else None,
            paper_balanced_accuracy=paper["balanced_accuracy"] if paper else None,
        )
        rows.append(row)
    return pd.DataFrame(rows)


def summary(table: pd.DataFrame) -> dict[str, float]:
    """Mean test balanced accuracy, count above 0.95 and count below 0.75, per mode, plus the patient count."""
    out = {"n_patients": float(len(table))}
    for short, mode in (("ind", "individual"), ("ft", "fine_tuned")):
        values = table[f"{short}_balanced_accuracy"].astype(float)
        out[f"mean_bacc_{mode}"] = float(values.mean())
        out[f"n_above_95_{mode}"] = float((values > 0.95).sum())
        out[f"n_below_75_{mode}"] = float((values < 0.75).sum())
    return out


def gain_table(table: pd.DataFrame, splits: PatientSplits) -> pd.DataFrame:
    """Per patient: training windows and fine-tuned minus individual test balanced accuracy."""
    n_train = {p: len(parts["train"]) for p, parts in splits.by_patient.items()}
    return pd.DataFrame(
        {
            "patient": table["patient"],
            "n_train": [n_train[p] for p in table["patient"]],
            "gain": table["ft_balanced_accuracy"].astype(float)
            - table["ind_balanced_accuracy"].astype(float),
        }
    )


def selection_variants(results: pd.DataFrame, per_patient: pd.DataFrame, patients) -> pd.DataFrame:
    """The headline numbers (:func:`summary`) under every selection rule and fine-tuning reading, from one grid."""
    rows = []
    for selection in SELECTIONS:
        for finetune in ("own_grid", "individual_choice"):
            chosen = select_per_patient(results, model_selection=selection, finetune_hyperparameters=finetune)
            variant = summary(table1(chosen, per_patient, None, patients=patients))
            rows.append({"model_selection": selection, "finetune_hyperparameters": finetune, **variant})
    return pd.DataFrame(rows)


def tidy_balanced_accuracy(table: pd.DataFrame) -> pd.DataFrame:
    """Table 1's test balanced accuracies as :mod:`ecglib.paper_tables` trials: arm = mode, trial = patient."""
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "arm": mode,
                    "condition": "all patients",
                    "trial": table["patient"],
                    "value": table[column].astype(float),
                }
            )
            for mode, column in (
                ("individual", "ind_balanced_accuracy"),
                ("fine_tuned", "ft_balanced_accuracy"),
            )
        ],
        ignore_index=True,
    )


#: scalar facts beside the paper's (``paper_tables.scalars``; keys of ``reported.yaml``)
_BACC = "balanced_accuracy.all patients"
SUMMARY_ROWS = (
    paper_tables.Row("windows", "n_windows", "windows"),
    paper_tables.Row("patients", "n_patients", "patients"),
    paper_tables.Row("trainable parameters", "n_parameters"),
    paper_tables.Row("pre-training best epoch", "pretrain_best_epoch", "epoch"),
    paper_tables.Row(
        "mean balanced accuracy, individual",
        "mean_bacc_individual",
        "%",
        paper=f"{_BACC}.individual.mean",
        scale=100,
    ),
    paper_tables.Row(
        "mean balanced accuracy, fine-tuned",
        "mean_bacc_fine_tuned",
        "%",
        paper=f"{_BACC}.fine_tuned.mean",
        scale=100,
    ),
    paper_tables.Row("patients above 95 %, individual", "n_above_95_individual", "patients"),
    paper_tables.Row("patients above 95 %, fine-tuned", "n_above_95_fine_tuned", "patients"),
    paper_tables.Row("patients below 75 %, individual", "n_below_75_individual", "patients"),
    paper_tables.Row("patients below 75 %, fine-tuned", "n_below_75_fine_tuned", "patients"),
)

#: the paper's claims (results: :func:`claim_results`)
CLAIMS = (
    claims.within(
        "Individual classifiers: mean test balanced accuracy 94.6 %",
        "Baseline classifiers trained on individual patient data achieved an average balanced accuracy of 94.6% "
        "on the test set",
        ours="bacc.individual",
        paper=f"{_BACC}.individual.mean",
        tolerance=0.02,
        scale=100,
        unit="%",
    ),
    claims.within(
        "Fine-tuned classifiers: mean test balanced accuracy 93.5 %",
        "Fine-tuned models, leveraging pre-trained weights, achieved an average balanced accuracy of 93.5%",
        ours="bacc.fine_tuned",
        paper=f"{_BACC}.fine_tuned.mean",
        tolerance=0.02,
        scale=100,
        unit="%",
    ),
    claims.greater(
        "Individual classifiers slightly outperform fine-tuned ones on average",
        "93.5%, slightly below the individual classifiers",
        a="bacc.individual",
        b="bacc.fine_tuned",
        test="paired_t",
        significance_claimed=False,
        paper_a=f"{_BACC}.individual.mean",
        paper_b=f"{_BACC}.fine_tuned.mean",
    ),
    claims.correlated(
        "Fine-tuning helps patients with little data (gain falls with training windows)",
        "transfer learning proved advantageous for patients with limited data",
        x="n_train",
        y="gain",
        sign=-1,
        test="spearman",
    ),
)


def claim_results(table: pd.DataFrame, gains: pd.DataFrame) -> dict:
    """The numbers :data:`CLAIMS` are tested on: per-patient test balanced accuracy per mode, training windows, gain."""
    return {
        "bacc": {
            "individual": table["ind_balanced_accuracy"].astype(float).to_numpy(),
            "fine_tuned": table["ft_balanced_accuracy"].astype(float).to_numpy(),
        },
        "n_train": gains["n_train"].to_numpy(dtype=float),
        "gain": gains["gain"].to_numpy(dtype=float),
    }


def paired_ttest_p(table: pd.DataFrame) -> float | None:
    """Two-sided paired t-test p of fine-tuned vs individual over patients (None below 2 patients or when undefined)."""
    if len(table) < 2:
        return None
    fine_tuned = table["ft_balanced_accuracy"].astype(float).to_numpy()
    individual = table["ind_balanced_accuracy"].astype(float).to_numpy()
    p = stats.paired_test(fine_tuned, individual, method="ttest").p
    return p if np.isfinite(p) else None


# --------------------------------------------------------------------------- figures
#: the curves of Figures 3, 5 and 7 (``ecglib.figures.long_curves``) and Figures 4 and 6's reference lines
LOSS_CURVES = {"train_loss": "training", "val_loss": "validation"}
BACC_CURVES = {"train_balanced_accuracy": "training", "val_balanced_accuracy": "validation"}
BACC_BINS = np.linspace(0.5, 1.0, 21)
BACC_LINES = {"95 %": 0.95, "75 %": 0.75}


# --------------------------------------------------------------------------- image variant
def image_inputs(windows: LabelledSet, *, image_size: int) -> np.ndarray:
    """GAF, MTF and RP of every window stacked as channels: (n_windows, 3, image_size, image_size)."""
    from ecglib.images import gaf_mtf_rp_images

    return gaf_mtf_rp_images(windows.signals_mv[:, :, 0], image_size=image_size)


def to_model_input(windows: LabelledSet) -> torch.Tensor:
    """Windows as a torch batch (n_windows, n_leads, n_samples), float32."""
    return torch.from_numpy(np.ascontiguousarray(windows.signals_mv.transpose(0, 2, 1), dtype=np.float32))


def check_patients(requested, available) -> list[str]:
    """``requested`` (None = all ``available``) as strings, each present in ``available``."""
    available = [str(p) for p in available]
    if requested is None:
        return available
    missing = [str(p) for p in requested if str(p) not in available]
    if missing:
        raise ValueError(f"patients {missing} have no windows; available: {available}")
    return [str(p) for p in requested]
