"""The local engine never installs nor loads a DuckDB extension by itself (DuckDB downloads one
over plain HTTP when a file or statement needs it): a SQLite file where the warehouse should be
is "not a DuckDB warehouse", exit 3, and is left byte for byte as it was."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from bqmanage.engines.local import LocalEngine
from tests.helpers import run_cli


@pytest.mark.parametrize("command", [("check",), ("apply",), ("plan",), ("tenant", "list")])
def test_a_sqlite_file_at_the_warehouse_path_is_refused_untouched(command: tuple[str, ...], workdir: Path) -> None:
    path = workdir / ".bqmanage" / "local.duckdb"
    path.parent.mkdir()
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE a (b)")
    con.commit()
    con.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    result = run_cli(*command)
    assert result.exit_code == 3, (result.stdout, result.stderr)
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "not a DuckDB" in error[0] and "Traceback" not in result.stderr
    assert "http" not in result.stderr.lower() and "extension" not in result.stderr.lower()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["local.duckdb"]  # no WAL, no .tmp


@pytest.mark.parametrize("read_only", [False, True])
def test_the_engine_s_connection_neither_installs_nor_loads_extensions(read_only: bool, workdir: Path) -> None:
    assert run_cli("apply").exit_code == 0
    engine = LocalEngine(workdir / ".bqmanage" / "local.duckdb", read_only=read_only)
    try:
        settings = engine._x(
            "SELECT current_setting('autoinstall_known_extensions'), current_setting('autoload_known_extensions')"
        ).fetchone()
    finally:
        engine.close()
    assert settings == (False, False)


def test_a_connection_the_caller_holds_is_shared_with_extensions_turned_off(workdir: Path) -> None:
    """A library caller's own DuckDB connection to the file (default configuration) does not keep
    the engine from opening it: the engine shares that instance, and turns the same settings off."""
    import duckdb

    assert run_cli("apply").exit_code == 0
    mine = duckdb.connect(str(workdir / ".bqmanage" / "local.duckdb"))
    try:
        engine = LocalEngine(workdir / ".bqmanage" / "local.duckdb")
        engine.close()
        query = "SELECT current_setting('autoinstall_known_extensions'), current_setting('autoload_known_extensions')"
        assert mine.execute(query).fetchone() == (False, False)
    finally:
        mine.close()
