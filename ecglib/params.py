"""Study parameters: profiles in ``params/<study>/<profile>.yaml`` checked against ``schema.yaml``.

Each study folder holds

- ``schema.yaml``: one entry per parameter, ``{type, doc, choices?, nullable?, min?, max?, min_items?}``;
- one YAML file per profile (``smoke``, ``local``, ``paper``...): every schema key, nothing else;
- ``reported.yaml``: the paper's own numbers (not a profile).

The YAML keys are also the names in the notebook's ``parameters`` cell, so the same file
serves ``ecglib run`` and the plain papermill CLI. Validation happens before a run starts
(:func:`load`) and again inside the notebook (:func:`check`), so a notebook executed with
the plain papermill CLI still refuses a mistyped value.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

#: keys every study's schema must declare
COMMON_KEYS = ("profile", "seed", "data_source", "device")

_SCALAR_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (float, int),
    "str": (str,),
    "bool": (bool,),
    "dict": (dict,),
    "list": (list,),
}
_SCHEMA_FIELDS = {"type", "doc", "choices", "nullable", "min", "max", "min_items"}


class ParamsError(ValueError):
    """A parameter file or notebook parameter is invalid; the message names the file and the key."""


PARAMS_ROOT_ENV = "ECGLIB_PARAMS_ROOT"


def repo_root() -> Path:
    """The repository root (the folder that holds ``params/`` and ``notebooks/``)."""
    return Path(__file__).resolve().parents[1]


def params_root() -> Path:
    """Folder of per-study parameter folders: ``$ECGLIB_PARAMS_ROOT`` or ``<repo>/params``."""
    return Path(os.environ.get(PARAMS_ROOT_ENV) or repo_root() / "params")


def params_dir(study: str) -> Path:
    folder = params_root() / study
    if not folder.is_dir():
        known = sorted(p.name for p in params_root().iterdir() if p.is_dir())
        raise ParamsError(f"unknown study {study!r}: no folder {folder}. Known studies: {', '.join(known)}")
    return folder


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml's safe loader, refusing a mapping that repeats a key (YAML itself keeps the last one)."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (lines {seen[key]} and {line})", key_node.start_mark
            )
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def load_yaml_text(text: str, *, where: str) -> Any:
    """Parse YAML ``text`` safely; a repeated key or a syntax error raises :class:`ParamsError` naming ``where``."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or str(err)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ParamsError(f"{where}: not valid YAML{at}: {problem}") from None


def _read_yaml(path: Path) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise ParamsError(
            f"{path}: not a text file (it is not UTF-8); a profile is a YAML text file"
        ) from None
    except OSError as err:
        raise ParamsError(f"{path}: cannot be read ({err.strerror or err})") from None
    if "\x00" in text:
        raise ParamsError(f"{path}: not a text file (it holds NUL bytes); a profile is a YAML text file")
    return load_yaml_text(text, where=str(path))


def closest_key(name: str, known: Any) -> str:
    """`` (did you mean 'x'?)`` for the known key closest to ``name``, or an empty string."""
    import difflib

    match = difflib.get_close_matches(str(name), sorted(map(str, known)), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def load_schema(study: str) -> dict[str, dict]:
    """The study's schema as ``{key: spec}``; the schema itself is checked for typos."""
    path = params_dir(study) / "schema.yaml"
    schema = _read_yaml(path)
    if not isinstance(schema, dict) or not schema:
        raise ParamsError(f"{path}: expected a mapping of parameter names to specs")
    for key, spec in schema.items():
        if not isinstance(spec, dict) or "type" not in spec:
            raise ParamsError(f"{path}: key {key!r} needs a mapping with at least 'type'")
        unknown = set(spec) - _SCHEMA_FIELDS
        if unknown:
            raise ParamsError(f"{path}: key {key!r} has unknown schema fields {sorted(unknown)}")
        _parse_type(spec["type"], where=f"{path}: key {key!r}")
    missing = [k for k in COMMON_KEYS if k not in schema]
    if missing:
        raise ParamsError(f"{path}: every study schema must declare {missing}")
    return schema


def _parse_type(type_name: str, *, where: str) -> tuple[str, str | None]:
    """'list[float]' -> ('list', 'float'); 'int' -> ('int', None)."""
    if not isinstance(type_name, str):
        raise ParamsError(f"{where}: type must be a string, got {type_name!r}")
    if type_name.startswith("list[") and type_name.endswith("]"):
        inner = type_name[5:-1]
        if inner not in _SCALAR_TYPES:
            raise ParamsError(f"{where}: unknown list element type {inner!r}")
        return "list", inner
    if type_name not in _SCALAR_TYPES:
        raise ParamsError(
            f"{where}: unknown type {type_name!r}; use one of {sorted(_SCALAR_TYPES)} or list[...]"
        )
    return type_name, None


def _is_type(value: Any, type_name: str) -> bool:
    if type_name in ("int", "float") and isinstance(value, bool):
        return False  # bool is an int subclass; True is never a valid count or rate
    return isinstance(value, _SCALAR_TYPES[type_name])


def _not_finite(value: Any, type_name: str) -> bool:
    return type_name in ("int", "float") and isinstance(value, float) and not math.isfinite(value)


def _check_value(key: str, value: Any, spec: dict, where: str) -> Any:
    outer, inner = _parse_type(spec["type"], where=where)
    if value is None:
        if spec.get("nullable"):
            return None
        raise ParamsError(f"{where}: key {key!r} is null; expected {spec['type']}")
    if _not_finite(value, outer):
        raise ParamsError(f"{where}: key {key!r} = {value!r} is not finite; expected a finite {spec['type']}")
    if not _is_type(value, outer):
        raise ParamsError(
            f"{where}: key {key!r} = {value!r} has type {type(value).__name__}; expected {spec['type']}"
        )
    items = value if outer == "list" else [value]
    if outer == "list" and len(value) < spec.get("min_items", 0):
        raise ParamsError(
            f"{where}: key {key!r} = {value!r} has {len(value)} items; needs at least {spec['min_items']}"
            + (" (or null for the default)" if spec.get("nullable") else "")
        )
    if inner is not None:
        for item in items:
            if _not_finite(item, inner):
                raise ParamsError(f"{where}: key {key!r} holds {item!r}, which is not finite")
            if not _is_type(item, inner):
                raise ParamsError(
                    f"{where}: key {key!r} holds {item!r} ({type(item).__name__}); expected {spec['type']}"
                )
    if "choices" in spec:
        for item in items:
            if item not in spec["choices"]:
                raise ParamsError(f"{where}: key {key!r} = {item!r}; expected one of {spec['choices']}")
    for item in items:
        if "min" in spec and item < spec["min"]:
            raise ParamsError(f"{where}: key {key!r} = {item!r} is below the minimum {spec['min']}")
        if "max" in spec and item > spec["max"]:
            raise ParamsError(f"{where}: key {key!r} = {item!r} is above the maximum {spec['max']}")
    if outer == "float":
        return float(value)
    if inner == "float":
        return [float(item) for item in value]
    return value


def validate(study: str, values: Mapping[str, Any], *, where: str, allow_extra: bool = False) -> Params:
    """Check ``values`` against the study's schema and return frozen :class:`Params`.

    Raises
    ------
    ParamsError
        naming ``where`` (a file or the notebook), the key and what was expected, for an
        unknown key (unless ``allow_extra``), a missing key, a wrong type or a value out of range.
    """
    schema = load_schema(study)
    if not isinstance(values, Mapping):
        raise ParamsError(f"{where}: expected a mapping of parameter names to values")
    unknown = sorted(set(values) - set(schema))
    if unknown and not allow_extra:
        hints = "".join(f"; {key!r}{closest_key(key, schema)}" for key in unknown if closest_key(key, schema))
        raise ParamsError(
            f"{where}: unknown key(s) {unknown}{hints}; the {study} parameters are: {', '.join(sorted(schema))}"
        )
    missing = sorted(set(schema) - set(values))
    if missing:
        raise ParamsError(f"{where}: missing required key(s) {missing}")
    checked = {key: _check_value(key, values[key], spec, where) for key, spec in schema.items()}
    return Params(study=study, values=MappingProxyType(checked))


@dataclass(frozen=True)
class Params:
    """Validated, read-only parameters of one study run (``cfg.seed``, ``cfg["seed"]``)."""

    study: str
    values: Mapping[str, Any]

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        try:
            return self.values[key]
        except KeyError:
            raise AttributeError(f"{self.study} has no parameter {key!r}") from None

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def as_dict(self) -> dict[str, Any]:
        return dict(self.values)

    def replace(self, **changes: Any) -> Params:
        """A new validated Params with ``changes`` applied (for tests and overrides)."""
        return validate(self.study, {**self.values, **changes}, where=f"{self.study} overrides")


def profile_path(study: str, profile: str) -> Path:
    return params_dir(study) / f"{profile}.yaml"


def list_profiles(study: str) -> list[str]:
    """Profile names of a study (every YAML except the schema and the paper's numbers)."""
    return sorted(p.stem for p in params_dir(study).glob("*.yaml") if p.stem not in ("schema", "reported"))


def load(study: str, profile: str, overrides: Mapping[str, Any] | None = None) -> Params:
    """Read and validate ``params/<study>/<profile>.yaml`` (plus ``overrides``)."""
    path = profile_path(study, profile)
    if not path.exists():
        raise ParamsError(
            f"{path}: no profile {profile!r} for {study}; profiles: {', '.join(list_profiles(study))}"
        )
    values = _read_yaml(path)
    if not isinstance(values, dict):
        raise ParamsError(f"{path}: expected a mapping of parameter names to values")
    if values.get("profile", profile) != profile:
        raise ParamsError(
            f"{path}: key 'profile' = {values['profile']!r} but the file is the {profile!r} profile"
        )
    params = validate(study, values, where=str(path))
    if overrides:
        params = validate(
            study, {**params.values, **overrides}, where=f"{path} with overrides {dict(overrides)}"
        )
    return params


#: notebook parameters that are not study parameters (the runner's, not the schema's)
NOTEBOOK_ONLY_PARAMETERS = ("output_dir",)


def injected_parameter_names(namespace: Mapping[str, Any]) -> list[str]:
    """Names assigned in the cell papermill injected (``# Parameters`` ...), read from IPython's ``In``.

    Empty outside IPython, or when nothing was injected.
    """
    import ast

    names: list[str] = []
    for source in namespace.get("In", None) or ():
        if not isinstance(source, str) or not source.lstrip().startswith("# Parameters"):
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Assign):
                names += [target.id for target in node.targets if isinstance(target, ast.Name)]
    return names


def check(study: str, namespace: Mapping[str, Any]) -> Params:
    """Validate a notebook's parameters: the schema keys found in ``namespace`` (its ``globals()``).

    A name papermill injected (``papermill -p NAME VALUE``) that is not in the schema raises
    :class:`ParamsError` with the closest key (papermill itself only logs a warning and runs
    with the default). Other names in the namespace (imports, ``output_dir``) are ignored; a
    schema key the notebook lacks, or one with a wrong type, raises.
    """
    schema = load_schema(study)
    where = f"notebook parameters of {study}"
    unknown = sorted(
        {name for name in injected_parameter_names(namespace) if name not in schema}
        - set(NOTEBOOK_ONLY_PARAMETERS)
    )
    if unknown:
        hints = "".join(f"; {key!r}{closest_key(key, schema)}" for key in unknown if closest_key(key, schema))
        raise ParamsError(
            f"{where}: unknown parameter(s) {unknown} passed to the notebook{hints}; "
            f"the {study} parameters are: {', '.join(sorted(schema))}"
        )
    picked = {key: namespace[key] for key in schema if key in namespace}
    return validate(study, picked, where=where)


def reported(study: str) -> dict:
    """The paper's own numbers, from ``params/<study>/reported.yaml``."""
    path = params_dir(study) / "reported.yaml"
    values = _read_yaml(path)
    if not isinstance(values, dict):
        raise ParamsError(f"{path}: expected a mapping")
    return values
