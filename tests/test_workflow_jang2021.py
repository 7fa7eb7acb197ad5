"""Jang 2021's grid as units (issue 16): ``ecglib plan jang2021``, ``ecglib unit run`` and the Snakefile.

The paper plan is checked over stand-ins (Chapman is absent here) against the count the protocol
implies; one tiny smoke grid (132 simulated records, 40 GAN ECGs, one training size, two trials,
two epochs) is run unit by unit through the command line and compared with the notebook's way
(``units.run_units`` over the same plan); the direct :func:`run_data_starvation` equals its units
stored and read back.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from workflow_helpers import (
    cli,
    job_counts,
    needs_snakemake,
    same_payload,
    snakemake,
    snakemake_env,
    unit_run_needs_first_then_runs_once,
)

from ecglib import params, units, workflow
from ecglib.models import cae
from ecglib.studies import jang2021 as study

#: a tiny smoke grid: the pre-training, the image features, 2 arms x 1 size x 2 trials
TINY_OVERRIDES = {
    "sim_n_examples": 132,
    "pretrain_n_gan": 40,
    "pretrain_epochs": 1,
    "arms": ["transfer", "image_transfer"],
    "train_fractions": [1.0],
    "n_trials": 2,
    "epochs": 2,
}
TINY = [item for key, value in TINY_OVERRIDES.items() for item in ("--set", f"{key}={json.dumps(value)}")]


def protocol_units(cfg) -> int:
    """What a profile's protocol implies: one pre-training, one image-feature unit when the image arm
    runs (ImageNet weights found, or a labelled random extractor), and one classifier per arm that
    runs, training size and trial."""
    from ecglib.models import googlenet2d

    weights, _ = googlenet2d.find_imagenet_weights(cfg.googlenet_weights_path)
    image_arm = "image_transfer" in cfg.arms and (weights is not None or cfg.googlenet_when_missing != "skip")
    n_arms = len(set(cfg.arms) - {"image_transfer"}) + int(image_arm)
    return 1 + int(image_arm) + n_arms * len(cfg.train_fractions) * cfg.n_trials


def _no_data(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("ECGLIB_DATA", str(tmp_path / "no-data"))


# --------------------------------------------------------------------------- (a) the paper plan


def test_paper_plan_has_the_units_the_protocol_implies(cache, capsys, tmp_path, monkeypatch):
    _no_data(monkeypatch, tmp_path)
    cfg = params.load("jang2021", "paper")
    expected = protocol_units(cfg)
    # the paper's protocol: 3 arms x 3 sizes x 10 trials, + the pre-training and the image features
    assert (len(cfg.arms), len(cfg.train_fractions), cfg.n_trials) == (3, 3, 10)
    assert expected == 3 * 3 * 10 + 2 == 92
    code, out, _ = cli(capsys, "plan", "jang2021", "--profile", "paper")
    plan = json.loads(out)
    assert code == 0 and plan["n_units"] == len(plan["units"]) == expected
    assert Path(plan["cache_dir"]) == cache / "units" / "jang2021"
    assert plan["resources"] == {"cpus_per_task": 4, "mem_mb": 32000, "runtime": 480, "gpu": 1}
    names = [unit["name"] for unit in plan["units"]]
    assert names[:2] == [study.PRETRAIN_UNIT, study.FEATURES_UNIT]
    assert len(set(names)) == len({unit["key"] for unit in plan["units"]}) == expected
    cells = {
        (arm, f"{100 * fraction:g}%", trial)
        for arm in cfg.arms
        for fraction in cfg.train_fractions
        for trial in range(1, cfg.n_trials + 1)
    }
    assert {tuple(name.split("/")[1:]) for name in names[2:]} == {
        (arm, size, f"trial{trial}") for arm, size, trial in cells
    }
    by_arm = {
        "transfer": [study.PRETRAIN_UNIT],
        "random": [],
        "image_transfer": [study.FEATURES_UNIT],
    }
    for unit in plan["units"][2:]:
        assert unit["needs"] == by_arm[unit["name"].split("/")[1]], unit["name"]


def test_skipping_the_image_arm_drops_its_units(cache, tmp_path, monkeypatch):
    _no_data(monkeypatch, tmp_path)
    overrides = {"googlenet_weights_path": str(tmp_path / "absent.pth"), "googlenet_when_missing": "skip"}
    plan = workflow.plan("jang2021", "paper", overrides)
    assert (
        len(plan.units) == protocol_units(plan.cfg) == 1 + 3 * 3 * 10 - 3 * 10
    )  # no image features, no image arm
    assert not any("image" in unit.name for unit in plan.units)


@needs_snakemake
@pytest.mark.slow
def test_paper_dag_has_one_job_per_planned_unit(tmp_path):
    """The dry run of Jang's paper DAG over stand-ins: the protocol's units, the study and ``all``."""
    env = snakemake_env(tmp_path / "cache", ECGLIB_DATA=str(tmp_path / "no-data"))
    config = ["--config", "study=jang2021", "profile=paper", f"output_root={tmp_path / 'outputs'}"]
    done = snakemake(tmp_path, "-n", *config, env=env)
    expected = protocol_units(params.load("jang2021", "paper"))
    assert job_counts(done.stdout + done.stderr) == {
        "unit": expected,
        "study": 1,
        "all": 1,
        "total": expected + 2,
    }
    assert "shape-only stand-ins" in done.stderr


# --------------------------------------------------------------------------- (c) stand-ins


@pytest.mark.parametrize(("profile", "dataset"), [("paper", "chapman"), ("local", "mitbih")])
def test_plan_without_the_data_lists_stand_in_keys_that_unit_run_refuses(
    cache, capsys, tmp_path, monkeypatch, profile, dataset
):
    _no_data(monkeypatch, tmp_path)
    code, out, _ = cli(capsys, "plan", "jang2021", "--profile", profile)
    plan = json.loads(out)
    assert code == 0 and plan["keys"] == "stand-in" and dataset in plan["stand_in_reason"]
    assert plan["n_units"] == protocol_units(params.load("jang2021", profile))
    key = plan["units"][-1]["key"]
    code, _, err = cli(capsys, "unit", "run", "jang2021", key, "--profile", profile)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert f"{key} is a stand-in key of jang2021/{profile}" in err and "cannot be run" in err
    assert not any(cache.rglob("unit-*.pt"))


def test_keys_name_what_determines_each_unit(cache, tmp_path, monkeypatch):
    """A pre-training setting changes the pre-training and the transfer arm's keys (it names the
    pre-training's key), not the random arm's; a classifier setting changes every classifier's."""
    _no_data(monkeypatch, tmp_path)

    def keys(**overrides):
        return {unit.name: unit.key for unit in workflow.plan("jang2021", "paper", overrides).units}

    base, pre, head = keys(), keys(pretrain_epochs=99), keys(lr=0.004)
    classifiers = [name for name in base if name.startswith("classifier/")]
    changed = {name for name in base if pre[name] != base[name]}
    assert changed == {study.PRETRAIN_UNIT} | {name for name in classifiers if "/transfer/" in name}
    assert {name for name in base if head[name] != base[name]} == set(classifiers)


# --------------------------------------------------------------------------- (b) one smoke unit


@pytest.mark.slow
def test_unit_run_needs_the_pretraining_then_computes_once_as_the_notebook(cache, capsys, tmp_path):
    code, out, _ = cli(capsys, "plan", "jang2021", "--profile", "smoke", *TINY)
    plan = json.loads(out)
    assert code == 0 and plan["keys"] == "real"
    assert plan["n_units"] == protocol_units(params.load("jang2021", "smoke", TINY_OVERRIDES)) == 6
    by_name = {unit["name"]: unit for unit in plan["units"]}
    pre = by_name[study.PRETRAIN_UNIT]
    tuned = by_name["classifier/transfer/100%/trial2"]
    assert tuned["needs"] == [study.PRETRAIN_UNIT]

    unit_run_needs_first_then_runs_once(capsys, "jang2021", pre, tuned, TINY)

    # the notebook's way (units.run_units over the same plan, another cache folder): the same payloads
    elsewhere = tmp_path / "notebook-cache"
    payloads = units.run_units(
        workflow.plan("jang2021", "smoke", TINY_OVERRIDES).units, cache_dir=elsewhere, use_cache=True
    )
    for unit in (pre, tuned):
        cli_payload = units.load_unit(unit["key"], plan["cache_dir"])
        notebook_payload = payloads[unit["name"]]
        cli_payload.pop("seconds", None), notebook_payload.pop("seconds", None)  # wall time
        same_payload(cli_payload, notebook_payload)
    assert payloads[tuned["name"]]["n_loaded"] > 0  # the encoder came from the pre-training
    # a key of other parameters is not a unit of this plan (one line)
    code, _, err = cli(capsys, "unit", "run", "jang2021", tuned["key"], "--profile", "smoke")
    assert code == 1 and "is not a unit of jang2021/smoke" in err and len(err.strip().splitlines()) == 1
    features = payloads[study.FEATURES_UNIT]["features"]
    assert features.shape == (132, 1024, 1) and features.dtype == torch.float32


# --------------------------------------------------------------------------- run_data_starvation


@pytest.mark.slow
def test_run_data_starvation_equals_its_units_stored_and_read_back(tmp_path):
    """The direct run (nothing stored) and the units through the cache give the same result."""
    from test_jang2021 import TINY_CAE, _tiny_problem

    signals, targets = _tiny_problem(n=36, n_samples=256)
    features = np.random.default_rng(1).normal(size=(len(targets), 16, 1)).astype(np.float32)
    encoder = cae.make_autoencoder(seed=3, **TINY_CAE).encoder.state_dict()
    index = np.arange(len(targets))
    settings = dict(
        train_index=index[:24],
        val_index=index[24:30],
        test_index=index[30:],
        n_classes=3,
        train_fractions=[0.5],
        n_trials=2,
        trial_resampling="bootstrap",
        epochs=2,
        lr=0.005,
        batch_size=8,
        optimizer="adam",
        model_selection="validation",
        head_hidden_units=[4],
        cae_options=TINY_CAE,
        seed=0,
        device="cpu",
        progress=False,
    )
    inputs = {"transfer": signals, "random": signals, "image_transfer": features}
    direct = study.run_data_starvation(inputs, targets, encoder_state=encoder, **settings)
    grid, runs = study.starvation_units(inputs, targets, encoder=encoder, **settings)
    assert [unit.name for unit in grid] == list(runs)
    assert len(grid) == 3 * 1 * 2 and len({unit.key for unit in grid}) == len(grid)
    stored = units.run_units(grid, cache_dir=tmp_path, use_cache=True)
    assert len(list(tmp_path.glob("unit-*.pt"))) == len(grid)
    again = units.run_units(grid, cache_dir=tmp_path, use_cache=True)  # all read back, none trained
    cached = study.starvation_from_payloads(runs, again)
    pd.testing.assert_frame_equal(
        cached.trials.drop(columns="seconds"), direct.trials.drop(columns="seconds")
    )
    pd.testing.assert_frame_equal(cached.curves, direct.curves)
    pd.testing.assert_frame_equal(cached.settings, direct.settings)
    assert list(cached.trials["seconds"]) == [payload["seconds"] for payload in stored.values()]


class _Stop(Exception):
    pass


@pytest.mark.parametrize("profile", ["smoke", "local", "paper"])
def test_the_plan_trains_what_the_adaptors_pass(profile, monkeypatch, tmp_path):
    """The pre-training unit calls pretrain_autoencoder as pretrain_from_params does, and the classifier
    units are built with run_data_starvation_from_params' settings (both adaptors are checked against
    the notebook's former calls in tests/test_training_adaptors.py)."""
    _no_data(monkeypatch, tmp_path)
    cfg = params.load("jang2021", profile)
    inputs = study.stand_in_inputs(cfg)
    corpus_size = sum(len(part) for part in (inputs.corpus_split.train, inputs.corpus_split.val))
    corpus_size += len(inputs.corpus_split.test)
    if corpus_size * cfg.window_samples > 5e7:  # the paper's 100,000 GAN ECGs: a smaller corpus
        inputs.corpus_split = study.corpus_split_from_params(
            cfg,
            study.PretrainCorpus(np.zeros((0, 1, 1)), np.array([]), np.array([f"g{i}" for i in range(500)])),
        )
        corpus_size = 500
    inputs.corpus_signals = np.random.default_rng(0).normal(size=(corpus_size, cfg.window_samples, 1))
    calls = {}

    def record(name):
        def fake(*args, **kwargs):
            calls.setdefault(name, []).append((args, kwargs))
            raise _Stop

        return fake

    monkeypatch.setattr(study, "pretrain_autoencoder", record("pretrain"))
    real_units = study.starvation_units

    def spy_units(*args, **kwargs):
        calls.setdefault("units", []).append((args, kwargs))
        return real_units(*args, **kwargs)

    monkeypatch.setattr(study, "starvation_units", spy_units)
    grid, runs = study.plan_from_params(cfg, inputs, device="cpu")
    with pytest.raises(_Stop):
        grid[0].compute({})
    train, val = (
        inputs.corpus_signals[inputs.corpus_split.train],
        inputs.corpus_signals[inputs.corpus_split.val],
    )
    with pytest.raises(_Stop):
        study.pretrain_from_params(cfg, train, val, device="cpu")
    (unit_args, unit_kwargs), (adaptor_args, adaptor_kwargs) = calls["pretrain"]
    assert all(np.array_equal(a, b) for a, b in zip(unit_args, adaptor_args)) and len(unit_args) == 2
    assert unit_kwargs == adaptor_kwargs

    monkeypatch.setattr(study, "run_data_starvation", record("starvation"))
    arms = {"transfer": inputs.signals, "random": inputs.signals}
    with pytest.raises(_Stop):
        study.run_data_starvation_from_params(
            cfg,
            arms,
            inputs.targets,
            split=inputs.split,
            n_classes=inputs.n_classes,
            encoder_state={},
            device="cpu",
        )
    [(_, planned)] = calls["units"]
    [(_, adaptor)] = calls["starvation"]
    planned = {k: v for k, v in planned.items() if k not in ("encoder", "input_digests")}
    adaptor = {k: v for k, v in adaptor.items() if k != "encoder_state"}
    assert planned.keys() == adaptor.keys()
    for key, value in adaptor.items():
        if isinstance(value, np.ndarray):
            assert np.array_equal(planned[key], value), key
        else:
            assert planned[key] == value, key
    assert len(runs) == len(grid) - 1 - int(study.FEATURES_UNIT in {unit.name for unit in grid})
