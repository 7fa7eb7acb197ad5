"""Nguyen & Do 2025 study: splits, selection rules (the test set is used only under the labelled
option), the RNN heads, the transfer report, the grid of cached units, the paper profile's stop,
and the smoke run."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from ecglib import params, units
from ecglib.data import LabelledSet
from ecglib.data.splits import Split
from ecglib.errors import DataMissingError
from ecglib.studies import nguyen2025 as nd

MODEL_KWARGS = {
    "n_leads": 2,
    "n_samples": 40,
    "rnn_head": "mean_pool",
    "rnn_hidden_size": 6,
    "rnn_dropout": 0.0,
}


def _set(n=36, n_labels=3, seed=0, patients_per=2, name="sim-ptbxl") -> LabelledSet:
    rng = np.random.default_rng(seed)
    targets = (rng.random((n, n_labels)) < 0.4).astype(np.float32)
    targets[np.arange(n), np.arange(n) % n_labels] = 1.0  # every label present
    signals = rng.normal(size=(n, 40, 2)).astype(np.float32) + targets[:, :1, None] * 2.0
    return LabelledSet(
        signals_mv=signals,
        targets=targets,
        patient_ids=np.array([f"p{i // patients_per}" for i in range(n)]),
        fs_hz=100.0,
        lead_names=("I", "II"),
        target_names=tuple(f"L{j}" for j in range(n_labels)),
        task="multi_label",
        source=name,
    )


def _prepared(examples: LabelledSet, name: str) -> nd.Prepared:
    digest = units.unit_key(signals=examples.signals_mv, targets=examples.targets)
    return nd.Prepared(name, examples, {"n_dropped_short": 0}, "patient", digest)


# --------------------------------------------------------------------------- splits


@pytest.mark.parametrize("rule", ["holdout", "patient_kfold"])
def test_splits_are_patient_disjoint_and_cover_the_set(rule):
    examples = _set(n=60, patients_per=3)
    splits = nd.make_splits(examples, rule=rule, seed=1, test_fraction=0.33, val_fraction=0.2, n_folds=4)
    assert len(splits) == (1 if rule == "holdout" else 4)
    for split in splits:
        parts = [set(examples.patient_ids[part]) for part in (split.train, split.val, split.test)]
        assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
        assert len(split.train) and len(split.val) and len(split.test)
    if rule == "patient_kfold":  # every example is tested exactly once
        tested = np.concatenate([split.test for split in splits])
        assert sorted(tested.tolist()) == list(range(len(examples)))


def test_size_subsets_are_nested_and_capped():
    subsets = nd.size_subsets(np.arange(100, 150), [10, 30, 80], seed=3)
    assert set(subsets[10]) <= set(subsets[30]) <= set(subsets[80])
    assert len(subsets[80]) == 50 and set(subsets[80]) == set(range(100, 150))


# --------------------------------------------------------------------------- selection rules


def _unit(examples, split, selection):
    return nd.train_unit(
        examples,
        split,
        arch="gru",
        seed=5,
        epochs=4,
        lr=0.05,
        batch_size=8,
        selection=selection,
        device="cpu",
        model_kwargs=MODEL_KWARGS,
    )


def test_the_test_set_is_used_only_under_the_labelled_option():
    examples = _set(n=48)
    split = nd.make_splits(
        examples, rule="holdout", seed=0, test_fraction=0.33, val_fraction=0.25, n_folds=2
    )[0]
    poisoned = LabelledSet(**{**examples.__dict__})
    poisoned.targets = examples.targets.copy()
    poisoned.targets[split.test] = 1.0 - poisoned.targets[split.test]  # the test labels inverted
    clean, dirty = _unit(examples, split, "validation"), _unit(poisoned, split, "validation")
    # validation selection: epoch, thresholds and every non-test number are blind to the test labels
    assert clean["best_epoch"] == dirty["best_epoch"]
    assert torch.equal(clean["thresholds"], dirty["thresholds"])
    assert torch.equal(clean["test_probabilities"], dirty["test_probabilities"])
    history_clean, history_dirty = (units.frame_from_payload(p["history"]) for p in (clean, dirty))
    assert history_clean["val_loss"].tolist() == history_dirty["val_loss"].tolist()
    assert history_clean["test_loss"].tolist() != history_dirty["test_loss"].tolist()  # the poison is visible
    # the labelled option selects on the test set: threshold 0.5, F1 = the best per-epoch test F1
    paper_clean, paper_dirty = (
        _unit(examples, split, "test_set_as_in_paper"),
        _unit(poisoned, split, "test_set_as_in_paper"),
    )
    assert torch.all(paper_clean["thresholds"] == 0.5)
    history = units.frame_from_payload(paper_clean["history"])
    assert paper_clean["f1_weighted"] == pytest.approx(history["test_f1_weighted"].max())
    assert paper_clean["best_epoch"] == int(history["epoch"][history["test_f1_weighted"].idxmax()])
    assert paper_clean["f1_weighted"] != pytest.approx(paper_dirty["f1_weighted"])


def test_unknown_selection_is_refused():
    examples = _set()
    split = Split(np.arange(20), np.arange(20, 28), np.arange(28, 36))
    with pytest.raises(ValueError, match="selection"):
        nd.train_unit(
            examples,
            split,
            arch="gru",
            seed=0,
            epochs=1,
            lr=0.01,
            batch_size=8,
            selection="test",
            device="cpu",
            model_kwargs=MODEL_KWARGS,
        )


# --------------------------------------------------------------------------- models and transfer report


@pytest.mark.parametrize(
    ("arch", "head", "features"),
    [
        ("gru", "mean_pool", 6),
        ("gru", "flatten_as_in_paper", 40 * 6),
        ("bilstm", "mean_pool", 12),
        ("lstm", "flatten_as_in_paper", 40 * 6),
    ],
)
def test_rnn_heads_through_the_study_builder(arch, head, features):
    model = nd.build_model(arch, n_classes=3, seed=0, **{**MODEL_KWARGS, "rnn_head": head})
    assert model.head[-1].in_features == features
    assert model(torch.zeros(2, 2, 40)).shape == (2, 3)


def test_transfer_report_counts():
    table = nd.transfer_report(
        ["resnet1d18", "gru"],
        n_upstream=5,
        n_downstream=7,
        n_leads=12,
        n_samples=1000,
        rnn_heads=("mean_pool", "flatten_as_in_paper"),
        rnn_hidden_size=100,
        rnn_dropout=0.3,
    )
    assert table.loc["resnet1d18", "n_discarded"] == 512 * 5 + 5
    assert table.loc["resnet1d18", "n_new"] == 512 * 7 + 7
    assert table.loc["gru (mean_pool)", "n_discarded"] == 100 * 5 + 5
    assert table.loc["gru (flatten_as_in_paper)", "n_discarded"] == 1000 * 100 * 5 + 5
    gru_core = 3 * (100 * 12 + 100 * 100 + 2 * 100)  # the recurrent layer, kept by both heads
    assert table.loc["gru (flatten_as_in_paper)", "n_kept"] == gru_core
    assert table.loc["gru (flatten_as_in_paper)", "fraction_discarded"] > 0.9  # the paper's ~92 %
    assert table.loc["resnet1d18", "fraction_discarded"] < 0.001


# --------------------------------------------------------------------------- the grid as units


def _plan(prepared, splits, **changes):
    kwargs = dict(
        models=["gru"],
        upstream=["sim-ptbxl"],
        downstream=["sim-chapman"],
        seeds=[1, 2],
        epochs=1,
        pretrain_epochs=1,
        lr=0.01,
        batch_size=8,
        selection="validation",
        device="cpu",
        model_kwargs=MODEL_KWARGS,
        sweep={"upstream": "sim-ptbxl", "downstream": "sim-chapman", "models": ["gru"], "sizes": [6, 12]},
    )
    kwargs.update(changes)
    return nd.plan_units(prepared, splits, **kwargs)


def _grid_inputs():
    prepared = {
        "sim-ptbxl": _prepared(_set(seed=1), "sim-ptbxl"),
        "sim-chapman": _prepared(_set(seed=2, n_labels=2), "sim-chapman"),
    }
    splits = {
        name: nd.make_splits(
            item.examples, rule="holdout", seed=0, test_fraction=0.3, val_fraction=0.2, n_folds=2
        )
        for name, item in prepared.items()
    }
    return prepared, splits


def test_resumed_grid_trains_only_missing_units(tmp_path, monkeypatch):
    prepared, splits = _grid_inputs()
    grid, jobs = _plan(prepared, splits)
    assert grid[0].name.startswith("pretrain/") and sum(u.name.startswith("pretrain/") for u in grid) == 1
    assert len(jobs) == 2 * 2 + 2 * 2 * 2  # main: 2 arms x 2 seeds; sweep: 2 sizes x 2 arms x 2 seeds
    calls = []
    original = nd.train_unit
    monkeypatch.setattr(nd, "train_unit", lambda *a, **k: calls.append(k["arch"]) or original(*a, **k))
    units.run_units(grid[:4], cache_dir=tmp_path, use_cache=True)  # interrupted
    assert len(calls) == 4
    calls.clear()
    payloads = units.run_units(grid, cache_dir=tmp_path, use_cache=True)
    assert len(calls) == len(grid) - 4
    calls.clear()
    again = units.run_units(grid, cache_dir=tmp_path, use_cache=True)
    assert calls == [] and units.missing(grid, tmp_path) == []
    results = nd.results_table(jobs, again, splits)
    assert np.allclose(results["f1_weighted"], nd.results_table(jobs, payloads, splits)["f1_weighted"])
    assert set(results["n_train"][results["experiment"] == "size_sweep"]) == {6, 12}


def test_unit_keys_follow_hyper_parameters_indices_and_initial_weights():
    prepared, splits = _grid_inputs()
    keys = {unit.name: unit.key for unit in _plan(prepared, splits)[0]}
    lr_keys = {unit.name: unit.key for unit in _plan(prepared, splits, lr=0.02)[0]}
    assert all(keys[name] != lr_keys[name] for name in keys)
    # longer pre-training = other initial weights for every fine-tune, the scratch runs unchanged
    pre_keys = {unit.name: unit.key for unit in _plan(prepared, splits, pretrain_epochs=2)[0]}
    for name in keys:
        assert (keys[name] == pre_keys[name]) == ("/scratch/" in name)
    # one index moved from train to val in the downstream set: its units change, the pre-training not
    moved = dict(splits)
    first = splits["sim-chapman"][0]
    moved["sim-chapman"] = [Split(first.train[1:], np.sort(np.r_[first.val, first.train[:1]]), first.test)]
    moved_keys = {unit.name: unit.key for unit in _plan(prepared, moved)[0]}
    for name in keys:
        assert (keys[name] == moved_keys[name]) == name.startswith("pretrain/")


# --------------------------------------------------------------------------- claims and profiles


def test_claims_read_the_numbers_they_name():
    rng = np.random.default_rng(0)
    rows = []
    for arch in ("resnet1d18", "gru"):
        for seed in range(3):
            for arm, up in (("scratch", ""), ("fine_tune", "sim-ptbxl")):
                rows.append(
                    {
                        "experiment": "main",
                        "arch": arch,
                        "family": "CNN" if arch == "resnet1d18" else "RNN",
                        "upstream": up,
                        "downstream": "d",
                        "arm": arm,
                        "seed": seed,
                        "fold": 0,
                        "n_train": 90,
                        "f1_weighted": 0.5 + 0.1 * (arm == "fine_tune") + 0.01 * rng.random(),
                        "auc_macro": 0.7,
                        "best_epoch": 3,
                        "unit": f"{arch}{seed}{arm}",
                    }
                )
    import pandas as pd

    results = pd.DataFrame(rows)
    numbers = nd.claim_results(
        results,
        pd.DataFrame(columns=["arch", "downstream", "seed", "fold", "arm", "epochs_to_fraction"]),
        pd.DataFrame(),
        small_max_train=100,
    )
    table = nd.verdict(
        numbers, reported=params.reported("nguyen2025"), main_source="ludb", sweep_source="sim-chapman"
    )
    by_claim = table.set_index("claim")["verdict"]
    assert by_claim.iloc[0] == "held"  # fine-tune beats scratch by 0.1 on the small set
    assert all(
        v == "not tested on synthetic data" for v in table["verdict"][table["claim"].str.startswith("2")]
    )


def test_paper_profile_stops_at_once_naming_the_download(tmp_path):
    cfg = params.load("nguyen2025", "paper")
    with pytest.raises(DataMissingError, match=r"ecglib data download ptbxl"):
        nd.datasets_from_params(cfg, [*cfg["upstream"], *cfg["downstream"]], data_root=tmp_path)


@pytest.mark.real_data
def test_ludb_downstream_loads_at_100_hz():
    from conftest import require_dataset

    require_dataset("ludb")
    item = nd.load_dataset(
        "ludb-rhythm",
        n_sim=0,
        seed=0,
        fs_hz=100.0,
        duration_s=10.0,
        resampling="anti_aliased",
        normalisation="none",
        ludb_records=range(1, 21),
        min_positives=3,
    )
    assert item.examples.signals_mv.shape == (20, 1000, 12)
    assert "SR" in item.examples.target_names and item.unscored  # rare rhythms reported, not scored


@pytest.mark.notebook
def test_smoke_run_metrics(smoke_run):
    run_dir = Path(smoke_run("nguyen2025"))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for name in ("n_units", "mean_f1_fine_tune", "mean_f1_scratch", "mean_auc_fine_tune", "mean_gain_f1"):
        assert name in metrics and math.isfinite(metrics[name])
    assert (run_dir / "tables" / "transfer_report.csv").is_file()
    for figure in (
        "fig2_upstream_sim-ptbxl",
        "fig3_fine_tune_vs_scratch",
        "fig4_gain_vs_size",
        "fig5_resnet1d18_epochs",
    ):
        assert (run_dir / "figures" / f"{figure}.png").is_file()


def _throughput_benchmark():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "nguyen2025_throughput.py"
    spec = importlib.util.spec_from_file_location("nguyen2025_throughput", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_paper_grid_has_the_units_the_protocol_implies():
    """3 upstream x 6 models pre-trainings; per seed and model, scratch on each of 5 downstream sets
    plus a fine-tune from every other upstream set (2 for the 3 upstream sets, 3 for PTB and
    CODE-test); the size sweep: 10 sizes x 3 ResNets x 2 arms; 3 seeds; one hold-out split."""
    import yaml

    bench = _throughput_benchmark()
    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "params/nguyen2025/paper.yaml").read_text())
    units_, jobs = bench.planned_grid(cfg)
    per_seed_model = 3 * (1 + 2) + 2 * (1 + 3)
    assert len(units_) == 3 * 6 + per_seed_model * 6 * 3 + 10 * 3 * 2 * 3 == 504
    # the cost model: epochs x (train / train rate + (val + test) / inference rate), summed
    rates = {
        arch: {"train_examples_per_s": 100.0, "inference_examples_per_s": 1000.0} for arch in cfg["models"]
    }
    cost = bench.grid_cost(units_[:1], rates)
    parts = units_[0].key_parts
    expected = parts["epochs"] * (len(parts["train"]) / 100 + (len(parts["val"]) + len(parts["test"])) / 1000)
    assert parts["role"] == "pretrain" and cost["seconds"] == pytest.approx(expected)


def test_prepared_public_set_is_cached_and_a_changed_file_is_read_again(tmp_path, monkeypatch):
    """A unit job reads the prepared arrays from the cache; touching a record makes it prepare again."""
    import native_layouts as nl

    from ecglib.data import ptbxl

    monkeypatch.setenv("ECGLIB_CACHE", str(tmp_path / "cache"))
    codes = [{"NORM": 100.0}, {"IMI": 100.0}, {"NDT": 100.0}, {"CLBBB": 100.0}, {"LVH": 100.0}] * 2
    nl.write_ptbxl(tmp_path / "data" / "ptb-xl", codes)
    reads = []
    load_labelled = ptbxl.load_labelled
    monkeypatch.setattr(ptbxl, "load_labelled", lambda *a, **k: reads.append(1) or load_labelled(*a, **k))
    settings = dict(
        n_sim=0,
        seed=0,
        fs_hz=100.0,
        duration_s=10.0,
        resampling="anti_aliased",
        normalisation="none",
        min_positives=1,
        data_root=tmp_path / "data",
    )

    fresh = nd.load_dataset("ptbxl", **settings)
    first = nd.load_dataset("ptbxl", use_cache=True, **settings)
    second = nd.load_dataset("ptbxl", use_cache=True, **settings)
    assert len(reads) == 2  # the uncached load and the first cached one; the second read no record
    for item in (first, second):
        np.testing.assert_array_equal(item.examples.signals_mv, fresh.examples.signals_mv)
        np.testing.assert_array_equal(item.examples.targets, fresh.examples.targets)
        np.testing.assert_array_equal(item.examples.patient_ids, fresh.examples.patient_ids)
        assert item.examples.patient_ids.dtype == fresh.examples.patient_ids.dtype
        assert (item.digest, item.counts, item.unscored, item.split_unit) == (
            fresh.digest,
            fresh.counts,
            fresh.unscored,
            fresh.split_unit,
        )
        assert item.examples.target_names == fresh.examples.target_names
        assert item.examples.exclusions == fresh.examples.exclusions
        assert list(item.counts) == list(fresh.counts)  # tables list the counts in this order

    record = tmp_path / "data" / "ptb-xl" / "records500" / "00000" / "00003_hr.dat"
    os.utime(record, ns=(record.stat().st_atime_ns, record.stat().st_mtime_ns + 10**9))
    nd.load_dataset("ptbxl", use_cache=True, **settings)
    assert len(reads) == 3
    nd.load_dataset("ptbxl", use_cache=True, **{**settings, "fs_hz": 50.0})
    assert len(reads) == 4  # another setting, another entry
