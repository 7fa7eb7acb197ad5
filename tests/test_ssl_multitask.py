"""Surrey beat networks: trunk and head shapes, the bottleneck option, transfer, ensemble, SSL check."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ecglib.models import MODEL_FAMILIES, make_model
from ecglib.models.ssl_multitask import BeatNet, ProbabilityAverage, head_accuracy_table, transfer_trunk
from ecglib.transforms import TRANSFORMATIONS

EMBEDDING_DIM = {"mlp": 64, "cnn": 20, "lstm": 128}


def beats(n=4, seed=0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).random((n, 1, 187), dtype=np.float32))


def count(model: nn.Module, kind: type) -> int:
    return sum(isinstance(module, kind) for module in model.modules())


@pytest.mark.parametrize("trunk", ["mlp", "cnn", "lstm"])
def test_trunk_and_heads_shapes(trunk):
    model = make_model(f"surrey_{trunk}", seed=0)
    x = beats()
    assert model.encoder(x).shape == (4, EMBEDDING_DIM[trunk])
    assert model(x).shape == (4, 8)
    assert isinstance(model.head, nn.Linear) and model.head.out_features == 8
    supervised = make_model(f"surrey_{trunk}", seed=0, n_classes=5)
    assert supervised(x).shape == (4, 5)


def test_architectures_follow_the_report():
    mlp, cnn, lstm = (BeatNet(trunk) for trunk in ("mlp", "cnn", "lstm"))
    assert count(mlp, nn.Linear) == 7  # 7 dense layers, the last being the head
    assert count(cnn, nn.Conv1d) == count(cnn, nn.MaxPool1d) == 3 and count(cnn, nn.Linear) == 3
    assert count(cnn, nn.LeakyReLU) == 5
    assert count(lstm, nn.LSTM) == 1 and count(lstm, nn.Linear) == 2
    assert lstm.encoder[0].lstm.hidden_size == 64


@pytest.mark.parametrize("trunk", ["mlp", "cnn", "lstm"])
def test_bottleneck_option_is_one_sigmoid_unit(trunk):
    model = BeatNet(trunk, bottleneck=True)
    embedding = model.encoder(beats())
    assert embedding.shape == (4, 1)
    assert ((embedding > 0) & (embedding < 1)).all()
    assert model.head.in_features == 1 and model(beats()).shape == (4, 8)


def test_same_seed_same_weights():
    first, second = make_model("surrey_cnn", seed=3), make_model("surrey_cnn", seed=3)
    third = make_model("surrey_cnn", seed=4)
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values()):
        assert torch.equal(a, b), name
    assert not torch.equal(first.head.weight, third.head.weight)


@pytest.mark.parametrize("trunk", ["mlp", "cnn", "lstm"])
@pytest.mark.parametrize("n_classes", [5, 1])
def test_transfer_keeps_the_trunk_weights(trunk, n_classes):
    pretrained = make_model(f"surrey_{trunk}", seed=1)
    before = {key: value.clone() for key, value in pretrained.state_dict().items()}
    model, report = transfer_trunk(pretrained, n_classes, seed=2)
    encoder_keys = [key for key in before if key.startswith("encoder.")]
    assert report.n_loaded == len(encoder_keys)
    for key in encoder_keys:
        assert torch.equal(model.state_dict()[key], before[key]), key
    assert model.head.out_features == n_classes and model(beats()).shape == (4, n_classes)
    assert set(report.initialised) == {"head.weight", "head.bias"}
    for key, value in pretrained.state_dict().items():  # the source is left unchanged
        assert torch.equal(value, before[key])
    fresh = make_model(f"surrey_{trunk}", seed=2, n_classes=n_classes)  # and differs from scratch
    assert not torch.equal(fresh.state_dict()[encoder_keys[0]], model.state_dict()[encoder_keys[0]])


def test_transfer_can_cut_the_bottleneck():
    pretrained = BeatNet("cnn", bottleneck=True)
    kept, _ = transfer_trunk(pretrained, 5, seed=0)
    assert kept.head.in_features == 1
    cut, report = transfer_trunk(pretrained, 5, seed=0, keep_bottleneck=False)
    assert cut.head.in_features == 20
    skipped = {key for key, _ in report.skipped}
    bottleneck = len(pretrained.encoder) - 2  # Linear(20, 1), then Sigmoid
    assert isinstance(pretrained.encoder[bottleneck], nn.Linear)
    assert skipped == {
        f"encoder.{bottleneck}.weight",
        f"encoder.{bottleneck}.bias",
        "head.weight",
        "head.bias",
    }
    for key, value in cut.encoder.state_dict().items():
        assert torch.equal(value, pretrained.encoder.state_dict()[key])
    with pytest.raises(ValueError, match="bottleneck"):
        transfer_trunk(BeatNet("cnn"), 5, seed=0, keep_bottleneck=True)


@pytest.mark.parametrize("n_classes", [5, 1])
def test_ensemble_averages_probabilities(n_classes):
    members = [make_model(f"surrey_{trunk}", seed=0, n_classes=n_classes) for trunk in ("mlp", "cnn", "lstm")]
    ensemble = ProbabilityAverage(members).eval()
    x = beats(6)
    with torch.no_grad():
        logits = [member.eval()(x) for member in members]
        output = ensemble(x)
    if n_classes == 1:
        expected = torch.stack([torch.sigmoid(value) for value in logits]).mean(0)
        torch.testing.assert_close(torch.sigmoid(output), expected)
    else:
        expected = torch.stack([torch.softmax(value, -1) for value in logits]).mean(0)
        torch.testing.assert_close(torch.softmax(output, -1), expected)
    assert sum(1 for _ in ensemble.parameters()) == sum(sum(1 for _ in m.parameters()) for m in members)


def test_wrong_input_layout_is_rejected():
    with pytest.raises(ValueError, match=r"\(batch, 1, 187\)"):
        BeatNet("mlp")(torch.zeros(2, 187, 1))


def test_families_registered():
    assert {"surrey_mlp", "surrey_cnn", "surrey_lstm"} <= set(MODEL_FAMILIES)


# --------------------------------------------------------------------------- did SSL learn anything


def one_hot_targets(n_beats=50) -> np.ndarray:
    return np.eye(8, dtype=np.float32)[np.repeat(np.arange(8), n_beats)]


def test_check_fires_on_a_collapsed_model():
    targets = one_hot_targets()
    constant = np.full(targets.shape, -2.0)  # always "not this transformation"
    table, learnt = head_accuracy_table(constant, targets, TRANSFORMATIONS)
    assert not learnt
    np.testing.assert_allclose(table["accuracy"], 7 / 8)
    np.testing.assert_allclose(table["majority_rate"], 7 / 8)
    assert table.attrs["n_heads_learnt"] == 0 and "majority rate" in table.attrs["rule"]


def test_check_says_learnt_on_a_separating_model():
    targets = one_hot_targets()
    rng = np.random.default_rng(0)
    separating = np.where(targets == 1, 3.0, -3.0) + rng.normal(0, 1, targets.shape)
    table, learnt = head_accuracy_table(separating, targets, TRANSFORMATIONS)
    assert learnt and table["learnt"].all() and (table["accuracy"] > 0.95).all()


def test_check_one_head_is_not_enough():
    """The authors' outcome: only the negation head above 7/8."""
    targets = one_hot_targets()
    logits = np.full(targets.shape, -2.0)
    negation = TRANSFORMATIONS.index("negation")
    logits[:, negation] = np.where(targets[:, negation] == 1, 2.0, -2.0)
    table, learnt = head_accuracy_table(logits, targets, TRANSFORMATIONS)
    assert not learnt and table.attrs["n_heads_learnt"] == 1
    assert table.set_index("head").loc["negation", "accuracy"] == 1.0


def test_pipeline_runs_through_train_fit():
    """sim-beats -> self-supervised set -> fit (multi_label) -> transfer -> fit (single_label) -> ensemble."""
    from ecglib import train
    from ecglib.data import simulated
    from ecglib.transforms import self_supervised_set

    labelled = simulated.simulate_beats(24, seed=0).labelled
    ssl = self_supervised_set(labelled.signals_mv, seed=0)
    signals = ssl.signals  # (n, 187, 1): fit and predict transpose to (n, 1, 187)
    held_out = ssl.beat_index >= 16
    pretrained = make_model("surrey_mlp", seed=0)
    train.fit(
        pretrained,
        (signals[~held_out], ssl.targets[~held_out]),
        (signals[held_out], ssl.targets[held_out]),
        task="multi_label",
        epochs=1,
        lr=1e-3,
        batch_size=64,
        seed=0,
        device="cpu",
        progress=False,
    )
    logits = train.predict(pretrained, signals[held_out], batch_size=64, device="cpu")
    table, _ = head_accuracy_table(logits, ssl.targets[held_out], ssl.head_names)
    assert len(table) == 8
    classifier, report = transfer_trunk(pretrained, 5, seed=1)
    assert report.n_loaded == len(pretrained.encoder.state_dict())
    beats = labelled.signals_mv
    result = train.fit(
        classifier,
        (beats[:16], labelled.targets[:16]),
        (beats[16:], labelled.targets[16:]),
        task="single_label",
        epochs=1,
        lr=1e-3,
        batch_size=8,
        seed=0,
        device="cpu",
        progress=False,
    )
    assert len(result.history) == 1
    ensemble = ProbabilityAverage([classifier, transfer_trunk(pretrained, 5, seed=2)[0]])
    probabilities = torch.softmax(ensemble.eval()(torch.from_numpy(beats[:4]).transpose(1, 2)), dim=-1)
    torch.testing.assert_close(probabilities.sum(dim=1), torch.ones(4))
