"""Jang, Kim, Yoon 2021: convolutional-autoencoder transfer for ECG rhythm classification.

Glue for ``notebooks/jang2021.ipynb``: data preparation (lead II, 250 Hz, 2,048 samples,
baseline removal, normalisation: ``ecglib.preprocess.fixed_length_examples`` over the
datasets' readers in ``ecglib.data``), the pre-training corpus, the data-starvation experiment
(three arms x training sizes x trials, all with the same data, epochs, learning rate and
optimiser), the paper-layout tables, Figures 4 and 5, and the verdict. Models live in
:mod:`ecglib.models.cae` and :mod:`ecglib.models.googlenet2d`; the training loop in
:mod:`ecglib.train`.

Data functions take explicit keywords; only the adaptors (``*_from_params``,
:func:`preprocess_kwargs`, :func:`cae_kwargs`, :func:`image_feature_kwargs`,
:func:`stand_in_inputs`, :func:`ecglib.units.study_cache_dir`) read a profile.

The grid runs as cached units (:mod:`ecglib.units`, :func:`plan_from_params`): the autoencoder's
pre-training, the image arm's features, and one classifier per training size, trial and arm; the
notebook runs the missing ones and aggregates (:func:`starvation_from_payloads`), and
``ecglib plan jang2021`` / ``ecglib unit run`` (``workflow/Snakefile``) run them one by one.

Arms (names used in every table): ``transfer`` (classifier whose encoder starts from the
pre-trained autoencoder), ``random`` (the same network, randomly initialised) and
``image_transfer`` (spectrograms through a fixed GoogLeNet, trained classifier on its
features).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import torch

from ecglib import claims, paper_tables, preprocess, segment, stats, units
from ecglib.data import LabelledSet
from ecglib.errors import DataMissingError
from ecglib.metrics import learning_curve_index, learning_curve_never_drops
from ecglib.seeds import derive_seed
from ecglib.units import Unit

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
# The chain itself is ecglib.preprocess.fixed_length_examples (resample, baseline, crop, normalise).


def preprocess_kwargs(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The :func:`ecglib.preprocess.fixed_length_examples` keywords from a study's parameters."""
    return dict(
        fs_hz=cfg["fs_hz"],
        window_samples=cfg["window_samples"],
        baseline_cutoff_hz=cfg["baseline_cutoff_hz"],
        baseline_order=cfg["baseline_order"],
        normalisation=cfg["normalisation"],
        crop=cfg["crop"],
    )


#: the paper's sampling rate: its kernel of 19 samples spans 76 ms, its seven halvings (authors'
#: code) make bottleneck cells of 2**7 samples = 512 ms (2,048 samples -> 16 cells)
PAPER_FS_HZ = 250.0
PAPER_KERNEL_SAMPLES = 19
PAPER_HALVINGS = 7
#: which of the nine blocks (0-based) halve first: the authors' code halves in blocks 2-8
#: (1-based); fewer halvings drop the earliest of them, so that block i keeps the paper's time
#: resolution when the sampling rate is halved; more than seven add block 1, then block 9
HALVING_ORDER = (7, 6, 5, 4, 3, 2, 1, 0, 8)


def kernel_samples(kernel_ms: float, fs_hz: float) -> int:
    """A kernel of ``kernel_ms`` milliseconds in samples at ``fs_hz``: the nearest odd count (ties up), >= 3.

    The paper's 19 samples at 250 Hz are 76 ms: 9 samples at 125 Hz, 39 at 500 Hz.
    """
    samples = kernel_ms * fs_hz / 1000.0
    return max(3, int(math.floor(samples / 2.0)) * 2 + 1)


def n_halvings(bottleneck_ms: float, fs_hz: float) -> int:
    """Max-pool halvings whose bottleneck cell lasts ``bottleneck_ms`` at ``fs_hz`` (nearest power of two).

    The paper's 512 ms cells: 7 halvings at 250 Hz, 6 at 125 Hz, 8 at 500 Hz.
    """
    cell_samples = bottleneck_ms * fs_hz / 1000.0
    if cell_samples < 1:
        raise ValueError(f"cae_bottleneck_ms={bottleneck_ms} is shorter than one sample at {fs_hz} Hz")
    halvings = int(round(math.log2(cell_samples)))
    if halvings > len(HALVING_ORDER):
        raise ValueError(
            f"cae_bottleneck_ms={bottleneck_ms} needs {halvings} halvings at {fs_hz} Hz; the CAE has "
            f"{len(HALVING_ORDER)} blocks"
        )
    return halvings


def downsample_plan(halvings: int) -> tuple[bool, ...]:
    """Which of the nine blocks halve the length (:data:`HALVING_ORDER`); 7 gives the authors' blocks 2-8."""
    if not 0 <= halvings <= len(HALVING_ORDER):
        raise ValueError(f"halvings must be in [0, {len(HALVING_ORDER)}], got {halvings}")
    chosen = set(HALVING_ORDER[:halvings])
    return tuple(block in chosen for block in range(len(HALVING_ORDER)))


def time_scale(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The CAE's time scale at the profile's ``fs_hz``: kernel and bottleneck in samples and in ms.

    Returns
    -------
    dict with ``kernel_samples, kernel_ms`` (what the odd kernel really spans), ``halvings,
    bottleneck_cells`` (cells left of ``window_samples``), ``bottleneck_ms`` (one cell) and
    ``downsample`` (per block).
    """
    fs_hz = float(cfg["fs_hz"])
    kernel = kernel_samples(cfg["cae_kernel_ms"], fs_hz)
    halvings = n_halvings(cfg["cae_bottleneck_ms"], fs_hz)
    return dict(
        kernel_samples=kernel,
        kernel_ms=1000.0 * kernel / fs_hz,
        halvings=halvings,
        bottleneck_cells=cfg["window_samples"] // 2**halvings,
        bottleneck_ms=1000.0 * 2**halvings / fs_hz,
        downsample=downsample_plan(halvings),
    )


def cae_kwargs(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The :class:`ecglib.models.cae.ConvAutoencoder` keywords from a study's parameters.

    ``cae_kernel_ms`` and ``cae_bottleneck_ms`` become samples and halvings at ``fs_hz``
    (:func:`time_scale`), so a profile that changes the sampling rate keeps the time scale.
    """
    scale = time_scale(cfg)
    if cfg["window_samples"] % 2 ** scale["halvings"]:
        raise ValueError(
            f"window_samples={cfg['window_samples']} must divide by 2**{scale['halvings']} "
            f"(cae_bottleneck_ms={cfg['cae_bottleneck_ms']} at {cfg['fs_hz']} Hz)"
        )
    return dict(
        n_leads=1,
        n_samples=cfg["window_samples"],
        latent_dim=cfg["cae_latent_dim"],
        kernel_size=scale["kernel_samples"],
        downsample=scale["downsample"],
        base_filters=cfg["cae_base_filters"],
        activation=cfg["cae_activation"],
        dropout=cfg["cae_dropout"],
        halved_kernel_blocks=cfg["cae_halved_kernel_blocks"],
        decoder_residual=cfg["cae_decoder_residual"],
    )


# --------------------------------------------------------------------------- downstream data


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


def load_downstream(
    source: str,
    *,
    seed: int,
    preprocessing: Mapping[str, Any],
    max_examples_per_class: int | None = None,
    sim_n_examples: int = 264,
    sim_class_balance: str = "uniform",
    mitbih_lead: str = "MLII",
    mitbih_min_windows_per_class: int = 50,
    mitbih_min_patients_per_class: int = 3,
    chapman_denoised: bool = False,
    data_root=None,
) -> LabelledSet:
    """The labelled rhythm set of ``source``, one lead, preprocessed.

    - ``sim-chapman``: ``sim_n_examples`` simulated 10 s lead II records at 500 Hz with the
      11 Chapman rhythm classes (offline; for smoke runs).
    - ``mitbih``: 10 s windows of lead ``mitbih_lead`` lying inside one rhythm interval of the
      MIT-BIH rhythm annotations (360 Hz); classes with fewer than
      ``mitbih_min_windows_per_class`` windows or ``mitbih_min_patients_per_class`` patients
      are dropped (counted in ``exclusions``); records without the lead (102, 104) are dropped.
    - ``chapman``: the paper's data, lead II of every record (10 s, 500 Hz).

    Classes with more than ``max_examples_per_class`` examples are randomly capped (seeded
    from ``seed``). ``preprocessing``: the keywords of
    :func:`ecglib.preprocess.fixed_length_examples` (:func:`preprocess_kwargs`).

    Returns
    -------
    LabelledSet with signals ``(n, window_samples, 1)``, single-label targets indexing
    ``target_names``, ``patient_ids``, and ``exclusions``.

    Raises
    ------
    DataMissingError
        the dataset is not under the data root (the message names ``ecglib data download``).
    """
    exclusions: dict[str, int] = {}
    if source == "sim-chapman":
        from ecglib.data import simulated

        raw = simulated.load_labelled(
            "sim-chapman",
            sim_n_examples,
            seed=derive_seed(seed, "sim-chapman"),
            fs_hz=500.0,
            duration_s=10.0,
            leads=["II"],
            class_balance=sim_class_balance,
        )
        labels = np.asarray(raw.target_names)[raw.targets]
        signals_mv, fs_in_hz = raw.signals_mv[:, :, 0], raw.fs_hz
        patient_ids = np.asarray(raw.patient_ids).astype(str)
        class_order = list(raw.target_names)
    elif source == "mitbih":
        from ecglib.data import mitbih

        records = mitbih.cut_records(
            lambda signal_mv, fs_hz, annotations: segment.rhythm_windows(
                signal_mv, annotations.rhythms, window_samples=int(round(10.0 * fs_hz))
            ),
            root=data_root,
            lead=mitbih_lead,
            fallback="exclude",
        )
        exclusions = {"record_without_lead": len(records.without_lead), **records.exclusions}
        signals_mv, fs_in_hz = records.signals, mitbih.MITBIH_FS_HZ
        labels, patient_ids = records.labels.astype(str), records.patient_ids
        keep, dropped = _keep_classes(
            labels,
            patient_ids,
            min_examples=mitbih_min_windows_per_class,
            min_patients=mitbih_min_patients_per_class,
        )
        exclusions.update(dropped)
        signals_mv, labels, patient_ids = signals_mv[keep], labels[keep], patient_ids[keep]
        class_order = list(pd.Series(labels).value_counts().index)
    elif source == "chapman":
        from ecglib.data import chapman

        signals_mv, table = chapman.lead_signals("II", data_root, denoised=chapman_denoised)
        fs_in_hz = chapman.CHAPMAN_FS_HZ
        labels = table["Rhythm"].to_numpy().astype(str)
        patient_ids = table["patient_id"].to_numpy().astype(str)
        class_order = list(chapman.RHYTHM_CODES)
        exclusions.update(table.attrs.get("exclusions", {}))
    else:
        raise ValueError(f"data_source must be sim-chapman, mitbih or chapman, got {source!r}")

    capped = _cap_per_class(labels, max_examples_per_class, derive_seed(seed, "cap"))
    if len(capped) < len(labels):
        exclusions["over_max_examples_per_class"] = int(len(labels) - len(capped))
    signals_mv, labels, patient_ids = signals_mv[capped], labels[capped], patient_ids[capped]
    class_order = [name for name in class_order if name in set(labels)]
    targets = np.array([class_order.index(name) for name in labels], dtype=np.int64)
    return LabelledSet(
        signals_mv=preprocess.fixed_length_examples(signals_mv, fs_in_hz=fs_in_hz, **preprocessing),
        targets=targets,
        patient_ids=patient_ids,
        fs_hz=float(preprocessing["fs_hz"]),
        lead_names=("II",),
        target_names=tuple(class_order),
        task="single_label",
        source=source,
        exclusions=exclusions,
        units=preprocessing["normalisation"],
    )


def downstream_from_params(cfg: Mapping[str, Any], *, data_root=None) -> LabelledSet:
    """:func:`load_downstream` with a profile's keys (the cfg adaptor)."""
    return load_downstream(
        cfg["data_source"],
        seed=cfg["seed"],
        preprocessing=preprocess_kwargs(cfg),
        max_examples_per_class=cfg["max_examples_per_class"],
        sim_n_examples=cfg["sim_n_examples"],
        sim_class_balance=cfg["sim_class_balance"],
        mitbih_lead=cfg["mitbih_lead"],
        mitbih_min_windows_per_class=cfg["mitbih_min_windows_per_class"],
        mitbih_min_patients_per_class=cfg["mitbih_min_patients_per_class"],
        chapman_denoised=cfg["chapman_denoised"],
        data_root=data_root,
    )


def check_data_present(source: str, *, chapman_denoised: bool = False, data_root=None) -> None:
    """Fail at once (before any training) when a public dataset the run needs is absent.

    Raises
    ------
    DataMissingError
        naming the folder and ``ecglib data download <name>``.
    """
    if source == "chapman":
        from ecglib.data import chapman

        chapman.waveform_folder(data_root, denoised=chapman_denoised)
    elif source == "mitbih":
        from ecglib.data import mitbih

        mitbih.list_records(data_root)


def split_from_params(cfg: Mapping[str, Any], examples: LabelledSet):
    """The patient-wise train / validation / test split of the downstream examples (the notebook's).

    The validation part (``val_fraction``) exists only under ``model_selection = validation``.

    Returns
    -------
    ecglib.data.splits.Split, checked patient-disjoint
    """
    from ecglib.data import splits

    split = splits.patient_split(
        examples.patient_ids,
        examples.targets,
        test_fraction=cfg["test_fraction"],
        val_fraction=cfg["val_fraction"] if cfg["model_selection"] == "validation" else 0.0,
        seed=cfg["seed"],
    )
    splits.assert_patient_disjoint(examples.patient_ids, split.train, split.val, split.test)
    return split


def held_out_patients(examples: LabelledSet, split) -> set[str]:
    """The downstream validation and test patients (never in the pre-training corpus)."""
    return set(examples.patient_ids[split.val]) | set(examples.patient_ids[split.test])


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
    *,
    n_gan: int,
    public_sources: Sequence[str],
    max_per_public_source: int | None,
    seed: int,
    preprocessing: Mapping[str, Any],
    exclude_patients: Mapping[str, set[str]] | None = None,
    data_root=None,
) -> PretrainCorpus:
    """Build the unlabelled pre-training corpus (the paper's 2.6 M ICU lead II ECGs are not public).

    Substitutes: ``n_gan`` DeepFake-GAN ECGs (lead II of the 8 generated leads, 500 Hz, 10 s;
    cached on disk) plus, for each name in ``public_sources`` that is present under the data
    root, its lead II: ``ludb`` (10 s records) and ``mitbih`` (non-overlapping 10 s MLII
    windows), at most ``max_per_public_source`` examples each. Patients listed in
    ``exclude_patients[source]`` (the downstream validation and test patients) are never used.
    ``preprocessing``: the keywords of :func:`ecglib.preprocess.fixed_length_examples`.

    Returns
    -------
    PretrainCorpus
    """
    exclude_patients = exclude_patients or {}
    parts, sources, groups = [], [], []
    counts: dict[str, int] = {}
    skipped: dict[str, str] = {}
    gan_seed = derive_seed(seed, "deepfake-gan")
    if n_gan > 0:
        import warnings

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, message=".*weights_only.*")
            from ecglib.data import deepfake_gan

            generated = deepfake_gan.cached_signals(n_gan, seed=gan_seed, leads="8")
        column = deepfake_gan.lead_names("8").index("II")
        parts.append(
            preprocess.fixed_length_examples(
                generated[:, :, column], fs_in_hz=deepfake_gan.FS_HZ, **preprocessing
            )
        )
        sources += ["deepfake-gan"] * len(generated)
        groups += [f"gan-{gan_seed}-{i}" for i in range(len(generated))]
        counts["deepfake-gan"] = len(generated)
    rng = np.random.default_rng(derive_seed(seed, "public-pretraining"))
    for name in public_sources:
        excluded = set(exclude_patients.get(name, set()))
        try:
            signals_mv, patient_ids, fs_in_hz = _public_lead_ii(name, data_root=data_root)
        except DataMissingError as error:
            skipped[name] = f"not under the data root ({error.folder})"
            continue
        keep = np.flatnonzero(~np.isin(patient_ids, list(excluded)))
        if max_per_public_source is not None and len(keep) > max_per_public_source:
            keep = np.sort(rng.choice(keep, max_per_public_source, replace=False))
        if len(keep) == 0:
            skipped[name] = "no examples left after excluding downstream patients"
            continue
        parts.append(preprocess.fixed_length_examples(signals_mv[keep], fs_in_hz=fs_in_hz, **preprocessing))
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


def corpus_from_params(
    cfg: Mapping[str, Any], *, exclude_patients: Mapping[str, set[str]] | None = None, data_root=None
) -> PretrainCorpus:
    """:func:`pretraining_corpus` with a profile's keys (the cfg adaptor)."""
    return pretraining_corpus(
        n_gan=cfg["pretrain_n_gan"],
        public_sources=cfg["pretrain_public_sources"],
        max_per_public_source=cfg["pretrain_max_per_public_source"],
        seed=cfg["seed"],
        preprocessing=preprocess_kwargs(cfg),
        exclude_patients=exclude_patients,
        data_root=data_root,
    )


def _public_lead_ii(name: str, *, data_root=None) -> tuple[np.ndarray, np.ndarray, float]:
    """Lead II 10 s examples of a public dataset: (signals (n, n_samples) mV, patient ids, fs_hz)."""
    if name == "ludb":
        from ecglib.data import ludb

        signals_mv, patient_ids = ludb.lead_signals("II", data_root)
        return signals_mv, patient_ids, ludb.FS_HZ
    if name == "mitbih":
        from ecglib.data import mitbih

        records = mitbih.cut_records(
            lambda signal_mv, fs_hz, _: segment.tiles(signal_mv, window_samples=int(round(10.0 * fs_hz))),
            root=data_root,
            lead="MLII",
            fallback="exclude",
            annotations=False,
        )
        return records.signals, records.patient_ids, mitbih.MITBIH_FS_HZ
    raise ValueError(f"pretraining public source must be 'ludb' or 'mitbih', got {name!r}")


def pretraining_split(corpus: PretrainCorpus, *, test_fraction: float, val_fraction: float, seed: int):
    """Group-wise train / validation (early stopping) / test (reported error) split of the corpus."""
    from ecglib.data.splits import patient_split

    return patient_split(
        corpus.group_ids, None, test_fraction=test_fraction, val_fraction=val_fraction, seed=seed
    )


def corpus_split_from_params(cfg: Mapping[str, Any], corpus: PretrainCorpus):
    """:func:`pretraining_split` with the profile's ``pretrain_test_fraction``, ``pretrain_val_fraction`` and seed."""
    return pretraining_split(
        corpus,
        test_fraction=cfg["pretrain_test_fraction"],
        val_fraction=cfg["pretrain_val_fraction"],
        seed=cfg["seed"],
    )


# --------------------------------------------------------------------------- data starvation


def pretrain_autoencoder(
    train_signals: np.ndarray,
    val_signals: np.ndarray,
    *,
    cae_options: Mapping[str, Any],
    epochs: int,
    lr: float,
    batch_size: int,
    early_stopping_patience: int,
    seed: int,
    device,
    min_epochs: int = 0,
    lr_schedule: str = "constant",
    lr_min: float = 0.0,
):
    """Protocol 1: pre-train the convolutional autoencoder, keeping the lowest validation loss.

    On z-scored ECGs the loss first sits on the plateau of predicting zero (1 per point) for a
    few hundred optimiser steps; ``min_epochs`` keeps early stopping off that plateau, and
    ``lr_schedule="cosine"`` anneals the rate from ``lr`` to ``lr_min`` over ``epochs``
    (chosen over reduce-on-plateau, which would cut the rate on that very plateau).

    Parameters
    ----------
    train_signals, val_signals : ndarray of shape (n, n_samples, 1), z-scored corpus windows
    cae_options : :class:`ecglib.models.cae.ConvAutoencoder` keywords (see :func:`cae_kwargs`)
    seed : int, the study seed; the initial weights and the training draws get their own
        seeds derived from it (``"cae"``, ``"pretrain"``)
    min_epochs : no early stopping before this epoch
    (other parameters: :func:`ecglib.train.fit`'s; Adam, early stopping on ``val_loss``)

    Returns
    -------
    ecglib.train.FitResult, with the autoencoder (best weights) as ``.model``
    """
    from ecglib.models import cae
    from ecglib.train import fit

    autoencoder = cae.make_autoencoder(seed=derive_seed(seed, "cae"), **cae_options)
    return fit(
        autoencoder,
        train_signals,
        val_signals,
        task="reconstruction",
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        seed=derive_seed(seed, "pretrain"),
        device=device,
        monitor="val_loss",
        monitor_mode="min",
        early_stopping_patience=early_stopping_patience,
        early_stopping_min_epochs=min_epochs,
        lr_schedule=lr_schedule,
        lr_min=lr_min,
        label="CAE",
    )


@dataclass
class ImageArm:
    """The 2-D arm's frozen GoogLeNet, or why the arm does not run.

    Attributes
    ----------
    extractor : nn.Module or None (arm not asked for, or skipped)
    info : ecglib.models.googlenet2d.FeatureExtractorInfo or None
    note : str, what the arm uses or why it was skipped ("" when it was not asked for)
    """

    extractor: torch.nn.Module | None
    info: Any
    note: str

    def arm_labels(self) -> dict[str, str]:
        """Every arm's title; the image arm's says so when its extractor has random weights."""
        from ecglib.models import googlenet2d

        labels = dict(ARM_TITLES)
        if self.info is not None and not self.info.is_imagenet:
            labels["image_transfer"] = "Image transfer [" + googlenet2d.RANDOM_WEIGHTS_LABEL + "]"
        return labels

    def provenance(self) -> dict[str, Any] | None:
        """The ``run.json`` entry: weights, label, path and checksum of the extractor (None: no arm)."""
        if self.info is None:
            return None
        return {
            "weights": self.info.weights,
            "label": self.info.label,
            "path": self.info.path,
            "sha256": self.info.sha256,
        }


def image_arm(arms: Sequence[str], *, weights_path, when_missing: str, seed: int) -> ImageArm:
    """Protocol 2, image arm: load the frozen GoogLeNet feature extractor when ``arms`` asks for it.

    Parameters
    ----------
    arms : the arms to run; nothing is loaded without ``"image_transfer"``
    weights_path : path or None, the ImageNet weights (see ``googlenet2d.find_imagenet_weights``)
    when_missing : {"random_labelled", "skip", "error"}
        Without the ImageNet weights: a random-weight extractor labelled as such, no image arm,
        or :class:`ecglib.models.googlenet2d.ImageNetWeightsMissing`.
    seed : int, the study seed (the random extractor's weights get ``derive_seed(seed, "googlenet")``)
    """
    from ecglib.models import googlenet2d

    if "image_transfer" not in arms:
        return ImageArm(None, None, "")
    try:
        extractor, info = googlenet2d.load_feature_extractor(
            weights_path=weights_path,
            when_missing="random" if when_missing == "random_labelled" else "error",
            seed=derive_seed(seed, "googlenet"),
        )
    except googlenet2d.ImageNetWeightsMissing as error:
        if when_missing == "error":
            raise
        return ImageArm(None, None, f"image_transfer arm skipped: {error}")
    return ImageArm(extractor, info, info.label)


def one_d_inputs(signals_mv: np.ndarray, *, arms: Sequence[str]) -> dict[str, np.ndarray]:
    """Protocol 2, 1-D arms: arm -> the signals ``(n, n_samples, 1)`` (transfer, then random)."""
    return {arm: signals_mv for arm in ("transfer", "random") if arm in arms}


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
        over epochs), ``f1`` (the headline under ``model_selection``), ``lci_test``,
        ``lci_test_never_drops`` (the test curve never drops: its LCI divides by ε alone),
        ``lci_val``, ``seconds``
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

    The runs are the units of :func:`starvation_units`, computed here in memory (nothing stored)
    and aggregated by :func:`starvation_from_payloads`; the notebook runs the same units through
    the cache (:func:`plan_from_params`).

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
    grid, runs = starvation_units(
        inputs,
        targets,
        train_index=train_index,
        val_index=val_index,
        test_index=test_index,
        n_classes=n_classes,
        train_fractions=train_fractions,
        n_trials=n_trials,
        trial_resampling=trial_resampling,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        optimizer=optimizer,
        model_selection=model_selection,
        head_hidden_units=head_hidden_units,
        cae_options=cae_options,
        encoder=encoder_state,
        seed=seed,
        device=device,
        progress=progress,
    )
    return starvation_from_payloads(runs, units.run_units(grid, cache_dir=None, use_cache=False))


# --------------------------------------------------------------------------- the grid as units
# Protocols 1-3 as cached units (ecglib.units): the autoencoder's pre-training, the image arm's
# GoogLeNet features, then one unit per classifier (training size x trial x arm). The notebook
# runs the missing ones (ecglib.units.run_units) and aggregates (starvation_from_payloads);
# `ecglib plan jang2021` / `ecglib unit run` run them one by one (ecglib.workflow). A unit computed
# either way is the same file, bit for bit.

#: bump when a unit's computation changes its results
CODE_VERSION = "jang2021-unit-1"
#: name of the autoencoder's pre-training unit
PRETRAIN_UNIT = "pretrain"
#: name of the image arm's feature unit (spectrograms through the frozen GoogLeNet)
FEATURES_UNIT = "image_features"


def classifier_unit(arm: str, train_fraction: float, trial: int) -> str:
    """The name of one classifier's unit, e.g. ``classifier/transfer/50%/trial3``."""
    return f"classifier/{arm}/{100 * float(train_fraction):g}%/trial{trial}"


@dataclass(frozen=True)
class ClassifierRun:
    """What one classifier unit is (a row of :class:`StarvationResult` once run).

    Attributes
    ----------
    arm, train_fraction, trial : the cell of the experiment
    settings : its row of ``StarvationResult.settings`` but ``encoder_tensors_from_cae`` (known
        once the model is built: the payload's ``n_loaded``)
    use_val : model selection on the validation split (else the paper's best test epoch)
    """

    arm: str
    train_fraction: float
    trial: int
    settings: Mapping[str, Any]
    use_val: bool


def _array_digest(array: np.ndarray) -> str:
    return units.unit_key(array=np.asarray(array))


def starvation_units(
    inputs: Mapping[str, np.ndarray | Unit],
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
    encoder: Mapping[str, torch.Tensor] | Unit | None,
    seed: int,
    device,
    progress: bool = True,
    input_digests: Mapping[str, str] | None = None,
) -> tuple[list[Unit], dict[str, ClassifierRun]]:
    """The classifiers of :func:`run_data_starvation` as units: one per training size, trial and arm.

    Parameters
    ----------
    inputs : arm -> its examples (as in :func:`run_data_starvation`), or the :class:`~ecglib.units.Unit`
        whose payload's ``"features"`` they are (the image arm's :func:`image_features_unit`)
    encoder : the autoencoder's encoder state dict, or the pre-training unit
        (:func:`pretrain_unit`) whose payload's ``"encoder_state"`` it is; None without a transfer arm
    input_digests : arm -> digest of its input array (default: computed from the array; a unit
        input is named by its key); stand-ins pass names of no real data
    (other parameters: as :func:`run_data_starvation`)

    Returns
    -------
    units : list of Unit in the experiment's order (size, trial, arm), whose ``needs`` are the
        unit inputs (not in the list: put them first)
    runs : unit name -> :class:`ClassifierRun`, for :func:`starvation_from_payloads`

    A unit's key names the code version, the arm, its input (digest or unit key), the targets,
    the train / validation / test indices of its trial, the training settings, the model (CAE
    options for the 1-D arms, the head for all), its seed and its initial encoder (the
    pre-training's key, or a digest of the state dict); not the device.
    """
    if model_selection not in MODEL_SELECTIONS:
        raise ValueError(f"model_selection must be one of {MODEL_SELECTIONS}, got {model_selection!r}")
    use_val = model_selection == "validation"
    if use_val and len(val_index) == 0:
        raise ValueError("model_selection='validation' needs a validation split (val_fraction > 0)")
    if "transfer" in inputs and encoder is None:
        raise ValueError("the transfer arm needs the autoencoder's encoder state dict")
    monitor = "val_f1_weighted" if use_val else "test_f1_weighted"
    targets = np.asarray(targets)
    val_index = np.asarray(val_index, dtype=np.int64) if use_val else np.zeros(0, dtype=np.int64)
    test_index = np.asarray(test_index, dtype=np.int64)
    digests = dict(input_digests or {})
    by_array: dict[int, str] = {}
    sources: dict[str, np.ndarray | str] = {}
    needs: dict[str, tuple[str, ...]] = {}
    for arm, source in inputs.items():
        if isinstance(source, Unit):
            digests[arm], sources[arm], needs[arm] = source.key, source.name, (source.name,)
        else:
            if arm not in digests:
                if id(source) not in by_array:
                    by_array[id(source)] = _array_digest(source)
                digests[arm] = by_array[id(source)]
            sources[arm], needs[arm] = source, ()
    if isinstance(encoder, Unit):
        init, encoder_source = encoder.key, encoder.name
        if "transfer" in inputs:
            needs["transfer"] += (encoder.name,)
    elif encoder is not None:
        init, encoder_source = units.unit_key(state=dict(encoder)), encoder
    else:
        init, encoder_source = None, None
    training = dict(
        epochs=int(epochs),
        lr=float(lr),
        batch_size=int(batch_size),
        optimizer=optimizer,
        model_selection=model_selection,
    )
    common = {
        "code": CODE_VERSION,
        "role": "classifier",
        **training,
        "targets": targets,
        "n_classes": int(n_classes),
        "val": val_index,
        "test": test_index,
        "head": [int(units_) for units_ in head_hidden_units],
    }
    grid: list[Unit] = []
    runs: dict[str, ClassifierRun] = {}
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
            for arm in inputs:
                name = classifier_unit(arm, fraction, trial)
                parts = {
                    **common,
                    "arm": arm,
                    "inputs": digests[arm],
                    "train": np.asarray(trial_train, dtype=np.int64),
                    "seed": int(trial_seed),
                    "model": dict(cae_options)
                    if arm in ("transfer", "random")
                    else "googlenet-features-head",
                    "init": init if arm == "transfer" else "random",
                }
                compute = partial(
                    _classifier_compute,
                    sources[arm],
                    targets,
                    trial_train,
                    val_index,
                    test_index,
                    arm=arm,
                    encoder=encoder_source if arm == "transfer" else None,
                    n_classes=n_classes,
                    seed=trial_seed,
                    cae_options=cae_options,
                    head_hidden_units=head_hidden_units,
                    use_val=use_val,
                    monitor=monitor,
                    device=device,
                    progress=progress,
                    label=f"{arm} {fraction:.0%} trial {trial}",
                    **training,
                )
                grid.append(Unit(name, parts, compute, needs[arm]))
                runs[name] = ClassifierRun(
                    arm,
                    fraction,
                    trial,
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
                    ),
                    use_val,
                )
    return grid, runs


def _classifier_compute(
    source,
    targets,
    trial_train,
    val_index,
    test_index,
    needed,
    *,
    arm,
    encoder,
    n_classes,
    seed,
    cae_options,
    head_hidden_units,
    use_val,
    monitor,
    device,
    progress,
    label,
    epochs,
    lr,
    batch_size,
    optimizer,
    model_selection,
) -> dict:
    """Train one classifier (one arm, size and trial); payload: its history, selected epoch, seconds
    and how many encoder tensors came from the autoencoder."""
    from ecglib.train import fit

    signals = needed[source]["features"].numpy() if isinstance(source, str) else source
    encoder_state = needed[encoder]["encoder_state"] if isinstance(encoder, str) else encoder
    model, n_loaded = build_model(
        arm,
        n_classes=n_classes,
        seed=seed,
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
        seed=seed,
        device=device,
        optimizer=optimizer,
        monitor=monitor,
        monitor_mode="max",
        select_on_test=not use_val,
        progress=progress,
        label=label,
    )
    return {
        "history": units.frame_payload(result.history),
        "best_epoch": int(result.best_epoch),
        "seconds": float(np.sum(result.epoch_seconds)),
        "n_loaded": int(n_loaded),
    }


def starvation_from_payloads(
    runs: Mapping[str, ClassifierRun], payloads: Mapping[str, Any]
) -> StarvationResult:
    """:class:`StarvationResult` of the classifier units ``runs`` (in their order) from their payloads."""
    trial_rows, curve_rows, setting_rows = [], [], []
    for name, run in runs.items():
        payload = payloads[name]
        history = units.frame_from_payload(payload["history"])
        use_val = run.use_val
        test_curve = history["test_f1_weighted"].to_numpy()
        val_curve = history["val_f1_weighted"].to_numpy() if use_val else None
        f1_selected = float(
            history.loc[history["epoch"] == payload["best_epoch"], "test_f1_weighted"].iloc[0]
        )
        f1_best_test = float(test_curve.max())
        trial_rows.append(
            dict(
                arm=run.arm,
                train_fraction=run.train_fraction,
                trial=run.trial,
                n_train=run.settings["n_train"],
                best_epoch=payload["best_epoch"],
                f1_selected=f1_selected,
                f1_best_test_epoch=f1_best_test,
                f1=f1_selected if use_val else f1_best_test,
                lci_test=learning_curve_index(test_curve) if len(test_curve) > 1 else np.nan,
                lci_test_never_drops=bool(len(test_curve) > 1 and learning_curve_never_drops(test_curve)),
                lci_val=learning_curve_index(val_curve) if use_val and len(val_curve) > 1 else np.nan,
                seconds=payload["seconds"],
            )
        )
        for _, row in history.iterrows():
            curve_rows.append(
                dict(
                    arm=run.arm,
                    train_fraction=run.train_fraction,
                    trial=run.trial,
                    epoch=int(row["epoch"]),
                    train_loss=row["train_loss"],
                    test_f1_weighted=row["test_f1_weighted"],
                    val_f1_weighted=row["val_f1_weighted"] if use_val else np.nan,
                )
            )
        setting_rows.append(dict(**run.settings, encoder_tensors_from_cae=payload["n_loaded"]))
    return StarvationResult(pd.DataFrame(trial_rows), pd.DataFrame(curve_rows), pd.DataFrame(setting_rows))


# The thin adaptors of Protocols 1-3: the only training code that reads a profile's parameters
# (everything above takes explicit keywords).


def pretrain_from_params(
    cfg: Mapping[str, Any], train_signals: np.ndarray, val_signals: np.ndarray, *, device
):
    """:func:`pretrain_autoencoder` with the profile's ``pretrain_*`` and ``cae_*`` settings."""
    return pretrain_autoencoder(
        train_signals,
        val_signals,
        cae_options=cae_kwargs(cfg),
        epochs=cfg["pretrain_epochs"],
        lr=cfg["pretrain_lr"],
        batch_size=cfg["pretrain_batch_size"],
        early_stopping_patience=cfg["pretrain_patience"],
        min_epochs=cfg["pretrain_min_epochs"],
        lr_schedule=cfg["pretrain_lr_schedule"],
        lr_min=cfg["pretrain_lr_min"],
        seed=cfg["seed"],
        device=device,
    )


def image_arm_from_params(cfg: Mapping[str, Any]) -> ImageArm:
    """:func:`image_arm` with the profile's ``arms`` and ``googlenet_*`` settings."""
    return image_arm(
        cfg["arms"],
        weights_path=cfg["googlenet_weights_path"],
        when_missing=cfg["googlenet_when_missing"],
        seed=cfg["seed"],
    )


def image_features(
    signals_mv: np.ndarray,
    extractor: torch.nn.Module,
    *,
    fs_hz: float,
    image_size: int,
    nperseg: int,
    max_freq_hz: float,
    colormap: str,
    device,
) -> np.ndarray:
    """Spectrogram GoogLeNet features ``(n, 1024, 1)`` of lead signals ``(n, n_samples, 1)``
    (:func:`ecglib.models.googlenet2d.spectrogram_features`)."""
    from ecglib.models import googlenet2d

    features = googlenet2d.spectrogram_features(
        signals_mv[:, :, 0],
        fs_hz=fs_hz,
        extractor=extractor,
        image_size=image_size,
        device=device,
        nperseg=nperseg,
        max_freq_hz=max_freq_hz,
        colormap=colormap,
    )
    return features[:, :, None]


def image_features_from_params(
    cfg: Mapping[str, Any], signals_mv: np.ndarray, extractor: torch.nn.Module, *, device
) -> np.ndarray:
    """:func:`image_features` with the profile's ``fs_hz``, ``image_size`` and ``spectrogram_*`` settings."""
    return image_features(signals_mv, extractor, device=device, **image_feature_kwargs(cfg))


def image_feature_kwargs(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The :func:`image_features` keywords (but the device) from a study's parameters."""
    return dict(
        fs_hz=cfg["fs_hz"],
        image_size=cfg["image_size"],
        nperseg=cfg["spectrogram_nperseg"],
        max_freq_hz=cfg["spectrogram_max_freq_hz"],
        colormap=cfg["spectrogram_colormap"],
    )


def run_data_starvation_from_params(
    cfg: Mapping[str, Any],
    inputs: Mapping[str, np.ndarray],
    targets: np.ndarray,
    *,
    split,
    n_classes: int,
    encoder_state: Mapping[str, torch.Tensor] | None,
    device,
) -> StarvationResult:
    """:func:`run_data_starvation` on ``split`` (``.train/.val/.test`` index arrays) with the
    profile's training settings; the classifiers' seed is ``derive_seed(seed, "classifiers")``."""
    return run_data_starvation(
        inputs,
        targets,
        train_index=split.train,
        val_index=split.val,
        test_index=split.test,
        n_classes=n_classes,
        train_fractions=cfg["train_fractions"],
        n_trials=cfg["n_trials"],
        trial_resampling=cfg["trial_resampling"],
        epochs=cfg["epochs"],
        lr=cfg["lr"],
        batch_size=cfg["batch_size"],
        optimizer=cfg["optimizer"],
        model_selection=cfg["model_selection"],
        head_hidden_units=cfg["head_hidden_units"],
        cae_options=cae_kwargs(cfg),
        encoder_state=encoder_state,
        seed=derive_seed(cfg["seed"], "classifiers"),
        device=device,
    )


# --------------------------------------------------------------------------- the whole grid as units


def pretrain_unit(
    corpus_signals: np.ndarray,
    corpus_split,
    *,
    corpus_digest: str,
    cae_options: Mapping[str, Any],
    epochs: int,
    lr: float,
    batch_size: int,
    early_stopping_patience: int,
    min_epochs: int,
    lr_schedule: str,
    lr_min: float,
    seed: int,
    n_shown: int,
    device,
) -> Unit:
    """Protocol 1 as a unit: :func:`pretrain_autoencoder` on the corpus split, then what the notebook
    reports of it.

    Its key names the code version, the corpus (``corpus_digest``), the split's indices, the CAE
    options, the training settings, the study seed and ``n_shown``. Payload: ``encoder_state`` (the
    best weights of the encoder, on the CPU), ``history`` (:func:`ecglib.units.frame_payload`),
    ``best_epoch``, ``test_errors`` (summed squared error of every held-out ECG),
    ``shown`` (the first ``n_shown`` held-out ECGs: corpus indices), ``shown_reconstructions``
    (their reconstructions, ``(n_shown, 1, n_samples)``) and ``shown_errors``.
    """
    training = dict(
        epochs=int(epochs),
        lr=float(lr),
        batch_size=int(batch_size),
        early_stopping_patience=int(early_stopping_patience),
        min_epochs=int(min_epochs),
        lr_schedule=lr_schedule,
        lr_min=float(lr_min),
    )
    parts = {
        "code": CODE_VERSION,
        "role": "pretrain",
        "corpus": corpus_digest,
        "train": np.asarray(corpus_split.train, dtype=np.int64),
        "val": np.asarray(corpus_split.val, dtype=np.int64),
        "test": np.asarray(corpus_split.test, dtype=np.int64),
        "cae": dict(cae_options),
        **training,
        "seed": int(seed),
        "n_shown": int(n_shown),
    }
    compute = partial(
        _pretrain_compute,
        corpus_signals,
        corpus_split,
        cae_options=cae_options,
        seed=seed,
        n_shown=n_shown,
        device=device,
        **training,
    )
    return Unit(PRETRAIN_UNIT, parts, compute)


def _pretrain_compute(signals, split, needed, *, n_shown, device, **kwargs) -> dict:
    from ecglib.models import cae
    from ecglib.train import predict

    result = pretrain_autoencoder(signals[split.train], signals[split.val], device=device, **kwargs)
    shown = np.asarray(split.test[:n_shown], dtype=np.int64)
    return {
        "encoder_state": {
            name: tensor.detach().cpu().clone() for name, tensor in result.model.encoder.state_dict().items()
        },
        "history": units.frame_payload(result.history),
        "best_epoch": int(result.best_epoch),
        "test_errors": torch.as_tensor(
            cae.reconstruction_errors(result.model, signals[split.test], device=device)
        ),
        "shown": torch.as_tensor(shown),
        "shown_reconstructions": torch.as_tensor(
            predict(result.model, signals[shown], batch_size=kwargs["batch_size"], device=device)
        ),
        "shown_errors": torch.as_tensor(
            cae.reconstruction_errors(result.model, signals[shown], device=device)
        ),
    }


def image_features_unit(
    signals_mv: np.ndarray,
    extractor: torch.nn.Module,
    *,
    signals_digest: str,
    extractor_id: str,
    fs_hz: float,
    image_size: int,
    nperseg: int,
    max_freq_hz: float,
    colormap: str,
    device,
) -> Unit:
    """The image arm's input as a unit: :func:`image_features` of every example, computed once.

    Its key names the code version, the signals (``signals_digest``), the extractor
    (``extractor_id``: ``imagenet:<sha256>`` or ``random:<seed>``) and the spectrogram settings.
    Payload: ``features``, a float32 tensor ``(n, 1024, 1)``.
    """
    settings = dict(
        fs_hz=float(fs_hz),
        image_size=int(image_size),
        nperseg=int(nperseg),
        max_freq_hz=float(max_freq_hz),
        colormap=colormap,
    )
    parts = {
        "code": CODE_VERSION,
        "role": "image_features",
        "signals": signals_digest,
        "extractor": extractor_id,
        **settings,
    }
    return Unit(
        FEATURES_UNIT, parts, partial(_features_compute, signals_mv, extractor, device=device, **settings)
    )


def _features_compute(signals_mv, extractor, needed, **kwargs) -> dict:
    return {"features": torch.as_tensor(image_features(signals_mv, extractor, **kwargs))}


@dataclass
class UnitInputs:
    """What the units train on: the notebook's data (:func:`unit_inputs`) or shape-only stand-ins.

    Attributes
    ----------
    signals : ndarray (n, window_samples, 1), the downstream examples
    targets : int64 array (n,), class ids
    n_classes : number of classes
    split : the downstream split (``.train/.val/.test``)
    corpus_signals : ndarray (n_corpus, window_samples, 1), the pre-training corpus
    corpus_split : its train / validation / test split
    image_arm : :class:`ImageArm`
    signals_digest, corpus_digest : unit keys of the signals and of the corpus (named by the units)
    """

    signals: np.ndarray
    targets: np.ndarray
    n_classes: int
    split: Any
    corpus_signals: np.ndarray
    corpus_split: Any
    image_arm: ImageArm
    signals_digest: str
    corpus_digest: str


def unit_inputs(
    examples: LabelledSet, split, corpus: PretrainCorpus, corpus_split, image_arm: ImageArm
) -> UnitInputs:
    """:class:`UnitInputs` of the notebook's examples, split, corpus, corpus split and image arm (digested once)."""
    return UnitInputs(
        signals=examples.signals_mv,
        targets=np.asarray(examples.targets),
        n_classes=len(examples.target_names),
        split=split,
        corpus_signals=corpus.signals,
        corpus_split=corpus_split,
        image_arm=image_arm,
        signals_digest=_array_digest(examples.signals_mv),
        corpus_digest=_array_digest(corpus.signals),
    )


def unit_inputs_from_params(cfg: Mapping[str, Any], *, data_root=None) -> UnitInputs:
    """The notebook's data steps (downstream set, split, corpus without the held-out patients, its
    split, the image arm) with the profile's keys, for ``ecglib plan`` / ``ecglib unit run``.

    Raises
    ------
    DataMissingError
        the downstream dataset is absent (before anything is read).
    """
    check_data_present(cfg["data_source"], chapman_denoised=cfg["chapman_denoised"], data_root=data_root)
    examples = downstream_from_params(cfg, data_root=data_root)
    split = split_from_params(cfg, examples)
    corpus = corpus_from_params(
        cfg, exclude_patients={cfg["data_source"]: held_out_patients(examples, split)}, data_root=data_root
    )
    return unit_inputs(
        examples, split, corpus, corpus_split_from_params(cfg, corpus), image_arm_from_params(cfg)
    )


def extractor_id(image_arm: ImageArm, seed: int) -> str | None:
    """What determines the image arm's extractor: ``imagenet:<sha256>``, ``random:<seed>``, or None (no arm)."""
    if image_arm.extractor is None:
        return None
    if image_arm.info.is_imagenet:
        return f"imagenet:{image_arm.info.sha256}"
    return f"random:{derive_seed(seed, 'googlenet')}"


def plan_from_params(
    cfg: Mapping[str, Any], inputs: UnitInputs, *, device
) -> tuple[list[Unit], dict[str, ClassifierRun]]:
    """The notebook's grid: the pre-training unit, the image arm's feature unit (when the arm runs),
    then one classifier unit per training size, trial and arm (:func:`starvation_units`), with the
    profile's settings: what :func:`pretrain_from_params`, :func:`image_features_from_params` and
    :func:`run_data_starvation_from_params` run.

    Returns
    -------
    (units, runs): the list for :func:`ecglib.units.run_units` (needs first) and the classifier
    units' :class:`ClassifierRun` for :func:`starvation_from_payloads`
    """
    pre = pretrain_unit(
        inputs.corpus_signals,
        inputs.corpus_split,
        corpus_digest=inputs.corpus_digest,
        cae_options=cae_kwargs(cfg),
        epochs=cfg["pretrain_epochs"],
        lr=cfg["pretrain_lr"],
        batch_size=cfg["pretrain_batch_size"],
        early_stopping_patience=cfg["pretrain_patience"],
        min_epochs=cfg["pretrain_min_epochs"],
        lr_schedule=cfg["pretrain_lr_schedule"],
        lr_min=cfg["pretrain_lr_min"],
        seed=cfg["seed"],
        n_shown=cfg["n_reconstruction_examples"],
        device=device,
    )
    grid = [pre]
    arm_inputs: dict[str, np.ndarray | Unit] = dict(one_d_inputs(inputs.signals, arms=cfg["arms"]))
    digests = {arm: inputs.signals_digest for arm in arm_inputs}
    if inputs.image_arm.extractor is not None:
        features = image_features_unit(
            inputs.signals,
            inputs.image_arm.extractor,
            signals_digest=inputs.signals_digest,
            extractor_id=extractor_id(inputs.image_arm, cfg["seed"]),
            device=device,
            **image_feature_kwargs(cfg),
        )
        grid.append(features)
        arm_inputs["image_transfer"] = features
    classifiers, runs = starvation_units(
        arm_inputs,
        inputs.targets,
        train_index=inputs.split.train,
        val_index=inputs.split.val,
        test_index=inputs.split.test,
        n_classes=inputs.n_classes,
        train_fractions=cfg["train_fractions"],
        n_trials=cfg["n_trials"],
        trial_resampling=cfg["trial_resampling"],
        epochs=cfg["epochs"],
        lr=cfg["lr"],
        batch_size=cfg["batch_size"],
        optimizer=cfg["optimizer"],
        model_selection=cfg["model_selection"],
        head_hidden_units=cfg["head_hidden_units"],
        cae_options=cae_kwargs(cfg),
        encoder=pre,
        seed=derive_seed(cfg["seed"], "classifiers"),
        device=device,
        input_digests=digests,
    )
    return grid + classifiers, runs


#: stand-in sizes (examples, classes) of a downstream source that is absent: Chapman as the paper's
#: Table 1 (``reported.yaml``); MIT-BIH as the published local run found it (results/jang2021/local:
#: 432 windows of 5 rhythms under that profile's caps)
STAND_IN_MITBIH = (432, 5)


def stand_in_inputs(cfg: Mapping[str, Any]) -> UnitInputs:
    """Shape-only stand-ins of the profile's data, for :func:`plan_from_params` without them.

    Downstream: ``reported.yaml``'s Chapman size and classes (10,646 ECGs, 11 rhythms), MIT-BIH
    :data:`STAND_IN_MITBIH`, ``sim_n_examples`` for the simulated set; split in consecutive
    blocks of the profile's fractions. Corpus: ``pretrain_n_gan`` examples (the public sources
    cannot be counted without their data), split likewise. No signals (zero-length arrays of the
    profile's window) and digests that name the profile, not data; the image arm is the profile's
    (it needs no data). The units (names, needs, training sizes) are the profile's; their keys
    name no real data, so they are for dry runs only (their ``compute`` cannot run).
    """
    from ecglib.data.splits import Split
    from ecglib.params import reported

    if cfg["data_source"] == "chapman":
        paper = reported("jang2021")["datasets"]
        n, n_classes = int(paper["downstream_ecgs"]), int(paper["downstream_classes"])
    elif cfg["data_source"] == "mitbih":
        n, n_classes = STAND_IN_MITBIH
    else:
        n, n_classes = int(cfg["sim_n_examples"]), 11

    def blocks(count: int, test_fraction: float, val_fraction: float) -> Split:
        n_test, n_val = int(round(test_fraction * count)), int(round(val_fraction * count))
        ids = np.arange(count, dtype=np.int64)
        n_train = count - n_test - n_val
        return Split(train=ids[:n_train], val=ids[n_train : n_train + n_val], test=ids[n_train + n_val :])

    validation = cfg["model_selection"] == "validation"
    window = int(cfg["window_samples"])
    name = f"stand-in:jang2021/{cfg['profile']}"
    return UnitInputs(
        signals=np.zeros((0, window, 1), np.float32),
        targets=np.arange(n, dtype=np.int64) % n_classes,
        n_classes=n_classes,
        split=blocks(n, cfg["test_fraction"], cfg["val_fraction"] if validation else 0.0),
        corpus_signals=np.zeros((0, window, 1), np.float32),
        corpus_split=blocks(
            int(cfg["pretrain_n_gan"]), cfg["pretrain_test_fraction"], cfg["pretrain_val_fraction"]
        ),
        image_arm=image_arm_from_params(cfg),
        signals_digest=f"{name}/signals",
        corpus_digest=f"{name}/corpus",
    )


def pretrained_from_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The pre-training unit's payload as the notebook reads it: ``history`` (DataFrame), ``best_epoch``,
    ``test_errors``, ``shown``, ``shown_reconstructions``, ``shown_errors`` (NumPy) and ``encoder_state``."""
    out = dict(payload)
    out["history"] = units.frame_from_payload(payload["history"])
    for name in ("test_errors", "shown", "shown_reconstructions", "shown_errors"):
        out[name] = payload[name].numpy()
    return out


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
#: ``sd_convention`` -> how each table's SDs are computed: the paper's own convention per table
#: (``reported["sd_ddof"][table]``: Table 2 sample SDs, Table 3 population SDs), or one for all
SD_CONVENTIONS = ("as_paper", "sample", "population")


def paper_ddof(reported: Mapping[str, Any], table: str) -> int | None:
    """The SD convention of the paper's ``table`` (``reported["sd_ddof"][table]``; None when unknown)."""
    conventions = reported.get("sd_ddof") or {}
    return conventions.get(table) if isinstance(conventions, Mapping) else conventions


def table_ddof(convention: str, reported: Mapping[str, Any], table: str) -> int:
    """The ``ddof`` our ``table`` uses under ``sd_convention`` (``as_paper``: the paper's, else sample)."""
    if convention == "sample":
        return 1
    if convention == "population":
        return 0
    if convention == "as_paper":
        ddof = paper_ddof(reported, table)
        return 1 if ddof is None else int(ddof)
    raise ValueError(f"sd_convention must be one of {SD_CONVENTIONS}, got {convention!r}")


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
    ddof: int = 1,
    arm_labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The layout of the paper's Tables 2 and 3: trials, mean ± SD (``ddof``, named in the row), an
    ``n`` row (trials per column, the size behind every p) and Welch p rows; one column per size and arm."""
    table = paper_tables.layout(
        tidy_trials(trials, value),
        arms=arms,
        pairs=pairs,
        test="welch",
        ddof=ddof,
        arm_labels=arm_labels,
        condition_label=SIZE_LABEL,
    )
    tidy = tidy_trials(trials, value)
    labels = dict(arm_labels or {})
    counts = {
        f"{SIZE_LABEL.format(condition)} {labels.get(arm, arm)}": str(len(group))
        for (condition, arm), group in tidy.groupby(["condition", "arm"])
    }
    n_row = pd.DataFrame([{column: counts.get(column, "") for column in table.columns}], index=["n (trials)"])
    position = list(table.index).index(f"mean ± SD (ddof={ddof})") + 1
    out = pd.concat([table.iloc[:position], n_row, table.iloc[position:]])
    out.index.name = table.index.name
    return out


def versus_paper(
    trials: pd.DataFrame,
    value: str,
    reported: Mapping[str, Any],
    table: str,
    *,
    arms: Sequence[str],
    pairs: Sequence[tuple[str, str]],
    quantity: str,
    ddof: int = 1,
    arm_labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Our mean ± SD (``ddof``) per arm and size beside the paper's mean ± SD (its own convention,
    named), with n, our Welch p and the paper's p."""
    return paper_tables.versus_paper(
        tidy_trials(trials, value),
        reported[table],
        arms=arms,
        pairs=pairs,
        test="welch",
        ddof=ddof,
        paper_ddof=paper_ddof(reported, table),
        quantity=quantity,
        arm_labels=arm_labels,
        condition_label=SIZE_LABEL,
    )


def lci_summary(
    trials: pd.DataFrame,
    *,
    arms: Sequence[str],
    pairs: Sequence[tuple[str, str]] = LCI_COMPARISONS,
    ddof: int = 1,
    value: str = "lci_test",
    flag: str = "lci_test_never_drops",
    arm_labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """LCI per size and arm, robustly: n, trials whose curve never drops (LCI = gain / ε), mean ± SD,
    median and range; per compared pair Welch's p (the paper's test) and the Mann-Whitney U p.

    A curve that never drops has an LCI of ~1e13 or more (or 0 when flat): one such trial dominates
    a mean and an SD and leaves Welch's t near 0 (p near 1); the median and the rank test do not
    depend on how large those values are.
    """
    labels = dict(arm_labels or {})
    rows = []
    tidy = tidy_trials(trials, value)
    flags = tidy_trials(trials, flag) if flag in trials.columns else None
    for condition in paper_tables.conditions(tidy):
        for arm in arms:
            chosen = (tidy["arm"] == arm) & (tidy["condition"] == condition)
            values = tidy.loc[chosen, "value"].to_numpy(dtype=np.float64)
            if len(values) == 0:
                continue
            never = int(flags.loc[chosen, "value"].astype(bool).sum()) if flags is not None else 0
            row = {
                "training size": SIZE_LABEL.format(condition),
                "arm": labels.get(arm, arm),
                "n": len(values),
                "curves that never drop": never,
                f"mean ± SD (ddof={ddof})": stats.format_mean_sd(values, ddof=ddof),
                "median": float(np.median(values)),
                "min": float(values.min()),
                "max": float(values.max()),
            }
            for arm_a, arm_b in pairs:
                if arm != arm_b:
                    continue
                a = tidy.loc[(tidy["arm"] == arm_a) & (tidy["condition"] == condition), "value"].to_numpy()
                if len(a) == 0:
                    continue
                for test in ("welch", "mann_whitney"):
                    result = stats.compare_samples(a, values, test=test)
                    row[f"p vs {arm_a} ({stats.TWO_SAMPLE_TESTS[test]})"] = stats.format_p(result.p)
                row[f"n vs {arm_a}"] = stats.compare_samples(a, values).n_text
            rows.append(row)
    return pd.DataFrame(rows).fillna("")


def lci_epochs_note(epochs: int, paper_epochs: int = 150) -> str:
    """The sentence every LCI table carries: an LCI depends on how many epochs the curve has."""
    if epochs == paper_epochs:
        return f"LCI over {epochs} epochs, as the paper's"
    return (
        f"LCI over our {epochs} epochs is not comparable with the paper's LCI over {paper_epochs} epochs "
        "(the mean gains and drops and the best F1 all depend on the length of the curve)"
    )


#: the reconstruction error beside the paper's and the PCA baseline's (``paper_tables.scalars``)
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
    paper_tables.Row(
        "PCA baseline error per point (as many components as latent features, same ECGs)",
        "pca_error_per_point",
        "z-score^2",
        paper="reconstruction_error.pca_baseline_per_point",
    ),
)


# --------------------------------------------------------------------------- claims and metrics


def pca_reconstruction_errors(
    train_signals: np.ndarray, test_signals: np.ndarray, *, n_components: int, seed: int = 0
) -> tuple[np.ndarray, int]:
    """The "did the autoencoder learn" baseline: a PCA fitted on the autoencoder's training ECGs.

    A linear code of ``n_components`` numbers (as many as the autoencoder's latent features) fitted
    on ``train_signals`` reconstructs ``test_signals``; an autoencoder that does not beat it has
    learnt nothing a linear projection would not.

    Parameters
    ----------
    train_signals, test_signals : ndarray of shape (n, n_samples, n_leads)
    n_components : int, capped at ``min(n_train, n_samples * n_leads)``

    Returns
    -------
    (errors, n_components_used): ``errors`` of shape (n_test,), the squared error summed over every
    point of each test example (as :func:`ecglib.models.cae.reconstruction_errors`).
    """
    from sklearn.decomposition import PCA

    train = np.asarray(train_signals, dtype=np.float64).reshape(len(train_signals), -1)
    test = np.asarray(test_signals, dtype=np.float64).reshape(len(test_signals), -1)
    used = int(min(n_components, train.shape[0], train.shape[1]))
    pca = PCA(n_components=used, svd_solver="full", random_state=seed).fit(train)
    recon = pca.inverse_transform(pca.transform(test))
    return ((test - recon) ** 2).sum(axis=1), used


def autoencoder_learned(error_per_point: float | None, baseline_per_point: float | None) -> bool | None:
    """Whether the autoencoder's held-out error beats the PCA baseline's (None when either is unknown)."""
    if error_per_point is None or baseline_per_point is None:
        return None
    if not (np.isfinite(error_per_point) and np.isfinite(baseline_per_point)):
        return None
    return bool(error_per_point < baseline_per_point)


AUTOENCODER_GATE = claims.gate(
    "autoencoder_learned",
    "The autoencoder did not beat a {pca_components}-component PCA on the same ECGs (error per point "
    "{recon_error_per_point:.3f} vs PCA {pca_error_per_point:.3f}; paper 0.305), so the transfer arm "
    "had no useful pre-training",
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
    pca_error_per_point: float | None,
    pca_components: int | None = None,
) -> dict[str, Any]:
    """The numbers :data:`CLAIMS` are tested on.

    ``f1`` and ``lci``: arm -> size (%) -> trial values (an arm not run maps to {});
    ``f1_drop``: mean F1 at the largest minus the smallest size per arm (None with one size);
    ``image_arm_is_imagenet`` (None: the arm did not run) and ``autoencoder_learned`` (the
    autoencoder's held-out error per point below the PCA baseline's) gate claims.
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
        "autoencoder_learned": autoencoder_learned(recon_error_per_point, pca_error_per_point),
        "recon_error_per_point": np.nan if recon_error_per_point is None else recon_error_per_point,
        "pca_error_per_point": np.nan if pca_error_per_point is None else pca_error_per_point,
        "pca_components": "?" if pca_components is None else pca_components,
    }


def headline_metrics(
    trials: pd.DataFrame,
    *,
    recon_total: float | None = None,
    recon_per_point: float | None = None,
    pca_per_point: float | None = None,
) -> dict[str, float]:
    """Flat metrics for ``metrics.json``: mean F1 and LCI per arm and size, LCI medians and
    never-dropping curves, Welch p-values (finite ones) and Mann-Whitney p of the LCIs, trials per arm."""
    metrics: dict[str, float] = {}
    if recon_total is not None:
        metrics["recon_error_total"] = float(recon_total)
    if recon_per_point is not None:
        metrics["recon_error_per_point"] = float(recon_per_point)
    if pca_per_point is not None:
        metrics["pca_error_per_point"] = float(pca_per_point)
    for (arm, fraction), group in trials.groupby(["arm", "train_fraction"], sort=False):
        metrics[f"f1_{arm}_{pct(fraction)}"] = float(group["f1"].mean())
        metrics[f"f1_best_test_epoch_{arm}_{pct(fraction)}"] = float(group["f1_best_test_epoch"].mean())
        metrics[f"lci_{arm}_{pct(fraction)}"] = float(group["lci_test"].mean())
        metrics[f"lci_median_{arm}_{pct(fraction)}"] = float(group["lci_test"].median())
        if "lci_test_never_drops" in group:
            metrics[f"lci_never_drops_{arm}_{pct(fraction)}"] = float(group["lci_test_never_drops"].sum())
        metrics[f"n_trials_{arm}_{pct(fraction)}"] = float(len(group))
    tests = (("f1", "f1", F1_COMPARISONS, "welch"), ("lci", "lci_test", LCI_COMPARISONS, "welch"))
    tests += (("lci_mannwhitney", "lci_test", LCI_COMPARISONS, "mann_whitney"),)
    for name, value, pairs, test in tests:
        for row in paper_tables.comparisons(tidy_trials(trials, value), pairs, test=test).itertuples():
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
