"""The ``local`` engine: an embedded DuckDB file that models exactly the operations bqmanage issues.

Introspection reads DuckDB's own catalog (the physical truth: columns, nullability, defaults,
comments). What DuckDB cannot hold (BigQuery type spelling, partitioning, clustering, labels,
options) lives in a small side schema ``_bqmanage``, and is only believed while it agrees with
the physical column. BigQuery DML is transpiled to DuckDB with sqlglot.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bqmanage.engines.duck_access import DuckAccess
from bqmanage.engines.duck_catalog import META_DDL, Names, read_dataset_meta, read_ledgers, read_names, read_tables
from bqmanage.engines.duck_client import duckdb
from bqmanage.engines.duck_defaults import DuckDefaults
from bqmanage.engines.duck_file import checkpoint_cadence, connect, file_lock
from bqmanage.engines.duck_query import DuckQueries, DuckResult, guarded
from bqmanage.engines.duck_rowsec import DuckRowSecurity
from bqmanage.engines.duck_types import WRITTEN_DEFAULT, duck_str, duck_type, qi
from bqmanage.errors import WarehouseError
from bqmanage.model.names import RESERVED_PREFIX, is_own
from bqmanage.model.rest import column_to_api, expiration_ms, table_to_api
from bqmanage.model.schema import Column, Dataset, Table, TableRef
from bqmanage.plan import Capabilities, Step
from bqmanage.terminal import log

META = RESERVED_PREFIX  # the side schema
# Rows per committed chunk of a backfill: memory stays near 250 MB at any table size, and the
# rowid ranges prune row groups, so the chunks cost no more time than one UPDATE.
BACKFILL_ROWS = 500_000
MEMORY_LIMIT = "256MB"


def _ref(ref: TableRef) -> str:
    return f"{qi(ref.dataset)}.{qi(ref.table)}"


def _same(names: Names) -> None:
    """A column's comment: nothing the kept names hold."""


def _stderr(message: str) -> None:
    log(message, "WARNING")


class LocalEngine(DuckQueries, DuckRowSecurity, DuckAccess, DuckDefaults):
    name = "local"
    # DuckDB adds one column per ALTER; it can observe everything bqmanage stores.
    capabilities = Capabilities(
        multi_action_alter=False,
        runs_as="each step runs as DuckDB statements of its own (one ALTER per added column, COMMENT ON for "
        "descriptions, a side table for BigQuery-only options; DML is transpiled by sqlglot)",
        thread_safe=False,  # one DuckDB connection: statements from several threads would interleave
        one_catalog_read=True,
        one_writer=True,  # DuckDB's file lock: one read-write process, or read-only ones, not both
    )

    def __init__(
        self, path: Path, read_only: bool = False, lock_timeout: float = 60.0, on_wait: Callable[[str], None] = _stderr
    ) -> None:
        self.path = path
        self.con = connect(path, read_only, lock_timeout, on_wait)
        # DuckDB's default (80% of RAM) lets its buffer pool grow with the table an ALTER or a
        # backfill walks: 5 million rows took 1.27 GB. Past this limit it evicts (or spills to
        # <file>.tmp), so a command's memory stays about this much above Python's own.
        self._x(f"SET memory_limit = '{MEMORY_LIMIT}'")  # a Ctrl-C here is a stop, not DuckDB's "Query interrupted"
        self._lock = file_lock(path)
        # Sees each statement bqmanage sends, in GoogleSQL as on BigQuery (not the DuckDB it becomes).
        self.on_statement: Callable[[str], None] = lambda statement: None
        # The side schema is created on the first write only, so that reads stay reads.
        self._has_meta = bool(self._x("SELECT 1 FROM duckdb_schemas() WHERE schema_name = ?", [META]).fetchall())
        # What the catalog says, read in bulk once and kept until a statement may change it.
        self._names: Names | None = None
        self._dataset_meta: dict[str, dict[str, Any]] | None = None
        self._resources: dict[str, dict[str, Any] | None] = {}
        self._same_value: dict[tuple[str, str], bool] = {}
        self._created = 0  # tables created since the last checkpoint
        self._checkpoint_at = checkpoint_cadence(0)  # ... and how many make the next one

    def _x(self, sql: str, params: Any = None, names: Callable[[Names], None] | None = None) -> DuckResult:
        """Every DuckDB statement goes through here: Ctrl-C interrupts it cleanly (running it and
        fetching its rows: the one place that guards DuckDB calls, duck_query.guarded), and what it may
        change in the catalog is forgotten. ``names`` says what a CREATE or COMMENT changes in the
        kept names instead: re-reading them after each dataset made creating thousands quadratic."""
        self._forget(sql, keep_names=names is not None)
        with guarded(self.path):
            result = self.con.execute(sql, params) if params is not None else self.con.execute(sql)
        if names is not None and self._names is not None:
            names(self._names)
        return DuckResult(result, self.path)

    def _forget(self, sql: str | None = None, keep_names: bool = False) -> None:
        """Drop the kept catalog a statement may change (all of it when ``sql`` is None).

        A read, BEGIN, COMMIT or CHECKPOINT changes nothing this connection sees; DML and an ALTER change row
        counts, columns and the side tables (dataset and table options), not which datasets and
        tables exist nor their comments; anything else (CREATE, DROP, COMMENT, a rename) may
        change all. Keeping the names through a migration's ALTERs keeps apply's per-dataset
        ledger lookups free."""
        text = sql.lstrip().upper() if sql is not None else ""
        if text.startswith(("SELECT", "BEGIN", "COMMIT", "CHECKPOINT")):
            return
        self._resources = {}
        self._dataset_meta = None
        if (
            keep_names
            or text.startswith(("INSERT", "UPDATE", "DELETE", "MERGE", "SET "))
            or (text.startswith("ALTER") and " RENAME " not in text)
        ):
            return
        self._names = None

    def _ensure_meta(self) -> None:
        if self._has_meta:
            return
        self._has_meta = True
        for statement in META_DDL:
            self._x(statement)

    # ---- catalog ----
    # Read in bulk (duck_catalog) and kept for the command: no other process can write the file
    # while this one has it open, and every statement of this engine goes through _x, which
    # drops what a statement may change. The resources handed out are shared: read-only.

    def _rows(self, sql: str, params: list[Any] | None) -> list[tuple[Any, ...]]:
        return self._x(sql, params).fetchall()  # damage met while fetching: engine_session says it

    def _catalog_names(self) -> Names:
        if self._names is None:
            self._names = read_names(self._rows)
        return self._names

    def list_datasets(self) -> list[str]:
        return list(self._catalog_names().datasets)

    def read_datasets_exact(self, datasets: list[str]) -> dict[str, dict[str, Any] | None]:
        live = set(self._catalog_names().datasets)
        if self._dataset_meta is None:
            self._dataset_meta = read_dataset_meta(self._rows, self._has_meta, self._catalog_names())
        meta = self._dataset_meta
        return {
            name: {"datasetReference": {"datasetId": name}, **meta.get(name, {})} if name in live else None for name in datasets
        }

    def list_tables(self, dataset: str) -> list[str]:
        return list(self._catalog_names().tables.get(dataset, []))

    def list_table_types(self, dataset: str) -> dict[str, str]:
        # bqmanage creates tables only; a view here was made by hand, and import says it skipped it.
        views = self._x(
            "SELECT view_name FROM duckdb_views() WHERE database_name = current_database() AND schema_name = ? AND NOT internal",
            [dataset],
        ).fetchall()
        return dict(sorted({**{t: "TABLE" for t in self.list_tables(dataset)}, **{v[0]: "VIEW" for v in views}}.items()))

    def get_table(self, dataset: str, table: str) -> dict[str, Any] | None:
        return self.get_tables([(dataset, table)])[f"{dataset}.{table}"]

    def get_tables(self, tables: list[tuple[str, str]], counts: bool = True) -> dict[str, dict[str, Any] | None]:
        # Counting rows reads every table (a third of a no-op plan's catalog read): a resource read
        # without them is kept, and read again with them only where they are asked for.
        missing = [(d, t) for d, t in tables if not self._kept(f"{d}.{t}", counts)]
        if missing:
            catalog = self._catalog_names()
            found = read_tables(self._rows, self._has_meta, catalog, missing, self.con.type, self._believed_default, counts)
            self._resources.update(found)
        return {f"{d}.{t}": self._resources[f"{d}.{t}"] for d, t in tables}

    def _kept(self, key: str, counts: bool) -> bool:
        """Whether the resource of ``key`` is kept (None: no such table), with its row count if ``counts``."""
        if key not in self._resources:
            return False
        resource = self._resources[key]
        return resource is None or not counts or "numRows" in resource

    def latest_ledger_rows(
        self, datasets: dict[str, str | None], listed: frozenset[str] = frozenset(), unfinished_only: bool = False
    ) -> dict[str, dict[str, Any]]:
        return read_ledgers(self._rows, self._catalog_names(), list(datasets), unfinished_only)

    def read_catalog(self, datasets: dict[str, str | None], on_progress: Any = None) -> dict[str, dict[str, Any]]:
        """Every table of ``datasets`` but bqmanage's own (the ledger), which no caller compares.

        DuckDB's catalog is local and exact: no lag, no batching to do; one read serves all. Like
        BigQuery's INFORMATION_SCHEMA read it has no row counts (``numRows``), so it is not kept
        for get_table, which has them."""
        catalog = self._catalog_names()
        wanted = [(d, t) for d in datasets for t in catalog.tables.get(d, []) if not is_own(t)]
        found = read_tables(self._rows, self._has_meta, catalog, wanted, self.con.type, self._believed_default, counts=False)
        if on_progress:
            on_progress(len(datasets), len(datasets))
        return {key: resource for key, resource in found.items() if resource is not None}

    def read_datasets_bulk(self, datasets: list[str]) -> dict[str, dict[str, Any] | None]:
        return self.read_datasets_exact(datasets)  # the local catalog never lags

    # ---- execution ----

    def execute(self, step: Step) -> None:
        self.on_statement(step.sql if step.sql is not None else step.text())
        with self._lock:
            had_meta = self._has_meta
            # One transaction per step: a step stopped half-way (an error, Ctrl-C) leaves nothing
            # of itself, e.g. no table without its side-table partitioning, so a re-run resumes.
            # BEGIN is inside the try: a Ctrl-C that lands on it would otherwise leave the
            # transaction open, and apply's "failed" ledger row would go down with it.
            try:
                self._x("BEGIN TRANSACTION")
                self._ensure_meta()
                self._execute(step)
                self._x("COMMIT")
            except BaseException as exc:
                self._has_meta = had_meta
                self._rollback()
                if isinstance(exc, duckdb.Error):
                    where = f"{step.dataset}.{step.table}" if step.table else step.dataset
                    raise WarehouseError(f"{where}: {step.kind} failed: {exc}") from None
                raise
            if self._created >= self._checkpoint_at:
                self._created = 0
                self._checkpoint_at = checkpoint_cadence(sum(len(t) for t in self._catalog_names().tables.values()))
                with contextlib.suppress(duckdb.Error):  # the step is committed: a later checkpoint will do
                    self._x("CHECKPOINT")

    def _rollback(self) -> None:
        # Whatever was read inside the transaction is gone with it (_x forgets it all).
        with contextlib.suppress(duckdb.Error, WarehouseError):  # DuckDB may have ended the transaction itself
            self._x("ROLLBACK")

    def _execute(self, step: Step) -> None:
        # Each kind says what to change through the primitives below (changes.LocalTarget).
        for change in step.changes:
            change.run_local(self)
            self._touch(change.dataset, change.table)

    # ---- the primitives the change kinds use (changes.LocalTarget) ----

    def run_sql(self, sql: str) -> None:
        from bqmanage.engines.duck_sql import to_duckdb

        for statement in to_duckdb(sql):
            self._x(statement)

    def backfill(self, ref: TableRef, sql: str) -> None:
        """The UPDATE in rowid ranges of BACKFILL_ROWS, each committed on its own.

        DuckDB holds a transaction's undo data in memory, so one UPDATE of every row peaked at
        1.27 GB for 5 million rows (about 230 MB per million). The UPDATE is idempotent (it sets
        only what is still NULL) and apply records an interrupted step as failed with its
        backfill, so a stop between two chunks leaves rows the re-run finishes, never a wrong one.
        """
        from bqmanage.engines.duck_sql import in_rowid_range, to_duckdb

        (statement,) = to_duckdb(sql)
        ranged = in_rowid_range(statement)
        row = self._x(f"SELECT max(rowid) FROM {_ref(ref)}").fetchone()
        top = row[0] if row and row[0] is not None else -1
        for lo in range(0, top + 1, BACKFILL_ROWS):
            if lo:
                self._x("COMMIT")
                self._x("BEGIN TRANSACTION")
            self._x(ranged, {"lo": lo, "hi": lo + BACKFILL_ROWS})

    def create_dataset(self, dataset: Dataset) -> None:
        self._x(f"CREATE SCHEMA IF NOT EXISTS {qi(dataset.name)}", names=lambda n: n.add(dataset.name))
        meta = {
            k: v
            for k, v in (("description", dataset.description), ("labels", dataset.labels or None), ("location", dataset.location))
            if v
        }
        self._upsert(f"{META}.datasets", [dataset.name, json.dumps(meta)])

    def update_dataset(self, dataset: str, options: dict[str, Any]) -> None:
        row = self._x(f"SELECT meta FROM {META}.datasets WHERE dataset = ?", [dataset]).fetchone()
        meta = json.loads(row[0]) if row else {}
        for name, value in options.items():
            meta.pop(name, None) if not value else meta.__setitem__(name, value)
        self._upsert(f"{META}.datasets", [dataset, json.dumps(meta)])

    def create_table(self, table: Table) -> None:
        from bqmanage.engines.duck_sql import bq_default_to_duck

        cols = []
        for column in table.columns:
            parts = [qi(column.name), duck_type(column)]
            if column.default is not None:
                parts.append(f"DEFAULT {bq_default_to_duck(column.default)}")
            if column.mode == "REQUIRED":
                parts.append("NOT NULL")
            cols.append(" ".join(parts))
        ref = _ref(table.ref)
        pair = (table.dataset, table.name)
        self._created += 1
        self._x(f"CREATE TABLE IF NOT EXISTS {ref} ({', '.join(cols)})", names=lambda n: n.add(*pair))
        if table.description:
            self._x(
                f"COMMENT ON TABLE {ref} IS {duck_str(table.description)}", names=lambda n: n.comment(pair, table.description)
            )
        # The side table keeps what DuckDB cannot: the REST resource minus what is physical.
        meta = {k: v for k, v in table_to_api(table).items() if k not in ("tableReference", "schema", "description")}
        self._upsert(f"{META}.tables", [table.dataset, table.name, json.dumps(meta), dt.datetime.now(dt.UTC)])
        rows = [row for column in table.columns for row in self._column_meta(table.ref, column, column.key)]
        self._upsert(f"{META}.columns", *rows)  # one statement for all: a table has dozens of paths

    def update_table(self, ref: TableRef, options: dict[str, Any]) -> None:
        row = self._x(f"SELECT meta FROM {META}.tables WHERE dataset = ? AND tbl = ?", [ref.dataset, ref.table]).fetchone()
        meta = json.loads(row[0]) if row else {}
        for name, value in options.items():
            if name == "description":  # a physical comment
                self._x(f"COMMENT ON TABLE {_ref(ref)} IS {duck_str(str(value)) if value else 'NULL'}")
            elif name == "partition_expiration_days":
                tp = meta.setdefault("timePartitioning", {"type": "DAY"})
                tp.pop("expirationMs", None) if value is None else tp.__setitem__("expirationMs", expiration_ms(float(value)))
            elif name == "clustering":
                meta.pop("clustering", None) if not value else meta.__setitem__("clustering", {"fields": list(value)})
            else:
                key = {"friendly_name": "friendlyName", "require_partition_filter": "requirePartitionFilter"}.get(name, name)
                meta.pop(key, None) if value in (None, {}) else meta.__setitem__(key, value)
        self._upsert(f"{META}.tables", [ref.dataset, ref.table, json.dumps(meta), dt.datetime.now(dt.UTC)])

    def add_column(self, ref: TableRef, path: str, column: Column) -> None:
        # DuckDB adds a STRUCT field by its dotted path, as it adds a column.
        target = ".".join(qi(p) for p in path.split("."))
        self._x(f"ALTER TABLE {_ref(ref)} ADD COLUMN IF NOT EXISTS {target} {duck_type(column)}")
        self._upsert(f"{META}.columns", *self._column_meta(ref, column, path.lower()))

    def set_default(self, ref: TableRef, column: Column) -> None:
        from bqmanage.engines.duck_sql import bq_default_to_duck

        alter = f"ALTER TABLE {_ref(ref)} ALTER COLUMN {qi(column.name)}"
        written = None if column.default is None else bq_default_to_duck(column.default)
        self._x(f"{alter} DROP DEFAULT" if written is None else f"{alter} SET DEFAULT {written}")
        self._set_column_meta(ref, column.key, {"defaultValueExpression": column.default, WRITTEN_DEFAULT: written})

    def drop_not_null(self, ref: TableRef, name: str) -> None:
        self._x(f"ALTER TABLE {_ref(ref)} ALTER COLUMN {qi(name)} DROP NOT NULL")

    def set_type(self, ref: TableRef, column: Column) -> None:
        self._x(f"ALTER TABLE {_ref(ref)} ALTER COLUMN {qi(column.name)} SET DATA TYPE {duck_type(column)}")
        api = column_to_api(column)
        for key in ("fields", "description", "defaultValueExpression"):
            api.pop(key, None)
        self._set_column_meta(ref, column.key, api)

    def set_description(self, ref: TableRef, path: str, text: str | None) -> None:
        if "." in path:  # DuckDB cannot comment a STRUCT field: the side table holds it
            self._set_column_meta(ref, path.lower(), {"description": text or None})
        else:
            self._x(f"COMMENT ON COLUMN {_ref(ref)}.{qi(path)} IS {duck_str(text) if text else 'NULL'}")

    # ---- the side table ----

    def _upsert(self, table: str, *rows: list[Any]) -> None:
        if rows:
            marks = ", ".join(f"({', '.join('?' for _ in row)})" for row in rows)
            self._x(f"INSERT OR REPLACE INTO {table} VALUES {marks}", [v for row in rows for v in row])

    def _touch(self, dataset: str, table: str | None) -> None:
        if table:
            self._x(f"UPDATE {META}.tables SET modified = now() WHERE dataset = ? AND tbl = ?", [dataset, table])

    def _column_meta(self, ref: TableRef, column: Column, path: str) -> list[list[Any]]:
        """The side-table rows of a column and its fields (the caller writes them); its comment."""
        api = column_to_api(column)
        api.pop("fields", None)
        api.pop("description", None) if "." not in path else None  # top-level descriptions are physical comments
        if column.default is not None:
            from bqmanage.engines.duck_sql import bq_default_to_duck

            api[WRITTEN_DEFAULT] = bq_default_to_duck(column.default)
        rows = [[ref.dataset, ref.table, path, json.dumps(api)]]
        if column.description and "." not in path:
            self._x(f"COMMENT ON COLUMN {_ref(ref)}.{qi(column.name)} IS {duck_str(column.description)}", names=_same)
        for field in column.fields:
            rows += self._column_meta(ref, field, f"{path}.{field.key}")
        return rows

    def _set_column_meta(self, ref: TableRef, path: str, update: dict[str, Any]) -> None:
        """Merge into a column's side-table entry; a None value removes the key."""
        key = [ref.dataset, ref.table, path]
        row = self._x(f"SELECT meta FROM {META}.columns WHERE dataset = ? AND tbl = ? AND path = ?", key).fetchone()
        meta = {**(json.loads(row[0]) if row else {}), **update}
        self._upsert(f"{META}.columns", [*key, json.dumps({k: v for k, v in meta.items() if v is not None})])

    def principal(self) -> str:
        import getpass

        return f"local:{getpass.getuser()}"

    def close(self) -> None:
        self.con.close()
