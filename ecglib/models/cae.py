"""Residual convolutional autoencoder for single-lead ECG (Jang, Kim, Yoon 2021).

The paper: "Our encoder consists of nine residual blocks containing two CNN layers, a
ReLU activation function, and two batch normalization layers. The CNN layer filter
sizes and strides were 19 and 1 [...]. The number of encoder-extracted features was
set to 60. The decoder was of the same structure but used transposed rather than
simple CNN layers." Input: lead II, 250 Hz, 2,048 samples (8.2 s).

What the paper leaves open is taken from the authors' public code
(CMI-Laboratory/CAE, read for facts; see ``/work/shared/studies/REFERENCE-NOTES.md``)
and exposed as an argument:

- a stem convolution (1 -> f channels) with batch norm before the nine blocks;
- block output channels ``f * (1, 1, 2, 3, 4, 4, 5, 5, 5)`` with ``f = 16``;
- max-pool halvings after blocks 2-8 (seven halvings: 2,048 -> 16 samples);
- pre-activation blocks (BN -> activation -> conv, twice) with a max-pool/1x1-conv skip;
- flatten (5f x 16 = 1,280) -> Linear(1,280, 640) -> activation -> Linear(640, 60).

Where the code departs from the paper we follow the paper and keep the code's choice as
an option: ReLU (code: LeakyReLU, ``activation="leaky_relu"``), kernel 19 in every block
(code: kernel 19 // 2 in the last three, ``halved_kernel_blocks=3``), transposed
convolutions in the decoder (code: linear upsampling + reflection padding + convolution)
with residual skips in the decoder too (code: decoder skips disabled,
``decoder_residual=False``). Dropout is not in the paper (code: 0.3), so it defaults to 0.

Shapes: input ``(batch, n_leads, n_samples)``; ``.encoder`` maps it to
``(batch, latent_dim)``; ``.decoder`` maps that back to ``(batch, n_leads, n_samples)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

__all__ = [
    "ConvAutoencoder",
    "CAEEncoder",
    "CAEDecoder",
    "CAEClassifier",
    "make_autoencoder",
    "make_classifier",
    "reconstruction_errors",
]

#: block output channels as multiples of ``base_filters`` (authors' code)
DEFAULT_CHANNEL_MULTIPLIERS = (1, 1, 2, 3, 4, 4, 5, 5, 5)
#: which of the nine blocks halve the length (authors' code: blocks 2-8)
DEFAULT_DOWNSAMPLE = (False, True, True, True, True, True, True, True, False)


def _activation(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(0.01)
    raise ValueError(f"activation must be 'relu' or 'leaky_relu', got {name!r}")


class ResidualBlock1d(nn.Module):
    """BN -> act -> conv(k) -> BN -> act -> conv(k), optional max-pool /2, plus a skip.

    The skip is the input, max-pooled when the block halves the length and passed
    through a 1x1 convolution when the channel count changes.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel_size: int,
        downsample: bool,
        activation: str,
        dropout: float,
    ):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd to keep the length, got {kernel_size}")
        padding = kernel_size // 2
        self.body = nn.Sequential(
            nn.BatchNorm1d(in_channels),
            _activation(activation),
            nn.Conv1d(in_channels, out_channels, kernel_size, stride=1, padding=padding),
            nn.BatchNorm1d(out_channels),
            _activation(activation),
            nn.Conv1d(out_channels, out_channels, kernel_size, stride=1, padding=padding),
        )
        self.pool = nn.MaxPool1d(2) if downsample else nn.Identity()
        self.skip_pool = nn.MaxPool1d(2) if downsample else nn.Identity()
        self.skip_conv = (
            nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.pool(self.body(x)) + self.skip_conv(self.skip_pool(x)))


class TransposedResidualBlock1d(nn.Module):
    """Mirror of :class:`ResidualBlock1d` with stride-1 transposed convolutions.

    Optional linear upsampling x2 first (the inverse of the encoder's max-pool), then
    BN -> act -> convT(k) -> BN -> act -> convT(k); the skip is the (upsampled) input,
    through a 1x1 convolution when the channel count changes.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel_size: int,
        upsample: bool,
        activation: str,
        dropout: float,
        residual: bool,
    ):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd to keep the length, got {kernel_size}")
        padding = kernel_size // 2
        self.upsample = (
            nn.Upsample(scale_factor=2, mode="linear", align_corners=False) if upsample else nn.Identity()
        )
        self.body = nn.Sequential(
            nn.BatchNorm1d(in_channels),
            _activation(activation),
            nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride=1, padding=padding),
            nn.BatchNorm1d(out_channels),
            _activation(activation),
            nn.ConvTranspose1d(out_channels, out_channels, kernel_size, stride=1, padding=padding),
        )
        self.residual = residual
        self.skip_conv = (
            nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = self.upsample(x)
        out = self.body(x)
        if self.residual:
            out = out + self.skip_conv(x)
        return self.dropout(out)


def _block_plan(n_blocks: int, kernel_size: int, halved_kernel_blocks: int) -> list[int]:
    """Kernel size of each block: ``kernel_size``, or ``kernel_size // 2`` (made odd) in the last ones."""
    halved = kernel_size // 2 if (kernel_size // 2) % 2 == 1 else kernel_size // 2 + 1
    return [halved if i >= n_blocks - halved_kernel_blocks else kernel_size for i in range(n_blocks)]


class CAEEncoder(nn.Module):
    """Stem conv + residual blocks + flatten + two linear layers: ``(B, n_leads, n_samples) -> (B, latent_dim)``."""

    def __init__(
        self,
        *,
        n_leads: int,
        n_samples: int,
        latent_dim: int,
        kernel_size: int,
        base_filters: int,
        channel_multipliers: Sequence[int],
        downsample: Sequence[bool],
        activation: str,
        dropout: float,
        halved_kernel_blocks: int,
    ):
        super().__init__()
        kernels = _block_plan(len(channel_multipliers), kernel_size, halved_kernel_blocks)
        channels = [base_filters * m for m in channel_multipliers]
        self.stem = nn.Sequential(
            nn.Conv1d(n_leads, base_filters, kernel_size, stride=1, padding=kernel_size // 2),
            nn.BatchNorm1d(base_filters),
        )
        blocks, in_channels = [], base_filters
        for out_channels, kernel, halve in zip(channels, kernels, downsample):
            blocks.append(
                ResidualBlock1d(
                    in_channels,
                    out_channels,
                    kernel_size=kernel,
                    downsample=halve,
                    activation=activation,
                    dropout=dropout,
                )
            )
            in_channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.encoded_channels = channels[-1]
        self.encoded_samples = n_samples // 2 ** sum(downsample)
        flat = self.encoded_channels * self.encoded_samples
        self.to_latent = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat, flat // 2),
            _activation(activation),
            nn.Linear(flat // 2, latent_dim),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.to_latent(self.blocks(self.stem(x)))


class CAEDecoder(nn.Module):
    """Linear -> reshape -> mirrored transposed residual blocks -> 1x1 conv: ``(B, latent_dim) -> (B, n_leads, n_samples)``."""

    def __init__(
        self,
        *,
        n_leads: int,
        latent_dim: int,
        encoded_samples: int,
        kernel_size: int,
        base_filters: int,
        channel_multipliers: Sequence[int],
        downsample: Sequence[bool],
        activation: str,
        dropout: float,
        halved_kernel_blocks: int,
        residual: bool,
    ):
        super().__init__()
        channels = [base_filters * m for m in channel_multipliers]
        kernels = _block_plan(len(channel_multipliers), kernel_size, halved_kernel_blocks)
        self.encoded_channels = channels[-1]
        self.encoded_samples = encoded_samples
        self.from_latent = nn.Linear(latent_dim, self.encoded_channels * encoded_samples)
        # block i of the encoder maps channels[i-1] -> channels[i] (and halves); mirror it
        in_per_block = [base_filters] + channels[:-1]
        blocks = []
        for i in reversed(range(len(channels))):
            blocks.append(
                TransposedResidualBlock1d(
                    channels[i],
                    in_per_block[i],
                    kernel_size=kernels[i],
                    upsample=downsample[i],
                    activation=activation,
                    dropout=dropout,
                    residual=residual,
                )
            )
        self.blocks = nn.Sequential(*blocks)
        self.output = nn.Conv1d(base_filters, n_leads, 1)

    def forward(self, latent: Tensor) -> Tensor:
        out = self.from_latent(latent).view(-1, self.encoded_channels, self.encoded_samples)
        return self.output(self.blocks(out))


class ConvAutoencoder(nn.Module):
    """Jang et al.'s convolutional autoencoder; ``forward`` returns the reconstruction.

    Parameters
    ----------
    n_leads : int, default=1 (lead II)
    n_samples : int, default=2048 (8.2 s at 250 Hz); must divide by 2**(number of halvings)
    latent_dim : int, default=60 (paper)
    kernel_size : int, default=19 (paper; odd)
    base_filters : int, default=16 (authors' code)
    channel_multipliers : sequence of int, default (1, 1, 2, 3, 4, 4, 5, 5, 5), one per block
    downsample : sequence of bool, default halving in blocks 2-8 (seven halvings)
    activation : {"relu", "leaky_relu"}, default="relu" (paper; code: leaky_relu)
    dropout : float, default=0.0 (paper silent; code: 0.3)
    halved_kernel_blocks : int, default=0 (paper; code: 3 blocks use kernel_size // 2)
    decoder_residual : bool, default=True (paper: "same structure"; code: False)

    Shapes
    ------
    input and output ``(batch, n_leads, n_samples)``; latent ``(batch, latent_dim)``.
    """

    def __init__(
        self,
        *,
        n_leads: int = 1,
        n_samples: int = 2048,
        latent_dim: int = 60,
        kernel_size: int = 19,
        base_filters: int = 16,
        channel_multipliers: Sequence[int] = DEFAULT_CHANNEL_MULTIPLIERS,
        downsample: Sequence[bool] | None = None,
        activation: str = "relu",
        dropout: float = 0.0,
        halved_kernel_blocks: int = 0,
        decoder_residual: bool = True,
    ):
        super().__init__()
        channel_multipliers = tuple(int(m) for m in channel_multipliers)
        downsample = tuple(bool(d) for d in (DEFAULT_DOWNSAMPLE if downsample is None else downsample))
        if len(downsample) != len(channel_multipliers):
            raise ValueError(
                f"downsample has {len(downsample)} entries but there are {len(channel_multipliers)} blocks"
            )
        if n_samples % 2 ** sum(downsample):
            raise ValueError(
                f"n_samples={n_samples} must be divisible by 2**{sum(downsample)} (the number of halvings)"
            )
        if not 0 <= halved_kernel_blocks <= len(channel_multipliers):
            raise ValueError(
                f"halved_kernel_blocks must be in [0, {len(channel_multipliers)}], got {halved_kernel_blocks}"
            )
        self.n_leads, self.n_samples, self.latent_dim = n_leads, n_samples, latent_dim
        common = dict(
            kernel_size=kernel_size,
            base_filters=base_filters,
            channel_multipliers=channel_multipliers,
            downsample=downsample,
            activation=activation,
            dropout=dropout,
            halved_kernel_blocks=halved_kernel_blocks,
        )
        self.encoder = CAEEncoder(n_leads=n_leads, n_samples=n_samples, latent_dim=latent_dim, **common)
        self.decoder = CAEDecoder(
            n_leads=n_leads,
            latent_dim=latent_dim,
            encoded_samples=self.encoder.encoded_samples,
            residual=decoder_residual,
            **common,
        )

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 3 or x.shape[1:] != (self.n_leads, self.n_samples):
            raise ValueError(
                f"expected a batch (batch, {self.n_leads}, {self.n_samples}), got {tuple(x.shape)}"
            )
        return self.decoder(self.encoder(x))


class CAEClassifier(nn.Module):
    """Rhythm classifier: a CAE encoder followed by a small fully connected head.

    The paper does not describe the head; we use ``hidden_units`` ReLU layers then a
    linear layer to ``n_classes`` logits (``hidden_units=()``: one linear layer).

    Parameters
    ----------
    encoder : CAEEncoder (or any module mapping ``(B, n_leads, n_samples) -> (B, latent_dim)``)
    n_classes : int
    latent_dim : int, default=60, the encoder's output width
    hidden_units : sequence of int, default=(64,)
    """

    def __init__(
        self, encoder: nn.Module, n_classes: int, *, latent_dim: int = 60, hidden_units: Sequence[int] = (64,)
    ):
        super().__init__()
        self.encoder = encoder
        self.head = mlp_head(latent_dim, n_classes, hidden_units)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.encoder(x))


def mlp_head(in_features: int, n_classes: int, hidden_units: Sequence[int] = (64,)) -> nn.Sequential:
    """``Linear -> ReLU`` for each of ``hidden_units``, then ``Linear(-, n_classes)``."""
    layers: list[nn.Module] = []
    width = in_features
    for units in hidden_units:
        layers += [nn.Linear(width, int(units)), nn.ReLU()]
        width = int(units)
    layers.append(nn.Linear(width, n_classes))
    return nn.Sequential(*layers)


def make_autoencoder(*, seed: int, **kwargs) -> ConvAutoencoder:
    """:class:`ConvAutoencoder` whose initial weights depend on ``seed`` alone (global RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ConvAutoencoder(**kwargs)


def make_classifier(
    *, seed: int, n_classes: int, hidden_units: Sequence[int] = (64,), **cae_kwargs
) -> CAEClassifier:
    """:class:`CAEClassifier` on a freshly initialised encoder; weights depend on ``seed`` alone.

    Two calls with the same seed give identical weights, so a transfer and a random-init
    classifier differ only by the encoder weights later loaded into the transfer one.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        encoder = ConvAutoencoder(**cae_kwargs).encoder
        latent_dim = cae_kwargs.get("latent_dim", 60)
        return CAEClassifier(encoder, n_classes, latent_dim=latent_dim, hidden_units=hidden_units)


@torch.no_grad()
def reconstruction_errors(
    model: nn.Module,
    signals: Tensor | np.ndarray,
    *,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """Squared reconstruction error summed over every sample of each example (the paper's "MSE").

    Parameters
    ----------
    model : autoencoder mapping ``(B, n_leads, n_samples)`` to the same shape
    signals : array of shape (n_examples, n_samples, n_leads) (record layout)
    batch_size : int
    device : torch device

    Returns
    -------
    ndarray of shape (n_examples,): ``sum_i (x_i - x'_i)^2`` over samples and leads, in the
    squared unit of ``signals`` (z-scored units in the paper, 626.583 over 2,048 points).
    """
    import numpy as np

    signals = np.asarray(signals, dtype=np.float32)
    if signals.ndim != 3:
        raise ValueError(f"signals must be (n_examples, n_samples, n_leads), got shape {signals.shape}")
    was_training = model.training
    model.eval()
    model.to(device)
    errors = []
    for start in range(0, len(signals), batch_size):
        batch = torch.from_numpy(signals[start : start + batch_size]).transpose(1, 2).to(device)
        recon = model(batch)
        errors.append(((recon - batch) ** 2).sum(dim=(1, 2)).cpu().numpy())
    model.train(was_training)
    return np.concatenate(errors) if errors else np.zeros(0, dtype=np.float32)
