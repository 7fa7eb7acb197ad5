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
