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
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from bqmanage.engines.duck_file import connect, interrupts_as_keyboard
from bqmanage.engines.duck_types import (
    bq_default_to_duck,
    duck_str,
    duck_type,
    field_from_duck,
    qi,
    same_expression,
    to_duckdb,
)
from bqmanage.errors import WarehouseError
from bqmanage.model import Column, Dataset, Table, TableRef
from bqmanage.names import RESERVED_PREFIX
from bqmanage.plan import Capabilities, Step
from bqmanage.rest import column_to_api, expiration_ms, table_to_api

META = RESERVED_PREFIX  # the side schema


def _ref(ref: TableRef) -> str:
    return f"{qi(ref.dataset)}.{qi(ref.table)}"


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class LocalEngine:
    name = "local"
    # DuckDB adds one column per ALTER; it can observe everything bqmanage stores.
    capabilities = Capabilities(
        multi_action_alter=False,
        runs_as="each step runs as DuckDB statements of its own (one ALTER per added column, COMMENT ON for "
        "descriptions, a side table for BigQuery-only options; DML is transpiled by sqlglot)",
    )

    def __init__(
        self, path: Path, read_only: bool = False, lock_timeout: float = 60.0, on_wait: Callable[[str], None] = _stderr
    ) -> None:
        self.path = path
        self.con = connect(path, read_only, lock_timeout, on_wait)
        self._lock = threading.Lock()
        # Sees each statement bqmanage sends, in GoogleSQL as on BigQuery (not the DuckDB it becomes).
        self.on_statement: Callable[[str], None] = lambda statement: None
        # The side schema is created on the first write only, so that reads stay reads.
        self._has_meta = bool(self._x("SELECT 1 FROM duckdb_schemas() WHERE schema_name = ?", [META]).fetchall())

    def _x(self, sql: str, params: Any = None) -> duckdb.DuckDBPyConnection:
        """Every DuckDB statement goes through here: Ctrl-C interrupts it cleanly."""
        with interrupts_as_keyboard():
            return self.con.execute(sql, params) if params is not None else self.con.execute(sql)

    def _meta(self, sql: str, params: list[Any]) -> list[Any]:
        """Rows of a side-table query; none before the side schema exists."""
        return self._x(sql, params).fetchall() if self._has_meta else []

    def _ensure_meta(self) -> None:
        if self._has_meta:
            return
        self._has_meta = True
        self._x(f"CREATE SCHEMA IF NOT EXISTS {META}")
        self._x(f"CREATE TABLE IF NOT EXISTS {META}.datasets (dataset VARCHAR PRIMARY KEY, meta JSON)")
        self._x(
            f"CREATE TABLE IF NOT EXISTS {META}.tables "
            "(dataset VARCHAR, tbl VARCHAR, meta JSON, modified TIMESTAMPTZ, PRIMARY KEY (dataset, tbl))"
        )
        self._x(
            f"CREATE TABLE IF NOT EXISTS {META}.columns "
            "(dataset VARCHAR, tbl VARCHAR, path VARCHAR, meta JSON, PRIMARY KEY (dataset, tbl, path))"
        )

    # ---- catalog ----

    def list_datasets(self) -> list[str]:
        rows = self._x(
            "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database() "
            "AND NOT internal AND schema_name NOT IN ('main', ?) ORDER BY 1",
            [META],
        ).fetchall()
        return [r[0] for r in rows]

    def get_dataset(self, dataset: str) -> dict[str, Any] | None:
        if dataset not in self.list_datasets():
            return None
        rows = self._meta(f"SELECT meta FROM {META}.datasets WHERE dataset = ?", [dataset])
        meta = json.loads(rows[0][0]) if rows else {}
        return {"datasetReference": {"datasetId": dataset}, **meta}

    def list_tables(self, dataset: str) -> list[str]:
        rows = self._x(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = ? ORDER BY 1",
            [dataset],
        ).fetchall()
        return [r[0] for r in rows]

    def get_table(self, dataset: str, table: str) -> dict[str, Any] | None:
        row = self._x(
            "SELECT comment FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = ? AND table_name = ?",
            [dataset, table],
        ).fetchone()
        if row is None:
            return None
        meta_rows = self._meta(f"SELECT meta, modified FROM {META}.tables WHERE dataset = ? AND tbl = ?", [dataset, table])
        meta_row = meta_rows[0] if meta_rows else None
        meta = json.loads(meta_row[0]) if meta_row else {}
        side = {
            r[0]: json.loads(r[1])
            for r in self._meta(f"SELECT path, meta FROM {META}.columns WHERE dataset = ? AND tbl = ?", [dataset, table])
        }
        physical = self._x(
            "SELECT column_name, is_nullable, column_default, comment FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = ? AND table_name = ? ORDER BY column_index",
            [dataset, table],
        ).fetchall()
        with interrupts_as_keyboard():
            rel = self.con.sql(f"SELECT * FROM {qi(dataset)}.{qi(table)} LIMIT 0")
        types = dict(zip(rel.columns, rel.types, strict=False))
        fields = []
        for name, nullable, default, comment in physical:
            field = field_from_duck(name, types[name], side, name.lower())
            if not nullable and field["mode"] == "NULLABLE":
                field["mode"] = "REQUIRED"
            if nullable and field["mode"] == "REQUIRED":
                field["mode"] = "NULLABLE"
            if default is not None:
                field["defaultValueExpression"] = self._believed_default(
                    side.get(name.lower(), {}).get("defaultValueExpression"), default
                )
            if comment:
                field["description"] = comment
            fields.append(field)
        count = self._x(f"SELECT count(*) FROM {qi(dataset)}.{qi(table)}").fetchone()
        resource = {
            "tableReference": {"datasetId": dataset, "tableId": table},
            "schema": {"fields": fields},
            "numRows": str(count[0] if count else 0),
            **meta,
        }
        if meta_row and meta_row[1] is not None:
            resource["lastModifiedTime"] = str(int(meta_row[1].timestamp() * 1000))
        if row[0]:
            resource["description"] = row[0]
        return resource

    def _believed_default(self, defined: str | None, physical: str) -> str:
        """The BigQuery spelling from the side table while DuckDB's stored default means the same,
        else DuckDB's own: a default stored altered (or changed behind bqmanage's back) is drift."""
        if defined is None:
            return physical
        converted = bq_default_to_duck(defined)
        if same_expression(physical, converted):
            return defined
        if defined.rstrip().endswith(")"):
            return physical  # a function (CURRENT_TIMESTAMP()...): two evaluations need not agree
        try:
            row = self._x(f"SELECT ({physical}) IS NOT DISTINCT FROM ({converted})").fetchone()
        except duckdb.Error:
            return physical
        return defined if row and row[0] else physical

    def read_catalog(self, datasets: dict[str, str | None], on_progress: Any = None) -> dict[str, dict[str, Any]]:
        # DuckDB's catalog is local and exact: no lag, no batching to do.
        out: dict[str, dict[str, Any]] = {}
        for i, dataset in enumerate(datasets):
            for table in self.list_tables(dataset):
                if (resource := self.get_table(dataset, table)) is not None:
                    out[f"{dataset}.{table}"] = resource
            if on_progress:
                on_progress(i + 1, len(datasets))
        return out

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
                    raise WarehouseError(f"{step.dataset}.{step.table or ''}: {step.kind} failed: {exc}") from None
                raise

    def _rollback(self) -> None:
        with contextlib.suppress(duckdb.Error):  # DuckDB may have ended the transaction itself
            self.con.execute("ROLLBACK")

    def _execute(self, step: Step) -> None:
        # Each kind says what to change through the primitives below (changes.LocalTarget).
        for change in step.changes:
            change.run_local(self)
            self._touch(change.dataset, change.table)

    # ---- the primitives the change kinds use (changes.LocalTarget) ----

    def run_sql(self, sql: str) -> None:
        for statement in to_duckdb(sql):
            self._x(statement)

    def create_dataset(self, dataset: Dataset) -> None:
        self._x(f"CREATE SCHEMA IF NOT EXISTS {qi(dataset.name)}")
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
        cols = []
        for column in table.columns:
            parts = [qi(column.name), duck_type(column)]
            if column.default is not None:
                parts.append(f"DEFAULT {bq_default_to_duck(column.default)}")
            if column.mode == "REQUIRED":
                parts.append("NOT NULL")
            cols.append(" ".join(parts))
        ref = _ref(table.ref)
        self._x(f"CREATE TABLE IF NOT EXISTS {ref} ({', '.join(cols)})")
        if table.description:
            self._x(f"COMMENT ON TABLE {ref} IS {duck_str(table.description)}")
        # The side table keeps what DuckDB cannot: the REST resource minus what is physical.
        meta = {k: v for k, v in table_to_api(table).items() if k not in ("tableReference", "schema", "description")}
        self._upsert(f"{META}.tables", [table.dataset, table.name, json.dumps(meta), dt.datetime.now(dt.UTC)])
        for column in table.columns:
            self._column_meta(table.ref, column, column.key)

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
        self._column_meta(ref, column, path.lower())

    def set_default(self, ref: TableRef, column: Column) -> None:
        alter = f"ALTER TABLE {_ref(ref)} ALTER COLUMN {qi(column.name)}"
        if column.default is None:
            self._x(f"{alter} DROP DEFAULT")
        else:
            self._x(f"{alter} SET DEFAULT {bq_default_to_duck(column.default)}")
        self._set_column_meta(ref, column.key, {"defaultValueExpression": column.default})

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

    def _upsert(self, table: str, values: list[Any]) -> None:
        marks = ", ".join("?" for _ in values)
        self._x(f"INSERT OR REPLACE INTO {table} VALUES ({marks})", values)

    def _touch(self, dataset: str, table: str | None) -> None:
        if table:
            self._x(f"UPDATE {META}.tables SET modified = now() WHERE dataset = ? AND tbl = ?", [dataset, table])

    def _column_meta(self, ref: TableRef, column: Column, path: str) -> None:
        api = column_to_api(column)
        api.pop("fields", None)
        api.pop("description", None) if "." not in path else None  # top-level descriptions are physical comments
        self._upsert(f"{META}.columns", [ref.dataset, ref.table, path, json.dumps(api)])
        if column.description and "." not in path:
            self._x(f"COMMENT ON COLUMN {_ref(ref)}.{qi(column.name)} IS {duck_str(column.description)}")
        for field in column.fields:
            self._column_meta(ref, field, f"{path}.{field.key}")

    def _set_column_meta(self, ref: TableRef, path: str, update: dict[str, Any]) -> None:
        """Merge into a column's side-table entry; a None value removes the key."""
        key = [ref.dataset, ref.table, path]
        row = self._x(f"SELECT meta FROM {META}.columns WHERE dataset = ? AND tbl = ? AND path = ?", key).fetchone()
        meta = {**(json.loads(row[0]) if row else {}), **update}
        self._upsert(f"{META}.columns", [*key, json.dumps({k: v for k, v in meta.items() if v is not None})])

    def query(self, sql: str, params: dict[str, Any] | None = None, label: str = "query") -> list[dict[str, Any]]:
        self.on_statement(sql)
        statements = to_duckdb(sql)
        delay = 0.01
        for attempt in range(8):
            try:
                with self._lock:
                    return self._query(statements, params)
            except duckdb.TransactionException:
                # DuckDB's "Conflict on update" is BigQuery's concurrent-update error: retry.
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

    def estimate_bytes(self, sql: str, params: dict[str, Any] | None = None) -> int | None:
        return None  # DuckDB has no notion of billed bytes

    def principal(self) -> str:
        import getpass

        return f"local:{getpass.getuser()}"

    def close(self) -> None:
        self.con.close()
