"""Recurrent models (Nguyen & Do 2025): heads, shapes, parameter counts, transfer contract."""

import pytest
import torch
from torch import nn

from ecglib import transfer
from ecglib.models import MODEL_FAMILIES, make_model
from ecglib.models.rnn import HEADS, RecurrentClassifier


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _rnn_params(n_gates: int, n_inputs: int, hidden: int, n_directions: int) -> int:
    """One recurrent layer written out by hand: per gate W_ih, W_hh, b_ih, b_hh, per direction."""
    return n_directions * n_gates * (n_inputs * hidden + hidden * hidden + 2 * hidden)


@pytest.mark.parametrize("family,n_gates,n_directions", [("lstm", 4, 1), ("bilstm", 4, 2), ("gru", 3, 1)])
@pytest.mark.parametrize("head", HEADS)
def test_shapes_parameter_counts_and_encoder_head_split(family, n_gates, n_directions, head):
    model = make_model(family, seed=0, n_leads=12, n_classes=5, head=head, n_samples=50).eval()
    width = 100 * n_directions
    n_features = 50 * width if head == "flatten_as_in_paper" else width
    assert model.n_features == n_features
    assert _n_params(model.encoder) == _rnn_params(n_gates, 12, 100, n_directions)
    assert _n_params(model.head) == n_features * 5 + 5
    assert isinstance(model.head[0], nn.Dropout) and model.head[0].p == 0.3
    x = torch.randn(3, 12, 50)
    with torch.no_grad():
        features = model.encoder(x)
        logits = model(x)
    assert features.shape == (3, n_features) and logits.shape == (3, 5)
    assert torch.allclose(model.head(features), logits)


def test_readouts_equal_the_recurrent_outputs_they_summarise():
    model = make_model("bilstm", seed=1, n_leads=2, n_classes=3, head="last_state").eval()
    x = torch.randn(4, 2, 30)
    with torch.no_grad():
        outputs, (h_n, _) = model.encoder.rnn(x.transpose(1, 2))
        last = model.encoder(x)
        model.encoder.readout = "mean_pool"
        mean = model.encoder(x)
    assert torch.allclose(mean, outputs.mean(dim=1))
    # forward direction: its final state is the output at the last step; backward: at the first
    assert torch.allclose(last[:, :100], outputs[:, -1, :100], atol=1e-6)
    assert torch.allclose(last[:, 100:], outputs[:, 0, 100:], atol=1e-6)
    assert torch.allclose(last, torch.cat([h_n[0], h_n[1]], dim=1))


def test_flatten_head_needs_the_input_length_and_checks_it():
    with pytest.raises(ValueError, match="n_samples"):
        make_model("lstm", seed=0, head="flatten_as_in_paper")
    model = make_model("gru", seed=0, n_leads=12, n_classes=2, head="flatten_as_in_paper", n_samples=40)
    with pytest.raises(ValueError, match="built for 40 samples, got input with 41"):
        model(torch.randn(1, 12, 41))
    with pytest.raises(ValueError, match="head must be one of"):
        make_model("gru", seed=0, head="flatten")
    with pytest.raises(ValueError, match="cell must be one of"):
        RecurrentClassifier("rnn")


def test_dropout_acts_in_training_and_is_off_at_zero_or_in_eval():
    x = torch.randn(8, 12, 20)
    model = make_model("lstm", seed=0, n_classes=4)
    model.train()
    assert not torch.equal(model(x), model(x)), "dropout 0.3 before the Linear must act in training"
    model.eval()
    assert torch.equal(model(x), model(x))
    as_in_code = make_model("lstm", seed=0, n_classes=4, dropout=0.0).train()
    assert torch.equal(as_in_code(x), as_in_code(x))
    stacked = make_model("gru", seed=0, n_layers=2)
    assert stacked.encoder.rnn.dropout == 0.3 and make_model("gru", seed=0).encoder.rnn.dropout == 0.0


def test_seeded_weights_registered_families_and_head_replacement_keeps_the_encoder():
    assert {"lstm", "bilstm", "gru"} <= MODEL_FAMILIES.keys()
    a, b, c = (make_model("gru", seed=s, n_leads=12, n_classes=5) for s in (3, 3, 4))
    assert torch.equal(a.encoder.rnn.weight_ih_l0, b.encoder.rnn.weight_ih_l0)
    assert not torch.equal(a.encoder.rnn.weight_ih_l0, c.encoder.rnn.weight_ih_l0)
    encoder_before = {k: v.clone() for k, v in a.encoder.state_dict().items()}
    transfer.replace_head(a, 9, seed=0)
    assert a.head[-1].out_features == 9 and a(torch.randn(2, 12, 25)).shape == (2, 9)
    assert all(torch.equal(a.encoder.state_dict()[k], v) for k, v in encoder_before.items())
    a(torch.randn(2, 12, 25)).sum().backward()
    assert a.encoder.rnn.weight_hh_l0.grad is not None  # fine-tuning trains everything
