"""ecglib.train: determinism, resume, model selection, early stopping, learning, bad input."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torch.utils.data import WeightedRandomSampler

from ecglib import train
from ecglib.data import LabelledSet
from ecglib.transfer import load_checkpoint

N_LEADS, N_SAMPLES = 2, 32


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest (and least disturbed by a busy CI box) on one thread."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def make_model(n_outputs: int, *, seed: int = 0, dropout: float = 0.2) -> nn.Module:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return nn.Sequential(
            nn.Conv1d(N_LEADS, 8, 5, padding=2),
            nn.BatchNorm1d(8),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.AdaptiveAvgPool1d(1),
            nn.Flatten(),
            nn.Linear(8, n_outputs),
        )


def separable(n: int, *, seed: int, n_classes: int = 2):
    """Signals (n, n_samples, n_leads) whose lead-0 offset gives the class away."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % n_classes
    rng.shuffle(labels)
    signals = rng.normal(0, 0.5, size=(n, N_SAMPLES, N_LEADS)).astype(np.float32)
    signals[:, :, 0] += 2.0 * labels[:, None]
    return signals, labels.astype(np.int64)


TRAIN = separable(96, seed=1)
VAL = separable(48, seed=2)
TEST = separable(48, seed=3)
COMMON = dict(task="single_label", lr=1e-2, batch_size=16, device="cpu", progress=False)


def assert_same_state(first: dict, second: dict) -> None:
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_history_and_weights_and_leaves_global_rng_alone():
    rng_before = torch.get_rng_state()
    first = train.fit(make_model(2), TRAIN, VAL, TEST, epochs=3, seed=5, weighted_sampling=True, **COMMON)
    assert torch.equal(torch.get_rng_state(), rng_before)
    second = train.fit(make_model(2), TRAIN, VAL, TEST, epochs=3, seed=5, weighted_sampling=True, **COMMON)
    pd.testing.assert_frame_equal(first.history, second.history, check_exact=True)
    assert_same_state(first.model.state_dict(), second.model.state_dict())
    other = train.fit(make_model(2), TRAIN, VAL, TEST, epochs=3, seed=6, weighted_sampling=True, **COMMON)
    assert not first.history["train_loss"].equals(other.history["train_loss"])
    assert list(first.history.columns) == [
        "epoch",
        "train_loss",
        "val_loss",
        "val_accuracy",
        "val_balanced_accuracy",
        "val_f1_weighted",
        "val_f1_macro",
        "test_loss",
        "test_accuracy",
        "test_balanced_accuracy",
        "test_f1_weighted",
        "test_f1_macro",
    ]
    assert first.history["epoch"].tolist() == [1, 2, 3]


# --------------------------------------------------------------------------- resume


def test_resume_gives_the_uninterrupted_history_and_weights(tmp_path):
    settings = dict(seed=3, weighted_sampling=True, early_stopping_patience=10, **COMMON)
    full = train.fit(make_model(2), TRAIN, VAL, TEST, epochs=4, checkpoint_dir=tmp_path / "full", **settings)
    train.fit(make_model(2), TRAIN, VAL, TEST, epochs=2, checkpoint_dir=tmp_path / "split", **settings)
    assert load_checkpoint(tmp_path / "split" / "last.pt")["epoch"] == 2
    # a fresh (differently initialised) model: everything must come from the checkpoint
    resumed = train.fit(
        make_model(2, seed=99),
        TRAIN,
        VAL,
        TEST,
        epochs=4,
        checkpoint_dir=tmp_path / "split",
        resume=True,
        **settings,
    )
    pd.testing.assert_frame_equal(full.history, resumed.history, check_exact=True)
    assert full.best_epoch == resumed.best_epoch
    assert_same_state(full.best_state_dict, resumed.best_state_dict)
    last_full = load_checkpoint(tmp_path / "full" / "last.pt")
    last_resumed = load_checkpoint(tmp_path / "split" / "last.pt")
    assert_same_state(last_full["model"], last_resumed["model"])
    assert len(resumed.epoch_seconds) == 2  # only epochs 3 and 4 ran


def test_resume_refuses_a_checkpoint_from_other_settings(tmp_path):
    train.fit(make_model(2), TRAIN, VAL, epochs=1, seed=0, checkpoint_dir=tmp_path, **COMMON)
    with pytest.raises(ValueError, match="other settings.*seed"):
        train.fit(make_model(2), TRAIN, VAL, epochs=2, seed=1, checkpoint_dir=tmp_path, resume=True, **COMMON)


def test_resuming_a_run_that_stopped_early_trains_nothing_more(tmp_path):
    settings = dict(
        seed=0, monitor="val_score", monitor_mode="max", early_stopping_patience=2, checkpoint_dir=tmp_path
    )
    first = train.fit(
        make_model(2),
        TRAIN,
        VAL,
        epochs=6,
        metrics_fn=scripted_metric([0.1, 0.5, 0.3, 0.2]),
        **settings,
        **COMMON,
    )
    assert first.stopped_early and first.best_epoch == 2
    # no epoch runs, so the metric is never called again
    again = train.fit(
        make_model(2, seed=7),
        TRAIN,
        VAL,
        epochs=6,
        metrics_fn=scripted_metric([]),
        resume=True,
        **settings,
        **COMMON,
    )
    assert again.epoch_seconds == [] and again.stopped_early and again.best_epoch == 2
    pd.testing.assert_frame_equal(first.history, again.history, check_exact=True)
    assert_same_state(again.model.state_dict(), first.best_state_dict)


def test_resume_refuses_a_checkpoint_beyond_the_asked_epochs(tmp_path):
    train.fit(make_model(2), TRAIN, VAL, epochs=3, seed=0, checkpoint_dir=tmp_path, **COMMON)
    with pytest.raises(ValueError, match="at epoch 3, beyond epochs=2"):
        train.fit(make_model(2), TRAIN, VAL, epochs=2, seed=0, checkpoint_dir=tmp_path, resume=True, **COMMON)


# --------------------------------------------------------------------------- selection


def scripted_metric(scores):
    """A metrics_fn that reports the given score at each successive validation call."""
    calls = iter(scores)

    def metrics_fn(targets, outputs):
        return {"score": next(calls)}

    return metrics_fn


def test_best_checkpoint_and_early_stopping(tmp_path):
    scores = [0.1, 0.5, 0.3, 0.2, 0.9, 0.9]
    result = train.fit(
        make_model(2),
        TRAIN,
        VAL,
        epochs=6,
        seed=0,
        monitor="val_score",
        monitor_mode="max",
        early_stopping_patience=2,
        metrics_fn=scripted_metric(scores),
        checkpoint_dir=tmp_path,
        **COMMON,
    )
    # best at epoch 2 (0.5); epochs 3 and 4 do not improve -> stop after epoch 4
    assert result.stopped_early and result.history["epoch"].tolist() == [1, 2, 3, 4]
    assert result.best_epoch == 2 and result.best_score == 0.5
    assert_same_state(result.model.state_dict(), result.best_state_dict)
    assert_same_state(load_checkpoint(tmp_path / "best.pt"), result.best_state_dict)
    # the kept weights are those after epoch 2: a 2-epoch run with rising scores ends on them
    two_epochs = train.fit(
        make_model(2),
        TRAIN,
        VAL,
        epochs=2,
        seed=0,
        monitor="val_score",
        monitor_mode="max",
        metrics_fn=scripted_metric([0.1, 0.5]),
        **COMMON,
    )
    assert two_epochs.best_epoch == 2
    assert_same_state(two_epochs.best_state_dict, result.best_state_dict)
    last = load_checkpoint(tmp_path / "last.pt")
    assert last["epoch"] == 4 and last["stopped_early"]
    assert not all(torch.equal(last["model"][key], result.best_state_dict[key]) for key in last["model"])


def test_early_stopping_waits_for_min_epochs_and_cosine_schedule_sets_the_rate():
    # a plateau (0.1 for three epochs) that patience 2 alone would stop on after epoch 3
    scores = [0.1, 0.1, 0.1, 0.1, 0.5, 0.6, 0.6, 0.6]
    options = dict(epochs=8, seed=0, monitor="val_score", monitor_mode="max", early_stopping_patience=2)
    plain = train.fit(make_model(2), TRAIN, VAL, metrics_fn=scripted_metric(scores), **options, **COMMON)
    assert plain.stopped_early and plain.history["epoch"].tolist() == [1, 2, 3] and "lr" not in plain.history
    waited = train.fit(
        make_model(2),
        TRAIN,
        VAL,
        metrics_fn=scripted_metric(scores),
        early_stopping_min_epochs=5,
        lr_schedule="cosine",
        lr_min=1e-4,
        **options,
        **COMMON,
    )
    # no stop before epoch 5; best 0.6 at epoch 6, then two epochs without improvement
    assert waited.best_epoch == 6 and waited.history["epoch"].tolist() == list(range(1, 9))
    rates = waited.history["lr"].to_numpy()
    assert rates[0] == pytest.approx(COMMON["lr"]) and np.all(np.diff(rates) < 0) and rates[-1] > 1e-4
    expected = [
        train.scheduled_lr(e, epochs=8, lr=COMMON["lr"], schedule="cosine", lr_min=1e-4) for e in range(1, 9)
    ]
    np.testing.assert_allclose(rates, expected)
    assert train.scheduled_lr(5, epochs=8, lr=0.1, schedule="cosine", lr_min=0.0) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="lr_schedule"):
        train.fit(make_model(2), TRAIN, VAL, epochs=1, seed=0, lr_schedule="step", **COMMON)
    with pytest.raises(ValueError, match="early_stopping_min_epochs"):
        train.fit(make_model(2), TRAIN, VAL, epochs=1, seed=0, early_stopping_min_epochs=-1, **COMMON)


def test_min_mode_selects_lowest_validation_loss():
    result = train.fit(make_model(2), TRAIN, VAL, epochs=4, seed=0, **{**COMMON, "lr": 0.2})
    losses = result.history["val_loss"].to_numpy()
    assert result.best_epoch == int(np.argmin(losses)) + 1 and result.best_score == losses.min()


def test_selecting_on_the_test_set_only_when_asked():
    # Nguyen et al. picked epochs on their test set: reproducible, but only as an explicit option
    result = train.fit(
        make_model(2),
        TRAIN,
        VAL,
        TEST,
        epochs=3,
        seed=0,
        monitor="test_f1_weighted",
        monitor_mode="max",
        select_on_test=True,
        **COMMON,
    )
    scores = result.history["test_f1_weighted"].to_numpy()
    assert result.best_epoch == int(np.argmax(scores)) + 1
    with pytest.raises(ValueError, match="needs a test set"):
        train.fit(
            make_model(2), TRAIN, VAL, epochs=1, seed=0, monitor="test_loss", select_on_test=True, **COMMON
        )


# --------------------------------------------------------------------------- learning


def test_tiny_model_learns_a_separable_problem_and_predicts():
    result = train.fit(
        make_model(2),
        TRAIN,
        VAL,
        TEST,
        epochs=12,
        seed=0,
        monitor="val_accuracy",
        monitor_mode="max",
        **COMMON,
    )
    assert result.history["val_accuracy"].max() >= 0.95
    assert result.history["train_loss"].iloc[-1] < result.history["train_loss"].iloc[0]
    logits = train.predict(result.model, TEST[0], batch_size=7, device="cpu")
    assert logits.shape == (48, 2) and logits.dtype == np.float32
    assert (logits.argmax(axis=1) == TEST[1]).mean() >= 0.9


def test_multi_label_regression_and_reconstruction_run_from_labelled_sets():
    signals, labels = TRAIN
    multi_hot = np.stack([labels == 1, labels == 0], axis=1).astype(np.float32)
    patients = np.arange(len(labels)).astype(str)
    multi = LabelledSet(signals, multi_hot, patients, 250.0, ("I", "II"), ("a", "b"), "multi_label", "test")
    result = train.fit(
        make_model(2),
        multi,
        multi,
        task="multi_label",
        epochs=8,
        lr=1e-2,
        batch_size=16,
        seed=0,
        device="cpu",
        monitor="val_f1_macro",
        monitor_mode="max",
        progress=False,
    )
    assert {"val_f1_weighted", "val_f1_macro", "val_roc_auc_macro"} <= set(result.history.columns)
    assert result.history["val_roc_auc_macro"].iloc[-1] > 0.9

    targets_ms = np.stack([signals[:, :, 0].mean(axis=1) * 100, signals[:, :, 1].mean(axis=1) * 10], axis=1)
    regression = LabelledSet(
        signals, targets_ms, patients, 250.0, ("I", "II"), ("qrs_ms", "qt_ms"), "regression", "test"
    )
    result = train.fit(
        make_model(2, dropout=0.0),
        regression,
        regression,
        task="regression",
        epochs=5,
        lr=3e-2,
        batch_size=16,
        seed=0,
        device="cpu",
        progress=False,
    )
    assert {"val_mae_qrs_ms", "val_mae_qt_ms", "val_mae_mean"} <= set(result.history.columns)
    assert result.history["val_mae_mean"].iloc[-1] < result.history["val_mae_mean"].iloc[0]

    autoencoder = nn.Sequential(
        nn.Conv1d(N_LEADS, 4, 3, padding=1), nn.ReLU(), nn.Conv1d(4, N_LEADS, 3, padding=1)
    )
    result = train.fit(
        autoencoder,
        (signals, None),
        (VAL[0], None),
        task="reconstruction",
        epochs=4,
        lr=1e-2,
        batch_size=16,
        seed=0,
        device="cpu",
        progress=False,
    )
    assert list(result.history.columns) == ["epoch", "train_loss", "val_loss"]
    assert result.history["val_loss"].iloc[-1] < result.history["val_loss"].iloc[0]
    # reduction "sum" is per-example: N_LEADS * N_SAMPLES times the element mean
    mean_loss = train.ReconstructionMSE("mean")(torch.zeros(3, 2, 4), torch.ones(3, 2, 4))
    sum_loss = train.ReconstructionMSE("sum")(torch.zeros(3, 2, 4), torch.ones(3, 2, 4))
    assert mean_loss.item() == 1.0 and sum_loss.item() == 8.0


def test_weighted_sampling_draw_is_weighted_random_samplers():
    labels = torch.tensor([0, 0, 0, 0, 0, 0, 1, 1])
    weights = train._sampling_weights(labels, "single_label")
    torch.testing.assert_close(weights, torch.tensor([1 / 6] * 6 + [1 / 2] * 2, dtype=torch.double))
    sampler = WeightedRandomSampler(weights, 8, replacement=True, generator=torch.Generator().manual_seed(0))
    vectorised = torch.multinomial(sampler.weights, 8, True, generator=torch.Generator().manual_seed(0))
    assert list(sampler) == vectorised.tolist()


def test_plain_progress_lines_when_not_a_terminal(capsys):
    train.fit(
        make_model(2), TRAIN, VAL, epochs=3, seed=0, log_every=2, label="demo", **{**COMMON, "progress": True}
    )
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[demo]")]
    assert [line.split()[2] for line in lines] == ["1/3", "2/3", "3/3"]
    assert "val_loss" in lines[0]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(task="segmentation"), ValueError, "task must be one of"),
        (dict(epochs=0), ValueError, "epochs must be a positive int"),
        (dict(monitor="test_loss"), ValueError, "select_on_test"),
        (dict(monitor="val_nothing"), ValueError, "not a history column"),
        (dict(monitor_mode="up"), ValueError, "monitor_mode"),
        (dict(task="regression", weighted_sampling=True), ValueError, "weighted_sampling"),
        (dict(task="multi_label"), ValueError, "multi-label targets"),
        (dict(resume=True), ValueError, "checkpoint_dir"),
        (dict(optimizer="lbfgs"), ValueError, "optimizer must be one of"),
    ],
)
def test_fit_bad_arguments(kwargs, error, message):
    settings = {**COMMON, "epochs": 1, "seed": 0, **kwargs}
    with pytest.raises(error, match=message):
        train.fit(make_model(2), TRAIN, VAL, **settings)


def test_fit_bad_data_and_devices():
    with pytest.raises(ValueError, match=r"\(n_examples, n_samples, n_leads\)"):
        train.fit(make_model(2), (TRAIN[0][:, :, 0], TRAIN[1]), VAL, epochs=1, seed=0, **COMMON)
    with pytest.raises(ValueError, match="96 signals but 95 targets"):
        train.fit(make_model(2), (TRAIN[0], TRAIN[1][:-1]), VAL, epochs=1, seed=0, **COMMON)
    regression = LabelledSet(
        TRAIN[0],
        np.ones((96, 2)),
        np.zeros(96).astype(str),
        250.0,
        ("I", "II"),
        ("qrs_ms",),
        "regression",
        "test",
    )
    with pytest.raises(ValueError, match=r"names 1 targets \('qrs_ms',\) but holds 2"):
        train.fit(
            make_model(2),
            regression,
            None,
            epochs=1,
            seed=0,
            monitor="train_loss",
            **{**COMMON, "task": "regression"},
        )
    with pytest.raises(
        ValueError, match="'regression' LabelledSet but fit was asked for task 'single_label'"
    ):
        train.fit(make_model(2), regression, None, epochs=1, seed=0, monitor="train_loss", **COMMON)
    with pytest.raises(ValueError, match="output shape"):
        train.fit(
            make_model(3),
            (TRAIN[0], np.ones((96, 2))),
            (VAL[0], np.ones((48, 2))),
            epochs=1,
            seed=0,
            **{**COMMON, "task": "regression"},
        )
    assert train.resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="device must be"):
        train.resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            train.resolve_device("cuda")
        assert train.resolve_device("auto") == torch.device("cpu")
