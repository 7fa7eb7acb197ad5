"""CODE test set (Ribeiro et al. 2020, "Automatic diagnosis of the 12-lead ECG using a deep
neural network"): 827 annotated 12-lead ECGs, Zenodo record 3765780.

Facts kept beside the reader
----------------------------
- ``ecg_tracings.hdf5``: one dataset ``tracings`` of shape (827, 4096, 12), float32, at
  400 Hz; leads in the order DI, DII, DIII, AVR, AVL, AVF, V1-V6. Signals of 10 s (4000
  samples) or 7 s (2800) are zero-padded on both sides to 4096 samples.
- Units: the authors' README says "at the scale 1e-4V: so it should be multiplied by 1000
  in order to obtain the signals in V", which contradicts itself (antonior92/
  automatic-ecg-diagnosis issue #10 asks exactly this). The author's answer in issue #3 is
  "Just make sure your ECG is scaled as millivolts", and the model code feeds the values
  as millivolts. We therefore read the values as mV (``scale_to_mv=1.0``); the parameter
  exists so the other reading (x 0.1) can be tried and is visible in the notebook.
- ``annotations/``: ``gold_standard.csv``, ``cardiologist1.csv``, ``cardiologist2.csv``,
  ``cardiology_residents.csv``, ``emergency_residents.csv``, ``medical_students.csv``,
  ``dnn.csv``; each has 827 rows and the columns ``1dAVb, RBBB, LBBB, SB, AF, ST`` (0/1),
  row i = tracing i. ``attributes.csv`` has age and sex.
- Each exam comes from a different patient, so the patient id is the exam index.
- Nguyen & Do use seven labels: NORM, I-AVB, RBBB, LBBB, SB, AF, STach, where NORM is an
  exam with none of the six abnormalities (our reading; the paper does not define it).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ecglib.data import DataFormatError, DataMissingError, DatasetInfo, LabelledSet, dataset_folder

NAME = "code-test"
FS_HZ = 400.0
N_EXAMS, N_SAMPLES = 827, 4096
LEADS: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
ABNORMALITIES: tuple[str, ...] = ("1dAVb", "RBBB", "LBBB", "SB", "AF", "ST")
#: Nguyen & Do's names for the six columns, plus NORM.
PAPER_NAMES: dict[str, str] = {
    "1dAVb": "I-AVB",
    "RBBB": "RBBB",
    "LBBB": "LBBB",
    "SB": "SB",
    "AF": "AF",
    "ST": "STach",
}
ANNOTATORS: tuple[str, ...] = (
    "gold_standard",
    "cardiologist1",
    "cardiologist2",
    "cardiology_residents",
    "emergency_residents",
    "medical_students",
    "dnn",
)

INFO = DatasetInfo(
    name=NAME,
    title="Annotated 12-lead ECG dataset (CODE test set)",
    version="Zenodo 3765780",
    citation=(
        "Ribeiro AH, Ribeiro MH, Paixao GMM, et al. Automatic diagnosis of the 12-lead ECG using a deep neural "
        "network. Nat Commun 11:1760 (2020). https://doi.org/10.1038/s41467-020-15432-4. "
        "Data: https://doi.org/10.5281/zenodo.3765780 (concept DOI 10.5281/zenodo.3625006)"
    ),
    licence="CC BY 4.0",
    homepage="https://zenodo.org/records/3765780",
    kind="public",
    folder="code-test",
    source_urls=("https://zenodo.org/api/records/3765780",),
    approx_size_bytes=170_000_000,
    fs_hz=FS_HZ,
    lead_names=LEADS,
    notes="827 exams (one per patient), 4096 samples at 400 Hz, zero-padded; values read as mV (README contradictory).",
)

#: Files whose presence marks the dataset as installed (status without a completion marker).
REQUIRED_FILES: tuple[str, ...] = ()


def _find(base: Path, name: str) -> Path | None:
    """``name`` in ``base`` or up to two folder levels below (archives add a top folder)."""
    for pattern in (name, f"*/{name}", f"*/*/{name}"):
        found = sorted(base.glob(pattern))
        if found:
            return found[0]
    return None


def folder(root: str | os.PathLike | None = None) -> Path:
    """The folder holding ``ecg_tracings.hdf5``; raises DataMissingError when it is absent."""
    path = dataset_folder(NAME, root)
    tracings = _find(path, "ecg_tracings.hdf5") if path.is_dir() else None
    if tracings is None:
        raise DataMissingError(NAME, path)
    return tracings.parent


def load_tracings(root: str | os.PathLike | None = None, *, scale_to_mv: float = 1.0) -> np.ndarray:
    """All tracings, shape (827, 4096, 12) float32, in mV (values x ``scale_to_mv``).

    Raises DataFormatError naming the file for a missing ``tracings`` dataset, a wrong
    shape or NaNs.
    """
    import h5py

    path = folder(root) / "ecg_tracings.hdf5"
    try:
        with h5py.File(path, "r") as handle:
            if "tracings" not in handle:
                raise DataFormatError(f"{path}: no dataset 'tracings' (found {list(handle)})")
            tracings = np.asarray(handle["tracings"], dtype=np.float32)
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot read HDF5 file ({exc})") from None
    if tracings.ndim != 3 or tracings.shape[1:] != (N_SAMPLES, len(LEADS)):
        raise DataFormatError(
            f"{path}: 'tracings' has shape {tracings.shape}, expected ({N_EXAMS}, {N_SAMPLES}, {len(LEADS)})"
        )
    if np.isnan(tracings).any():
        raise DataFormatError(f"{path}: 'tracings' contains NaN")
    return tracings * np.float32(scale_to_mv)


def load_annotations(root: str | os.PathLike | None = None, annotator: str = "gold_standard") -> pd.DataFrame:
    """``annotations/<annotator>.csv``: DataFrame (827, 6) of 0/1 ints, columns :data:`ABNORMALITIES`."""
    if annotator not in ANNOTATORS:
        raise ValueError(f"annotator must be one of {ANNOTATORS}, got {annotator!r}")
    base = folder(root)
    path = base / "annotations" / f"{annotator}.csv"
    if not path.exists():
        raise DataFormatError(f"{path}: label file is missing")
    frame = pd.read_csv(path)
    missing = [column for column in ABNORMALITIES if column not in frame.columns]
    if missing:
        raise DataFormatError(f"{path}: missing columns {missing}")
    frame = frame[list(ABNORMALITIES)]
    if frame.isna().any().any() or not frame.isin([0, 1]).all().all():
        raise DataFormatError(f"{path}: labels must be 0 or 1 without gaps")
    return frame.astype(int)


def load_labelled(
    root: str | os.PathLike | None = None,
    *,
    annotator: str = "gold_standard",
    include_norm: bool = True,
    scale_to_mv: float = 1.0,
) -> LabelledSet:
    """The 827 exams as a multi-label set.

    Returns
    -------
    LabelledSet with ``signals_mv`` (827, 4096, 12) mV at 400 Hz (zero padding kept),
    ``targets`` (827, 7) float32 in the order NORM, I-AVB, RBBB, LBBB, SB, AF, STach
    (``include_norm=False`` drops NORM, leaving the six columns of the CSV);
    ``patient_ids`` ``"exam0000"`` ... (one exam per patient).
    """
    tracings = load_tracings(root, scale_to_mv=scale_to_mv)
    labels = load_annotations(root, annotator)
    if len(labels) != len(tracings):
        raise DataFormatError(
            f"{folder(root) / 'annotations' / (annotator + '.csv')}: {len(labels)} rows but {len(tracings)} tracings"
        )
    targets = labels.to_numpy(dtype=np.float32)
    names = tuple(PAPER_NAMES[column] for column in ABNORMALITIES)
    if include_norm:
        norm = (targets.sum(axis=1) == 0).astype(np.float32)[:, None]
        targets, names = np.hstack([norm, targets]), ("NORM", *names)
    return LabelledSet(
        signals_mv=tracings,
        targets=targets,
        patient_ids=np.asarray([f"exam{i:04d}" for i in range(len(tracings))], dtype=str),
        fs_hz=FS_HZ,
        lead_names=LEADS,
        target_names=names,
        task="multi_label",
        source=NAME,
        exclusions={},
    )


def strip_zero_padding(tracings_mv: np.ndarray) -> list[np.ndarray]:
    """The recorded part of each tracing, without the zero padding added on both sides.

    The CODE test set pads 10 s (4000 samples) and 7 s (2800 samples) exams with zeros to
    4096 samples; rows where all 12 leads are exactly 0 at the start and at the end are
    padding. Strip it before a duration rule (e.g.
    :func:`ecglib.preprocess.prepare_fixed_length`, which drops records shorter than 10 s),
    otherwise a padded 7 s exam passes as 10 s.

    Parameters
    ----------
    tracings_mv : ndarray of shape (n_exams, n_samples, n_leads), mV (:func:`load_tracings`)

    Returns
    -------
    list of n_exams ndarrays of shape (n_recorded_i, n_leads), mV (an all-zero tracing
    gives shape (0, n_leads))
    """
    tracings_mv = np.asarray(tracings_mv)
    if tracings_mv.ndim != 3:
        raise ValueError(f"tracings must be (n_exams, n_samples, n_leads), got shape {tracings_mv.shape}")
    recorded = []
    for tracing in tracings_mv:
        nonzero_rows = np.flatnonzero(np.any(tracing != 0, axis=1))
        if len(nonzero_rows) == 0:
            recorded.append(tracing[:0])
        else:
            recorded.append(tracing[nonzero_rows[0] : nonzero_rows[-1] + 1])
    return recorded
