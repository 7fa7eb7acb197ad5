"""Surrey COM3025 beat networks: a shared trunk with binary transformation heads, and its transfer.

One class, :class:`BeatNet`, serves both stages of the study:

- self-supervised: ``BeatNet(trunk, n_classes=8)``, 8 binary heads (one per version of
  :data:`ecglib.transforms.TRANSFORMATIONS`), trained with BCE-with-logits on the one-hot
  targets of :func:`ecglib.transforms.self_supervised_set` (``task="multi_label"`` in
  :func:`ecglib.train.fit`). The heads are the 8 outputs of one ``nn.Linear(embedding, 8)``:
  each output has its own row of weights and bias and its own BCE term, which is exactly 8
  independent ``Dense(1, sigmoid)`` heads on a shared input (the authors' layout);
- supervised: the same trunk with ``n_classes=5`` (MIT-BIH AAMI classes, cross-entropy) or
  ``n_classes=1`` (MI vs not, one logit, BCE). :func:`transfer_trunk` builds it from a
  pre-trained self-supervised model.

The model takes ``(batch, 1, n_samples)`` beats (187 samples at 125 Hz) and returns logits
``(batch, n_classes)``. It exposes ``.encoder`` (the trunk, ``(batch, 1, n_samples) ->
(batch, embedding_dim)``) and ``.head`` (``nn.Linear``), the contract of
:mod:`ecglib.transfer`.

Trunks (layer sizes from the authors' public code, LMcIntosh99/com3025_project, read for facts)
-----------------------------------------------------------------------------------------------
``mlp``   7 dense layers in all: 6 in the trunk, widths 5, 64, 128, 128, 128, 64, the first
          linear and the others ReLU, dropout 0.2 before the last; the 7th dense layer is the
          head. (The authors' supervised MLP flattens the beat first, as here; their
          self-supervised MLP applies these layers to each sample of the (187, 1) input
          separately and flattens only before its last layer, a Keras quirk not reproduced.)
``cnn``   3 x [Conv1d -> LeakyReLU -> MaxPool1d(2, 2)] with 5, 10, 20 filters of kernel 3, 4, 4,
          flatten, Dense 30 and Dense 20 with LeakyReLU; the 3rd dense layer is the head.
          LeakyReLU slope 0.3, the Keras default the authors' ``LeakyReLU()`` used.
``lstm``  LSTM with 64 units (its last hidden state), Dense 128 with ReLU, dropout 0.3; the 2nd
          dense layer is the head.

Embedding or the authors' bottleneck
------------------------------------
By default the trunk ends in its last hidden layer, a real embedding (64, 20 or 128
features). ``bottleneck=True`` reproduces the authors' self-supervised network: the trunk
ends in ``Dense(1) -> sigmoid``, one number in (0, 1) that feeds all 8 heads. With it each
head sees one scalar, so the pretext task can hardly be learnt (the authors' heads sat at
the 7/8 majority rate; see :func:`ecglib.models.ssl_multitask.head_accuracy_table`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

TRUNKS: tuple[str, ...] = ("mlp", "cnn", "lstm")
KACHUEE_BEAT_SAMPLES = 187
N_SSL_HEADS = 8

MLP_UNITS: tuple[int, ...] = (5, 64, 128, 128, 128, 64)
MLP_DROPOUT = 0.2
CNN_FILTERS: tuple[int, ...] = (5, 10, 20)
CNN_KERNELS: tuple[int, ...] = (3, 4, 4)
CNN_DENSE_UNITS: tuple[int, ...] = (30, 20)
KERAS_LEAKY_SLOPE = 0.3
LSTM_UNITS = 64
LSTM_DENSE_UNITS = 128
LSTM_DROPOUT = 0.3


class _LastHidden(nn.Module):
    """LSTM over the samples of ``(batch, n_leads, n_samples)``; returns the last hidden state (batch, units)."""

    def __init__(self, n_leads: int, units: int):
        super().__init__()
        self.lstm = nn.LSTM(input_size=n_leads, hidden_size=units, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(x.transpose(1, 2))
        return hidden[-1]


def _conv_length(n_samples: int) -> int:
    length = n_samples
    for kernel in CNN_KERNELS:
        length = (length - kernel + 1) // 2
        if length < 1:
            raise ValueError(f"n_samples={n_samples} is too short for the CNN trunk")
    return length


def make_trunk(
    trunk: str, *, n_leads: int = 1, n_samples: int = KACHUEE_BEAT_SAMPLES, bottleneck: bool = False
):
    """Build a trunk.

    Parameters
    ----------
    trunk : one of :data:`TRUNKS`
    n_leads : input channels (1)
    n_samples : beat length in samples (187)
    bottleneck : end in the authors' ``Dense(1) -> sigmoid`` instead of the embedding

    Returns
    -------
    (nn.Sequential, int): the trunk, ``(batch, n_leads, n_samples) -> (batch, embedding_dim)``,
    and ``embedding_dim`` (1 with the bottleneck).
    """
    if trunk == "mlp":
        layers: list[nn.Module] = [nn.Flatten(), nn.Linear(n_leads * n_samples, MLP_UNITS[0])]
        for index, (n_in, n_out) in enumerate(zip(MLP_UNITS[:-1], MLP_UNITS[1:])):
            if index == len(MLP_UNITS) - 2:
                layers.append(nn.Dropout(MLP_DROPOUT))
            layers += [nn.Linear(n_in, n_out), nn.ReLU()]
        width = MLP_UNITS[-1]
    elif trunk == "cnn":
        layers = []
        channels = n_leads
        for filters, kernel in zip(CNN_FILTERS, CNN_KERNELS):
            layers += [
                nn.Conv1d(channels, filters, kernel),
                nn.LeakyReLU(KERAS_LEAKY_SLOPE),
                nn.MaxPool1d(2, 2),
            ]
            channels = filters
        layers.append(nn.Flatten())
        width = channels * _conv_length(n_samples)
        for units in CNN_DENSE_UNITS:
            layers += [nn.Linear(width, units), nn.LeakyReLU(KERAS_LEAKY_SLOPE)]
            width = units
    elif trunk == "lstm":
        layers = [
            _LastHidden(n_leads, LSTM_UNITS),
            nn.Linear(LSTM_UNITS, LSTM_DENSE_UNITS),
            nn.ReLU(),
            nn.Dropout(LSTM_DROPOUT),
        ]
        width = LSTM_DENSE_UNITS
    else:
        raise ValueError(f"unknown trunk {trunk!r}; trunks are {', '.join(TRUNKS)}")
    if bottleneck:
        layers += [nn.Linear(width, 1), nn.Sigmoid()]
        width = 1
    return nn.Sequential(*layers), width


class BeatNet(nn.Module):
    """A trunk and a linear head of ``n_classes`` outputs (logits); see the module docstring.

    Parameters
    ----------
    trunk : "mlp", "cnn" or "lstm"
    n_classes : outputs: 8 for the self-supervised heads, 5 for MIT-BIH, 1 for MI vs not
    n_leads : input channels (1)
    n_samples : beat length in samples (187)
    bottleneck : the authors' one-unit sigmoid at the end of the trunk (a labelled option)

    Attributes
    ----------
    encoder : the trunk, ``(batch, n_leads, n_samples) -> (batch, embedding_dim)``
    head : ``nn.Linear(embedding_dim, n_classes)``
    """

    def __init__(
        self,
        trunk: str = "cnn",
        n_classes: int = N_SSL_HEADS,
        *,
        n_leads: int = 1,
        n_samples: int = KACHUEE_BEAT_SAMPLES,
        bottleneck: bool = False,
    ):
        super().__init__()
        if n_classes < 1:
            raise ValueError(f"n_classes must be >= 1, got {n_classes}")
        self.trunk, self.n_classes, self.n_leads, self.n_samples = trunk, n_classes, n_leads, n_samples
        self.bottleneck = bottleneck
        self.encoder, self.embedding_dim = make_trunk(
            trunk, n_leads=n_leads, n_samples=n_samples, bottleneck=bottleneck
        )
        self.head = nn.Linear(self.embedding_dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, n_classes)`` for beats ``x`` of shape ``(batch, n_leads, n_samples)``."""
        if x.ndim != 3 or tuple(x.shape[1:]) != (self.n_leads, self.n_samples):
            raise ValueError(
                f"BeatNet expects beats of shape (batch, {self.n_leads}, {self.n_samples}), got {tuple(x.shape)}"
            )
        return self.head(self.encoder(x))


def transfer_trunk(
    pretrained: BeatNet, n_classes: int, *, seed: int, keep_bottleneck: bool | None = None
) -> tuple[BeatNet, object]:
    """A supervised classifier whose trunk starts from ``pretrained``'s trunk and whose head is fresh.

    Parameters
    ----------
    pretrained : a (self-supervised) :class:`BeatNet`; left unchanged
    n_classes : outputs of the new head (5 for MIT-BIH, 1 for MI vs not)
    seed : seeds the new model's fresh layers (the head, and nothing else unless layers are skipped)
    keep_bottleneck : for a ``pretrained`` with the bottleneck, whether the classifier keeps
        it (True) or cuts the trunk before it, so its head sees the last hidden layer (False).
        Default: keep whatever ``pretrained`` has. The authors cut at different points for
        the two tasks; pass this explicitly to choose.

    Returns
    -------
    (BeatNet, ecglib.transfer.TransferReport): the new model and what was copied (every
    trunk tensor; the head is newly initialised).
    """
    from ecglib.models import make_model
    from ecglib.transfer import load_matching_weights

    bottleneck = pretrained.bottleneck if keep_bottleneck is None else keep_bottleneck
    if bottleneck and not pretrained.bottleneck:
        raise ValueError("cannot keep a bottleneck the pretrained model does not have")
    model = make_model(
        f"surrey_{pretrained.trunk}",
        seed=seed,
        n_classes=n_classes,
        n_leads=pretrained.n_leads,
        n_samples=pretrained.n_samples,
        bottleneck=bottleneck,
    )
    model = model.to(next(pretrained.parameters()).device)
    report = load_matching_weights(model, pretrained, prefix_map={"encoder.": "encoder."})
    return model, report


class ProbabilityAverage(nn.Module):
    """An ensemble that averages its members' probabilities and returns them as logits.

    For ``n_classes > 1`` the members' softmax probabilities are averaged and the output is
    their log (``softmax`` of it gives the average back, so cross-entropy trains the
    ensemble directly); for ``n_classes == 1`` the sigmoid probabilities are averaged and
    the output is their logit. Gradients flow into every member (the report trains the
    ensemble further, 20 more epochs).

    Parameters
    ----------
    members : models with the same ``(batch, n_classes)`` logit output
    """

    def __init__(self, members: Sequence[nn.Module]):
        super().__init__()
        if len(members) < 1:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Average member probabilities, ``(batch, n_classes)``."""
        logits = [member(x) for member in self.members]
        if logits[0].shape[-1] == 1:
            return torch.stack([torch.sigmoid(value) for value in logits]).mean(dim=0)
        return torch.stack([torch.softmax(value, dim=-1) for value in logits]).mean(dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probabilities = self.probabilities(x).clamp(1e-7, 1 - 1e-7)
        if probabilities.shape[-1] == 1:
            return torch.log(probabilities) - torch.log1p(-probabilities)
        return torch.log(probabilities)


# --------------------------------------------------------------------------- did SSL learn anything


def head_accuracy_table(
    logits: np.ndarray,
    targets: np.ndarray,
    head_names: Sequence[str],
    *,
    margin: float = 0.02,
    min_fraction_learnt: float = 0.5,
) -> tuple[pd.DataFrame, bool]:
    """Each binary head's accuracy beside its majority rate, and whether the pretext task was learnt.

    A head that outputs a constant scores its majority rate (7/8 when its positive class is
    one version in eight), so accuracy alone says nothing; the rule compares the two.

    Rule: a head **learnt** when its accuracy exceeds its majority rate by more than
    ``margin`` (absolute, default 2 points: 0.875 -> above 0.895). Self-supervision **learnt**
    (the returned boolean) when at least ``min_fraction_learnt`` of the heads learnt (default
    half: 4 of 8). One head alone is not enough: the negation head can be learnt from the
    sign of the beat's mean, which even the authors' one-unit bottleneck carries (their only
    head above 7/8); the table's ``attrs["n_heads_learnt"]`` says how many did. Compute it on
    held-out versions (beats not used for the self-supervised training).

    Parameters
    ----------
    logits : ndarray of shape (n_examples, n_heads), the heads' logits (0 = probability 1/2)
    targets : ndarray of shape (n_examples, n_heads), 0/1
    head_names : names of the heads (columns)
    margin : accuracy above the majority rate, absolute, that counts as learnt
    min_fraction_learnt : fraction of heads that must have learnt

    Returns
    -------
    (DataFrame, bool)
        Columns ``head, accuracy, majority_rate, margin_over_majority, learnt`` (one row per
        head), with ``attrs["n_heads_learnt"]`` and ``attrs["rule"]`` (the rule in words);
        the boolean: did self-supervision learn anything by that rule.
    """
    logits = np.asarray(logits, dtype=np.float64)
    targets = np.asarray(targets)
    if logits.shape != targets.shape or logits.ndim != 2 or logits.shape[1] != len(head_names):
        raise ValueError(
            f"logits {logits.shape} and targets {targets.shape} must be (n_examples, {len(head_names)})"
        )
    if not np.all((targets == 0) | (targets == 1)):
        raise ValueError("targets must be 0/1")
    if not 0 < min_fraction_learnt <= 1:
        raise ValueError(f"min_fraction_learnt must be in (0, 1], got {min_fraction_learnt}")
    predictions = logits > 0
    accuracy = (predictions == targets.astype(bool)).mean(axis=0)
    positive_rate = targets.mean(axis=0)
    majority = np.maximum(positive_rate, 1 - positive_rate)
    learnt = accuracy - majority > margin
    table = pd.DataFrame(
        {
            "head": list(head_names),
            "accuracy": accuracy,
            "majority_rate": majority,
            "margin_over_majority": accuracy - majority,
            "learnt": learnt,
        }
    )
    n_needed = int(np.ceil(min_fraction_learnt * len(head_names)))
    rule = (
        f"a head learnt when its accuracy exceeds its majority rate by more than {margin:.3f}; "
        f"self-supervision learnt when at least {n_needed} of {len(head_names)} heads learnt"
    )
    table.attrs.update(n_heads_learnt=int(learnt.sum()), rule=rule)
    return table, bool(learnt.sum() >= n_needed)
