"""Shared fixtures: the real engines. The local DuckDB engine, and bqemulator driven through the
official BigQuery client (started once per session as a subprocess, offline)."""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "schemas"
_projects = itertools.count(1)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory holding a copy of the production definitions."""
    shutil.copytree(SCHEMAS, tmp_path / "schemas")
    monkeypatch.chdir(tmp_path)
    for var in ("BQMANAGE_TARGET", "BQMANAGE_PROJECT", "BQMANAGE_SCHEMAS", "BQMANAGE_CONFIG", "BQMANAGE_LOCATION"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spatial_home(base: Path) -> Path:
    """bqemulator runs INSTALL spatial at start; offline, it must find the wheel's extension in $HOME."""
    import duckdb
    import duckdb_extension_spatial

    version = duckdb.__version__
    source = next(Path(duckdb_extension_spatial.__file__).parent.glob(f"extensions/v{version}/spatial.duckdb_extension"))
    platform = duckdb.execute("PRAGMA platform").fetchone()[0]  # type: ignore[index]
    target = base / ".duckdb" / "extensions" / f"v{version}" / platform
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target / source.name)
    return base


@pytest.fixture(scope="session")
def emulator_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A bqemulator 1.4.0 server on a free loopback port, for the whole session."""
    exe = shutil.which("bqemulator", path=str(Path(sys.executable).parent)) or shutil.which("bqemulator")
    if exe is None:
        pytest.skip("bqemulator is not installed (pip install -e '.[test]')")
    home = _spatial_home(tmp_path_factory.mktemp("emulator-home"))
    port, grpc = _free_port(), _free_port()
    log = open(home / "emulator.log", "w")  # noqa: SIM115 - closed at teardown
    env = {**os.environ, "HOME": str(home), "BQEMU_ENABLE_FORMAT_EXTENSIONS": "false"}
    proc = subprocess.Popen([exe, "start", "--rest-port", str(port), "--grpc-port", str(grpc), "--project", "test-project",
                             "--log-level", "error"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/bigquery/v2/projects/test-project/datasets", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log.close()
                raise RuntimeError(f"bqemulator did not start: {(home / 'emulator.log').read_text()[-2000:]}") from None
            time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def emulator(emulator_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the bigquery target at bqemulator, in a project of its own; returns the project id."""
    project = f"emu-project-{next(_projects):04d}"
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", emulator_url)
    monkeypatch.setenv("BQMANAGE_RETRY_DEADLINE", "15")
    return project
