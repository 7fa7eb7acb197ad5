"""Parameter files: validation errors name the file, the key and what was expected."""

from __future__ import annotations

import pytest
import yaml

from ecglib import params
from ecglib.params import ParamsError


def test_tiny_profile_loads(tiny_params_root):
    cfg = params.load("tiny", "smoke")
    assert cfg.seed == 0 and cfg["n_values"] == 10 and cfg.study == "tiny"
    assert params.list_profiles("tiny") == ["broken", "smoke"]


def _write_profile(root, name, **changes):
    values = yaml.safe_load((root / "tiny" / "smoke.yaml").read_text())
    values.update(profile=name, **changes)
    for key in [k for k, v in changes.items() if v is _DROP]:
        values.pop(key)
    path = root / "tiny" / f"{name}.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


_DROP = object()


@pytest.fixture
def scratch_root(tmp_path, monkeypatch, tiny_params_root):
    (tmp_path / "tiny").mkdir()
    for name in ("schema.yaml", "smoke.yaml"):
        (tmp_path / "tiny" / name).write_text((tiny_params_root / "tiny" / name).read_text())
    monkeypatch.setenv("ECGLIB_PARAMS_ROOT", str(tmp_path))
    return tmp_path


def test_unknown_key_names_file_and_key(scratch_root):
    path = _write_profile(scratch_root, "typo", n_valuez=3)
    with pytest.raises(ParamsError) as err:
        params.load("tiny", "typo")
    assert str(path) in str(err.value) and "n_valuez" in str(err.value) and "unknown" in str(err.value)


def test_missing_key_names_it(scratch_root):
    path = _write_profile(scratch_root, "short", n_values=_DROP)
    with pytest.raises(ParamsError, match=r"missing required key\(s\) \['n_values'\]") as err:
        params.load("tiny", "short")
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("n_values", "ten", "expected int"),
        ("n_values", 2.5, "expected int"),
        ("n_values", True, "expected int"),
        ("fail_in_cell", "no", "expected bool"),
        ("data_source", "ptbxl", "expected one of"),
        ("n_values", 0, "below the minimum 1"),
    ],
)
def test_wrong_type_or_value(scratch_root, key, value, expected):
    path = _write_profile(scratch_root, "bad", **{key: value})
    with pytest.raises(ParamsError) as err:
        params.load("tiny", "bad")
    message = str(err.value)
    assert str(path) in message and repr(key) in message and expected in message


def test_profile_key_must_match_file_name(scratch_root):
    path = scratch_root / "tiny" / "other.yaml"
    path.write_text((scratch_root / "tiny" / "smoke.yaml").read_text())  # says profile: smoke
    with pytest.raises(ParamsError, match="'smoke' but the file is the 'other' profile"):
        params.load("tiny", "other")


def test_invalid_yaml_is_reported(scratch_root):
    (scratch_root / "tiny" / "garbled.yaml").write_text("seed: [1, 2\n")
    with pytest.raises(ParamsError, match="garbled.yaml: not valid YAML"):
        params.load("tiny", "garbled")


def test_overrides_are_validated(tiny_params_root):
    assert params.load("tiny", "smoke", {"n_values": 3}).n_values == 3
    with pytest.raises(ParamsError, match="overrides"):
        params.load("tiny", "smoke", {"n_values": "3"})


def test_check_reads_notebook_globals(tiny_params_root):
    namespace = {**params.load("tiny", "smoke").as_dict(), "np": object(), "output_dir": None}
    assert params.check("tiny", namespace).n_values == 10
    namespace["seed"] = "zero"
    with pytest.raises(ParamsError, match="notebook parameters of tiny: key 'seed'"):
        params.check("tiny", namespace)


def test_params_are_read_only(tiny_params_root):
    cfg = params.load("tiny", "smoke")
    with pytest.raises(TypeError):
        cfg.values["seed"] = 1  # type: ignore[index]


def test_unknown_study(tiny_params_root):
    with pytest.raises(ParamsError, match="unknown study 'nope'"):
        params.load("nope", "smoke")


def _study_dirs():
    """Studies with a schema (a folder holding only reported.yaml is a study still being built)."""
    root = params.repo_root() / "params"
    return sorted(p for p in root.iterdir() if (p / "schema.yaml").is_file()) if root.is_dir() else []


@pytest.mark.parametrize("study_dir", _study_dirs(), ids=lambda p: p.name)
def test_every_study_profile_validates_and_shares_keys(study_dir):
    study = study_dir.name
    profiles = params.list_profiles(study)
    assert {"smoke", "local", "paper"} <= set(profiles), f"{study} needs smoke, local and paper profiles"
    keys = {profile: set(params.load(study, profile).as_dict()) for profile in profiles}
    assert len({frozenset(k) for k in keys.values()}) == 1
    assert isinstance(params.reported(study), dict)
