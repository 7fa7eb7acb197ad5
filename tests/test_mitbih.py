"""MIT-BIH reader: real records (skipped without the data) and broken copies in tmp_path."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import ecglib.data
from ecglib.data import DataFormatError, DataMissingError, mitbih


@pytest.fixture(scope="module")
def mitbih_root() -> Path:
    """The data root that holds MIT-BIH (from $ECGLIB_DATA); skip when absent."""
    root = ecglib.data.data_root()
    folder = ecglib.data.dataset_folder("mitbih", root)
    if not (folder / "RECORDS").is_file():
        pytest.skip(f"MIT-BIH not found under {folder} (set $ECGLIB_DATA to a data root holding mitdb/)")
    return root


@pytest.fixture
def copy_root(mitbih_root, tmp_path) -> Path:
    """A data root in tmp_path holding record 100 (copied, so tests may break it)."""
    target = tmp_path / "mitdb"
    target.mkdir()
    source = ecglib.data.dataset_folder("mitbih", mitbih_root)
    for suffix in (".hea", ".dat", ".atr"):
        shutil.copyfile(source / f"100{suffix}", target / f"100{suffix}")
    (target / "RECORDS").write_text("100\n")
    return tmp_path


def test_info_facts():
    info = ecglib.data.info("mitbih")
    assert info.folder == "mitdb" and info.version == "1.0.0"
    assert info.homepage == "https://physionet.org/content/mitdb/1.0.0/"
    assert "ODC-By" in info.licence and "Moody" in info.citation
    assert info.fs_hz == 360


def test_patient_ids_merge_201_and_202():
    assert mitbih.patient_id("202") == mitbih.patient_id("201") == "201"
    assert mitbih.patient_id("100") == "100"
    assert len({mitbih.patient_id(r) for r in mitbih.RECORD_IDS}) == 47
    with pytest.raises(ValueError, match="unknown MIT-BIH record"):
        mitbih.patient_id("999")


def test_aami_map_covers_the_documented_symbols():
    expected = {"N": "NLRej", "S": "AaJS", "V": "VE", "F": "F", "Q": "/fQ"}
    for aami_class, symbols in expected.items():
        for symbol in symbols:
            assert mitbih.AAMI_CLASS_OF_SYMBOL[symbol] == aami_class
    assert set(mitbih.AAMI_CLASS_OF_SYMBOL) == set("".join(expected.values()))


def test_absent_dataset_names_download_command(tmp_path):
    with pytest.raises(DataMissingError, match="ecglib data download mitbih"):
        mitbih.list_records(tmp_path)
    with pytest.raises(DataMissingError, match="ecglib data download mitbih"):
        mitbih.load_record("100", tmp_path)


@pytest.mark.real_data
def test_lists_48_records(mitbih_root):
    records = mitbih.list_records(mitbih_root)
    assert len(records) == 48 and records[0] == "100" and set(records) == set(mitbih.RECORD_IDS)


@pytest.mark.real_data
def test_load_record_100(mitbih_root):
    record = mitbih.load_record("100", mitbih_root)
    assert record.signal_mv.shape == (650_000, 2) and record.signal_mv.dtype == np.float32
    assert record.lead_names == ("MLII", "V5") and record.fs_hz == 360
    assert record.patient_id == "100" and record.source == "mitbih"
    # first samples: ADC 995 - baseline 1024 (MLII) at gain 200 adc/mV
    assert record.signal_mv[0, 0] == pytest.approx(-0.145, abs=1e-6)
    assert mitbih.lead_index(record, "MLII") == 0 and mitbih.lead_index(record, "V5") == 1
    # typical R peak amplitude of MLII is around 1-2 mV
    assert 0.5 < np.percentile(record.signal_mv[:, 0], 99.9) < 3.0


@pytest.mark.real_data
def test_lead_names_come_from_the_header(mitbih_root):
    record = mitbih.load_record("114", mitbih_root)
    assert record.lead_names == ("V5", "MLII") and mitbih.lead_index(record, "MLII") == 1
    record = mitbih.load_record("102", mitbih_root)
    with pytest.raises(KeyError, match="no lead 'MLII'"):
        mitbih.lead_index(record, "MLII")


@pytest.mark.real_data
def test_annotations_record_100(mitbih_root):
    annotations = mitbih.load_annotations("100", mitbih_root)
    # PhysioNet's table for record 100: 2239 N, 33 A, 1 V (2273 beats)
    assert Counter(annotations.beat_symbols.tolist()) == {"N": 2239, "A": 33, "V": 1}
    assert Counter(annotations.beat_classes.tolist()) == {"N": 2239, "S": 33, "V": 1}
    assert annotations.beat_samples.dtype == np.int64 and np.all(np.diff(annotations.beat_samples) > 0)
    assert annotations.rhythms["rhythm"].tolist() == ["N"]
    assert annotations.rhythms["end_sample"].iloc[-1] == 650_000


@pytest.mark.real_data
def test_rhythm_intervals_record_203(mitbih_root):
    rhythms = mitbih.load_annotations("203", mitbih_root).rhythms
    assert {"AFIB", "VT"} <= set(rhythms["rhythm"])
    assert (rhythms["end_sample"] > rhythms["start_sample"]).all()
    # intervals tile the record from the first rhythm annotation to the end
    assert (rhythms["start_sample"].iloc[1:].to_numpy() == rhythms["end_sample"].iloc[:-1].to_numpy()).all()
    annotations = mitbih.load_annotations("203", mitbih_root)
    assert "+" not in set(annotations.beat_symbols) and "~" not in set(annotations.beat_symbols)


def test_missing_record_file_is_named(copy_root):
    (copy_root / "mitdb" / "100.dat").unlink()
    with pytest.raises(DataMissingError, match=r"100\.dat.*missing"):
        mitbih.load_record("100", copy_root)


def test_missing_annotation_file_is_named(copy_root):
    (copy_root / "mitdb" / "100.atr").unlink()
    assert mitbih.load_record("100", copy_root).signal_mv.shape == (650_000, 2)
    with pytest.raises(DataMissingError, match=r"100\.atr.*missing"):
        mitbih.load_annotations("100", copy_root)


def test_truncated_dat_is_a_format_error(copy_root):
    dat_path = copy_root / "mitdb" / "100.dat"
    dat_path.write_bytes(dat_path.read_bytes()[:300_000])
    with pytest.raises(DataFormatError, match=r"100\.dat: truncated"):
        mitbih.load_record("100", copy_root)


def test_corrupt_header_is_a_format_error(copy_root):
    (copy_root / "mitdb" / "100.hea").write_text("this is not a header\n\x00\x01\n")
    with pytest.raises(DataFormatError, match=r"100\.hea"):
        mitbih.load_record("100", copy_root)


def test_header_with_wrong_rate_is_a_format_error(copy_root):
    header_path = copy_root / "mitdb" / "100.hea"
    header_path.write_text(header_path.read_text().replace("100 2 360 650000", "100 2 250 650000"))
    with pytest.raises(DataFormatError, match=r"100\.hea: expected 2 signals at 360 Hz"):
        mitbih.load_record("100", copy_root)


def test_corrupt_annotation_file_is_a_format_error(copy_root):
    atr_path = copy_root / "mitdb" / "100.atr"
    atr_path.write_bytes(b"\xff" * 7)
    with pytest.raises(DataFormatError, match=r"100\.atr"):
        mitbih.load_annotations("100", copy_root)


def test_missing_records_list_is_named(copy_root):
    (copy_root / "mitdb" / "RECORDS").unlink()
    with pytest.raises(DataMissingError, match="RECORDS"):
        mitbih.list_records(copy_root)


# Beat counts per symbol over all 48 records, as published in PhysioNet's MIT-BIH
# directory ("Table 1: beats" of the database's documentation).
PHYSIONET_BEAT_COUNTS = {
    "N": 75052,
    "L": 8075,
    "R": 7259,
    "V": 7130,
    "/": 7028,
    "A": 2546,
    "f": 982,
    "F": 803,
    "j": 229,
    "a": 150,
    "E": 106,
    "J": 83,
    "Q": 33,
    "e": 16,
    "S": 2,
}


@pytest.mark.real_data
def test_all_48_records_and_all_beat_annotations_load(mitbih_root):
    symbols: Counter = Counter()
    for record_id in mitbih.list_records(mitbih_root):
        record = mitbih.load_record(record_id, mitbih_root)
        annotations = mitbih.load_annotations(record_id, mitbih_root)
        assert record.signal_mv.shape == (650_000, 2) and record.fs_hz == 360
        assert np.isfinite(record.signal_mv).all()
        assert annotations.beat_samples.min() >= 0 and annotations.beat_samples.max() < 650_000
        symbols.update(annotations.beat_symbols.tolist())
    assert dict(symbols) == PHYSIONET_BEAT_COUNTS
    assert sum(symbols.values()) == 109_494


# --- cut_records: the one loop over records ---------------------------------------------------


def _old_rhythm_loop(record_ids, root):
    """Jang et al.'s MIT-BIH loop as it was in ecglib/studies/jang2021.py (commit 27931d7)."""
    from ecglib import segment

    windows, labels_list, patients = [], [], []
    exclusions = {"record_without_lead": 0}
    for record_id in record_ids:
        record = mitbih.load_record(record_id, root)
        if "MLII" not in record.lead_names:
            exclusions["record_without_lead"] += 1
            continue
        column = record.lead_names.index("MLII")
        annotations = mitbih.load_annotations(record_id, root)
        cut = segment.rhythm_windows(
            record.signal_mv[:, column], annotations.rhythms, window_samples=int(round(10.0 * record.fs_hz))
        )
        for reason, count in cut.exclusions.items():
            exclusions[reason] = exclusions.get(reason, 0) + int(count)
        windows.append(cut.signals)
        labels_list.append(cut.labels)
        patients.append(np.full(len(cut.labels), record.patient_id))
    return (
        np.concatenate(windows),
        np.concatenate(labels_list).astype(str),
        np.concatenate(patients),
        exclusions,
    )


def _old_tile_loop(record_ids, root):
    """Jang et al.'s unlabelled 10 s MLII tiles as they were in ecglib/studies/jang2021.py (commit 27931d7)."""
    signals, patients = [], []
    window = int(round(10.0 * mitbih.MITBIH_FS_HZ))
    for record_id in record_ids:
        record = mitbih.load_record(record_id, root)
        if "MLII" not in record.lead_names:
            continue
        lead = record.signal_mv[:, record.lead_names.index("MLII")]
        n_windows = len(lead) // window
        signals.append(lead[: n_windows * window].reshape(n_windows, window))
        patients += [record.patient_id] * n_windows
    return np.concatenate(signals), np.asarray(patients, dtype=str)


@pytest.mark.real_data
def test_cut_records_gives_what_the_old_study_loops_gave(mitbih_root):
    from ecglib import segment

    records = ["202", "114", "102"]  # 202 is patient 201; 114 has MLII second; 102 has no MLII
    rhythm = mitbih.cut_records(
        lambda signal_mv, fs_hz, annotations: segment.rhythm_windows(
            signal_mv, annotations.rhythms, window_samples=int(round(10.0 * fs_hz))
        ),
        records,
        root=mitbih_root,
    )
    signals, labels, patients, exclusions = _old_rhythm_loop(records, mitbih_root)
    np.testing.assert_array_equal(rhythm.signals, signals)
    assert rhythm.signals.dtype == signals.dtype == np.float32
    np.testing.assert_array_equal(rhythm.labels.astype(str), labels)
    np.testing.assert_array_equal(rhythm.patient_ids, patients.astype(str))
    assert {"record_without_lead": len(rhythm.without_lead), **rhythm.exclusions} == exclusions
    assert rhythm.without_lead == ["102"] and set(rhythm.patient_ids) == {"201", "114"}
    assert [cut.lead for cut in rhythm.records] == ["MLII", "MLII"]

    tiles = mitbih.cut_records(
        lambda signal_mv, fs_hz, _: segment.tiles(signal_mv, window_samples=int(round(10.0 * fs_hz))),
        records,
        root=mitbih_root,
        annotations=False,
    )
    signals, patients = _old_tile_loop(records, mitbih_root)
    np.testing.assert_array_equal(tiles.signals, signals)
    np.testing.assert_array_equal(tiles.patient_ids, patients)
    assert len(tiles.files) == 9  # .hea, .dat, .atr of every record asked for


@pytest.mark.real_data
def test_cut_records_lead_fallbacks(mitbih_root):
    from ecglib import segment
    from ecglib.errors import LeadMissingError

    def cut(signal_mv, fs_hz, _):
        return segment.tiles(signal_mv, window_samples=int(fs_hz) * 60)

    first = mitbih.cut_records(cut, ["102"], root=mitbih_root, fallback="first_lead", annotations=False)
    record = mitbih.load_record("102", mitbih_root)
    assert first.records[0].lead == "V5" and first.without_lead == []
    np.testing.assert_array_equal(first.signals[0], record.signal_mv[: 360 * 60, 0])
    with pytest.raises(LeadMissingError, match="MIT-BIH record 102 has no lead 'MLII'"):
        mitbih.cut_records(cut, ["102"], root=mitbih_root, fallback="error", annotations=False)
    with pytest.raises(ValueError, match="fallback"):
        mitbih.cut_records(cut, ["102"], root=mitbih_root, fallback="skip")


def test_cut_records_without_the_dataset_names_the_download(tmp_path):
    with pytest.raises(DataMissingError, match="ecglib data download mitbih"):
        mitbih.cut_records(lambda *_: None, ["100"], root=tmp_path)
