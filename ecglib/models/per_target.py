"""One model per regression target, stacked so that it looks like one model with a multi-output head.

The DeepFake study trains either one network with a four-output head (HR, PR, QRS, QT) or four
networks with one output each (the authors' code trains one per target). :func:`build` gives both
behind the same interface: a module mapping ``(batch, n_leads, n_samples)`` to
``(batch, n_outputs)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn


class PerTargetModels(nn.Module):
    """``n_outputs`` independent single-output models whose outputs are concatenated.

    Parameters
    ----------
    models : list of modules, each mapping ``(batch, n_leads, n_samples)`` to ``(batch, 1)``

    Attributes
    ----------
    models : nn.ModuleList; ``models[k]`` predicts output ``k`` (its ``.encoder`` and ``.head``
        are reached as ``"models.k.encoder"`` by :func:`ecglib.transfer.freeze`)
    """

    def __init__(self, models: list[nn.Module]):
        super().__init__()
        if not models:
            raise ValueError("PerTargetModels needs at least one model")
        self.models = nn.ModuleList(models)

    def forward(self, x: Tensor) -> Tensor:
        """Outputs of shape ``(batch, n_outputs)`` for ``x`` of shape ``(batch, n_leads, n_samples)``."""
        return torch.cat([model(x) for model in self.models], dim=1)


def build(constructor: Callable[..., nn.Module], *, n_outputs: int, per_target: bool, **kwargs) -> nn.Module:
    """``constructor(n_outputs=n_outputs, **kwargs)``, or ``n_outputs`` single-output copies of it.

    Parameters
    ----------
    constructor : model class taking ``n_outputs`` and ``kwargs``
    n_outputs : number of regression targets
    per_target : False: one model, one ``n_outputs`` head; True: :class:`PerTargetModels` of
        ``n_outputs`` models built one after the other (so with distinct initial weights)
    """
    if isinstance(n_outputs, bool) or not isinstance(n_outputs, int) or n_outputs < 1:
        raise ValueError(f"n_outputs must be a positive int, got {n_outputs!r}")
    if not per_target:
        return constructor(n_outputs=n_outputs, **kwargs)
    return PerTargetModels([constructor(n_outputs=1, **kwargs) for _ in range(n_outputs)])
