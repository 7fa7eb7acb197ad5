"""DeepFake ECGs generated offline with the Pulse2Pulse generator that ``deepfake-ecg`` ships.

Thambawita et al. (2021) trained a GAN (Pulse2Pulse) on 10 s, 8-lead ECGs (I, II, V1-V6,
500 Hz) and released the generator in the ``deepfake-ecg`` PyPI package together with its
weights (``deepfakeecg/checkpoints/g_stat.pt``). The package's own ``generate()`` draws
unseeded noise and writes one text file per ECG; here we build the same generator class,
load the same weights (``torch.load(weights_only=True)``) and call it on noise we seed
ourselves:

* example ``i`` of seed ``s`` uses uniform(-1, 1) noise of shape (8, 5000) drawn from a
  ``torch.Generator`` seeded by ``numpy.random.SeedSequence(s, spawn_key=(i,))``, so an
  example does not depend on ``n``, ``batch_size`` or ``start`` (up to floating-point
  differences between batch sizes, below 1e-5 mV);
* the generator's tanh output times 6000 is microvolts (as in the package); we divide by
  1000 and return float32 millivolts, unquantised (the package rounds to integer µV).

Generated sets can be cached on disk (:func:`cached_signals`, :func:`load_labelled`):
``<cache_dir>/deepfake_gan/<key>.npz``, keyed by package version, seed, size, leads and
device type, written atomically.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from ecglib import cache as _cache
from ecglib.data import DataFormatError, DatasetInfo, LabelledSet, cache_dir
from ecglib.preprocess import LEADS_8, LEADS_12, leads_8_to_12

FS_HZ = 500.0
N_SAMPLES = 5000
N_NOISE_CHANNELS = 8
#: generator output (tanh, in [-1, 1]) times this is microvolts (deepfake-ecg's ``out * 6000``)
OUTPUT_SCALE_UV = 6000.0
PACKAGE = "deepfake-ecg"
WEIGHTS_FILE = "checkpoints/g_stat.pt"
#: targets of :func:`load_labelled`, in column order
TARGET_NAMES = ("hr_bpm", "pr_ms", "qrs_ms", "qt_ms")


def _package_version() -> str:
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


INFO = DatasetInfo(
    name="deepfake-gan",
    title="DeepFake ECGs generated offline with deepfake-ecg's Pulse2Pulse generator",
    version=_package_version(),
    citation=(
        "Thambawita V, Isaksen JL, Hicks SA, Ghouse J, Ahlberg G, Linneberg A, Grarup N, Ellervik C, "
        "Olesen MS, Hansen T, Graff C, Holstein-Rathlou N-H, Strumke I, Hammer HL, Maleckar MM, "
        "Halvorsen P, Riegler MA, Kanters JK. DeepFake electrocardiograms using generative adversarial "
        "networks are the beginning of the end for privacy issues in medicine. Scientific Reports "
        "11:21896 (2021); preprint doi:10.1101/2021.04.27.21256189 (Pulse2Pulse)."
    ),
    licence="MIT (deepfake-ecg package, code and bundled generator weights)",
    homepage="https://github.com/vlbthambawita/deepfake-ecg",
    kind="offline",
    folder=None,
    fs_hz=FS_HZ,
    lead_names=LEADS_8,
    notes=(
        "10 s, 8 leads (I, II, V1-V6) at 500 Hz; 12 leads derived (III, aVR, aVL, aVF from I and II). "
        "Synthetic: no patients, no diagnoses; interval targets are measured by ecglib.intervals."
    ),
)


# --------------------------------------------------------------------------- generator


def _lead_count(leads: str | int) -> int:
    count = int(leads) if str(leads) in ("8", "12") else None
    if count is None:
        raise ValueError(f"leads must be '8' or '12', got {leads!r}")
    return count


def lead_names(leads: str | int = "8") -> tuple[str, ...]:
    """Lead names of :func:`generate`'s last axis for ``leads="8"`` or ``"12"``."""
    return LEADS_8 if _lead_count(leads) == 8 else LEADS_12


def weights_path() -> Path:
    """Where the installed ``deepfake-ecg`` keeps its generator weights."""
    try:
        files = importlib.metadata.files(PACKAGE) or []
    except importlib.metadata.PackageNotFoundError as error:
        raise ModuleNotFoundError(f"{PACKAGE} is not installed (pip install {PACKAGE})") from error
    for file in files:
        if str(file).replace("\\", "/").endswith(WEIGHTS_FILE):
            return Path(file.locate())
    raise FileNotFoundError(f"{PACKAGE} {_package_version()} ships no {WEIGHTS_FILE}")


def load_generator(device: str | torch.device = "cpu") -> torch.nn.Module:
    """deepfake-ecg's Pulse2Pulse generator with its shipped weights, in eval mode on ``device``.

    Builds ``deepfakeecg.Generator`` (its constructor's Kaiming initialisation runs inside
    ``torch.random.fork_rng`` so the global RNG is untouched, and its one deprecation
    FutureWarning about ``nn.init.kaiming_normal`` is silenced) and loads ``g_stat.pt``
    with ``torch.load(weights_only=True)``.

    Raises
    ------
    DataFormatError
        when the weights file does not hold the generator's state dict.
    """
    path = weights_path()
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"`nn\.init\.kaiming_normal` is now deprecated", category=FutureWarning
        )
        import deepfakeecg

        with torch.random.fork_rng(devices=[]):
            generator = deepfakeecg.Generator()
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        generator.load_state_dict(checkpoint["stat_dict"])
    except (KeyError, RuntimeError, TypeError) as error:
        raise DataFormatError(f"{path}: not the Pulse2Pulse generator state dict ({error})") from error
    return generator.to(torch.device(device)).eval()


def example_noise(seed: int, indices: np.ndarray | range) -> torch.Tensor:
    """The generator's input for examples ``indices`` of ``seed``.

    Returns
    -------
    Tensor of shape (len(indices), 8, 5000), float32, uniform in [-1, 1), on the CPU;
    row ``k`` depends only on ``seed`` and ``indices[k]``.
    """
    noise = torch.empty(len(indices), N_NOISE_CHANNELS, N_SAMPLES)
    for row, index in enumerate(indices):
        state = np.random.SeedSequence(seed, spawn_key=(int(index),)).generate_state(1, dtype=np.uint64)[0]
        rng = torch.Generator().manual_seed(int(state) & 0x7FFF_FFFF_FFFF_FFFF)
        noise[row].uniform_(-1.0, 1.0, generator=rng)
    return noise


def generate(
    n: int,
    *,
    seed: int,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    leads: str | int = "8",
    start: int = 0,
    generator: torch.nn.Module | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Generate ``n`` DeepFake ECGs.

    Parameters
    ----------
    n : number of ECGs
    seed : examples ``start .. start + n - 1`` of this seed are returned
    batch_size : ECGs per forward pass (does not change the result beyond float rounding)
    device : torch device for the forward pass
    leads : ``"8"`` (I, II, V1-V6, as generated) or ``"12"`` (III, aVR, aVL, aVF derived)
    start : index of the first example
    generator : a model from :func:`load_generator`, to skip reloading the weights
    progress : show a tqdm bar

    Returns
    -------
    ndarray of shape (n, 5000, 8) or (n, 5000, 12), float32, millivolts, 500 Hz;
    leads in the order of :func:`lead_names`.

    Examples
    --------
    >>> ecgs_mv = generate(4, seed=0, leads="12")   # doctest: +SKIP
    >>> ecgs_mv.shape
    (4, 5000, 12)
    """
    n_leads = _lead_count(leads)
    if n < 0 or batch_size < 1 or start < 0:
        raise ValueError(f"need n >= 0, batch_size >= 1, start >= 0; got {n}, {batch_size}, {start}")
    device = torch.device(device)
    model = generator if generator is not None else load_generator(device)
    signals_mv = np.empty((n, N_SAMPLES, N_NOISE_CHANNELS), dtype=np.float32)
    batch_starts = range(0, n, batch_size)
    if progress:
        from tqdm.auto import tqdm

        batch_starts = tqdm(batch_starts, desc="deepfake-gan", unit="batch")
    with torch.inference_mode():
        for first in batch_starts:
            indices = range(start + first, start + min(first + batch_size, n))
            output = model(example_noise(seed, indices).to(device))  # (batch, 8, 5000), tanh
            output_mv = output_to_mv(output)
            signals_mv[first : first + len(indices)] = output_mv.transpose(1, 2).float().cpu().numpy()
    return leads_8_to_12(signals_mv) if n_leads == 12 else signals_mv


# --------------------------------------------------------------------------- cached sets


def _cache_path(kind: str, key: dict, cache: str | os.PathLike | None) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    name = f"{kind}_seed{key['seed']}_n{key['n']}_{key['leads']}lead_{key['device_type']}_{digest}.npz"
    return cache_dir(cache) / "deepfake_gan" / name


def _write_npz_atomically(path: Path, **arrays) -> None:
    _cache.write_atomic(path, lambda handle: np.savez(handle, **arrays))


def _read_npz(path: Path, key: dict, names: tuple[str, ...]) -> dict | None:
    """The arrays of a cache file written for ``key``, or None when it is missing or unusable.

    An unreadable file (truncated, not a zip, ...) warns naming it and is regenerated
    (:func:`ecglib.cache.read_entry`); a file written for another key is regenerated silently.
    """

    def read(entry: Path) -> dict | None:
        with np.load(entry, allow_pickle=False) as archive:
            if json.loads(str(archive["key"])) != key:
                return None
            return {name: archive[name] for name in names}

    return _cache.read_entry(path, read, what="generated-ECG cache")


def cached_signals(
    n: int,
    *,
    seed: int,
    leads: str | int = "8",
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    cache: str | os.PathLike | None = None,
    progress: bool = False,
) -> np.ndarray:
    """:func:`generate` with an on-disk cache keyed by package version, seed, ``n``, leads and device type.

    Parameters
    ----------
    cache : cache folder; default :func:`ecglib.data.cache_dir` (``$ECGLIB_CACHE``)

    Returns
    -------
    ndarray of shape (n, 5000, 8 or 12), float32, millivolts
    """
    key = {
        "source": "deepfake-gan",
        "package_version": _package_version(),
        "seed": int(seed),
        "n": int(n),
        "leads": _lead_count(leads),
        "device_type": torch.device(device).type,
    }
    path = _cache_path("signals", key, cache)
    cached = _read_npz(path, key, ("signals_mv",))
    if cached is not None:
        return cached["signals_mv"]
    signals_mv = generate(n, seed=seed, batch_size=batch_size, device=device, leads=leads, progress=progress)
    _write_npz_atomically(path, signals_mv=signals_mv, key=np.array(json.dumps(key, sort_keys=True)))
    return signals_mv


#: the name the project's issue uses for :func:`cached_signals`
cached_set = cached_signals


def load_labelled(
    n: int,
    *,
    seed: int,
    leads: str | int = "8",
    method: str | None = None,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    cache: str | os.PathLike | None = None,
    drop_unmeasurable: bool = True,
    progress: bool = False,
) -> LabelledSet:
    """``n`` DeepFake ECGs with HR, PR, QRS and QT measured by :mod:`ecglib.intervals`, cached on disk.

    The original DeepFake dataset's targets came from GE MUSE; generated ECGs have none, so
    the targets here are our own measurement (``ecglib.intervals.measure_intervals`` on the
    8-lead signal, delineation ``method``), which the regression models then learn.

    Parameters
    ----------
    n : number of ECGs generated (fewer are returned when some cannot be measured)
    seed, leads, batch_size, device : as for :func:`generate`
    method : delineation method, default ``ecglib.intervals.DEFAULT_METHOD``
    cache : cache folder; default :func:`ecglib.data.cache_dir`
    drop_unmeasurable : drop ECGs with any NaN target (counted in ``exclusions``);
        with False they stay, with NaN targets

    Returns
    -------
    LabelledSet
        task ``"regression"``, ``signals_mv`` (n_kept, 5000, 8 or 12) float32 mV,
        ``targets`` (n_kept, 4) float32 in ``TARGET_NAMES`` order (bpm, ms, ms, ms),
        ``patient_ids`` ``"gan-<seed>-<index>"`` (every ECG its own subject),
        ``exclusions`` reason -> count.
    """
    from ecglib import intervals

    method = method or intervals.DEFAULT_METHOD
    signals_mv = cached_signals(
        n, seed=seed, leads=leads, batch_size=batch_size, device=device, cache=cache, progress=progress
    )
    key = {
        "source": "deepfake-gan",
        "package_version": _package_version(),
        "seed": int(seed),
        "n": int(n),
        "leads": _lead_count(leads),
        "device_type": torch.device(device).type,
        "method": method,
        "intervals_version": intervals.ALGORITHM_VERSION,
    }
    path = _cache_path(f"targets-{method}", key, cache)
    cached = _read_npz(path, key, ("targets", "reasons"))
    if cached is None:
        measured = intervals.measure_batch(
            signals_mv, FS_HZ, lead_names(leads), method=method, progress=progress
        )
        targets = measured[list(TARGET_NAMES)].to_numpy(dtype=np.float32)
        reasons = measured["reason"].fillna("").to_numpy(dtype=str)
        _write_npz_atomically(
            path, targets=targets, reasons=reasons, key=np.array(json.dumps(key, sort_keys=True))
        )
    else:
        targets, reasons = cached["targets"], cached["reasons"]

    patient_ids = np.array([f"gan-{seed}-{index}" for index in range(n)])
    exclusions: dict[str, int] = {}
    keep = np.ones(n, dtype=bool)
    if drop_unmeasurable:
        keep = np.all(np.isfinite(targets), axis=1)
        for reason in reasons[~keep]:
            label = f"unmeasurable: {reason or 'no reason given'}"
            exclusions[label] = exclusions.get(label, 0) + 1
    return LabelledSet(
        signals_mv=signals_mv[keep],
        targets=targets[keep],
        patient_ids=patient_ids[keep],
        fs_hz=FS_HZ,
        lead_names=lead_names(leads),
        target_names=TARGET_NAMES,
        task="regression",
        source="deepfake-gan",
        exclusions=exclusions,
    )


# --------------------------------------------------------------------------- units


def output_to_mv(output):
    """The generator's output as millivolts: times ``OUTPUT_SCALE_UV`` (6000) is microvolts, / 1000 is mV.

    deepfake-ecg's own ``generate()`` writes ``output * 6000`` as integer microvolts (so
    does the DeepFake dataset's ``.asc`` files, read by :mod:`ecglib.data.deepfake`); the
    study code divided every input by 6000, which is right for GAN microvolts and wrong
    for PTB-XL millivolts. Everything in ecglib is millivolts, and this is the one place
    the GAN's scale is applied (:func:`generate` uses it).

    Parameters
    ----------
    output : torch.Tensor or ndarray, any shape: the generator's tanh output, in [-1, 1]

    Returns
    -------
    the same type and shape, millivolts (in [-6, 6])
    """
    return output * (OUTPUT_SCALE_UV / 1000.0)
