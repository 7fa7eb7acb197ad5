"""Nguyen & Do 2025: each dataset's labels as the paper lists them, on native-layout fixtures;
PTB-XL split rules; Table 1's arithmetic."""

from __future__ import annotations

import native_layouts as nl
import numpy as np
import pytest

from ecglib import params
from ecglib.data import code_test, cpsc2018, georgia, ptbdb, ptbxl
from ecglib.data.splits import assert_patient_disjoint

REPORTED = params.reported("nguyen2025")


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.delenv("ECGLIB_DATA", raising=False)
    return tmp_path


def test_loaders_use_exactly_the_papers_label_lists():
    labels = REPORTED["labels"]
    assert set(ptbxl.SUPERCLASSES) == set(labels["ptbxl"]) and len(ptbxl.SUPERCLASSES) == 5
    assert tuple(cpsc2018.LABEL_CODES) == tuple(labels["cpsc2018"])  # same order as the paper
    assert tuple(georgia.LABEL_CODES) == tuple(labels["georgia"])
    assert set(ptbdb.CLASSES) == set(labels["ptbdb"])
    assert ("NORM", *(code_test.PAPER_NAMES[c] for c in code_test.ABNORMALITIES)) == tuple(
        labels["code-test"]
    )
    for name, row in REPORTED["table1"].items():
        assert row["n_labels"] == len(labels[name])


def test_table1_arithmetic():
    table, short = REPORTED["table1"], REPORTED["short_records_dropped"]
    for name in ("cpsc2018", "georgia"):
        assert table[name]["train"] + table[name]["test"] == table[name]["samples"] - short[name]["dropped"]
    assert table["ptbxl"]["train"] + table["ptbxl"]["test"] == 19_644
    assert table["ptbxl"]["test"] / 19_644 == pytest.approx(0.112, abs=1e-3)  # not 0.33: standard folds
    for name in ("ptbdb", "code-test"):
        share = table[name]["test"] / (table[name]["train"] + table[name]["test"])
        assert share == pytest.approx(0.33, abs=2e-3)


def _one_record_per_code(folder, prefix, label_codes):
    """One Challenge-2020 record per SNOMED code; returns the expected class of each, in order."""
    expected = []
    for i, (label, codes) in enumerate(
        (label, code) for label, group in label_codes.items() for code in group
    ):
        nl.write_cinc_record(folder / "g1", f"{prefix}{i + 1:05d}", [codes])
        expected.append(label)
    return expected


@pytest.mark.parametrize("module", [cpsc2018, georgia], ids=lambda m: m.NAME)
def test_every_snomed_code_lands_in_its_papers_column(root, module):
    expected = _one_record_per_code(
        root / module.NAME, "A" if module is cpsc2018 else "E", module.LABEL_CODES
    )
    labelled = module.load_labelled(root)
    names = tuple(module.LABEL_CODES)
    assert labelled.target_names == names and labelled.targets.shape == (len(expected), len(names))
    for row, label in zip(labelled.targets, expected):
        assert row.sum() == 1 and names[int(np.argmax(row))] == label
    assert set(expected) == set(names)  # every paper label is reachable


def test_ptbxl_each_superclass_and_ptbdb_mi_vs_control(root):
    codes = [{"NORM": 100.0}, {"IMI": 100.0}, {"NDT": 100.0}, {"CLBBB": 100.0}, {"LVH": 100.0}]
    nl.write_ptbxl(root / "ptb-xl", codes, with_500=False)
    labelled = ptbxl.load_labelled(root)
    np.testing.assert_array_equal(labelled.targets, np.eye(5))  # NORM, MI, STTC, CD, HYP
    nl.write_ptbdb(
        root / "ptbdb",
        {"patient001/s0010_re": "Myocardial infarction", "patient104/s0306lre": "Healthy control"},
    )
    ptb = ptbdb.load_labelled(root)
    np.testing.assert_array_equal(ptb.targets, [[0, 1], [1, 0]])


def test_code_test_six_abnormalities_plus_norm(root):
    labels = np.vstack([np.zeros((1, 6), int), np.eye(6, dtype=int), [[1, 0, 0, 0, 1, 0]]])
    nl.write_code_test(root / "code-test", n_exams=len(labels), labels=labels)
    labelled = code_test.load_labelled(root)
    expected = np.zeros((8, 7))
    expected[0, 0] = 1  # NORM = none of the six
    expected[1:7, 1:] = np.eye(6)  # 1dAVb->I-AVB, RBBB, LBBB, SB, AF, ST->STach
    expected[7, [1, 5]] = 1  # I-AVB + AF, not NORM
    np.testing.assert_array_equal(labelled.targets, expected)
    assert labelled.target_names[6] == "STach"


def test_ptbxl_standard_folds_and_the_stated_033_rule(root):
    n = 60
    superclass_codes = [{"NORM": 100.0}, {"IMI": 100.0}, {"NDT": 100.0}, {"CLBBB": 100.0}, {"LVH": 100.0}]
    codes = [superclass_codes[i % 5] for i in range(n)]
    codes[7] = {"SR": 0.0}  # no superclass: dropped, so positions differ from ecg_id - 1
    patients = [i // 2 for i in range(n)]  # two records per patient
    folds = [(i // 2) % 10 + 1 for i in range(n)]  # a patient's records share a fold, as in PTB-XL
    nl.write_ptbxl(root / "ptb-xl", codes, patient_ids=patients, folds=folds, with_500=False)
    metadata = ptbxl.labelled_metadata(root)
    labelled = ptbxl.load_labelled(root)
    assert len(metadata) == len(labelled) == n - 1
    np.testing.assert_array_equal(metadata["patient_id"].to_numpy(), labelled.patient_ids)

    standard = ptbxl.split_records(metadata)
    assert set(metadata["strat_fold"].iloc[standard.train]) == set(range(1, 9))
    assert set(metadata["strat_fold"].iloc[standard.val]) == {9}
    assert set(metadata["strat_fold"].iloc[standard.test]) == {10}
    assert sum(standard.sizes().values()) == n - 1

    stated = ptbxl.split_records(metadata, labelled.targets, rule="test_fraction", seed=0, val_fraction=0.1)
    assert abs(len(stated.test) / (n - 1) - 0.33) < 0.1
    assert_patient_disjoint(labelled.patient_ids, stated.train, stated.val, stated.test)
    again = ptbxl.split_records(metadata, labelled.targets, rule="test_fraction", seed=0, val_fraction=0.1)
    np.testing.assert_array_equal(stated.test, again.test)
    with pytest.raises(ValueError, match="rule must be one of"):
        ptbxl.split_records(metadata, rule="random")
