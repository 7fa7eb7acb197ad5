"""The DeepFake study's residual network regressing HR, PR, QRS and QT from an 8-lead ECG.

Architecture (paper, "Residual Network"; the authors' code follows Hicks/Thambawita's
KanResWide_X, see ``/work/shared/studies/REFERENCE-NOTES.md``)::

    Conv1d(n_leads, 64, k8) -> BN -> act -> Conv1d(64, 32, k3) -> BN -> act -> AvgPool1d(2)
    -> 8 x residual block [Conv1d(32, 64, k) -> BN -> act -> dropout -> Conv1d(64, 32, k) -> BN,
                           + identity, -> act]
    -> global average pool -> Linear(32, n_outputs)

Every convolution has stride 1 and "same" padding, so the length is halved only by the
average pooling. The paper gives ``k = 3`` inside the blocks (``block_kernel_size=3``, the
default); the authors' code uses 50, with LeakyReLU(0.1) and dropout 0.5
(``block_kernel_size=50, negative_slope=0.1, dropout=0.5``). ``stem_channels``,
``block_channels`` and ``n_blocks`` give CPU-sized variants.

Parameter counts (8 leads, 4 outputs; convolutions without bias, batch norm's two per
channel): 110,404 with the defaults (stem 10,432, each block 12,480, head 132); the
CPU-sized variant ``stem_channels=(16, 8), block_channels=16, n_blocks=4`` has 4,756;
``block_kernel_size=50`` (the authors' code) has 1,650,500.
"""

from __future__ import annotations

from torch import Tensor, nn

from ecglib.models.per_target import build as build_per_target


def same_conv(in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    """Zero padding (``(k - 1) // 2`` left, ``k // 2`` right) then a stride-1 Conv1d without bias: length kept.

    Written out rather than ``padding="same"``, which copies the input for even kernels (8, 50).
    """
    return nn.Sequential(
        nn.ConstantPad1d(((kernel_size - 1) // 2, kernel_size // 2), 0.0),
        nn.Conv1d(in_channels, out_channels, kernel_size, bias=False),
    )


def _activation(negative_slope: float) -> nn.Module:
    return nn.LeakyReLU(negative_slope) if negative_slope else nn.ReLU()


class ResidualBlock(nn.Module):
    """Two "same" convolutions (``channels -> inner -> channels``) with batch norm and an identity skip."""

    def __init__(
        self, channels: int, inner_channels: int, kernel_size: int, negative_slope: float, dropout: float
    ):
        super().__init__()
        self.body = nn.Sequential(
            same_conv(channels, inner_channels, kernel_size),
            nn.BatchNorm1d(inner_channels),
            _activation(negative_slope),
            nn.Dropout(dropout),
            same_conv(inner_channels, channels, kernel_size),
            nn.BatchNorm1d(channels),
        )
        self.activation = _activation(negative_slope)

    def forward(self, x: Tensor) -> Tensor:
        """Same shape out as in: ``(batch, channels, n_samples)``."""
        return self.activation(x + self.body(x))


class IntervalResNet(nn.Module):
    """Residual CNN regressor (see the module docstring for the layers).

    Parameters
    ----------
    n_leads : input channels (8: I, II, V1-V6)
    n_outputs : regression outputs (4: HR, PR, QRS, QT; 1 for one model per target)
    stem_channels : output channels of the two stem convolutions (paper: 64, 32)
    stem_kernel_sizes : their kernel sizes (paper: 8, 3)
    block_channels : inner channels of each residual block (paper: 64; its outer width is
        ``stem_channels[1]``)
    block_kernel_size : kernel size of the block convolutions (paper: 3; authors' code: 50)
    n_blocks : number of residual blocks (paper: 8)
    pool_size : average-pooling factor after the stem (authors' code: 2)
    negative_slope : 0 for ReLU, else LeakyReLU's slope (authors' code: 0.1)
    dropout : dropout inside each block (authors' code: 0.5)

    Attributes
    ----------
    encoder : ``(batch, n_leads, n_samples)`` -> ``(batch, stem_channels[1])`` pooled features
    head : nn.Linear(stem_channels[1], n_outputs)
    """

    def __init__(
        self,
        *,
        n_leads: int = 8,
        n_outputs: int = 4,
        stem_channels: tuple[int, int] = (64, 32),
        stem_kernel_sizes: tuple[int, int] = (8, 3),
        block_channels: int = 64,
        block_kernel_size: int = 3,
        n_blocks: int = 8,
        pool_size: int = 2,
        negative_slope: float = 0.0,
        dropout: float = 0.0,
    ):
        super().__init__()
        first, second = stem_channels
        stem = nn.Sequential(
            same_conv(n_leads, first, stem_kernel_sizes[0]),
            nn.BatchNorm1d(first),
            _activation(negative_slope),
            same_conv(first, second, stem_kernel_sizes[1]),
            nn.BatchNorm1d(second),
            _activation(negative_slope),
            nn.AvgPool1d(pool_size),
        )
        blocks = [
            ResidualBlock(second, block_channels, block_kernel_size, negative_slope, dropout)
            for _ in range(n_blocks)
        ]
        self.encoder = nn.Sequential(stem, *blocks, nn.AdaptiveAvgPool1d(1), nn.Flatten())
        self.head = nn.Linear(second, n_outputs)
        self.n_features = second

    def forward(self, x: Tensor) -> Tensor:
        """Outputs of shape ``(batch, n_outputs)`` for ``x`` of shape ``(batch, n_leads, n_samples)``."""
        return self.head(self.encoder(x))


def interval_resnet(*, n_outputs: int = 4, per_target: bool = False, **kwargs) -> nn.Module:
    """:class:`IntervalResNet` with one ``n_outputs`` head, or one single-output network per target.

    ``kwargs`` go to :class:`IntervalResNet`; see :func:`ecglib.models.per_target.build`.
    """
    return build_per_target(IntervalResNet, n_outputs=n_outputs, per_target=per_target, **kwargs)
