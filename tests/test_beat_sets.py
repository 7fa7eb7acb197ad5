"""Kachuee-format beat sets from real records: LUDB MI vs not, MIT-BIH AAMI classes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from native_layouts import write_ludb

import ecglib.data
from ecglib.data import DataFormatError, beat_sets, ludb, mitbih

# --------------------------------------------------------------------------- LUDB labels


def test_ludb_mi_labels_mapping():
    diagnoses = pd.DataFrame(
        {
            "Ischemia": ["Stemi: anterior wall\nScar formation: septal", "", "Ischemia: apical", ""],
            "Cardiac pacing": ["", "", "Unipolar ventricular pacing", ""],
            "Hypertrophies": ["", "Left ventricular hypertrophy", "", ""],
        },
        index=pd.Index(["1", "2", "3", "4"], name="record_id"),
    )
    labels = beat_sets.ludb_mi_labels(diagnoses)
    assert labels["mi"].tolist() == [1, 0, 1, 0]
    assert labels["paced"].tolist() == [False, False, True, False]
    assert labels.loc["1", "finding"] == "Stemi: anterior wall; Scar formation: septal"
    with pytest.raises(DataFormatError, match="Cardiac pacing"):
        beat_sets.ludb_mi_labels(diagnoses.drop(columns="Cardiac pacing"))


@pytest.fixture
def fake_ludb_root(tmp_path):
    write_ludb(
        tmp_path / "ludb",
        {
            1: ("Stemi: anterior wall\nScar formation: septal", ""),
            2: ("", ""),
            3: ("Ischemia: apical", "Unipolar ventricular pacing"),
        },
    )
    return tmp_path


def test_ludb_mi_beats_on_native_layout(fake_ludb_root):
    beats = beat_sets.ludb_mi_beats(root=fake_ludb_root)
    assert beats.exclusions["paced_record"] == 1  # record 3
    assert beats.signals_mv.shape == (16, 187, 1) and beats.signals_mv.dtype == np.float32
    assert beats.fs_hz == 125.0 and beats.lead_names == ("II",) and beats.units == "minmax-0-1"
    assert beats.target_names == beat_sets.LUDB_MI_CLASSES
    np.testing.assert_array_equal(beats.patient_ids, ["1"] * 8 + ["2"] * 8)
    np.testing.assert_array_equal(beats.targets, [1] * 8 + [0] * 8)
    assert beats.signals_mv.min() >= 0 and beats.signals_mv.max() <= 1
    # RR 600 samples at 500 Hz = 150 at 125 Hz: each beat is 180 samples then zero padding
    assert (beats.signals_mv[:7, 180:, 0] == 0).all() and (beats.signals_mv[:7, 170:180, 0] != 0).all()
    with_paced = beat_sets.ludb_mi_beats(root=fake_ludb_root, exclude_paced=False)
    assert len(with_paced) == 24 and (with_paced.targets[with_paced.patient_ids == "3"] == 1).all()
    with pytest.raises(ValueError, match="unknown LUDB lead"):
        beat_sets.ludb_mi_beats(root=fake_ludb_root, lead="X")


# --------------------------------------------------------------------------- real data


def _real_root(name: str):
    folder = ecglib.data.dataset_folder(name)
    if not (folder / "RECORDS").is_file():
        pytest.skip(f"{name} not found under {folder} (set $ECGLIB_DATA)")
    return ecglib.data.data_root()


@pytest.mark.real_data
@pytest.mark.slow
def test_real_ludb_mi_beats_counts():
    root = _real_root("ludb")
    labels = beat_sets.ludb_mi_labels(ludb.load_diagnoses(root))
    assert int(labels["paced"].sum()) == 10
    assert labels.loc[~labels["paced"], "mi"].value_counts().to_dict() == {0: 93, 1: 47}
    beats = beat_sets.ludb_mi_beats(root=root)
    assert beats.exclusions["paced_record"] == 10
    records = pd.DataFrame({"record": beats.patient_ids, "mi": beats.targets}).drop_duplicates()
    assert records["record"].is_unique  # one label per record
    assert records["mi"].value_counts().to_dict() == {0: 93, 1: 47}
    assert np.bincount(beats.targets).tolist() == [855, 437]


@pytest.mark.real_data
def test_real_mitbih_beats_few_records():
    root = _real_root("mitbih")
    beats = beat_sets.mitbih_beats(["100", "102", "208"], root=root)
    assert beats.exclusions["record_without_lead"] == 1  # 102 has no MLII
    assert set(beats.patient_ids) == {"100", "208"}
    assert beats.target_names == mitbih.AAMI_CLASSES and beats.signals_mv.shape[1:] == (187, 1)
    annotated = {
        record: pd.Series(mitbih.load_annotations(record, root).beat_classes).value_counts()
        for record in ("100", "208")
    }
    for record, counts in annotated.items():
        got = pd.Series(np.asarray(mitbih.AAMI_CLASSES)[beats.targets[beats.patient_ids == record]])
        # every annotated beat except those alone in a window or after the last full window
        assert 0 <= counts.sum() - len(got) <= 20
        assert set(got.unique()) == set(counts.index)
