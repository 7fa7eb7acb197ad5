"""predict_intervals / `ecglib predict-intervals`: a tiny saved model applied to WFDB records, good and bad."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import wfdb

import ecglib.data
from ecglib import cli, preprocess
from ecglib.data import DataFormatError
from ecglib.models import make_model
from ecglib.predict import (
    ModelFileError,
    load_interval_model,
    predict_intervals,
    prepare_record,
    save_interval_model,
)

TINY = {"stem_channels": (4, 4), "block_channels": 4, "n_blocks": 1}


def _card(**changes) -> dict:
    card = {
        "trained_on": "nothing: a test model with random weights",
        "target_names": ["hr_bpm", "pr_ms", "qrs_ms", "qt_ms"],
        "target_units": ["bpm", "ms", "ms", "ms"],
        "fs_hz": 500.0,
        "lead_names": list(preprocess.LEADS_8),
        "n_samples": 5000,
        "input_units": "mV",
        "input_normalisation": "none",
        "target_mean": [70.0, 160.0, 100.0, 400.0],
        "target_std": [10.0, 20.0, 10.0, 30.0],
    }
    card.update(changes)
    return card


@pytest.fixture
def saved_model(tmp_path):
    model = make_model("interval_resnet", seed=0, **TINY)
    return save_interval_model(
        tmp_path / "tiny.pt", model, family="interval_resnet", model_kwargs=TINY, card=_card()
    )


def _write_record(folder, name, signal, fs_hz, lead_names, units):
    folder.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp(
        name,
        fs=fs_hz,
        units=list(units),
        sig_name=list(lead_names),
        p_signal=signal,
        fmt=["16"] * signal.shape[1],
        write_dir=str(folder),
    )
    return folder / name


def _ecg_mv(n_samples, fs_hz, n_leads=12, seed=0):
    t = np.arange(n_samples) / fs_hz
    rng = np.random.default_rng(seed)
    waves = np.sin(2 * np.pi * 1.2 * t)[:, None] * rng.uniform(0.2, 1.5, n_leads)
    return waves + rng.normal(0, 0.02, (n_samples, n_leads))


def test_save_and_load_round_trip(saved_model):
    model, card = load_interval_model(saved_model)
    again = make_model("interval_resnet", seed=0, **TINY).eval()
    x = torch.randn(2, 8, 5000)
    with torch.no_grad():
        assert torch.allclose(model(x), again(x))
    assert card["lead_names"] == list(preprocess.LEADS_8) and card["fs_hz"] == 500.0


def test_record_at_another_rate_unit_and_lead_order_is_converted(tmp_path, saved_model):
    """A 1000 Hz record in microvolts, V leads first plus an extra lead: same input as done by hand."""
    signal_mv = _ecg_mv(12_000, 1000.0)
    names = list(preprocess.LEADS_12[6:] + preprocess.LEADS_12[:6])
    file_names = [name.upper() for name in names] + ["X"]  # PTB-XL spells AVR, AVL, AVF
    written_uv = np.c_[signal_mv, signal_mv[:, :1]] * 1000.0
    base = _write_record(tmp_path, "uv1000", written_uv, 1000, file_names, ["uV"] * 13)
    stored_mv = wfdb.rdrecord(str(base)).p_signal[:, :12] / 1000.0  # after 16-bit quantisation
    eight_mv = preprocess.select_leads(stored_mv, names, preprocess.LEADS_8)
    by_hand = preprocess.resample(eight_mv, 1000.0, 500.0)[:5000]
    prepared = prepare_record(base, _card())
    assert prepared.shape == (5000, 8) and prepared.dtype == np.float32
    np.testing.assert_allclose(prepared, by_hand, atol=1e-5)
    assert 0.1 < np.abs(prepared).max() < 3  # millivolts, not microvolts

    model, card = load_interval_model(saved_model)
    table = predict_intervals(saved_model, [base, str(base) + ".hea"])
    with torch.no_grad():
        raw = model(torch.from_numpy(by_hand.T[None].copy())).numpy()[0]
    expected = raw * np.array(card["target_std"]) + np.array(card["target_mean"])
    np.testing.assert_allclose(table.iloc[0].to_numpy(), expected, rtol=1e-4)
    np.testing.assert_allclose(table.iloc[1].to_numpy(), expected, rtol=1e-4)
    assert list(table.columns) == ["hr_bpm", "pr_ms", "qrs_ms", "qt_ms"]


def test_bad_records_raise_errors_naming_them(tmp_path, saved_model):
    eight = list(preprocess.LEADS_8)
    short = _write_record(tmp_path, "short", _ecg_mv(2400, 500.0, 8), 500, eight, ["mV"] * 8)
    with pytest.raises(DataFormatError, match=r"short: 4\.80 s long; the model needs 10\.00 s"):
        predict_intervals(saved_model, [short])
    seven = _write_record(tmp_path, "seven", _ecg_mv(5000, 500.0, 7), 500, eight[:7], ["mV"] * 7)
    with pytest.raises(DataFormatError, match=r"seven: leads \['V6'\] missing"):
        predict_intervals(saved_model, [seven])
    volts = _write_record(tmp_path, "furlongs", _ecg_mv(5000, 500.0, 8), 500, eight, ["mV"] * 7 + ["furlong"])
    with pytest.raises(DataFormatError, match=r"furlongs: lead V6 is in unit 'furlong'"):
        predict_intervals(saved_model, [volts])
    with_nan = _ecg_mv(5000, 500.0, 8)
    with_nan[100:200, 3] = np.nan
    nan_record = _write_record(tmp_path, "gappy", with_nan, 500, eight, ["mV"] * 8)
    with pytest.raises(DataFormatError, match=r"gappy: 100 NaN/inf samples"):
        predict_intervals(saved_model, [nan_record])
    with pytest.raises(DataFormatError, match="no WFDB header"):
        predict_intervals(saved_model, [tmp_path / "absent"])
    # and through the command line: exit status 1, the record named on stderr
    assert cli.main(["predict-intervals", str(saved_model), str(seven)]) == 1


def test_bad_model_files(tmp_path, saved_model):
    with pytest.raises(ModelFileError, match="not found"):
        load_interval_model(tmp_path / "none.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(ModelFileError, match="other.pt: not an ecglib-interval-model"):
        load_interval_model(tmp_path / "other.pt")
    model = make_model("interval_resnet", seed=0, **TINY)
    card = _card()
    del card["input_normalisation"]
    with pytest.raises(ModelFileError, match="lacks \\['input_normalisation'\\]"):
        save_interval_model(tmp_path / "x.pt", model, family="interval_resnet", model_kwargs=TINY, card=card)
    with pytest.raises(ModelFileError, match="target_std has 3 entries"):
        save_interval_model(
            tmp_path / "x.pt",
            model,
            family="interval_resnet",
            model_kwargs=TINY,
            card=_card(target_std=[1, 1, 1]),
        )
    # weights of another size than the family's arguments say
    save_interval_model(
        tmp_path / "wrong.pt",
        model,
        family="interval_resnet",
        model_kwargs={**TINY, "n_blocks": 2},
        card=_card(),
    )
    with pytest.raises(ModelFileError, match="do not fit"):
        load_interval_model(tmp_path / "wrong.pt")


@pytest.fixture(scope="module")
def real_root():
    root = ecglib.data.data_root()
    if not (root / "ludb" / "RECORDS").is_file() or not (root / "mitdb" / "100.hea").is_file():
        pytest.skip(f"LUDB or MIT-BIH not under {root} (set $ECGLIB_DATA)")
    return root


@pytest.mark.real_data
def test_real_ludb_record_and_mitbih_record(real_root, saved_model, capsys):
    ludb_record = real_root / "ludb" / "data" / "1"
    table = predict_intervals(saved_model, [ludb_record])
    assert table.shape == (1, 4) and np.isfinite(table.to_numpy()).all()
    assert cli.main(["predict-intervals", str(saved_model), str(ludb_record)]) == 0
    printed = capsys.readouterr().out
    assert "qt_ms [ms]" in printed and str(ludb_record) in printed
    # MIT-BIH: two leads (MLII, V1/V5) at 360 Hz; the 8 leads are not there
    mitbih_record = real_root / "mitdb" / "100"
    with pytest.raises(
        DataFormatError, match=r"mitdb/100: leads \['I', 'II', 'V1', 'V2', 'V3', 'V4', 'V6'\] missing"
    ):
        predict_intervals(saved_model, [mitbih_record])
    assert cli.main(["predict-intervals", str(saved_model), str(mitbih_record)]) == 1
    assert "mitdb/100: leads" in capsys.readouterr().err
