"""bqemulator 1.4.0, from an environment of its own, started offline on a free loopback port.

It ships with bqmanage because the pytest plugin (``bqmanage_bigquery``) starts it for an
application's tests; bqmanage's own tests use it the same way.

The emulator pins duckdb 1.5.5 (its spatial extension wheel stops there), sqlglot < 30.12 and an
older google-cloud-bigquery. Installed beside bqmanage, those pins would decide which DuckDB the
product runs on (and a DuckDB 2 warehouse file cannot be read by 1.5). So the emulator lives in a
virtual environment of its own, made from ``emulator-requirements.txt`` (beside this module) and kept in the user
cache keyed by that file's hash (``~/.cache/bqmanage-tests/emulator-<hash>``, or
``$BQMANAGE_EMULATOR_VENV``), so that fresh clones and CI runs reuse it; it runs as a subprocess
and the tests talk to it over REST with the product's own client.

``python -m bqmanage.testing.emulator`` creates the environment (``./dev test`` does this first, through
``python -m tests.emulator``). The first time it needs PyPI and takes a minute or two (about 600 MB).
``python -m bqmanage.testing.emulator serve [--port N]`` starts one and keeps it running until
Ctrl-C, for trying the CLI's bigquery target by hand (docs/getting-started.md shows how).
"""

from __future__ import annotations

import contextlib
import hashlib
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

REQUIREMENTS = Path(__file__).resolve().parent / "emulator-requirements.txt"
_STAMP = "bqmanage-requirements.sha256"


def venv_dir() -> Path:
    if explicit := os.environ.get("BQMANAGE_EMULATOR_VENV"):
        return Path(explicit)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "bqmanage-tests" / f"emulator-{_wanted()[:12]}"


def _python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _wanted() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def is_ready() -> bool:
    stamp = venv_dir() / _STAMP
    return _python(venv_dir()).exists() and stamp.exists() and stamp.read_text().strip() == _wanted()


def ensure_env(quiet: bool = True) -> Path:
    """Create (or re-create, when the pins changed) the emulator's environment; return its python."""
    venv = venv_dir()
    if is_ready():
        return _python(venv)
    if venv.exists():
        shutil.rmtree(venv)  # a half-made environment from an interrupted run
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(_python(venv)), "-m", "pip", "install", "--disable-pip-version-check", *(["--quiet"] if quiet else [])]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True)
    (venv / _STAMP).write_text(_wanted() + "\n")  # written last: a half-made venv is re-made
    return _python(venv)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Run inside the emulator's environment: bqemulator runs INSTALL spatial at start; offline, it
# must find the wheel's extension under $HOME/.duckdb (evaluation §1, option 1).
_SPATIAL = """
import shutil, sys
from pathlib import Path
import duckdb, duckdb_extension_spatial
version = duckdb.__version__
source = next(Path(duckdb_extension_spatial.__file__).parent.glob(f"extensions/v{version}/spatial.duckdb_extension"))
platform = duckdb.execute("PRAGMA platform").fetchone()[0]
target = Path(sys.argv[1]) / ".duckdb" / "extensions" / f"v{version}" / platform
target.mkdir(parents=True, exist_ok=True)
shutil.copy(source, target / source.name)
"""


# Run inside the emulator's environment, as the emulator's entry point: bqemulator 1.4.0 keeps one
# DuckDB connection for the process and serves tabledata.list (and the other plain ``def`` routes)
# from FastAPI's worker threads, on that same connection, while query jobs run on the event loop.
# A DuckDB connection is not thread-safe (DuckDB's Python guide, "Multiple Python Threads": each
# thread takes a ``cursor()``); a tabledata.list landing between a job's execute and its fetch
# hands the job the list's COUNT(*) ("count_star()" columns) or no result at all ("'NoneType'
# object has no attribute 'schema'"), and the list a row short of a cell. BigQuery has no such
# interference: tabledata.list is a read that never touches a job's result. So a statement run
# outside the event loop's thread gets a cursor of its own (with the connection's UTC time zone);
# the loop's statements keep the connection (tests/testing/test_emulator_threads.py).
_LAUNCH = """
import sys, threading
from bqemulator.cli import main
from bqemulator.storage.engine import DuckDBEngine

_start, _execute = DuckDBEngine.start, DuckDBEngine.execute

async def start(self):
    self._bqmanage_loop_thread = threading.get_ident()
    await _start(self)

def execute(self, sql, parameters=None):
    if threading.get_ident() == getattr(self, "_bqmanage_loop_thread", None):
        return _execute(self, sql, parameters)
    cursor = self.connection.cursor()
    cursor.execute("SET TimeZone = 'UTC'")
    return cursor.execute(sql, parameters) if parameters is not None else cursor.execute(sql)

DuckDBEngine.start, DuckDBEngine.execute = start, execute
sys.argv[0] = "bqemulator"
sys.exit(main())
"""


@contextlib.contextmanager
def running_emulator(home: Path | None = None, port: int | None = None) -> Iterator[str]:
    """Yield the REST URL of a fresh ephemeral bqemulator (on ``port``, else a free one); stop it afterwards."""
    python = ensure_env()
    home = home or Path(tempfile.mkdtemp(prefix="bqemu-"))
    subprocess.run([str(python), "-c", _SPATIAL, str(home)], check=True)
    port, grpc = port or _free_port(), _free_port()
    env = {**os.environ, "HOME": str(home), "BQEMU_ENABLE_FORMAT_EXTENSIONS": "false"}
    env.pop("PYTHONPATH", None)  # the emulator must not import the product's packages
    with open(home / "emulator.log", "w") as log:
        proc = subprocess.Popen(
            [
                str(python),
                "-c",
                _LAUNCH,
                "start",
                "--rest-port",
                str(port),
                "--grpc-port",
                str(grpc),
                "--project",
                "test-project",
                "--log-level",
                "error",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
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


def serve(port: int) -> None:
    """Run one emulator in the foreground, saying where it listens; Ctrl-C (or SIGTERM) stops it."""
    import signal

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop it as Ctrl-C does: the emulator goes too
    with running_emulator(port=port) as url:
        print(f"bqemulator is listening on {url}; in another shell: export BIGQUERY_EMULATOR_HOST={url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bqmanage.testing.emulator", description=__doc__.split("\n")[0])
    parser.add_argument("-v", action="store_true", help="show pip's output while the environment is made")
    commands = parser.add_subparsers(dest="command")
    run = commands.add_parser("serve", help="start bqemulator and keep it running until Ctrl-C")
    run.add_argument("--port", type=int, default=9050, help="REST port on 127.0.0.1 (default 9050; 0: a free one)")
    args = parser.parse_args(argv)
    if args.command == "serve":
        if not 0 <= args.port <= 65535:
            parser.error(f"--port {args.port}: not a port (0 to 65535)")
        print(f"bqemulator environment: {ensure_env(quiet=not args.v).parent.parent}", flush=True)
        serve(args.port)
        return 0
    print(f"bqemulator environment: {ensure_env(quiet=not args.v).parent.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
