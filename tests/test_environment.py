"""The pinned pip requirements and environment.yml list the same packages at the same versions."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _requirements() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.txt: {line!r} is not pinned with =="
            pins[name.lower().replace("_", "-")] = version
    return pins


def _environment_pins() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(
        item["pip"] for item in env["dependencies"] if isinstance(item, dict) and "pip" in item
    )
    pins = {}
    for line in pip_section:
        name, _, version = line.partition("==")
        assert version, f"environment.yml: {line!r} is not pinned with =="
        pins[name.lower().replace("_", "-")] = version
    assert "python=3.11" in env["dependencies"]
    return pins


def test_requirements_and_environment_agree():
    assert _requirements() == _environment_pins()


def test_torch_pair_is_pinned():
    pins = _requirements()
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"
