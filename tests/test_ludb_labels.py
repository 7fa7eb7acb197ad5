"""LUDB diagnoses -> PTB-XL superclasses and rhythm/conduction labels; patient-wise k-fold;
which labels have enough positives to be scored (real counts when LUDB is present)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_ludb import _write_ludb

import ecglib.data
from ecglib.data import DataFormatError, ludb, splits


def _diagnoses(rows: dict[str, dict[str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        [{column: row.get(column, "") for column in ludb.FINDING_COLUMNS} for row in rows.values()],
        index=pd.Index(list(rows), name="record_id"),
    )
    return frame


ROWS = {
    "1": {  # sinus, normal axis, nothing else -> NORM only
        "Rhythms": "Sinus rhythm",
        "Electric axis of the heart": "Electric axis of the heart: normal",
    },
    "2": {  # AF + LAD + complete LBBB + STEMI + LV overload
        "Rhythms": "Atrial fibrillation",
        "Electric axis of the heart": "Electric axis of the heart: left axis deviation",
        "Conduction abnormalities": "Complete left bundle branch block",
        "Ischemia": "Stemi: anterior wall",
        "Hypertrophies": "Left ventricular overload",
    },
    "3": {  # sinus brady + incomplete RBBB + ischemia + non-specific repolarisation + PVC
        "Rhythms": "Sinus bradycardia",
        "Conduction abnormalities": "Incomplete right bundle branch block\nI degree av block",
        "Ischemia": "Ischemia: inferior wall",
        "Non-specific repolarization abnormalities": "Non-specific repolarization abnormalities: septal",
        "Extrasystolies": "Ventricular extrasystole, type: single pvc",
    },
    "4": {  # paced only: no superclass; an unknown finding is reported
        "Rhythms": "Sinus rhythm",
        "Cardiac pacing": "Unipolar ventricular pacing",
        "Other states": "Early repolarization syndrome",
    },
    "5": {"Rhythms": "Sinus tachycardia", "Ischemia": "Undefined ischemia/scar/supp.nstemi: apical"},
}


def test_superclass_rules_norm_and_unmapped_findings():
    targets, names, unmapped = ludb.diagnosis_labels(_diagnoses(ROWS), "superclass")
    assert names == ("NORM", "MI", "STTC", "CD", "HYP")
    np.testing.assert_array_equal(
        targets,
        [
            [1, 0, 0, 0, 0],
            [0, 1, 0, 1, 1],
            [0, 0, 1, 1, 0],  # "incomplete" RBBB is CD; "complete" rules must not eat it twice
            [0, 0, 0, 0, 0],
            [0, 1, 0, 0, 0],  # undefined ischemia/scar/NSTEMI read as MI
        ],
    )
    reported = set(zip(unmapped["column"], unmapped["finding"]))
    assert ("Other states", "Early repolarization syndrome") in reported
    assert ("Cardiac pacing", "Unipolar ventricular pacing") in reported
    assert ("Rhythms", "Sinus rhythm") not in reported  # a normal finding, not unmapped


def test_rhythm_conduction_rules():
    targets, names, _ = ludb.diagnosis_labels(_diagnoses(ROWS), "rhythm_conduction")
    positives = {names[j] for j in np.flatnonzero(targets[2])}
    assert positives == {"SB", "IRBBB", "I-AVB", "PVC"}
    assert {names[j] for j in np.flatnonzero(targets[1])} == {"AF", "LAD", "LBBB"}
    assert {names[j] for j in np.flatnonzero(targets[3])} == {"SR", "PACE"}
    with pytest.raises(ValueError, match="label_set must be one of"):
        ludb.diagnosis_labels(_diagnoses(ROWS), "rhythm")
    with pytest.raises(DataFormatError, match="missing columns"):
        ludb.diagnosis_labels(_diagnoses(ROWS).drop(columns=["Ischemia"]))


def test_patient_kfold_keeps_patients_together_and_counts_scorable_labels():
    rng = np.random.default_rng(0)
    patients = np.repeat(np.arange(40), 2)  # two examples per patient
    targets = np.zeros((80, 3))
    targets[:, 0] = np.repeat(rng.random(40) < 0.5, 2)
    targets[:6, 1] = 1  # three patients: too few for 5 folds x 2 positives
    targets[:, 2] = 1  # every example positive: no negatives to score against
    folds = splits.patient_kfold(patients, targets, n_folds=5, seed=0)
    assert set(folds) == set(range(5))
    for patient in range(40):
        assert len(set(folds[patients == patient])) == 1
    np.testing.assert_array_equal(folds, splits.patient_kfold(patients, targets, n_folds=5, seed=0))
    table = splits.fold_label_counts(targets, ("a", "b", "c"), folds, min_per_fold=2)
    assert table["scorable"].tolist() == [True, False, False]
    assert table.loc["b", "n_positive"] == 6 and "positive" in table.loc["b", "reason"]
    assert "negative" in table.loc["c", "reason"]
    unlabelled = splits.patient_kfold(patients, None, n_folds=4, seed=1)
    assert np.bincount(unlabelled).tolist() == [20, 20, 20, 20]
    with pytest.raises(ValueError, match="n_folds"):
        splits.patient_kfold(patients, None, n_folds=41, seed=0)


def test_load_labelled_on_a_tiny_ludb(tmp_path):
    _write_ludb(tmp_path)
    labelled = ludb.load_labelled(tmp_path, record_ids=(1, 2))
    assert labelled.signals_mv.shape == (2, 5000, 12) and labelled.fs_hz == 500
    # record 1: sinus brady, normal axis, LV overload + LVH -> HYP; record 2: AF alone -> none
    np.testing.assert_array_equal(labelled.targets, [[0, 0, 0, 0, 1], [0, 0, 0, 0, 0]])
    assert list(labelled.patient_ids) == ["1", "2"]
    rhythm = ludb.load_labelled(tmp_path, label_set="rhythm_conduction", record_ids=(1, 2))
    assert rhythm.target_names == ludb.RHYTHM_CONDUCTION_LABELS
    with pytest.raises(DataFormatError, match=r"ludb\.csv: no row for record\(s\) \['3'\]"):
        ludb.load_labelled(tmp_path, record_ids=(1, 3))


# Counts on LUDB records 1-150 (ludb.csv of LUDB 1.0.1), checked by hand against the file.
REAL_SUPERCLASS_POSITIVES = {"NORM": 10, "MI": 35, "STTC": 57, "CD": 61, "HYP": 118}
REAL_RHYTHM_POSITIVES = {
    "SR": 105,
    "SB": 20,
    "STach": 3,
    "SA": 5,
    "AF": 14,
    "AFL": 3,
    "WAP": 2,
    "LAD": 59,
    "RAD": 2,
    "I-AVB": 10,
    "III-AVB": 5,
    "RBBB": 4,
    "IRBBB": 26,
    "LBBB": 4,
    "ILBBB": 6,
    "LAFB": 15,
    "IVCD": 4,
    "PAC": 7,
    "PVC": 7,
    "PACE": 10,
}


@pytest.mark.real_data
def test_real_ludb_label_counts_and_scorable_labels():
    folder = ecglib.data.dataset_folder("ludb")
    if not (folder / "RECORDS").is_file():
        pytest.skip(f"LUDB not found under {folder} (set $ECGLIB_DATA)")
    diagnoses = ludb.load_diagnoses().loc[[str(number) for number in range(1, 151)]]
    for label_set, expected in (
        ("superclass", REAL_SUPERCLASS_POSITIVES),
        ("rhythm_conduction", REAL_RHYTHM_POSITIVES),
    ):
        targets, names, _ = ludb.diagnosis_labels(diagnoses, label_set)
        assert dict(zip(names, targets.sum(axis=0).astype(int).tolist())) == expected
    superclass, names, _ = ludb.diagnosis_labels(diagnoses, "superclass")
    assert int((superclass.sum(axis=1) == 0).sum()) == 5  # AF / paced / LAD alone
    assert len(set(diagnoses.index)) == 150  # one record per subject: patient id = record id
    folds = splits.patient_kfold(diagnoses.index.to_numpy(), superclass, n_folds=5, seed=0)
    assert np.bincount(folds).tolist() == [30] * 5
    table = splits.fold_label_counts(superclass, names, folds, min_per_fold=2)
    assert table["scorable"].all()
    rhythm, rhythm_names, _ = ludb.diagnosis_labels(diagnoses, "rhythm_conduction")
    folds = splits.patient_kfold(diagnoses.index.to_numpy(), rhythm, n_folds=5, seed=0)
    table = splits.fold_label_counts(rhythm, rhythm_names, folds, min_per_fold=2)
    assert set(table.index[table["scorable"]]) == {"SR", "SB", "AF", "LAD", "I-AVB", "IRBBB", "LAFB", "PACE"}
