"""A stop that lands while DuckDB fetches a query's rows (DuckDB runs a query as its rows are
fetched) is the same stop as one that lands while it executes: exit 130, one line, no traceback.
Every DuckDB call of the local engine goes through one guard (duck_query.guarded)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from bqmanage.cli import signals
from bqmanage.engines import duck_sql
from bqmanage.engines.local import LocalEngine
from bqmanage.tenants import sql as tenant_sql
from tests.helpers import run_cli

# Seconds of work for DuckDB, all of it done in fetchall (execute only prepares the stream).
SLOW = "SELECT i FROM range(3000000000) t(i) WHERE i % 7 = 3"


def _stop(engine: LocalEngine) -> None:
    # DuckDB's own interrupt, deterministic: what a Ctrl-C becomes inside DuckDB. (A real SIGINT
    # during a fetch is raised, as RuntimeError("Query interrupted"), only at DuckDB's own
    # checks: not reliably in a test; the guard treats both alike, duck_file.is_interrupt.)
    engine.con.interrupt()


@pytest.mark.parametrize("command", ["suspend", "resume"])
def test_a_stop_while_suspend_reads_the_registry_row_exits_130_in_one_line(
    command: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli("apply").exit_code == 0
    assert run_cli("tenant", "add", "acme").exit_code == 0
    engines: list[LocalEngine] = []
    init = LocalEngine.__init__

    def keep(self: LocalEngine, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        engines.append(self)

    reads: set[str] = set()
    row_sql = tenant_sql.registry_row_sql

    def marked(*args: Any) -> str:
        text = row_sql(*args)
        reads.add(text)
        return text

    to_duckdb = duck_sql.to_duckdb

    def slow_read(text: str) -> list[str]:
        if text in reads:  # read_tenant inside set_status: made slow, then stopped in its fetch
            threading.Timer(0.3, _stop, [engines[-1]]).start()
            return [SLOW]
        return to_duckdb(text)

    monkeypatch.setattr(LocalEngine, "__init__", keep)
    monkeypatch.setattr(tenant_sql, "registry_row_sql", marked)
    monkeypatch.setattr(duck_sql, "to_duckdb", slow_read)
    previous = signal.signal(signal.SIGINT, signals.terminate)
    try:
        result = run_cli("tenant", command, "acme")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert reads, "the registry row was not read"
    assert result.exit_code == 130, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "interrupted" in result.stderr.lower()
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_every_local_engine_statement_result_is_guarded(workdir: Path) -> None:
    """Rows fetched from any statement of the engine (not only query()) are behind the guard."""
    assert run_cli("apply").exit_code == 0
    engine = LocalEngine(Path(".bqmanage/local.duckdb"))
    try:
        result = engine._x("SELECT i FROM range(3000000000) t(i) WHERE i % 7 = 3")
        threading.Timer(0.3, _stop, [engine]).start()
        with pytest.raises(KeyboardInterrupt):
            result.fetchall()
    finally:
        engine.close()
