"""BeatCNN (Vavekanand et al.'s 1D CNN): parameter count, shapes, batched forward; the 2D variant CNN."""

from __future__ import annotations

import pytest
import torch

from ecglib.models.beat_cnn import BeatCNN
from ecglib.models.cnn2d import TripleChannelCNN2d
from ecglib.params import reported
from ecglib.transfer import count_parameters

#: the paper's count (section 4.2), from params/vavekanand/reported.yaml
PAPER_N_PARAMETERS = reported("vavekanand")["n_parameters"]


@pytest.mark.parametrize("dense_activation", ["relu", "none"])
def test_parameter_count_matches_the_paper_exactly(dense_activation):
    model = BeatCNN(1, 128, dense_activation=dense_activation)
    assert count_parameters(model)[0] == PAPER_N_PARAMETERS == 67_169
    assert model.n_features == 160  # 32 filters x 5 samples after four (5, 2) poolings of 128


def test_parameter_count_depends_on_the_layout():
    # a stem with bias, or 5 blocks, would not give the paper's number: the test can fail
    assert count_parameters(BeatCNN(1, 128, n_blocks=3))[0] != PAPER_N_PARAMETERS
    assert count_parameters(BeatCNN(1, 128, dense_units=128))[0] != PAPER_N_PARAMETERS


def test_forward_shape_and_encoder_head():
    model = BeatCNN(1, 128)
    x = torch.randn(7, 1, 128)
    assert model(x).shape == (7, 1)
    assert model.encoder(x).shape == (7, 160)
    assert model.head(model.encoder(x)).shape == (7, 1)


def test_too_short_input_is_refused():
    with pytest.raises(ValueError, match="too short"):
        BeatCNN(1, 40)


def test_batched_forward_equals_each_model_alone():
    torch.manual_seed(0)
    models = [BeatCNN(1, 128) for _ in range(3)]
    stacked = {
        name: torch.stack([dict(m.named_parameters())[name] for m in models])
        for name, _ in models[0].named_parameters()
    }
    x = torch.randn(3, 5, 1, 128)
    batched = models[0].batched_forward(stacked, x)
    single = torch.stack([m(x[k])[:, 0] for k, m in enumerate(models)])
    assert batched.shape == (3, 5)
    torch.testing.assert_close(batched, single, rtol=1e-5, atol=1e-5)


def test_batched_forward_without_dense_activation():
    torch.manual_seed(1)
    model = BeatCNN(1, 128, dense_activation="none")
    stacked = {name: p[None] for name, p in model.named_parameters()}
    x = torch.randn(1, 4, 1, 128)
    torch.testing.assert_close(model.batched_forward(stacked, x)[0], model(x[0])[:, 0], rtol=1e-5, atol=1e-5)


def test_cnn2d_shapes_and_no_buffers():
    model = TripleChannelCNN2d(3, 16, n_blocks=2)
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 1)
    assert not list(model.buffers())
    with pytest.raises(ValueError):
        TripleChannelCNN2d(3, 4, n_blocks=3)


def test_registered_families_build_by_name():
    from ecglib.models import make_model

    model = make_model("beat_cnn", seed=0)
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 67_169
    again = make_model("beat_cnn", seed=0)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
