"""One-dimensional ResNets for multi-lead ECG (Nguyen & Do 2025).

Architecture, as read from the authors' public code (facts only, see
``/work/shared/studies/REFERENCE-NOTES.md``)::

    Conv1d(n_leads, 64, k7, s2) -> BN -> ReLU -> MaxPool1d(3, 2)
    -> stages of 64 / 128 / 256 / 512 channels (stride 2 from the second stage on)
    -> global average pool -> Linear(F, 512) -> ReLU -> Linear(512, n_classes)

with BasicBlocks ``[2, 2, 2, 2]`` (ResNet1d18), ``[3, 4, 6, 3]`` (ResNet1d34) or
bottleneck blocks (expansion 4, so ``F = 2048``) ``[3, 4, 6, 3]`` (ResNet1d50) and
``[3, 4, 23, 3]`` (ResNet1d101). For BasicBlocks ``F = 512``.

Every model exposes ``.encoder`` (input -> pooled features, shape ``(batch, F)``)
and ``.head`` (the two fully connected layers) for :mod:`ecglib.transfer`.
Input is a torch batch ``(batch, n_leads, n_samples)``; output raw logits
``(batch, n_classes)``.
"""

from __future__ import annotations

from torch import Tensor, nn


class BasicBlock1d(nn.Module):
    """Two ``kernel_size`` convolutions with batch norm and an identity (or 1x1) skip."""

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1, kernel_size: int = 3):
        super().__init__()
        padding = kernel_size // 2
        self.conv1 = nn.Conv1d(in_channels, channels, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn1 = nn.BatchNorm1d(channels)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size, padding=padding, bias=False)
        self.bn2 = nn.BatchNorm1d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(in_channels, channels * self.expansion, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.downsample(x))


class Bottleneck1d(nn.Module):
    """1x1 reduce -> ``kernel_size`` conv (strided) -> 1x1 expand (x4), with a skip."""

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1, kernel_size: int = 3):
        super().__init__()
        out_channels = channels * self.expansion
        self.conv1 = nn.Conv1d(in_channels, channels, 1, bias=False)
        self.bn1 = nn.BatchNorm1d(channels)
        self.conv2 = nn.Conv1d(
            channels, channels, kernel_size, stride=stride, padding=kernel_size // 2, bias=False
        )
        self.bn2 = nn.BatchNorm1d(channels)
        self.conv3 = nn.Conv1d(channels, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm1d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(in_channels, out_channels, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + self.downsample(x))


def _shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return nn.Sequential(
        nn.Conv1d(in_channels, out_channels, 1, stride=stride, bias=False),
        nn.BatchNorm1d(out_channels),
    )


class ResNet1d(nn.Module):
    """A 1D ResNet with a two-layer classification head.

    Parameters
    ----------
    block : BasicBlock1d or Bottleneck1d
    layers : number of blocks in each of the four stages, e.g. ``(2, 2, 2, 2)``
    n_leads : input channels (ECG leads)
    n_classes : output logits
    kernel_size : kernel of the convolutions inside the blocks (the stem uses 7)
    hidden_features : width of the first fully connected layer of the head

    Attributes
    ----------
    encoder : nn.Sequential mapping ``(batch, n_leads, n_samples)`` to ``(batch, n_features)``
    head : nn.Sequential mapping ``(batch, n_features)`` to ``(batch, n_classes)``
    n_features : int, 512 x block expansion
    """

    def __init__(
        self,
        block: type[BasicBlock1d] | type[Bottleneck1d],
        layers: tuple[int, int, int, int] | list[int],
        *,
        n_leads: int = 12,
        n_classes: int = 5,
        kernel_size: int = 3,
        hidden_features: int = 512,
    ):
        super().__init__()
        if len(layers) != 4:
            raise ValueError(f"layers must give four stage depths, got {layers!r}")
        stem = nn.Sequential(
            nn.Conv1d(n_leads, 64, kernel_size=7, stride=2, padding=3, bias=False),
            nn.BatchNorm1d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool1d(kernel_size=3, stride=2, padding=1),
        )
        stages = []
        in_channels = 64
        for stage_index, (channels, n_blocks) in enumerate(zip((64, 128, 256, 512), layers)):
            blocks = []
            for block_index in range(n_blocks):
                stride = 2 if (stage_index > 0 and block_index == 0) else 1
                blocks.append(block(in_channels, channels, stride=stride, kernel_size=kernel_size))
                in_channels = channels * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.n_features = in_channels
        self.encoder = nn.Sequential(stem, *stages, nn.AdaptiveAvgPool1d(1), nn.Flatten())
        self.head = nn.Sequential(
            nn.Linear(in_channels, hidden_features),
            nn.ReLU(inplace=True),
            nn.Linear(hidden_features, n_classes),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv1d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm1d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        """Logits of shape ``(batch, n_classes)`` for ``x`` of shape ``(batch, n_leads, n_samples)``."""
        return self.head(self.encoder(x))


def ResNet1d18(*, n_leads: int = 12, n_classes: int = 5, **kwargs) -> ResNet1d:
    """BasicBlocks ``[2, 2, 2, 2]``; about 4 million parameters for 12 leads."""
    return ResNet1d(BasicBlock1d, (2, 2, 2, 2), n_leads=n_leads, n_classes=n_classes, **kwargs)


def ResNet1d34(*, n_leads: int = 12, n_classes: int = 5, **kwargs) -> ResNet1d:
    """BasicBlocks ``[3, 4, 6, 3]``."""
    return ResNet1d(BasicBlock1d, (3, 4, 6, 3), n_leads=n_leads, n_classes=n_classes, **kwargs)


def ResNet1d50(*, n_leads: int = 12, n_classes: int = 5, **kwargs) -> ResNet1d:
    """Bottleneck blocks ``[3, 4, 6, 3]`` (2048 pooled features)."""
    return ResNet1d(Bottleneck1d, (3, 4, 6, 3), n_leads=n_leads, n_classes=n_classes, **kwargs)


def ResNet1d101(*, n_leads: int = 12, n_classes: int = 5, **kwargs) -> ResNet1d:
    """Bottleneck blocks ``[3, 4, 23, 3]`` (2048 pooled features)."""
    return ResNet1d(Bottleneck1d, (3, 4, 23, 3), n_leads=n_leads, n_classes=n_classes, **kwargs)
