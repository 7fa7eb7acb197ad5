"""ecglib.transfer: matching-weight report, heads, freezing, weights_only checkpoints."""

import pytest
import torch
from torch import nn

from ecglib import train, transfer
from ecglib.data import DataFormatError


class Encoder(nn.Module):
    def __init__(self, channels: int, kernel_size: int):
        super().__init__()
        self.conv1 = nn.Conv1d(1, channels, kernel_size, padding=kernel_size // 2)
        self.norm = nn.BatchNorm1d(channels)
        self.conv2 = nn.Conv1d(channels, 8, 3, padding=1)

    def forward(self, signals):
        return self.conv2(torch.relu(self.norm(self.conv1(signals)))).mean(dim=2)


class Net(nn.Module):
    """A model with the project's contract: ``.encoder`` and ``.head``."""

    def __init__(
        self, channels: int = 4, kernel_size: int = 5, n_outputs: int = 3, *, seed: int = 0, sequential=False
    ):
        super().__init__()
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.encoder = Encoder(channels, kernel_size)
            self.head = (
                nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, n_outputs))
                if sequential
                else nn.Linear(8, n_outputs)
            )

    def forward(self, signals):
        return self.head(self.encoder(signals))


def test_load_matching_weights_reports_loaded_skipped_and_new():
    source = Net(channels=4, kernel_size=5, n_outputs=3, seed=1)
    target = Net(channels=4, kernel_size=7, n_outputs=5, seed=2)  # conv1 and head shapes differ
    conv2_before = target.encoder.conv2.weight.clone()
    report = transfer.load_matching_weights(target, source.state_dict())
    loaded = {source_key for source_key, _ in report.loaded}
    assert loaded == {
        "encoder.conv1.bias",
        "encoder.norm.weight",
        "encoder.norm.bias",
        "encoder.norm.running_mean",
        "encoder.norm.running_var",
        "encoder.norm.num_batches_tracked",
        "encoder.conv2.weight",
        "encoder.conv2.bias",
    }
    skipped = dict(report.skipped)
    assert skipped["encoder.conv1.weight"] == "shape (4, 1, 5) != target (4, 1, 7)"
    assert skipped["head.weight"] == "shape (3, 8) != target (5, 8)"
    assert set(report.initialised) == {"encoder.conv1.weight", "head.weight", "head.bias"}
    assert torch.equal(target.encoder.conv2.weight, source.encoder.conv2.weight)
    assert not torch.equal(target.encoder.conv2.weight, conv2_before)
    assert not torch.equal(target.encoder.conv1.weight[:, :, :5], source.encoder.conv1.weight)
    text = str(report)
    assert text.startswith("Transfer: 8 tensors loaded, 3 skipped, 3 newly initialised")
    # conv1.bias (1), norm (5 tensors incl. buffers), conv2 (2)
    assert "    encoder.conv1 (1)\n    encoder.norm (5)\n    encoder.conv2 (2)\n" in text
    assert "encoder.conv1.weight: shape (4, 1, 5) != target (4, 1, 7)" in text
    assert "... and 1 more" in report.format(max_lines=2)
    frame = report.to_frame()
    assert frame["status"].value_counts().to_dict() == {"loaded": 8, "skipped": 3, "initialised": 3}


def test_prefix_map_copies_only_the_mapped_part_from_a_module():
    class Autoencoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = Net(seed=3).encoder
            self.decoder = nn.Linear(8, 8)

    source = Autoencoder()
    target = Net(seed=4)
    report = transfer.load_matching_weights(target, source, prefix_map={"enc.": "encoder."})
    assert ("enc.conv1.weight", "encoder.conv1.weight") in report.loaded
    assert dict(report.skipped)["decoder.weight"] == "not under a prefix of prefix_map"
    assert set(report.initialised) == {"head.weight", "head.bias"}
    assert "enc.conv1 -> encoder.conv1 (2)" in str(report)
    assert torch.equal(target.encoder.conv1.weight, source.enc.conv1.weight)
    with pytest.raises(TypeError, match="state dict or an nn.Module"):
        transfer.load_matching_weights(target, [1, 2])


def test_replace_head_linear_and_sequential_seeded():
    model = Net(n_outputs=3)
    transfer.replace_head(model, 7, seed=0)
    assert model.head.out_features == 7 and model(torch.zeros(2, 1, 16)).shape == (2, 7)
    again = transfer.replace_head(Net(n_outputs=3), 7, seed=0)
    assert torch.equal(model.head.weight, again.head.weight)
    sequential = Net(sequential=True)
    first_layer = sequential.head[0].weight.clone()
    transfer.replace_head(sequential, 2)
    assert sequential.head[-1].out_features == 2 and torch.equal(sequential.head[0].weight, first_layer)
    with pytest.raises(TypeError, match="no replaceable head"):
        transfer.replace_head(nn.Sequential(nn.Linear(2, 2)), 3)
    with pytest.raises(ValueError, match="n_outputs"):
        transfer.replace_head(Net(), 0)


def test_freeze_and_unfreeze_parts_and_fit_trains_only_the_rest():
    model = transfer.freeze(Net(n_outputs=2), "encoder")
    assert transfer.count_parameters(model) == (8 * 2 + 2, sum(p.numel() for p in model.parameters()))
    encoder_before = {key: value.clone() for key, value in model.encoder.state_dict().items()}
    head_before = model.head.weight.clone()
    signals = torch.randn(32, 16, 1).numpy()
    targets = (signals.mean(axis=(1, 2)) > 0).astype(int)
    train.fit(
        model,
        (signals, targets),
        (signals, targets),
        task="single_label",
        epochs=2,
        lr=1e-2,
        batch_size=8,
        seed=0,
        device="cpu",
        progress=False,
    )
    assert torch.equal(model.encoder.conv1.weight, encoder_before["conv1.weight"])
    assert not torch.equal(model.head.weight, head_before)
    transfer.unfreeze(model, ["encoder.conv1"])
    assert model.encoder.conv1.weight.requires_grad and not model.encoder.conv2.weight.requires_grad
    transfer.unfreeze(model)
    assert all(parameter.requires_grad for parameter in model.parameters())
    with pytest.raises(ValueError, match="no part 'decoder'.*encoder, head"):
        transfer.freeze(model, "decoder")


def test_load_checkpoint_weights_only(tmp_path):
    path = tmp_path / "encoder.pt"
    torch.save(Net().state_dict(), path)
    state = transfer.load_checkpoint(path)
    assert transfer.load_matching_weights(Net(seed=5), state).n_loaded == len(state)

    missing = tmp_path / "missing.pt"
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        transfer.load_checkpoint(missing)

    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(path.read_bytes()[:100])
    with pytest.raises(transfer.CheckpointError, match="corrupt.pt"):
        transfer.load_checkpoint(corrupt)
    assert issubclass(transfer.CheckpointError, DataFormatError)

    unsafe = tmp_path / "unsafe.pt"
    torch.save({"model": Net()}, unsafe)  # a pickled module, which weights_only=True refuses
    with pytest.raises(transfer.CheckpointError, match="unsafe.pt"):
        transfer.load_checkpoint(unsafe)

    not_a_dict = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], not_a_dict)
    with pytest.raises(transfer.CheckpointError, match="holds a list"):
        transfer.load_checkpoint(not_a_dict)


def test_fit_checkpoints_load_with_weights_only(tmp_path):
    signals = torch.randn(16, 16, 1).numpy()
    targets = (signals.mean(axis=(1, 2)) > 0).astype(int)
    train.fit(
        Net(n_outputs=2),
        (signals, targets),
        (signals, targets),
        task="single_label",
        epochs=1,
        lr=1e-2,
        batch_size=8,
        seed=0,
        device="cpu",
        progress=False,
        checkpoint_dir=tmp_path,
    )
    for name in ("last.pt", "best.pt"):
        assert isinstance(torch.load(tmp_path / name, weights_only=True), dict)
    last = transfer.load_checkpoint(tmp_path / "last.pt")
    report = transfer.load_matching_weights(Net(n_outputs=4), last["model"])
    assert set(report.initialised) == {"head.weight", "head.bias"}


# --------------------------------------------------------------------------- kept and replaced counts
# Nguyen & Do 2025 at 10 s x 100 Hz = 1,000 samples x 12 leads, pre-trained on 5 labels, fine-tuned on 9.
# ResNet1d18: encoder 3,848,832 + fc 512->512 (262,656) kept; top fc 512->5 (2,565) discarded.
# RNNs: LSTM 4 x (12*100 + 100*100 + 2*100) = 45,600; GRU 3 x ... = 34,200; BiLSTM 2 x 45,600.
KEPT_AND_REPLACED_5_TO_9 = {
    # name: (kwargs, n_pretrained, n_kept, n_discarded, n_new)
    "resnet1d18": ({}, 4_114_053, 4_111_488, 2_565, 4_617),
    "lstm/mean_pool": ({"head": "mean_pool"}, 46_105, 45_600, 505, 909),
    "lstm/flatten_as_in_paper": ({"head": "flatten_as_in_paper"}, 545_605, 45_600, 500_005, 900_009),
    "bilstm/mean_pool": ({"head": "mean_pool"}, 92_205, 91_200, 1_005, 1_809),
    "bilstm/flatten_as_in_paper": (
        {"head": "flatten_as_in_paper"},
        1_091_205,
        91_200,
        1_000_005,
        1_800_009,
    ),
    "gru/mean_pool": ({"head": "mean_pool"}, 34_705, 34_200, 505, 909),
    "gru/flatten_as_in_paper": ({"head": "flatten_as_in_paper"}, 534_205, 34_200, 500_005, 900_009),
}


@pytest.mark.parametrize("name", sorted(KEPT_AND_REPLACED_5_TO_9))
def test_kept_and_replaced_counts_match_an_actual_head_replacement(name):
    from ecglib.models import make_model

    kwargs, n_pretrained, n_kept, n_discarded, n_new = KEPT_AND_REPLACED_5_TO_9[name]
    family = name.split("/")[0]
    if family != "resnet1d18":
        kwargs = {**kwargs, "n_samples": 1000}
    model = make_model(family, seed=0, n_leads=12, n_classes=5, **kwargs)
    counts = transfer.kept_and_replaced(model, 9)
    assert (counts.n_pretrained, counts.n_kept, counts.n_discarded, counts.n_new) == (
        n_pretrained,
        n_kept,
        n_discarded,
        n_new,
    )
    assert counts.n_finetuned == n_kept + n_new
    # the counts describe what replace_head really does
    state_before = {key: value.clone() for key, value in model.state_dict().items()}
    transfer.replace_head(model, 9, seed=1)
    _, total_after = transfer.count_parameters(model)
    assert total_after == counts.n_finetuned
    unchanged = sum(
        value.numel()
        for key, value in model.named_parameters()
        if key in state_before and torch.equal(state_before[key], value)
    )
    assert unchanged == counts.n_kept


def test_flatten_head_discards_92_percent_of_an_rnn_against_006_percent_of_a_resnet():
    from ecglib.models import make_model

    resnet = transfer.kept_and_replaced(make_model("resnet1d18", seed=0, n_leads=12, n_classes=5), 9)
    lstm = transfer.kept_and_replaced(
        make_model("lstm", seed=0, n_classes=5, head="flatten_as_in_paper", n_samples=1000), 9
    )
    pooled = transfer.kept_and_replaced(make_model("lstm", seed=0, n_classes=5), 9)
    assert resnet.fraction_discarded == pytest.approx(0.000623, abs=1e-6)  # "~0.06 %"
    assert lstm.fraction_discarded == pytest.approx(0.916423, abs=1e-6)  # "~92 %"
    assert pooled.fraction_discarded == pytest.approx(0.010953, abs=1e-6)
    assert lstm.top_layer == "100000 -> 5" and lstm.fraction_new == pytest.approx(900_009 / 945_609)
    table = transfer.kept_and_replaced_table({"resnet1d18": make_model("resnet1d18", seed=0), "x": Net()}, 2)
    assert list(table.index) == ["resnet1d18", "x"] and table.loc["x", "n_discarded"] == 8 * 3 + 3
    with pytest.raises(TypeError, match="no replaceable head"):
        transfer.kept_and_replaced(nn.Conv1d(1, 1, 1), 2)
