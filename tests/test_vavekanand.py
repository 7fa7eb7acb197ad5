"""Vavekanand study glue: windows, per-patient splits, no test window in training, selection, Table 1, smoke run."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import torch

import ecglib.params
from ecglib.data import LabelledSet
from ecglib.grid import GridResult
from ecglib.studies import vavekanand as vv


@pytest.fixture
def mitbih_root():
    """The data root holding MIT-BIH (``$ECGLIB_DATA``); skip when absent."""
    from ecglib import data

    folder = data.dataset_folder("mitbih")
    if not folder.is_dir():
        pytest.skip(f"MIT-BIH not found under {folder} (set $ECGLIB_DATA to a data root holding mitdb/)")
    return folder.parent


def _windows(n_patients=3, n_per_patient=50, seed=0) -> LabelledSet:
    rng = np.random.default_rng(seed)
    n = n_patients * n_per_patient
    targets = np.tile((np.arange(n_per_patient) % 4 == 0).astype(np.int64), n_patients)
    return LabelledSet(
        signals_mv=rng.normal(size=(n, 128, 1)).astype(np.float32),
        targets=targets,
        patient_ids=np.repeat([f"p{i}" for i in range(n_patients)], n_per_patient),
        fs_hz=128.0,
        lead_names=("MLII",),
        target_names=("normal", "abnormal"),
        task="single_label",
        source="test",
    )


def test_split_is_within_patient_stratified_and_disjoint():
    windows = _windows()
    splits = vv.split_windows(windows, seed=0)
    for patient, parts in splits.by_patient.items():
        rows = np.flatnonzero(windows.patient_ids == patient)
        together = np.concatenate([parts["train"], parts["val"], parts["test"]])
        assert sorted(together) == sorted(rows)  # every window once, only this patient's
        assert (
            len(parts["test"]) == 10 and len(parts["val"]) == 8 and len(parts["train"]) == 32
        )  # 80/20 then 80/20
        for name in ("train", "val", "test"):
            assert set(windows.targets[parts[name]]) == {0, 1}  # stratified: both classes everywhere
    assert (splits.part == "test").sum() == 30


def test_pretraining_never_sees_a_test_window(monkeypatch):
    windows = _windows()
    splits = vv.split_windows(windows, seed=0)
    seen = {}

    def fake_train_grid(model_factory, signals, targets, runs, **kwargs):
        seen["runs"] = runs
        return [
            GridResult(
                tags={},
                history=pd.DataFrame(),
                best_epoch=1,
                best_state_dict={},
                val_loss=0.0,
                val_balanced_accuracy=1.0,
            )
        ]

    monkeypatch.setattr(vv, "train_grid", fake_train_grid)
    vv.pretrain(
        None, None, windows.targets, splits, epochs=1, lr=1e-3, batch_size=32, weight_decay=0.0, seed=0
    )
    [run] = seen["runs"]
    test = set(splits.indices("test"))
    assert not test & set(run.train_indices) and not test & set(run.val_indices)
    assert run.test_indices is None
    assert len(run.train_indices) == 96 and len(run.val_indices) == 24  # pooled over all patients
    with pytest.raises(AssertionError, match="test windows"):
        vv.assert_no_test_in(splits.indices("test")[:3], splits)


def test_subset_splits_keeps_the_assignment():
    windows = _windows()
    splits = vv.split_windows(windows, seed=0)
    rows, sub = vv.subset_splits(splits, ["p2", "p0"])
    assert len(rows) == 100 and set(windows.patient_ids[rows]) == {"p0", "p2"}
    for patient in ("p0", "p2"):
        for name in ("train", "val", "test"):
            np.testing.assert_array_equal(
                rows[sub.by_patient[patient][name]], splits.by_patient[patient][name]
            )
    np.testing.assert_array_equal(sub.part, splits.part[rows])


def test_grid_runs_pair_individual_and_fine_tuned_and_keep_test_apart():
    windows = _windows()
    splits = vv.split_windows(windows, seed=0)
    state = {"w": 1}
    runs = vv.grid_runs(
        splits,
        ["p0", "p1"],
        learning_rates=[0.001, 0.01, 0.1],
        batch_sizes=[4, 16, 32],
        weighted_sampling=[True, False],
        seed=0,
        pretrained_state=state,
    )
    assert len(runs) == 2 * 18 * 2
    for individual, fine in zip(runs[0::2], runs[1::2]):
        assert individual.tags["mode"] == "individual" and fine.tags["mode"] == "fine_tuned"
        assert individual.seed == fine.seed and individual.init_state is None and fine.init_state is state
        patient_test = set(splits.by_patient[individual.tags["patient"]]["test"])
        assert set(individual.test_indices) == patient_test
        assert not patient_test & (set(individual.train_indices) | set(individual.val_indices))
    with pytest.raises(ValueError, match="pretrained_state"):
        vv.grid_runs(splits, ["p0"], learning_rates=[0.1], batch_sizes=[4], weighted_sampling=[True], seed=0)


def _results():
    rows = []
    for mode in vv.MODES:
        for lr, val, test in ((0.001, 0.9, 0.70), (0.01, 0.8, 0.95)):
            rows.append(
                {
                    "patient": "p0",
                    "mode": mode,
                    "lr": lr,
                    "batch_size": 4,
                    "weighted_sampling": True,
                    "val_loss": 0.3,
                    "val_balanced_accuracy": val + (0.05 if mode == "fine_tuned" and lr == 0.01 else 0),
                    "test_balanced_accuracy": test,
                }
            )
    return pd.DataFrame(rows)


@pytest.mark.slow
def test_grid_units_give_what_the_whole_grid_gave(tmp_path):
    """Pre-training + one unit per patient (through the cache) = the old pre-training and whole grid, exactly.

    The chunks agree here (4 runs per chunk, every patient's 4 runs alike): the same runs are
    trained together, so the numbers are bit-identical.
    """
    from functools import partial

    from ecglib import units
    from ecglib.models.beat_cnn import BeatCNN

    windows = _windows()
    inputs = vv.grid_inputs(windows, ["p0", "p1", "p2"], test_fraction=0.2, val_fraction=0.2, seed=0)
    factory = partial(BeatCNN, 1, 128)
    grid = dict(learning_rates=[0.01, 0.001], batch_sizes=[8], weighted_sampling=[True], epochs=2)
    common = dict(weight_decay=1e-4, seed=0)
    plan = vv.plan_units(
        factory,
        inputs,
        pretrain_epochs=2,
        pretrain_lr=1e-3,
        pretrain_batch_size=16,
        max_samples_per_step=32,
        **grid,
        **common,
    )
    assert [unit.name for unit in plan] == ["pretrain", "patient/p0", "patient/p1", "patient/p2"]
    payloads = units.run_units(plan, cache_dir=tmp_path, use_cache=True)
    assert len(list(tmp_path.glob("unit-*.pt"))) == 4

    pre = vv.pretrain(
        factory,
        inputs.signals,
        inputs.targets,
        inputs.splits,
        epochs=2,
        lr=1e-3,
        batch_size=16,
        patients=inputs.patients,
        **common,
    )
    ours = vv.pretrained_from_payloads(payloads)
    assert ours.best_epoch == pre.best_epoch
    pd.testing.assert_frame_equal(ours.history, pre.history)
    for name, value in pre.best_state_dict.items():
        assert torch.equal(ours.best_state_dict[name], value), name
    whole, histories = vv.run_patient_grid(
        factory,
        inputs.signals,
        inputs.targets,
        inputs.splits,
        inputs.patients,
        pretrained_state=pre.best_state_dict,
        max_samples_per_step=32,
        **grid,
        **common,
    )
    from_units, unit_histories = vv.grid_from_payloads(payloads, inputs.patients)
    pd.testing.assert_frame_equal(from_units, whole, check_exact=True)
    assert unit_histories.keys() == histories.keys()
    for key, history in histories.items():
        pd.testing.assert_frame_equal(unit_histories[key], history, check_exact=True)
    assert all(
        item["best_state_dict"] is None for item in payloads["patient/p0"]["results"]
    )  # no weights kept

    # a patient unit names the pre-training by its key: other pre-training settings, other patient keys
    other = vv.plan_units(
        factory,
        inputs,
        pretrain_epochs=3,
        pretrain_lr=1e-3,
        pretrain_batch_size=16,
        max_samples_per_step=32,
        **grid,
        **common,
    )
    assert {unit.key for unit in other}.isdisjoint(unit.key for unit in plan)


def test_selection_uses_validation_by_default_and_test_only_as_labelled_option():
    results = _results()
    chosen = vv.select_per_patient(results)
    assert set(chosen["lr"]) == {0.001} and set(chosen["test_balanced_accuracy"]) == {0.70}
    leaky = vv.select_per_patient(results, model_selection="test_set_as_in_paper")
    assert set(leaky["lr"]) == {0.01}
    with pytest.raises(ValueError):
        vv.select_per_patient(results, model_selection="test")


def test_individual_choice_reuses_the_individual_grid_point():
    results = _results()
    results.loc[(results["mode"] == "fine_tuned") & (results["lr"] == 0.01), "val_balanced_accuracy"] = 0.99
    own = vv.select_per_patient(results)
    reuse = vv.select_per_patient(results, finetune_hyperparameters="individual_choice")
    assert own.set_index("mode").loc["fine_tuned", "lr"] == 0.01
    assert reuse.set_index("mode").loc["fine_tuned", "lr"] == 0.001


def test_table1_and_summary():
    chosen = vv.select_per_patient(_results())
    per_patient = pd.DataFrame([{"patient": "p0", "n_windows": 50, "n_abnormal": 13}])
    table = vv.table1(
        chosen,
        per_patient,
        {"p0": {"batch_size": 4, "lr": 0.001, "weighted_sampling": True, "balanced_accuracy": 0.713}},
    )
    assert list(table.columns) == [
        "patient",
        "n_windows",
        "n_abnormal",
        "ind_batch_size",
        "ind_lr",
        "ind_weighted_sampling",
        "ind_balanced_accuracy",
        "ft_batch_size",
        "ft_lr",
        "ft_weighted_sampling",
        "ft_balanced_accuracy",
        "paper_batch_size",
        "paper_lr",
        "paper_weighted_sampling",
        "paper_balanced_accuracy",
    ]
    assert table.loc[0, "paper_balanced_accuracy"] == 0.713
    summary = vv.summary(table)
    assert summary["mean_bacc_individual"] == pytest.approx(0.70) and summary["n_below_75_individual"] == 1


def test_claims_and_summary_rows_read_the_paper_and_decide():
    from ecglib import claims, paper_tables, params

    reported = params.reported("vavekanand")
    n = 12
    table = pd.DataFrame(
        {
            "patient": [str(100 + i) for i in range(n)],
            "ind_balanced_accuracy": np.linspace(0.90, 0.99, n),
            "ft_balanced_accuracy": np.linspace(0.90, 0.99, n) - np.linspace(0.0, 0.02, n),
        }
    )
    gains = pd.DataFrame(
        {"patient": table["patient"], "n_train": np.arange(n) * 10.0 + 50, "gain": -np.linspace(0.0, 0.02, n)}
    )
    verdict = claims.evaluate(
        vv.CLAIMS, vv.claim_results(table, gains), reported=reported, data_source="mitbih"
    )
    assert verdict["verdict"].tolist() == ["held", "held", "held", "held"]  # less data, more gain
    more_data_more_gain = vv.claim_results(table, gains.assign(gain=-gains["gain"]))
    verdict_reversed = claims.evaluate(
        vv.CLAIMS, more_data_more_gain, reported=reported, data_source="mitbih"
    )
    assert verdict_reversed["verdict"].iloc[3] == "did not hold"
    assert verdict["paper"].iloc[0] == "94.6 %" and "paired t-test" in verdict["test"].iloc[2]
    synthetic = claims.evaluate(
        vv.CLAIMS, vv.claim_results(table, gains), reported=reported, data_source="sim-mitbih-windows"
    )
    assert set(synthetic["verdict"]) == {"not tested on synthetic data"}
    ours = {"n_windows": 100, "n_parameters": 67_169, "pretrain_best_epoch": 3, **vv.summary(table)}
    summary = paper_tables.scalars(vv.SUMMARY_ROWS, ours, reported).set_index("quantity")
    assert summary.loc["mean balanced accuracy, individual", "paper"] == pytest.approx(94.6)
    assert np.isnan(summary.loc["patients below 75 %, fine-tuned", "paper"])


def test_missing_mitbih_names_the_download_command(tmp_path):
    from ecglib.data import DataMissingError

    with pytest.raises(DataMissingError, match="ecglib data download mitbih"):
        vv.mitbih_windows(["100"], root=tmp_path)


@pytest.mark.real_data
def test_real_windows_are_labelled_by_the_beats_inside(mitbih_root):
    from ecglib.data import mitbih

    window_set = vv.mitbih_windows(["119", "102"], root=mitbih_root, use_cache=False)
    per_patient = window_set.per_patient.set_index("patient")
    assert per_patient.loc["102", "lead"] == "V5"  # record 102 has no MLII: first lead, noted
    assert per_patient.loc["119", "lead"] == "MLII"
    rows = window_set.windows.patient_ids == "119"
    starts, labels = window_set.start_samples[rows], window_set.windows.targets[rows]
    assert window_set.windows.signals_mv.shape[1:] == (128, 1)
    annotations = mitbih.load_annotations("119", mitbih_root)
    n_checked = {"V": 0, "N only": 0}
    for start, label in zip(starts, labels):
        inside = annotations.beat_symbols[
            (annotations.beat_samples >= start) & (annotations.beat_samples < start + 360)
        ]
        assert len(inside)  # windows without beats are excluded
        if "V" in inside:
            assert label == 1
            n_checked["V"] += 1
        elif set(inside) == {"N"}:
            assert label == 0
            n_checked["N only"] += 1
    assert n_checked["V"] > 100 and n_checked["N only"] > 500
    # every 1 s window of the 650,000-sample record is either kept or counted as beat-free
    assert (
        per_patient.loc["119", "n_windows"] + per_patient.loc["119", "windows_without_beats"]
        == 650_000 // 360
    )
    excluded = vv.mitbih_windows(["102", "119"], root=mitbih_root, lead_fallback="exclude", use_cache=False)
    assert (
        list(excluded.per_patient["patient"]) == ["119"] and excluded.exclusions["record_without_MLII"] == 1
    )


def _digest(array) -> str:
    array = np.ascontiguousarray(np.asarray(array))
    return f"{array.dtype}{array.shape}:" + hashlib.sha256(array.tobytes()).hexdigest()[:16]


#: digests of what ``mitbih_windows`` returned before its loop moved to ``ecglib.data.mitbih.cut_records``
#: (commit 27931d7, computed on this machine's MIT-BIH 1.0.0). The grid-run cache is keyed on these
#: exact arrays: a change here silently retrains every cached Vavekanand run.
WINDOW_DIGESTS = {
    ("100",): {
        "signals": "float32(1805, 128, 1):0c3db21539faa65e",
        "targets": "int64(1805,):e55e8d887c052ea2",
        "starts": "int64(1805,):342eb2f5df2706e4",
        "patients": "<U3(1805,):09918d29b85f7af4",
        "exclusions": {"windows_no_beat_annotation": 0, "windows_incomplete_tail": 1},
        "leads": ["MLII"],
    },
    ("119", "102"): {
        "signals": "float32(3464, 128, 1):3bdcee91071901ce",
        "targets": "int64(3464,):c6ade7699ff28a21",
        "starts": "int64(3464,):2221bfdf1c59da07",
        "patients": "<U3(3464,):8509c990c83e080c",
        "exclusions": {"windows_no_beat_annotation": 146, "windows_incomplete_tail": 2},
        "leads": ["MLII", "V5"],
    },
}


@pytest.mark.real_data
@pytest.mark.parametrize("records", list(WINDOW_DIGESTS))
@pytest.mark.parametrize("use_cache", [False, True])
def test_real_windows_are_unchanged_by_the_refactor(mitbih_root, records, use_cache):
    expected = WINDOW_DIGESTS[records]
    for _ in range(2 if use_cache else 1):  # with the cache: written, then read back
        window_set = vv.mitbih_windows(list(records), root=mitbih_root, use_cache=use_cache)
        assert _digest(window_set.windows.signals_mv) == expected["signals"]
        assert _digest(window_set.windows.targets) == expected["targets"]
        assert _digest(window_set.start_samples) == expected["starts"]
        assert _digest(window_set.windows.patient_ids.astype(str)) == expected["patients"]
        assert window_set.exclusions == expected["exclusions"]
        assert list(window_set.per_patient["lead"]) == expected["leads"]


def test_paper_patients_are_table1_in_order():
    patients = vv.paper_patients()
    assert len(patients) == 29 == ecglib.params.reported("vavekanand")["n_patients"]
    assert list(patients) == list(ecglib.params.reported("vavekanand")["table1"])
    assert patients[10:12] == ("202", "201")  # the paper's order, kept: windows are built in it


def test_windows_from_params_reads_cfg_only():
    cfg = {
        **ecglib.params.load("vavekanand", "smoke").as_dict(),
        "sim_n_patients": 2,
        "sim_windows_per_patient": 40,
        "sim_min_windows_per_class": 2,
    }
    from_cfg = vv.windows_from_params(cfg)
    direct = vv.simulated_windows(2, 40, seed=cfg["seed"], min_windows_per_class=2)
    np.testing.assert_array_equal(from_cfg.windows.signals_mv, direct.windows.signals_mv)
    counts = from_cfg.counts_table()
    assert list(counts["patient"])[-1] == "total" and counts["n_windows"].iloc[-1] == len(direct.windows)


@pytest.mark.notebook
def test_smoke_run_writes_table1_figures_and_metrics(smoke_run):
    run_dir = smoke_run("vavekanand")  # shared with tests/test_study_pattern.py
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["n_parameters"] == 67_169
    for key in (
        "mean_bacc_individual",
        "mean_bacc_fine_tuned",
        "n_above_95_individual",
        "n_below_75_fine_tuned",
        "n_windows",
    ):
        assert np.isfinite(metrics[key])
    assert 0.0 <= metrics["mean_bacc_individual"] <= 1.0
    table = pd.read_csv(run_dir / "tables" / "table1_per_patient.csv")
    assert len(table) == metrics["n_patients"] == 4
    assert {
        "ind_batch_size",
        "ind_lr",
        "ind_weighted_sampling",
        "ind_balanced_accuracy",
        "ft_balanced_accuracy",
        "paper_balanced_accuracy",
    } <= set(table.columns)
    assert set(table["ind_batch_size"]) <= {16} and set(table["ind_lr"]) <= {0.001, 0.01}
    summary = pd.read_csv(run_dir / "tables" / "summary_vs_paper.csv")
    assert summary.set_index("quantity").loc["mean balanced accuracy, individual", "paper"] == pytest.approx(
        94.6
    )
    for name in (
        "fig3_pretraining_loss",
        "fig4_hist_individual",
        "fig5_patient_curves_individual",
        "fig6_hist_fine_tuned",
        "fig7_patient_curves_fine_tuned",
        "fig8_per_patient",
        "gain_vs_training_windows",
    ):
        assert (run_dir / "figures" / f"{name}.png").is_file()
    verdict = (run_dir / "tables" / "verdict.md").read_text()
    assert "not tested on synthetic data" in verdict
    provenance = json.loads((run_dir / "run.json").read_text())
    assert provenance["params"]["model_selection"] == "validation"
