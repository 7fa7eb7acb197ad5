"""Train many small binary classifiers at once: a grid search (and many patients) in one loop.

A hyper-parameter grid over many patients means hundreds of tiny models, each trained on a
few hundred windows. One model at a time, a CPU spends most of its time on per-step
overhead at batch size 4. Here every model of a *chunk* (runs that share a batch size)
keeps its parameters stacked along a leading axis of size K, and one step trains all of
them: each model gets its own mini-batch (its own data, its own seeded order), the losses
are summed (the parameters are disjoint, so each model's gradient is exactly its own), and
a batched Adam updates every model with its own learning rate and its own moment
estimates. Models whose epoch is shorter (fewer training windows) sit out the remaining
steps of that epoch: their parameters, moments and step counts stay untouched.

Results match training the same run alone with :func:`train_single` (a plain loop with
``torch.optim.Adam``) up to floating-point rounding; ``tests/test_grid.py`` checks it.

Conventions: ``signals`` is a tensor ``(n_examples, n_leads, n_samples)`` (or any
per-example shape the model accepts), ``targets`` holds 0/1 labels ``(n_examples,)``; each
run refers to its examples by index, so the data stays in memory once. Models output one
logit per example (``(batch, 1)`` or ``(batch,)``); the loss is binary cross-entropy on
logits (sigmoid + BCE, the paper's loss). A model class may provide
``batched_forward(params, x)`` (``x``: ``(K, batch, ...)`` -> logits ``(K, batch)``), as
``ecglib.models.beat_cnn.BeatCNN`` does; otherwise ``torch.func.vmap`` over
``torch.func.functional_call`` is used.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ecglib import cache as _cache

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8

HISTORY_COLUMNS = ("epoch", "train_loss", "train_balanced_accuracy", "val_loss", "val_balanced_accuracy")


@dataclass
class GridRun:
    """One model to train.

    Attributes
    ----------
    train_indices, val_indices : int arrays, rows of ``signals`` used for training / validation
    lr : Adam learning rate
    batch_size : mini-batch size (the last batch of an epoch may be smaller)
    weighted_sampling : draw each epoch's examples with replacement, weights 1 / class count
        (PyTorch ``WeightedRandomSampler`` semantics: as many draws as training examples)
    seed : seeds the data order and, when ``init_state`` is None, the initial weights
    init_state : state dict to start from (fine-tuning), or None for a fresh initialisation
    test_indices : optional rows evaluated once, with the kept (best) weights
    tags : free labels carried into the result (patient, mode, ...)
    """

    train_indices: np.ndarray
    val_indices: np.ndarray
    lr: float
    batch_size: int
    weighted_sampling: bool = False
    seed: int = 0
    init_state: dict[str, torch.Tensor] | None = None
    test_indices: np.ndarray | None = None
    tags: dict = field(default_factory=dict)


@dataclass
class GridResult:
    """Outcome of one :class:`GridRun`.

    ``history`` has one row per epoch with the columns of ``HISTORY_COLUMNS``;
    ``best_epoch`` (1-based) is the epoch whose weights were kept (lowest validation loss,
    ties to the earliest); ``best_state_dict`` holds those weights on the CPU (None when
    :func:`train_grid` ran with ``keep_states=False``);
    ``test_probabilities`` are sigmoid outputs on ``test_indices`` (in that order).
    """

    tags: dict
    history: pd.DataFrame
    best_epoch: int
    best_state_dict: dict[str, torch.Tensor] | None
    val_loss: float
    val_balanced_accuracy: float
    test_loss: float = math.nan
    test_balanced_accuracy: float = math.nan
    test_probabilities: np.ndarray | None = None
    n_train_examples_seen: int = 0

    @property
    def diverged(self) -> bool:
        """True when a training or validation loss became NaN or infinite (its numbers mean nothing)."""
        columns = [column for column in ("train_loss", "val_loss") if column in self.history]
        return bool(not np.isfinite(self.history[columns].to_numpy(dtype=float)).all())


def balanced_accuracy_from_counts(true_pos, n_pos, true_neg, n_neg):
    """Mean recall over the classes present (scikit-learn's ``balanced_accuracy_score`` for 0/1 labels).

    Works elementwise on numbers or tensors; a model whose targets hold one class only gets
    that class's recall; with no examples at all the result is NaN.
    """
    true_pos, n_pos = (
        torch.as_tensor(true_pos, dtype=torch.float64),
        torch.as_tensor(n_pos, dtype=torch.float64),
    )
    true_neg, n_neg = (
        torch.as_tensor(true_neg, dtype=torch.float64),
        torch.as_tensor(n_neg, dtype=torch.float64),
    )
    recall_pos = torch.where(n_pos > 0, true_pos / n_pos.clamp(min=1), torch.zeros_like(n_pos))
    recall_neg = torch.where(n_neg > 0, true_neg / n_neg.clamp(min=1), torch.zeros_like(n_neg))
    n_classes = (n_pos > 0).double() + (n_neg > 0).double()
    return torch.where(
        n_classes > 0, (recall_pos + recall_neg) / n_classes.clamp(min=1), torch.full_like(n_pos, math.nan)
    )


def epoch_order(train_targets: np.ndarray, *, weighted_sampling: bool, seed: int, epoch: int) -> np.ndarray:
    """Positions (into the run's training examples) in the order one epoch visits them.

    Parameters
    ----------
    train_targets : int array of shape (n_train,), 0/1 labels of the run's training examples
    weighted_sampling : False: a permutation of ``range(n_train)``; True: ``n_train`` draws with
        replacement, each example weighted by 1 / (count of its class)
    seed, epoch : the order depends on these two only (``np.random.default_rng([seed, epoch])``)

    Returns
    -------
    int64 array of shape (n_train,)
    """
    train_targets = np.asarray(train_targets).astype(np.int64)
    n_train = len(train_targets)
    rng = np.random.default_rng([seed, epoch])
    if not weighted_sampling:
        return rng.permutation(n_train).astype(np.int64)
    class_counts = np.bincount(train_targets, minlength=2).astype(np.float64)
    weights = 1.0 / class_counts[train_targets]
    return rng.choice(n_train, size=n_train, replace=True, p=weights / weights.sum()).astype(np.int64)


def initial_state(model_factory: Callable[[], nn.Module], seed: int) -> dict[str, torch.Tensor]:
    """State dict of a freshly built model whose initial weights depend on ``seed`` alone."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_factory()
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def _check_runs(runs: Sequence[GridRun], n_examples: int) -> None:
    for number, run in enumerate(runs):
        for name in ("train_indices", "val_indices", "test_indices"):
            indices = getattr(run, name)
            if indices is None:
                continue
            indices = np.asarray(indices)
            if indices.ndim != 1 or (len(indices) and (indices.min() < 0 or indices.max() >= n_examples)):
                raise ValueError(
                    f"run {number} ({run.tags}): {name} must be 1-D indices in [0, {n_examples})"
                )
        if len(run.train_indices) == 0 or len(run.val_indices) == 0:
            raise ValueError(
                f"run {number} ({run.tags}): needs at least one training and one validation example"
            )
        if run.batch_size < 1 or not run.lr > 0:
            raise ValueError(f"run {number} ({run.tags}): batch_size must be >= 1 and lr > 0")


class _StackedModels:
    """K models of one architecture: parameters in one (K, n_parameters) tensor, forward, batched Adam.

    Keeping every model's parameters in one row of a flat tensor makes the gradient of all
    of them one tensor (the backward of ``torch.split`` is a single concatenation) and lets
    one fused Adam kernel per learning rate update every model; with 20 separate parameter
    tensors the optimizer's ~300 small element-wise operations per step cost more than the
    model's batch-4 forward and backward.
    """

    def __init__(self, template: nn.Module, states: list[dict[str, torch.Tensor]], device: torch.device):
        if list(template.buffers()):
            raise ValueError(
                f"{type(template).__name__} has buffers (e.g. batch-norm statistics); the grid trainer "
                "supports buffer-free models only"
            )
        self.template = template.to(device)
        named = list(template.named_parameters())
        self.names = [name for name, _ in named]
        self.shapes = [tuple(p.shape) for _, p in named]
        self.sizes = [p.numel() for _, p in named]
        self.n_models = len(states)
        self.flat = (
            torch.cat(
                [torch.stack([state[name].reshape(-1) for state in states]) for name in self.names], dim=1
            )
            .to(device=device, dtype=torch.float32)
            .contiguous()
        )
        self.exp_avg = torch.zeros_like(self.flat)
        self.exp_avg_sq = torch.zeros_like(self.flat)
        # one step count per model, as torch.optim.Adam keeps one per parameter (float32 scalars)
        self.steps = [torch.zeros((), dtype=torch.float32, device=device) for _ in range(self.n_models)]
        if hasattr(template, "batched_forward"):
            self._forward = template.batched_forward
        else:
            from torch.func import functional_call, vmap

            def one_model(params, x):
                return functional_call(template, params, (x,))

            self._forward = vmap(one_model)

    def params(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """State-dict names -> (K, *shape) views of ``flat`` (differentiable)."""
        pieces = torch.split(flat, self.sizes, dim=1)
        return {
            name: piece.reshape(self.n_models, *shape)
            for name, piece, shape in zip(self.names, pieces, self.shapes)
        }

    def state_dict(self, flat: torch.Tensor, k: int) -> dict[str, torch.Tensor]:
        """Model ``k``'s parameters from ``flat`` as a CPU state dict."""
        pieces = torch.split(flat[k].detach().cpu(), self.sizes)
        return {
            name: piece.reshape(shape).clone() for name, piece, shape in zip(self.names, pieces, self.shapes)
        }

    def logits(self, flat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        params = self.params(flat)
        if self.n_models == 1:
            # one model: the module's own forward (plain convolutions, no grouping)
            from torch.func import functional_call

            out = functional_call(self.template, {name: value[0] for name, value in params.items()}, (x[0],))
            return out.reshape(1, -1)
        out = self._forward(params, x)
        return out.reshape(out.shape[0], out.shape[1])

    @torch.no_grad()
    def adam_step(self, grad: torch.Tensor, active: np.ndarray, lrs: np.ndarray, weight_decay: float) -> None:
        """``torch.optim.Adam`` (L2 weight decay added to the gradient) for the models where ``active``.

        ``grad`` is (K, n_parameters); ``lrs`` each model's learning rate. One call of
        PyTorch's fused Adam kernel (the one behind ``torch.optim.Adam(fused=True)``) per
        distinct learning rate; models not active keep parameters, moments and step count.
        """
        beta1, beta2 = ADAM_BETAS
        for lr in np.unique(lrs[active]):
            members = np.flatnonzero(active & (lrs == lr)).tolist()
            steps = [self.steps[k] for k in members]
            torch._foreach_add_(steps, 1)
            torch._fused_adam_(
                [self.flat[k] for k in members],
                [grad[k] for k in members],
                [self.exp_avg[k] for k in members],
                [self.exp_avg_sq[k] for k in members],
                [],
                steps,
                lr=float(lr),
                beta1=beta1,
                beta2=beta2,
                weight_decay=weight_decay,
                eps=ADAM_EPS,
                amsgrad=False,
                maximize=False,
            )


def _padded_index_matrix(rows: list[np.ndarray], width: int | None = None) -> np.ndarray:
    width = max(len(row) for row in rows) if width is None else width
    matrix = np.full((len(rows), width), -1, dtype=np.int64)
    for k, row in enumerate(rows):
        matrix[k, : len(row)] = row
    return matrix


def _confusion_counts(logits: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(K, 4) float64 counts per model: true positives, positives, true negatives, negatives."""
    predicted = logits > 0
    positive = (y > 0.5) & mask
    negative = (y < 0.5) & mask
    return torch.stack(
        [(predicted & positive).sum(1), positive.sum(1), (~predicted & negative).sum(1), negative.sum(1)],
        dim=1,
    ).double()


@torch.no_grad()
def _evaluate(
    stack, flat, signals, targets_float, index_matrix: np.ndarray, eval_samples_per_step: int = 2048
):
    """Mean BCE, balanced accuracy and probabilities of each model on its own rows (-1 = padding)."""
    n_models, width = index_matrix.shape
    device = signals.device
    chunk = max(1, eval_samples_per_step // n_models)
    loss_sum = torch.zeros(n_models, dtype=torch.float64, device=device)
    counts = torch.zeros(n_models, 4, dtype=torch.float64, device=device)  # tp, n_pos, tn, n_neg
    probabilities = []
    for start in range(0, width, chunk):
        rows = torch.as_tensor(index_matrix[:, start : start + chunk], device=device)
        mask = rows >= 0
        safe = rows.clamp(min=0)
        logits = stack.logits(flat, signals[safe])
        y = targets_float[safe]
        losses = F.binary_cross_entropy_with_logits(logits, y, reduction="none") * mask
        loss_sum += losses.sum(1).double()
        counts += _confusion_counts(logits, y, mask)
        probabilities.append(torch.sigmoid(logits).cpu())
    n_rows = counts[:, 1] + counts[:, 3]
    mean_loss = (loss_sum / n_rows.clamp(min=1)).cpu().numpy()
    bacc = balanced_accuracy_from_counts(counts[:, 0], counts[:, 1], counts[:, 2], counts[:, 3]).cpu().numpy()
    return mean_loss, bacc, torch.cat(probabilities, dim=1).numpy()


def _train_chunk(
    model_factory,
    template,
    signals,
    targets_float,
    targets_np,
    runs,
    *,
    epochs,
    weight_decay,
    max_samples_per_step,
    device,
    progress,
    keep_states=True,
):
    states = [
        run.init_state if run.init_state is not None else initial_state(model_factory, run.seed)
        for run in runs
    ]
    stack = _StackedModels(template, states, device)
    n_models = len(runs)
    batch_size = runs[0].batch_size
    lrs = np.array([run.lr for run in runs], dtype=np.float64)
    val_matrix = _padded_index_matrix([np.asarray(run.val_indices) for run in runs])
    best_flat = stack.flat.clone()
    best_loss = np.full(n_models, np.inf)
    best_epoch = np.zeros(n_models, dtype=np.int64)
    histories = [[] for _ in runs]
    n_seen = np.zeros(n_models, dtype=np.int64)
    epoch_iter = range(1, epochs + 1)
    if progress:
        from tqdm.auto import tqdm

        epoch_iter = tqdm(epoch_iter, desc=f"{n_models} models, batch {batch_size}", leave=False)
    for epoch in epoch_iter:
        orders = []
        for run in runs:
            train_indices = np.asarray(run.train_indices)
            order = epoch_order(
                targets_np[train_indices], weighted_sampling=run.weighted_sampling, seed=run.seed, epoch=epoch
            )
            orders.append(train_indices[order])
        n_steps = max(math.ceil(len(order) / batch_size) for order in orders)
        order_np = _padded_index_matrix(orders, n_steps * batch_size)
        # the epoch's examples gathered once, in visiting order: each step takes a slice
        order_matrix = torch.as_tensor(order_np, device=device)
        mask_all = order_matrix >= 0
        x_all = signals[order_matrix.clamp(min=0)]
        y_all = targets_float[order_matrix.clamp(min=0)]
        n_rows_all = (order_np >= 0).reshape(n_models, n_steps, batch_size).sum(2)  # (K, n_steps)
        logits_all = torch.zeros(n_models, n_steps * batch_size, device=device)
        for step in range(n_steps):
            window = slice(step * batch_size, (step + 1) * batch_size)
            n_rows = n_rows_all[:, step]
            flat = stack.flat.detach().requires_grad_()
            logits = stack.logits(flat, x_all[:, window])
            y = y_all[:, window]
            if n_rows.min() == batch_size:  # every model has a full batch (all but an epoch's last steps)
                loss = F.binary_cross_entropy_with_logits(logits, y, reduction="none").mean(1).sum()
            else:
                losses = F.binary_cross_entropy_with_logits(logits, y, reduction="none") * mask_all[:, window]
                loss = (losses.sum(1) / torch.as_tensor(np.maximum(n_rows, 1), device=device)).sum()
            (grad,) = torch.autograd.grad(loss, [flat])
            stack.adam_step(grad, n_rows > 0, lrs, weight_decay)
            logits_all[:, window] = logits.detach()
        with torch.no_grad():
            losses = F.binary_cross_entropy_with_logits(logits_all, y_all, reduction="none") * mask_all
            counts = _confusion_counts(logits_all, y_all, mask_all)
        n_epoch = (counts[:, 1] + counts[:, 3]).cpu().numpy()
        n_seen += n_epoch.astype(np.int64)
        train_loss = losses.sum(1).double().cpu().numpy() / np.maximum(n_epoch, 1)
        train_bacc = (
            balanced_accuracy_from_counts(counts[:, 0], counts[:, 1], counts[:, 2], counts[:, 3])
            .cpu()
            .numpy()
        )
        val_loss, val_bacc, _ = _evaluate(stack, stack.flat, signals, targets_float, val_matrix)
        improved = val_loss < best_loss
        best_loss = np.where(improved, val_loss, best_loss)
        best_epoch = np.where(improved, epoch, best_epoch)
        if improved.any():
            rows = torch.as_tensor(np.flatnonzero(improved), device=device)
            best_flat[rows] = stack.flat[rows]
        for k in range(n_models):
            histories[k].append((epoch, train_loss[k], train_bacc[k], val_loss[k], val_bacc[k]))
    test_rows = [
        np.asarray(run.test_indices) if run.test_indices is not None else np.zeros(0, np.int64)
        for run in runs
    ]
    has_test = any(len(row) for row in test_rows)
    if has_test:
        test_loss, test_bacc, test_prob = _evaluate(
            stack, best_flat, signals, targets_float, _padded_index_matrix(test_rows)
        )
    results = []
    for k, run in enumerate(runs):
        history = pd.DataFrame(histories[k], columns=list(HISTORY_COLUMNS))
        row = history.iloc[int(best_epoch[k]) - 1]
        result = GridResult(
            tags=dict(run.tags),
            history=history,
            best_epoch=int(best_epoch[k]),
            best_state_dict=stack.state_dict(best_flat, k) if keep_states else None,
            val_loss=float(row["val_loss"]),
            val_balanced_accuracy=float(row["val_balanced_accuracy"]),
            n_train_examples_seen=int(n_seen[k]),
        )
        if has_test and len(test_rows[k]):
            result.test_loss = float(test_loss[k])
            result.test_balanced_accuracy = float(test_bacc[k])
            result.test_probabilities = test_prob[k, : len(test_rows[k])].copy()
        results.append(result)
    return results


def plan_chunks(runs: Sequence[GridRun], max_samples_per_step: int) -> list[list[int]]:
    """Group run numbers into chunks trained together.

    Runs share a chunk only if they share a batch size; within a batch size they are sorted
    by number of training examples (so the models of a chunk have epochs of similar length)
    and cut into chunks of ``max(1, max_samples_per_step // batch_size)`` models.
    """
    chunks = []
    by_batch: dict[int, list[int]] = {}
    for number, run in enumerate(runs):
        by_batch.setdefault(int(run.batch_size), []).append(number)
    for batch_size in sorted(by_batch):
        members = sorted(by_batch[batch_size], key=lambda n: (-len(runs[n].train_indices), n))
        per_chunk = max(1, max_samples_per_step // batch_size)
        chunks.extend(members[start : start + per_chunk] for start in range(0, len(members), per_chunk))
    return chunks


def train_grid(
    model_factory: Callable[[], nn.Module],
    signals: torch.Tensor | np.ndarray,
    targets: torch.Tensor | np.ndarray,
    runs: Sequence[GridRun],
    *,
    epochs: int,
    weight_decay: float = 0.0,
    max_samples_per_step: int = 256,
    device: torch.device | str = "cpu",
    progress: bool = False,
    keep_states: bool = True,
    n_workers: int = 1,
    on_chunk_done: Callable[[list[GridResult]], None] | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
) -> list[GridResult]:
    """Train every run for ``epochs`` epochs, many at once; keep each run's lowest-validation-loss weights.

    Parameters
    ----------
    model_factory : builds one model (same architecture for every run); called under a
        forked, seeded RNG for fresh initialisations
    signals : array of shape (n_examples, n_leads, n_samples) (float32; any per-example shape
        the model accepts)
    targets : array of shape (n_examples,), 0/1 labels
    runs : the models to train (:class:`GridRun`)
    epochs : epochs per run (all runs)
    weight_decay : L2 penalty added to the gradient, as ``torch.optim.Adam(weight_decay=...)``
    max_samples_per_step : about how many examples one step processes over all models of a
        chunk (chunks hold ``max(1, max_samples_per_step // batch_size)`` models); a speed knob
        that does not change the results. Measured on one AVX-512 core with BeatCNN, 256
        (64 models at batch 4, 16 at 16, 8 at 32) trains 2,600 / 3,050 / 3,000 examples/s
        against 430 / 1,800 / 2,400 for the plain one-model loop; see
        ``benchmarks/vavekanand_grid.py``. On a GPU larger values may pay.
    device : torch device
    progress : show a tqdm bar per chunk
    keep_states : return each run's kept weights (``best_state_dict``); False saves memory
        in large grids (``best_state_dict`` is then None)
    n_workers : CPU only: worker processes (forked, one torch thread each), each training
        its share of the chunks; on a small CPU one single-threaded process per core beats
        one multi-threaded process (tiny operations spend their time synchronising threads).
        Results do not depend on it.
    on_chunk_done : called with each chunk's results as they finish (e.g. to log progress)
    checkpoint_dir : folder that keeps each finished run's result (one file per run, named by
        a digest of everything that determines it: data, indices, hyper-parameters, initial
        weights, architecture, epochs). Runs found there are loaded instead of trained, so an
        interrupted grid resumes where it stopped; None keeps nothing. The files hold tensors
        and numbers only (``torch.load(weights_only=True)``); an unreadable one is trained again.

    Returns
    -------
    list of :class:`GridResult`, in the order of ``runs``
    """
    device = torch.device(device)
    targets_np = np.asarray(targets.cpu() if isinstance(targets, torch.Tensor) else targets).astype(np.int64)
    if not np.isin(targets_np, (0, 1)).all():
        raise ValueError("targets must be 0/1 labels")
    signals_t = torch.as_tensor(np.asarray(signals) if not isinstance(signals, torch.Tensor) else signals)
    signals_t = signals_t.to(device=device, dtype=torch.float32)
    if len(signals_t) != len(targets_np):
        raise ValueError(f"signals ({len(signals_t)}) and targets ({len(targets_np)}) disagree in length")
    targets_float = torch.as_tensor(targets_np, dtype=torch.float32, device=device)
    _check_runs(runs, len(targets_np))
    results: list[GridResult | None] = [None] * len(runs)
    store = None
    if checkpoint_dir is not None:
        store = _Checkpoints(
            Path(checkpoint_dir),
            model_factory,
            signals_t,
            targets_np,
            epochs=epochs,
            weight_decay=weight_decay,
            keep_states=keep_states,
        )
        for number, run in enumerate(runs):
            results[number] = store.load(run)
    todo = [number for number, result in enumerate(results) if result is None]

    def finished(numbers: list[int], chunk_results: list[GridResult]) -> None:
        for number, result in zip(numbers, chunk_results):
            results[number] = result
            if store is not None:
                store.save(runs[number], result)
        if on_chunk_done is not None:
            on_chunk_done(chunk_results)

    # Long runs drive some Adam moments and activations into subnormal floats, which x86
    # CPUs handle ~100x slower: measured on real MIT-BIH pre-training, 10 epochs took 139 s
    # with flushing and did not finish in 420 s without. Flushing changes values below 1e-38 only.
    torch.set_flush_denormal(True)
    try:
        _train_grid(
            model_factory,
            signals_t,
            targets_float,
            targets_np,
            [runs[n] for n in todo],
            todo,
            finished,
            epochs=epochs,
            weight_decay=weight_decay,
            max_samples_per_step=max_samples_per_step,
            device=device,
            progress=progress,
            keep_states=keep_states,
            n_workers=n_workers,
        )
    finally:
        torch.set_flush_denormal(False)  # torch's default
    return results  # type: ignore[return-value]


def _train_grid(
    model_factory,
    signals_t,
    targets_float,
    targets_np,
    runs,
    numbers,
    finished,
    *,
    epochs,
    weight_decay,
    max_samples_per_step,
    device,
    progress,
    keep_states,
    n_workers,
):
    """Train ``runs`` (whose numbers in the caller's list are ``numbers``); ``finished(numbers, results)`` per chunk."""
    if not runs:
        return
    chunks = plan_chunks(runs, max_samples_per_step)
    options = dict(
        epochs=epochs,
        weight_decay=weight_decay,
        max_samples_per_step=max_samples_per_step,
        device=device,
        progress=progress,
        keep_states=keep_states,
    )
    if n_workers > 1 and device.type == "cpu" and len(chunks) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        global _WORKER_DATA
        # forked workers inherit the data instead of receiving a pickled copy with every chunk
        _WORKER_DATA = (model_factory, signals_t, targets_float, targets_np, options)
        try:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=n_workers, mp_context=context) as pool:
                # one task per chunk, the costliest first: idle workers take the next one
                ordered = sorted(chunks, key=lambda c: -sum(len(runs[n].train_indices) for n in c))
                futures = {
                    pool.submit(_train_chunk_in_worker, [runs[n] for n in chunk]): chunk for chunk in ordered
                }
                for future in as_completed(futures):
                    finished([numbers[n] for n in futures[future]], future.result())
        finally:
            _WORKER_DATA = None
        return
    template = initial_state_module(model_factory)  # workers build their own
    for chunk in chunks:
        chunk_results = _train_chunk(
            model_factory, template, signals_t, targets_float, targets_np, [runs[n] for n in chunk], **options
        )
        finished([numbers[n] for n in chunk], chunk_results)


_WORKER_DATA = None  # set in the parent just before forking workers (see _train_grid)


def _train_chunk_in_worker(chunk_runs):
    """Worker process body: one torch thread, subnormals flushed, one chunk."""
    model_factory, signals, targets_float, targets_np, options = _WORKER_DATA
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    template = initial_state_module(model_factory)
    return _train_chunk(model_factory, template, signals, targets_float, targets_np, chunk_runs, **options)


class _Checkpoints:
    """Finished runs on disk, one file per run, named by a digest of what determines the result.

    Files are written with ``torch.save`` and read with ``torch.load(weights_only=True)``:
    they hold tensors, numbers and strings only, so a shared cache cannot execute code
    (pickle could). An unreadable file counts as missing (a warning names it) and the run
    is trained again.
    """

    VERSION = 2  # bump when training changes in a way that changes results (2: torch files, not pickle)

    def __init__(
        self,
        folder: Path,
        model_factory,
        signals: torch.Tensor,
        targets_np: np.ndarray,
        *,
        epochs: int,
        weight_decay: float,
        keep_states: bool,
    ):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        digest.update(signals.detach().cpu().contiguous().numpy().tobytes())
        digest.update(targets_np.astype(np.int64).tobytes())
        self.common = json.dumps(
            {
                "version": self.VERSION,
                "data": digest.hexdigest(),
                "architecture": repr(initial_state_module(model_factory)),
                "epochs": int(epochs),
                "weight_decay": float(weight_decay),
                "keep_states": bool(keep_states),
            },
            sort_keys=True,
        )

    def path(self, run: GridRun) -> Path:
        digest = hashlib.sha256(self.common.encode())
        digest.update(
            json.dumps(
                [run.lr, run.batch_size, run.weighted_sampling, run.seed, repr(sorted(run.tags.items()))]
            ).encode()
        )
        for indices in (run.train_indices, run.val_indices, run.test_indices):
            digest.update(
                b"none" if indices is None else np.asarray(indices, dtype=np.int64).tobytes() + b"|"
            )
        if run.init_state is not None:
            for name in sorted(run.init_state):
                digest.update(
                    name.encode() + run.init_state[name].detach().cpu().contiguous().numpy().tobytes()
                )
        return self.folder / f"run-{digest.hexdigest()[:40]}.pt"

    def load(self, run: GridRun) -> GridResult | None:
        # truncated by a full disk, written by another version, not ours: a warning, and trained again
        return _cache.read_entry(
            self.path(run),
            lambda path: result_from_payload(torch.load(path, map_location="cpu", weights_only=True)),
            what="grid checkpoint",
        )

    def save(self, run: GridRun, result: GridResult) -> None:
        path = self.path(run)
        temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        torch.save(result_payload(result), temporary)
        os.replace(temporary, path)  # atomic: a killed run leaves no half-written checkpoint


def result_payload(result: GridResult) -> dict:
    """``result`` as plain tensors, numbers and strings (what ``torch.load(weights_only=True)`` accepts)."""
    history = result.history
    return {
        "tags_json": json.dumps(result.tags, sort_keys=True),
        "history_columns": list(history.columns),
        "history": {
            column: torch.as_tensor(history[column].to_numpy(dtype=np.float64)) for column in history.columns
        },
        "best_epoch": int(result.best_epoch),
        "best_state_dict": None if result.best_state_dict is None else dict(result.best_state_dict),
        "numbers": [
            float(result.val_loss),
            float(result.val_balanced_accuracy),
            float(result.test_loss),
            float(result.test_balanced_accuracy),
        ],
        "test_probabilities": None
        if result.test_probabilities is None
        else torch.as_tensor(result.test_probabilities),
        "n_train_examples_seen": int(result.n_train_examples_seen),
    }


def result_from_payload(payload: dict) -> GridResult:
    """The inverse of :func:`result_payload`."""
    history = pd.DataFrame(
        {column: payload["history"][column].numpy() for column in payload["history_columns"]}
    )
    if "epoch" in history:
        history["epoch"] = history["epoch"].astype(np.int64)
    val_loss, val_bacc, test_loss, test_bacc = payload["numbers"]
    probabilities = payload["test_probabilities"]
    return GridResult(
        tags=json.loads(payload["tags_json"]),
        history=history,
        best_epoch=int(payload["best_epoch"]),
        best_state_dict=payload["best_state_dict"],
        val_loss=val_loss,
        val_balanced_accuracy=val_bacc,
        test_loss=test_loss,
        test_balanced_accuracy=test_bacc,
        test_probabilities=None if probabilities is None else probabilities.numpy(),
        n_train_examples_seen=int(payload["n_train_examples_seen"]),
    )


def initial_state_module(model_factory: Callable[[], nn.Module]) -> nn.Module:
    """One model from ``model_factory`` built without touching the global RNG (used as an architecture template)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return model_factory()


def train_single(
    model_factory: Callable[[], nn.Module],
    signals: torch.Tensor | np.ndarray,
    targets: torch.Tensor | np.ndarray,
    run: GridRun,
    *,
    epochs: int,
    weight_decay: float = 0.0,
    device: torch.device | str = "cpu",
) -> GridResult:
    """The plain loop: one ``nn.Module``, ``torch.optim.Adam``, the same data order as :func:`train_grid`.

    The reference that :func:`train_grid` must match, and the baseline of
    ``benchmarks/vavekanand_grid.py``. Same arguments and result as :func:`train_grid` for one run.
    """
    device = torch.device(device)
    targets_np = np.asarray(targets.cpu() if isinstance(targets, torch.Tensor) else targets).astype(np.int64)
    signals_t = torch.as_tensor(np.asarray(signals) if not isinstance(signals, torch.Tensor) else signals)
    signals_t = signals_t.to(device=device, dtype=torch.float32)
    targets_float = torch.as_tensor(targets_np, dtype=torch.float32, device=device)
    _check_runs([run], len(targets_np))
    model = initial_state_module(model_factory).to(device)
    state = run.init_state if run.init_state is not None else initial_state(model_factory, run.seed)
    model.load_state_dict(state)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=run.lr, betas=ADAM_BETAS, eps=ADAM_EPS, weight_decay=weight_decay
    )
    train_indices = np.asarray(run.train_indices)
    torch.set_flush_denormal(True)  # as train_grid (a fair baseline); restored to torch's default below
    try:
        return _train_single_loop(
            model, optimizer, run, signals_t, targets_float, targets_np, train_indices, epochs, device
        )
    finally:
        torch.set_flush_denormal(False)


def _train_single_loop(
    model, optimizer, run, signals_t, targets_float, targets_np, train_indices, epochs, device
):
    history, best_loss, best_epoch, best_state, n_seen = [], np.inf, 0, None, 0

    def evaluate(indices):
        model.eval()
        with torch.no_grad():
            rows = torch.as_tensor(np.asarray(indices), device=device)
            logits = model(signals_t[rows]).reshape(-1)
            y = targets_float[rows]
            loss = F.binary_cross_entropy_with_logits(logits, y).item()
            predicted = logits > 0
            bacc = balanced_accuracy_from_counts(
                (predicted & (y > 0.5)).sum(),
                (y > 0.5).sum(),
                (~predicted & (y < 0.5)).sum(),
                (y < 0.5).sum(),
            ).item()
        model.train()
        return loss, bacc, torch.sigmoid(logits).cpu().numpy()

    for epoch in range(1, epochs + 1):
        order = train_indices[
            epoch_order(
                targets_np[train_indices], weighted_sampling=run.weighted_sampling, seed=run.seed, epoch=epoch
            )
        ]
        loss_sum, counts = 0.0, np.zeros(4)
        for start in range(0, len(order), run.batch_size):
            rows = torch.as_tensor(order[start : start + run.batch_size], device=device)
            y = targets_float[rows]
            logits = model(signals_t[rows]).reshape(-1)
            loss = F.binary_cross_entropy_with_logits(logits, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(rows)
            predicted = (logits > 0).detach()
            counts += [
                (predicted & (y > 0.5)).sum().item(),
                (y > 0.5).sum().item(),
                (~predicted & (y < 0.5)).sum().item(),
                (y < 0.5).sum().item(),
            ]
        n_seen += len(order)
        val_loss, val_bacc, _ = evaluate(run.val_indices)
        train_bacc = float(balanced_accuracy_from_counts(*counts))
        history.append((epoch, loss_sum / len(order), train_bacc, val_loss, val_bacc))
        if val_loss < best_loss:
            best_loss, best_epoch = val_loss, epoch
            best_state = {name: value.detach().cpu().clone() for name, value in model.state_dict().items()}
    history_df = pd.DataFrame(history, columns=list(HISTORY_COLUMNS))
    row = history_df.iloc[best_epoch - 1]
    result = GridResult(
        tags=dict(run.tags),
        history=history_df,
        best_epoch=best_epoch,
        best_state_dict=best_state,
        val_loss=float(row["val_loss"]),
        val_balanced_accuracy=float(row["val_balanced_accuracy"]),
        n_train_examples_seen=n_seen,
    )
    if run.test_indices is not None and len(run.test_indices):
        model.load_state_dict(best_state)
        result.test_loss, result.test_balanced_accuracy, result.test_probabilities = evaluate(
            run.test_indices
        )
    return result
