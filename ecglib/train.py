"""One training loop for every study: single-label, multi-label, regression and reconstruction.

:func:`fit` trains a plain ``nn.Module`` on in-memory tensors and returns a
:class:`FitResult` with a per-epoch history (a pandas DataFrame), the best weights by a
validation metric, and the epoch they came from. :func:`predict` returns raw outputs.

Design (see ../CONTRIBUTING.md):

- Data stay tensors in memory, ``(n, n_leads, n_samples)`` after one transpose; batches are
  gathered by index tensors (no per-item ``Dataset``).
- Everything random is seeded by ``seed``: batch order and weighted sampling draw from a
  private ``torch.Generator``; dropout draws from the torch RNG inside
  ``torch.random.fork_rng``, so the caller's global RNG state is left as it was. Two CPU runs
  with one seed give identical histories.
- On CUDA the forward pass runs under ``torch.autocast`` (float16) with a ``GradScaler``;
  on CPU everything is float32.
- With ``checkpoint_dir`` the full state (model, optimiser, scaler, RNG and generator
  states, history, best weights, early-stopping counters) is written atomically after each
  epoch to ``last.pt`` (and the best weights to ``best.pt``); ``resume=True`` continues from
  it and ends with the same history as an uninterrupted run.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import WeightedRandomSampler

from ecglib.data import LabelledSet
from ecglib.errors import TrainingDiverged
from ecglib.metrics import task_metrics
from ecglib.transfer import load_checkpoint

__all__ = [
    "TASKS",
    "FitResult",
    "resolve_device",
    "fit",
    "predict",
    "default_loss",
    "ReconstructionMSE",
]

TASKS = ("single_label", "multi_label", "regression", "reconstruction")
OPTIMIZERS = ("adam", "adamw", "nadam", "sgd")
#: learning-rate schedules of :func:`fit` (see :func:`scheduled_lr`)
LR_SCHEDULES = ("constant", "cosine")
CHECKPOINT_VERSION = 1
LAST_CHECKPOINT = "last.pt"
BEST_CHECKPOINT = "best.pt"
#: On CUDA, data sets smaller than this are moved to the GPU once; larger ones per batch.
DATA_ON_DEVICE_MAX_BYTES = 2 * 1024**3


# --------------------------------------------------------------------------- devices and losses


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """The torch device for ``"auto"`` (CUDA when available, else CPU), ``"cpu"`` or ``"cuda[:i]"``.

    Raises
    ------
    RuntimeError
        ``"cuda"`` was asked for on a machine without a usable CUDA device.
    ValueError
        Anything else.
    """
    if isinstance(device, torch.device):
        chosen = device
    elif device == "auto":
        chosen = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    elif isinstance(device, str) and (device == "cpu" or device.startswith("cuda")):
        chosen = torch.device(device)
    else:
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:index]', got {device!r}")
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device {device!r} asked for, but CUDA is not available here; use 'auto' or 'cpu'"
        )
    if chosen.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be a CPU or CUDA device, got {chosen}")
    return chosen


class ReconstructionMSE(nn.Module):
    """Squared reconstruction error of ``(batch, n_leads, n_samples)`` outputs against the inputs.

    ``reduction="sum"``: summed over each example's leads and samples, then averaged over the
    batch (Jang et al.'s per-example sum over 2048 points); ``"mean"``: the plain element mean.
    """

    def __init__(self, reduction: str = "sum"):
        super().__init__()
        if reduction not in ("sum", "mean"):
            raise ValueError(f"reconstruction reduction must be 'sum' or 'mean', got {reduction!r}")
        self.reduction = reduction

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        squared = (output.float() - target.float()) ** 2
        if self.reduction == "mean":
            return squared.mean()
        return squared.flatten(1).sum(dim=1).mean()


def default_loss(task: str, *, reconstruction_reduction: str = "sum") -> nn.Module:
    """Cross-entropy on logits, BCE-with-logits, MSE, or :class:`ReconstructionMSE` per task."""
    if task == "single_label":
        return nn.CrossEntropyLoss()
    if task == "multi_label":
        return nn.BCEWithLogitsLoss()
    if task == "regression":
        return nn.MSELoss()
    if task == "reconstruction":
        return ReconstructionMSE(reconstruction_reduction)
    raise ValueError(f"task must be one of {TASKS}, got {task!r}")


# --------------------------------------------------------------------------- data as tensors


@dataclass
class _Tensors:
    """One split as tensors: ``signals`` (n, n_leads, n_samples) float32, ``targets`` or None."""

    signals: torch.Tensor
    targets: torch.Tensor | None
    target_names: tuple[str, ...] | None

    def __len__(self) -> int:
        return self.signals.shape[0]

    def nbytes(self) -> int:
        size = self.signals.element_size() * self.signals.nelement()
        if self.targets is not None:
            size += self.targets.element_size() * self.targets.nelement()
        return size

    def to(self, device: torch.device) -> _Tensors:
        targets = None if self.targets is None else self.targets.to(device)
        return _Tensors(self.signals.to(device), targets, self.target_names)

    def batch(self, indices: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        if indices.device != self.signals.device:
            indices = indices.to(self.signals.device)
        signals = self.signals.index_select(0, indices).to(device, non_blocking=True)
        if self.targets is None:  # reconstruction: the target is the input
            return signals, signals
        return signals, self.targets.index_select(0, indices).to(device, non_blocking=True)


def _signals_tensor(signals, name: str) -> torch.Tensor:
    array = np.asarray(signals)
    if array.ndim != 3:
        raise ValueError(
            f"{name} signals must have shape (n_examples, n_samples, n_leads), got {array.shape}"
        )
    if len(array) == 0:
        raise ValueError(f"{name} set is empty")
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{name} signals must be numeric, got dtype {array.dtype}")
    # the one transpose: (n, n_samples, n_leads) -> (n, n_leads, n_samples)
    return torch.from_numpy(np.ascontiguousarray(array.transpose(0, 2, 1), dtype=np.float32))


def _targets_tensor(targets, task: str, n_examples: int, name: str) -> torch.Tensor | None:
    if task == "reconstruction":
        return None
    if targets is None:
        raise ValueError(f"{name} has no targets, which task {task!r} needs")
    array = np.asarray(targets)
    if len(array) != n_examples:
        raise ValueError(f"{name} has {n_examples} signals but {len(array)} targets")
    if not np.issubdtype(array.dtype, np.number) and array.dtype != bool:
        raise ValueError(f"{name} targets must be numeric, got dtype {array.dtype}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} targets contain NaN or infinite values")
    if task == "single_label":
        if array.ndim != 1 or np.any(array != np.round(array)) or np.any(array < 0):
            raise ValueError(
                f"{name} single-label targets must be (n,) non-negative integer class ids, got shape {array.shape}"
            )
        return torch.from_numpy(array.astype(np.int64))
    if task == "multi_label":
        if array.ndim != 2 or not np.all((array == 0) | (array == 1)):
            raise ValueError(
                f"{name} multi-label targets must be (n, n_classes) with 0/1 entries, got shape {array.shape}"
            )
        return torch.from_numpy(array.astype(np.float32))
    if array.ndim == 1:  # regression with one target
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise ValueError(f"{name} regression targets must be (n,) or (n, n_targets), got shape {array.shape}")
    return torch.from_numpy(array.astype(np.float32))


def _as_tensors(data, task: str, name: str) -> _Tensors:
    """Convert a ``LabelledSet`` or ``(signals, targets)`` tuple into :class:`_Tensors`."""
    if isinstance(data, LabelledSet):
        if task != "reconstruction" and data.task != task:
            raise ValueError(f"{name} set is a {data.task!r} LabelledSet but fit was asked for task {task!r}")
        signals, targets, names = data.signals_mv, data.targets, tuple(data.target_names)
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        signals, targets = data
        names = None
    elif task == "reconstruction" and isinstance(data, np.ndarray):
        signals, targets, names = data, None, None
    else:
        raise TypeError(
            f"{name} must be a LabelledSet or a (signals, targets) tuple, got {type(data).__name__}"
        )
    signals_tensor = _signals_tensor(signals, name)
    targets_tensor = _targets_tensor(targets, task, len(signals_tensor), name)
    if names is not None and task == "regression" and len(names) != targets_tensor.shape[1]:
        raise ValueError(
            f"{name} set names {len(names)} targets {names} but holds {targets_tensor.shape[1]} target columns"
        )
    return _Tensors(signals_tensor, targets_tensor, names)


def _sampling_weights(targets: torch.Tensor, task: str) -> torch.Tensor:
    """Per-example weights: the inverse frequency of the example's class.

    Multi-label: the inverse frequency of its rarest positive class (examples with no
    positive class form their own group).
    """
    if task == "single_label":
        counts = torch.bincount(targets)
        return 1.0 / counts[targets].double()
    if task == "multi_label":
        positive = targets > 0.5
        class_counts = positive.sum(dim=0).double()
        inverse = torch.where(positive, 1.0 / class_counts.clamp(min=1), torch.zeros((), dtype=torch.double))
        weights = inverse.max(dim=1).values
        no_label = ~positive.any(dim=1)
        if no_label.any():
            weights[no_label] = 1.0 / no_label.sum().double()
        return weights
    raise ValueError(f"weighted_sampling needs a classification task, not {task!r}")


# --------------------------------------------------------------------------- results


@dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes
    ----------
    model : the trained model with the best weights loaded (on ``device``)
    history : DataFrame, one row per epoch: ``epoch, train_loss, val_loss, val_<metric>...,
        test_loss, test_<metric>...``
    best_epoch : int, 1-based epoch whose weights were kept
    best_score : float, the monitored value at ``best_epoch``
    best_state_dict : dict of CPU tensors, the best weights
    monitor, monitor_mode : the selection rule used
    stopped_early : whether early stopping ended training
    device : torch.device trained on
    epoch_seconds : wall time per epoch trained in this call (kept out of ``history`` so
        that histories stay reproducible)
    """

    model: nn.Module
    history: pd.DataFrame
    best_epoch: int
    best_score: float
    best_state_dict: dict[str, torch.Tensor]
    monitor: str
    monitor_mode: str
    stopped_early: bool
    device: torch.device
    epoch_seconds: list[float] = field(default_factory=list)


# --------------------------------------------------------------------------- helpers


def _make_optimizer(optimizer, parameters, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    if callable(optimizer):
        return optimizer(parameters)
    if optimizer == "adam":
        return torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay)
    if optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)
    if optimizer == "nadam":
        return torch.optim.NAdam(parameters, lr=lr, weight_decay=weight_decay)
    if optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=lr, momentum=0.9, weight_decay=weight_decay)
    raise ValueError(
        f"optimizer must be one of {OPTIMIZERS} or a callable(params) -> Optimizer, got {optimizer!r}"
    )


def scheduled_lr(
    epoch: int, *, epochs: int, lr: float, schedule: str = "constant", lr_min: float = 0.0
) -> float:
    """The learning rate of 1-based ``epoch`` under ``schedule``.

    ``"constant"``: ``lr`` throughout. ``"cosine"``: cosine annealing per epoch from ``lr``
    (epoch 1) towards ``lr_min``, ``lr_min + (lr - lr_min) * (1 + cos(pi * (epoch - 1) / epochs)) / 2``;
    a function of the epoch alone, so a resumed run follows the same schedule.
    """
    if schedule == "constant":
        return float(lr)
    if schedule == "cosine":
        return float(lr_min + 0.5 * (lr - lr_min) * (1.0 + math.cos(math.pi * (epoch - 1) / epochs)))
    raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {schedule!r}")


def _cpu_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().to("cpu", copy=True) for key, value in model.state_dict().items()}


def _atomic_torch_save(obj, path: Path) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        torch.save(obj, temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _is_improvement(value: float, best: float | None, mode: str) -> bool:
    if best is None:
        return True
    if math.isnan(value):
        return False
    if math.isnan(best):
        return True
    return value < best if mode == "min" else value > best


def _batches(order: torch.Tensor, batch_size: int, *, drop_single: bool) -> list[torch.Tensor]:
    chunks = list(torch.split(order, batch_size))
    # BatchNorm cannot normalise a training batch of one example: drop such a trailing batch
    if drop_single and len(chunks) > 1 and len(chunks[-1]) == 1:
        chunks.pop()
    return chunks


def _check_first_batch(task: str, output: torch.Tensor, target: torch.Tensor) -> None:
    if not isinstance(output, torch.Tensor):
        raise TypeError(f"the model must return one tensor, got {type(output).__name__}")
    if task == "single_label":
        if output.ndim != 2:
            raise ValueError(
                f"single_label: the model must output logits (batch, n_classes), got {tuple(output.shape)}"
            )
    elif tuple(output.shape) != tuple(target.shape):
        raise ValueError(
            f"{task}: the model output shape {tuple(output.shape)} differs from the target shape {tuple(target.shape)}"
        )


def _format_row(row: Mapping[str, float], monitor: str, max_items: int = 6) -> str:
    keys = ["train_loss", "val_loss"] + ([monitor] if monitor not in ("train_loss", "val_loss") else [])
    keys += [key for key in row if key.startswith("val_") and key not in keys]
    shown = [f"{key} {row[key]:.4g}" for key in keys[:max_items] if key in row]
    return "  ".join(shown)


class _Progress:
    """tqdm on a terminal, otherwise one plain line every ``log_every`` epochs (papermill/CI logs)."""

    def __init__(self, enabled: bool, epochs: int, start_epoch: int, log_every: int, label: str):
        self.enabled = enabled
        self.epochs = epochs
        self.log_every = log_every
        self.label = label
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=epochs, initial=start_epoch - 1, desc=label, unit="epoch", leave=True)

    def update(
        self, row: Mapping[str, float], monitor: str, best_epoch: int, seconds: float, last: bool
    ) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.set_postfix_str(
                _format_row(row, monitor, max_items=3) + f"  best {best_epoch}", refresh=False
            )
            self.bar.update(1)
            return
        epoch = int(row["epoch"])
        if last or epoch % self.log_every == 0 or epoch == 1:
            print(
                f"[{self.label}] epoch {epoch}/{self.epochs}  {_format_row(row, monitor)}  "
                f"best epoch {best_epoch}  {seconds:.1f} s",
                flush=True,
            )

    def message(self, text: str) -> None:
        if self.enabled:
            (self.bar.write if self.bar is not None else print)(f"[{self.label}] {text}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@torch.no_grad()
def _run_eval(
    model: nn.Module,
    tensors: _Tensors,
    *,
    loss_fn: Callable | None,
    batch_size: int,
    device: torch.device,
    use_amp: bool,
    keep_outputs: bool,
) -> tuple[float, np.ndarray | None]:
    """Mean loss over the examples (if ``loss_fn``) and the raw outputs (if ``keep_outputs``)."""
    model.eval()
    order = torch.arange(len(tensors))
    total_loss = torch.zeros((), dtype=torch.float64, device=device)
    outputs = []
    for indices in torch.split(order, batch_size):
        signals, targets = tensors.batch(indices, device)
        with torch.autocast(device_type="cuda", dtype=torch.float16, enabled=use_amp):
            output = model(signals)
        output = output.float()
        if loss_fn is not None:
            total_loss += loss_fn(output, targets).double() * len(indices)
        if keep_outputs:
            outputs.append(output.cpu())
    loss = float(total_loss / len(tensors)) if loss_fn is not None else float("nan")
    return loss, (torch.cat(outputs).numpy() if keep_outputs else None)


def _split_metrics(
    prefix: str,
    model: nn.Module,
    tensors: _Tensors,
    *,
    task: str,
    loss_fn: Callable,
    metrics_fn: Callable | None,
    threshold,
    batch_size: int,
    device: torch.device,
    use_amp: bool,
) -> dict[str, float]:
    keep_outputs = metrics_fn is not None or task != "reconstruction"
    loss, outputs = _run_eval(
        model,
        tensors,
        loss_fn=loss_fn,
        batch_size=batch_size,
        device=device,
        use_amp=use_amp,
        keep_outputs=keep_outputs,
    )
    row = {f"{prefix}_loss": loss}
    if keep_outputs:
        targets = (tensors.signals if tensors.targets is None else tensors.targets).cpu().numpy()
        if metrics_fn is not None:
            values = metrics_fn(targets, outputs)
        else:
            values = task_metrics(
                task, targets, outputs, threshold=threshold, target_names=tensors.target_names
            )
        row.update({f"{prefix}_{name}": float(value) for name, value in values.items()})
    return row


# --------------------------------------------------------------------------- the parts of fit


def _check_fit_arguments(
    *,
    task: str,
    epochs,
    lr,
    batch_size,
    seed,
    monitor: str,
    monitor_mode: str,
    early_stopping_patience,
    select_on_test: bool,
    has_val: bool,
    has_test: bool,
    checkpoint_dir,
    resume: bool,
    weighted_sampling: bool,
) -> None:
    """Raise ``ValueError`` naming the first bad argument of :func:`fit`."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if monitor_mode not in ("min", "max"):
        raise ValueError(f"monitor_mode must be 'min' or 'max', got {monitor_mode!r}")
    if monitor.startswith("test_") and not select_on_test:
        raise ValueError(
            f"monitor {monitor!r} selects the model on the test set; pass select_on_test=True only to "
            "reproduce a paper that did so, and label the results"
        )
    if monitor.startswith("test_") and not has_test:
        raise ValueError(f"monitor {monitor!r} needs a test set")
    if not has_val and monitor.startswith("val_"):
        raise ValueError(f"monitor {monitor!r} needs a validation set (or monitor='train_loss')")
    patience = early_stopping_patience
    if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int) or patience < 1):
        raise ValueError(
            f"early_stopping_patience must be a positive int or None, got {early_stopping_patience!r}"
        )
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs checkpoint_dir")
    if weighted_sampling and task not in ("single_label", "multi_label"):
        raise ValueError(f"weighted_sampling needs a classification task, not {task!r}")


def _place_splits(splits: tuple[_Tensors | None, ...], device: torch.device) -> tuple[_Tensors | None, ...]:
    """On CUDA: the splits moved to the GPU when small enough, else their signals pinned."""
    present = [split for split in splits if split is not None]
    if device.type == "cuda" and sum(split.nbytes() for split in present) <= DATA_ON_DEVICE_MAX_BYTES:
        return tuple(None if split is None else split.to(device) for split in splits)
    if device.type == "cuda":
        for split in present:
            split.signals = split.signals.pin_memory()
    return splits


@dataclass
class _Selection:
    """What training carries from epoch to epoch besides model and optimiser (checkpointed)."""

    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float | None = None
    best_state: dict[str, torch.Tensor] | None = None
    epochs_without_improvement: int = 0
    stopped_early: bool = False

    def record(
        self,
        row: dict[str, float],
        model: nn.Module,
        *,
        monitor: str,
        monitor_mode: str,
        early_stopping_patience: int | None,
        early_stopping_min_epochs: int = 0,
    ) -> bool:
        """Append ``row``; keep the weights if ``monitor`` improved; stop early after
        ``early_stopping_patience`` epochs without improvement, never before epoch
        ``early_stopping_min_epochs``. Returns whether it improved."""
        self.history.append(row)
        improved = _is_improvement(row[monitor], self.best_score, monitor_mode)
        if improved:
            self.best_epoch, self.best_score, self.best_state = (
                row["epoch"],
                row[monitor],
                _cpu_state_dict(model),
            )
            self.epochs_without_improvement = 0
        else:
            self.epochs_without_improvement += 1
        if (
            early_stopping_patience is not None
            and self.epochs_without_improvement >= early_stopping_patience
            and row["epoch"] >= early_stopping_min_epochs
        ):
            self.stopped_early = True
        return improved


@dataclass
class _Trainer:
    """The live objects of one :func:`fit` call whose state a checkpoint holds."""

    model: nn.Module
    optimiser: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    generator: torch.Generator
    cuda_devices: list[int]

    def checkpoint(self, *, settings: dict, epoch: int, selection: _Selection) -> dict:
        """The full state after ``epoch``: enough for ``resume`` to continue bit for bit."""
        return {
            "version": CHECKPOINT_VERSION,
            "settings": settings,
            "epoch": epoch,
            "model": _cpu_state_dict(self.model),
            "optimizer": self.optimiser.state_dict(),
            "scaler": self.scaler.state_dict(),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": [torch.cuda.get_rng_state(index) for index in self.cuda_devices],
            "history": selection.history,
            "best_epoch": selection.best_epoch,
            "best_score": selection.best_score,
            "best_state": selection.best_state,
            "epochs_without_improvement": selection.epochs_without_improvement,
            "stopped_early": selection.stopped_early,
        }

    def restore(self, checkpoint_path: Path, *, settings: dict, epochs: int) -> tuple[int, _Selection]:
        """Load ``checkpoint_path`` into the live objects; returns (last epoch done, selection).

        Raises
        ------
        ValueError
            The checkpoint has another version, other settings, or is beyond ``epochs``.
        """
        state = load_checkpoint(checkpoint_path, map_location="cpu")
        if state.get("version") != CHECKPOINT_VERSION:
            raise ValueError(
                f"checkpoint {checkpoint_path} has version {state.get('version')}, expected {CHECKPOINT_VERSION}"
            )
        saved = state["settings"]
        different = {
            key: (saved.get(key), value) for key, value in settings.items() if saved.get(key) != value
        }
        if different:
            raise ValueError(
                f"checkpoint {checkpoint_path} was written with other settings (saved, now): {different}"
            )
        if state["epoch"] > epochs:
            raise ValueError(
                f"checkpoint {checkpoint_path} is at epoch {state['epoch']}, beyond epochs={epochs}"
            )
        self.model.load_state_dict(state["model"])
        self.optimiser.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        for cuda_index, cuda_state in zip(self.cuda_devices, state.get("cuda_rng", [])):
            torch.cuda.set_rng_state(cuda_state, cuda_index)
        selection = _Selection(
            history=[dict(row) for row in state["history"]],
            best_epoch=state["best_epoch"],
            best_score=state["best_score"],
            best_state=state["best_state"],
            epochs_without_improvement=state["epochs_without_improvement"],
            stopped_early=state["stopped_early"],
        )
        return state["epoch"], selection


def _seed_torch_rng(seed: int, cuda_devices: list[int]) -> None:
    """Seed the (forked) torch CPU and CUDA generators that dropout draws from."""
    torch.random.default_generator.manual_seed(int(seed))
    for cuda_index in cuda_devices:
        with torch.cuda.device(cuda_index):
            torch.cuda.manual_seed(int(seed))


def _epoch_order(
    n_train: int, sampler: WeightedRandomSampler | None, generator: torch.Generator
) -> torch.Tensor:
    """This epoch's training indices: a permutation, or the weighted sampler's draw."""
    if sampler is not None:
        # WeightedRandomSampler's own draw, kept as a tensor instead of iterated in Python
        return torch.multinomial(
            sampler.weights, sampler.num_samples, sampler.replacement, generator=generator
        )
    return torch.randperm(n_train, generator=generator)


def _train_epoch(
    trainer: _Trainer,
    train_set: _Tensors,
    order: torch.Tensor,
    *,
    task: str,
    loss_fn: Callable,
    batch_size: int,
    device: torch.device,
    use_amp: bool,
    check_first_batch: bool,
) -> float:
    """One pass over ``order`` in batches; returns the example-weighted mean training loss."""
    model, optimiser, scaler = trainer.model, trainer.optimiser, trainer.scaler
    model.train()
    total_loss = torch.zeros((), dtype=torch.float64, device=device)
    n_seen = 0
    for indices in _batches(order, batch_size, drop_single=len(train_set) > 1):
        signals, targets = train_set.batch(indices, device)
        with torch.autocast(device_type="cuda", dtype=torch.float16, enabled=use_amp):
            output = model(signals)
            if check_first_batch:
                _check_first_batch(task, output, targets)
                check_first_batch = False
            loss = loss_fn(output, targets)
        optimiser.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimiser)
        scaler.update()
        total_loss += loss.detach().double() * len(indices)
        n_seen += len(indices)
    return float(total_loss / n_seen)


# --------------------------------------------------------------------------- fit


def fit(
    model: nn.Module,
    train,
    val,
    test=None,
    *,
    task: str,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    device: str | torch.device,
    optimizer: str | Callable = "adam",
    weight_decay: float = 0.0,
    monitor: str = "val_loss",
    monitor_mode: str = "min",
    early_stopping_patience: int | None = None,
    early_stopping_min_epochs: int = 0,
    lr_schedule: str = "constant",
    lr_min: float = 0.0,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = False,
    weighted_sampling: bool = False,
    threshold=0.5,
    progress: bool = True,
    loss_fn: Callable | None = None,
    metrics_fn: Callable | None = None,
    reconstruction_reduction: str = "sum",
    amp: bool = True,
    eval_batch_size: int | None = None,
    log_every: int | None = None,
    select_on_test: bool = False,
    label: str = "fit",
) -> FitResult:
    """Train ``model`` and keep its best weights by a validation metric.

    Parameters
    ----------
    model : nn.Module
        Maps a batch ``(batch, n_leads, n_samples)`` to logits ``(batch, n_classes)``
        (classification), predictions ``(batch, n_targets)`` (regression) or a reconstruction
        of its input (reconstruction). Moved to ``device``; trained in place.
    train, val, test : LabelledSet or (signals, targets)
        ``signals`` of shape ``(n, n_samples, n_leads)``; targets as in
        :class:`ecglib.data.LabelledSet` (ignored, may be None, for reconstruction; a bare
        signals array is accepted too). ``val`` may be None when ``monitor="train_loss"``.
        ``test`` is only evaluated and recorded (e.g. for learning curves), never used to
        select unless ``select_on_test=True``.
    task : {"single_label", "multi_label", "regression", "reconstruction"}
    epochs : int, the total number of epochs (including those of a resumed run)
    lr : float, learning rate
    batch_size : int
    seed : int, seeds batch order, weighted sampling and dropout
    device : "auto", "cpu", "cuda" or torch.device (see :func:`resolve_device`)
    optimizer : {"adam", "adamw", "nadam", "sgd"} or callable(params) -> Optimizer
        ``"sgd"`` uses momentum 0.9. Only parameters with ``requires_grad`` are optimised.
    weight_decay : float, default=0.0
    monitor : str, default="val_loss"
        A history column (``val_loss``, ``val_f1_weighted``, ``train_loss``...).
    monitor_mode : {"min", "max"}
    early_stopping_patience : int, optional
        Stop after this many epochs without improvement of ``monitor``.
    early_stopping_min_epochs : int, default=0
        Never stop early before this epoch (a loss that sits on a plateau for a while before it
        falls, e.g. an autoencoder predicting the mean, is not stopped on that plateau).
    lr_schedule : {"constant", "cosine"}, default="constant"
        Per-epoch learning rate (:func:`scheduled_lr`); with ``"cosine"`` the history gets an
        ``lr`` column.
    lr_min : float, default=0.0, the cosine schedule's final learning rate
    checkpoint_dir : path, optional
        Writes ``last.pt`` (full state, each epoch) and ``best.pt`` (best weights).
    resume : bool, default=False
        Continue from ``checkpoint_dir/last.pt`` if it exists (same settings required).
    weighted_sampling : bool, default=False
        Draw each epoch's ``n_train`` examples with replacement, with probability
        proportional to the inverse frequency of their class (the draw of
        ``torch.utils.data.WeightedRandomSampler`` with a seeded generator).
    threshold : float or array-like of shape (n_classes,), default=0.5
        Multi-label probability threshold for the F1 metrics.
    progress : bool, default=True
        tqdm when stderr is a terminal, otherwise a plain line every ``log_every`` epochs.
    loss_fn : callable(output, target) -> scalar tensor, optional
        Overrides :func:`default_loss`.
    metrics_fn : callable(targets, outputs) -> dict[str, float], optional
        Overrides the default metrics (:func:`ecglib.metrics.task_metrics`). Gets NumPy
        arrays: targets (the inputs ``(n, n_leads, n_samples)`` for reconstruction) and raw
        outputs.
    reconstruction_reduction : {"sum", "mean"}, default="sum"
        Default reconstruction loss: per-example sum of squared errors averaged over the
        batch, or the element mean.
    amp : bool, default=True
        Mixed precision (autocast float16 + GradScaler); used on CUDA only.
    eval_batch_size : int, optional, default ``batch_size``
    log_every : int, optional
        Plain-log period in epochs; default 1 up to 20 epochs, else ``epochs // 10``.
    select_on_test : bool, default=False
        Allow ``monitor`` to be a ``test_*`` column: only to reproduce a paper that selected
        on its test set; label such results as such.
    label : str, prefix of the progress lines

    Returns
    -------
    FitResult

    Raises
    ------
    ValueError
        Bad arguments, data or a checkpoint from different settings (messages say which).
    """
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {lr_schedule!r}")
    if not (isinstance(lr_min, (int, float)) and 0 <= lr_min <= lr):
        raise ValueError(f"lr_min must be a number in [0, lr={lr}], got {lr_min!r}")
    min_epochs = early_stopping_min_epochs
    if isinstance(min_epochs, bool) or not isinstance(min_epochs, (int, np.integer)) or min_epochs < 0:
        raise ValueError(f"early_stopping_min_epochs must be a non-negative int, got {min_epochs!r}")
    _check_fit_arguments(
        task=task,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        seed=seed,
        monitor=monitor,
        monitor_mode=monitor_mode,
        early_stopping_patience=early_stopping_patience,
        select_on_test=select_on_test,
        has_val=val is not None,
        has_test=test is not None,
        checkpoint_dir=checkpoint_dir,
        resume=resume,
        weighted_sampling=weighted_sampling,
    )
    device = resolve_device(device)
    eval_batch_size = eval_batch_size or batch_size
    log_every = log_every or (1 if epochs <= 20 else max(1, epochs // 10))

    # ---- data, once, as tensors
    train_set, val_set, test_set = _place_splits(
        (
            _as_tensors(train, task, "train"),
            None if val is None else _as_tensors(val, task, "val"),
            None if test is None else _as_tensors(test, task, "test"),
        ),
        device,
    )

    # ---- model, optimiser, scaler, sampler
    loss_fn = loss_fn or default_loss(task, reconstruction_reduction=reconstruction_reduction)
    use_amp = bool(amp) and device.type == "cuda"
    model.to(device)
    parameters = [parameter for parameter in model.parameters() if parameter.requires_grad]
    if not parameters:
        raise ValueError("the model has no trainable parameters (all frozen?)")
    cuda_devices = []
    if device.type == "cuda":
        cuda_devices = [device.index if device.index is not None else torch.cuda.current_device()]
    trainer = _Trainer(
        model=model,
        optimiser=_make_optimizer(optimizer, parameters, lr, weight_decay),
        scaler=torch.amp.GradScaler("cuda", enabled=use_amp),
        generator=torch.Generator().manual_seed(int(seed)),
        cuda_devices=cuda_devices,
    )
    sampler = None
    if weighted_sampling:
        sampler = WeightedRandomSampler(
            _sampling_weights(train_set.targets.cpu(), task),
            len(train_set),
            replacement=True,
            generator=trainer.generator,
        )
    # a checkpoint is resumed only under these same settings
    settings = {
        "task": task,
        "seed": int(seed),
        "lr": float(lr),
        "batch_size": int(batch_size),
        "optimizer": optimizer if isinstance(optimizer, str) else "callable",
        "weight_decay": float(weight_decay),
        "n_train": len(train_set),
        "weighted_sampling": bool(weighted_sampling),
        "monitor": monitor,
        "monitor_mode": monitor_mode,
    }
    if lr_schedule != "constant":  # only then: checkpoints of constant-rate runs stay resumable
        settings.update(lr_schedule=lr_schedule, lr_min=float(lr_min), epochs=int(epochs))
    checkpoint_path = None
    if checkpoint_dir is not None:
        Path(checkpoint_dir).mkdir(parents=True, exist_ok=True)
        checkpoint_path = Path(checkpoint_dir) / LAST_CHECKPOINT

    def evaluate(prefix: str, split: _Tensors | None) -> dict[str, float]:
        """``<prefix>_loss`` and ``<prefix>_<metric>`` columns of this epoch's row (none without a split)."""
        if split is None:
            return {}
        return _split_metrics(
            prefix,
            model,
            split,
            task=task,
            loss_fn=loss_fn,
            metrics_fn=metrics_fn,
            threshold=threshold,
            batch_size=eval_batch_size,
            device=device,
            use_amp=use_amp,
        )

    selection = _Selection()
    epoch_seconds: list[float] = []
    with torch.random.fork_rng(devices=cuda_devices):
        _seed_torch_rng(seed, cuda_devices)
        start_epoch = 1
        if resume and checkpoint_path.exists():
            last_epoch, selection = trainer.restore(checkpoint_path, settings=settings, epochs=epochs)
            start_epoch = last_epoch + 1
        progress_log = _Progress(progress, epochs, start_epoch, log_every, label)
        if start_epoch > 1:
            progress_log.message(f"resumed from {checkpoint_path} after epoch {start_epoch - 1}")
        try:
            for epoch in range(start_epoch, epochs + 1):
                if selection.stopped_early:
                    break
                started = time.perf_counter()
                epoch_lr = scheduled_lr(epoch, epochs=epochs, lr=lr, schedule=lr_schedule, lr_min=lr_min)
                if lr_schedule != "constant":  # a constant rate leaves the optimiser's own lr alone
                    for group in trainer.optimiser.param_groups:
                        group["lr"] = epoch_lr
                train_loss = _train_epoch(
                    trainer,
                    train_set,
                    _epoch_order(len(train_set), sampler, trainer.generator),
                    task=task,
                    loss_fn=loss_fn,
                    batch_size=batch_size,
                    device=device,
                    use_amp=use_amp,
                    check_first_batch=epoch == start_epoch,
                )
                if not math.isfinite(train_loss):
                    raise TrainingDiverged(
                        f"{label} diverged at epoch {epoch}: the training loss is {train_loss} "
                        f"(lr {lr}); lower the learning rate"
                    )
                row: dict[str, float] = {"epoch": epoch, "train_loss": train_loss}
                if lr_schedule != "constant":
                    row["lr"] = epoch_lr
                row.update(evaluate("val", val_set))
                row.update(evaluate("test", test_set))
                if monitor not in row:
                    raise ValueError(f"monitor {monitor!r} is not a history column; columns: {sorted(row)}")
                # ---- selection, early stopping, checkpoint
                improved = selection.record(
                    row,
                    model,
                    monitor=monitor,
                    monitor_mode=monitor_mode,
                    early_stopping_patience=early_stopping_patience,
                    early_stopping_min_epochs=int(min_epochs),
                )
                if improved and checkpoint_dir is not None:
                    _atomic_torch_save(selection.best_state, Path(checkpoint_dir) / BEST_CHECKPOINT)
                if checkpoint_path is not None:
                    _atomic_torch_save(
                        trainer.checkpoint(settings=settings, epoch=epoch, selection=selection),
                        checkpoint_path,
                    )
                seconds = time.perf_counter() - started
                epoch_seconds.append(seconds)
                progress_log.update(
                    row,
                    monitor,
                    selection.best_epoch,
                    seconds,
                    last=epoch == epochs or selection.stopped_early,
                )
                if selection.stopped_early:
                    progress_log.message(
                        f"early stop after epoch {epoch}: {monitor} did not improve for {early_stopping_patience} epochs"
                    )
        finally:
            progress_log.close()

    model.load_state_dict(selection.best_state)
    frame = pd.DataFrame(selection.history)
    frame["epoch"] = frame["epoch"].astype(int)
    return FitResult(
        model=model,
        history=frame,
        best_epoch=int(selection.best_epoch),
        best_score=float(selection.best_score),
        best_state_dict=selection.best_state,
        monitor=monitor,
        monitor_mode=monitor_mode,
        stopped_early=bool(selection.stopped_early),
        device=device,
        epoch_seconds=epoch_seconds,
    )


# --------------------------------------------------------------------------- predict


def predict(
    model: nn.Module,
    signals,
    *,
    batch_size: int,
    device: str | torch.device,
    amp: bool = True,
) -> np.ndarray:
    """Raw model outputs (logits, predictions or reconstructions) for a set of signals.

    Parameters
    ----------
    model : nn.Module, moved to ``device``; its train/eval mode is restored afterwards
    signals : LabelledSet or ndarray of shape (n, n_samples, n_leads)
    batch_size : int
    device : "auto", "cpu", "cuda" or torch.device
    amp : bool, default=True, float16 autocast on CUDA only

    Returns
    -------
    ndarray, float32, of shape (n, ...) (the model's output per example)
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    device = resolve_device(device)
    array = signals.signals_mv if isinstance(signals, LabelledSet) else signals
    tensors = _Tensors(_signals_tensor(array, "predict"), None, None)
    was_training = model.training
    model.to(device)
    try:
        _, outputs = _run_eval(
            model,
            tensors,
            loss_fn=None,
            batch_size=batch_size,
            device=device,
            use_amp=bool(amp) and device.type == "cuda",
            keep_outputs=True,
        )
    finally:
        model.train(was_training)
    return outputs
