"""The CUDA path: train.fit (mixed precision) and grid.train_grid (stacked models, fused Adam) on a GPU.

These tests skip where no CUDA device is visible (this project's CI and development machines
have none). On a GPU machine run them alone with ``python -m pytest -m cuda``. They check that
CPU and CUDA agree (within the tolerance float16 autocast allows), that autocast and the
GradScaler are really used, and that a training step makes no host-device synchronisation
(no ``.item()``, no copy of a batch from host memory), so a step costs GPU time only.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from ecglib import train
from ecglib.grid import GridRun, train_grid
from ecglib.models.beat_cnn import BeatCNN

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none visible to torch)"),
]

N_LEADS, N_SAMPLES = 2, 64


def _model(n_outputs: int = 2, seed: int = 0) -> nn.Module:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return nn.Sequential(
            nn.Conv1d(N_LEADS, 16, 7, padding=3),
            nn.BatchNorm1d(16),
            nn.ReLU(),
            nn.AdaptiveAvgPool1d(1),
            nn.Flatten(),
            nn.Linear(16, n_outputs),
        )


def _separable(n: int, seed: int):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    rng.shuffle(labels)
    signals = rng.normal(0, 0.5, size=(n, N_SAMPLES, N_LEADS)).astype(np.float32)
    signals[:, :, 0] += 1.5 * labels[:, None]
    return signals, labels.astype(np.int64)


TRAIN, VAL, TEST = _separable(256, 1), _separable(64, 2), _separable(64, 3)
FIT = dict(task="single_label", epochs=4, lr=1e-2, batch_size=32, seed=3, progress=False)


def test_fit_on_cuda_predicts_what_fit_on_cpu_predicts():
    cpu = train.fit(_model(), TRAIN, VAL, TEST, device="cpu", **FIT)
    exact = train.fit(_model(), TRAIN, VAL, TEST, device="cuda", amp=False, **FIT)
    mixed = train.fit(_model(), TRAIN, VAL, TEST, device="cuda", amp=True, **FIT)
    assert exact.device.type == "cuda" and mixed.device.type == "cuda"
    cpu_out = train.predict(cpu.model, TEST[0], batch_size=64, device="cpu")
    exact_out = train.predict(exact.model, TEST[0], batch_size=64, device="cuda", amp=False)
    mixed_out = train.predict(mixed.model, TEST[0], batch_size=64, device="cuda", amp=True)
    # float32 on both devices: only summation order differs
    np.testing.assert_allclose(exact_out, cpu_out, rtol=1e-3, atol=1e-3)
    assert exact.best_epoch == cpu.best_epoch
    # float16 autocast: the same decisions on a separable problem, logits close
    np.testing.assert_allclose(mixed_out, cpu_out, atol=0.1)
    assert (mixed_out.argmax(1) == cpu_out.argmax(1)).mean() >= 0.97


def test_fit_on_cuda_uses_autocast_and_the_grad_scaler(monkeypatch):
    autocast_seen: list[bool] = []
    model = _model()
    model.register_forward_hook(
        lambda module, args, output: autocast_seen.append(torch.is_autocast_enabled("cuda"))
    )
    scaled: list[int] = []
    original_scale = torch.amp.GradScaler.scale

    def counting_scale(self, outputs):
        scaled.append(1)
        return original_scale(self, outputs)

    monkeypatch.setattr(torch.amp.GradScaler, "scale", counting_scale)
    result = train.fit(model, TRAIN, VAL, None, device="cuda", amp=True, **{**FIT, "epochs": 2})
    steps_per_epoch = -(-len(TRAIN[1]) // FIT["batch_size"])
    assert len(scaled) == 2 * steps_per_epoch  # every training step's loss goes through the scaler
    assert autocast_seen and all(autocast_seen)  # training and evaluation forwards run under autocast
    assert result.history["train_loss"].notna().all()


def test_a_training_epoch_on_cuda_does_not_synchronise_per_step():
    """CUDA's sync debug mode warns at every host-device synchronisation; count them per epoch."""
    epochs = 3
    steps = epochs * (-(-len(TRAIN[1]) // 16))
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            train.fit(
                _model(), TRAIN, VAL, None, device="cuda", **{**FIT, "epochs": epochs, "batch_size": 16}
            )
    finally:
        torch.cuda.set_sync_debug_mode("default")
    syncs = [w for w in caught if "synchroniz" in str(w.message).lower()]
    # the detector works: reading each epoch's loss and metrics synchronises at least once
    assert len(syncs) >= epochs, f"sync debug mode reported {len(syncs)} synchronisations in {epochs} epochs"
    # a few per epoch (the epoch's loss, metrics, selection) are fine; one or more per step is not
    assert len(syncs) < steps, f"{len(syncs)} synchronisations in {steps} training steps"


def _grid_data(n=192, seed=0):
    rng = np.random.default_rng(seed)
    targets = (rng.random(n) < 0.35).astype(np.int64)
    signals = rng.normal(0, 0.3, size=(n, 1, 128)).astype(np.float32)
    signals[targets == 1, :, 30:45] += 1.0
    return signals, targets


def test_train_grid_on_cuda_matches_the_cpu_grid():
    signals, targets = _grid_data()
    idx = np.random.default_rng(1).permutation(len(targets))
    runs = [
        GridRun(idx[:96], idx[96:128], lr=lr, batch_size=batch, seed=seed, test_indices=idx[128:])
        for lr, batch, seed in ((1e-3, 8, 1), (1e-3, 16, 2), (3e-4, 8, 3))
    ]
    cpu = train_grid(BeatCNN, signals, targets, runs, epochs=3, device="cpu")
    gpu = train_grid(BeatCNN, signals, targets, runs, epochs=3, device="cuda")
    for on_cpu, on_gpu in zip(cpu, gpu):
        assert on_gpu.best_epoch == on_cpu.best_epoch
        np.testing.assert_allclose(
            on_gpu.history["val_loss"].to_numpy(), on_cpu.history["val_loss"].to_numpy(), rtol=1e-3, atol=1e-4
        )
        np.testing.assert_allclose(on_gpu.test_probabilities, on_cpu.test_probabilities, atol=1e-3)
        assert all(tensor.device.type == "cpu" for tensor in on_gpu.best_state_dict.values())
