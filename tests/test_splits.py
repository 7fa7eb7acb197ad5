"""Patient-wise and within-patient splits."""

from __future__ import annotations

import numpy as np
import pytest

from ecglib.data import LabelledSet, splits


def _examples(n_patients: int = 60, per_patient: int = 10, seed: int = 0):
    rng = np.random.default_rng(seed)
    patient_ids = np.repeat([f"p{i:03d}" for i in range(n_patients)], per_patient)
    # each patient mostly one class, so stratification has something to do
    patient_class = rng.integers(0, 3, n_patients)
    labels = np.repeat(patient_class, per_patient)
    return patient_ids, labels


def test_patient_split_is_patient_disjoint_covering_and_stratified():
    patient_ids, labels = _examples()
    split = splits.patient_split(patient_ids, labels, test_fraction=0.2, val_fraction=0.2, seed=0)
    together = np.concatenate([split.train, split.val, split.test])
    assert sorted(together.tolist()) == list(range(len(labels)))
    splits.assert_patient_disjoint(patient_ids, split.train, split.val, split.test)
    assert split.sizes()["test"] == pytest.approx(120, abs=20)
    assert split.sizes()["val"] == pytest.approx(120, abs=30)
    overall = np.bincount(labels, minlength=3) / len(labels)
    for part in (split.train, split.test):
        np.testing.assert_allclose(np.bincount(labels[part], minlength=3) / len(part), overall, atol=0.1)


def test_patient_split_is_reproducible_and_seed_dependent():
    patient_ids, labels = _examples()
    first = splits.patient_split(patient_ids, labels, test_fraction=0.2, val_fraction=0.1, seed=3)
    again = splits.patient_split(patient_ids, labels, test_fraction=0.2, val_fraction=0.1, seed=3)
    other = splits.patient_split(patient_ids, labels, test_fraction=0.2, val_fraction=0.1, seed=4)
    np.testing.assert_array_equal(first.test, again.test)
    np.testing.assert_array_equal(first.val, again.val)
    assert not np.array_equal(first.test, other.test)


def test_patient_split_multilabel_and_unlabelled():
    rng = np.random.default_rng(1)
    patient_ids = np.repeat(np.arange(200), 2)
    labels = (rng.random((400, 5)) < [0.5, 0.3, 0.1, 0.05, 0.2]).astype(np.float32)
    split = splits.patient_split(patient_ids, labels, test_fraction=0.25, val_fraction=0.15, seed=0)
    splits.assert_patient_disjoint(patient_ids, split.train, split.val, split.test)
    assert len(split.test) == pytest.approx(100, abs=6)
    np.testing.assert_allclose(labels[split.test].mean(0), labels.mean(0), atol=0.06)
    plain = splits.patient_split(patient_ids, None, test_fraction=0.3, val_fraction=0.0, seed=0)
    assert len(plain.val) == 0 and len(plain.test) == 120
    splits.assert_patient_disjoint(patient_ids, plain.train, plain.test)


def test_patient_split_rejects_bad_fractions():
    patient_ids, labels = _examples()
    with pytest.raises(ValueError):
        splits.patient_split(patient_ids, labels, test_fraction=0.5, val_fraction=0.6, seed=0)
    with pytest.raises(ValueError, match="at least 2 patients"):
        splits.patient_split(["a"] * 10, None, test_fraction=0.2, val_fraction=0.0, seed=0)


def test_assert_patient_disjoint_names_shared_patients():
    patient_ids = np.array(["201", "201", "203", "205"])
    splits.assert_patient_disjoint(patient_ids, [0, 1], [2], [3])
    with pytest.raises(splits.PatientOverlapError, match=r"index sets 0 and 2 share 1 patient\(s\): 201"):
        splits.assert_patient_disjoint(patient_ids, [0, 2], [3], [1])


def test_ptbxl_folds():
    strat_fold = np.array([1, 9, 10, 8, 2, 10, 5])
    split = splits.ptbxl_folds(strat_fold)
    assert split.train.tolist() == [0, 3, 4, 6]
    assert split.val.tolist() == [1] and split.test.tolist() == [2, 5]
    with pytest.raises(ValueError, match="1-10"):
        splits.ptbxl_folds([0, 11])


def test_stratified_and_within_patient_split():
    labels = np.array([0] * 80 + [1] * 20)
    kept, held = splits.stratified_split(labels, 0.2, seed=0)
    assert len(held) == 20 and labels[held].sum() == 4
    assert not set(kept) & set(held)
    split = splits.within_patient_split(labels, seed=0)
    assert split.sizes() == {"train": 64, "val": 16, "test": 20}
    assert (
        labels[split.test].sum() == 4
        and labels[split.val].sum() in (3, 4)
        and labels[split.train].sum() in (12, 13)
    )
    with pytest.raises(ValueError, match=r"class\(es\) \[1\]"):
        splits.stratified_split(np.array([0, 0, 0, 1]), 0.25, seed=0)


def test_split_subsets_a_labelled_set():
    patient_ids, labels = _examples(n_patients=10, per_patient=4)
    examples = LabelledSet(
        signals_mv=np.zeros((40, 8, 1), np.float32),
        targets=labels.astype(np.int64),
        patient_ids=patient_ids,
        fs_hz=360,
        lead_names=("MLII",),
        target_names=("a", "b", "c"),
        task="single_label",
        source="test",
    )
    split = splits.patient_split(patient_ids, labels, test_fraction=0.2, val_fraction=0.2, seed=0)
    train, val, test = split.subsets(examples)
    assert len(train) + len(val) + len(test) == 40
    assert not set(train.patient_ids) & set(test.patient_ids)
