"""Recurrent classifiers for multi-lead ECG (Nguyen & Do 2025): LSTM, BiLSTM and GRU.

Paper: hidden size 100, dropout 0.3. Authors' public code (facts only, see
``/work/shared/studies/REFERENCE-NOTES.md``): one recurrent layer of hidden size 100
(per direction), every time step's output flattened into one ``Linear(n_samples * 100
* n_directions, n_classes)`` head, and ``nn.LSTM/GRU(dropout=0.3)`` with one layer, which
applies no dropout at all (PyTorch drops only between stacked layers).

Two heads, chosen with ``head``:

- ``"mean_pool"`` (default) and ``"last_state"``: the recurrent outputs are averaged over
  time (or the final hidden state of each direction is taken), giving ``hidden_size *
  n_directions`` features, then dropout and one ``Linear``. The head is tiny, so
  fine-tuning keeps almost every weight, as it does for a ResNet.
- ``"flatten_as_in_paper"``: the authors' head. All ``n_samples`` time steps are
  flattened into one ``Linear``; at 1,000 samples that layer holds about 92 % of an
  LSTM's weights, and fine-tuning, which replaces it, discards them (see
  :func:`ecglib.transfer.kept_and_replaced`). This confounds the paper's CNN-vs-RNN
  comparison, so it is a labelled option, not the default.

Dropout: ``dropout`` is applied by an ``nn.Dropout`` between the encoder and the final
``Linear`` (the one place it acts with a single layer), and between stacked recurrent
layers when ``n_layers > 1``. ``dropout=0.0`` reproduces the authors' code exactly.

Every model exposes ``.encoder`` (input ``(batch, n_leads, n_samples)`` -> features
``(batch, n_features)``) and ``.head`` (``nn.Sequential(Dropout, Linear)``) for
:mod:`ecglib.transfer`, whose ``replace_head`` swaps only the final ``Linear``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

#: Head names accepted by :class:`RecurrentClassifier`.
HEADS: tuple[str, ...] = ("mean_pool", "last_state", "flatten_as_in_paper")
CELLS: dict[str, type[nn.RNNBase]] = {"lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentEncoder(nn.Module):
    """Recurrent layers over time, then a readout of the outputs into one feature vector.

    Parameters
    ----------
    cell : ``"lstm"`` or ``"gru"``
    n_leads : input channels (ECG leads)
    hidden_size : units per direction
    n_layers : stacked recurrent layers
    bidirectional : run a second layer backwards in time and concatenate
    dropout : between stacked layers only (PyTorch's rule; no effect when ``n_layers == 1``)
    readout : ``"mean_pool"``, ``"last_state"`` or ``"flatten_as_in_paper"``
    n_samples : time steps of the input, required by ``"flatten_as_in_paper"`` (the
        feature size depends on it); ignored otherwise

    Input ``(batch, n_leads, n_samples)``; output ``(batch, n_features)`` with
    ``n_features = hidden_size * n_directions`` (pooled) or ``n_samples * hidden_size *
    n_directions`` (flattened).
    """

    def __init__(
        self,
        cell: str,
        *,
        n_leads: int,
        hidden_size: int,
        n_layers: int,
        bidirectional: bool,
        dropout: float,
        readout: str,
        n_samples: int | None,
    ):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        if readout not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {readout!r}")
        if readout == "flatten_as_in_paper" and (n_samples is None or n_samples < 1):
            raise ValueError(
                "head='flatten_as_in_paper' flattens every time step, so n_samples (e.g. 1000 for "
                f"10 s at 100 Hz) must be given; got n_samples={n_samples!r}"
            )
        self.readout = readout
        self.n_samples = n_samples
        self.n_directions = 2 if bidirectional else 1
        self.rnn = CELLS[cell](
            input_size=n_leads,
            hidden_size=hidden_size,
            num_layers=n_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if n_layers > 1 else 0.0,
        )
        width = hidden_size * self.n_directions
        self.n_features = n_samples * width if readout == "flatten_as_in_paper" else width

    def forward(self, x: Tensor) -> Tensor:
        """Features ``(batch, n_features)`` of ``x`` with shape ``(batch, n_leads, n_samples)``."""
        outputs, state = self.rnn(x.transpose(1, 2))  # outputs: (batch, n_samples, width)
        if self.readout == "mean_pool":
            return outputs.mean(dim=1)
        if self.readout == "last_state":
            hidden = state[0] if isinstance(state, tuple) else state  # LSTM returns (h_n, c_n)
            last_layer = hidden[-self.n_directions :]  # (n_directions, batch, hidden)
            return torch.cat(list(last_layer), dim=1)
        if outputs.shape[1] != self.n_samples:
            raise ValueError(
                f"head='flatten_as_in_paper' was built for {self.n_samples} samples, got input with "
                f"{outputs.shape[1]}"
            )
        return outputs.flatten(start_dim=1)


class RecurrentClassifier(nn.Module):
    """LSTM, BiLSTM or GRU classifier with a pooled (default) or the authors' flattened head.

    Parameters
    ----------
    cell : ``"lstm"`` or ``"gru"``
    n_leads : input channels (ECG leads)
    n_classes : output logits
    hidden_size : units per direction (paper: 100)
    n_layers : stacked recurrent layers (authors' code: 1)
    bidirectional : BiLSTM when True
    dropout : rate of the ``nn.Dropout`` before the final ``Linear`` (paper: 0.3; the
        authors' code applies none, i.e. 0.0); also between stacked layers
    head : ``"mean_pool"`` (default), ``"last_state"`` or ``"flatten_as_in_paper"``
    n_samples : input length, required by ``head="flatten_as_in_paper"``

    Attributes
    ----------
    encoder : RecurrentEncoder, ``(batch, n_leads, n_samples)`` -> ``(batch, n_features)``
    head : nn.Sequential(Dropout, Linear(n_features, n_classes))
    n_features : int
    """

    def __init__(
        self,
        cell: str = "lstm",
        *,
        n_leads: int = 12,
        n_classes: int = 5,
        hidden_size: int = 100,
        n_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.3,
        head: str = "mean_pool",
        n_samples: int | None = None,
    ):
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.encoder = RecurrentEncoder(
            cell,
            n_leads=n_leads,
            hidden_size=hidden_size,
            n_layers=n_layers,
            bidirectional=bidirectional,
            dropout=dropout,
            readout=head,
            n_samples=n_samples,
        )
        self.n_features = self.encoder.n_features
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.n_features, n_classes))

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(batch, n_classes)`` for ``x`` of shape ``(batch, n_leads, n_samples)``."""
        return self.head(self.encoder(x))


def LSTM(*, n_leads: int = 12, n_classes: int = 5, **kwargs) -> RecurrentClassifier:
    """Unidirectional LSTM, hidden 100, one layer (authors' code)."""
    return RecurrentClassifier("lstm", n_leads=n_leads, n_classes=n_classes, bidirectional=False, **kwargs)


def BiLSTM(*, n_leads: int = 12, n_classes: int = 5, **kwargs) -> RecurrentClassifier:
    """Bidirectional LSTM, hidden 100 per direction (200 features per time step), one layer."""
    return RecurrentClassifier("lstm", n_leads=n_leads, n_classes=n_classes, bidirectional=True, **kwargs)


def GRU(*, n_leads: int = 12, n_classes: int = 5, **kwargs) -> RecurrentClassifier:
    """Unidirectional GRU, hidden 100, one layer (authors' code)."""
    return RecurrentClassifier("gru", n_leads=n_leads, n_classes=n_classes, bidirectional=False, **kwargs)
