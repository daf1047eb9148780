"""`bqmanage --version`: the installed distribution's version, the one pyproject.toml declares."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import bqmanage

ROOT = Path(__file__).resolve().parents[2]


def test_version_flag_prints_the_declared_version_and_exits_0() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    result = subprocess.run(
        [sys.executable, "-m", "bqmanage", "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, f"bqmanage {declared}\n", "")


def test_package_version_matches_the_distribution() -> None:
    assert bqmanage.__version__ == version("bqmanage")
