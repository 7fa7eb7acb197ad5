"""Transfer learning helpers: copy matching weights, replace a head, freeze and unfreeze parts.

Models follow the project's contract: a plain ``nn.Module`` exposing ``.encoder`` and
``.head`` (an ``nn.Linear`` or an ``nn.Sequential`` ending in one). Checkpoints are read with
``torch.load(..., weights_only=True)`` only: tensors and plain containers, never pickled code.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from ecglib.errors import CheckpointError

__all__ = [
    "TransferReport",
    "load_matching_weights",
    "replace_head",
    "freeze",
    "unfreeze",
    "count_parameters",
    "kept_and_replaced",
    "KeptAndReplaced",
    "kept_and_replaced_table",
    "load_checkpoint",
    "CheckpointError",
]


# --------------------------------------------------------------------------- checkpoints


def load_checkpoint(path: str | os.PathLike, *, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint written with ``torch.save`` (a state dict or a dict holding them).

    Parameters
    ----------
    path : path of the ``.pt`` file
    map_location : where tensors are loaded, default ``"cpu"``

    Returns
    -------
    dict, as saved (``torch.load(path, weights_only=True)``)

    Raises
    ------
    FileNotFoundError
        The file does not exist (the message names it).
    CheckpointError
        The file is corrupt, truncated, not a dict, or needs unpickling of arbitrary objects.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        content = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError, OSError) as error:
        raise CheckpointError(
            f"checkpoint {path} could not be read with torch.load(weights_only=True): the file is corrupt, "
            f"truncated, or holds non-tensor objects ({type(error).__name__}: {str(error).splitlines()[0][:200]})"
        ) from error
    if not isinstance(content, dict):
        raise CheckpointError(
            f"checkpoint {path} holds a {type(content).__name__}, expected a dict (state dict)"
        )
    return content


# --------------------------------------------------------------------------- weight transfer


@dataclass
class TransferReport:
    """What :func:`load_matching_weights` did.

    Attributes
    ----------
    loaded : list of (source key, target key) copied
    skipped : list of (source key, reason) not copied
    initialised : target keys that kept their fresh initialisation (nothing copied into them)
    """

    loaded: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    initialised: list[str] = field(default_factory=list)

    @property
    def n_loaded(self) -> int:
        return len(self.loaded)

    def __str__(self) -> str:
        return self.format()

    def format(self, *, max_lines: int = 15) -> str:
        """Readable summary: loaded tensors counted per module (two name levels), then the
        skipped keys with their reasons and the newly initialised keys, ``max_lines`` each."""
        lines = [
            f"Transfer: {len(self.loaded)} tensors loaded, {len(self.skipped)} skipped, "
            f"{len(self.initialised)} newly initialised"
        ]
        groups: dict[tuple[str, str], int] = {}
        for source, target in self.loaded:
            group = (_module_group(source), _module_group(target))
            groups[group] = groups.get(group, 0) + 1
        sections = [
            (
                "loaded (tensors per module)",
                [
                    f"{source} ({count})" if source == target else f"{source} -> {target} ({count})"
                    for (source, target), count in groups.items()
                ],
            ),
            ("skipped", [f"{source}: {reason}" for source, reason in self.skipped]),
            ("newly initialised", list(self.initialised)),
        ]
        for title, entries in sections:
            if entries:
                lines.append(f"  {title}:")
                lines += [f"    {entry}" for entry in entries[:max_lines]]
                if len(entries) > max_lines:
                    lines.append(f"    ... and {len(entries) - max_lines} more (see .to_frame())")
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """One row per key: ``source_key, target_key, status (loaded|skipped|initialised), reason``."""
        rows = [
            dict(source_key=source, target_key=target, status="loaded", reason="")
            for source, target in self.loaded
        ]
        rows += [
            dict(source_key=source, target_key=None, status="skipped", reason=reason)
            for source, reason in self.skipped
        ]
        rows += [
            dict(source_key=None, target_key=key, status="initialised", reason="nothing matching in source")
            for key in self.initialised
        ]
        return pd.DataFrame(rows, columns=["source_key", "target_key", "status", "reason"])

    def _repr_markdown_(self) -> str:  # notebooks show the same text, preformatted
        return f"```\n{self}\n```"


def _module_group(key: str) -> str:
    """``encoder.blocks.0.conv.weight`` -> ``encoder.blocks``; ``head.weight`` -> ``head``."""
    module_path = key.split(".")[:-1] or [key]
    return ".".join(module_path[:2])


def _map_key(key: str, prefix_map: Mapping[str, str] | None) -> str | None:
    if prefix_map is None:
        return key
    for source_prefix in sorted(prefix_map, key=len, reverse=True):  # longest prefix wins
        if key.startswith(source_prefix):
            return prefix_map[source_prefix] + key[len(source_prefix) :]
    return None


def load_matching_weights(
    target: nn.Module,
    source: Mapping[str, torch.Tensor] | nn.Module,
    *,
    prefix_map: Mapping[str, str] | None = None,
) -> TransferReport:
    """Copy every source tensor whose (mapped) name and shape match a tensor of ``target``.

    Parameters
    ----------
    target : nn.Module, modified in place (parameters and buffers)
    source : state dict or nn.Module (e.g. a pretrained autoencoder)
    prefix_map : mapping source prefix -> target prefix, optional
        E.g. ``{"encoder.": "encoder."}`` copies only the encoder;
        ``{"module.": ""}`` strips a DataParallel prefix. When given, source keys under none of
        its prefixes are skipped. The longest matching prefix is used.

    Returns
    -------
    TransferReport (prints as a readable list of loaded / skipped-with-reason / newly
    initialised keys).
    """
    if isinstance(source, nn.Module):
        source_state = source.state_dict()
    elif isinstance(source, Mapping):
        source_state = source
    else:
        raise TypeError(f"source must be a state dict or an nn.Module, got {type(source).__name__}")
    target_state = target.state_dict()
    report = TransferReport()
    to_load: dict[str, torch.Tensor] = {}
    for source_key, tensor in source_state.items():
        if not isinstance(tensor, torch.Tensor):
            report.skipped.append((source_key, f"not a tensor ({type(tensor).__name__})"))
            continue
        target_key = _map_key(source_key, prefix_map)
        if target_key is None:
            report.skipped.append((source_key, "not under a prefix of prefix_map"))
        elif target_key not in target_state:
            report.skipped.append((source_key, f"no {target_key!r} in target"))
        elif tuple(tensor.shape) != tuple(target_state[target_key].shape):
            report.skipped.append(
                (source_key, f"shape {tuple(tensor.shape)} != target {tuple(target_state[target_key].shape)}")
            )
        elif target_key in to_load:
            report.skipped.append((source_key, f"{target_key!r} already loaded from another source key"))
        else:
            to_load[target_key] = tensor
            report.loaded.append((source_key, target_key))
    if to_load:
        merged = dict(target_state)
        merged.update(to_load)  # load_state_dict copies (and casts) into the existing tensors
        target.load_state_dict(merged, strict=True)
    report.initialised = [key for key in target_state if key not in to_load]
    return report


# --------------------------------------------------------------------------- heads and freezing


def replace_head(model: nn.Module, n_outputs: int, *, seed: int | None = None) -> nn.Module:
    """Replace the final ``nn.Linear`` of ``model.head`` by a fresh one with ``n_outputs`` outputs.

    Parameters
    ----------
    model : nn.Module with ``.head`` (an ``nn.Linear``, or an ``nn.Sequential`` ending in one)
    n_outputs : int, the new number of outputs (classes or targets)
    seed : int, optional
        Seeds the new layer's initialisation without touching the global RNG.

    Returns
    -------
    The same ``model``, modified in place; the new layer sits on the old one's device and dtype
    and is trainable.
    """
    if isinstance(n_outputs, bool) or not isinstance(n_outputs, int) or n_outputs < 1:
        raise ValueError(f"n_outputs must be a positive int, got {n_outputs!r}")
    head = getattr(model, "head", None)
    if isinstance(head, nn.Linear):
        old = head
    elif isinstance(head, nn.Sequential) and len(head) > 0 and isinstance(head[-1], nn.Linear):
        old = head[-1]
    else:
        raise TypeError(
            f"{type(model).__name__} has no replaceable head: expected .head to be nn.Linear or "
            f"nn.Sequential ending in nn.Linear, got {type(head).__name__}"
        )
    with torch.random.fork_rng(devices=[]):  # the layer is built on the CPU: only the CPU RNG is used
        if seed is not None:
            torch.random.default_generator.manual_seed(seed)
        new = nn.Linear(old.in_features, n_outputs, bias=old.bias is not None)
    new = new.to(device=old.weight.device, dtype=old.weight.dtype)
    if isinstance(head, nn.Linear):
        model.head = new
    else:
        head[-1] = new
    return model


def _parts(model: nn.Module, parts: str | Iterable[str] | None) -> list[nn.Module]:
    if parts is None:
        return [model]
    names = [parts] if isinstance(parts, str) else list(parts)
    modules = []
    for name in names:
        try:
            modules.append(model.get_submodule(name))
        except AttributeError as error:
            children = ", ".join(name for name, _ in model.named_children())
            raise ValueError(
                f"{type(model).__name__} has no part {name!r}; its children are: {children}"
            ) from error
    return modules


def _set_requires_grad(model: nn.Module, parts, requires_grad: bool) -> nn.Module:
    for module in _parts(model, parts):
        for parameter in module.parameters():
            parameter.requires_grad_(requires_grad)
    return model


def freeze(model: nn.Module, parts: str | Iterable[str] | None = None) -> nn.Module:
    """Stop gradients for ``parts`` (dotted submodule names, e.g. ``"encoder"``) or the whole model.

    Returns the same model. ``fit`` optimises only parameters with ``requires_grad``. Note
    that BatchNorm running statistics of a frozen part still update in training mode.
    """
    return _set_requires_grad(model, parts, False)


def unfreeze(model: nn.Module, parts: str | Iterable[str] | None = None) -> nn.Module:
    """Re-enable gradients for ``parts`` (dotted submodule names) or the whole model; returns it."""
    return _set_requires_grad(model, parts, True)


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` numbers of parameters."""
    total = sum(parameter.numel() for parameter in model.parameters())
    trainable = sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)
    return trainable, total


# --------------------------------------------------------------------------- what fine-tuning keeps


@dataclass(frozen=True)
class KeptAndReplaced:
    """Parameter counts of a fine-tuning that replaces the top ``Linear`` of ``model.head``.

    Attributes
    ----------
    n_pretrained : parameters of the pre-trained model
    n_kept : parameters fine-tuning starts from (everything but the top layer)
    n_discarded : parameters of the pre-trained top layer, thrown away
    n_new : parameters of the fresh top layer with ``n_outputs`` outputs
    n_finetuned : parameters of the model that is fine-tuned (``n_kept + n_new``)
    top_layer : ``"<in_features> -> <out_features>"`` of the pre-trained top layer
    """

    n_pretrained: int
    n_kept: int
    n_discarded: int
    n_new: int
    n_finetuned: int
    top_layer: str

    @property
    def fraction_kept(self) -> float:
        """Share of the pre-trained parameters that fine-tuning keeps."""
        return self.n_kept / self.n_pretrained

    @property
    def fraction_discarded(self) -> float:
        """Share of the pre-trained parameters that fine-tuning throws away (the top layer)."""
        return self.n_discarded / self.n_pretrained

    @property
    def fraction_new(self) -> float:
        """Share of the fine-tuned model's parameters that start from a fresh initialisation."""
        return self.n_new / self.n_finetuned

    def as_dict(self) -> dict[str, int | float | str]:
        """Counts and fractions as one flat dict (a table row)."""
        return {
            "n_pretrained": self.n_pretrained,
            "n_kept": self.n_kept,
            "n_discarded": self.n_discarded,
            "n_new": self.n_new,
            "n_finetuned": self.n_finetuned,
            "fraction_kept": self.fraction_kept,
            "fraction_discarded": self.fraction_discarded,
            "fraction_new": self.fraction_new,
            "top_layer": self.top_layer,
        }


def kept_and_replaced(model: nn.Module, n_outputs: int) -> KeptAndReplaced:
    """How many parameters fine-tuning keeps and replaces when :func:`replace_head` gives
    ``model`` a new top layer with ``n_outputs`` outputs (``model`` is not modified).

    Parameters
    ----------
    model : nn.Module with ``.head`` (``nn.Linear`` or ``nn.Sequential`` ending in one), as
        pre-trained (its top layer has the upstream number of outputs)
    n_outputs : int, outputs of the downstream task

    Returns
    -------
    KeptAndReplaced (counts, fractions via properties, ``.as_dict()`` for a table row)
    """
    if isinstance(n_outputs, bool) or not isinstance(n_outputs, int) or n_outputs < 1:
        raise ValueError(f"n_outputs must be a positive int, got {n_outputs!r}")
    head = getattr(model, "head", None)
    if isinstance(head, nn.Linear):
        top = head
    elif isinstance(head, nn.Sequential) and len(head) > 0 and isinstance(head[-1], nn.Linear):
        top = head[-1]
    else:
        raise TypeError(
            f"{type(model).__name__} has no replaceable head: expected .head to be nn.Linear or "
            f"nn.Sequential ending in nn.Linear, got {type(head).__name__}"
        )
    n_pretrained = sum(parameter.numel() for parameter in model.parameters())
    n_discarded = sum(parameter.numel() for parameter in top.parameters())
    n_new = top.in_features * n_outputs + (n_outputs if top.bias is not None else 0)
    n_kept = n_pretrained - n_discarded
    return KeptAndReplaced(
        n_pretrained=n_pretrained,
        n_kept=n_kept,
        n_discarded=n_discarded,
        n_new=n_new,
        n_finetuned=n_kept + n_new,
        top_layer=f"{top.in_features} -> {top.out_features}",
    )


def kept_and_replaced_table(models: Mapping[str, nn.Module], n_outputs: int) -> pd.DataFrame:
    """The transfer report for several pre-trained models: one row per name, the columns of
    :meth:`KeptAndReplaced.as_dict`, indexed by ``model``."""
    rows = [
        {"model": name, **kept_and_replaced(model, n_outputs).as_dict()} for name, model in models.items()
    ]
    return pd.DataFrame(rows).set_index("model")
