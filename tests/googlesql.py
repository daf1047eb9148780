"""Google's GoogleSQL front end (ZetaSQL) as a test oracle, from the PyPI ``zetasql`` package.

ZetaSQL is the parser and analyzer that BigQuery's SQL front end is built on; the package runs it
as WebAssembly under wasmtime. Compiling its 28 MB module takes about 45 s, so the compiled module
is serialized once into the user cache (``~/.cache/bqmanage-tests``, keyed by the zetasql and
wasmtime versions) and later runs load it in a fraction of a second.

``Oracle.analyze`` resolves a statement against a catalog built from bqmanage's own definitions
(one sub-catalog per dataset), with the query parameters bqmanage sends. It knows GoogleSQL's
grammar and types, not BigQuery's service rules (those stay planner rules, tested apart).
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import importlib.metadata
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bqmanage.model import Column, Definitions, Table


class OracleError(AssertionError):
    """GoogleSQL rejected a statement; the message is Google's."""

    def __init__(self, sql: str, message: str) -> None:
        self.sql = sql
        self.google_message = message
        super().__init__(f"GoogleSQL rejects the statement: {message}\n--- statement ---\n{sql}")


def _cache_file() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "bqmanage-tests"
    versions = f"{importlib.metadata.version('zetasql')}-wasmtime-{importlib.metadata.version('wasmtime')}"
    return cache / f"zetasql-{versions}.cwasm"


class _CachedModule:
    """Stands in for ``wasmtime.Module`` in the package's client: compile once, then deserialize."""

    @staticmethod
    def from_file(engine: Any, path: str) -> Any:
        import wasmtime

        cached = _cache_file()
        if cached.exists():
            try:
                return wasmtime.Module.deserialize_file(engine, str(cached))
            except Exception:  # noqa: BLE001 - a stale or truncated cache is compiled again
                cached.unlink(missing_ok=True)
        module = wasmtime.Module.from_file(engine, path)
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(module.serialize())
        partial.replace(cached)  # atomic: a concurrent or killed run never leaves half a module
        return module


# GoogleSQL type kinds of bqmanage's canonical types.
_KINDS = {
    "INT64": "TYPE_INT64", "FLOAT64": "TYPE_DOUBLE", "NUMERIC": "TYPE_NUMERIC", "BIGNUMERIC": "TYPE_BIGNUMERIC",
    "BOOL": "TYPE_BOOL", "STRING": "TYPE_STRING", "BYTES": "TYPE_BYTES", "DATE": "TYPE_DATE",
    "DATETIME": "TYPE_DATETIME", "TIME": "TYPE_TIME", "TIMESTAMP": "TYPE_TIMESTAMP", "GEOGRAPHY": "TYPE_GEOGRAPHY",
    "JSON": "TYPE_JSON", "INTERVAL": "TYPE_INTERVAL",
}


_INGESTION_PSEUDO_COLUMNS = (("_PARTITIONTIME", "TIMESTAMP"), ("_PARTITIONDATE", "DATE"))


class Oracle:
    def __init__(self) -> None:
        from zetasql.core import wasm_client
        from zetasql.wasi import get_wasm_path
        from zetasql.wasi._pb2.zetasql.local_service import local_service_pb2
        from zetasql.wasi._pb2.zetasql.proto import options_pb2, simple_catalog_pb2
        from zetasql.wasi._pb2.zetasql.public import options_pb2 as public_options
        from zetasql.wasi._pb2.zetasql.public import simple_table_pb2, type_pb2

        wasm_client.Module = _CachedModule  # type: ignore[attr-defined]
        self._client = wasm_client.WasmClient(wasm_path=get_wasm_path())
        self._ls, self._opts, self._cat, self._tbl, self._type = (
            local_service_pb2, options_pb2, simple_catalog_pb2, simple_table_pb2, type_pb2)
        # Every released feature, as the trial found works: development and Spanner-only
        # features off (with Spanner on, DDL is resolved as Spanner DDL), external product mode.
        features = [v.number for v in public_options.LanguageFeature.DESCRIPTOR.values
                    if v.number and "IN_DEVELOPMENT" not in v.name and "SPANNER" not in v.name]
        self.language = options_pb2.LanguageOptionsProto(
            enabled_language_features=features, product_mode=public_options.PRODUCT_EXTERNAL)

    # ---- types and catalog ----

    def type_of(self, column: Column, element: bool = False) -> Any:
        t = self._type
        if column.mode == "REPEATED" and not element:
            return t.TypeProto(type_kind=t.TYPE_ARRAY, array_type=t.ArrayTypeProto(element_type=self.type_of(column, True)))
        if column.type == "STRUCT":
            fields = [t.StructFieldProto(field_name=f.name, field_type=self.type_of(f)) for f in column.fields]
            return t.TypeProto(type_kind=t.TYPE_STRUCT, struct_type=t.StructTypeProto(field=fields))
        if column.type == "RANGE":
            inner = t.TypeProto(type_kind=getattr(t, _KINDS[column.range_element or "DATE"]))
            return t.TypeProto(type_kind=t.TYPE_RANGE, range_type=t.RangeTypeProto(element_type=inner))
        return t.TypeProto(type_kind=getattr(t, _KINDS[column.type]))

    def scalar(self, name: str) -> Any:
        return self._type.TypeProto(type_kind=getattr(self._type, _KINDS[name]))

    def catalog(self, tables: Iterable[Table]) -> Any:
        """One sub-catalog per dataset, so that ``dataset.table`` (and `project`.dataset.table
        through the pseudo-columns BigQuery adds) resolve as BigQuery resolves them."""
        by_dataset: dict[str, list[Any]] = {}
        for table in tables:
            columns = [self._tbl.SimpleColumnProto(name=c.name, type=self.type_of(c)) for c in table.columns]
            if table.partitioning is not None and table.partitioning.column is None:
                # An ingestion-time partitioned table has these pseudo-columns in BigQuery.
                columns += [self._tbl.SimpleColumnProto(name=n, type=self.scalar(k), is_pseudo_column=True)
                            for n, k in _INGESTION_PSEUDO_COLUMNS]
            by_dataset.setdefault(table.dataset, []).append(self._tbl.SimpleTableProto(name=table.name, column=columns))
        catalogs = [self._cat.SimpleCatalogProto(name=d, table=ts) for d, ts in sorted(by_dataset.items())]
        return self._cat.SimpleCatalogProto(
            name="root", catalog=catalogs,
            builtin_function_options=self._opts.ZetaSQLBuiltinFunctionOptionsProto(language_options=self.language))

    # ---- the two calls ----

    def parse(self, sql: str, script: bool = False) -> None:
        """Syntax only (a multi-statement script with ``script``): raises OracleError."""
        request = self._ls.ParseRequest(sql_statement=sql, options=self.language, allow_script=script)
        self._call("ZetaSqlLocalService_Parse", request, self._ls.ParseResponse, sql)

    def analyze(self, sql: str, definitions: Definitions | Iterable[Table] = (), params: dict[str, Any] | None = None) -> None:
        """Resolve names and types against the definitions' tables; raises OracleError."""
        tables = definitions.tables if isinstance(definitions, Definitions) else tuple(definitions)
        parameters = [self._opts.AnalyzerOptionsProto.QueryParameterProto(name=k, type=self._param_type(v))
                      for k, v in (params or {}).items()]
        # CREATE TABLE ... PARTITION BY may name the ingestion-time pseudo-columns.
        pseudo = [self._opts.AnalyzerOptionsProto.QueryParameterProto(name=n, type=self.scalar(k))
                  for n, k in _INGESTION_PSEUDO_COLUMNS]
        options = self._opts.AnalyzerOptionsProto(language_options=self.language, query_parameters=parameters,
                                                  ddl_pseudo_columns=pseudo)
        request = self._ls.AnalyzeRequest(options=options, simple_catalog=self.catalog(tables),
                                          sql_statement=_strip_project(sql))
        self._call("ZetaSqlLocalService_Analyze", request, self._ls.AnalyzeResponse, sql)

    def _param_type(self, value: Any) -> Any:
        t = self._type
        if isinstance(value, bool):
            return self.scalar("BOOL")
        if isinstance(value, int):
            return self.scalar("INT64")
        if isinstance(value, float):
            return self.scalar("FLOAT64")
        if isinstance(value, decimal.Decimal):
            return self.scalar("NUMERIC")
        if isinstance(value, dt.datetime):
            return self.scalar("TIMESTAMP")
        if isinstance(value, dt.date):
            return self.scalar("DATE")
        if isinstance(value, (list, tuple)):
            element = self._param_type(value[0]) if value else self.scalar("STRING")
            return t.TypeProto(type_kind=t.TYPE_ARRAY, array_type=t.ArrayTypeProto(element_type=element))
        return self.scalar("STRING")

    def _call(self, method: str, request: Any, response: Any, sql: str) -> None:
        from zetasql.core.exceptions import ServerError

        try:
            self._client.call_grpc_func(method, request, response)
        except ServerError as exc:
            raise OracleError(sql, re.sub(r"^\[[A-Z_]+\]\s*", "", str(exc))) from None


# A `project`.dataset.table path: the catalog has no project level, and BigQuery resolves the
# project part itself, so the oracle sees dataset.table.
_PROJECT = re.compile(r"`[a-z][a-z0-9-]{4,28}[a-z0-9]`\.(?=`?[A-Za-z_]\w*`?\.`?[A-Za-z_])")


def _strip_project(sql: str) -> str:
    return _PROJECT.sub("", sql)


@functools.lru_cache(maxsize=1)
def oracle() -> Oracle:
    return Oracle()


def statements(script: str) -> list[str]:
    """The statements of a checked-in script, split at each ``;`` that ends a line."""
    out = []
    for chunk in re.split(r";[ \t]*(?:\n|$)", script):
        if any(line.strip() and not line.strip().startswith("--") for line in chunk.splitlines()):
            out.append(chunk.strip())
    return out
