"""The DeepFake study's fully connected baseline: the flattened ECG through dense layers.

::

    Flatten (n_leads * n_samples) -> [Linear -> ReLU -> dropout] per hidden width -> Linear(n_outputs)

The paper gives no sizes; ``hidden_features=(256, 64)`` is the default (10,256,964 parameters
for 8 x 5000 inputs and 4 outputs), ``(32,)`` a CPU-sized variant (1,280,164). The
authors' baseline compared a ``(batch, 1)`` prediction with a ``(batch,)`` target, which
broadcasts and makes the network learn the target mean; here the output is always
``(batch, n_outputs)`` and the loss is the caller's.
"""

from __future__ import annotations

from torch import Tensor, nn

from ecglib.models.per_target import build as build_per_target


class FCRegressor(nn.Module):
    """Fully connected regressor.

    Parameters
    ----------
    n_leads, n_samples : input shape ``(batch, n_leads, n_samples)`` (8, 5000)
    n_outputs : regression outputs (4, or 1 for one model per target)
    hidden_features : widths of the hidden layers (at least one)
    dropout : dropout after each hidden layer

    Attributes
    ----------
    encoder : flatten and the hidden layers, ``(batch, n_leads, n_samples)`` -> ``(batch, hidden_features[-1])``
    head : nn.Linear(hidden_features[-1], n_outputs)
    """

    def __init__(
        self,
        *,
        n_leads: int = 8,
        n_samples: int = 5000,
        n_outputs: int = 4,
        hidden_features: tuple[int, ...] = (256, 64),
        dropout: float = 0.0,
    ):
        super().__init__()
        if not hidden_features:
            raise ValueError("hidden_features needs at least one width")
        layers: list[nn.Module] = [nn.Flatten()]
        width = n_leads * n_samples
        for hidden in hidden_features:
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        self.encoder = nn.Sequential(*layers)
        self.head = nn.Linear(width, n_outputs)
        self.n_features = width
        self.n_inputs = n_leads * n_samples

    def forward(self, x: Tensor) -> Tensor:
        """Outputs of shape ``(batch, n_outputs)`` for ``x`` of shape ``(batch, n_leads, n_samples)``."""
        if x[0].numel() != self.n_inputs:
            raise ValueError(f"expected {self.n_inputs} values per example, got input shape {tuple(x.shape)}")
        return self.head(self.encoder(x))


def fc_regressor(*, n_outputs: int = 4, per_target: bool = False, **kwargs) -> nn.Module:
    """:class:`FCRegressor` with one ``n_outputs`` head, or one single-output network per target."""
    return build_per_target(FCRegressor, n_outputs=n_outputs, per_target=per_target, **kwargs)
