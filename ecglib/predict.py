"""Apply a saved interval model (HR, PR, QRS, QT) to WFDB records: ``predict_intervals``.

A model is saved as one torch file (:func:`save_interval_model`) holding the model family
and its constructor arguments (so it is rebuilt with :func:`ecglib.models.make_model`), its
weights, and a *model card*: what it was trained on and what input it expects. The file is
read back with ``torch.load(weights_only=True)`` (no pickled code runs).

The card (a dict of plain values; :data:`CARD_FIELDS` lists the required keys)::

    trained_on     free text: data, split, profile, seed (e.g. "LUDB records 1-150, fine-tuned
                   after GAN pre-training; ecglib deepfake local profile")
    target_names   ["hr_bpm", "pr_ms", "qrs_ms", "qt_ms"]   model output order
    target_units   ["bpm", "ms", "ms", "ms"]
    fs_hz          500.0                                    input sampling rate
    lead_names     ["I", "II", "V1", ..., "V6"]             input leads, in model order
    n_samples      5000                                     input length (10 s)
    input_units    "mV"
    input_normalisation  "none" | "per_record_zscore" (each lead of each record to mean 0,
                   sd 1) | {"mean_mv": [...], "std_mv": [...]} (one value per lead, training set)
    target_mean, target_std  lists, one per target: prediction = output * std + mean
                   (targets were standardised for training; [0...], [1...] if not)

Preparing a record (:func:`prepare_record`): read with wfdb in physical units; convert
each channel to millivolts from its header unit (mV, uV/µV, V); pick the card's leads by
name (case-insensitive, ``AVR`` = ``aVR``); resample to the card's rate with
:func:`ecglib.preprocess.resample` (polyphase, anti-aliased); keep the first ``n_samples``
(``start_s`` moves the window). A missing lead, an unknown unit, NaN samples or a record
shorter than the window raises :class:`ecglib.data.DataFormatError` naming the record.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from ecglib import preprocess
from ecglib.data import DataFormatError

MODEL_FORMAT = "ecglib-interval-model"
MODEL_FORMAT_VERSION = 1
CARD_FIELDS = (
    "trained_on",
    "target_names",
    "target_units",
    "fs_hz",
    "lead_names",
    "n_samples",
    "input_units",
    "input_normalisation",
    "target_mean",
    "target_std",
)
INPUT_NORMALISATIONS = ("none", "per_record_zscore")
#: header unit (lower case) -> factor to millivolts
UNIT_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "microvolt": 1e-3, "v": 1e3}
_CANONICAL_LEADS = {name.lower(): name for name in preprocess.LEADS_12}


class ModelFileError(DataFormatError):
    """A saved interval model that cannot be used: unreadable, not this format, or an incomplete card."""


# --------------------------------------------------------------------------- saving and loading


def check_card(card: Mapping, source: str = "model card") -> dict:
    """Validate a model card (see the module docstring); return it as a plain dict.

    Raises
    ------
    ModelFileError
        naming ``source`` and the missing or inconsistent field.
    """
    missing = [field for field in CARD_FIELDS if field not in card]
    if missing:
        raise ModelFileError(f"{source}: model card lacks {missing} (required: {list(CARD_FIELDS)})")
    card = dict(card)
    n_targets = len(card["target_names"])
    for field in ("target_units", "target_mean", "target_std"):
        if len(card[field]) != n_targets:
            raise ModelFileError(
                f"{source}: card field {field} has {len(card[field])} entries for {n_targets} targets"
            )
    if card["input_units"] != "mV":
        raise ModelFileError(f"{source}: input_units must be 'mV', got {card['input_units']!r}")
    unknown = [name for name in card["lead_names"] if name not in preprocess.LEADS_12]
    if unknown:
        raise ModelFileError(f"{source}: lead names {unknown} are not standard leads {preprocess.LEADS_12}")
    normalisation = card["input_normalisation"]
    if isinstance(normalisation, Mapping):
        for key in ("mean_mv", "std_mv"):
            if len(normalisation.get(key, ())) != len(card["lead_names"]):
                raise ModelFileError(f"{source}: input_normalisation[{key!r}] needs one value per lead")
    elif normalisation not in INPUT_NORMALISATIONS:
        raise ModelFileError(
            f"{source}: input_normalisation must be one of {INPUT_NORMALISATIONS} or a dict with "
            f"mean_mv and std_mv, got {normalisation!r}"
        )
    if float(card["fs_hz"]) <= 0 or int(card["n_samples"]) <= 0:
        raise ModelFileError(f"{source}: fs_hz and n_samples must be positive")
    return card


def save_interval_model(
    path: str | os.PathLike, model: nn.Module, *, family: str, model_kwargs: Mapping, card: Mapping
) -> Path:
    """Save ``model`` (built by ``make_model(family, **model_kwargs)``) with its card, atomically.

    Parameters
    ----------
    path : the file to write (``.pt``)
    model : the trained model
    family : its :data:`ecglib.models.MODEL_FAMILIES` name
    model_kwargs : the constructor arguments it was built with (plain values: numbers,
        strings, tuples, lists, dicts)
    card : the model card (see the module docstring); validated first

    Returns
    -------
    the path written
    """
    from ecglib.models import MODEL_FAMILIES

    if family not in MODEL_FAMILIES:
        raise KeyError(f"unknown model family {family!r}; known: {', '.join(sorted(MODEL_FAMILIES))}")
    card = check_card(card, str(path))
    payload = {
        "format": MODEL_FORMAT,
        "version": MODEL_FORMAT_VERSION,
        "family": family,
        "model_kwargs": dict(model_kwargs),
        "state_dict": {key: value.detach().cpu() for key, value in model.state_dict().items()},
        "card": card,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save(payload, partial)
    os.replace(partial, path)
    return path


def load_interval_model(path: str | os.PathLike) -> tuple[nn.Module, dict]:
    """The model (eval mode, CPU) and its card from a file written by :func:`save_interval_model`.

    Raises
    ------
    ModelFileError
        naming the file: missing, unreadable, another format, or an incomplete card.
    """
    from ecglib.models import make_model

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: model file not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises assorted errors on foreign or damaged files
        raise ModelFileError(
            f"{path}: cannot read as a torch file ({type(error).__name__}: {error})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise ModelFileError(
            f"{path}: not an {MODEL_FORMAT} file (save it with ecglib.predict.save_interval_model)"
        )
    if payload.get("version") != MODEL_FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: format version {payload.get('version')}, expected {MODEL_FORMAT_VERSION}"
        )
    card = check_card(payload["card"], str(path))
    try:
        model = make_model(payload["family"], seed=0, **payload["model_kwargs"])
        model.load_state_dict(payload["state_dict"])
    except (KeyError, RuntimeError, TypeError) as error:
        raise ModelFileError(f"{path}: weights do not fit family {payload['family']!r} ({error})") from None
    return model.eval(), card


# --------------------------------------------------------------------------- records


def _record_base(record: str | os.PathLike) -> Path:
    base = Path(record)
    return base.with_suffix("") if base.suffix in (".hea", ".dat") else base


def prepare_record(record: str | os.PathLike, card: Mapping, *, start_s: float = 0.0) -> np.ndarray:
    """One WFDB record as the model's input: ``(n_samples, n_leads)`` float32 millivolts.

    Parameters
    ----------
    record : record path without extension (``.../100``) or its ``.hea`` file
    card : the model card (``lead_names``, ``fs_hz``, ``n_samples``)
    start_s : where the window starts, seconds from the record's start

    Raises
    ------
    DataFormatError
        naming the record: unreadable, a lead missing, an unknown unit, NaN samples, or
        shorter than ``start_s`` plus the model's window.
    """
    import wfdb

    base = _record_base(record)
    if not base.with_suffix(".hea").is_file():
        raise DataFormatError(f"{base}: no WFDB header {base.with_suffix('.hea')}")
    try:
        header = wfdb.rdrecord(str(base), physical=True)
    except Exception as error:  # wfdb raises assorted errors on damaged files
        raise DataFormatError(f"{base}: cannot read WFDB record ({type(error).__name__}: {error})") from None
    names = [_CANONICAL_LEADS.get(name.strip().lower(), name.strip()) for name in header.sig_name]
    wanted = list(card["lead_names"])
    missing = [name for name in wanted if name not in names]
    if missing:
        raise DataFormatError(
            f"{base}: leads {missing} missing (the record has {names}; the model needs {wanted})"
        )
    columns = [names.index(name) for name in wanted]
    factors = []
    for column in columns:
        unit = str(header.units[column]).strip().lower()
        if unit not in UNIT_TO_MV:
            raise DataFormatError(
                f"{base}: lead {names[column]} is in unit {header.units[column]!r}; known: mV, uV, V"
            )
        factors.append(UNIT_TO_MV[unit])
    signal_mv = np.asarray(header.p_signal, dtype=np.float64)[:, columns] * np.asarray(factors)
    n_nan = int(np.size(signal_mv) - np.count_nonzero(np.isfinite(signal_mv)))
    if n_nan:
        raise DataFormatError(f"{base}: {n_nan} NaN/inf samples in leads {wanted}")
    fs_hz, needed = float(card["fs_hz"]), int(card["n_samples"])
    signal_mv = preprocess.resample(signal_mv, float(header.fs), fs_hz)
    first = int(round(start_s * fs_hz))
    if first < 0 or len(signal_mv) < first + needed:
        raise DataFormatError(
            f"{base}: {len(signal_mv) / fs_hz:.2f} s long; the model needs {needed / fs_hz:.2f} s"
            f" from {start_s:g} s (resampled {header.fs:g} -> {fs_hz:g} Hz)"
        )
    return signal_mv[first : first + needed].astype(np.float32)


def _normalise(signal_mv: np.ndarray, normalisation) -> np.ndarray:
    if isinstance(normalisation, Mapping):
        mean = np.asarray(normalisation["mean_mv"], dtype=np.float32)
        std = np.asarray(normalisation["std_mv"], dtype=np.float32)
        return (signal_mv - mean) / std
    if normalisation == "per_record_zscore":
        return preprocess.zscore(signal_mv, axis=0)
    return signal_mv


# --------------------------------------------------------------------------- predicting


def predict_intervals(
    model: str | os.PathLike | tuple[nn.Module, Mapping],
    records: Iterable[str | os.PathLike],
    *,
    start_s: float = 0.0,
    device: str | torch.device = "cpu",
) -> pd.DataFrame:
    """HR, PR, QRS and QT of each WFDB record from a saved fine-tuned model.

    Parameters
    ----------
    model : a file from :func:`save_interval_model`, or ``(model, card)`` as from
        :func:`load_interval_model`
    records : WFDB record paths (without extension, or their ``.hea`` files), any sampling
        rate and lead set that contains the card's leads
    start_s : start of the window taken from each record (seconds)
    device : torch device for the forward pass

    Returns
    -------
    DataFrame indexed by ``record`` (the path given) with one column per card target
    (``hr_bpm``, ``pr_ms``, ``qrs_ms``, ``qt_ms``, in the card's units).

    Raises
    ------
    DataFormatError
        naming the first record that cannot be used (see :func:`prepare_record`), or the
        model file (:class:`ModelFileError`).
    """
    network, card = load_interval_model(model) if isinstance(model, (str, os.PathLike)) else model
    card = check_card(card)
    records = [str(record) for record in records]
    if not records:
        raise ValueError("no records given")
    inputs = np.stack(
        [
            _normalise(prepare_record(record, card, start_s=start_s), card["input_normalisation"])
            for record in records
        ]
    )
    device = torch.device(device)
    network = network.to(device).eval()
    with torch.inference_mode():
        outputs = network(torch.from_numpy(inputs).transpose(1, 2).contiguous().to(device)).cpu().numpy()
    if outputs.shape != (len(records), len(card["target_names"])):
        raise ModelFileError(
            f"model gives outputs of shape {outputs.shape}, the card names {len(card['target_names'])} targets"
        )
    values = outputs * np.asarray(card["target_std"]) + np.asarray(card["target_mean"])
    return pd.DataFrame(values, index=pd.Index(records, name="record"), columns=list(card["target_names"]))
