"""Start bqemulator 1.4.0 offline as a subprocess on a free loopback port (tests and bench/)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path


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


def executable() -> str | None:
    return shutil.which("bqemulator", path=str(Path(sys.executable).parent)) or shutil.which("bqemulator")


@contextlib.contextmanager
def running_emulator(home: Path | None = None) -> Iterator[str]:
    """Yield the REST URL of a fresh ephemeral bqemulator; stop it afterwards."""
    exe = executable()
    if exe is None:
        raise RuntimeError("bqemulator is not installed (pip install -e '.[test]')")
    home = _spatial_home(home or Path(tempfile.mkdtemp(prefix="bqemu-")))
    port, grpc = _free_port(), _free_port()
    env = {**os.environ, "HOME": str(home), "BQEMU_ENABLE_FORMAT_EXTENSIONS": "false"}
    with open(home / "emulator.log", "w") as log:
        proc = subprocess.Popen([exe, "start", "--rest-port", str(port), "--grpc-port", str(grpc),
                                 "--project", "test-project", "--log-level", "error"],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"{url}/bigquery/v2/projects/test-project/datasets", timeout=2)
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"bqemulator did not start: {(home / 'emulator.log').read_text()[-2000:]}") from None
                    time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
