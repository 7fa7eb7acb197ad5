"""Small residual 2D CNN for 3-channel ECG images (GAF, MTF, RP): Vavekanand et al.'s Figure 1 variant.

The paper's Figure 1 stacks the Gramian angular field, Markov transition field and
recurrence plot of each window as a 3-channel image and feeds it to "a CNN"; it gives no
layer-by-layer description of that network (its section 3.2 and 4.2 describe the 1D CNN of
:mod:`ecglib.models.beat_cnn`, including "32 kernels (5x5)"). This is the 2D analogue of
that 1D design, with every size a parameter:

``Conv2d(3, 32, 1x1, no bias) -> ReLU -> n_blocks x [Conv2d(32, 32, 5x5, 'same') -> ReLU ->
Conv2d(32, 32, 5x5, 'same') -> add the block input -> ReLU -> MaxPool2d(2)] -> flatten ->
Linear(., 160) -> ReLU -> Linear(160, 1)``

It returns logits ``(batch, 1)`` (apply a sigmoid for probabilities) and has no buffers, so
``ecglib.grid`` can train many copies at once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ResidualBlock2d(nn.Module):
    """Two 'same' 5x5 convolutions with a skip connection, ReLU and 2x2 max pooling."""

    def __init__(self, n_filters: int = 32, kernel_size: int = 5, pool_size: int = 2):
        super().__init__()
        self.conv1 = nn.Conv2d(n_filters, n_filters, kernel_size, padding=kernel_size // 2)
        self.conv2 = nn.Conv2d(n_filters, n_filters, kernel_size, padding=kernel_size // 2)
        self.pool = nn.MaxPool2d(pool_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(F.relu(self.conv2(F.relu(self.conv1(x))) + x))


class TripleChannelCNN2d(nn.Module):
    """Residual 2D CNN for ``(batch, 3, image_size, image_size)`` images; logits ``(batch, 1)``.

    Parameters
    ----------
    in_channels : image channels (3: GAF, MTF, RP)
    image_size : height and width in pixels
    n_filters, kernel_size, n_blocks, pool_size : convolution and pooling sizes
    dense_units : units of the dense layer (the 1D model's 160)

    Attributes
    ----------
    encoder : ``(batch, in_channels, image_size, image_size) -> (batch, n_features)``
    head : ``(batch, n_features) -> (batch, 1)``
    """

    def __init__(
        self,
        in_channels: int = 3,
        image_size: int = 32,
        *,
        n_filters: int = 32,
        kernel_size: int = 5,
        n_blocks: int = 3,
        pool_size: int = 2,
        dense_units: int = 160,
    ):
        super().__init__()
        side = image_size
        for _ in range(n_blocks):
            side //= pool_size
        if side < 1:
            raise ValueError(
                f"image_size={image_size} is too small for {n_blocks} pooling steps of {pool_size}"
            )
        self.n_features = n_filters * side * side
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, n_filters, kernel_size=1, bias=False),
            nn.ReLU(),
            *[ResidualBlock2d(n_filters, kernel_size, pool_size) for _ in range(n_blocks)],
            nn.Flatten(),
        )
        self.head = nn.Sequential(
            nn.Linear(self.n_features, dense_units), nn.ReLU(), nn.Linear(dense_units, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape (batch, 1) for images of shape (batch, in_channels, image_size, image_size)."""
        return self.head(self.encoder(x))
