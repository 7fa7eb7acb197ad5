"""ecglib.grid: many models trained at once give the same results as each trained alone."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import balanced_accuracy_score

from ecglib.grid import (
    GridRun,
    balanced_accuracy_from_counts,
    epoch_order,
    plan_chunks,
    train_grid,
    train_single,
)
from ecglib.models.beat_cnn import BeatCNN
from ecglib.models.cnn2d import TripleChannelCNN2d


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread: tiny models on a shared 2-core machine otherwise spin-wait for seconds."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _toy(n=160, shape=(1, 128), seed=0):
    rng = np.random.default_rng(seed)
    targets = (rng.random(n) < 0.3).astype(np.int64)
    signals = rng.normal(0, 0.3, size=(n,) + shape).astype(np.float32)
    signals[targets == 1, ..., 10:20] += 1.0
    return signals, targets


def _assert_same(batched, single, lr, atol=2e-4):
    """Same epochs, losses, accuracies and outputs; weights equal up to Adam's rounding amplification.

    Adam normalises each gradient element by its running RMS, so where a gradient is ~0 the
    float rounding of a different summation order can flip the sign of a full ``lr``-sized
    step: weights are compared by the relative norm of their difference, outputs tightly.
    """
    assert batched.best_epoch == single.best_epoch
    np.testing.assert_allclose(batched.history.to_numpy(), single.history.to_numpy(), rtol=1e-3, atol=atol)
    difference = sum(
        float(((batched.best_state_dict[k] - v) ** 2).sum()) for k, v in single.best_state_dict.items()
    )
    norm = sum(float((v**2).sum()) for v in single.best_state_dict.values())
    assert (difference / norm) ** 0.5 < 1e-3, (
        f"weights differ: relative norm {(difference / norm) ** 0.5:.2e} (lr {lr})"
    )
    assert batched.test_balanced_accuracy == pytest.approx(single.test_balanced_accuracy, abs=1e-9)
    np.testing.assert_allclose(batched.test_probabilities, single.test_probabilities, atol=atol)


def test_batched_training_equals_training_each_model_alone():
    signals, targets = _toy()
    idx = np.random.default_rng(1).permutation(len(targets))
    pretrained = {k: v + 0.01 for k, v in BeatCNN().state_dict().items()}
    runs = [
        GridRun(
            idx[:40],
            idx[60:80],
            lr=1e-3,
            batch_size=4,
            weighted_sampling=True,
            seed=1,
            test_indices=idx[120:],
        ),
        GridRun(
            idx[:40],
            idx[60:80],
            lr=1e-2,
            batch_size=4,
            weighted_sampling=False,
            seed=2,
            test_indices=idx[120:],
        ),
        # fewer training windows: this model sits out the last steps of each epoch
        GridRun(
            idx[:25],
            idx[80:100],
            lr=1e-3,
            batch_size=4,
            weighted_sampling=False,
            seed=3,
            test_indices=idx[100:130],
            init_state=pretrained,
        ),
        GridRun(
            idx[:40],
            idx[60:80],
            lr=1e-3,
            batch_size=16,
            weighted_sampling=True,
            seed=4,
            test_indices=idx[120:],
        ),
    ]
    batched = train_grid(
        BeatCNN, signals, targets, runs, epochs=2, weight_decay=1e-4, max_samples_per_step=64
    )
    assert [len(chunk) for chunk in plan_chunks(runs, 64)] == [3, 1]  # three stacked models at batch 4
    for run, result in zip(runs, batched):
        _assert_same(
            result, train_single(BeatCNN, signals, targets, run, epochs=2, weight_decay=1e-4), run.lr
        )


def test_vmap_path_for_models_without_batched_forward():
    signals, targets = _toy(n=60, shape=(3, 8, 8))
    idx = np.arange(60)
    factory = partial(TripleChannelCNN2d, 3, 8, n_blocks=1, n_filters=4, dense_units=8)
    runs = [
        GridRun(idx[:30], idx[30:45], lr=1e-3, batch_size=8, seed=s, test_indices=idx[45:]) for s in (0, 1)
    ]
    batched = train_grid(factory, signals, targets, runs, epochs=2, max_samples_per_step=16)
    for run, result in zip(runs, batched):
        _assert_same(result, train_single(factory, signals, targets, run, epochs=2), run.lr)


def test_models_learn_and_keep_the_lowest_validation_loss():
    signals, targets = _toy(n=200)
    idx = np.arange(200)
    [result] = train_grid(
        BeatCNN,
        signals,
        targets,
        [GridRun(idx[:120], idx[120:160], lr=1e-3, batch_size=16, test_indices=idx[160:])],
        epochs=5,
    )
    assert result.best_epoch == int(result.history["val_loss"].idxmin()) + 1
    assert result.val_loss == pytest.approx(result.history["val_loss"].min())
    assert result.test_balanced_accuracy > 0.8


def test_epoch_order_is_seeded_and_weighted_sampling_balances_classes():
    targets = np.array([0] * 90 + [1] * 10)
    first = epoch_order(targets, weighted_sampling=False, seed=3, epoch=1)
    assert sorted(first) == list(range(100))
    np.testing.assert_array_equal(first, epoch_order(targets, weighted_sampling=False, seed=3, epoch=1))
    assert not np.array_equal(first, epoch_order(targets, weighted_sampling=False, seed=3, epoch=2))
    draws = np.concatenate(
        [epoch_order(targets, weighted_sampling=True, seed=3, epoch=e) for e in range(1, 21)]
    )
    assert 0.4 < targets[draws].mean() < 0.6


def test_balanced_accuracy_matches_scikit_learn():
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 2, 50), rng.integers(0, 2, 50)
    counts = [((p == 1) & (y == 1)).sum(), (y == 1).sum(), ((p == 0) & (y == 0)).sum(), (y == 0).sum()]
    assert float(balanced_accuracy_from_counts(*counts)) == pytest.approx(balanced_accuracy_score(y, p))
    assert float(balanced_accuracy_from_counts(3, 4, 0, 0)) == pytest.approx(0.75)  # one class present


def test_bad_indices_are_refused():
    signals, targets = _toy(n=20)
    with pytest.raises(ValueError, match="train_indices"):
        train_grid(
            BeatCNN,
            signals,
            targets,
            [GridRun(np.array([0, 25]), np.array([1]), lr=1e-3, batch_size=2)],
            epochs=1,
        )


def test_worker_processes_give_the_same_results():
    signals, targets = _toy(n=120)
    idx = np.arange(120)
    runs = [
        GridRun(idx[:50], idx[50:70], lr=lr, batch_size=b, seed=s, test_indices=idx[70:])
        for s, (lr, b) in enumerate([(1e-3, 4), (1e-2, 4), (1e-3, 16), (1e-2, 32)])
    ]
    alone = train_grid(BeatCNN, signals, targets, runs, epochs=1, max_samples_per_step=4, keep_states=False)
    shared = train_grid(
        BeatCNN, signals, targets, runs, epochs=1, max_samples_per_step=4, keep_states=False, n_workers=2
    )
    for a, b in zip(alone, shared):
        assert a.tags == b.tags and a.best_state_dict is None
        np.testing.assert_allclose(a.history.to_numpy(), b.history.to_numpy(), atol=1e-6)
        assert a.test_balanced_accuracy == b.test_balanced_accuracy


def test_checkpoints_resume_an_interrupted_grid(tmp_path):
    signals, targets = _toy(n=120)
    idx = np.arange(120)
    runs = [
        GridRun(idx[:50], idx[50:70], lr=lr, batch_size=4, seed=s, test_indices=idx[70:], tags={"n": s})
        for s, lr in enumerate([1e-3, 1e-2, 3e-3])
    ]
    trained = []

    def grid(**kw):
        return train_grid(
            BeatCNN,
            signals,
            targets,
            runs,
            epochs=1,
            max_samples_per_step=4,
            keep_states=False,
            on_chunk_done=lambda results: trained.extend(r.tags["n"] for r in results),
            **kw,
        )

    first = grid(checkpoint_dir=tmp_path)
    assert sorted(trained) == [0, 1, 2] and len(list(tmp_path.glob("run-*.pt"))) == 3
    trained.clear()
    again = grid(checkpoint_dir=tmp_path)  # everything found: nothing trained
    assert trained == []
    for a, b in zip(first, again):
        assert a.tags == b.tags and a.test_balanced_accuracy == b.test_balanced_accuracy
        pd.testing.assert_frame_equal(a.history, b.history)
    # an interrupted grid: one run's file missing -> that run alone is trained again, same result
    missing = sorted(tmp_path.glob("run-*.pt"))[0]
    missing.unlink()
    resumed = grid(checkpoint_dir=tmp_path)
    assert len(trained) == 1 and missing.exists()
    for a, b in zip(first, resumed):
        np.testing.assert_allclose(a.history.to_numpy(), b.history.to_numpy(), atol=1e-6)


def test_checkpoints_are_keyed_by_what_determines_the_result(tmp_path):
    signals, targets = _toy(n=120)
    idx = np.arange(120)
    run = GridRun(idx[:50], idx[50:70], lr=1e-3, batch_size=4, seed=0)
    train_grid(BeatCNN, signals, targets, [run], epochs=1, keep_states=False, checkpoint_dir=tmp_path)
    changed = [
        GridRun(idx[:50], idx[50:70], lr=1e-2, batch_size=4, seed=0),
        GridRun(idx[:49], idx[50:70], lr=1e-3, batch_size=4, seed=0),
        GridRun(
            idx[:50],
            idx[50:70],
            lr=1e-3,
            batch_size=4,
            seed=0,
            init_state={k: v + 1 for k, v in BeatCNN().state_dict().items()},
        ),
    ]
    train_grid(BeatCNN, signals, targets, changed, epochs=1, keep_states=False, checkpoint_dir=tmp_path)
    assert len(list(tmp_path.glob("run-*.pt"))) == 4  # none of the changed runs reused the first result
    train_grid(BeatCNN, signals, targets, [run], epochs=2, keep_states=False, checkpoint_dir=tmp_path)
    other_data = signals.copy()
    other_data[0] += 1
    train_grid(BeatCNN, other_data, targets, [run], epochs=1, keep_states=False, checkpoint_dir=tmp_path)
    assert len(list(tmp_path.glob("run-*.pt"))) == 6


def test_an_unreadable_checkpoint_is_a_miss_that_names_the_file(tmp_path):
    signals, targets = _toy(n=120)
    idx = np.arange(120)
    run = GridRun(idx[:50], idx[50:70], lr=1e-3, batch_size=4, seed=0)
    (first,) = train_grid(
        BeatCNN, signals, targets, [run], epochs=1, keep_states=False, checkpoint_dir=tmp_path
    )
    (path,) = tmp_path.glob("run-*.pt")
    path.write_bytes(path.read_bytes()[:20])  # truncated
    with pytest.warns(RuntimeWarning, match=f"grid checkpoint .*{path.name} is unreadable"):
        (again,) = train_grid(
            BeatCNN, signals, targets, [run], epochs=1, keep_states=False, checkpoint_dir=tmp_path
        )
    pd.testing.assert_frame_equal(first.history, again.history)  # trained again, same result, file rewritten
    torch.load(path, weights_only=True)


def test_a_checkpoint_holding_code_is_never_executed(tmp_path):
    """A pickle planted under a run's name is refused by weights_only loading (and retrained)."""
    import pickle

    signals, targets = _toy(n=120)
    idx = np.arange(120)
    run = GridRun(idx[:50], idx[50:70], lr=1e-3, batch_size=4, seed=0)
    train_grid(BeatCNN, signals, targets, [run], epochs=1, keep_states=False, checkpoint_dir=tmp_path)
    (path,) = tmp_path.glob("run-*.pt")
    marker = tmp_path / "executed"

    class Payload:
        def __reduce__(self):
            return (marker.write_text, ("yes",))

    torch.save(Payload(), path, pickle_module=pickle)
    with pytest.warns(RuntimeWarning, match="grid checkpoint .* is unreadable"):
        train_grid(BeatCNN, signals, targets, [run], epochs=1, keep_states=False, checkpoint_dir=tmp_path)
    assert not marker.exists()
