"""GoogLeNet (ImageNet) as a fixed feature extractor for ECG spectrogram images.

Jang et al. 2021 compare their 1-D transfer with the "2D transfer" of earlier work:
spectrogram images of each ECG go through a GoogLeNet pre-trained on ImageNet, frozen,
and only a classifier on its features is trained. Because the extractor is frozen and
run in evaluation mode, its 1,024 pooled features per image are computed once
(:func:`spectrogram_features`) and the classifier (:class:`FeatureClassifier`) is trained
on them with the same loop, epochs, learning rate and optimiser as the 1-D arms.

ImageNet weights (torchvision ``GoogLeNet_Weights.IMAGENET1K_V1``, file
``googlenet-1378be20.pth``) are read from an explicit path or from the torch hub cache
(``$TORCH_HOME/hub/checkpoints``); this module never downloads. When they are absent,
:func:`load_feature_extractor` raises :class:`ImageNetWeightsMissing`, or, only when
asked with ``when_missing="random"``, returns a randomly initialised network whose
:class:`FeatureExtractorInfo` says so in every table and figure label
(``RANDOM_WEIGHTS_LABEL``). Random weights are never presented as ImageNet's.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ecglib.errors import DataFormatError
from ecglib.models.cae import mlp_head

__all__ = [
    "IMAGENET_WEIGHTS_FILE",
    "RANDOM_WEIGHTS_LABEL",
    "IMAGENET_LABEL",
    "ImageNetWeightsMissing",
    "FeatureExtractorInfo",
    "find_imagenet_weights",
    "load_feature_extractor",
    "extract_features",
    "spectrogram_features",
    "FeatureClassifier",
    "N_FEATURES",
]

#: torchvision's file name for GoogLeNet_Weights.IMAGENET1K_V1
IMAGENET_WEIGHTS_FILE = "googlenet-1378be20.pth"
IMAGENET_LABEL = "ImageNet GoogLeNet (torchvision IMAGENET1K_V1), fixed feature extractor"
RANDOM_WEIGHTS_LABEL = "ImageNet weights unavailable: random-weight feature extractor, not the paper's arm"
#: width of GoogLeNet's pooled features (input of its final fc layer)
N_FEATURES = 1024
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ImageNetWeightsMissing(FileNotFoundError):
    """The ImageNet GoogLeNet weights are not on this machine (they cannot be downloaded here)."""


@dataclass(frozen=True)
class FeatureExtractorInfo:
    """Which weights the feature extractor holds.

    Attributes
    ----------
    weights : "imagenet" or "random"
    label : text for tables and figures (``IMAGENET_LABEL`` or ``RANDOM_WEIGHTS_LABEL``)
    path : the weights file read, or None
    sha256 : its SHA-256, or None
    searched : the paths looked at
    """

    weights: str
    label: str
    path: str | None = None
    sha256: str | None = None
    searched: tuple[str, ...] = ()

    @property
    def is_imagenet(self) -> bool:
        return self.weights == "imagenet"


def _hub_checkpoint_dir(hub_dir: str | os.PathLike | None) -> Path:
    base = Path(hub_dir) if hub_dir is not None else Path(torch.hub.get_dir())
    return base.expanduser() / "checkpoints"


def find_imagenet_weights(
    weights_path: str | os.PathLike | None = None, *, hub_dir: str | os.PathLike | None = None
) -> tuple[Path | None, tuple[str, ...]]:
    """Locate the ImageNet GoogLeNet weights without downloading.

    Parameters
    ----------
    weights_path : path or None
        An explicit file (used alone when given).
    hub_dir : path or None
        The torch hub folder (default ``torch.hub.get_dir()``); its
        ``checkpoints/googlenet-1378be20.pth`` is tried.

    Returns
    -------
    (path or None, searched paths)
    """
    candidates = (
        [Path(weights_path).expanduser()]
        if weights_path
        else [_hub_checkpoint_dir(hub_dir) / IMAGENET_WEIGHTS_FILE]
    )
    for candidate in candidates:
        if candidate.is_file():
            return candidate, tuple(str(c) for c in candidates)
    return None, tuple(str(c) for c in candidates)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _googlenet(*, aux_logits: bool) -> nn.Module:
    from torchvision.models import GoogLeNet

    # transform_input=True: inputs are ImageNet-normalised and converted to the
    # normalisation the original weights were trained with (torchvision's convention).
    return GoogLeNet(num_classes=1000, aux_logits=aux_logits, transform_input=True, init_weights=True)


def load_feature_extractor(
    *,
    weights_path: str | os.PathLike | None = None,
    hub_dir: str | os.PathLike | None = None,
    when_missing: str = "error",
    seed: int = 0,
) -> tuple[nn.Module, FeatureExtractorInfo]:
    """GoogLeNet with its classifier removed, frozen, in evaluation mode.

    Parameters
    ----------
    weights_path, hub_dir : where to look for the ImageNet weights (see :func:`find_imagenet_weights`)
    when_missing : {"error", "random"}, default="error"
        What to do when the weights are not found: raise :class:`ImageNetWeightsMissing`, or
        return a randomly initialised network labelled ``RANDOM_WEIGHTS_LABEL``.
    seed : int, initial weights of the random network (global RNG untouched)

    Returns
    -------
    (extractor, info)
        ``extractor`` maps ``(batch, 3, H, W)`` ImageNet-normalised images to
        ``(batch, 1024)`` features.

    Raises
    ------
    ImageNetWeightsMissing
        Weights absent and ``when_missing="error"``.
    ecglib.errors.DataFormatError
        The weights file exists but is not a GoogLeNet state dict.
    """
    if when_missing not in ("error", "random"):
        raise ValueError(f"when_missing must be 'error' or 'random', got {when_missing!r}")
    path, searched = find_imagenet_weights(weights_path, hub_dir=hub_dir)
    if path is None and when_missing == "error":
        raise ImageNetWeightsMissing(
            f"ImageNet GoogLeNet weights not found (looked for {', '.join(searched)}); they cannot be "
            f"downloaded here. Put torchvision's {IMAGENET_WEIGHTS_FILE} there, pass its path, or choose "
            f"the labelled random-weight extractor (when_missing='random') or skip the arm."
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _googlenet(aux_logits=path is not None)
    if path is None:
        info = FeatureExtractorInfo(weights="random", label=RANDOM_WEIGHTS_LABEL, searched=searched)
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            model.load_state_dict(state)
        except Exception as error:  # any unreadable or mismatching file
            raise DataFormatError(
                f"{path}: not a torchvision GoogLeNet ImageNet state dict ({error})"
            ) from error
        info = FeatureExtractorInfo(
            weights="imagenet", label=IMAGENET_LABEL, path=str(path), sha256=_sha256(path), searched=searched
        )
    model.aux_logits, model.aux1, model.aux2 = False, None, None
    model.fc = nn.Identity()
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model, info


@torch.no_grad()
def extract_features(
    extractor: nn.Module, images: np.ndarray, *, batch_size: int = 32, device: torch.device | str = "cpu"
) -> np.ndarray:
    """Features of images in [0, 1], ImageNet-normalised on the way in.

    Parameters
    ----------
    extractor : module from :func:`load_feature_extractor`
    images : ndarray of shape (n, 3, H, W), values in [0, 1]
    batch_size : int
    device : torch device

    Returns
    -------
    ndarray of shape (n, 1024), float32
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be (n, 3, H, W), got shape {images.shape}")
    extractor = extractor.to(device).eval()
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    features = [np.zeros((0, N_FEATURES), dtype=np.float32)]
    for start in range(0, len(images), batch_size):
        batch = (torch.from_numpy(images[start : start + batch_size]).to(device) - mean) / std
        features.append(extractor(batch).float().cpu().numpy())
    return np.concatenate(features)


def spectrogram_features(
    windows: np.ndarray,
    *,
    fs_hz: float,
    extractor: nn.Module,
    image_size: int = 224,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    **spectrogram_kwargs,
) -> np.ndarray:
    """Spectrogram images (:func:`ecglib.images.spectrogram_images`) through the extractor, in batches.

    Parameters
    ----------
    windows : ndarray of shape (n, n_samples), one lead
    fs_hz : float, sampling rate in hertz
    extractor : module from :func:`load_feature_extractor`
    image_size : int, default=224 (GoogLeNet's ImageNet input size)
    batch_size : int, images made and embedded at a time (bounds memory)
    device : torch device
    **spectrogram_kwargs : passed to :func:`ecglib.images.spectrogram_images`

    Returns
    -------
    ndarray of shape (n, 1024), float32
    """
    from ecglib.images import spectrogram_images

    windows = np.asarray(windows)
    if windows.ndim != 2:
        raise ValueError(f"windows must be (n, n_samples), got shape {windows.shape}")
    parts = [np.zeros((0, N_FEATURES), dtype=np.float32)]
    for start in range(0, len(windows), batch_size):
        images = spectrogram_images(
            windows[start : start + batch_size], fs_hz=fs_hz, image_size=image_size, **spectrogram_kwargs
        )
        parts.append(extract_features(extractor, images, batch_size=batch_size, device=device))
    return np.concatenate(parts)


class FeatureClassifier(nn.Module):
    """Classifier trained on fixed extractor features.

    Input ``(batch, 1, n_features)`` (features stored as a one-lead "signal" so the common
    training loop can take them) or ``(batch, n_features)``; output ``(batch, n_classes)``
    logits. ``.encoder`` is a flatten (the extractor itself is fixed and applied once,
    before training); ``.head`` is the same kind of head as :class:`ecglib.models.cae.CAEClassifier`'s.
    """

    def __init__(self, n_classes: int, *, n_features: int = N_FEATURES, hidden_units: Sequence[int] = (64,)):
        super().__init__()
        self.encoder = nn.Flatten()
        self.head = mlp_head(n_features, n_classes, hidden_units)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.encoder(x))
