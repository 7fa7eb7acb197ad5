"""The DeepFake study (ecglib.studies.deepfake): quality gate, NaN targets per target, the selection
rule, the loss option, model sizes, missing data, and the smoke run's outputs."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from ecglib import claims, params, train
from ecglib.data import DataMissingError
from ecglib.data.splits import Split
from ecglib.studies import deepfake as df

RANGES = {"hr_bpm": [30.0, 220.0], "pr_ms": [60.0, 400.0], "qrs_ms": [40.0, 220.0], "qt_ms": [200.0, 650.0]}
TINY_SIZES = {
    "fc_hidden_features": [4],
    "resnet_stem_channels": [4, 4],
    "resnet_block_channels": 4,
    "resnet_block_kernel_size": 3,
    "resnet_n_blocks": 1,
    "vit_patch_size": 10,
    "vit_dim": 8,
    "vit_depth": 1,
    "vit_heads": 2,
    "vit_mlp_dim": 8,
    "vit_attention_scale": "head_dim",
}
SETTINGS = df.TrainSettings(
    epochs=1,
    lr=1e-3,
    batch_size=8,
    optimizer="adam",
    weight_decay=0.0,
    early_stopping_patience=None,
    loss="mae",
    report_split="test",
    finetune_lr=1e-3,
)


# --------------------------------------------------------------------------- quality gate


def test_quality_gate_counts_failed_and_implausible_per_target():
    targets = np.array(
        [
            [70.0, 160.0, 90.0, 400.0],  # all fine
            [np.nan, np.nan, np.nan, np.nan],  # measurement failed: dropped
            [300.0, 20.0, 95.0, 900.0],  # HR, PR and QT implausible; QRS kept
            [65.0, np.nan, 100.0, 380.0],  # no P wave: PR failed
        ]
    )
    gated, counts, keep = df.quality_gate(targets, plausible_ranges=RANGES)
    assert list(counts.columns) == list(df.GATE_COLUMNS)
    by_target = counts.set_index("target")
    assert by_target.loc["hr_bpm", ["failed", "implausible", "kept"]].tolist() == [1, 1, 2]
    assert by_target.loc["pr_ms", ["failed", "implausible", "kept"]].tolist() == [2, 1, 1]
    assert by_target.loc["qrs_ms", ["failed", "implausible", "kept"]].tolist() == [1, 0, 3]
    assert by_target.loc["qt_ms", ["failed", "implausible", "kept"]].tolist() == [1, 1, 2]
    assert (by_target["measured"] == 4).all()
    assert keep.tolist() == [True, False, True, True]
    assert np.isnan(gated[2, [0, 1, 3]]).all() and gated[2, 2] == 95.0
    assert np.array_equal(gated[0], targets[0])


def test_quality_gate_rejects_a_missing_range():
    with pytest.raises(ValueError, match="qt_ms"):
        df.quality_gate(np.zeros((2, 4)), plausible_ranges={k: v for k, v in RANGES.items() if k != "qt_ms"})


# --------------------------------------------------------------------------- training helpers


def _indexed_data(n: int = 40, n_samples: int = 100):
    """Signals whose every value is the row number (so a fit call reveals which rows it saw)."""
    rng = np.random.default_rng(0)
    signals = np.repeat(np.arange(n, dtype=np.float32)[:, None, None], n_samples, axis=1)
    signals = np.repeat(signals, 8, axis=2)
    targets = np.column_stack(
        [rng.normal(70, 10, n), rng.normal(160, 20, n), rng.normal(95, 10, n), rng.normal(400, 30, n)]
    )
    targets[::4, 1] = np.nan  # PR missing in every fourth ECG
    split = Split(train=np.arange(0, 24), val=np.arange(24, 32), test=np.arange(32, 40))
    return signals, targets, split


@pytest.fixture
def recorded_fits(monkeypatch):
    """Every train.fit call made by the study: rows of train/val/test it saw and its keywords."""
    calls = []
    real_fit = train.fit

    def spy(model, train_set, val_set, test_set=None, **kwargs):
        def rows(data):
            return None if data is None else sorted({int(v) for v in np.unique(data[0][:, 0, 0])})

        calls.append(
            {
                "train": rows(train_set),
                "val": rows(val_set),
                "test": rows(test_set),
                "n_train_targets": None if train_set is None else np.asarray(train_set[1]).shape,
                **kwargs,
            }
        )
        return real_fit(model, train_set, val_set, test_set, **kwargs)

    monkeypatch.setattr(df.train, "fit", spy)
    return calls


def test_nan_targets_are_dropped_per_target(recorded_fits):
    signals, targets, split = _indexed_data()
    kwargs = df.model_kwargs("resnet", TINY_SIZES, n_samples=100, per_target=True)
    trained = df.train_model(
        "resnet", kwargs, signals, targets, split, settings=SETTINGS, seed=0, device="cpu"
    )
    assert len(recorded_fits) == 4 and len(trained.best_epochs) == 4
    pr_missing = set(range(0, 40, 4))
    for k, call in enumerate(recorded_fits):
        expected = [r for r in split.train if not (k == 1 and r in pr_missing)]
        assert call["train"] == expected, df.TARGETS[k]
        assert call["n_train_targets"] == (len(expected), 1)
    # the PR network lost the ECGs without PR; the others kept them
    assert len(recorded_fits[1]["train"]) == len(split.train) - len(pr_missing & set(split.train))
    assert np.isfinite(trained.target_mean).all() and (trained.target_std > 0).all()


def test_four_output_head_drops_ecgs_with_any_nan_target(recorded_fits):
    signals, targets, split = _indexed_data()
    kwargs = df.model_kwargs("resnet", TINY_SIZES, n_samples=100, per_target=False)
    df.train_model("resnet", kwargs, signals, targets, split, settings=SETTINGS, seed=0, device="cpu")
    (call,) = recorded_fits
    assert call["train"] == [r for r in split.train if r % 4]
    assert call["n_train_targets"] == (len(call["train"]), 4)


def test_selection_never_sees_the_test_split(recorded_fits):
    signals, targets, split = _indexed_data()
    kwargs = df.model_kwargs("fc", TINY_SIZES, n_samples=100, per_target=True)
    df.train_model("fc", kwargs, signals, targets, split, settings=SETTINGS, seed=0, device="cpu")
    test_rows = set(split.test.tolist())
    for call in recorded_fits:
        assert call["test"] is None and not call.get("select_on_test", False)
        assert call.get("monitor", "val_loss") == "val_loss"
        assert not test_rows & set(call["train"]) and not test_rows & set(call["val"])


def test_reported_rows_are_test_unless_the_labelled_option_is_on():
    split = Split(train=np.arange(5), val=np.arange(5, 8), test=np.arange(8, 10))
    assert df.reported_rows(split, "test").tolist() == [8, 9]
    assert df.reported_rows(split, "validation_minimum_as_in_paper").tolist() == [5, 6, 7]
    with pytest.raises(ValueError, match="report_split"):
        df.reported_rows(split, "best_test")


def test_run_experiments_reports_the_chosen_split(recorded_fits):
    signals, targets, split = _indexed_data()
    data = df.IntervalSet(signals, targets, np.array([f"p{i}" for i in range(40)]), 100.0, "sim-chapman")
    kwargs = {m: df.model_kwargs(m, TINY_SIZES, n_samples=100, per_target=False) for m in ("resnet",)}
    for report_split, expected in (("test", split.test), ("validation_minimum_as_in_paper", split.val)):
        settings = df.TrainSettings(**{**SETTINGS.__dict__, "report_split": report_split})
        results = df.run_experiments(
            signals,
            data,
            split,
            signals,
            data,
            [split],
            kwargs_by_model=kwargs,
            settings=settings,
            seed=0,
            device="cpu",
            experiments=(2, 3, 4),
        )
        assert set(results.predictions["experiment"]) == {2, 3, 4}
        assert set(results.predictions["row"]) == set(expected.tolist())
    assert all(call["test"] is None for call in recorded_fits)


def test_transfer_needs_its_pretraining_experiment_first():
    signals, targets, split = _indexed_data()
    data = df.IntervalSet(signals, targets, np.array([f"p{i}" for i in range(40)]), 100.0, "sim-chapman")
    kwargs = {"resnet": df.model_kwargs("resnet", TINY_SIZES, n_samples=100, per_target=False)}
    with pytest.raises(ValueError, match="experiment 2"):
        df.run_experiments(
            signals,
            data,
            split,
            signals,
            data,
            [split],
            kwargs_by_model=kwargs,
            settings=SETTINGS,
            seed=0,
            device="cpu",
            experiments=(4,),
        )


@pytest.mark.parametrize("name, kind", [("mae", nn.L1Loss), ("mse", nn.MSELoss)])
def test_loss_option(name, kind, recorded_fits):
    assert isinstance(df.make_loss(name), kind)
    signals, targets, split = _indexed_data()
    settings = df.TrainSettings(**{**SETTINGS.__dict__, "loss": name})
    kwargs = df.model_kwargs("resnet", TINY_SIZES, n_samples=100, per_target=False)
    df.train_model("resnet", kwargs, signals, targets, split, settings=settings, seed=0, device="cpu")
    assert isinstance(recorded_fits[0]["loss_fn"], kind)


def test_mae_and_mse_differ_as_losses():
    output, target = torch.tensor([[0.0], [3.0]]), torch.tensor([[1.0], [1.0]])
    assert float(df.make_loss("mae")(output, target)) == pytest.approx(1.5)
    assert float(df.make_loss("mse")(output, target)) == pytest.approx(2.5)
    with pytest.raises(ValueError, match="loss"):
        df.make_loss("huber")


# --------------------------------------------------------------------------- sizes, splits, tables


def test_model_sizes_are_stated_for_every_profile():
    expected_resnet_paper = 110_404  # ecglib.models.interval_resnet docstring: the paper's ResNet, one head
    for profile in ("smoke", "local", "paper"):
        cfg = params.load("deepfake", profile)
        n_samples = int(round(10 * cfg.model_fs_hz))
        kwargs = {m: df.model_kwargs(m, cfg, n_samples=n_samples, per_target=False) for m in df.MODELS}
        if profile == "paper":
            kwargs = {m: k for m, k in kwargs.items() if m != "vit"}  # ViT-B: slow to build, counted below
        sizes = df.model_sizes(kwargs).set_index("model")
        assert (sizes["trainable_parameters"] > 0).all()
        assert sizes["settings"].str.len().gt(0).all()
        if profile == "paper":
            assert sizes.loc["resnet", "trainable_parameters"] == expected_resnet_paper
    smoke = params.load("deepfake", "smoke")
    per_target = df.model_sizes({"resnet": df.model_kwargs("resnet", smoke, n_samples=1000, per_target=True)})
    single = df.model_sizes({"resnet": df.model_kwargs("resnet", smoke, n_samples=1000, per_target=False)})
    head = smoke.resnet_stem_channels[1] + 1  # one output's weights and bias
    assert per_target["trainable_parameters"][0] == 4 * (single["trainable_parameters"][0] - 4 * head + head)


def test_finetuning_folds_are_patient_wise_and_cover_every_ecg_once():
    patients = np.repeat([f"p{i}" for i in range(15)], 2)
    folds = df.finetuning_folds(
        patients, protocol="cv", n_folds=5, val_fraction=0.2, test_fraction=0.1, seed=0
    )
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested.tolist()) == list(range(30))
    for fold in folds:
        groups = [set(patients[part]) for part in (fold.train, fold.val, fold.test)]
        assert len(fold.val) and not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    (single,) = df.finetuning_folds(
        patients, protocol="split", n_folds=5, val_fraction=0.1, test_fraction=0.1, seed=0
    )
    assert len(single.train) + len(single.val) + len(single.test) == 30


def test_error_table_reports_mae_rmse_mse_baseline_and_variance():
    predictions = pd.DataFrame(
        {
            "experiment": 3,
            "fold": 0,
            "row": [0, 1, 2, 3],
            "patient_id": ["a", "b", "c", "d"],
            "target": "qt_ms",
            "true": [400.0, 410.0, 420.0, np.nan],  # the NaN target is dropped
            "predicted": [402.0, 406.0, 420.0, 999.0],
            "baseline": 410.0,
        }
    )
    (row,) = df.error_table(predictions).to_dict("records")
    assert row["n"] == 3
    assert row["mae"] == pytest.approx(2.0) and row["mse"] == pytest.approx(20 / 3)
    assert row["rmse"] == pytest.approx(math.sqrt(20 / 3))
    assert row["baseline_mae"] == pytest.approx(20 / 3) and row["baseline_mse"] == pytest.approx(200 / 3)
    assert row["target_variance"] == pytest.approx(np.var([400.0, 410.0, 420.0]))


def test_reported_numbers_match_the_paper_tables():
    reported = params.reported("deepfake")
    assert [reported["tables"]["fc_deepfake"][t] for t in df.TARGETS] == [55.82, 461.05, 76.80, 1661.98]
    assert [reported["tables"]["resnet_transfer"][t] for t in df.TARGETS] == [0.05, 11.80, 2.80, 16.32]
    assert [reported["tables"]["vit_transfer"][t] for t in df.TARGETS] == [10.88, 63.78, 28.02, 78.55]
    for model, scratch, transfer in (
        ("resnet", "resnet_ptbxl", "resnet_transfer"),
        ("vit", "vit_ptbxl", "vit_transfer"),
    ):
        for t in df.TARGETS:
            pair = reported["transfer_claim"][f"{model} {t}"]
            assert pair == {
                "scratch": reported["tables"][scratch][t],
                "transfer": reported["tables"][transfer][t],
            }
    assert len(df.EXPERIMENTS) == reported["n_experiments"]


def _predictions(transfer_better: bool) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    frames = []
    true = rng.normal(100, 10, 30)
    for number in (3, 4, 6, 7):
        noise = 1.0 if (number in (4, 7)) == transfer_better else 10.0
        if number == 7:
            noise *= 3  # ViT worse than ResNet after transfer
        for t in df.TARGETS:
            frames.append(
                pd.DataFrame(
                    {
                        "experiment": number,
                        "fold": 0,
                        "row": np.arange(30),
                        "patient_id": "x",
                        "target": t,
                        "true": true,
                        "predicted": true + rng.normal(0, noise, 30),
                        "baseline": 100.0,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def test_claims_held_and_not_held_on_real_data():
    reported = params.reported("deepfake")
    verdict = claims.evaluate(
        df.CLAIMS, df.claim_results(_predictions(True)), reported=reported, data_source="ludb"
    )
    assert verdict["verdict"].tolist() == [claims.HELD, claims.HELD]
    verdict = claims.evaluate(
        df.CLAIMS, df.claim_results(_predictions(False)), reported=reported, data_source="ludb"
    )
    assert verdict["verdict"].iloc[0] == claims.DID_NOT_HOLD
    synthetic = claims.evaluate(
        df.CLAIMS, df.claim_results(_predictions(True)), reported=reported, data_source="sim-chapman"
    )
    assert set(synthetic["verdict"]) == {claims.SYNTHETIC}


# --------------------------------------------------------------------------- data


def test_paper_profile_stops_at_once_naming_the_download(tmp_path, monkeypatch):
    cfg = params.load("deepfake", "paper")
    monkeypatch.setattr(df, "pretraining_set", lambda *a, **k: pytest.fail("generated or read data"))
    with pytest.raises(DataMissingError, match=r"ecglib data download deepfake"):
        df.pretraining_from_params(cfg, device="cpu", data_root=tmp_path)
    (tmp_path / "deepfake").mkdir()
    monkeypatch.setattr("ecglib.data.deepfake.folder", lambda root=None: tmp_path / "deepfake")
    with pytest.raises(DataMissingError, match=r"ecglib data download ptbxl"):
        df.finetuning_from_params(cfg, data_root=tmp_path)


def test_simulated_finetuning_set_has_exact_targets_and_nan_pr_without_p_waves():
    data = df.simulated_finetuning_set(n_ecgs=24, seed=5, snr_db=25.0, plausible_ranges=RANGES)
    assert data.signals_mv.shape[1:] == (5000, 8) and data.targets.shape[1] == 4
    assert np.isfinite(data.targets[:, [0, 2, 3]]).all()
    assert data.gate.set_index("target").loc["pr_ms", "failed"] == np.isnan(data.targets[:, 1]).sum()


# --------------------------------------------------------------------------- the smoke run


@pytest.mark.notebook
def test_smoke_run_outputs(smoke_run):
    from ecglib.predict import load_interval_model

    run_dir = smoke_run("deepfake")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for number in range(1, 8):
        for target in df.TARGETS:
            value = metrics[f"mae_exp{number}_{target}"]
            assert math.isfinite(value) and value >= 0
    for model in ("resnet", "vit"):
        for target in df.TARGETS:
            assert math.isfinite(metrics[f"transfer_gain_{model}_{target}"])
    tables = run_dir / "tables"
    for name in ("table1", "table2", "table3", "table4", "table5", "quality_gate_pretraining", "model_sizes"):
        assert (tables / f"{name}.csv").is_file(), name
    table1 = pd.read_csv(tables / "table1.csv")
    assert "FC, DeepFake-small: target variance" in table1.columns
    for figure in ("scatter_exp4", "bland_altman_exp4", "transfer_gain"):
        assert (run_dir / "figures" / f"{figure}.png").is_file()
    model, card = load_interval_model(run_dir / "models" / "deepfake_resnet.pt")
    assert card["lead_names"] == list(df.EIGHT_LEADS) and card["fs_hz"] == 100.0
    assert model(torch.zeros(2, 8, card["n_samples"])).shape == (2, 4)


def test_each_paper_table_names_the_data_of_its_experiments():
    sources = dict(pretrain_source="deepfake-gan", finetune_source="ludb")
    assert df.paper_table_sources("table1", **sources) == ["deepfake-gan"]  # FC on GAN ECGs only
    assert df.paper_table_sources("table2", **sources) == ["deepfake-gan", "ludb"]
    assert df.paper_table_sources("table3", **sources) == [
        "ludb"
    ]  # before and after transfer, fine-tuning set
