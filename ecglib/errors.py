"""The project's error types, in one place below every other module.

Signal functions (:mod:`ecglib.preprocess`), models, data readers and study code raise these,
so none of them needs to import another layer to name an error. Each message names the file,
record or key and the problem.

Other modules re-export them where they were first defined (``ecglib.data.DataMissingError``,
``ecglib.transfer.CheckpointError``, ``ecglib.data.splits.PatientOverlapError``);
``ecglib.params.ParamsError`` stays beside the parameter files it describes.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "DataMissingError",
    "DataFormatError",
    "CheckpointError",
    "LeadMissingError",
    "PatientOverlapError",
]


class DataMissingError(FileNotFoundError):
    """A dataset needed by a run is not under the data root; the message names the download command.

    Attributes
    ----------
    name : registered dataset name
    folder : where it was looked for
    """

    def __init__(self, name: str, folder: Path):
        super().__init__(
            f"dataset {name!r} not found under {folder}. Fetch it with `ecglib data download {name}` "
            "(or point $ECGLIB_DATA / --data-root at a folder that holds it)."
        )
        self.name = name
        self.folder = folder


class DataFormatError(ValueError):
    """A data file is corrupt, truncated or not what its dataset promises; the message names the file."""


class CheckpointError(DataFormatError):
    """A checkpoint file is corrupt, truncated or holds something other than tensors; names the file."""


class LeadMissingError(KeyError):
    """A record lacks the lead asked for; the message names the record and the leads it has.

    A ``KeyError`` (a lead is looked up by name), printed without the quotes ``KeyError`` adds.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class PatientOverlapError(ValueError):
    """Two index sets of a split share patients (the message names them)."""


class TrainingDiverged(RuntimeError):
    """A training loss became NaN or infinite (the message names the epoch and what to change)."""
