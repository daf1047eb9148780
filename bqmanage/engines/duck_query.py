"""The local engine's GoogleSQL queries: transpiled to DuckDB (sqlglot), run under the engine's
lock, DuckDB's write-write conflicts retried as BigQuery's concurrent-update errors are."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bqmanage.engines.dml import DmlStats
from bqmanage.engines.duck_client import duckdb
from bqmanage.engines.duck_file import damage_as_failure, interrupts_as_keyboard, refused_commit
from bqmanage.engines.duck_types import qi
from bqmanage.errors import WarehouseError

if TYPE_CHECKING:
    from bqmanage.changes.partitions import Partition
    from bqmanage.model.schema import Table


@contextmanager
def guarded(path: Path) -> Iterator[None]:
    """What every call into DuckDB runs under: its interrupt is a KeyboardInterrupt (the CLI's one
    line and exit 130), and a damaged file one message."""
    with interrupts_as_keyboard(), damage_as_failure(path):
        yield


class DuckResult:
    """A statement's result as LocalEngine._x hands it out. DuckDB runs much of a query while its
    rows are fetched, so a Ctrl-C often lands in fetchall: fetching is guarded as running is."""

    def __init__(self, result: duckdb.DuckDBPyConnection, path: Path) -> None:
        self._result = result
        self._path = path

    @property
    def description(self) -> Any:
        return self._result.description

    def fetchall(self) -> list[Any]:
        with guarded(self._path):
            return self._result.fetchall()

    def fetchone(self) -> Any:
        with guarded(self._path):
            return self._result.fetchone()


class DuckQueries:
    """query, dml and read_rows of LocalEngine, over its ``_x`` (every statement goes through it)."""

    on_statement: Callable[[str], None]
    path: Path
    _lock: threading.RLock

    def _x(self, sql: str, params: Any = None) -> DuckResult:
        raise NotImplementedError  # LocalEngine's

    def query(
        self, sql: str, params: dict[str, Any] | None = None, label: str = "query", location: str | None = None
    ) -> list[dict[str, Any]]:
        self.on_statement(sql)
        from bqmanage.engines.duck_sql import to_duckdb  # sqlglot: only where a query is run

        statements = to_duckdb(sql)
        delay = 0.01
        for attempt in range(8):
            try:
                with self._lock:
                    return self._query(statements, params)
            except duckdb.TransactionException as exc:
                # DuckDB's "Conflict on update" is BigQuery's concurrent-update error: retry.
                refused_commit(self.path, exc)  # a commit the file system refused is not one
                if attempt == 7:
                    raise WarehouseError("local: query failed after retries: concurrent update conflict") from None
                time.sleep(delay)
                delay *= 2
            except duckdb.Error as exc:
                raise WarehouseError(f"local: query failed: {exc}") from None
        return []

    def _query(self, statements: list[str], params: dict[str, Any] | None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for statement in statements:
            used = {k: v for k, v in (params or {}).items() if f"${k}" in statement}
            result = self._x(statement, used) if used else self._x(statement)
            if result.description:
                names = [d[0] for d in result.description]
                out = [dict(zip(names, r, strict=False)) for r in result.fetchall()]
        return out

    def dml(self, sql: str, params: dict[str, Any] | None = None, label: str = "query") -> DmlStats:
        # DuckDB answers a DML statement with one row: the number of rows it changed.
        rows = self.query(sql, params, label)
        return DmlStats(affected=int(rows[0]["Count"]) if rows and "Count" in rows[0] else 0)

    def read_rows(self, dataset: str, table: str, fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
        try:
            result = self._x(f"SELECT {', '.join(qi(f['name']) for f in fields)} FROM {qi(dataset)}.{qi(table)}")
        except duckdb.Error as exc:
            raise WarehouseError(f"local: reading {dataset}.{table} failed: {exc}") from None
        return [dict(zip([f["name"] for f in fields], row, strict=True)) for row in result.fetchall()]

    def partitions(self, table: Table) -> list[Partition]:
        from bqmanage.engines.duck_partitions import partitions

        try:
            return partitions(lambda sql, params: self._x(sql, params).fetchall(), table)
        except duckdb.Error as exc:
            raise WarehouseError(f"local: reading the partitions of {table.ref} failed: {exc}") from None

    def estimate_bytes(self, sql: str, params: dict[str, Any] | None = None) -> int | None:
        return None  # DuckDB has no notion of billed bytes
