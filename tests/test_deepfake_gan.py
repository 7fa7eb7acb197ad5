"""DeepFake GAN source: seeded, batch-independent, millivolts, derived leads, on-disk cache."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import ecglib.data
from ecglib.data import deepfake_gan

pytest.importorskip("deepfakeecg", reason="deepfake-ecg is not installed")


@pytest.fixture(scope="module")
def generator():
    return deepfake_gan.load_generator("cpu")


@pytest.fixture(scope="module")
def four_ecgs(generator):
    return deepfake_gan.generate(4, seed=7, generator=generator)


def test_shape_dtype_units(four_ecgs):
    assert four_ecgs.shape == (4, 5000, 8)
    assert four_ecgs.dtype == np.float32
    # tanh output x 6 mV bounds every sample
    assert np.abs(four_ecgs).max() <= 6.0
    # R waves: the largest |amplitude| per lead is a few tenths to a few mV, not µV or V
    peak_mv = np.abs(four_ecgs).max(axis=1)
    assert 0.3 < np.median(peak_mv) < 3.0
    assert np.median(four_ecgs[:, :, 1].max(axis=1)) > 0.3  # lead II has upright R waves


def test_same_seed_same_ecgs_other_seed_differs(generator, four_ecgs):
    again = deepfake_gan.generate(4, seed=7, generator=generator)
    np.testing.assert_array_equal(again, four_ecgs)
    other = deepfake_gan.generate(4, seed=8, generator=generator)
    assert np.abs(other - four_ecgs).mean() > 0.05


def test_examples_independent_of_batch_size_and_start(generator, four_ecgs):
    # same noise per example whatever the batching; the convolutions' summation order still
    # depends on the batch size (oneDNN picks its algorithm by shape): ~1e-4 mV seen, so 1 µV
    in_ones = deepfake_gan.generate(4, seed=7, batch_size=1, generator=generator)
    np.testing.assert_allclose(in_ones, four_ecgs, atol=1e-3)
    tail = deepfake_gan.generate(2, seed=7, start=2, generator=generator)
    np.testing.assert_allclose(tail, four_ecgs[2:], atol=1e-3)


def test_global_rng_untouched(generator):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    deepfake_gan.load_generator("cpu")
    deepfake_gan.generate(1, seed=0, generator=generator)
    assert torch.equal(torch.rand(3), expected)


def test_twelve_leads_follow_einthoven_and_goldberger(generator, four_ecgs):
    twelve = deepfake_gan.generate(4, seed=7, leads="12", generator=generator)
    assert twelve.shape == (4, 5000, 12)
    names = deepfake_gan.lead_names("12")
    lead = {name: twelve[..., names.index(name)] for name in names}
    np.testing.assert_allclose(lead["I"], four_ecgs[..., 0], atol=1e-6)
    np.testing.assert_allclose(lead["III"], lead["II"] - lead["I"], atol=1e-5)
    np.testing.assert_allclose(lead["aVR"], -(lead["I"] + lead["II"]) / 2, atol=1e-5)
    np.testing.assert_allclose(lead["aVL"], lead["I"] - lead["II"] / 2, atol=1e-5)
    np.testing.assert_allclose(lead["aVF"], lead["II"] - lead["I"] / 2, atol=1e-5)
    np.testing.assert_allclose(lead["V6"], four_ecgs[..., 7], atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="leads"):
        deepfake_gan.generate(1, seed=0, leads="6")
    with pytest.raises(ValueError, match="batch_size"):
        deepfake_gan.generate(1, seed=0, batch_size=0)


def test_loading_raises_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        deepfake_gan.load_generator("cpu")


def test_info_registered():
    info = ecglib.data.info("deepfake-gan")
    assert info.kind == "offline" and info.folder is None
    assert info.version == deepfake_gan._package_version() != "not installed"
    assert "MIT" in info.licence and info.fs_hz == 500.0
    assert info.lead_names == ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")


def test_cached_signals_written_once_and_reused(tmp_path, monkeypatch, four_ecgs):
    first = deepfake_gan.cached_signals(4, seed=7, cache=tmp_path)
    np.testing.assert_array_equal(first, four_ecgs)
    files = list((tmp_path / "deepfake_gan").glob("*.npz"))
    assert len(files) == 1 and "seed7_n4_8lead_cpu" in files[0].name
    assert not list((tmp_path / "deepfake_gan").glob("*.tmp"))

    def fail(*args, **kwargs):
        raise AssertionError("generate() called although the set is cached")

    monkeypatch.setattr(deepfake_gan, "generate", fail)
    np.testing.assert_array_equal(deepfake_gan.cached_signals(4, seed=7, cache=tmp_path), four_ecgs)


def test_corrupt_cache_file_is_regenerated(tmp_path, four_ecgs):
    deepfake_gan.cached_signals(4, seed=7, cache=tmp_path)
    (path,) = (tmp_path / "deepfake_gan").glob("*.npz")
    path.write_bytes(b"not an npz")
    with pytest.warns(RuntimeWarning, match=f"{path.name} is unreadable"):
        regenerated = deepfake_gan.cached_signals(4, seed=7, cache=tmp_path)
    np.testing.assert_array_equal(regenerated, four_ecgs)


@pytest.mark.slow
def test_load_labelled_measures_targets(tmp_path):
    labelled = deepfake_gan.load_labelled(6, seed=3, cache=tmp_path)
    assert labelled.task == "regression" and labelled.source == "deepfake-gan"
    assert labelled.target_names == ("hr_bpm", "pr_ms", "qrs_ms", "qt_ms")
    assert len(labelled) + sum(labelled.exclusions.values()) == 6
    assert labelled.targets.shape == (len(labelled), 4) and np.isfinite(labelled.targets).all()
    hr_bpm, pr_ms, qrs_ms, qt_ms = np.median(labelled.targets, axis=0)
    assert 40 < hr_bpm < 120 and 80 < pr_ms < 260 and 50 < qrs_ms < 130 and 300 < qt_ms < 500
    assert labelled.patient_ids[0].startswith("gan-3-")
    # targets are cached: a second call reads them back unchanged
    again = deepfake_gan.load_labelled(6, seed=3, cache=tmp_path)
    np.testing.assert_array_equal(again.targets, labelled.targets)
    assert len(list((tmp_path / "deepfake_gan").glob("targets-*.npz"))) == 1
