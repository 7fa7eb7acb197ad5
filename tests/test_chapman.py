"""Chapman-Shaoxing reader: the real Diagnostics.csv and small files in the native layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ecglib.data
from ecglib.data import DataFormatError, DataMissingError, chapman
from ecglib.preprocess import LEADS_12

HEADER = "FileName,Rhythm,Beat,PatientAge,Gender,VentricularRate,AtrialRate,QRSDuration,QTInterval,QTCorrected,RAxis,TAxis,QRSCount,QOnset,QOffset,TOffset"
ROWS = [
    "MUSE_20180113_171327_27000,AFIB,RBBB TWC,85,MALE,117,234,114,356,496,81,-27,19,208,265,386",
    "MUSE_20180112_073319_29000,SB,TWC,59,FEMALE,52,52,92,432,401,76,42,8,215,261,431",
]


@pytest.fixture(scope="module")
def chapman_root() -> Path:
    root = ecglib.data.data_root()
    folder = ecglib.data.dataset_folder("chapman", root)
    if not (folder / "Diagnostics.csv").is_file() and not (folder / "Diagnostics.xlsx").is_file():
        pytest.skip(f"Chapman Diagnostics not found under {folder} (set $ECGLIB_DATA)")
    return root


def _signal_uv(seed: int = 0) -> np.ndarray:
    """A 5000 x 12 signal in microvolts whose limb leads obey Einthoven."""
    rng = np.random.default_rng(seed)
    time_s = np.arange(5000) / 500
    lead_i = 300 * np.sin(2 * np.pi * 1.2 * time_s) + rng.normal(0, 5, 5000)
    lead_ii = 900 * np.sin(2 * np.pi * 1.2 * time_s + 0.3) + rng.normal(0, 5, 5000)
    limb = [
        lead_i,
        lead_ii,
        lead_ii - lead_i,
        -(lead_i + lead_ii) / 2,
        lead_i - lead_ii / 2,
        lead_ii - lead_i / 2,
    ]
    chest = [rng.normal(0, 200, 5000) for _ in range(6)]
    return np.round(np.stack(limb + chest, axis=1), 3)


def _write_native(
    tmp_path: Path, signal_uv: np.ndarray, *, denoised: bool, header: str | None = None
) -> Path:
    base = tmp_path / "chapman"
    base.mkdir(exist_ok=True)
    (base / "Diagnostics.csv").write_text("\n".join([HEADER, *ROWS]) + "\n")
    sub = base / ("ECGDataDenoised" if denoised else "ECGData")
    sub.mkdir(exist_ok=True)
    frame = pd.DataFrame(signal_uv)
    if denoised and header is None:
        frame.to_csv(sub / "MUSE_20180113_171327_27000.csv", header=False, index=False)  # no header row
    else:
        frame.columns = (header or ",".join(LEADS_12)).split(",")
        frame.to_csv(sub / "MUSE_20180113_171327_27000.csv", index=False)
    return tmp_path


def test_info_facts():
    info = ecglib.data.info("chapman")
    assert info.folder == "chapman" and info.fs_hz == 500 and info.lead_names == LEADS_12
    assert info.licence == "CC BY 4.0" and "Zheng" in info.citation
    assert any("15652862" in url for url in info.source_urls)  # ECGDataDenoised.zip
    assert len(chapman.RHYTHM_NAMES) == 11 and chapman.RHYTHM_NAMES["SAAWR"].startswith("Sinus Atrium")


@pytest.mark.real_data
def test_real_diagnostics_csv(chapman_root):
    labels = chapman.load_labels(chapman_root)
    assert len(labels) == 10_646
    assert set(labels["Rhythm"]) == set(chapman.RHYTHM_CODES)
    counts = labels["Rhythm"].value_counts()
    assert counts["SB"] == 3889 and counts["SAAWR"] == 7
    assert labels["patient_id"].is_unique
    assert labels.attrs["exclusions"] == {"unknown_rhythm": 0}


def test_native_denoised_csv_is_read_in_millivolts(tmp_path):
    signal_uv = _signal_uv()
    root = _write_native(tmp_path, signal_uv, denoised=True)
    record = chapman.load_record("MUSE_20180113_171327_27000", root)
    assert record.signal_mv.shape == (5000, 12) and record.signal_mv.dtype == np.float32
    assert record.lead_names == LEADS_12 and record.fs_hz == 500
    np.testing.assert_allclose(record.signal_mv, signal_uv / 1000, atol=1e-6)
    assert np.abs(record.signal_mv[:, 1]).max() < 1.0  # 900 uV -> 0.9 mV
    # Einthoven survives the column order: I + III = II
    np.testing.assert_allclose(
        record.signal_mv[:, 0] + record.signal_mv[:, 2], record.signal_mv[:, 1], atol=1e-5
    )
    assert record.patient_id == "MUSE_20180113_171327_27000"


def test_native_raw_csv_with_header(tmp_path):
    signal_uv = _signal_uv(1)
    root = _write_native(tmp_path, signal_uv, denoised=False)
    record = chapman.load_record("MUSE_20180113_171327_27000", root, denoised=False)
    np.testing.assert_allclose(record.signal_mv, signal_uv / 1000, atol=1e-6)
    with pytest.raises(DataMissingError, match="ECGDataDenoised"):
        chapman.load_record("MUSE_20180113_171327_27000", root, denoised=True)


def test_header_with_wrong_lead_order_is_rejected(tmp_path):
    swapped = ",".join(["II", "I", *LEADS_12[2:]])
    root = _write_native(tmp_path, _signal_uv(), denoised=False, header=swapped)
    with pytest.raises(DataFormatError, match=r"MUSE_20180113_171327_27000\.csv: header names leads"):
        chapman.load_record("MUSE_20180113_171327_27000", root, denoised=False)


def test_short_or_nan_csv_is_a_format_error(tmp_path):
    root = _write_native(tmp_path, _signal_uv()[:4000], denoised=True)
    with pytest.raises(DataFormatError, match="4000 samples, expected 5000"):
        chapman.load_record("MUSE_20180113_171327_27000", root)
    signal_uv = _signal_uv()
    signal_uv[10, 3] = np.nan
    root = _write_native(tmp_path, signal_uv, denoised=True)
    with pytest.raises(DataFormatError, match="NaN"):
        chapman.load_record("MUSE_20180113_171327_27000", root)
    path = tmp_path / "chapman" / "ECGDataDenoised" / "MUSE_20180113_171327_27000.csv"
    path.write_text("1,2,3\n4,five,6\n")
    with pytest.raises(DataFormatError, match="MUSE_20180113_171327_27000.csv"):
        chapman.load_record("MUSE_20180113_171327_27000", root)


def test_labels_from_native_csv_and_unknown_code(tmp_path):
    root = _write_native(tmp_path, _signal_uv(), denoised=True)
    labels = chapman.load_labels(root)
    assert labels["Rhythm"].tolist() == ["AFIB", "SB"] and labels["Beat"].iloc[0] == "RBBB TWC"
    assert chapman.list_records(root) == ["MUSE_20180113_171327_27000", "MUSE_20180112_073319_29000"]
    diagnostics = tmp_path / "chapman" / "Diagnostics.csv"
    diagnostics.write_text("\n".join([HEADER, ROWS[0], ROWS[1].replace(",SB,", ",XYZ,")]) + "\n")
    with pytest.raises(DataFormatError, match=r"Diagnostics\.csv: row 3 .* unknown rhythm code 'XYZ'"):
        chapman.load_labels(root)
    skipped = chapman.load_labels(root, unknown_rhythm="skip")
    assert len(skipped) == 1 and skipped.attrs["exclusions"] == {"unknown_rhythm": 1}


def test_labels_from_xlsx(tmp_path):
    base = tmp_path / "chapman"
    base.mkdir()
    frame = pd.DataFrame([row.split(",") for row in ROWS], columns=HEADER.split(","))
    frame.to_excel(base / "Diagnostics.xlsx", index=False)
    labels = chapman.load_labels(tmp_path)
    assert labels["FileName"].tolist() == ["MUSE_20180113_171327_27000", "MUSE_20180112_073319_29000"]


def test_missing_column_and_missing_dataset(tmp_path):
    with pytest.raises(DataMissingError, match="ecglib data download chapman"):
        chapman.load_labels(tmp_path)
    base = tmp_path / "chapman"
    base.mkdir()
    with pytest.raises(DataMissingError, match="Diagnostics"):
        chapman.load_labels(tmp_path)
    (base / "Diagnostics.csv").write_text("FileName,Beat\nA,NONE\n")
    with pytest.raises(DataFormatError, match=r"missing column\(s\) \['Rhythm'"):
        chapman.load_labels(tmp_path)


@pytest.mark.real_data
def test_real_labels_copy_with_a_bad_row(chapman_root, tmp_path):
    source = ecglib.data.dataset_folder("chapman", chapman_root) / "Diagnostics.csv"
    if not source.is_file():
        pytest.skip("only Diagnostics.xlsx present")
    (tmp_path / "chapman").mkdir()
    lines = source.read_text().splitlines()
    fields = lines[101].split(",")
    fields[1] = "NSR"
    lines[101] = ",".join(fields)
    (tmp_path / "chapman" / "Diagnostics.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=r"row 102 .*'NSR'"):
        chapman.load_labels(tmp_path)


def test_lead_signals_reads_lead_ii_of_every_labelled_record(tmp_path):
    signal_uv = _signal_uv()
    root = _write_native(tmp_path, signal_uv, denoised=True)
    sub = tmp_path / "chapman" / "ECGDataDenoised"
    pd.DataFrame(_signal_uv(seed=1)).to_csv(sub / "MUSE_20180112_073319_29000.csv", header=False, index=False)
    signals_mv, labels = chapman.lead_signals("II", root, denoised=True)
    assert signals_mv.shape == (2, 5000) and signals_mv.dtype == np.float32
    np.testing.assert_allclose(signals_mv[0], signal_uv[:, 1] / 1000, atol=1e-6)
    assert labels["Rhythm"].tolist() == ["AFIB", "SB"]
    with pytest.raises(DataMissingError, match="ECGData.*ecglib data download chapman"):
        chapman.lead_signals("II", root, denoised=False)  # the raw waveforms are absent
