"""The inter-patient DS1/DS2 split of de Chazal et al. 2004."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ecglib.data
from ecglib.data import mitbih

# de Chazal, O'Dwyer & Reilly 2004, as listed in the paper (and REFERENCE-NOTES.md)
DS1 = [
    101,
    106,
    108,
    109,
    112,
    114,
    115,
    116,
    118,
    119,
    122,
    124,
    201,
    203,
    205,
    207,
    208,
    209,
    215,
    220,
    223,
    230,
]
DS2 = [
    100,
    103,
    105,
    111,
    113,
    117,
    121,
    123,
    200,
    202,
    210,
    212,
    213,
    214,
    219,
    221,
    222,
    228,
    231,
    232,
    233,
    234,
]


def test_record_lists_match_de_chazal():
    assert list(mitbih.DECHAZAL_DS1) == [str(record) for record in DS1]
    assert list(mitbih.DECHAZAL_DS2) == [str(record) for record in DS2]
    assert mitbih.PACED_RECORDS == ("102", "104", "107", "217")


def test_no_record_on_both_sides_and_every_record_placed_once():
    ds1, ds2, paced = set(mitbih.DECHAZAL_DS1), set(mitbih.DECHAZAL_DS2), set(mitbih.PACED_RECORDS)
    assert not ds1 & ds2 and not (ds1 | ds2) & paced
    assert len(ds1) == len(ds2) == 22
    assert sorted(ds1 | ds2 | paced) == sorted(mitbih.RECORD_IDS)


def test_the_one_patient_on_both_sides_is_201_202():
    """Record-disjoint, not strictly patient-disjoint: 201 and 202 are one patient (as published)."""
    patients_1 = {mitbih.patient_id(record) for record in mitbih.DECHAZAL_DS1}
    patients_2 = {mitbih.patient_id(record) for record in mitbih.DECHAZAL_DS2}
    assert patients_1 & patients_2 == {"201"}


def test_inter_patient_split_indices():
    record_ids = np.array(["101", "100", "102", "201", "202", "217", "101"])
    ds1, ds2 = mitbih.inter_patient_split(record_ids)
    np.testing.assert_array_equal(ds1, [0, 3, 6])
    np.testing.assert_array_equal(ds2, [1, 4])
    assert ds1.dtype == np.int64
    with pytest.raises(ValueError, match="not MIT-BIH records"):
        mitbih.inter_patient_split(["101", "999"])


@pytest.mark.real_data
def test_real_beat_counts_per_aami_class_match_de_chazal():
    """Reference annotations per AAMI class in DS1 and DS2 equal de Chazal et al.'s Table I."""
    folder = ecglib.data.dataset_folder("mitbih")
    if not (folder / "RECORDS").is_file():
        pytest.skip(f"MIT-BIH not found under {folder} (set $ECGLIB_DATA to a data root holding mitdb/)")
    rows = []
    for part, records in (("DS1", mitbih.DECHAZAL_DS1), ("DS2", mitbih.DECHAZAL_DS2)):
        for record in records:
            rows += [(part, aami) for aami in mitbih.load_annotations(record).beat_classes]
    counts = pd.crosstab(*zip(*rows))[list(mitbih.AAMI_CLASSES)]
    assert counts.loc["DS1"].tolist() == [45866, 944, 3788, 415, 8]
    assert counts.loc["DS2"].tolist() == [44259, 1837, 3221, 388, 7]
