"""Train / validation / test splits: patient-wise by default, never leaking a patient across sets.

- :func:`patient_split` groups examples by patient and stratifies on the labels:
  single-label targets with scikit-learn's ``StratifiedGroupKFold`` (one fold becomes the
  held-out set, so a fraction is rounded to ``1/k``), multi-label targets with iterative
  stratification (``iterstrat.MultilabelStratifiedShuffleSplit``, Sechidis et al. 2011)
  applied to patients, each patient carrying the union of its examples' labels; without
  labels, ``GroupShuffleSplit``.
- :func:`ptbxl_folds` gives PTB-XL's recommended folds (``strat_fold`` 1-8 train, 9 val, 10 test).
- :func:`stratified_split` / :func:`within_patient_split` split one patient's examples,
  stratified by label (Vavekanand et al.: 80/20 train+val/test, then 80/20 train/val).
- :func:`assert_patient_disjoint` raises, naming the patients, when index sets share one.

Splits are index arrays into the examples; ``Split.subsets(labelled_set)`` applies them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold, train_test_split

from ecglib.errors import PatientOverlapError as PatientOverlapError  # re-exported
from ecglib.seeds import derive_seed

PTBXL_TRAIN_FOLDS = (1, 2, 3, 4, 5, 6, 7, 8)
PTBXL_VAL_FOLD = 9
PTBXL_TEST_FOLD = 10


@dataclass(frozen=True)
class Split:
    """Index arrays (int64, sorted) of the training, validation and test examples."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def subsets(self, examples):
        """``(examples.subset(train), examples.subset(val), examples.subset(test))`` of a LabelledSet."""
        return examples.subset(self.train), examples.subset(self.val), examples.subset(self.test)

    def sizes(self) -> dict[str, int]:
        """Number of examples in each part."""
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def _indices(values) -> np.ndarray:
    return np.sort(np.asarray(values, dtype=np.int64))


def assert_patient_disjoint(patient_ids, *index_arrays: np.ndarray) -> None:
    """Raise :class:`PatientOverlapError` when any two index arrays share a patient.

    Parameters
    ----------
    patient_ids : array-like of shape (n_examples,), patient of each example
    *index_arrays : index arrays into ``patient_ids`` (e.g. ``split.train, split.val, split.test``)

    Raises
    ------
    PatientOverlapError
        naming the pair of sets (by position) and up to 20 shared patients.
    """
    patient_ids = np.asarray(patient_ids)
    patient_sets = [
        set(patient_ids[np.asarray(indices, dtype=np.int64)].tolist()) for indices in index_arrays
    ]
    for first in range(len(patient_sets)):
        for second in range(first + 1, len(patient_sets)):
            shared = sorted(patient_sets[first] & patient_sets[second], key=str)
            if shared:
                shown = ", ".join(map(str, shared[:20])) + (" ..." if len(shared) > 20 else "")
                raise PatientOverlapError(
                    f"index sets {first} and {second} share {len(shared)} patient(s): {shown}; "
                    "a patient's examples must all be in one set"
                )


def _held_out_groups(patient_ids, labels, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of the examples whose patients are held out (about ``fraction`` of examples)."""
    patient_ids = np.asarray(patient_ids)
    n_examples = len(patient_ids)
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    unique_patients, patient_index = np.unique(patient_ids, return_inverse=True)
    if len(unique_patients) < 2:
        raise ValueError(f"a patient-wise split needs at least 2 patients, got {len(unique_patients)}")
    held = np.zeros(n_examples, dtype=bool)
    if labels is None:
        splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
        _, held_index = next(splitter.split(np.zeros(n_examples), groups=patient_ids))
        held[held_index] = True
        return held
    labels = np.asarray(labels)
    if len(labels) != n_examples:
        raise ValueError(f"labels ({len(labels)}) and patient_ids ({n_examples}) differ in length")
    if labels.ndim == 1:
        n_splits = int(np.clip(round(1 / fraction), 2, len(unique_patients)))
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        _, held_index = next(splitter.split(np.zeros(n_examples), labels, groups=patient_ids))
        held[held_index] = True
        return held
    if labels.ndim == 2:
        from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

        # stratify patients: each patient carries the union of its examples' labels
        patient_labels = np.zeros((len(unique_patients), labels.shape[1]), dtype=np.int64)
        np.maximum.at(patient_labels, patient_index, (labels > 0).astype(np.int64))
        splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
        _, held_patients = next(splitter.split(np.zeros(len(unique_patients)), patient_labels))
        return np.isin(patient_index, held_patients)
    raise ValueError(f"labels must be 1-D (single label) or 2-D (multi-hot), got shape {labels.shape}")


def patient_split(
    patient_ids,
    labels=None,
    *,
    test_fraction: float,
    val_fraction: float,
    seed: int,
) -> Split:
    """Patient-wise train / validation / test split, stratified on the labels.

    Parameters
    ----------
    patient_ids : array-like of shape (n_examples,), patient of each example
    labels : None, array-like of shape (n_examples,) (class ids or names) or
        (n_examples, n_classes) multi-hot
    test_fraction : share of all examples held out for testing. For single-label targets it
        is rounded to ``1/k`` (``StratifiedGroupKFold`` with ``k = round(1/test_fraction)``:
        0.2 -> 5 folds, 0.33 -> 3 folds); multi-label and unlabelled splits use it as given
        (counted in patients).
    val_fraction : share of all examples for validation, taken from what the test set
        leaves (so ``val_fraction / (1 - test_fraction)`` of the rest); 0 gives no validation set.
    seed : random seed; the same seed and inputs give the same split

    Returns
    -------
    Split
        sorted int64 index arrays; no patient appears in two of them.
    """
    patient_ids = np.asarray(patient_ids)
    if not 0 <= val_fraction < 1 - test_fraction:
        raise ValueError(
            f"need 0 <= val_fraction < 1 - test_fraction, got {val_fraction} and {test_fraction}"
        )
    is_test = _held_out_groups(patient_ids, labels, test_fraction, seed)
    rest = np.flatnonzero(~is_test)
    if val_fraction == 0:
        val = np.zeros(0, dtype=np.int64)
        train = rest
    else:
        rest_labels = None if labels is None else np.asarray(labels)[rest]
        is_val = _held_out_groups(
            patient_ids[rest],
            rest_labels,
            val_fraction / (1 - test_fraction),
            derive_seed(seed, "validation"),
        )
        val, train = rest[is_val], rest[~is_val]
    split = Split(train=_indices(train), val=_indices(val), test=_indices(np.flatnonzero(is_test)))
    assert_patient_disjoint(patient_ids, split.train, split.val, split.test)
    return split


def ptbxl_folds(strat_fold) -> Split:
    """PTB-XL's recommended split: ``strat_fold`` 1-8 train, 9 validation, 10 test.

    Parameters
    ----------
    strat_fold : array-like of shape (n_records,), int 1-10 (column ``strat_fold`` of
        ``ptbxl_database.csv``; the folds are patient-wise by construction)
    """
    strat_fold = np.asarray(strat_fold)
    unknown = sorted(set(strat_fold.tolist()) - set(range(1, 11)))
    if unknown:
        raise ValueError(f"strat_fold values must be 1-10, got {unknown}")
    return Split(
        train=_indices(np.flatnonzero(np.isin(strat_fold, PTBXL_TRAIN_FOLDS))),
        val=_indices(np.flatnonzero(strat_fold == PTBXL_VAL_FOLD)),
        test=_indices(np.flatnonzero(strat_fold == PTBXL_TEST_FOLD)),
    )


def stratified_split(labels, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split examples (not patients) into kept and held-out indices, stratified by label.

    For splits inside one patient's examples, where patient-wise splitting does not apply.

    Parameters
    ----------
    labels : array-like of shape (n_examples,)
    fraction : share held out
    seed : random seed

    Returns
    -------
    kept, held_out : sorted int64 index arrays

    Raises
    ------
    ValueError
        when a class has fewer than 2 examples (it cannot be in both parts), naming the class.
    """
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    rare = classes[counts < 2]
    if len(rare):
        raise ValueError(
            f"cannot stratify: class(es) {rare.tolist()} have fewer than 2 examples "
            f"(class counts {dict(zip(classes.tolist(), counts.tolist()))})"
        )
    kept, held = train_test_split(
        np.arange(len(labels)), test_size=fraction, stratify=labels, random_state=seed, shuffle=True
    )
    return _indices(kept), _indices(held)


def within_patient_split(
    labels, *, test_fraction: float = 0.2, val_fraction_of_rest: float = 0.2, seed: int
) -> Split:
    """Vavekanand et al.'s split of one patient's windows, stratified by label.

    ``test_fraction`` of the windows are held out for testing (paper: 20 %), then
    ``val_fraction_of_rest`` of the remainder for validation (paper: 20 % of the 80 %).

    Parameters
    ----------
    labels : array-like of shape (n_examples,)
    test_fraction, val_fraction_of_rest : shares held out at each step
    seed : random seed

    Returns
    -------
    Split
        sorted int64 index arrays into ``labels``
    """
    labels = np.asarray(labels)
    rest, test = stratified_split(labels, test_fraction, seed)
    train_in_rest, val_in_rest = stratified_split(
        labels[rest], val_fraction_of_rest, derive_seed(seed, "validation")
    )
    return Split(train=_indices(rest[train_in_rest]), val=_indices(rest[val_in_rest]), test=test)


def patient_kfold(patient_ids, labels=None, *, n_folds: int = 5, seed: int) -> np.ndarray:
    """Patient-wise k-fold cross-validation: the test fold (0 .. n_folds-1) of every example.

    All examples of a patient share a fold. Multi-hot labels are stratified with iterative
    stratification over patients (``iterstrat.MultilabelStratifiedKFold``, each patient
    carrying the union of its examples' labels); single-label targets with
    ``StratifiedGroupKFold``; without labels, ``GroupKFold`` after a seeded shuffle of patients.

    Parameters
    ----------
    patient_ids : array-like of shape (n_examples,)
    labels : None, array-like of shape (n_examples,) or (n_examples, n_classes) multi-hot
    n_folds : number of folds (at most the number of patients)
    seed : random seed; the same seed and inputs give the same folds

    Returns
    -------
    ndarray of shape (n_examples,), int64 fold of each example
    """
    patient_ids = np.asarray(patient_ids)
    unique_patients, patient_index = np.unique(patient_ids, return_inverse=True)
    if not 2 <= n_folds <= len(unique_patients):
        raise ValueError(f"n_folds must be in [2, {len(unique_patients)} patients], got {n_folds}")
    fold_of_patient = np.full(len(unique_patients), -1, dtype=np.int64)
    if labels is not None and np.asarray(labels).ndim == 2:
        from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

        labels = np.asarray(labels)
        if len(labels) != len(patient_ids):
            raise ValueError(f"labels ({len(labels)}) and patient_ids ({len(patient_ids)}) differ in length")
        patient_labels = np.zeros((len(unique_patients), labels.shape[1]), dtype=np.int64)
        np.maximum.at(patient_labels, patient_index, (labels > 0).astype(np.int64))
        splitter = MultilabelStratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        for fold, (_, held) in enumerate(splitter.split(np.zeros(len(unique_patients)), patient_labels)):
            fold_of_patient[held] = fold
        return fold_of_patient[patient_index]
    if labels is None:
        order = np.random.default_rng(seed).permutation(len(unique_patients))
        fold_of_patient[order] = np.arange(len(unique_patients)) % n_folds
        return fold_of_patient[patient_index]
    fold = np.full(len(patient_ids), -1, dtype=np.int64)
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for k, (_, held) in enumerate(splitter.split(np.zeros(len(patient_ids)), labels, groups=patient_ids)):
        fold[held] = k
    return fold


def fold_label_counts(
    targets: np.ndarray,
    target_names,
    folds: np.ndarray,
    *,
    min_per_fold: int = 2,
) -> pd.DataFrame:
    """Positives and negatives of every label overall and in its leanest test fold; which can be scored.

    A label is scorable when every test fold holds at least ``min_per_fold`` positives and
    ``min_per_fold`` negatives (an F1 or an AUC of a fold needs both). Labels that are not
    are reported, not scored.

    Parameters
    ----------
    targets : ndarray of shape (n_examples, n_labels), multi-hot
    target_names : names of the columns of ``targets``
    folds : ndarray of shape (n_examples,), test fold of each example (:func:`patient_kfold`)
    min_per_fold : least positives (and negatives) per test fold for a label to be scored

    Returns
    -------
    DataFrame indexed by ``label`` with ``n_positive``, ``n_negative``,
    ``min_positive_per_fold``, ``min_negative_per_fold``, ``scorable`` (bool) and ``reason``.
    """
    targets = np.asarray(targets) > 0
    folds = np.asarray(folds)
    if targets.ndim != 2 or targets.shape[1] != len(target_names) or len(folds) != len(targets):
        raise ValueError(
            f"targets {targets.shape}, {len(target_names)} names and {len(folds)} folds do not agree"
        )
    fold_ids = np.unique(folds)
    rows = []
    for column, name in enumerate(target_names):
        positives = [int(targets[folds == fold, column].sum()) for fold in fold_ids]
        negatives = [int((~targets[folds == fold, column]).sum()) for fold in fold_ids]
        reason = ""
        if min(positives) < min_per_fold:
            reason = f"a test fold has {min(positives)} positive(s) (< {min_per_fold})"
        elif min(negatives) < min_per_fold:
            reason = f"a test fold has {min(negatives)} negative(s) (< {min_per_fold})"
        rows.append(
            {
                "label": name,
                "n_positive": int(targets[:, column].sum()),
                "n_negative": int((~targets[:, column]).sum()),
                "min_positive_per_fold": min(positives),
                "min_negative_per_fold": min(negatives),
                "scorable": not reason,
                "reason": reason,
            }
        )
    return pd.DataFrame(rows).set_index("label")
