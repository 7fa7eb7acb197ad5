"""The Surrey COM3025 study: protocol pieces (splits, budgets, options, confusion axes, the SSL gate) and its smoke run."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml

import ecglib.params
from ecglib import claims, metrics
from ecglib.data import LabelledSet
from ecglib.errors import DataMissingError
from ecglib.models.ssl_multitask import head_accuracy_table
from ecglib.params import params_dir
from ecglib.studies import surrey as sr

STUDY = "surrey"
MIT_CLASSES = ("N", "S", "V", "F", "Q")


def _beats(record_ids, labels, *, n_samples=187, seed=0, target_names=MIT_CLASSES) -> LabelledSet:
    rng = np.random.default_rng(seed)
    n = len(labels)
    signals = np.zeros((n, n_samples, 1), np.float32)
    signals[:, :100, 0] = rng.random((n, 100)).astype(np.float32) + 0.1  # unpadded length 100
    return LabelledSet(
        signals_mv=signals,
        targets=np.asarray(labels, dtype=np.int64),
        patient_ids=np.asarray(record_ids).astype(str),
        fs_hz=125.0,
        lead_names=("MLII",),
        target_names=target_names,
        task="single_label",
        source="mitbih",
    )


def _mit_records(n_per_record=10):
    """Beats of 4 DS1 and 3 DS2 records and one paced record, every class in each record."""
    records = ["101", "106", "108", "109", "100", "103", "105", "102"]
    ids = np.repeat(records, n_per_record)
    labels = np.tile(np.arange(5), len(ids) // 5)
    return _beats(ids, labels)


# --------------------------------------------------------------------------- profiles


@pytest.mark.parametrize("profile", ["smoke", "local", "paper"])
def test_every_profile_validates(profile):
    cfg = ecglib.params.load(STUDY, profile)
    assert cfg.profile == profile
    assert set(cfg.trunks) == {"mlp", "cnn", "lstm"}
    assert cfg.headline_split in cfg.mitbih_splits


@pytest.mark.parametrize("profile", ["smoke", "local"])
def test_report_options_are_never_default(profile):
    cfg = ecglib.params.load(STUDY, profile)
    assert cfg.test_rebalance_per_class is None  # natural test distribution
    assert cfg.model_selection == "validation"
    assert cfg.ensemble_comparison == "equal_budget"


def test_paper_profile_uses_the_reports_options_labelled():
    cfg = ecglib.params.load(STUDY, "paper")
    assert cfg.test_rebalance_per_class == 2000
    assert cfg.model_selection == "best_test_epoch_as_in_paper"
    assert cfg.ensemble_comparison == "unequal_as_in_report"
    assert cfg.ssl_bottleneck is True and cfg.noise_std == 0.1


def test_local_profile_reports_both_mitbih_splits_with_inter_patient_headline():
    cfg = ecglib.params.load(STUDY, "local")
    assert set(cfg.mitbih_splits) == {"beat_random", "inter_patient"}
    assert cfg.headline_split == "inter_patient" and cfg.mi_split == "record"
    assert cfg.ssl_max_beats is not None  # the CPU budget of the LSTM


def test_reported_numbers_are_the_reports():
    reported = yaml.safe_load((params_dir(STUDY) / "reported.yaml").read_text())
    mit, mi = reported["accuracy"]["mitbih"], reported["accuracy"]["mi"]
    assert round(100 * (mit["ssl"]["lstm"] - mit["scratch"]["lstm"]), 2) == 4.91
    assert round(100 * (mit["scratch"]["mlp"] - mit["ssl"]["mlp"]), 2) == 3.20
    assert mit["ensemble"] == 0.9301 and mi["ensemble"] == 0.9849
    assert reported["kachuee"] == {"mitbih": 0.934, "mi": 0.959}


# --------------------------------------------------------------------------- data presence


def test_paper_profile_stops_naming_the_download_command(tmp_path):
    with pytest.raises(DataMissingError, match="ecglib data download kaggle-heartbeat"):
        sr.check_data_present("kaggle-heartbeat", data_root=tmp_path)


def test_paper_profile_stops_when_one_csv_is_missing(tmp_path):
    from ecglib.data import dataset_folder, kaggle_heartbeat

    folder = dataset_folder(kaggle_heartbeat.NAME, tmp_path)
    folder.mkdir(parents=True)
    (folder / kaggle_heartbeat.FILES["mitbih_train"]).write_text("0\n")
    with pytest.raises(DataMissingError, match="ecglib data download kaggle-heartbeat"):
        sr.check_data_present("kaggle-heartbeat", data_root=tmp_path)


# --------------------------------------------------------------------------- splits


def test_inter_patient_split_has_no_record_on_both_sides_and_drops_paced():
    beats = _mit_records()
    split = sr.make_split(beats, "inter_patient", test_fraction=0.2, val_fraction=0.25, seed=0)
    records = {part: set(beats.patient_ids[getattr(split, part)]) for part in ("train", "val", "test")}
    assert records["test"] == {"100", "103", "105"}
    assert records["train"] | records["val"] == {"101", "106", "108", "109"}
    assert not records["train"] & records["val"]
    assert "102" not in set().union(*records.values())  # paced


def test_record_split_keeps_records_whole_and_both_classes_in_test():
    ids = np.repeat([f"r{i}" for i in range(20)], 5)
    labels = np.repeat(np.arange(20) % 2, 5)
    beats = _beats(ids, labels, target_names=("no", "mi"))
    split = sr.make_split(beats, "record", test_fraction=0.2, val_fraction=0.25, seed=0)
    sides = [set(ids[getattr(split, p)]) for p in ("train", "val", "test")]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    assert set(labels[split.test]) == {0, 1}
    assert sum(map(len, (split.train, split.val, split.test))) == len(ids)


def test_beat_random_split_is_disjoint_and_stratified():
    beats = _mit_records(20)
    split = sr.make_split(beats, "beat_random", test_fraction=0.2, val_fraction=0.2, seed=3)
    assert (
        len(np.intersect1d(split.train, split.test)) == 0 and len(np.intersect1d(split.val, split.test)) == 0
    )
    assert np.bincount(beats.targets[split.test], minlength=5).min() > 0


def test_ssl_beats_are_training_beats_of_every_split():
    beats = _mit_records(20)
    splits = [
        sr.make_split(beats, kind, test_fraction=0.2, val_fraction=0.2, seed=0)
        for kind in ("beat_random", "inter_patient")
    ]
    chosen = sr.ssl_beat_indices(len(beats.targets), splits, max_beats=None, seed=0)
    for split in splits:
        assert np.isin(chosen, split.train).all()
        assert not np.isin(chosen, np.concatenate([split.val, split.test])).any()
    assert len(sr.ssl_beat_indices(len(beats.targets), splits, max_beats=5, seed=0)) == 5


def _imbalanced_mit_records():
    """60 beats in each of 4 DS1, 3 DS2 and one paced record; class 3 (F) has 2 beats in all, in DS1."""
    records = ["101", "106", "108", "109", "100", "103", "105", "102"]
    ids = np.repeat(records, 60)
    labels = np.tile(np.r_[np.zeros(40), np.ones(10), np.full(10, 2)], len(records)).astype(np.int64)
    labels[[5, 70]] = 3  # records 101 and 106
    labels[np.flatnonzero(ids == "108")[:3]] = 4
    return _beats(ids, labels)


@pytest.mark.parametrize("kind", ["inter_patient", "beat_random"])
def test_training_cap_shrinks_only_the_training_part_and_keeps_every_class(kind):
    beats = _imbalanced_mit_records()
    split = sr.make_split(beats, kind, test_fraction=0.2, val_fraction=0.25, seed=0)
    capped = sr.cap_training(split, beats.targets, max_beats=40, seed=0)
    assert len(capped.train) == 40 < len(split.train)
    assert np.isin(capped.train, split.train).all() and len(np.unique(capped.train)) == 40
    np.testing.assert_array_equal(capped.val, split.val)
    np.testing.assert_array_equal(capped.test, split.test)
    np.testing.assert_array_equal(capped.train_pool, split.train)
    assert set(beats.targets[capped.train]) == set(beats.targets[split.train])  # the rare classes too
    if kind == "inter_patient":
        ids = beats.patient_ids
        assert set(ids[capped.train]) <= {"101", "106", "108", "109"}
        assert not set(ids[capped.train]) & set(ids[capped.test])
    again = sr.cap_training(split, beats.targets, max_beats=40, seed=0)
    np.testing.assert_array_equal(again.train, capped.train)  # seeded
    assert sr.cap_training(split, beats.targets, max_beats=None, seed=0) is split
    assert sr.cap_training(split, beats.targets, max_beats=len(split.train), seed=0) is split


def test_training_cap_is_in_the_split_table_and_the_ssl_set_draws_from_the_whole_training_part():
    beats = _imbalanced_mit_records()
    cfg = ecglib.params.load(
        STUDY, "local", {"mitbih_splits": ["inter_patient", "beat_random"], "max_train_beats": 40}
    )
    mit_splits = {
        kind: sr.cap_training(
            sr.make_split(beats, kind, test_fraction=0.2, val_fraction=0.25, seed=0),
            beats.targets,
            max_beats=cfg.max_train_beats,
            seed=0,
        )
        for kind in cfg.mitbih_splits
    }
    table = sr.split_table({("mitbih", k): s for k, s in mit_splits.items()}, {"mitbih": beats}).set_index(
        ["split", "part"]
    )
    for kind, split in mit_splits.items():
        assert table.loc[(kind, "train"), "beats"] == 40
        assert table.loc[(kind, "train"), "beats_before_cap"] == len(split.train_before_cap) > 40
        assert table.loc[(kind, "test"), "beats_before_cap"] == table.loc[(kind, "test"), "beats"]
    chosen = sr.ssl_beat_indices(len(beats.targets), list(mit_splits.values()), max_beats=None, seed=0)
    assert len(chosen) > 40
    for split in mit_splits.values():
        assert not np.isin(chosen, np.concatenate([split.val, split.test])).any()


def test_best_test_epoch_without_test_curves_stops_before_any_data():
    cfg = ecglib.params.load(
        STUDY, "local", {"model_selection": "best_test_epoch_as_in_paper", "test_curves": False}
    )
    with pytest.raises(ValueError, match="params/surrey: .*needs test_curves"):
        sr.check_params(cfg)
    sr.check_params(ecglib.params.load(STUDY, "local"))  # does not raise


def test_local_profile_is_sized_for_one_session():
    cfg = ecglib.params.load(STUDY, "local")
    assert cfg.max_train_beats is not None and cfg.test_curves is False
    assert ecglib.params.load(STUDY, "paper").max_train_beats is None  # the report: every beat


# --------------------------------------------------------------------------- evaluation


def test_rebalancing_draws_per_class_with_replacement_from_the_test_beats():
    test = np.array([10, 11, 12, 13, 14])
    labels = np.array([0, 0, 0, 0, 1])
    drawn = sr.rebalance_indices(test, labels, per_class=50, seed=0)
    assert len(drawn) == 100 and set(drawn) <= set(test)
    assert (drawn == 14).sum() == 50  # the rare class's one beat repeats


def test_confusion_matrix_rows_are_true_columns_predicted():
    matrix = metrics.confusion_table(np.array([0, 0, 1]), np.array([1, 1, 1]), ("N", "S"))
    assert matrix.index.name == "true class" and matrix.columns.name == "predicted class"
    assert matrix.loc["true N", "predicted S"] == 2
    assert matrix.loc["true S", "predicted N"] == 0
    assert matrix.loc["true S", "predicted S"] == 1


def test_predicted_classes_of_one_logit_and_of_many():
    assert sr.predicted_classes(np.array([[-1.0], [2.0]]), "mi").tolist() == [0, 1]
    assert sr.predicted_classes(np.array([[0.1, 3.0], [2.0, 0.0]]), "mitbih").tolist() == [1, 0]


def test_bootstrap_ci_brackets_accuracy():
    targets = np.array([0, 1] * 50)
    predicted = targets.copy()
    predicted[:20] = 1 - predicted[:20]
    out = sr.evaluate_predictions(targets, predicted, n_bootstrap=200, seed=0)
    assert out["accuracy"] == pytest.approx(0.8)
    assert out["accuracy_ci_low"] < 0.8 < out["accuracy_ci_high"]
    assert "balanced_accuracy_ci_low" in out and "f1_macro_ci_high" in out


# --------------------------------------------------------------------------- protocol: budgets and options


@pytest.fixture(scope="module")
def tiny_protocol():
    beats = _mit_records(20)
    split = sr.make_split(beats, "beat_random", test_fraction=0.2, val_fraction=0.2, seed=0)
    data = sr.ssl_data(
        beats.signals_mv[split.train[:24]],
        seed=0,
        params=sr.transforms.TransformParams(),
        held_out_fraction=0.25,
    )
    ssl = {
        t: sr.pretrain_ssl(data, t, epochs=1, lr=1e-3, batch_size=64, seed=0, device="cpu")
        for t in ("mlp", "cnn")
    }
    return beats, split, ssl


def _experiment(tiny_protocol, **options):
    beats, split, ssl = tiny_protocol
    settings = dict(
        task="mitbih",
        trunks=("mlp", "cnn"),
        epochs=2,
        ensemble_epochs=1,
        ensemble_comparison="equal_budget",
        lr=1e-3,
        batch_size=64,
        seed=0,
        device="cpu",
    )
    settings.update(options)
    return sr.run_experiment(beats, split, ssl, **settings)


def test_epoch_budgets_are_equal_by_default(tiny_protocol):
    experiment = _experiment(tiny_protocol)
    trained = experiment.epochs_trained
    for trunk in ("mlp", "cnn"):
        assert trained[("scratch", trunk)] == trained[("ssl", trunk)] == 2
        assert trained[("ssl_longer", trunk)] == trained[("ensemble", sr.ENSEMBLE)] == 3
        assert len(experiment.fits[("ssl_longer", trunk)].history) == 1
    assert np.array_equal(experiment.test_indices, tiny_protocol[1].test)  # natural test set


def test_unequal_budget_is_an_option_without_longer_single_models(tiny_protocol):
    experiment = _experiment(tiny_protocol, ensemble_comparison="unequal_as_in_report")
    assert not any(arm == "ssl_longer" for arm, _ in experiment.fits)
    with pytest.raises(ValueError, match="ensemble_comparison"):
        _experiment(tiny_protocol, ensemble_comparison="longer")


def test_rebalanced_test_set_only_when_asked(tiny_protocol):
    experiment = _experiment(
        tiny_protocol, test_rebalance_per_class=30, ensemble_comparison="unequal_as_in_report"
    )
    assert len(experiment.test_indices) == 5 * 30
    assert set(experiment.test_indices) <= set(tiny_protocol[1].test)


def test_best_test_epoch_is_labelled_and_needs_test_curves(tiny_protocol):
    beats, split, _ = tiny_protocol
    from ecglib.models import make_model

    model = make_model("surrey_mlp", seed=0, n_classes=5)
    with pytest.raises(ValueError, match="test curves"):
        sr.train_classifier(
            model,
            beats,
            split,
            task="mitbih",
            epochs=1,
            lr=1e-3,
            batch_size=64,
            seed=0,
            device="cpu",
            test_indices=np.zeros(0, np.int64),
            model_selection="best_test_epoch_as_in_paper",
        )
    result = sr.train_classifier(
        model,
        beats,
        split,
        task="mitbih",
        epochs=2,
        lr=1e-3,
        batch_size=64,
        seed=0,
        device="cpu",
        model_selection="best_test_epoch_as_in_paper",
    )
    assert result.monitor == "test_accuracy"


def test_mi_task_trains_one_logit_with_bce():
    ids = np.repeat([f"r{i}" for i in range(10)], 6)
    labels = np.repeat(np.arange(10) % 2, 6)
    beats = _beats(ids, labels, target_names=("no", "mi"))
    split = sr.make_split(beats, "record", test_fraction=0.2, val_fraction=0.25, seed=0)
    from ecglib.models import make_model

    result = sr.train_classifier(
        make_model("surrey_cnn", seed=0, n_classes=1),
        beats,
        split,
        task="mi",
        epochs=1,
        lr=1e-3,
        batch_size=16,
        seed=0,
        device="cpu",
    )
    assert {"val_accuracy", "val_balanced_accuracy", "test_accuracy"} <= set(result.history.columns)


# --------------------------------------------------------------------------- the SSL gate


def _ssl_result(trunk: str, *, collapsed: bool) -> sr.SslResult:
    targets = np.eye(8, dtype=np.float32)[np.arange(400) % 8]
    logits = np.full(targets.shape, -4.0) if collapsed else np.where(targets > 0, 4.0, -4.0)
    heads, learnt = head_accuracy_table(logits, targets, sr.transforms.TRANSFORMATIONS)
    return sr.SslResult(trunk, None, pd.DataFrame(), heads, learnt)


def _results_frame():
    rows = []
    accuracies = {
        "scratch": {"mlp": 0.9, "cnn": 0.92, "lstm": 0.85},
        "ssl": {"mlp": 0.87, "cnn": 0.93, "lstm": 0.91},
    }
    accuracies["ssl_longer"] = {t: a + 0.001 for t, a in accuracies["ssl"].items()}
    for task in sr.TASKS:
        split = "inter_patient" if task == "mitbih" else "record"
        for arm, by_trunk in accuracies.items():
            rows += [
                {"task": task, "split": split, "arm": arm, "trunk": t, "accuracy": a}
                for t, a in by_trunk.items()
            ]
        rows.append({"task": task, "split": split, "arm": "ensemble", "trunk": sr.ENSEMBLE, "accuracy": 0.95})
    return pd.DataFrame(rows)


def _correctness(frame, n_beats=2000):
    """0/1 per test beat with each model's accuracy: the first round(accuracy * n) beats right."""
    return {
        (r.task, r.split, r.arm, r.trunk): (np.arange(n_beats) < round(r.accuracy * n_beats)).astype(np.int64)
        for r in frame.itertuples()
    }


def _verdict(collapsed_trunks, frame=None):
    ssl = {t: _ssl_result(t, collapsed=t in collapsed_trunks) for t in ("mlp", "cnn", "lstm")}
    frame = _results_frame() if frame is None else frame
    results = sr.claim_results(
        frame,
        ssl,
        _correctness(frame),
        headline_splits={"mitbih": "inter_patient", "mi": "record"},
        ensemble_comparison="equal_budget",
    )
    reported = ecglib.params.reported(STUDY)
    return claims.evaluate(sr.CLAIMS, results, reported=reported, data_source="mitbih").set_index("claim")


def test_claims_are_decided_when_ssl_learnt():
    verdict = _verdict(collapsed_trunks=())
    assert claims.UNDECIDED not in set(verdict["verdict"])
    assert set(verdict["verdict"]) == {claims.HELD}  # the numbers above follow the report's directions


def test_a_collapsed_ssl_model_makes_its_claims_undecided():
    verdict = _verdict(collapsed_trunks=("lstm",))
    lstm = [c for c in verdict.index if "LSTM" in c]
    assert lstm and (verdict.loc[lstm, "verdict"] == claims.UNDECIDED).all()
    assert verdict.loc[lstm[0], "note"].startswith("Self-supervision did not learn for the LSTM (0 of 8")
    ensemble = [c for c in verdict.index if "ensemble" in c]
    assert (verdict.loc[ensemble, "verdict"] == claims.UNDECIDED).all()
    mlp = [c for c in verdict.index if "MLP" in c]
    assert (verdict.loc[mlp, "verdict"] == claims.HELD).all()


def test_a_gain_of_a_few_beats_between_two_models_decides_nothing():
    """Two majority-class LSTMs one beat apart (as in a real inter-patient run): undecided, not held."""
    frame = _results_frame()
    lstm = (frame["trunk"] == "lstm") & (frame["task"] == "mitbih")
    frame.loc[lstm & (frame["arm"] == "scratch"), "accuracy"] = 0.8900
    frame.loc[lstm & (frame["arm"] == "ssl"), "accuracy"] = 0.8905  # one beat more of 2,000
    verdict = _verdict(collapsed_trunks=(), frame=frame)
    claim = next(c for c in verdict.index if "LSTM's MIT-BIH" in c)
    assert verdict.loc[claim, "verdict"] == claims.UNDECIDED
    assert verdict.loc[claim, "test"].startswith("McNemar's test")
    assert verdict.loc[claim, "n"] == "2000 pairs"


def test_ensemble_compared_with_single_models_trained_as_long():
    ssl = {t: _ssl_result(t, collapsed=False) for t in ("mlp", "cnn", "lstm")}
    frame = _results_frame()
    equal = sr.claim_results(
        frame,
        ssl,
        _correctness(frame),
        headline_splits={"mitbih": "inter_patient", "mi": "record"},
        ensemble_comparison="equal_budget",
    )
    unequal = sr.claim_results(
        frame,
        ssl,
        _correctness(frame),
        headline_splits={"mitbih": "inter_patient", "mi": "record"},
        ensemble_comparison="unequal_as_in_report",
    )
    assert equal["accuracy"]["mitbih"]["best_single"] == pytest.approx(0.931)
    assert unequal["accuracy"]["mitbih"]["best_single"] == pytest.approx(0.93)


# --------------------------------------------------------------------------- the smoke run


@pytest.mark.notebook
def test_smoke_run_outputs(smoke_run):
    run_dir = smoke_run(STUDY)  # shared with tests/test_study_pattern.py
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for task, split in (("mitbih", "beat_random"), ("mi", "record")):
        for arm, trunk in [
            ("scratch", "mlp"),
            ("ssl", "cnn"),
            ("ssl_longer", "lstm"),
            ("ensemble", "ensemble"),
        ]:
            for name in ("accuracy", "balanced_accuracy", "f1_macro"):
                value = metrics[f"{name}_{task}_{split}_{arm}_{trunk}"]
                assert math.isfinite(value) and 0 <= value <= 1
    for trunk in ("mlp", "cnn", "lstm"):
        assert 0 <= metrics[f"ssl_heads_learnt_{trunk}"] <= 8
    for name in ("table1_supervised", "table2_with_ssl", "ssl_heads", "ssl_learnt", "splits"):
        assert (run_dir / "tables" / f"{name}.csv").exists(), name
    table1 = pd.read_csv(run_dir / "tables" / "table1_supervised.csv")
    assert "Kachuee" in table1["model"].iloc[-1]
    confusion = pd.read_csv(run_dir / "tables" / "confusion_mitbih_beat_random_scratch_cnn.csv", index_col=0)
    assert confusion.index.name == "true class" and list(confusion.columns)[0] == "predicted N"
    assert (run_dir / "figures" / "fig1_transformations.png").exists()


def test_training_curves_put_the_ensemble_in_every_panel_after_the_single_models(tiny_protocol):
    experiment = _experiment(tiny_protocol)
    curves = sr.training_curves(experiment, value="val_loss")
    assert set(curves["panel"]) == {"mlp", "cnn"}
    for _panel, group in curves.groupby("panel"):
        series = group.groupby("series")["epoch"].agg(["min", "max"])
        assert series.loc[sr.ARM_TITLES["scratch"]].tolist() == [1, 2]
        assert series.loc[sr.ARM_TITLES["ensemble"]].tolist() == [3, 3]
        assert series.loc[sr.ARM_TITLES["ssl_longer"]].tolist() == [3, 3]


def _write_kaggle_csvs(root, *, seed=0):
    """Tiny stand-ins for the four Kaggle CSVs (187 samples + label per row)."""
    from ecglib.data import dataset_folder, kaggle_heartbeat

    rng = np.random.default_rng(seed)
    folder = dataset_folder(kaggle_heartbeat.NAME, root)
    folder.mkdir(parents=True)
    for name, labels in (
        ("mitbih_train", np.arange(40) % 5),
        ("mitbih_test", np.arange(15) % 5),
        ("ptbdb_normal", np.zeros(20)),
        ("ptbdb_abnormal", np.ones(20)),
    ):
        beats = np.zeros((len(labels), 187))
        beats[:, :90] = rng.random((len(labels), 90))
        pd.DataFrame(np.column_stack([beats, labels])).to_csv(
            folder / kaggle_heartbeat.FILES[name], header=False, index=False
        )


def test_paper_data_path_reads_the_csvs_and_keeps_their_test_file(tmp_path):
    _write_kaggle_csvs(tmp_path)
    sr.check_data_present("kaggle-heartbeat", data_root=tmp_path)  # does not raise
    mit = sr.load_beats("kaggle-heartbeat", "mitbih", seed=0, data_root=tmp_path)
    mi = sr.load_beats("kaggle-heartbeat", "mi", seed=0, data_root=tmp_path)
    assert mit.signals_mv.shape == (55, 187, 1) and mi.signals_mv.shape == (40, 187, 1)
    split = sr.make_split(mit, "official_csv", test_fraction=0.2, val_fraction=0.2, seed=0)
    assert np.array_equal(split.test, np.arange(40, 55))  # the mitbih_test.csv rows, all of them
    assert len(split.train) + len(split.val) == 40
    mi_split = sr.make_split(mi, "beat_random", test_fraction=0.1, val_fraction=0.1, seed=0)
    assert len(mi_split.test) == 4 and set(mi.targets[mi_split.test]) == {0, 1}
    assert len(sr.data_files("kaggle-heartbeat", data_root=tmp_path)) == 4
    with pytest.raises(ValueError, match="not MIT-BIH records"):
        sr.make_split(mit, "inter_patient", test_fraction=0.2, val_fraction=0.2, seed=0)


def test_fits_are_units_read_back_identically(tiny_protocol, tmp_path):
    first = _experiment(tiny_protocol, cache_dir=tmp_path, ensemble_comparison="unequal_as_in_report")
    stored = {path: path.stat().st_mtime_ns for path in tmp_path.glob("unit-*.pt")}
    # 2 pre-trained trunks given + per trunk scratch and ssl + the ensemble
    assert len(stored) == 2 + 2 * 2 + 1
    again = _experiment(tiny_protocol, cache_dir=tmp_path, ensemble_comparison="unequal_as_in_report")
    assert {
        path: path.stat().st_mtime_ns for path in tmp_path.glob("unit-*.pt")
    } == stored  # nothing retrained
    assert list(again.logits) == list(first.logits)
    for key, logits in first.logits.items():
        np.testing.assert_array_equal(again.logits[key], logits)
        assert again.fits[key].best_epoch == first.fits[key].best_epoch
        pd.testing.assert_frame_equal(again.fits[key].history, first.fits[key].history)
        assert again.epochs_trained[key] == first.epochs_trained[key]
    # the stored weights are the selected ones: the rebuilt model predicts the stored logits
    from ecglib.train import predict

    beats, split, _ = tiny_protocol
    rebuilt = predict(
        again.fits[("ssl", "cnn")].model, beats.signals_mv[split.test], batch_size=1024, device="cpu"
    )
    np.testing.assert_array_equal(rebuilt, first.logits[("ssl", "cnn")])


def _smoke_inputs():
    cfg = ecglib.params.load(STUDY, "smoke")
    beats = {task: sr.beats_from_params(cfg, task) for task in sr.TASKS}
    return sr.grid_inputs(beats, sr.splits_from_params(cfg, beats))


def _keys(overrides=None, inputs=None) -> dict[str, str]:
    cfg = ecglib.params.load(STUDY, "smoke", overrides)
    return {unit.name: unit.key for unit in sr.plan_from_params(cfg, inputs or _smoke_inputs())}


def test_unit_keys_follow_what_decides_each_fit(monkeypatch):
    inputs = _smoke_inputs()
    keys = _keys(inputs=inputs)
    assert len(set(keys.values())) == len(keys) == 3 + 2 * (3 * 3 + 1)
    # presentation and where it runs: the same units
    assert _keys({"n_bootstrap": 7, "figure1_beat": 3, "device": "cpu", "n_threads": 2}, inputs) == keys
    # the supervised epochs: every fit, not the pre-trainings
    longer = _keys({"epochs": 3}, inputs)
    assert all((longer[n] == k) == n.startswith("ssl/") for n, k in keys.items())
    # the pre-training's epochs: the pre-trainings and every fit that starts from one, not scratch
    ssl_longer = _keys({"ssl_epochs": 3}, inputs)
    assert all((ssl_longer[n] == k) == ("/scratch/" in n) for n, k in keys.items())
    # the code version (never the source text): every unit
    monkeypatch.setattr(sr, "CODE_VERSION", "surrey-unit-test")
    assert not set(_keys(inputs=inputs).values()) & set(keys.values())


def test_unit_keys_follow_the_beats_contents():
    beats = _mit_records()
    digest = sr.data_digest({"mitbih": beats})
    assert sr.data_digest({"mitbih": _mit_records()}) == digest
    changed_signal = beats.signals_mv.copy()
    changed_signal[3, 10, 0] += 0.01  # one sample of one beat
    changed_label = beats.targets.copy()
    changed_label[0] = 4
    changed_record = beats.patient_ids.copy()
    changed_record[0] = "119"
    for changed in (
        dataclasses.replace(beats, signals_mv=changed_signal),
        dataclasses.replace(beats, targets=changed_label),
        dataclasses.replace(beats, patient_ids=changed_record),
    ):
        assert sr.data_digest({"mitbih": changed}) != digest
    # and the digest is in every unit's key
    inputs = _smoke_inputs()
    keys = _keys(inputs=inputs)
    moved = dataclasses.replace(inputs, digests={**inputs.digests, "mi": "another"})
    changed_keys = _keys(inputs=moved)
    assert all((changed_keys[n] == k) == (not n.startswith("fit/mi/")) for n, k in keys.items())


def test_a_changed_input_is_not_served_a_cached_fit(tiny_protocol, tmp_path):
    beats, split, ssl = tiny_protocol
    options = dict(ensemble_comparison="unequal_as_in_report", trunks=("mlp",))
    old = _experiment(tiny_protocol, cache_dir=tmp_path, **options)
    flipped = dataclasses.replace(beats, signals_mv=np.ascontiguousarray(beats.signals_mv[:, ::-1]))
    served = _experiment((flipped, split, ssl), cache_dir=tmp_path, **options)
    fresh = _experiment((flipped, split, ssl), **options)  # no cache
    for key in old.logits:
        np.testing.assert_array_equal(served.logits[key], fresh.logits[key])  # trained on the changed beats
        assert not np.array_equal(served.logits[key], old.logits[key])
