"""Evaluation metrics: thin scikit-learn wrappers, plus Jang et al.'s learning curve index.

Convention (as in scikit-learn): a ``*_score`` is higher-is-better and a ``*_loss`` or
``*_error`` is lower-is-better. The short names here follow that rule by meaning:
:func:`accuracy`, :func:`balanced_accuracy`, :func:`f1_weighted`, :func:`f1_macro`,
:func:`roc_auc` and :func:`learning_curve_index` are scores (higher is better);
:func:`mae_per_target` is an error (lower is better).

Label layouts
-------------
single-label
    ``y_true`` of shape ``(n_examples,)`` with integer class ids; ``y_pred`` either the
    predicted class ids ``(n_examples,)`` or per-class scores ``(n_examples, n_classes)``
    (probabilities or logits), reduced with ``argmax``.
multi-label
    ``y_true`` of shape ``(n_examples, n_classes)`` with 0/1 entries; ``y_pred`` per-class
    probabilities of the same shape, turned into 0/1 with ``threshold`` (scalar or one per
    class; a probability ``>= threshold`` counts as positive).

Every function is pure (arrays in, a number or dict out) and raises ``ValueError`` naming
the fault when its input is malformed.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from sklearn import metrics as skm

__all__ = [
    "accuracy",
    "balanced_accuracy",
    "f1_weighted",
    "f1_macro",
    "roc_auc",
    "mae_per_target",
    "learning_curve_index",
    "learning_curve_never_drops",
    "task_metrics",
    "METRICS_BY_TASK",
]

#: Default validation metrics per training task (names as they appear in a history).
METRICS_BY_TASK: dict[str, tuple[str, ...]] = {
    "single_label": ("accuracy", "balanced_accuracy", "f1_weighted", "f1_macro"),
    "multi_label": ("f1_weighted", "f1_macro", "roc_auc_macro"),
    "regression": ("mae_<target>", "mae_mean"),
    "reconstruction": (),
}


# --------------------------------------------------------------------------- validation


def _as_finite_array(values, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype == object:
        raise ValueError(f"{name} must be numeric, got an object array")
    if array.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.issubdtype(array.dtype, np.number) and array.dtype != bool:
        raise ValueError(f"{name} must be numeric, got dtype {array.dtype}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _check_threshold(threshold, n_classes: int) -> np.ndarray:
    threshold_array = np.asarray(threshold, dtype=np.float64)
    if threshold_array.ndim == 0:
        threshold_array = np.full(n_classes, float(threshold_array))
    if threshold_array.shape != (n_classes,):
        raise ValueError(
            f"threshold must be a scalar or have shape ({n_classes},) (one per class), got shape {threshold_array.shape}"
        )
    if np.any(~np.isfinite(threshold_array)) or np.any(threshold_array < 0) or np.any(threshold_array > 1):
        raise ValueError(f"threshold must lie in [0, 1], got {threshold_array.tolist()}")
    return threshold_array


def _check_multi_hot(y_true: np.ndarray) -> np.ndarray:
    if not np.all((y_true == 0) | (y_true == 1)):
        raise ValueError("multi-label y_true must contain only 0 and 1")
    return y_true.astype(np.int64)


def _class_labels(y_true, y_pred, *, threshold) -> tuple[np.ndarray, np.ndarray, bool]:
    """Validated hard labels ``(y_true, y_pred, is_multi_label)`` for the classification scores."""
    y_true = _as_finite_array(y_true, "y_true")
    y_pred = _as_finite_array(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true and y_pred disagree in length: {len(y_true)} != {len(y_pred)}")
    if y_true.ndim == 2:  # multi-label
        if y_pred.shape != y_true.shape:
            raise ValueError(
                f"multi-label y_pred must have the shape of y_true {y_true.shape}, got {y_pred.shape}"
            )
        y_true = _check_multi_hot(y_true)
        thresholds = _check_threshold(threshold, y_true.shape[1])
        return y_true, (y_pred >= thresholds).astype(np.int64), True
    if y_true.ndim != 1:
        raise ValueError(
            f"y_true must have shape (n_examples,) or (n_examples, n_classes), got {y_true.shape}"
        )
    if np.any(y_true != np.round(y_true)) or np.any(y_true < 0):
        raise ValueError("single-label y_true must hold non-negative integer class ids")
    if y_pred.ndim == 2:
        y_pred = np.argmax(y_pred, axis=1)
    elif y_pred.ndim != 1:
        raise ValueError(
            f"y_pred must have shape (n_examples,) or (n_examples, n_classes), got {y_pred.shape}"
        )
    elif np.any(y_pred != np.round(y_pred)):
        raise ValueError(
            "single-label y_pred must hold integer class ids (or pass per-class scores of shape (n, k))"
        )
    return y_true.astype(np.int64), y_pred.astype(np.int64), False


# --------------------------------------------------------------------------- classification


def accuracy(y_true, y_pred, *, threshold=0.5) -> float:
    """Fraction of correctly classified examples (:func:`sklearn.metrics.accuracy_score`).

    Parameters
    ----------
    y_true : array-like of shape (n_examples,) or (n_examples, n_classes)
        Class ids (single-label) or 0/1 indicators (multi-label).
    y_pred : array-like of shape (n_examples,) or (n_examples, n_classes)
        Class ids or per-class scores (single-label), or probabilities (multi-label).
    threshold : float or array-like of shape (n_classes,), default=0.5
        Multi-label only: a probability ``>= threshold`` is a positive.

    Returns
    -------
    float in [0, 1]. For multi-label input this is the *subset* accuracy: an example counts
    as correct only when all of its labels are right.
    """
    y_true, y_pred, _ = _class_labels(y_true, y_pred, threshold=threshold)
    return float(skm.accuracy_score(y_true, y_pred))


def balanced_accuracy(y_true, y_pred, *, threshold=0.5) -> float:
    """Mean per-class recall (:func:`sklearn.metrics.balanced_accuracy_score`).

    Parameters are as in :func:`accuracy`.

    Returns
    -------
    float in [0, 1]. Single-label: the mean recall over the classes present in ``y_true``.
    Multi-label (scikit-learn has no multi-label form): the mean over classes of each
    class's binary balanced accuracy, ``(sensitivity + specificity) / 2``; a class whose
    column in ``y_true`` is constant contributes its one defined rate.
    """
    y_true, y_pred, multi_label = _class_labels(y_true, y_pred, threshold=threshold)
    if not multi_label:
        with warnings.catch_warnings():
            # predicted classes absent from y_true are expected (small validation sets) and documented
            warnings.filterwarnings(
                "ignore", message="y_pred contains classes not in y_true", category=UserWarning
            )
            return float(skm.balanced_accuracy_score(y_true, y_pred))
    per_class = [
        skm.balanced_accuracy_score(y_true[:, column], y_pred[:, column])
        if len(np.unique(y_true[:, column])) == 2
        else skm.accuracy_score(y_true[:, column], y_pred[:, column])
        for column in range(y_true.shape[1])
    ]
    return float(np.mean(per_class))


def f1_weighted(y_true, y_pred, *, threshold=0.5) -> float:
    """Support-weighted mean of the per-class F1 scores (``f1_score(average="weighted")``).

    This is Jang et al.'s "weighted F1-score": ``sum_i w_i * F1_i`` with ``w_i`` the share of
    class ``i`` among all true labels. Classes with no predicted and no true examples score
    0 (``zero_division=0``). Parameters are as in :func:`accuracy`.

    Returns
    -------
    float in [0, 1]
    """
    y_true, y_pred, _ = _class_labels(y_true, y_pred, threshold=threshold)
    return float(skm.f1_score(y_true, y_pred, average="weighted", zero_division=0))


def f1_macro(y_true, y_pred, *, threshold=0.5) -> float:
    """Unweighted mean of the per-class F1 scores (``f1_score(average="macro")``).

    Single-label: the classes are those in ``y_true`` or ``y_pred``; multi-label: every
    column. ``zero_division=0``. Parameters are as in :func:`accuracy`.

    Returns
    -------
    float in [0, 1]
    """
    y_true, y_pred, _ = _class_labels(y_true, y_pred, threshold=threshold)
    return float(skm.f1_score(y_true, y_pred, average="macro", zero_division=0))


def roc_auc(y_true, y_score) -> float:
    """Area under the ROC curve: binary, or macro-averaged one-vs-rest over classes.

    Parameters
    ----------
    y_true : array-like of shape (n_examples,) or (n_examples, n_classes)
        Binary 0/1 labels, single-label class ids, or multi-label 0/1 indicators.
    y_score : array-like
        Binary: ``(n_examples,)`` score of class 1 (or ``(n_examples, 2)``, column 1 is
        used). Single-label with k > 2 classes: ``(n_examples, k)`` scores, one-vs-rest.
        Multi-label: ``(n_examples, n_classes)``.

    Returns
    -------
    float in [0, 1], the unweighted mean of the per-class AUCs
    (:func:`sklearn.metrics.roc_auc_score` per column). A class whose column of ``y_true``
    holds only one value has no defined AUC and is left out of the mean; when no class is
    left (e.g. a tiny validation set with a single class) the result is ``nan``.
    """
    y_true = _as_finite_array(y_true, "y_true")
    y_score = _as_finite_array(y_score, "y_score").astype(np.float64)
    if len(y_true) != len(y_score):
        raise ValueError(f"y_true and y_score disagree in length: {len(y_true)} != {len(y_score)}")
    if y_true.ndim == 1:
        if np.any(y_true != np.round(y_true)) or np.any(y_true < 0):
            raise ValueError("y_true must hold non-negative integer class ids")
        if y_score.ndim == 1:
            if np.any(~np.isin(y_true, (0, 1))):
                raise ValueError("with a 1-D y_score, y_true must be binary 0/1")
            y_true = y_true.reshape(-1, 1)
            y_score = y_score.reshape(-1, 1)
        elif y_score.ndim == 2:
            n_classes = y_score.shape[1]
            if y_true.max() >= n_classes:
                raise ValueError(
                    f"y_true holds class id {int(y_true.max())} but y_score has {n_classes} columns"
                )
            if n_classes == 2:
                y_true, y_score = y_true.reshape(-1, 1), y_score[:, 1:]
            else:
                y_true = np.eye(n_classes, dtype=np.int64)[y_true.astype(np.int64)]
        else:
            raise ValueError(f"y_score must be 1-D or 2-D, got shape {y_score.shape}")
    elif y_true.ndim == 2:
        if y_score.shape != y_true.shape:
            raise ValueError(
                f"multi-label y_score must have the shape of y_true {y_true.shape}, got {y_score.shape}"
            )
        y_true = _check_multi_hot(y_true)
    else:
        raise ValueError(f"y_true must be 1-D or 2-D, got shape {y_true.shape}")
    per_class = [
        skm.roc_auc_score(y_true[:, column], y_score[:, column])
        for column in range(y_true.shape[1])
        if len(np.unique(y_true[:, column])) == 2
    ]
    return float(np.mean(per_class)) if per_class else float("nan")


# --------------------------------------------------------------------------- regression


def mae_per_target(y_true, y_pred, *, target_names: Sequence[str] | None = None) -> dict[str, float]:
    """Mean absolute error of each regression target (``mean_absolute_error(multioutput="raw_values")``).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_examples,) or (n_examples, n_targets), target units
    target_names : sequence of n_targets str, optional
        Keys of the result (e.g. ``("qrs_ms", "qt_ms")``); default ``t0, t1, ...``.

    Returns
    -------
    dict target name -> MAE in the target's unit (lower is better).
    """
    y_true = _as_finite_array(y_true, "y_true").astype(np.float64)
    y_pred = _as_finite_array(y_pred, "y_pred").astype(np.float64)
    if y_true.ndim == 1:
        y_true = y_true.reshape(-1, 1)
    if y_pred.ndim == 1:
        y_pred = y_pred.reshape(-1, 1)
    if y_true.ndim != 2 or y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must have one shape (n_examples, n_targets), got {y_true.shape} and {y_pred.shape}"
        )
    n_targets = y_true.shape[1]
    names = [f"t{index}" for index in range(n_targets)] if target_names is None else list(target_names)
    if len(names) != n_targets:
        raise ValueError(f"target_names has {len(names)} names for {n_targets} targets")
    if len(set(names)) != len(names):
        raise ValueError(f"target_names must be unique, got {names}")
    errors = skm.mean_absolute_error(y_true, y_pred, multioutput="raw_values")
    return {name: float(error) for name, error in zip(names, errors)}


# --------------------------------------------------------------------------- learning curves


def learning_curve_index(curve, *, epsilon: float = float(np.finfo(np.float64).eps)) -> float:
    """Jang et al.'s (2021) learning curve index (LCI) of one per-epoch score curve.

    The paper's definition (Section II.4.3, "Evaluation of learning curves"), quoted::

        LCI = ( mean pos / (mean neg + ε) ) * best f1-score
        where
        pos: positive change in the F1-score of the test dataset for each epoch;
        neg: negative change in the F1-score of the test dataset for each epoch;
        ε: the smallest value for avoiding infinity when the mean negative value is zero.

    Reading used here (the paper gives no code): the changes are the epoch-to-epoch
    differences ``d_t = curve[t] - curve[t-1]`` for ``t = 1 .. n_epochs-1``; "mean pos" is
    the mean of the positive ``d_t`` (0 if there are none); "mean neg" is the mean
    *magnitude* ``|d_t|`` of the negative ``d_t`` (0 if there are none; the paper's Figure
    3A draws them as arrows and LCIs are positive, so magnitudes are meant); changes of
    exactly 0 belong to neither; "best f1-score" is ``max(curve)``. ``ε`` defaults to the
    double-precision machine epsilon, so a curve that never drops gets a very large LCI.

    Parameters
    ----------
    curve : array-like of shape (n_epochs,)
        The per-epoch score (the paper: test-set weighted F1), ``n_epochs >= 2``.
    epsilon : float, default=machine epsilon
        The ε of the definition; must be > 0.

    Returns
    -------
    float >= 0 (higher is better: steady gains, rare drops, high final score).

    Examples
    --------
    >>> round(learning_curve_index([0.5, 0.7, 0.6, 0.8]), 6)   # pos 0.2, 0.2; neg 0.1; best 0.8
    1.6
    """
    values = _as_finite_array(curve, "curve").astype(np.float64)
    if values.ndim != 1:
        raise ValueError(f"curve must be 1-D (one score per epoch), got shape {values.shape}")
    if len(values) < 2:
        raise ValueError(f"curve needs at least 2 epochs to have changes, got {len(values)}")
    if not epsilon > 0:
        raise ValueError(f"epsilon must be > 0, got {epsilon}")
    changes = np.diff(values)
    positive = changes[changes > 0]
    negative = -changes[changes < 0]
    mean_positive = float(positive.mean()) if positive.size else 0.0
    mean_negative = float(negative.mean()) if negative.size else 0.0
    return mean_positive / (mean_negative + epsilon) * float(values.max())


def learning_curve_never_drops(curve) -> bool:
    """Whether ``curve`` has no epoch-to-epoch drop, so :func:`learning_curve_index` divides by ε alone.

    Such a curve's LCI is ``mean pos / ε * best`` (about 1e13-1e15 for F1 gains of 0.01-0.1 with
    the default ε; 0 for a flat curve): an artefact of ε, not a measure of stability. Flag these
    trials and summarise LCIs with medians and rank tests beside the mean ± SD.

    >>> learning_curve_never_drops([0.2, 0.5, 0.5, 0.6]), learning_curve_never_drops([0.2, 0.5, 0.4])
    (True, False)
    """
    values = _as_finite_array(curve, "curve").astype(np.float64)
    if values.ndim != 1 or len(values) < 2:
        raise ValueError(f"curve must be 1-D with at least 2 epochs, got shape {values.shape}")
    return bool(np.all(np.diff(values) >= 0))


# --------------------------------------------------------------------------- per task


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * logits))  # overflow-free logistic function


def task_metrics(
    task: str,
    targets,
    outputs,
    *,
    threshold=0.5,
    target_names: Sequence[str] | None = None,
) -> dict[str, float]:
    """The default metrics of a training task, from a model's raw outputs.

    Parameters
    ----------
    task : {"single_label", "multi_label", "regression", "reconstruction"}
    targets : ndarray
        ``(n,)`` class ids, ``(n, n_classes)`` 0/1, or ``(n, n_targets)`` values.
    outputs : ndarray
        Raw model outputs: logits ``(n, n_classes)`` for the classification tasks (multi-label
        logits go through a sigmoid before ``threshold``), predictions ``(n, n_targets)`` for
        regression. Ignored for reconstruction.
    threshold : float or array-like of shape (n_classes,), default=0.5
        Multi-label probability threshold.
    target_names : sequence of str, optional
        Regression target names (keys ``mae_<name>``).

    Returns
    -------
    dict metric name -> value; the names are :data:`METRICS_BY_TASK`'s.
    ``reconstruction`` has no metric beyond its loss and returns ``{}``.
    """
    if task == "single_label":
        return {
            "accuracy": accuracy(targets, outputs),
            "balanced_accuracy": balanced_accuracy(targets, outputs),
            "f1_weighted": f1_weighted(targets, outputs),
            "f1_macro": f1_macro(targets, outputs),
        }
    if task == "multi_label":
        probabilities = _sigmoid(_as_finite_array(outputs, "outputs").astype(np.float64))
        return {
            "f1_weighted": f1_weighted(targets, probabilities, threshold=threshold),
            "f1_macro": f1_macro(targets, probabilities, threshold=threshold),
            "roc_auc_macro": roc_auc(targets, probabilities),
        }
    if task == "regression":
        errors = mae_per_target(targets, outputs, target_names=target_names)
        result = {f"mae_{name}": value for name, value in errors.items()}
        result["mae_mean"] = float(np.mean(list(errors.values())))
        return result
    if task == "reconstruction":
        return {}
    raise ValueError(f"task must be one of {tuple(METRICS_BY_TASK)}, got {task!r}")


def confusion_table(targets: np.ndarray, predicted: np.ndarray, class_names: Sequence[str]):
    """Confusion counts: rows are the **true** classes, columns the **predicted** ones (labelled so).

    Returns
    -------
    DataFrame of shape (n_classes, n_classes), index ``true <name>``, columns ``predicted <name>``.
    """
    import pandas as pd

    counts = skm.confusion_matrix(targets, predicted, labels=np.arange(len(class_names)))
    return pd.DataFrame(
        counts,
        index=pd.Index([f"true {c}" for c in class_names], name="true class"),
        columns=pd.Index([f"predicted {c}" for c in class_names], name="predicted class"),
    )
