"""What the workflow tests of every study share: the CLI, payload equality, Snakemake and its job counts.

The ``cache`` fixture they use is in ``conftest.py``.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ecglib import cli as _cli

ROOT = Path(__file__).resolve().parents[1]

needs_snakemake = pytest.mark.skipif(
    importlib.util.find_spec("snakemake") is None,
    reason="snakemake is not installed (requirements.txt pins it; `make setup` installs it)",
)


def cli(capsys, *argv) -> tuple[int, str, str]:
    """``ecglib ARGV`` in this process: (exit code, stdout, stderr)."""
    code = _cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def same_payload(a, b, where="payload") -> None:
    """Equal payloads: tensors bit for bit (NaN where NaN), everything else by ==; ``where`` names a difference."""
    assert type(a) is type(b), where
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            same_payload(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for position, (x, y) in enumerate(zip(a, b)):
            same_payload(x, y, f"{where}[{position}]")
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert torch.equal(a.nan_to_num(7.0), b.nan_to_num(7.0)) and torch.equal(a.isnan(), b.isnan()), where
    elif isinstance(a, float):
        assert a == b or (math.isnan(a) and math.isnan(b)), where  # a pre-training has no test loss: NaN
    else:
        assert a == b, where


def snakemake_env(cache: Path, **extra: str) -> dict:
    """The environment of a Snakemake run: this checkout importable, ``cache`` as the ecglib cache."""
    path = ":".join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "ECGLIB_CACHE": str(cache), "PYTHONPATH": path, **extra}


def snakemake(workdir: Path, *args: str, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    """``snakemake -s workflow/Snakefile -d WORKDIR ARGS`` (fails the test on a non-zero exit when ``check``)."""
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(ROOT / "workflow" / "Snakefile"),
        "-d",
        str(workdir),
    ]
    done = subprocess.run([*command, *args], env=env, capture_output=True, text=True, timeout=900)
    if check:
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def job_counts(output: str) -> dict[str, int]:
    """Snakemake's "Job stats" table (rule -> jobs), from a dry run's or a run's log."""
    table = output[output.index("Job stats:") :].split("\n\n")[0]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.MULTILINE)}


def unit_run_needs_first_then_runs_once(capsys, study: str, pre: dict, unit: dict, argv: list[str]) -> None:
    """``ecglib unit run`` of ``unit`` (a plan entry needing ``pre``): refused in one line naming its
    need while ``pre`` is not stored, then ``pre`` and ``unit`` computed, then a second run a no-op."""
    command = ["unit", "run", study]
    code, _, err = cli(capsys, *command, unit["key"], "--profile", "smoke", *argv)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert f"needs '{pre['name']}'" in err and pre["key"] in err
    assert not Path(unit["output"]).exists()

    for item in (pre, unit):
        code, out, _ = cli(capsys, *command, item["key"], "--profile", "smoke", *argv)
        assert code == 0 and out.splitlines()[-1].startswith(
            f"[computed] {item['name']} -> "
        )  # after progress
    stored = Path(unit["output"])
    first = (stored.stat().st_mtime_ns, stored.read_bytes())
    code, out, _ = cli(capsys, *command, unit["key"], "--profile", "smoke", *argv)
    assert code == 0 and out.startswith("[cached]")
    assert (stored.stat().st_mtime_ns, stored.read_bytes()) == first  # a no-op
