"""Jang, Kim, Yoon 2021: convolutional-autoencoder transfer for ECG rhythm classification.

Glue for ``notebooks/jang2021.ipynb``: data preparation (lead II, 250 Hz, 2,048 samples,
baseline removal, normalisation), the pre-training corpus, the data-starvation experiment
(three arms x training sizes x trials, all with the same data, epochs, learning rate and
optimiser), the paper-layout tables, Figures 4 and 5, and the verdict. Models live in
:mod:`ecglib.models.cae` and :mod:`ecglib.models.googlenet2d`; the training loop in
:mod:`ecglib.train`.

Arms (names used in every table): ``transfer`` (classifier whose encoder starts from the
pre-trained autoencoder), ``random`` (the same network, randomly initialised) and
``image_transfer`` (spectrograms through a fixed GoogLeNet, trained classifier on its
features).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from ecglib import claims, paper_tables, preprocess, stats
from ecglib.data import DataMissingError, LabelledSet
from ecglib.metrics import learning_curve_index
from ecglib.seeds import derive_seed

ARMS: tuple[str, ...] = ("transfer", "random", "image_transfer")
ARM_TITLES = {
    "transfer": "Transfer learning (CAE encoder)",
    "random": "Random initialisation",
    "image_transfer": "Image transfer (spectrogram + GoogLeNet)",
}
MODEL_SELECTIONS = ("validation", "best_test_epoch_as_in_paper")
#: pairs compared with Welch's t-test, as in the paper's Tables 2 and 3
F1_COMPARISONS = (("transfer", "random"), ("transfer", "image_transfer"))
LCI_COMPARISONS = (("transfer", "random"),)


def _index_digest(indices: np.ndarray) -> str:
    return hashlib.sha256(np.asarray(indices, dtype=np.int64).tobytes()).hexdigest()[:16]


# --------------------------------------------------------------------------- preprocessing


def preprocess_lead(
    signals_mv: np.ndarray,
    *,
    fs_in_hz: float,
    fs_hz: float = 250.0,
    window_samples: int = 2048,
    baseline_cutoff_hz: float = 0.5,
    baseline_order: int = 2,
    normalisation: str = "zscore",
    crop: str = "end",
) -> np.ndarray:
    """The paper's preprocessing of single-lead ECGs.

    Anti-aliased resampling to ``fs_hz`` (scipy ``resample_poly``; the authors' code took
    every second sample), zero-phase Butterworth high-pass for baseline wander, crop (or
    zero-pad) to ``window_samples`` and per-record normalisation.

    Parameters
    ----------
    signals_mv : ndarray of shape (n, n_samples) or (n, n_samples, 1), millivolts
    fs_in_hz, fs_hz : input and output sampling rates, hertz
    window_samples : int, output length (paper: 2,048 = 8.2 s at 250 Hz)
    baseline_cutoff_hz, baseline_order : Butterworth high-pass corner (Hz) and order
    normalisation : {"zscore", "minmax", "none"}; the paper's "zero-normalized" data are z-scores
    crop : {"end", "center"}, see :func:`ecglib.preprocess.crop_or_pad` ("end" keeps the start)

    Returns
    -------
    ndarray of shape (n, window_samples, 1), float32 (z-scores, [0, 1] or mV)
    """
    signals = np.asarray(signals_mv, dtype=np.float32)
    if signals.ndim == 3:
        if signals.shape[2] != 1:
            raise ValueError(f"expected one lead, got signals of shape {signals.shape}")
        signals = signals[:, :, 0]
    if signals.ndim != 2:
        raise ValueError(f"signals_mv must be (n, n_samples) or (n, n_samples, 1), got shape {signals.shape}")
    if normalisation not in ("zscore", "minmax", "none"):
        raise ValueError(f"normalisation must be 'zscore', 'minmax' or 'none', got {normalisation!r}")
    if len(signals) == 0:
        return np.zeros((0, window_samples, 1), dtype=np.float32)
    # records as the columns of one (n_samples, n) array: each step filters along time only
    columns = preprocess.resample(signals.T, fs_in_hz, fs_hz)
    columns = preprocess.remove_baseline(columns, fs_hz, cutoff_hz=baseline_cutoff_hz, order=baseline_order)
    columns = preprocess.crop_or_pad(columns, window_samples, where=crop)
    if normalisation == "zscore":
        columns = preprocess.zscore(columns, axis=0)
    elif normalisation == "minmax":
        columns = preprocess.minmax(columns, axis=0)
    return np.ascontiguousarray(columns.T[:, :, None], dtype=np.float32)


def preprocess_kwargs(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The :func:`preprocess_lead` keywords from a study's parameters."""
    return dict(
        fs_hz=cfg["fs_hz"],
        window_samples=cfg["window_samples"],
        baseline_cutoff_hz=cfg["baseline_cutoff_hz"],
        baseline_order=cfg["baseline_order"],
        normalisation=cfg["normalisation"],
        crop=cfg["crop"],
    )


def cae_kwargs(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The :class:`ecglib.models.cae.ConvAutoencoder` keywords from a study's parameters."""
    return dict(
        n_leads=1,
        n_samples=cfg["window_samples"],
        latent_dim=cfg["cae_latent_dim"],
        kernel_size=cfg["cae_kernel_size"],
        base_filters=cfg["cae_base_filters"],
        activation=cfg["cae_activation"],
        dropout=cfg["cae_dropout"],
        halved_kernel_blocks=cfg["cae_halved_kernel_blocks"],
        decoder_residual=cfg["cae_decoder_residual"],
    )


# --------------------------------------------------------------------------- downstream data


def _lead_column(lead_names: Sequence[str], wanted: str, where: str) -> int:
    lowered = [name.lower() for name in lead_names]
    if wanted.lower() not in lowered:
        raise KeyError(f"{where} has no lead {wanted!r}; its leads are {tuple(lead_names)}")
    return lowered.index(wanted.lower())


def _keep_classes(
    labels: np.ndarray, patient_ids: np.ndarray, *, min_examples: int, min_patients: int
) -> tuple[np.ndarray, dict[str, int]]:
    """Boolean mask of examples whose class has enough examples and patients; exclusions per class."""
    keep = np.ones(len(labels), dtype=bool)
    exclusions = {}
    for name in np.unique(labels):
        members = labels == name
        n_patients = len(np.unique(patient_ids[members]))
        if members.sum() < min_examples or n_patients < min_patients:
            keep &= ~members
            exclusions[f"class_{name}_too_small ({members.sum()} windows, {n_patients} patients)"] = int(
                members.sum()
            )
    return keep, exclusions


def _cap_per_class(labels: np.ndarray, cap: int | None, seed: int) -> np.ndarray:
    """Indices keeping at most ``cap`` random examples of each class (all when ``cap`` is None)."""
    if cap is None:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    kept = []
    for name in np.unique(labels):
        members = np.flatnonzero(labels == name)
        kept.append(members if len(members) <= cap else np.sort(rng.choice(members, cap, replace=False)))
    return np.sort(np.concatenate(kept))


def load_downstream(cfg: Mapping[str, Any], *, data_root=None) -> LabelledSet:
    """The labelled rhythm set of ``cfg["data_source"]``, lead II, preprocessed.

    - ``sim-chapman``: ``cfg["sim_n_examples"]`` simulated 10 s lead II records at 500 Hz
      with the 11 Chapman rhythm classes (offline; for smoke runs).
    - ``mitbih``: 10 s windows of lead MLII lying inside one rhythm interval of the MIT-BIH
      rhythm annotations (360 Hz); classes with fewer than ``mitbih_min_windows_per_class``
      windows or ``mitbih_min_patients_per_class`` patients are dropped (counted in
      ``exclusions``); records without MLII (102, 104) are dropped.
    - ``chapman``: the paper's data, lead II of every record (10 s, 500 Hz).

    Classes with more than ``max_examples_per_class`` examples are randomly capped (seeded).

    Returns
    -------
    LabelledSet with signals ``(n, window_samples, 1)``, single-label targets indexing
    ``target_names``, ``patient_ids``, and ``exclusions``.

    Raises
    ------
    DataMissingError
        the dataset is not under the data root (the message names ``ecglib data download``).
    """
    source = cfg["data_source"]
    kwargs = preprocess_kwargs(cfg)
    exclusions: dict[str, int] = {}
    if source == "sim-chapman":
        from ecglib.data import simulated

        raw = simulated.load_labelled(
            "sim-chapman",
            cfg["sim_n_examples"],
            seed=derive_seed(cfg["seed"], "sim-chapman"),
            fs_hz=500.0,
            duration_s=10.0,
            leads=["II"],
            class_balance=cfg["sim_class_balance"],
        )
        labels = np.asarray(raw.target_names)[raw.targets]
        signals_mv, fs_in_hz, patient_ids = (
            raw.signals_mv[:, :, 0],
            raw.fs_hz,
            np.asarray(raw.patient_ids).astype(str),
        )
        class_order = list(raw.target_names)
    elif source == "mitbih":
        from ecglib import segment
        from ecglib.data import mitbih

        windows, labels_list, patients = [], [], []
        exclusions["record_without_lead"] = 0
        fs_in_hz = mitbih.MITBIH_FS_HZ
        for record_id in mitbih.list_records(data_root):
            record = mitbih.load_record(record_id, data_root)
            try:
                column = _lead_column(record.lead_names, cfg["mitbih_lead"], f"MIT-BIH record {record_id}")
            except KeyError:
                exclusions["record_without_lead"] += 1
                continue
            annotations = mitbih.load_annotations(record_id, data_root)
            cut = segment.rhythm_windows(
                record.signal_mv[:, column],
                annotations.rhythms,
                window_samples=int(round(10.0 * record.fs_hz)),
            )
            for reason, count in cut.exclusions.items():
                exclusions[reason] = exclusions.get(reason, 0) + int(count)
            windows.append(cut.signals)
            labels_list.append(cut.labels)
            patients.append(np.full(len(cut.labels), record.patient_id))
        signals_mv = np.concatenate(windows)
        labels = np.concatenate(labels_list).astype(str)
        patient_ids = np.concatenate(patients).astype(str)
        keep, dropped = _keep_classes(
            labels,
            patient_ids,
            min_examples=cfg["mitbih_min_windows_per_class"],
            min_patients=cfg["mitbih_min_patients_per_class"],
        )
        exclusions.update(dropped)
        signals_mv, labels, patient_ids = signals_mv[keep], labels[keep], patient_ids[keep]
        counts = pd.Series(labels).value_counts()
        class_order = list(counts.index)
    elif source == "chapman":
        from ecglib.data import chapman

        folder = chapman.folder(data_root)
        sub_folder = "ECGDataDenoised" if cfg["chapman_denoised"] else "ECGData"
        if not (folder / sub_folder).is_dir():
            raise DataMissingError("chapman", folder / sub_folder)
        table = chapman.load_labels(data_root)
        signals = []
        for file_name in table["FileName"]:
            record = chapman.load_record(file_name, data_root, denoised=cfg["chapman_denoised"])
            signals.append(record.signal_mv[:, _lead_column(record.lead_names, "II", file_name)])
        signals_mv, fs_in_hz = np.stack(signals), chapman.CHAPMAN_FS_HZ
        labels = table["Rhythm"].to_numpy().astype(str)
        patient_ids = table["patient_id"].to_numpy().astype(str)
        class_order = list(chapman.RHYTHM_CODES)
        exclusions.update(table.attrs.get("exclusions", {}))
    else:
        raise ValueError(f"data_source must be sim-chapman, mitbih or chapman, got {source!r}")

    capped = _cap_per_class(labels, cfg["max_examples_per_class"], derive_seed(cfg["seed"], "cap"))
    if len(capped) < len(labels):
        exclusions["over_max_examples_per_class"] = int(len(labels) - len(capped))
    signals_mv, labels, patient_ids = signals_mv[capped], labels[capped], patient_ids[capped]
    class_order = [name for name in class_order if name in set(labels)]
    targets = np.array([class_order.index(name) for name in labels], dtype=np.int64)
    return LabelledSet(
        signals_mv=preprocess_lead(signals_mv, fs_in_hz=fs_in_hz, **kwargs),
        targets=targets,
        patient_ids=patient_ids,
        fs_hz=float(cfg["fs_hz"]),
        lead_names=("II",),
        target_names=tuple(class_order),
        task="single_label",
        source=source,
        exclusions=exclusions,
        units=cfg["normalisation"],
    )


def check_data_present(cfg: Mapping[str, Any], *, data_root=None) -> None:
    """Fail at once (before any training) when a public dataset the run needs is absent.

    Raises
    ------
    DataMissingError
        naming the folder and ``ecglib data download <name>``.
    """
    from ecglib.data import dataset_folder

    source = cfg["data_source"]
    if source == "chapman":
        folder = dataset_folder("chapman", data_root)
        sub_folder = folder / ("ECGDataDenoised" if cfg["chapman_denoised"] else "ECGData")
        if not sub_folder.is_dir() or not any(sub_folder.glob("*.csv")):
            raise DataMissingError("chapman", sub_folder)
    elif source == "mitbih":
        folder = dataset_folder("mitbih", data_root)
        if not (folder / "RECORDS").is_file():
            raise DataMissingError("mitbih", folder)


# --------------------------------------------------------------------------- pre-training corpus


@dataclass
class PretrainCorpus:
    """Unlabelled lead II examples for the autoencoder.

    Attributes
    ----------
    signals : ndarray of shape (n, window_samples, 1), float32, normalised
    sources : ndarray of shape (n,), str, data source of each example
    group_ids : ndarray of shape (n,), str, patient (or generated example) of each example
    counts : source -> number of examples
    skipped : source -> reason it contributed nothing
    """

    signals: np.ndarray
    sources: np.ndarray
    group_ids: np.ndarray
    counts: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def pretraining_corpus(
    cfg: Mapping[str, Any],
    *,
    exclude_patients: Mapping[str, set[str]] | None = None,
    data_root=None,
) -> PretrainCorpus:
    """Build the unlabelled pre-training corpus (the paper's 2.6 M ICU lead II ECGs are not public).

    Substitutes: ``cfg["pretrain_n_gan"]`` DeepFake-GAN ECGs (lead II of the 8 generated
    leads, 500 Hz, 10 s; cached on disk) plus, for each name in
    ``cfg["pretrain_public_sources"]`` that is present under the data root, its lead II:
    ``ludb`` (10 s records) and ``mitbih`` (non-overlapping 10 s MLII windows), at most
    ``cfg["pretrain_max_per_public_source"]`` examples each. Patients listed in
    ``exclude_patients[source]`` (the downstream validation and test patients) are never used.

    Returns
    -------
    PretrainCorpus
    """
    exclude_patients = exclude_patients or {}
    kwargs = preprocess_kwargs(cfg)
    parts, sources, groups = [], [], []
    counts: dict[str, int] = {}
    skipped: dict[str, str] = {}
    cap = cfg["pretrain_max_per_public_source"]
    gan_seed = derive_seed(cfg["seed"], "deepfake-gan")
    if cfg["pretrain_n_gan"] > 0:
        import warnings

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, message=".*weights_only.*")
            from ecglib.data import deepfake_gan

            generated = deepfake_gan.cached_signals(cfg["pretrain_n_gan"], seed=gan_seed, leads="8")
        column = deepfake_gan.lead_names("8").index("II")
        parts.append(preprocess_lead(generated[:, :, column], fs_in_hz=deepfake_gan.FS_HZ, **kwargs))
        sources += ["deepfake-gan"] * len(generated)
        groups += [f"gan-{gan_seed}-{i}" for i in range(len(generated))]
        counts["deepfake-gan"] = len(generated)
    rng = np.random.default_rng(derive_seed(cfg["seed"], "public-pretraining"))
    for name in cfg["pretrain_public_sources"]:
        excluded = set(exclude_patients.get(name, set()))
        try:
            signals_mv, patient_ids, fs_in_hz = _public_lead_ii(name, data_root=data_root)
        except DataMissingError as error:
            skipped[name] = f"not under the data root ({error.folder})"
            continue
        keep = np.flatnonzero(~np.isin(patient_ids, list(excluded)))
        if cap is not None and len(keep) > cap:
            keep = np.sort(rng.choice(keep, cap, replace=False))
        if len(keep) == 0:
            skipped[name] = "no examples left after excluding downstream patients"
            continue
        parts.append(preprocess_lead(signals_mv[keep], fs_in_hz=fs_in_hz, **kwargs))
        sources += [name] * len(keep)
        groups += [f"{name}-{pid}" for pid in patient_ids[keep]]
        counts[name] = int(len(keep))
    if not parts:
        raise ValueError(
            "the pre-training corpus is empty: set pretrain_n_gan > 0 or provide a public source"
        )
    return PretrainCorpus(
        signals=np.concatenate(parts),
        sources=np.asarray(sources),
        group_ids=np.asarray(groups),
        counts=counts,
        skipped=skipped,
    )


def _public_lead_ii(name: str, *, data_root=None) -> tuple[np.ndarray, np.ndarray, float]:
    """Lead II 10 s examples of a public dataset: (signals (n, n_samples) mV, patient ids, fs_hz)."""
    if name == "ludb":
        from ecglib.data import ludb

        signals, patients = [], []
        for record_id in ludb.list_records(data_root):
            record = ludb.load_record(record_id, data_root)
            signals.append(record.signal_mv[:, _lead_column(record.lead_names, "II", f"LUDB {record_id}")])
            patients.append(record.patient_id)
        return np.stack(signals), np.asarray(patients, dtype=str), ludb.FS_HZ
    if name == "mitbih":
        from ecglib.data import mitbih

        signals, patients = [], []
        window = int(round(10.0 * mitbih.MITBIH_FS_HZ))
        for record_id in mitbih.list_records(data_root):
            record = mitbih.load_record(record_id, data_root)
            try:
                column = _lead_column(record.lead_names, "MLII", f"MIT-BIH {record_id}")
            except KeyError:
                continue
            lead = record.signal_mv[:, column]
            n_windows = len(lead) // window
            signals.append(lead[: n_windows * window].reshape(n_windows, window))
            patients += [record.patient_id] * n_windows
        return np.concatenate(signals), np.asarray(patients, dtype=str), mitbih.MITBIH_FS_HZ
    raise ValueError(f"pretraining public source must be 'ludb' or 'mitbih', got {name!r}")


def pretraining_split(corpus: PretrainCorpus, *, test_fraction: float, val_fraction: float, seed: int):
    """Group-wise train / validation (early stopping) / test (reported error) split of the corpus."""
    from ecglib.data.splits import patient_split

    return patient_split(
        corpus.group_ids, None, test_fraction=test_fraction, val_fraction=val_fraction, seed=seed
    )


# --------------------------------------------------------------------------- data starvation


def trial_indices(
    n_train: int, fraction: float, n_trials: int, *, resampling: str, labels: np.ndarray, seed: int
) -> list[np.ndarray]:
    """Training examples of each trial at one training size.

    ``resampling="bootstrap"`` (the paper: "repeated 10 times using a bootstrapping method"):
    ``round(fraction * n_train)`` examples drawn with replacement; ``"subsample"``: a
    stratified subset without replacement (every trial uses all examples at ``fraction=1``).

    Returns
    -------
    list of ``n_trials`` int64 arrays of positions into the training split
    """
    n_keep = max(1, int(round(fraction * n_train)))
    if resampling == "bootstrap":
        draws = stats.bootstrap_indices(n_train, n_trials, seed=seed)
        return [np.asarray(row[:n_keep], dtype=np.int64) for row in draws]
    if resampling == "subsample":
        return stats.subsample_indices(labels, fraction, n_trials, seed=seed, stratify=fraction < 1)
    raise ValueError(f"resampling must be 'bootstrap' or 'subsample', got {resampling!r}")


def build_model(
    arm: str,
    *,
    n_classes: int,
    seed: int,
    cae_options: Mapping[str, Any],
    head_hidden_units: Sequence[int],
    encoder_state: Mapping[str, torch.Tensor] | None = None,
    n_features: int | None = None,
):
    """The classifier of one arm; the head starts identical (same ``seed``) in every arm.

    Returns
    -------
    (model, n_loaded): ``n_loaded`` is the number of encoder tensors copied from the autoencoder
    (0 except in the transfer arm).
    """
    from ecglib.models import cae, googlenet2d

    if arm in ("transfer", "random"):
        model = cae.make_classifier(
            seed=seed, n_classes=n_classes, hidden_units=tuple(head_hidden_units), **cae_options
        )
        if arm == "random":
            return model, 0
        if encoder_state is None:
            raise ValueError("the transfer arm needs the autoencoder's encoder state dict")
        from ecglib.transfer import load_matching_weights

        report = load_matching_weights(model.encoder, encoder_state)
        expected = len(model.encoder.state_dict())
        if report.n_loaded != expected:
            raise ValueError(f"transfer loaded {report.n_loaded} of {expected} encoder tensors:\n{report}")
        return model, report.n_loaded
    if arm == "image_transfer":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return googlenet2d.FeatureClassifier(
                n_classes,
                n_features=n_features or googlenet2d.N_FEATURES,
                hidden_units=tuple(head_hidden_units),
            ), 0
    raise ValueError(f"arm must be one of {ARMS}, got {arm!r}")


@dataclass
class StarvationResult:
    """Everything the data-starvation experiment produced.

    Attributes
    ----------
    trials : one row per (arm, train_fraction, trial): ``n_train, best_epoch, f1_selected``
        (test F1 at the selected epoch), ``f1_best_test_epoch`` (the paper's: best test F1
        over epochs), ``f1`` (the headline under ``model_selection``), ``lci_test``, ``lci_val``,
        ``seconds``
    curves : one row per (arm, train_fraction, trial, epoch): train_loss, val/test weighted F1
    settings : one row per (arm, train_fraction, trial): every training setting and digests of
        the train/val/test indices (equal across arms by construction; tests check)
    """

    trials: pd.DataFrame
    curves: pd.DataFrame
    settings: pd.DataFrame


def run_data_starvation(
    inputs: Mapping[str, np.ndarray],
    targets: np.ndarray,
    *,
    train_index: np.ndarray,
    val_index: np.ndarray,
    test_index: np.ndarray,
    n_classes: int,
    train_fractions: Sequence[float],
    n_trials: int,
    trial_resampling: str,
    epochs: int,
    lr: float,
    batch_size: int,
    optimizer: str,
    model_selection: str,
    head_hidden_units: Sequence[int],
    cae_options: Mapping[str, Any],
    encoder_state: Mapping[str, torch.Tensor] | None,
    seed: int,
    device,
    progress: bool = True,
) -> StarvationResult:
    """Train every arm on every training size and trial with identical data and settings.

    Parameters
    ----------
    inputs : arm -> ndarray of shape (n_examples, n_samples, 1): the signals for the 1-D arms,
        GoogLeNet features ``(n_examples, 1024, 1)`` for ``image_transfer``; rows aligned with
        ``targets``
    targets : ndarray of shape (n_examples,), int64 class ids
    train_index, val_index, test_index : int arrays into the examples (patient-wise split);
        ``val_index`` unused (may be empty) under ``best_test_epoch_as_in_paper``
    model_selection : "validation" (epoch with the best validation weighted F1) or
        "best_test_epoch_as_in_paper" (the epoch with the best *test* weighted F1, as the paper)
    (other parameters: the training settings shared by every arm)

    Returns
    -------
    StarvationResult
    """
    from ecglib.train import fit

    if model_selection not in MODEL_SELECTIONS:
        raise ValueError(f"model_selection must be one of {MODEL_SELECTIONS}, got {model_selection!r}")
    use_val = model_selection == "validation"
    if use_val and len(val_index) == 0:
        raise ValueError("model_selection='validation' needs a validation split (val_fraction > 0)")
    monitor = "val_f1_weighted" if use_val else "test_f1_weighted"
    targets = np.asarray(targets)
    trial_rows, curve_rows, setting_rows = [], [], []
    for fraction_number, fraction in enumerate(train_fractions):
        positions = trial_indices(
            len(train_index),
            fraction,
            n_trials,
            resampling=trial_resampling,
            labels=targets[train_index],
            seed=derive_seed(seed, "trials", fraction_number),
        )
        for trial, trial_positions in enumerate(positions, start=1):
            trial_train = np.asarray(train_index)[trial_positions]
            trial_seed = derive_seed(seed, "trial", fraction_number, trial)
            for arm, signals in inputs.items():
                model, n_loaded = build_model(
                    arm,
                    n_classes=n_classes,
                    seed=trial_seed,
                    cae_options=cae_options,
                    head_hidden_units=head_hidden_units,
                    encoder_state=encoder_state,
                    n_features=signals.shape[1],
                )
                result = fit(
                    model,
                    (signals[trial_train], targets[trial_train]),
                    (signals[val_index], targets[val_index]) if use_val else None,
                    (signals[test_index], targets[test_index]),
                    task="single_label",
                    epochs=epochs,
                    lr=lr,
                    batch_size=batch_size,
                    seed=trial_seed,
                    device=device,
                    optimizer=optimizer,
                    monitor=monitor,
                    monitor_mode="max",
                    select_on_test=not use_val,
                    progress=progress,
                    label=f"{arm} {fraction:.0%} trial {trial}",
                )
                history = result.history
                test_curve = history["test_f1_weighted"].to_numpy()
                val_curve = history["val_f1_weighted"].to_numpy() if use_val else None
                f1_selected = float(
                    history.loc[history["epoch"] == result.best_epoch, "test_f1_weighted"].iloc[0]
                )
                f1_best_test = float(test_curve.max())
                trial_rows.append(
                    dict(
                        arm=arm,
                        train_fraction=fraction,
                        trial=trial,
                        n_train=len(trial_train),
                        best_epoch=result.best_epoch,
                        f1_selected=f1_selected,
                        f1_best_test_epoch=f1_best_test,
                        f1=f1_selected if use_val else f1_best_test,
                        lci_test=learning_curve_index(test_curve) if len(test_curve) > 1 else np.nan,
                        lci_val=learning_curve_index(val_curve) if use_val and len(val_curve) > 1 else np.nan,
                        seconds=float(np.sum(result.epoch_seconds)),
                    )
                )
                for _, row in history.iterrows():
                    curve_rows.append(
                        dict(
                            arm=arm,
                            train_fraction=fraction,
                            trial=trial,
                            epoch=int(row["epoch"]),
                            train_loss=row["train_loss"],
                            test_f1_weighted=row["test_f1_weighted"],
                            val_f1_weighted=row["val_f1_weighted"] if use_val else np.nan,
                        )
                    )
                setting_rows.append(
                    dict(
                        arm=arm,
                        train_fraction=fraction,
                        trial=trial,
                        epochs=epochs,
                        lr=lr,
                        batch_size=batch_size,
                        optimizer=optimizer,
                        model_selection=model_selection,
                        monitor=monitor,
                        seed=trial_seed,
                        n_train=len(trial_train),
                        n_val=len(val_index) if use_val else 0,
                        n_test=len(test_index),
                        train_indices_sha=_index_digest(trial_train),
                        val_indices_sha=_index_digest(val_index) if use_val else "",
                        test_indices_sha=_index_digest(test_index),
                        encoder_tensors_from_cae=n_loaded,
                    )
                )
    return StarvationResult(pd.DataFrame(trial_rows), pd.DataFrame(curve_rows), pd.DataFrame(setting_rows))


SHARED_SETTINGS = (
    "epochs",
    "lr",
    "batch_size",
    "optimizer",
    "model_selection",
    "monitor",
    "seed",
    "n_train",
    "n_val",
    "n_test",
    "train_indices_sha",
    "val_indices_sha",
    "test_indices_sha",
)


def shared_settings_check(settings: pd.DataFrame) -> pd.DataFrame:
    """One row per (train_fraction, trial): whether every arm had identical data and settings.

    Returns
    -------
    DataFrame with ``train_fraction, trial, n_arms, identical`` and the shared values.
    """
    rows = []
    for (fraction, trial), group in settings.groupby(["train_fraction", "trial"], sort=True):
        identical = all(group[column].nunique(dropna=False) == 1 for column in SHARED_SETTINGS)
        first = group.iloc[0]
        rows.append(
            dict(
                train_fraction=fraction,
                trial=trial,
                n_arms=len(group),
                identical=identical,
                **{column: first[column] for column in SHARED_SETTINGS},
            )
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- tables


def pct(fraction: float) -> int:
    """0.25 -> 25 (training sizes are labelled in percent, as in the paper)."""
    return int(round(100 * fraction))


def class_counts(
    labels: Sequence[str] | np.ndarray, parts: Mapping[str, np.ndarray], class_names: Sequence[str]
) -> pd.DataFrame:
    """Table 1: examples per class in each part of the split (and patients per part).

    Parameters
    ----------
    labels : class id (int) of every example
    parts : part name -> index array (e.g. train / validation / test)
    class_names : name of each class id
    """
    labels = np.asarray(labels)
    table = pd.DataFrame(
        {
            name: np.bincount(labels[np.asarray(index, dtype=np.int64)], minlength=len(class_names))
            for name, index in parts.items()
        },
        index=list(class_names),
    )
    table["total"] = table.sum(axis=1)
    table.loc["all classes"] = table.sum(axis=0)
    table.index.name = "rhythm"
    return table


#: training sizes label the paper's table columns ("100%")
SIZE_LABEL = "{}%"
#: our tables' SD convention (the paper's SDs are population SDs: ``reported["sd_ddof"]``)
SD_DDOF = 1


def tidy_trials(trials: pd.DataFrame, value: str) -> pd.DataFrame:
    """``trials`` as :mod:`ecglib.paper_tables` reads them: arm, condition (training size in %), trial, value."""
    return paper_tables.tidy(
        trials.assign(size_pct=trials["train_fraction"].map(pct)), value=value, condition="size_pct"
    )


def results_table(
    trials: pd.DataFrame,
    value: str,
    *,
    arms: Sequence[str],
    pairs: Sequence[tuple[str, str]],
    arm_labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The layout of the paper's Tables 2 and 3: trials, mean ± SD (ddof=1), Welch p rows; one column per size and arm."""
    return paper_tables.layout(
        tidy_trials(trials, value),
        arms=arms,
        pairs=pairs,
        test="welch",
        ddof=SD_DDOF,
        arm_labels=arm_labels,
        condition_label=SIZE_LABEL,
    )


def versus_paper(
    trials: pd.DataFrame,
    value: str,
    reported: Mapping[str, Any],
    table: str,
    *,
    arms: Sequence[str],
    pairs: Sequence[tuple[str, str]],
    quantity: str,
    arm_labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Our mean ± SD per arm and size beside the paper's (``reported[table]``), with Welch p and the paper's p."""
    return paper_tables.versus_paper(
        tidy_trials(trials, value),
        reported[table],
        arms=arms,
        pairs=pairs,
        test="welch",
        ddof=SD_DDOF,
        paper_ddof=reported.get("sd_ddof"),
        quantity=quantity,
        arm_labels=arm_labels,
        condition_label=SIZE_LABEL,
    )


#: the reconstruction error beside the paper's (``paper_tables.scalars`` of ``recon_error_*``)
RECONSTRUCTION_ROWS = (
    paper_tables.Row(
        "reconstruction error per ECG (sum over points)",
        "recon_error_total",
        "z-score^2 per ECG (paper: 2,048 points)",
        paper="reconstruction_error.total",
    ),
    paper_tables.Row(
        "reconstruction error per point",
        "recon_error_per_point",
        "z-score^2",
        paper="reconstruction_error.per_point",
    ),
)


# --------------------------------------------------------------------------- claims and metrics


#: On z-scored data, predicting zero everywhere gives a reconstruction error of 1 per point;
#: an autoencoder at or above this value has learnt (almost) nothing, and its encoder is no
#: pre-training, so the transfer claims cannot be tested with it.
AUTOENCODER_FAILED_ERROR_PER_POINT = 0.9


def autoencoder_learned(error_per_point: float | None, normalisation: str) -> bool | None:
    """Whether the autoencoder reconstructs better than the mean (None when it cannot be told)."""
    if error_per_point is None or normalisation != "zscore":
        return None
    return bool(error_per_point < AUTOENCODER_FAILED_ERROR_PER_POINT)


AUTOENCODER_GATE = claims.gate(
    "autoencoder_learned",
    "The autoencoder did not learn to reconstruct (error per point {recon_error_per_point:.3f}; predicting zero "
    "gives 1.0 on z-scored data), so the transfer arm had no useful pre-training",
)
IMAGENET_GATE = claims.gate(
    "image_arm_is_imagenet",
    "ImageNet weights unavailable: the image arm used a random-weight feature extractor, not the paper's arm",
)
_TABLE2 = dict(paper_a="table2_best_f1.{condition}.transfer.mean", condition_label=SIZE_LABEL)

#: the paper's claims about Tables 2 and 3 (results: :func:`claim_results`)
CLAIMS = (
    claims.greater(
        "Transfer learning gives a higher weighted F1 than random initialisation at every training size",
        "the F1-score of the proposed transfer learning was significantly better in all case than those of the "
        "other two strategies (Table 2, p < 0.05)",
        a="f1.transfer",
        b="f1.random",
        test="welch",
        paper_b="table2_best_f1.{condition}.random.mean",
        requires=[AUTOENCODER_GATE],
        **_TABLE2,
    ),
    claims.greater(
        "Shrinking the training set hurts random initialisation more than transfer learning",
        "the performance of the random initialization model fell markedly from 0.843 to 0.543, but the "
        "F1-scores of ... the proposed transfer learning remained robust at ... 0.835 (100% -> 25%)",
        a="f1_drop.random",
        b="f1_drop.transfer",
        test=None,
        requires=[AUTOENCODER_GATE],
    ),
    claims.greater(
        "Transfer learning beats 2-D image transfer (spectrogram + ImageNet GoogLeNet) at every training size",
        "in all cases, our proposed transfer learning outperformed other approaches (Table 2, p < 0.05)",
        a="f1.transfer",
        b="f1.image_transfer",
        test="welch",
        paper_b="table2_best_f1.{condition}.image_transfer.mean",
        requires=[AUTOENCODER_GATE, IMAGENET_GATE],
        **_TABLE2,
    ),
    claims.greater(
        "Transfer learning gives steadier learning curves (higher LCI) than random initialisation at 50% and 25%",
        "transfer learning provided significantly better stability when 50% or 25% of the data were used "
        "compared to random initialization (p < 0.05) (Table 3)",
        a="lci.transfer",
        b="lci.random",
        test="welch",
        conditions=(50, 25),
        paper_a="table3_lci.{condition}.transfer.mean",
        paper_b="table3_lci.{condition}.random.mean",
        condition_label=SIZE_LABEL,
        requires=[AUTOENCODER_GATE],
    ),
    claims.not_testable(
        "The autoencoder reconstructs ICU lead II with a summed squared error of 626.6 per ECG",
        "The mean reconstruction error was 626.583 (AUMC ICU test split)",
        why="the AUMC ICU corpus is not public; our autoencoder is trained and tested on substitutes "
        "(table reconstruction_error)",
    ),
)


def claim_results(
    trials: pd.DataFrame,
    *,
    image_arm_is_imagenet: bool | None,
    recon_error_per_point: float | None,
    normalisation: str,
) -> dict[str, Any]:
    """The numbers :data:`CLAIMS` are tested on.

    ``f1`` and ``lci``: arm -> size (%) -> trial values (an arm not run maps to {});
    ``f1_drop``: mean F1 at the largest minus the smallest size per arm (None with one size);
    ``image_arm_is_imagenet`` (None: the arm did not run) and ``autoencoder_learned`` gate claims.
    """
    f1 = paper_tables.samples(tidy_trials(trials, "f1"), ARMS)
    sizes = sorted(set(f1["transfer"]) & set(f1["random"]))
    drop = {
        arm: float(np.mean(f1[arm][sizes[-1]]) - np.mean(f1[arm][sizes[0]])) if len(sizes) > 1 else None
        for arm in ("transfer", "random")
    }
    return {
        "f1": f1,
        "lci": paper_tables.samples(tidy_trials(trials, "lci_test"), ARMS),
        "f1_drop": drop,
        "image_arm_is_imagenet": image_arm_is_imagenet,
        "autoencoder_learned": autoencoder_learned(recon_error_per_point, normalisation),
        "recon_error_per_point": recon_error_per_point,
    }


def headline_metrics(
    trials: pd.DataFrame, *, recon_total: float | None = None, recon_per_point: float | None = None
) -> dict[str, float]:
    """Flat metrics for ``metrics.json``: mean F1 and LCI per arm and size, Welch p-values (finite ones)."""
    metrics: dict[str, float] = {}
    if recon_total is not None:
        metrics["recon_error_total"] = float(recon_total)
    if recon_per_point is not None:
        metrics["recon_error_per_point"] = float(recon_per_point)
    for (arm, fraction), group in trials.groupby(["arm", "train_fraction"], sort=False):
        metrics[f"f1_{arm}_{pct(fraction)}"] = float(group["f1"].mean())
        metrics[f"f1_best_test_epoch_{arm}_{pct(fraction)}"] = float(group["f1_best_test_epoch"].mean())
        metrics[f"lci_{arm}_{pct(fraction)}"] = float(group["lci_test"].mean())
    for name, value, pairs in (("f1", "f1", F1_COMPARISONS), ("lci", "lci_test", LCI_COMPARISONS)):
        for row in paper_tables.comparisons(tidy_trials(trials, value), pairs).itertuples():
            if np.isfinite(row.p):
                metrics[f"p_{name}_{row.arm_a}_vs_{row.arm_b}_{row.condition}"] = float(row.p)
    return metrics


# --------------------------------------------------------------------------- figures


def learning_curves(
    curves: pd.DataFrame,
    *,
    arms: Sequence[str] = ("transfer", "random"),
    value: str = "test_f1_weighted",
    arm_labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Figure 5's curves for :func:`ecglib.figures.epoch_curves`: one panel per training size, one series per arm."""
    labels = dict(arm_labels or {})
    chosen = pd.concat([curves[curves["arm"] == arm] for arm in arms])  # panels in the order of the sizes
    return pd.DataFrame(
        {
            "epoch": chosen["epoch"].to_numpy(),
            "value": chosen[value].to_numpy(),
            "series": chosen["arm"].map(lambda arm: labels.get(arm, arm)).to_numpy(),
            "panel": chosen["train_fraction"].map(lambda f: f"{pct(f)}% of the training set").to_numpy(),
        }
    )
