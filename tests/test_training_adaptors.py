"""The studies' thin training adaptors pass on exactly what the notebooks' cells used to pass.

The Vavekanand grid cache is keyed by each run's seed, tags, lr, batch size, weighted sampling and
indices, and the Jang numbers by every training setting: these tests fix the adaptors against the
explicit-keyword calls the notebook cells made before (written out below), for every profile.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecglib import params
from ecglib.data import LabelledSet, cache_dir
from ecglib.grid import GridResult
from ecglib.seeds import derive_seed
from ecglib.studies import jang2021
from ecglib.studies import vavekanand as vv

PROFILES = ("smoke", "local", "paper")


# --------------------------------------------------------------------------- vavekanand


def _windows(n_patients=3, n_per_patient=50) -> LabelledSet:
    rng = np.random.default_rng(0)
    n = n_patients * n_per_patient
    return LabelledSet(
        signals_mv=rng.normal(size=(n, 128, 1)).astype(np.float32),
        targets=np.tile((np.arange(n_per_patient) % 4 == 0).astype(np.int64), n_patients),
        patient_ids=np.repeat([f"p{i}" for i in range(n_patients)], n_per_patient),
        fs_hz=128.0,
        lead_names=("MLII",),
        target_names=("normal", "abnormal"),
        task="single_label",
        source="test",
    )


@pytest.fixture
def recorded_grids(monkeypatch):
    """Replace ``train_grid`` by a recorder of its runs and keywords; returns the record list."""
    calls = []

    def fake_train_grid(model_factory, signals, targets, runs, **kwargs):
        calls.append((runs, kwargs))
        return [
            GridResult(
                tags=run.tags,
                history=pd.DataFrame(),
                best_epoch=1,
                best_state_dict={"w": 1},
                val_loss=0.0,
                val_balanced_accuracy=1.0,
            )
            for run in runs
        ]

    monkeypatch.setattr(vv, "train_grid", fake_train_grid)
    return calls


def _run_key(run) -> tuple:
    """Everything of a grid run that its cache key (and its numbers) depend on."""
    indices = [None if part is None else part.tolist() for part in (run.train_indices, run.val_indices)]
    test = None if run.test_indices is None else run.test_indices.tolist()
    return (indices, test, run.lr, run.batch_size, run.weighted_sampling, run.seed, run.init_state, run.tags)


def _same_calls(first, second) -> None:
    (runs_a, kwargs_a), (runs_b, kwargs_b) = first, second
    assert kwargs_a.keys() == kwargs_b.keys()
    for key in kwargs_a:
        if key != "on_chunk_done":  # a fresh closure per call
            assert kwargs_a[key] == kwargs_b[key], key
    assert [_run_key(run) for run in runs_a] == [_run_key(run) for run in runs_b]


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("variant", [False, True])
def test_vavekanand_adaptors_pass_what_the_notebook_passed(profile, variant, recorded_grids):
    cfg = params.load("vavekanand", profile)
    windows = _windows()
    splits = vv.split_windows(windows, seed=cfg.seed)
    signals, targets, patients = vv.to_model_input(windows), windows.targets, ["p0", "p1", "p2"]
    checkpoints = cache_dir() / "grid_runs" if cfg.use_cache else None
    state = {"w": 1}

    vv.pretrain_from_params(
        cfg, None, signals, targets, splits, patients=patients, device="cpu", variant=variant
    )
    vv.pretrain(  # the notebook's cell before the adaptor
        None,
        signals,
        targets,
        splits,
        epochs=cfg.variant_pretrain_epochs if variant else cfg.pretrain_epochs,
        lr=cfg.pretrain_lr,
        batch_size=cfg.pretrain_batch_size,
        weight_decay=cfg.weight_decay,
        seed=cfg.seed,
        device="cpu",
        patients=patients,
        checkpoint_dir=checkpoints,
    )
    _same_calls(recorded_grids[0], recorded_grids[1])
    assert recorded_grids[0][0][0].seed == derive_seed(cfg.seed, "pretrain")

    vv.patient_grid_from_params(
        cfg, None, signals, targets, splits, patients, pretrained_state=state, device="cpu", variant=variant
    )
    prefix = "variant_" if variant else ""
    vv.run_patient_grid(
        None,
        signals,
        targets,
        splits,
        patients,
        learning_rates=cfg[prefix + "learning_rates"],
        batch_sizes=cfg[prefix + "batch_sizes"],
        weighted_sampling=cfg[prefix + "weighted_sampling"],
        epochs=cfg[prefix + "epochs"],
        weight_decay=cfg.weight_decay,
        seed=cfg.seed,
        pretrained_state=state,
        device="cpu",
        max_samples_per_step=cfg.grid_samples_per_step,
        n_workers=cfg.grid_workers,
        checkpoint_dir=checkpoints,
    )
    _same_calls(recorded_grids[2], recorded_grids[3])
    n_points = len(cfg[prefix + "learning_rates"]) * len(cfg[prefix + "batch_sizes"])
    assert len(recorded_grids[2][0]) == 3 * 2 * n_points * len(cfg[prefix + "weighted_sampling"])


# --------------------------------------------------------------------------- jang2021


@pytest.mark.parametrize("profile", PROFILES)
def test_jang2021_pretrain_adaptor_passes_what_the_notebook_passed(profile, monkeypatch):
    from ecglib import train
    from ecglib.models import cae

    cfg = params.load("jang2021", profile)
    calls = []
    monkeypatch.setattr(cae, "make_autoencoder", lambda **kwargs: ("autoencoder", kwargs))
    monkeypatch.setattr(train, "fit", lambda *args, **kwargs: calls.append((args, kwargs)))
    train_signals, val_signals = np.zeros((4, 8, 1)), np.ones((2, 8, 1))
    jang2021.pretrain_from_params(cfg, train_signals, val_signals, device="cpu")
    [(args, kwargs)] = calls
    assert args == (
        ("autoencoder", dict(seed=derive_seed(cfg.seed, "cae"), **jang2021.cae_kwargs(cfg))),
        train_signals,
        val_signals,
    )
    assert kwargs == dict(
        task="reconstruction",
        epochs=cfg.pretrain_epochs,
        lr=cfg.pretrain_lr,
        batch_size=cfg.pretrain_batch_size,
        seed=derive_seed(cfg.seed, "pretrain"),
        device="cpu",
        monitor="val_loss",
        monitor_mode="min",
        early_stopping_patience=cfg.pretrain_patience,
        early_stopping_min_epochs=cfg.pretrain_min_epochs,
        lr_schedule=cfg.pretrain_lr_schedule,
        lr_min=cfg.pretrain_lr_min,
        label="CAE",
    )


@pytest.mark.parametrize("profile", PROFILES)
def test_jang2021_starvation_adaptor_passes_what_the_notebook_passed(profile, monkeypatch):
    cfg = params.load("jang2021", profile)
    calls = []
    monkeypatch.setattr(jang2021, "run_data_starvation", lambda *args, **kwargs: calls.append((args, kwargs)))

    class Split:
        train, val, test = np.arange(5), np.arange(5, 7), np.arange(7, 9)

    inputs, targets, encoder_state = {"random": np.zeros((9, 8, 1))}, np.zeros(9, dtype=np.int64), {"w": 1}
    jang2021.run_data_starvation_from_params(
        cfg, inputs, targets, split=Split, n_classes=3, encoder_state=encoder_state, device="cpu"
    )
    [(args, kwargs)] = calls
    assert args == (inputs, targets)
    assert kwargs == dict(
        train_index=Split.train,
        val_index=Split.val,
        test_index=Split.test,
        n_classes=3,
        train_fractions=cfg.train_fractions,
        n_trials=cfg.n_trials,
        trial_resampling=cfg.trial_resampling,
        epochs=cfg.epochs,
        lr=cfg.lr,
        batch_size=cfg.batch_size,
        optimizer=cfg.optimizer,
        model_selection=cfg.model_selection,
        head_hidden_units=cfg.head_hidden_units,
        cae_options=jang2021.cae_kwargs(cfg),
        encoder_state=encoder_state,
        seed=derive_seed(cfg.seed, "classifiers"),
        device="cpu",
    )


def test_jang2021_image_arm_off_skipped_or_labelled(monkeypatch, tmp_path):
    from ecglib.models import googlenet2d

    cfg = params.load("jang2021", "smoke")
    off = jang2021.image_arm_from_params(cfg.replace(arms=["transfer", "random"]))
    assert off.extractor is None and off.provenance() is None and off.note == ""
    assert off.arm_labels() == jang2021.ARM_TITLES

    def missing(**kwargs):
        raise googlenet2d.ImageNetWeightsMissing("no weights in the test")

    monkeypatch.setattr(googlenet2d, "load_feature_extractor", missing)
    skipped = jang2021.image_arm_from_params(cfg.replace(googlenet_when_missing="skip"))
    assert skipped.extractor is None and skipped.note == "image_transfer arm skipped: no weights in the test"
    with pytest.raises(googlenet2d.ImageNetWeightsMissing):
        jang2021.image_arm_from_params(cfg.replace(googlenet_when_missing="error"))

    seen = {}

    def random_extractor(**kwargs):
        seen.update(kwargs)
        info = googlenet2d.FeatureExtractorInfo(
            weights="random", label=googlenet2d.RANDOM_WEIGHTS_LABEL, path=None, sha256=None
        )
        return "extractor", info

    monkeypatch.setattr(googlenet2d, "load_feature_extractor", random_extractor)
    labelled = jang2021.image_arm_from_params(cfg.replace(googlenet_when_missing="random_labelled"))
    assert seen == dict(
        weights_path=cfg.googlenet_weights_path,
        when_missing="random",
        seed=derive_seed(cfg.seed, "googlenet"),
    )
    assert labelled.extractor == "extractor" and labelled.note == googlenet2d.RANDOM_WEIGHTS_LABEL
    assert labelled.provenance() == {
        "weights": "random",
        "label": googlenet2d.RANDOM_WEIGHTS_LABEL,
        "path": None,
        "sha256": None,
    }
    assert labelled.arm_labels()["image_transfer"].endswith("[" + googlenet2d.RANDOM_WEIGHTS_LABEL + "]")
    assert jang2021.one_d_inputs(np.zeros(3), arms=["image_transfer", "random"]).keys() == {"random"}
