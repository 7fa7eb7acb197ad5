"""A study's grid as jobs for a workflow engine: ``ecglib plan`` and ``ecglib unit run`` (``workflow/Snakefile``).

A study whose grid is a list of :class:`ecglib.units.Unit` registers one function here,
``plan(cfg, data_root, device, stand_in) -> list[Unit]``, built from the study's own
``*_from_params`` adaptors (the list its notebook runs). From it:

* :func:`plan` gives every unit's name, key, needs, cache file and resources (``ecglib plan``);
  the cache file (:func:`ecglib.units.unit_path`) is the job's output, so the workflow engine's
  DAG and ecglib's cache agree;
* :func:`run_unit` computes one unit into the shared cache (``ecglib unit run``): atomic write,
  a unit already stored is not computed again, its needs must be stored already.

When a profile's data are absent, :func:`plan` enumerates the grid over the study's shape-only
stand-ins (same units, needs and sizes; keys that name no real data) so a dry run still shows
the whole DAG; the plan says so (``"keys": "stand-in"``) and :func:`run_unit` refuses such keys.

Resources of a unit job come from the profile: ``unit_cpus``, ``unit_mem_mb``,
``unit_runtime_min``, ``unit_gpus``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecglib import STUDIES, units
from ecglib import params as _params
from ecglib.errors import DataMissingError
from ecglib.units import Unit


class WorkflowError(Exception):
    """A study, profile or unit the workflow cannot plan or run; the message is one line."""


def _nguyen2025(cfg: _params.Params, data_root: Path, device, stand_in: bool) -> list[Unit]:
    from ecglib.studies import nguyen2025 as nd

    if stand_in:
        prepared, splits = nd.stand_in_inputs(cfg, _params.reported("nguyen2025")["table1"])
    else:
        prepared = nd.datasets_from_params(cfg, nd.dataset_names(cfg), data_root=data_root)
        splits = nd.splits_from_params(cfg, prepared, data_root=data_root)
    grid, _ = nd.plan_from_params(cfg, prepared, splits, device=device)
    return grid


def _vavekanand(cfg: _params.Params, data_root: Path, device, stand_in: bool) -> list[Unit]:
    from ecglib.studies import vavekanand as vv

    if stand_in:
        inputs = vv.stand_in_inputs(cfg)
    else:
        inputs = vv.grid_inputs_from_params(cfg, vv.windows_from_params(cfg, data_root=data_root))
    return vv.plan_from_params(cfg, inputs, device=device)


def _surrey(cfg: _params.Params, data_root: Path, device, stand_in: bool) -> list[Unit]:
    from ecglib.studies import surrey as sr

    inputs = sr.stand_in_inputs(cfg) if stand_in else sr.grid_inputs_from_params(cfg, data_root=data_root)
    return sr.plan_from_params(cfg, inputs, device=device)


def _deepfake(cfg: _params.Params, data_root: Path, device, stand_in: bool) -> list[Unit]:
    from ecglib.studies import deepfake as df

    inputs = df.stand_in_inputs(cfg) if stand_in else df.unit_inputs_from_params(cfg, data_root=data_root)
    return df.plan_from_params(cfg, inputs, device=device)


def _jang2021(cfg: _params.Params, data_root: Path, device, stand_in: bool) -> list[Unit]:
    from ecglib.studies import jang2021 as jd

    inputs = jd.stand_in_inputs(cfg) if stand_in else jd.unit_inputs_from_params(cfg, data_root=data_root)
    grid, _ = jd.plan_from_params(cfg, inputs, device=device)
    return grid


#: how a study's grid becomes units: ``plan(cfg, data_root, device, stand_in) -> list[Unit]``
PlanFunction = Callable[[_params.Params, Path, Any, bool], list[Unit]]

#: study -> its units. Add a line here when a study's grid is on units.
UNIT_PLANS: dict[str, PlanFunction] = {
    "nguyen2025": _nguyen2025,
    "vavekanand": _vavekanand,
    "surrey": _surrey,
    "deepfake": _deepfake,
    "jang2021": _jang2021,
}

#: the profile keys a unit job's resources come from -> the resource names of Snakemake / SLURM
RESOURCE_KEYS = {
    "unit_cpus": "cpus_per_task",
    "unit_mem_mb": "mem_mb",
    "unit_runtime_min": "runtime",
    "unit_gpus": "gpu",
}


def _study_plan(study: str) -> PlanFunction:
    if study not in STUDIES:
        raise WorkflowError(f"unknown study {study!r}; studies: {', '.join(STUDIES)}")
    if study not in UNIT_PLANS:
        raise WorkflowError(f"{study} has no unit plan yet; run it whole with `ecglib run {study}`")
    return UNIT_PLANS[study]


def resources(cfg: _params.Params) -> dict[str, int]:
    """A unit job's resources from the profile: ``cpus_per_task``, ``mem_mb``, ``runtime`` (min), ``gpu``."""
    return {name: int(cfg[key]) for key, name in RESOURCE_KEYS.items()}


@dataclass(frozen=True)
class Plan:
    """A study's units under one profile.

    Attributes
    ----------
    cfg : the validated profile (with overrides)
    units : the grid, in run order (needs first)
    cache_dir : folder of the unit files
    stand_in : the keys are over shape-only stand-ins (the data are absent), not the real data
    stand_in_reason : why (the missing-data message), "" for real keys
    """

    cfg: _params.Params
    units: list[Unit]
    cache_dir: Path
    stand_in: bool
    stand_in_reason: str = ""

    def as_json(self) -> dict[str, Any]:
        """What ``ecglib plan`` prints: a header (study, profile, cache folder, ``keys`` "real" or
        "stand-in" and why, the resources of a job) and one entry per unit (name, key, needs,
        output = its cache file, resources)."""
        job_resources = resources(self.cfg)
        return {
            "study": self.cfg.study,
            "profile": self.cfg.profile,
            "cache_dir": str(self.cache_dir),
            "keys": "stand-in" if self.stand_in else "real",
            "stand_in_reason": self.stand_in_reason,
            "n_units": len(self.units),
            "resources": job_resources,
            "units": [
                {
                    "name": unit.name,
                    "key": unit.key,
                    "needs": list(unit.needs),
                    "output": str(units.unit_path(unit.key, self.cache_dir)),
                    "resources": job_resources,
                }
                for unit in self.units
            ],
        }


def plan(
    study: str,
    profile: str,
    overrides: Mapping[str, Any] | None = None,
    *,
    data_root: str | os.PathLike | None = None,
    allow_stand_in: bool = True,
    device: Any = "cpu",
) -> Plan:
    """The units of ``study`` under ``profile`` (real keys when its data are here, else stand-ins).

    ``device`` is where the units' ``compute`` would train (the keys do not depend on it, so a
    plan made on a login node without a GPU lists the same units as one made on a GPU node).

    Raises
    ------
    WorkflowError
        unknown study, a study not on units, ``use_cache`` off (the workflow's jobs meet in the cache).
    ParamsError
        an invalid profile or override.
    DataMissingError
        the data are absent and ``allow_stand_in`` is False.
    """
    from ecglib.data import data_root as resolve_data_root

    plan_units = _study_plan(study)
    cfg = _params.load(study, profile, overrides)
    cache_dir = units.study_cache_dir(study, cfg["use_cache"])
    if cache_dir is None:
        raise WorkflowError(
            f"{study}/{profile}: use_cache is false, but unit jobs meet in the cache; drop --set use_cache=false"
        )
    root = resolve_data_root(data_root)
    try:
        return Plan(cfg, plan_units(cfg, root, device, False), cache_dir, stand_in=False)
    except DataMissingError as err:
        if not allow_stand_in:
            raise
        reason = " ".join(str(err).split())
        return Plan(
            cfg, plan_units(cfg, root, device, True), cache_dir, stand_in=True, stand_in_reason=reason
        )


def run_unit(
    study: str,
    profile: str,
    key: str,
    overrides: Mapping[str, Any] | None = None,
    *,
    data_root: str | os.PathLike | None = None,
) -> tuple[Unit, Path, bool]:
    """Compute the unit ``key`` of the study's plan into the cache (nothing when it is stored already).

    Returns
    -------
    (unit, its cache file, whether it was computed now)

    Raises
    ------
    WorkflowError
        the key is a stand-in key (the data are absent), not a unit of this plan, or a unit it
        needs is not in the cache yet (one line naming it).
    """
    from ecglib.runner import seed_everything
    from ecglib.train import resolve_device

    _study_plan(study)
    try:
        device = resolve_device(_params.load(study, profile, overrides).device)
    except RuntimeError as err:  # "cuda" asked for on a node without one
        raise WorkflowError(f"{study}/{profile}: {err}") from err
    try:
        found = plan(study, profile, overrides, data_root=data_root, allow_stand_in=False, device=device)
    except DataMissingError as err:
        stand_ins = plan(study, profile, overrides, data_root=data_root)
        if any(unit.key == key for unit in stand_ins.units):
            raise WorkflowError(
                f"{key} is a stand-in key of {study}/{profile} (planned without the data: "
                f"{stand_ins.stand_in_reason}); it names no real data and cannot be run"
            ) from err
        raise
    by_key = {unit.key: unit for unit in found.units}
    if key not in by_key:
        raise WorkflowError(
            f"{key} is not a unit of {study}/{profile}"
            f"{' with ' + str(dict(overrides)) if overrides else ''}; `ecglib plan {study} --profile {profile}` lists them"
        )
    unit, cache_dir = by_key[key], found.cache_dir
    path = units.unit_path(key, cache_dir)
    if units.load_unit(key, cache_dir) is not None:
        return unit, path, False
    by_name = {item.name: item for item in found.units}
    needed = {}
    for name in unit.needs:
        payload = units.load_unit(by_name[name].key, cache_dir)
        if payload is None:
            raise WorkflowError(
                f"unit {unit.name!r} needs {name!r} ({by_name[name].key}), which is not in {cache_dir}; "
                f"run `ecglib unit run {study} {by_name[name].key} --profile {profile}` first"
            )
        needed[name] = payload
    cfg = found.cfg
    if cfg.values.get("n_threads"):  # as runner.start_run does for the notebook, so results agree
        import torch

        torch.set_num_threads(int(cfg.n_threads))
    seed_everything(cfg.seed)
    units.save_unit(key, unit.compute(needed), cache_dir)
    return unit, path, True
