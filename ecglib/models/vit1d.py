"""A one-dimensional vision transformer regressing HR, PR, QRS and QT (the DeepFake study's ViT).

The ECG ``(batch, n_leads, n_samples)`` (8 x 5000 in the paper) is cut along time into
``n_samples / patch_size`` patches (100 of 50 samples): patch ``p`` holds samples
``[p * patch_size, (p + 1) * patch_size)`` of every lead, flattened lead by lead into a
vector of ``n_leads * patch_size`` values (:func:`patchify`). Then::

    Linear(n_leads * patch_size, dim)  (patch embedding)
    -> prepend a learned class token, add learned position embeddings
    -> depth x pre-norm encoder block [LayerNorm -> multi-head self-attention -> + ;
                                       LayerNorm -> MLP(dim -> mlp_dim -> dim, GELU) -> +]
    -> LayerNorm of the class token -> Linear(dim, n_outputs)

Attention weights are ``softmax(q k^T * scale)`` with ``scale = head_dim ** -0.5`` and
``head_dim = dim / n_heads`` (Vaswani et al.; :class:`SelfAttention`). The authors' code
scales by ``dim ** -0.5`` instead, which is offered as ``attention_scale="dim"`` and is not
the default.

Sizes: the authors' code is ViT-B sized (``dim=768, depth=12, n_heads=12, mlp_dim=3072``,
85,445,380 parameters with 8 x 5000 inputs, 50-sample patches and 4 outputs); the
defaults here are a CPU-sized variant (``dim=64, depth=4, n_heads=4, mlp_dim=128``):
166,468 parameters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ecglib.models.per_target import build as build_per_target

ATTENTION_SCALES = ("head_dim", "dim")


def patchify(x: Tensor, patch_size: int) -> Tensor:
    """Cut ``(batch, n_leads, n_samples)`` into ``(batch, n_patches, n_leads * patch_size)``.

    Patch ``p`` is ``x[:, :, p * patch_size:(p + 1) * patch_size]`` flattened lead by lead
    (lead 0's samples, then lead 1's, ...). ``n_samples`` must be a multiple of ``patch_size``.
    """
    batch, n_leads, n_samples = x.shape
    if n_samples % patch_size:
        raise ValueError(f"n_samples {n_samples} is not a multiple of patch_size {patch_size}")
    n_patches = n_samples // patch_size
    return x.reshape(batch, n_leads, n_patches, patch_size).permute(0, 2, 1, 3).reshape(batch, n_patches, -1)


class SelfAttention(nn.Module):
    """Multi-head self-attention, ``softmax(q k^T * scale) v`` per head, via ``F.scaled_dot_product_attention``.

    Parameters
    ----------
    dim : token width; must be a multiple of ``n_heads``
    n_heads : number of heads (``head_dim = dim // n_heads``)
    attention_scale : ``"head_dim"`` (``scale = head_dim ** -0.5``, the standard) or ``"dim"``
        (``dim ** -0.5``, as in the authors' code)
    dropout : attention dropout (training only)

    Attributes
    ----------
    scale : float, the factor applied to ``q k^T``
    """

    def __init__(self, dim: int, n_heads: int, *, attention_scale: str = "head_dim", dropout: float = 0.0):
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"dim {dim} must be a multiple of n_heads {n_heads}")
        if attention_scale not in ATTENTION_SCALES:
            raise ValueError(f"attention_scale must be one of {ATTENTION_SCALES}, got {attention_scale!r}")
        self.n_heads = n_heads
        self.head_dim = dim // n_heads
        self.scale = (self.head_dim if attention_scale == "head_dim" else dim) ** -0.5
        self.dropout = dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        """``(batch, n_tokens, dim)`` -> the same shape."""
        batch, n_tokens, dim = x.shape
        qkv = self.qkv(x).reshape(batch, n_tokens, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(
            qkv[0], qkv[1], qkv[2], dropout_p=self.dropout if self.training else 0.0, scale=self.scale
        )
        return self.out(attended.transpose(1, 2).reshape(batch, n_tokens, dim))


class EncoderBlock(nn.Module):
    """Pre-norm transformer block: attention and an MLP, each with a residual connection."""

    def __init__(self, dim: int, n_heads: int, mlp_dim: int, *, attention_scale: str, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attention = SelfAttention(dim, n_heads, attention_scale=attention_scale, dropout=dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, mlp_dim),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(mlp_dim, dim),
            nn.Dropout(dropout),
        )

    def forward(self, x: Tensor) -> Tensor:
        """``(batch, n_tokens, dim)`` -> the same shape."""
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class _Encoder(nn.Module):
    def __init__(
        self, n_leads, n_samples, patch_size, dim, depth, n_heads, mlp_dim, attention_scale, dropout
    ):
        super().__init__()
        if n_samples % patch_size:
            raise ValueError(f"n_samples {n_samples} is not a multiple of patch_size {patch_size}")
        self.patch_size = patch_size
        self.n_patches = n_samples // patch_size
        self.embed = nn.Linear(n_leads * patch_size, dim)
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.position = nn.Parameter(torch.zeros(1, self.n_patches + 1, dim))
        nn.init.trunc_normal_(self.position, std=0.02)
        nn.init.trunc_normal_(self.class_token, std=0.02)
        self.blocks = nn.Sequential(
            *[
                EncoderBlock(dim, n_heads, mlp_dim, attention_scale=attention_scale, dropout=dropout)
                for _ in range(depth)
            ]
        )
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.n_patches * self.patch_size:
            raise ValueError(
                f"expected {self.n_patches * self.patch_size} samples per lead, got input shape {tuple(x.shape)}"
            )
        tokens = self.embed(patchify(x, self.patch_size))
        tokens = torch.cat([self.class_token.expand(len(tokens), -1, -1), tokens], dim=1) + self.position
        return self.norm(self.blocks(tokens))[:, 0]


class ViT1d(nn.Module):
    """1D vision transformer regressor (see the module docstring).

    Parameters
    ----------
    n_leads : input channels (8)
    n_samples : samples per lead (5000: 10 s at 500 Hz); fixed, as the position embeddings are learned
    n_outputs : regression outputs (4, or 1 for one model per target)
    patch_size : samples per patch (50, giving 100 patches)
    dim, depth, n_heads, mlp_dim : token width, encoder blocks, attention heads, MLP width
    attention_scale : ``"head_dim"`` (default) or ``"dim"`` (authors' code), see :class:`SelfAttention`
    dropout : dropout in attention and MLP

    Attributes
    ----------
    encoder : ``(batch, n_leads, n_samples)`` -> ``(batch, dim)`` (the normalised class token)
    head : nn.Linear(dim, n_outputs)
    """

    def __init__(
        self,
        *,
        n_leads: int = 8,
        n_samples: int = 5000,
        n_outputs: int = 4,
        patch_size: int = 50,
        dim: int = 64,
        depth: int = 4,
        n_heads: int = 4,
        mlp_dim: int = 128,
        attention_scale: str = "head_dim",
        dropout: float = 0.0,
    ):
        super().__init__()
        self.encoder = _Encoder(
            n_leads, n_samples, patch_size, dim, depth, n_heads, mlp_dim, attention_scale, dropout
        )
        self.head = nn.Linear(dim, n_outputs)
        self.n_features = dim

    def forward(self, x: Tensor) -> Tensor:
        """Outputs of shape ``(batch, n_outputs)`` for ``x`` of shape ``(batch, n_leads, n_samples)``."""
        return self.head(self.encoder(x))


def vit1d(*, n_outputs: int = 4, per_target: bool = False, **kwargs) -> nn.Module:
    """:class:`ViT1d` with one ``n_outputs`` head, or one single-output transformer per target."""
    return build_per_target(ViT1d, n_outputs=n_outputs, per_target=per_target, **kwargs)
