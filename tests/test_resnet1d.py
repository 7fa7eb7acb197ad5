"""ResNet1d family: shapes, parameter counts, encoder/head exposure, seeding."""

import pytest
import torch

from ecglib.models import MODEL_FAMILIES, make_model
from ecglib.models.resnet1d import BasicBlock1d, Bottleneck1d


def _n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _resnet18_encoder_params(n_leads: int, kernel: int = 3) -> int:
    """Parameter count of the ResNet1d18 encoder written out by hand (conv weights + BN affine)."""
    stem = n_leads * 64 * 7 + 2 * 64
    total = stem
    in_ch = 64
    for stage, ch in enumerate((64, 128, 256, 512)):
        for block in range(2):
            total += in_ch * ch * kernel + 2 * ch + ch * ch * kernel + 2 * ch
            if stage > 0 and block == 0:  # 1x1 projection shortcut
                total += in_ch * ch + 2 * ch
            in_ch = ch
    return total


@pytest.mark.parametrize(
    "family,n_features", [("resnet1d18", 512), ("resnet1d34", 512), ("resnet1d50", 2048)]
)
def test_forward_shapes_and_features(family, n_features):
    model = make_model(family, seed=0, n_leads=12, n_classes=7).eval()
    x = torch.randn(3, 12, 1000)
    with torch.no_grad():
        features = model.encoder(x)
        logits = model(x)
    assert features.shape == (3, n_features)
    assert logits.shape == (3, 7)
    assert torch.allclose(model.head(features), logits)


def test_resnet1d101_builds_with_23_blocks_in_stage_three():
    model = make_model("resnet1d101", seed=0, n_leads=1, n_classes=2)
    stage3 = model.encoder[3]
    assert len(stage3) == 23 and isinstance(stage3[0], Bottleneck1d)
    assert model(torch.randn(2, 1, 500)).shape == (2, 2)


def test_resnet1d18_parameter_count_matches_hand_count():
    for n_leads in (1, 12):
        model = make_model("resnet1d18", seed=0, n_leads=n_leads, n_classes=5)
        assert _n_params(model.encoder) == _resnet18_encoder_params(n_leads)
        assert _n_params(model.head) == 512 * 512 + 512 + 512 * 5 + 5
        assert isinstance(model.encoder[1][0], BasicBlock1d)
    # sanity against the 2D reference sizes: deeper families are larger
    sizes = [
        _n_params(make_model(f, seed=0, n_leads=12, n_classes=5))
        for f in ("resnet1d18", "resnet1d34", "resnet1d50")
    ]
    assert sizes[0] < sizes[1] < sizes[2]
    assert 3.5e6 < sizes[0] < 4.5e6


def test_stem_downsamples_by_four_and_stages_by_eight():
    model = make_model("resnet1d18", seed=0, n_leads=12, n_classes=5).eval()
    with torch.no_grad():
        after_stem = model.encoder[0](torch.randn(1, 12, 1000))
        after_stages = model.encoder[1:5](after_stem)
    assert after_stem.shape == (1, 64, 250)
    assert after_stages.shape == (1, 512, 32)


def test_make_model_seeds_weights_and_keeps_global_rng():
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a = make_model("resnet1d18", seed=5, n_leads=1, n_classes=3)
    assert torch.equal(torch.rand(1), expected_next), "make_model must not consume the global RNG"
    b = make_model("resnet1d18", seed=5, n_leads=1, n_classes=3)
    c = make_model("resnet1d18", seed=6, n_leads=1, n_classes=3)
    wa, wb, wc = (m.encoder[0][0].weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)


def test_unknown_family_names_the_known_ones():
    with pytest.raises(KeyError, match="resnet1d18"):
        make_model("resnet9000", seed=0)
    assert {"resnet1d18", "resnet1d34", "resnet1d50", "resnet1d101"} <= MODEL_FAMILIES.keys()
