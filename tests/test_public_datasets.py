"""Readers of the public datasets not on this machine, on tiny files in each native layout."""

from __future__ import annotations

import native_layouts as nl
import numpy as np
import pandas as pd
import pytest

from ecglib.data import (
    DataFormatError,
    DataMissingError,
    code_test,
    cpsc2018,
    deepfake,
    georgia,
    kaggle_heartbeat,
    ptbdb,
    ptbxl,
    ptbxl_plus,
)


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.delenv("ECGLIB_DATA", raising=False)
    return tmp_path


def expected_mv(n_samples, n_leads, fs_hz):
    return nl.sine_mv(n_samples, n_leads, fs_hz).astype(np.float32)


# --------------------------------------------------------------------------- PTB-XL / PTB-XL+
PTBXL_CODES = [
    {"NORM": 100.0, "SR": 0.0},  # NORM
    {"IMI": 50.0, "LVH": 0.0},  # MI + HYP (likelihood 0 still counts, as in the benchmark)
    {"SR": 0.0},  # no diagnostic statement -> excluded
    {"NDT": 100.0, "CLBBB": 100.0},  # STTC + CD
]


def test_ptbxl_metadata_record_units_and_official_folds(root):
    nl.write_ptbxl(root / "ptb-xl", PTBXL_CODES, patient_ids=[7, 7, 8, 9], folds=[1, 9, 10, 10])
    metadata = ptbxl.load_metadata(root)
    assert list(metadata.index) == [1, 2, 3, 4]
    assert metadata.loc[2, "scp_codes"] == {"IMI": 50.0, "LVH": 0.0}
    assert metadata.loc[1, "patient_id"] == "7"
    split = ptbxl.official_split(metadata)
    assert list(split["train"]) == [1] and list(split["val"]) == [2] and list(split["test"]) == [3, 4]

    record = ptbxl.load_record(1, root, fs_hz=500)
    assert record.signal_mv.shape == (5000, 12) and record.signal_mv.dtype == np.float32
    assert record.lead_names[3:6] == ("aVR", "aVL", "aVF")
    np.testing.assert_allclose(record.signal_mv, expected_mv(5000, 12, 500), atol=1e-3)
    assert ptbxl.load_record(1, root, fs_hz=100).signal_mv.shape == (1000, 12)
    with pytest.raises(ValueError, match="100, 500"):
        ptbxl.load_record(1, root, fs_hz=250)


def test_ptbxl_superclasses_likelihood_policy_and_exclusions(root):
    nl.write_ptbxl(root / "ptb-xl", PTBXL_CODES, with_500=False)
    metadata, statements = ptbxl.load_metadata(root), ptbxl.load_scp_statements(root)
    targets = ptbxl.superclass_labels(metadata, statements)
    # columns NORM, MI, STTC, CD, HYP
    np.testing.assert_array_equal(
        targets, [[1, 0, 0, 0, 0], [0, 1, 0, 0, 1], [0, 0, 0, 0, 0], [0, 0, 1, 1, 0]]
    )
    strict = ptbxl.superclass_labels(metadata, statements, min_likelihood=100)
    np.testing.assert_array_equal(strict[1], [0, 0, 0, 0, 0])

    labelled = ptbxl.load_labelled(root, fs_hz=100)
    assert labelled.task == "multi_label" and labelled.target_names == ("NORM", "MI", "STTC", "CD", "HYP")
    assert labelled.signals_mv.shape == (3, 1000, 12)
    assert labelled.exclusions == {"no_superclass": 1}
    assert list(labelled.patient_ids) == ["15000", "15001", "15003"]
    eight = ptbxl.load_labelled(root, fs_hz=100, lead_names=ptbxl_plus.EIGHT_LEADS, folds=(1, 2))
    assert eight.signals_mv.shape == (2, 1000, 8)
    np.testing.assert_allclose(eight.signals_mv[0, :, 2], expected_mv(1000, 12, 100)[:, 6], atol=1e-3)


def test_ptbxl_errors_name_the_file(root):
    with pytest.raises(DataMissingError, match="ecglib data download ptbxl"):
        ptbxl.load_metadata(root)
    folder = nl.write_ptbxl(root / "ptb-xl", PTBXL_CODES[:2], with_500=False)
    database = pd.read_csv(folder / "ptbxl_database.csv")
    database.loc[0, "scp_codes"] = "NORM: 100"
    database.to_csv(folder / "ptbxl_database.csv", index=False)
    with pytest.raises(DataFormatError, match=r"ptbxl_database\.csv.*ecg_id 1"):
        ptbxl.load_metadata(root)

    nl.write_ptbxl(folder, PTBXL_CODES[:2], with_500=False)
    (folder / "scp_statements.csv").unlink()
    with pytest.raises(DataFormatError, match=r"scp_statements\.csv: label file is missing"):
        ptbxl.load_labelled(root)

    nl.write_ptbxl(folder, PTBXL_CODES[:2], with_500=False)
    dat = folder / "records100" / "00000" / "00001_lr.dat"
    dat.write_bytes(dat.read_bytes()[:1000])
    with pytest.raises(DataFormatError, match="00001_lr"):
        ptbxl.load_record(1, root, fs_hz=100)
    with pytest.raises(DataFormatError, match=r"00002_hr\.hea: record header is missing"):
        ptbxl.load_record(2, root, fs_hz=500)


def test_ptbxl_plus_intervals_and_regression_set(root):
    nl.write_ptbxl(
        root / "ptb-xl", [{"NORM": 100.0}, {"NORM": 80.0}, {"IMI": 100.0}, {"NORM": 100.0}], with_500=False
    )
    nl.write_ptbxl_plus(
        root / "ptb-xl-plus",
        [1, 2, 3, 4],
        [1000.0, 750.0, 800.0, np.nan],
        [160, 150, 170, 140],
        [90, 95, 100, 80],
        [400, 380, 410, 390],
    )
    intervals = ptbxl_plus.load_intervals(root)
    assert list(intervals.columns) == ["ecg_id", "hr_bpm", "pr_ms", "qrs_ms", "qt_ms"]
    assert intervals.loc[1, "hr_bpm"] == pytest.approx(80.0)  # 60000 / 750 ms

    labelled = ptbxl_plus.load_labelled(root, fs_hz=100)
    assert labelled.task == "regression" and labelled.target_names == ("hr_bpm", "pr_ms", "qrs_ms", "qt_ms")
    assert labelled.lead_names == ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
    assert labelled.signals_mv.shape == (2, 1000, 8)
    np.testing.assert_allclose(labelled.targets, [[60, 160, 90, 400], [80, 150, 95, 380]])
    assert labelled.exclusions == {"not_normal": 1, "no_features": 0, "missing_interval": 1}

    frame = pd.read_csv(root / "ptb-xl-plus" / ptbxl_plus.FEATURE_FILE).drop(columns=["QT_Int_Global"])
    frame.to_csv(root / "ptb-xl-plus" / ptbxl_plus.FEATURE_FILE, index=False)
    with pytest.raises(DataFormatError, match=r"12sl_features\.csv: missing columns \['QT_Int_Global'\]"):
        ptbxl_plus.load_intervals(root)


# --------------------------------------------------------------------------- CinC 2020
def test_cpsc2018_labels_units_and_short_records(root):
    g1 = root / "cpsc2018" / "g1"
    nl.write_cinc_record(g1, "A0001", ["426783006"])
    nl.write_cinc_record(
        g1, "A0002", ["164884008", "713427006"], n_samples=7500
    )  # PVC + RBBB (equivalent code)
    nl.write_cinc_record(g1, "A0003", ["164889003"], n_samples=3000)  # 6 s: dropped
    record = cpsc2018.load_record("A0001", root)
    assert record.signal_mv.shape == (5000, 12) and record.fs_hz == 500
    np.testing.assert_allclose(record.signal_mv, expected_mv(5000, 12, 500), atol=1e-3)  # gain 1000/mV
    assert record.meta["dx_codes"] == ("426783006",) and record.patient_id == "A0001"

    labelled = cpsc2018.load_labelled(root)
    assert labelled.target_names == ("NORM", "AF", "I-AVB", "LBBB", "RBBB", "PAC", "PVC", "STD", "STE")
    assert labelled.signals_mv.shape == (2, 5000, 12)
    np.testing.assert_array_equal(labelled.targets[1], [0, 0, 0, 0, 1, 0, 1, 0, 0])
    assert labelled.exclusions == {"shorter_than_10s": 1}
    resampled = cpsc2018.load_labelled(root, fs_hz=100)
    assert resampled.signals_mv.shape == (2, 1000, 12) and resampled.fs_hz == 100
    np.testing.assert_allclose(
        resampled.signals_mv[0, 100:900], expected_mv(1000, 12, 100)[100:900], atol=2e-2
    )


def test_cpsc2018_unknown_code_is_an_error_by_default(root):
    nl.write_cinc_record(root / "cpsc2018" / "g1", "A0001", ["426783006", "10370003"])
    with pytest.raises(DataFormatError, match=r"A0001\.hea: SNOMED CT code 10370003"):
        cpsc2018.load_labelled(root)
    assert cpsc2018.load_labelled(root, other_codes="ignore").targets[0, 0] == 1


def test_georgia_ignores_other_codes_or_drops_unlabelled(root):
    g1 = root / "georgia" / "g1"
    nl.write_cinc_record(
        g1, "E00001", ["426177001", "39732003", "164917005"]
    )  # SB, LAD + Q-wave abnormal (ignored)
    nl.write_cinc_record(g1, "E00002", ["164917005"])  # none of the ten
    labelled = georgia.load_labelled(root)
    assert labelled.targets.shape == (2, 10)
    np.testing.assert_array_equal(labelled.targets[0], [0, 0, 0, 0, 1, 1, 0, 0, 0, 0])
    assert not labelled.targets[1].any()
    dropped = georgia.load_labelled(root, other_codes="drop")
    assert len(dropped) == 1 and dropped.exclusions["no_target_label"] == 1


@pytest.mark.parametrize(
    "fault", ["truncated_header", "short_mat", "wrong_fs", "bad_dx", "missing_mat", "corrupt_mat"]
)
def test_cinc_format_errors_name_the_file(root, fault):
    g1 = root / "cpsc2018" / "g1"
    nl.write_cinc_record(g1, "A0001", ["426783006"], fs_hz=250 if fault == "wrong_fs" else 500)
    header, mat = g1 / "A0001.hea", g1 / "A0001.mat"
    if fault == "truncated_header":
        header.write_text("\n".join(header.read_text().splitlines()[:5]))
        match = r"A0001\.hea: record line announces 12 leads but 4"
    elif fault == "short_mat":
        from scipy.io import savemat

        savemat(str(mat), {"val": np.zeros((12, 100), np.int16)}, format="4")
        match = r"A0001\.mat: 100 samples per lead"
    elif fault == "wrong_fs":
        match = r"A0001\.hea: sampling rate 250 Hz, expected 500 Hz"
    elif fault == "bad_dx":
        header.write_text(header.read_text().replace("#Dx: 426783006", "#Dx: AF"))
        match = r"A0001\.hea: #Dx entry 'AF'"
    elif fault == "missing_mat":
        mat.unlink()
        match = r"A0001\.mat: signal file named in A0001\.hea is missing"
    else:
        mat.write_bytes(b"garbage")
        match = r"A0001\.mat: cannot read MATLAB file"
    with pytest.raises(DataFormatError, match=match):
        cpsc2018.load_labelled(root)


def test_missing_dataset_names_the_download_command(root):
    for loader, name in (
        (cpsc2018.load_labelled, "cpsc2018"),
        (georgia.load_labelled, "georgia"),
        (ptbdb.load_labelled, "ptbdb"),
        (code_test.load_labelled, "code-test"),
        (kaggle_heartbeat.load_labelled, "kaggle-heartbeat"),
        (deepfake.load_labelled, "deepfake"),
        (ptbxl_plus.load_intervals, "ptbxl-plus"),
    ):
        with pytest.raises(DataMissingError, match=f"ecglib data download {name}"):
            loader(root)


# --------------------------------------------------------------------------- PTB Diagnostic
def test_ptbdb_mi_vs_control_patient_ids_and_units(root):
    nl.write_ptbdb(
        root / "ptbdb",
        {
            "patient001/s0010_re": "Myocardial infarction",
            "patient001/s0014lre": "Myocardial infarction",
            "patient104/s0306lre": "Healthy control",
            "patient105/s0303lre": None,
            "patient106/s0030_re": "Cardiomyopathy",
        },
    )
    record = ptbdb.load_record("patient104/s0306lre", root)
    assert record.signal_mv.shape == (12000, 15) and record.fs_hz == 1000
    assert record.lead_names[-3:] == ("vx", "vy", "vz") and record.lead_names[3] == "aVR"
    np.testing.assert_allclose(record.signal_mv, expected_mv(12000, 15, 1000), atol=1e-3)
    assert record.patient_id == "patient104" and record.meta["reason_for_admission"] == "Healthy control"

    labelled = ptbdb.load_labelled(root)
    assert labelled.target_names == ("NORM", "MI") and labelled.signals_mv.shape == (3, 10000, 12)
    assert list(labelled.patient_ids) == ["patient001", "patient001", "patient104"]
    np.testing.assert_array_equal(labelled.targets, [[0, 1], [0, 1], [1, 0]])
    assert labelled.exclusions == {"no_clinical_summary": 1, "other_diagnosis": 1, "shorter_than_10s": 0}


def test_ptbdb_short_record_is_dropped_and_counted(root):
    nl.write_ptbdb(root / "ptbdb", {"patient002/s0015lre": "Healthy control"}, n_samples=5000)
    labelled = ptbdb.load_labelled(root)
    assert len(labelled) == 0 and labelled.exclusions["shorter_than_10s"] == 1


# --------------------------------------------------------------------------- CODE-test
def test_code_test_shapes_units_and_seven_labels(root):
    nl.write_code_test(root / "code-test" / "data", n_exams=5)  # archives add a top folder: found below
    labelled = code_test.load_labelled(root)
    assert labelled.signals_mv.shape == (5, 4096, 12) and labelled.fs_hz == 400
    np.testing.assert_allclose(labelled.signals_mv[0], expected_mv(4096, 12, 400), atol=1e-6)
    assert labelled.target_names == ("NORM", "I-AVB", "RBBB", "LBBB", "SB", "AF", "STach")
    np.testing.assert_array_equal(
        labelled.targets[:3], [[1, 0, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0, 0], [0, 0, 0, 1, 0, 1, 0]]
    )
    assert len(set(labelled.patient_ids)) == 5
    assert code_test.load_labelled(root, include_norm=False).targets.shape == (5, 6)
    np.testing.assert_allclose(
        code_test.load_tracings(root, scale_to_mv=0.1)[0], labelled.signals_mv[0] * 0.1, atol=1e-7
    )


def test_code_test_errors(root):
    folder = nl.write_code_test(
        root / "code-test", n_exams=3, values_mv=np.full((3, 4000, 12), 0.5, np.float32)
    )
    with pytest.raises(DataFormatError, match=r"ecg_tracings\.hdf5: 'tracings' has shape \(3, 4000, 12\)"):
        code_test.load_tracings(root)
    nl.write_code_test(folder, n_exams=3)
    pd.DataFrame({"1dAVb": [0, 1]}).to_csv(folder / "annotations" / "gold_standard.csv", index=False)
    with pytest.raises(DataFormatError, match=r"gold_standard\.csv: missing columns"):
        code_test.load_labelled(root)
    with pytest.raises(DataFormatError, match=r"medical_students\.csv: label file is missing"):
        code_test.load_annotations(root, "medical_students")


# --------------------------------------------------------------------------- Kaggle heartbeat
def test_kaggle_heartbeat_splits_units_and_missing_patient_ids(root):
    nl.write_kaggle_heartbeat(root / "kaggle-heartbeat", n_rows=7)
    train = kaggle_heartbeat.load_labelled(root)
    assert train.signals_mv.shape == (7, 187, 1) and train.fs_hz == 125 and train.task == "single_label"
    assert list(train.targets) == [0, 1, 2, 3, 4, 0, 1] and train.target_names == ("N", "S", "V", "F", "Q")
    assert "not mV" in train.units
    assert train.patient_ids[0] == "mitbih_train:row000000" and len(set(train.patient_ids)) == 7
    assert kaggle_heartbeat.NO_PATIENT_IDS_NOTE in train.exclusions
    assert len(kaggle_heartbeat.load_labelled(root, split="test")) == 5
    ptb = kaggle_heartbeat.load_labelled(root, subset="ptbdb", split="all")
    assert list(ptb.targets) == [0, 0, 0, 1, 1, 1, 1] and ptb.target_names == ("normal", "abnormal")
    with pytest.raises(ValueError, match="no official split"):
        kaggle_heartbeat.load_labelled(root, subset="ptbdb", split="train")


@pytest.mark.parametrize("fault", ["columns", "label", "nan"])
def test_kaggle_heartbeat_format_errors(root, fault):
    folder = nl.write_kaggle_heartbeat(root / "kaggle-heartbeat")
    table = np.loadtxt(folder / "mitbih_train.csv", delimiter=",")
    if fault == "columns":
        table = table[:, 1:]
    elif fault == "label":
        table[0, -1] = 7
    else:
        table[0, 3] = np.nan
    np.savetxt(folder / "mitbih_train.csv", table, delimiter=",")
    with pytest.raises(DataFormatError, match=r"mitbih_train\.csv"):
        kaggle_heartbeat.load_labelled(root)


# --------------------------------------------------------------------------- DeepFake
def test_deepfake_asc_in_mv_and_targets(root):
    nl.write_deepfake(root / "deepfake", n_ecgs=3, missing_pr_for=(2,))
    labelled = deepfake.load_labelled(root)
    assert labelled.signals_mv.shape == (2, 5000, 8) and labelled.lead_names == (
        "I",
        "II",
        "V1",
        "V2",
        "V3",
        "V4",
        "V5",
        "V6",
    )
    np.testing.assert_allclose(
        labelled.signals_mv[0], expected_mv(5000, 8, 500), atol=1e-3
    )  # microvolts -> mV
    np.testing.assert_allclose(labelled.targets, [[60, 150, 90, 400], [60000 / 900, 151, 91, 401]], rtol=1e-6)
    assert labelled.exclusions == {"missing_target": 1, "missing_asc": 0}
    assert list(labelled.patient_ids) == ["deepfake:0", "deepfake:1"]


def test_deepfake_errors(root):
    folder = nl.write_deepfake(root / "deepfake", n_ecgs=2)
    asc = folder / deepfake.ASC_FOLDER / "1.asc"
    asc.write_text("\n".join(asc.read_text().splitlines()[:4000]))
    with pytest.raises(DataFormatError, match=r"1\.asc: shape \(4000, 8\)"):
        deepfake.load_labelled(root)
    truth = pd.read_csv(folder / deepfake.GROUND_TRUTH_FILE).drop(columns=["qt"])
    truth.to_csv(folder / deepfake.GROUND_TRUTH_FILE, index=False)
    with pytest.raises(
        DataFormatError, match=r"ground_truth\.csv: none of the columns \('qt', 'qtinterval'\)"
    ):
        deepfake.load_ground_truth(root)


def test_unknown_lead_names_the_record(root):
    nl.write_ptbxl(root / "ptb-xl", PTBXL_CODES[:2], with_500=False)
    with pytest.raises(DataFormatError, match=r"ecg_id 1: leads \['V7'\] not in"):
        ptbxl.load_labelled(root, fs_hz=100, lead_names=("I", "V7"))
    nl.write_ptbdb(root / "ptbdb", {"patient104/s0306lre": "Healthy control"})
    with pytest.raises(DataFormatError, match=r"s0306lre\.hea: leads \['V7'\] not in"):
        ptbdb.load_record("patient104/s0306lre", root, lead_names=("I", "V7"))
    assert ptbdb.load_record("patient104/s0306lre", root, lead_names=("V1", "I")).lead_names == ("V1", "I")
