"""Model families, built by name with a seed: ``make_model("resnet1d18", seed=0, n_leads=12, n_classes=5)``.

Every family is a plain ``nn.Module`` taking a batch ``(batch, n_leads, n_samples)`` and
exposing ``.encoder`` and ``.head`` for :mod:`ecglib.transfer`. To add a family, add one
line to ``MODEL_FAMILIES`` (name -> callable returning the module); import lazily inside the
callable if the module is heavy.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import nn

from ecglib.models import (
    beat_cnn,
    cae,
    cnn2d,
    fc_regressor,
    interval_resnet,
    resnet1d,
    rnn,
    ssl_multitask,
    vit1d,
)

#: family name -> constructor taking keyword arguments (``n_leads``, ``n_classes``, ...).
MODEL_FAMILIES: dict[str, Callable[..., nn.Module]] = {
    "resnet1d18": resnet1d.ResNet1d18,
    "resnet1d34": resnet1d.ResNet1d34,
    "resnet1d50": resnet1d.ResNet1d50,
    "resnet1d101": resnet1d.ResNet1d101,
    "beat_cnn": beat_cnn.BeatCNN,  # Vavekanand et al.: 67,169 parameters
    "cnn2d_triple": cnn2d.TripleChannelCNN2d,  # Vavekanand's GAF/MTF/RP image variant
    "cae": cae.ConvAutoencoder,  # Jang et al. 2021 convolutional autoencoder
    # Surrey COM3025: trunk + linear head (8 SSL heads, 5 MIT-BIH classes or 1 MI logit)
    "surrey_mlp": partial(ssl_multitask.BeatNet, "mlp"),
    "surrey_cnn": partial(ssl_multitask.BeatNet, "cnn"),
    "surrey_lstm": partial(ssl_multitask.BeatNet, "lstm"),
    "lstm": rnn.LSTM,  # Nguyen & Do 2025 recurrent models (head="mean_pool" | "flatten_as_in_paper")
    "bilstm": rnn.BiLSTM,
    "gru": rnn.GRU,
    # DeepFake study regressors (HR, PR, QRS, QT); n_outputs=..., per_target=True for one model per target
    "interval_resnet": interval_resnet.interval_resnet,
    "vit1d": vit1d.vit1d,
    "fc_regressor": fc_regressor.fc_regressor,
}


def make_model(family: str, *, seed: int, **kwargs) -> nn.Module:
    """Build model ``family`` with initial weights that depend on ``seed`` alone.

    The global torch RNG is forked, so the caller's random state is left untouched.

    Raises
    ------
    KeyError
        ``family`` is not in ``MODEL_FAMILIES`` (the message lists the known names).
    """
    if family not in MODEL_FAMILIES:
        raise KeyError(f"unknown model family {family!r}; known: {', '.join(sorted(MODEL_FAMILIES))}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MODEL_FAMILIES[family](**kwargs)
