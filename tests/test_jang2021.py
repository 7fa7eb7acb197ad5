"""Tests for the Jang et al. 2021 study: the GoogLeNet 2-D arm, the study glue and the smoke run."""

import numpy as np
import pytest
import torch

from ecglib.data import DataFormatError
from ecglib.models import googlenet2d


@pytest.fixture(autouse=True)
def one_torch_thread():
    # 2 shared CI cores: single-threaded torch avoids OpenMP spin-wait slowdowns.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# --- GoogLeNet feature extractor: ImageNet weights present / missing -------------------------


def test_googlenet_missing_weights_raise_by_default(tmp_path):
    with pytest.raises(googlenet2d.ImageNetWeightsMissing, match="cannot be downloaded"):
        googlenet2d.load_feature_extractor(hub_dir=tmp_path)
    with pytest.raises(googlenet2d.ImageNetWeightsMissing, match="nope.pth"):
        googlenet2d.load_feature_extractor(weights_path=tmp_path / "nope.pth")


def test_googlenet_missing_weights_random_is_labelled_never_imagenet(tmp_path):
    extractor, info = googlenet2d.load_feature_extractor(hub_dir=tmp_path, when_missing="random", seed=0)
    assert info.weights == "random" and not info.is_imagenet
    assert info.label == googlenet2d.RANDOM_WEIGHTS_LABEL
    assert "unavailable" in info.label and "not the paper's arm" in info.label
    assert info.path is None and info.sha256 is None
    features = googlenet2d.extract_features(extractor, np.random.default_rng(0).random((2, 3, 64, 64)))
    assert features.shape == (2, googlenet2d.N_FEATURES) and np.all(np.isfinite(features))
    assert not any(p.requires_grad for p in extractor.parameters()) and not extractor.training


def test_googlenet_loads_weights_from_hub_cache(tmp_path):
    # A state dict in torchvision's ImageNet layout (aux heads included), written where the hub cache keeps it.
    from torchvision.models import GoogLeNet

    torch.manual_seed(3)
    reference = GoogLeNet(num_classes=1000, aux_logits=True, transform_input=True, init_weights=True)
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    torch.save(reference.state_dict(), checkpoints / googlenet2d.IMAGENET_WEIGHTS_FILE)
    extractor, info = googlenet2d.load_feature_extractor(hub_dir=tmp_path)
    assert info.is_imagenet and info.label == googlenet2d.IMAGENET_LABEL and len(info.sha256) == 64
    assert torch.equal(extractor.conv1.conv.weight, reference.conv1.conv.weight)
    # same weights through an explicit path
    _, by_path = googlenet2d.load_feature_extractor(weights_path=checkpoints / googlenet2d.IMAGENET_WEIGHTS_FILE)
    assert by_path.is_imagenet


def test_googlenet_corrupt_weights_name_the_file(tmp_path):
    bad = tmp_path / "checkpoints" / googlenet2d.IMAGENET_WEIGHTS_FILE
    bad.parent.mkdir()
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(DataFormatError, match=googlenet2d.IMAGENET_WEIGHTS_FILE):
        googlenet2d.load_feature_extractor(hub_dir=tmp_path, when_missing="random")


def test_spectrogram_features_and_feature_classifier_shapes(tmp_path):
    extractor, _ = googlenet2d.load_feature_extractor(hub_dir=tmp_path, when_missing="random")
    windows = np.random.default_rng(0).normal(size=(3, 512))
    features = googlenet2d.spectrogram_features(windows, fs_hz=250.0, extractor=extractor, image_size=64, batch_size=2)
    assert features.shape == (3, 1024) and features.dtype == np.float32
    classifier = googlenet2d.FeatureClassifier(11)
    assert classifier(torch.from_numpy(features)[:, None, :]).shape == (3, 11)
