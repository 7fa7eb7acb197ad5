"""LUDB reader: native-layout files written here, the real 150 records when present."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import wfdb

import ecglib.data
from ecglib.data import DataFormatError, DataMissingError, ludb

# --------------------------------------------------------------------------- a tiny LUDB in tmp_path

CSV_TEXT = (
    "ID,Sex,Age,Rhythms,Electric axis of the heart,Conduction abnormalities,Extrasystolies,"
    "Hypertrophies,Cardiac pacing,Ischemia,Non-specific repolarization abnormalities,Other states\n"
    '1,"F\n","51\n",Sinus bradycardia,Electric axis of the heart: normal,,,"Left ventricular overload\n'
    'Left ventricular hypertrophy",,,,\n'
    '2,"M\n",">89\n",Atrial fibrillation,,,,,,,,\n'
)

# one beat: P (onset, peak, offset), QRS, T in samples; three beats 1 s apart
BEAT = {"p": (100, 120, 150), "N": (180, 200, 230), "t": (330, 380, 430)}


def _beat_annotations(n_beats: int = 3) -> tuple[list[int], list[str]]:
    samples, symbols = [], []
    for beat in range(n_beats):
        for symbol in ("p", "N", "t"):
            onset, peak, offset = (value + 500 * beat for value in BEAT[symbol])
            samples += [onset, peak, offset]
            symbols += ["(", symbol, ")"]
    return samples, symbols


def _write_ludb(root, record_numbers=(1, 2)):
    folder = root / "ludb"
    (folder / "data").mkdir(parents=True)
    (folder / "RECORDS").write_text("".join(f"data/{number}\n" for number in record_numbers))
    (folder / "ludb.csv").write_text(CSV_TEXT)
    rng = np.random.default_rng(0)
    samples, symbols = _beat_annotations()
    for number in record_numbers:
        signal_mv = rng.normal(0.0, 0.3, size=(ludb.N_SAMPLES, 12))
        wfdb.wrsamp(
            str(number),
            fs=500,
            units=["mV"] * 12,
            sig_name=list(ludb.FILE_LEAD_NAMES),
            p_signal=signal_mv,
            fmt=["16"] * 12,
            write_dir=str(folder / "data"),
            comments=["<age>: 51", "<sex>: F"],
        )
        for extension in ludb.FILE_LEAD_NAMES:
            _write_annotations(folder / "data", number, extension, samples, symbols)
    return folder


def _write_annotations(data_folder, number, extension, samples, symbols):
    """wfdb.wrann accepts letters-only extensions; LUDB's 'v1'... are written as 'tmp' then renamed."""
    wfdb.wrann(str(number), "tmp", np.array(samples), symbol=list(symbols), write_dir=str(data_folder))
    (data_folder / f"{number}.tmp").replace(data_folder / f"{number}.{extension}")


@pytest.fixture
def fake_root(tmp_path):
    _write_ludb(tmp_path)
    return tmp_path


def test_list_records_reads_records_file(fake_root):
    assert ludb.list_records(fake_root) == ["1", "2"]


def test_missing_dataset_raises_data_missing(tmp_path):
    with pytest.raises(DataMissingError, match="ludb"):
        ludb.list_records(tmp_path)


def test_load_record_units_leads_and_meta(fake_root):
    record = ludb.load_record("data/1", fake_root)
    assert record.signal_mv.shape == (5000, 12)
    assert record.signal_mv.dtype == np.float32
    assert record.lead_names == ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
    assert record.fs_hz == 500.0
    assert record.record_id == record.patient_id == "1"
    assert record.meta["rhythm"] == "Sinus bradycardia"
    assert record.meta["sex"] == "F" and record.meta["age"] == "51"
    assert record.meta["hypertrophies"].split("\n") == [
        "Left ventricular overload",
        "Left ventricular hypertrophy",
    ]
    # written with ~0.3 mV noise: values in mV, not ADC units or microvolts
    assert 0.2 < record.signal_mv.std() < 0.4
    # the same record under its other spellings
    np.testing.assert_array_equal(ludb.load_record(1, fake_root).signal_mv, record.signal_mv)


def test_load_diagnoses_strips_cells(fake_root):
    table = ludb.load_diagnoses(fake_root)
    assert list(table.index) == ["1", "2"]
    assert table.loc["2", "Age"] == ">89"
    assert table.loc["2", "Rhythms"] == "Atrial fibrillation"
    assert table.loc["2", "Hypertrophies"] == ""


def test_load_delineation_triplets(fake_root):
    waves = ludb.load_delineation("1", "aVF", fake_root)
    assert list(waves["wave"]) == ["P", "QRS", "T"] * 3
    assert (waves["layout"] == "triplet").all()
    qrs = waves[waves["wave"] == "QRS"]
    assert list(qrs["onset"]) == [180, 680, 1180]
    assert list(qrs["peak"]) == [200, 700, 1200]
    assert list(qrs["offset"]) == [230, 730, 1230]


def test_missing_annotation_file_names_the_file(fake_root):
    (fake_root / "ludb" / "data" / "1.v3").unlink()
    with pytest.raises(DataFormatError, match=r"1\.v3.*annotation file missing"):
        ludb.load_delineation("1", "V3", fake_root)


def test_missing_signal_file_names_the_file(fake_root):
    (fake_root / "ludb" / "data" / "2.dat").unlink()
    with pytest.raises(DataFormatError, match=r"2\.dat"):
        ludb.load_record("2", fake_root)


def test_malformed_triplet_names_the_file(fake_root):
    samples, symbols = _beat_annotations()
    symbols[4] = ")"  # the first QRS peak becomes a second offset: '( ) )'
    _write_annotations(fake_root / "ludb" / "data", 1, "ii", samples, symbols)
    with pytest.raises(DataFormatError, match=r"1\.ii.*malformed.*sample 230"):
        ludb.load_delineation("1", "II", fake_root)


def test_unknown_symbol_names_the_file(fake_root):
    samples, symbols = _beat_annotations()
    symbols[1] = "V"
    _write_annotations(fake_root / "ludb" / "data", 1, "i", samples, symbols)
    with pytest.raises(DataFormatError, match=r"1\.i.*unknown annotation symbol 'V'"):
        ludb.load_delineation("1", "I", fake_root)


def test_unknown_lead_and_bad_record_id(fake_root):
    with pytest.raises(ValueError, match="unknown LUDB lead"):
        ludb.load_delineation("1", "V7", fake_root)
    with pytest.raises(ValueError, match="record ids"):
        ludb.load_record("x1", fake_root)


@pytest.mark.parametrize(
    ("symbols", "layouts", "onsets", "offsets"),
    [
        ("N)(t)", ["no_onset", "triplet"], [None, 2], [1, 4]),
        ("(t(p)", ["no_offset", "triplet"], [0, 2], [None, 4]),
        ("N()(t)", ["peak_before", "triplet"], [1, 3], [2, 5]),
        ("(p)()N", ["triplet", "peak_after"], [0, 3], [2, 4]),
        ("(p)()(N)", ["triplet", "triplet"], [0, 5], [2, 7]),  # unlabelled pair skipped
        ("(((ttt)))", ["merged"], [1], [7]),
    ],
)
def test_parse_waves_accepts_published_quirks(symbols, layouts, onsets, offsets):
    waves = ludb.parse_waves(list(symbols), np.arange(len(symbols)))
    assert list(waves["layout"]) == layouts
    assert [None if pd.isna(value) else value for value in waves["onset"]] == onsets
    assert [None if pd.isna(value) else value for value in waves["offset"]] == offsets


@pytest.mark.parametrize("symbols", ["(p))", "((p)", "(N)(t)(", "((pN))", "(()"])
def test_parse_waves_rejects_malformed(symbols):
    with pytest.raises(DataFormatError, match="demo.ann"):
        ludb.parse_waves(list(symbols), np.arange(len(symbols)), source="demo.ann")


def test_info_facts():
    info = ecglib.data.info("ludb")
    assert info.version == "1.0.1" and info.folder == "ludb" and info.fs_hz == 500.0
    assert "ODC-By" in info.licence and "physionet.org/content/ludb/1.0.1" in info.homepage
    assert len(info.lead_names) == 12


# --------------------------------------------------------------------------- the real records


@pytest.fixture(scope="module")
def real_root():
    folder = ecglib.data.dataset_folder("ludb")
    if not (folder / "RECORDS").is_file():
        pytest.skip(f"LUDB not found under {folder} (set $ECGLIB_DATA)")
    return ecglib.data.data_root()


@pytest.mark.real_data
def test_real_records_load(real_root):
    record_ids = ludb.list_records(real_root)
    assert len(record_ids) >= 150
    diagnoses = ludb.load_diagnoses(real_root)
    assert set(record_ids) <= set(diagnoses.index)
    record = ludb.load_record(record_ids[0], real_root)
    assert record.signal_mv.shape == (5000, 12)
    assert record.meta["rhythm"] == "Sinus bradycardia"  # ludb.csv, record 1
    # aVR = -(I + II) / 2 holds in the recorded data to a few microvolts on average
    # (III = II - I holds only loosely in LUDB: mean error ~0.02 mV, max ~0.4 mV)
    avr_mv = -(record.signal_mv[:, 0] + record.signal_mv[:, 1]) / 2
    assert np.mean(np.abs(avr_mv - record.signal_mv[:, 3])) < 0.01
    peak_to_peak_mv = np.ptp(record.signal_mv[:, 1])
    assert 0.3 < peak_to_peak_mv < 10


@pytest.mark.real_data
@pytest.mark.slow
def test_real_delineations_all_records_all_leads(real_root):
    """Every one of the 150 x 12 annotation files parses; quirks stay rare."""
    layouts: dict[str, int] = {}
    n_files = 0
    for record_id in ludb.list_records(real_root)[:150]:
        for lead in ludb.LEAD_NAMES:
            waves = ludb.load_delineation(record_id, lead, real_root)
            n_files += 1
            assert len(waves) > 0
            assert set(waves["wave"]) <= {"P", "QRS", "T"}
            complete = waves.dropna(subset=["onset", "offset"])
            assert (complete["onset"] <= complete["offset"]).all()
            assert waves["peak"].between(0, 4999).all()
            for layout, count in waves["layout"].value_counts().items():
                layouts[layout] = layouts.get(layout, 0) + count
    assert n_files == 1800
    n_waves = sum(layouts.values())
    assert layouts["triplet"] / n_waves > 0.99


def test_lead_signals_reads_lead_ii_in_records_order(fake_root):
    signals_mv, patient_ids = ludb.lead_signals("II", fake_root)
    assert signals_mv.shape == (2, 5000) and signals_mv.dtype == np.float32
    np.testing.assert_array_equal(signals_mv[1], ludb.load_record("2", fake_root).signal_mv[:, 1])
    assert patient_ids.tolist() == ["1", "2"]
    with pytest.raises(KeyError, match="LUDB 1 has no lead 'MLII'"):
        ludb.lead_signals("MLII", fake_root)


# --------------------------------------------------------------------------- interval targets


def test_interval_targets_on_a_tiny_ludb(fake_root):
    """Record 1: three beats 500 samples apart; V1's QRS is wider and its T ends later, aVR's P starts earlier."""
    data = fake_root / "ludb" / "data"
    samples, symbols = _beat_annotations()
    shifted = {180: 175, 230: 240, 430: 440}  # V1: QRS onset 175, offset 240, T offset 440 (first beat)
    v1 = [shifted.get(sample % 500, sample % 500) + 500 * (sample // 500) for sample in samples]
    _write_annotations(data, 1, "v1", v1, symbols)
    avr = [95 + 500 * (sample // 500) if sample % 500 == 100 else sample for sample in samples]
    _write_annotations(data, 1, "avr", avr, symbols)

    targets = ludb.interval_targets("1", fake_root)
    # global: earliest QRS onset 175 (V1) to latest offset 240 (V1) = 65 samples at 500 Hz
    assert targets["qrs_ms"] == pytest.approx(130.0)
    assert targets["qt_ms"] == pytest.approx((440 - 175) * 2.0)  # latest T offset - earliest QRS onset
    assert targets["pr_ms"] == pytest.approx((175 - 95) * 2.0)  # earliest QRS onset - earliest P onset
    assert targets["hr_bpm"] == pytest.approx(60.0)  # RR 500 samples = 1000 ms
    assert targets["n_beats"] == 3 and targets["reason"] == ""
    # median over leads: ten leads of 12 say QRS 50 samples
    median = ludb.interval_targets("1", fake_root, definition="median")
    assert median["qrs_ms"] == pytest.approx(100.0) and median["pr_ms"] == pytest.approx(160.0)

    # record 2 annotated without P waves (as LUDB does for atrial fibrillation): PR is NaN, with why
    keep = [index for index, symbol in enumerate(symbols) if not (index % 9 < 3)]  # drop each '( p )'
    for extension in ludb.FILE_LEAD_NAMES:
        _write_annotations(data, 2, extension, [samples[i] for i in keep], [symbols[i] for i in keep])
    no_p = ludb.interval_targets("2", fake_root)
    assert np.isnan(no_p["pr_ms"]) and "no P wave annotated" in no_p["reason"]
    assert no_p["qrs_ms"] == pytest.approx(100.0)
    table = ludb.interval_targets_table(root=fake_root)
    assert list(table.index) == ["1", "2"] and table.loc["1", "qrs_ms"] == pytest.approx(130.0)
    with pytest.raises(ValueError, match="definition"):
        ludb.interval_targets("1", fake_root, definition="mean")


@pytest.mark.real_data
def test_interval_targets_of_record_1_computed_by_hand(real_root):
    """LUDB record 1 (sinus bradycardia), global definition, values worked out from its 12 annotation files.

    Per beat, the earliest QRS onset / latest QRS offset over the 12 leads (samples at 500 Hz):
    (633, 690), (1314, 1374), (1977, 2029), (2617, 2673), (3286, 3347), (3944, 4002): QRS 57, 60,
    52, 56, 61, 58 samples, median 57.5 = 115 ms. Latest T offsets of beats 0-4 (beat 5 has no T):
    899, 1580, 2250, 2891, 3551: QT 266, 266, 273, 274, 265 samples, median 266 = 532 ms. Earliest
    P onsets of beats 1-5 (beat 0 has none): 1240, 1906, 2538, 3217, 3875: PR 74, 71, 79, 69, 69,
    median 71 = 142 ms. QRS peaks (median over leads): 661.5, 1341, 1999, 2642, 3313, 3968: RR
    679.5, 658, 643, 671, 655 samples, median 658 = 1316 ms, HR 60000 / 1316 = 45.59 bpm.
    """
    targets = ludb.interval_targets("1", real_root)
    assert targets["qrs_ms"] == pytest.approx(115.0)
    assert targets["qt_ms"] == pytest.approx(532.0)
    assert targets["pr_ms"] == pytest.approx(142.0)
    assert targets["hr_bpm"] == pytest.approx(60000.0 / 1316.0)
    assert targets["n_beats"] == 6
    # an atrial fibrillation record: the cardiologists marked no P wave
    assert np.isnan(ludb.interval_targets("51", real_root)["pr_ms"])


def test_interval_targets_table_is_cached_until_an_annotation_changes(fake_root, tmp_path, monkeypatch):
    monkeypatch.setenv("ECGLIB_CACHE", str(tmp_path / "cache"))
    fresh = ludb.interval_targets_table(root=fake_root)
    measured = []
    original = ludb.interval_targets
    monkeypatch.setattr(ludb, "interval_targets", lambda *a, **k: measured.append(a[0]) or original(*a, **k))
    first = ludb.interval_targets_table(root=fake_root, use_cache=True)
    second = ludb.interval_targets_table(root=fake_root, use_cache=True)
    assert measured == ["1", "2"]  # the second table was read from the cache
    for table in (first, second):
        pd.testing.assert_frame_equal(table, fresh)
    annotation = fake_root / "ludb" / "data" / "2.ii"
    stat = annotation.stat()
    os.utime(annotation, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    ludb.interval_targets_table(root=fake_root, use_cache=True)
    assert measured == ["1", "2", "1", "2"]
    ludb.interval_targets_table(root=fake_root, definition="median", use_cache=True)
    assert len(measured) == 6  # another definition, another entry
