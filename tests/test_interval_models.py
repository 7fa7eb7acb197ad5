"""The DeepFake study's regressors: ResNet, 1D ViT, fully connected baseline; shapes, patching, attention scale, sizes."""

from __future__ import annotations

import math

import pytest
import torch

from ecglib import transfer
from ecglib.models import MODEL_FAMILIES, make_model
from ecglib.models.per_target import PerTargetModels
from ecglib.models.vit1d import SelfAttention, patchify

FAMILIES = ("interval_resnet", "vit1d", "fc_regressor")
SMALL = {
    "interval_resnet": {"stem_channels": (16, 8), "block_channels": 16, "n_blocks": 4},
    "vit1d": {"dim": 32, "depth": 2, "n_heads": 4, "mlp_dim": 64},
    "fc_regressor": {"hidden_features": (16,)},
}


def _n_params(module: torch.nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


@pytest.mark.parametrize("family", FAMILIES)
def test_registered_and_output_shapes(family):
    assert family in MODEL_FAMILIES
    x = torch.randn(3, 8, 5000)
    model = make_model(family, seed=0, **SMALL[family]).eval()
    with torch.no_grad():
        out = model(x)
        features = model.encoder(x)
    assert out.shape == (3, 4)
    assert torch.allclose(model.head(features), out, atol=1e-6)
    one = make_model(family, seed=0, n_outputs=1, **SMALL[family])
    assert one(x).shape == (3, 1)


@pytest.mark.parametrize("family", FAMILIES)
def test_one_model_per_target(family):
    model = make_model(family, seed=0, per_target=True, **SMALL[family]).eval()
    assert isinstance(model, PerTargetModels) and len(model.models) == 4
    x = torch.randn(2, 8, 5000)
    with torch.no_grad():
        out = model(x)
        assert out.shape == (2, 4)
        # output k is model k's single output; the four networks start from different weights
        assert torch.allclose(out[:, 2:3], model.models[2](x))
    first, second = (dict(m.named_parameters())["head.weight"] for m in model.models[:2])
    assert not torch.equal(first, second)
    # freezing one target's encoder leaves the others trainable
    transfer.freeze(model, "models.0.encoder")
    assert transfer.count_parameters(model)[0] < _n_params(model)


def test_same_seed_same_weights_and_rng_untouched():
    state = torch.random.get_rng_state()
    a = make_model("vit1d", seed=3, **SMALL["vit1d"])
    b = make_model("vit1d", seed=3, **SMALL["vit1d"])
    assert torch.equal(torch.random.get_rng_state(), state)
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        assert torch.equal(p, q), name


def test_resnet_parameter_count_by_hand():
    """Paper sizes: stem Conv(8->64, k8) + BN, Conv(64->32, k3) + BN; 8 blocks Conv(32->64, k3) + BN,
    Conv(64->32, k3) + BN; Linear(32 -> 4). Convolutions have no bias (batch norm follows)."""
    stem = 8 * 64 * 8 + 2 * 64 + 64 * 32 * 3 + 2 * 32
    block = 32 * 64 * 3 + 2 * 64 + 64 * 32 * 3 + 2 * 32
    head = 32 * 4 + 4
    model = make_model("interval_resnet", seed=0)
    assert _n_params(model) == stem + 8 * block + head == 110_404
    assert _n_params(make_model("interval_resnet", seed=0, **SMALL["interval_resnet"])) == 4_756
    # the authors' code: kernel 50 in the blocks
    assert _n_params(make_model("interval_resnet", seed=0, block_kernel_size=50)) == 1_650_500
    # eight residual blocks of two convolutions; the length is halved once (average pooling)
    blocks = [m for m in model.encoder if type(m).__name__ == "ResidualBlock"]
    assert len(blocks) == 8
    assert sum(isinstance(m, torch.nn.Conv1d) for m in blocks[0].modules()) == 2
    assert model.encoder[0](torch.randn(1, 8, 5000)).shape == (1, 32, 2500)


def test_vit_and_fc_parameter_counts():
    dim, mlp, depth = 64, 128, 4
    block = (
        2 * (2 * dim) + (dim * 3 * dim + 3 * dim) + (dim * dim + dim) + (dim * mlp + mlp) + (mlp * dim + dim)
    )
    expected = (400 * dim + dim) + dim + 101 * dim + depth * block + 2 * dim + (dim * 4 + 4)
    assert _n_params(make_model("vit1d", seed=0)) == expected == 166_468
    # ViT-B sized (the authors' code): 768 wide, 12 blocks, 12 heads, MLP 3072
    vit_b = make_model("vit1d", seed=0, dim=768, depth=12, n_heads=12, mlp_dim=3072)
    assert _n_params(vit_b) == 85_445_380
    fc = make_model("fc_regressor", seed=0)
    assert _n_params(fc) == (40_000 * 256 + 256) + (256 * 64 + 64) + (64 * 4 + 4) == 10_256_964


def test_patchify_cuts_5000_by_8_into_100_patches_of_50_samples():
    # value = 10000 * lead + sample index, so every patch entry says where it came from
    leads = torch.arange(8).view(1, 8, 1).float()
    samples = torch.arange(5000).view(1, 1, 5000).float()
    x = 10000 * leads + samples
    patches = patchify(x, 50)
    assert patches.shape == (1, 100, 400)
    # patch 3 = samples 150..199 of lead 0, then of lead 1, ...
    expected = torch.cat([10000 * lead + torch.arange(150, 200).float() for lead in range(8)])
    assert torch.equal(patches[0, 3], expected)
    assert torch.equal(patches[0, 99, -50:], 70000 + torch.arange(4950, 5000).float())
    with pytest.raises(ValueError, match="multiple"):
        patchify(torch.zeros(1, 8, 4990), 50)
    model = make_model("vit1d", seed=0, **SMALL["vit1d"])
    assert model.encoder.n_patches == 100
    with pytest.raises(ValueError, match="5000 samples"):
        model(torch.zeros(1, 8, 2500))


def _reference_attention(module: SelfAttention, x: torch.Tensor, scale: float) -> torch.Tensor:
    """Multi-head attention written out: softmax(q k^T * scale) v per head."""
    batch, n_tokens, dim = x.shape
    q, k, v = module.qkv(x).split(dim, dim=-1)

    def heads(t):
        return t.view(batch, n_tokens, module.n_heads, module.head_dim).transpose(1, 2)

    weights = torch.softmax(heads(q) @ heads(k).transpose(-1, -2) * scale, dim=-1)
    return module.out((weights @ heads(v)).transpose(1, 2).reshape(batch, n_tokens, dim))


def test_attention_is_scaled_by_the_head_dimension():
    torch.manual_seed(0)
    attention = SelfAttention(64, 8).eval()
    assert attention.head_dim == 8 and attention.scale == pytest.approx(1 / math.sqrt(8))
    x = torch.randn(2, 11, 64) * 3
    with torch.no_grad():
        out = attention(x)
        by_head_dim = _reference_attention(attention, x, 1 / math.sqrt(8))
        by_dim = _reference_attention(attention, x, 1 / math.sqrt(64))
    assert torch.allclose(out, by_head_dim, atol=1e-5)
    assert not torch.allclose(out, by_dim, atol=1e-3)
    # the authors' scale, on request
    authors = SelfAttention(64, 8, attention_scale="dim")
    assert authors.scale == pytest.approx(1 / 8.0)
    with pytest.raises(ValueError, match="attention_scale"):
        SelfAttention(64, 8, attention_scale="sqrt")
    with pytest.raises(ValueError, match="multiple"):
        SelfAttention(64, 5)
