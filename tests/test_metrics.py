"""ecglib.metrics: hand-computed examples, Jang's LCI, and input validation."""

import math

import numpy as np
import pytest

from ecglib import metrics

# --------------------------------------------------------------------------- LCI


@pytest.mark.parametrize(
    ("curve", "expected"),
    [
        # changes +0.2, -0.1, +0.2 -> mean pos 0.2, mean |neg| 0.1, best 0.8 -> 0.2 / 0.1 * 0.8 = 1.6
        ([0.5, 0.7, 0.6, 0.8], 1.6),
        # changes +0.2, -0.3, +0.2, +0.2, -0.05 -> mean pos 0.6/3 = 0.2, mean |neg| 0.35/2 = 0.175,
        # best 0.5 -> 0.2 / 0.175 * 0.5 = 0.571428...  (averaging over *all* changes instead would
        # give 0.6/0.35*0.5 = 0.857, so this curve tells the two readings apart)
        ([0.2, 0.4, 0.1, 0.3, 0.5, 0.45], 0.2 / 0.175 * 0.5),
        # changes 0, +0.1, -0.2: the zero change is neither positive nor negative ->
        # 0.1 / 0.2 * 0.6 = 0.3  (counting the 0 as a positive change would give 0.15)
        ([0.5, 0.5, 0.6, 0.4], 0.3),
        # only a drop: no positive change -> mean pos 0 -> LCI 0
        ([0.9, 0.8], 0.0),
    ],
)
def test_learning_curve_index_matches_hand_computation(curve, expected):
    assert metrics.learning_curve_index(curve) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_learning_curve_index_uses_epsilon_when_nothing_drops():
    # changes +0.2, +0.3 -> mean pos 0.25, mean neg 0 -> 0.25 / (0 + 0.01) * 0.6 = 15
    assert metrics.learning_curve_index([0.1, 0.3, 0.6], epsilon=0.01) == pytest.approx(15.0)
    # default epsilon is machine epsilon: huge but finite
    value = metrics.learning_curve_index([0.1, 0.3, 0.6])
    assert math.isfinite(value) and value == pytest.approx(0.25 / np.finfo(float).eps * 0.6)


def test_learning_curve_index_prefers_steady_curve():
    steady = [0.3, 0.4, 0.5, 0.55, 0.52, 0.6]
    jumpy = [0.3, 0.6, 0.2, 0.6, 0.3, 0.6]
    assert metrics.learning_curve_index(steady) > metrics.learning_curve_index(jumpy)


@pytest.mark.parametrize(
    ("curve", "message"),
    [([0.5], "at least 2"), ([[0.1, 0.2]], "1-D"), ([0.1, float("nan")], "NaN"), ([], "empty")],
)
def test_learning_curve_index_rejects_bad_curves(curve, message):
    with pytest.raises(ValueError, match=message):
        metrics.learning_curve_index(curve)


# --------------------------------------------------------------------------- multi-label F1

Y_TRUE_MULTI = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [1, 0, 0]])
PROBABILITIES = np.array([[0.9, 0.2, 0.4], [0.6, 0.7, 0.1], [0.8, 0.3, 0.2], [0.3, 0.1, 0.55]])
# at 0.5 the predictions are [[1,0,0],[1,1,0],[1,0,0],[0,0,1]]:
#   class 0: TP 2, FP 1, FN 1 -> F1 2/3, support 3
#   class 1: TP 1, FP 0, FN 1 -> P 1, R 1/2 -> F1 2/3, support 2
#   class 2: TP 0, FP 1, FN 1 -> F1 0, support 1
# weighted = (3 * 2/3 + 2 * 2/3 + 1 * 0) / 6 = 5/9; macro = (2/3 + 2/3 + 0) / 3 = 4/9


def test_f1_weighted_multi_label_hand_example():
    assert metrics.f1_weighted(Y_TRUE_MULTI, PROBABILITIES) == pytest.approx(5 / 9)
    assert metrics.f1_macro(Y_TRUE_MULTI, PROBABILITIES) == pytest.approx(4 / 9)


def test_f1_weighted_multi_label_per_class_threshold():
    # class 2 at 0.35: predictions [1, 0, 0, 1] -> TP 1, FP 1, FN 0 -> F1 2/3
    # weighted = (3 * 2/3 + 2 * 2/3 + 1 * 2/3) / 6 = 2/3
    assert metrics.f1_weighted(Y_TRUE_MULTI, PROBABILITIES, threshold=[0.5, 0.5, 0.35]) == pytest.approx(
        2 / 3
    )


def test_multi_label_accuracy_is_subset_accuracy_and_balanced_is_class_mean():
    # exact-match rows at 0.5: row0 [1,0,0] vs [1,0,1] no; row1 [1,1,0] vs [0,1,0] no;
    # row2 [1,0,0] vs [1,1,0] no; row3 [0,0,1] vs [1,0,0] no -> 0
    assert metrics.accuracy(Y_TRUE_MULTI, PROBABILITIES) == 0.0
    # per class (sens + spec) / 2: class0 (2/3 + 0/1)/2 = 1/3; class1 (1/2 + 2/2)/2 = 3/4;
    # class2 (0/1 + 2/3)/2 = 1/3 -> mean = (1/3 + 3/4 + 1/3) / 3 = 17/36
    assert metrics.balanced_accuracy(Y_TRUE_MULTI, PROBABILITIES) == pytest.approx(17 / 36)


# --------------------------------------------------------------------------- single-label


def test_single_label_metrics_from_ids_and_scores():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 1, 0])
    # recalls: class0 2/3, class1 1, class2 0 -> balanced 5/9; accuracy 4/6
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(4 / 6)
    assert metrics.balanced_accuracy(y_true, y_pred) == pytest.approx(5 / 9)
    # F1: class0 P 2/3 R 2/3 -> 2/3; class1 P 2/3 R 1 -> 0.8; class2 0
    # weighted = (3 * 2/3 + 2 * 0.8 + 0) / 6 = 0.6; macro = (2/3 + 0.8) / 3
    assert metrics.f1_weighted(y_true, y_pred) == pytest.approx(0.6)
    assert metrics.f1_macro(y_true, y_pred) == pytest.approx((2 / 3 + 0.8) / 3)
    scores = np.eye(3)[y_pred] * 2.0 - 1.0  # logits whose argmax is y_pred
    assert metrics.f1_weighted(y_true, scores) == pytest.approx(0.6)


def test_roc_auc_binary_and_multi_label():
    # binary: pairs (pos, neg): 0.8>0.1, 0.8>0.4, 0.35>0.1, 0.35<0.4 -> 3/4
    assert metrics.roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert metrics.roc_auc(
        [0, 0, 1, 1], np.array([[0.9, 0.1], [0.6, 0.4], [0.65, 0.35], [0.2, 0.8]])
    ) == pytest.approx(0.75)
    y_true = np.array([[0, 1], [0, 1], [1, 1], [1, 1]])
    y_score = np.array([[0.1, 0.5], [0.4, 0.2], [0.35, 0.3], [0.8, 0.9]])
    # column 1 is constant (no AUC) and is left out; column 0 is the binary case above
    assert metrics.roc_auc(y_true, y_score) == pytest.approx(0.75)
    assert math.isnan(metrics.roc_auc([1, 1, 1], [0.2, 0.3, 0.4]))


def test_mae_per_target_names_and_values():
    y_true = np.array([[100.0, 400.0], [90.0, 380.0]])
    y_pred = np.array([[110.0, 400.0], [80.0, 370.0]])
    assert metrics.mae_per_target(y_true, y_pred, target_names=("qrs_ms", "qt_ms")) == {
        "qrs_ms": pytest.approx(10.0),
        "qt_ms": pytest.approx(5.0),
    }
    assert metrics.mae_per_target([1.0, 2.0], [2.0, 2.0]) == {"t0": pytest.approx(0.5)}


def test_task_metrics_names():
    logits = np.array([[2.0, -1.0], [-1.0, 3.0], [0.5, 0.0]])
    assert set(metrics.task_metrics("single_label", np.array([0, 1, 1]), logits)) == {
        "accuracy",
        "balanced_accuracy",
        "f1_weighted",
        "f1_macro",
    }
    multi = metrics.task_metrics("multi_label", np.array([[1, 0], [0, 1], [1, 1]]), logits)
    # sigmoid(logit) >= 0.5 iff logit >= 0: predictions [[1,0],[0,1],[1,1]] -> perfect
    assert multi["f1_weighted"] == pytest.approx(1.0) and set(multi) == {
        "f1_weighted",
        "f1_macro",
        "roc_auc_macro",
    }
    regression = metrics.task_metrics(
        "regression", np.zeros((2, 2)), np.ones((2, 2)), target_names=("a", "b")
    )
    assert regression == {"mae_a": 1.0, "mae_b": 1.0, "mae_mean": 1.0}
    assert metrics.task_metrics("reconstruction", None, None) == {}


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: metrics.accuracy([0, 1, 1], [0, 1]), "disagree in length"),
        (lambda: metrics.f1_weighted([[0, 2]], [[0.1, 0.9]]), "only 0 and 1"),
        (lambda: metrics.f1_weighted([[0, 1]], [[0.1, 0.9, 0.3]]), "shape of y_true"),
        (lambda: metrics.f1_macro([[0, 1]], [[0.1, 0.9]], threshold=[0.5]), "threshold"),
        (lambda: metrics.f1_macro([[0, 1]], [[0.1, 0.9]], threshold=1.5), r"\[0, 1\]"),
        (lambda: metrics.accuracy([0, 1], [0.2, 0.7]), "integer class ids"),
        (lambda: metrics.accuracy([0, -1], [0, 1]), "non-negative integer"),
        (lambda: metrics.balanced_accuracy([0, 1], [0, float("nan")]), "NaN"),
        (lambda: metrics.roc_auc([0, 2], [0.1, 0.2]), "binary"),
        (
            lambda: metrics.mae_per_target([[1.0, 2.0]], [[1.0, 2.0]], target_names=["a"]),
            "1 names for 2 targets",
        ),
        (lambda: metrics.task_metrics("segmentation", [0], [[0.0]]), "task must be one of"),
    ],
)
def test_bad_input_raises_value_error_naming_the_fault(call, message):
    with pytest.raises(ValueError, match=message):
        call()
