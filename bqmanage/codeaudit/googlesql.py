"""Google's GoogleSQL analyzer (ZetaSQL), from the optional PyPI package ``zetasql`` (``pip install
'bqmanage[googlesql]'``), with a catalog built from the definitions.

ZetaSQL is the parser and analyzer BigQuery's SQL front end is built on; the package ships it as
WebAssembly for wasmtime. Compiling its 28 MB module takes about a minute, so the compiled module
is serialized once into the user cache (``~/.cache/bqmanage/``, keyed by the zetasql and wasmtime
versions; ``BQMANAGE_CACHE_DIR`` overrides the place) and later runs load it in a fraction of a
second. bqmanage talks to the module directly rather than through the package's client: the
client's ``zetasql.core`` imports two seconds of generated models, and copies request bytes one
Python call per byte.

It knows GoogleSQL's grammar and types, not BigQuery's service rules (those are planner rules).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import datetime as dt
import decimal
import functools
import importlib.metadata
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bqmanage.errors import UsageError
from bqmanage.model.schema import Column, Definitions, Table

COMPILE_NOTICE = "compiling Google's GoogleSQL analyzer once, about a minute (cached in {cache})"


class GoogleSQLError(Exception):
    """GoogleSQL rejected a statement; ``message`` is Google's, ``line``/``column`` where (1-based)."""

    def __init__(self, message: str) -> None:
        located = re.search(r"\s*\[at (\d+):(\d+)\]\s*$", message.split("\n", 1)[0])
        self.line = int(located.group(1)) if located else None
        self.column = int(located.group(2)) if located else None
        self.message = message.split("\n", 1)[0][: located.start()] if located else message.split("\n", 1)[0]
        super().__init__(self.message)


def cache_dir() -> Path:
    if explicit := os.environ.get("BQMANAGE_CACHE_DIR"):
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "bqmanage"


def _versions() -> str:
    try:
        return f"{importlib.metadata.version('zetasql')}-wasmtime-{importlib.metadata.version('wasmtime')}"
    except importlib.metadata.PackageNotFoundError:
        raise UsageError(
            "--analyzer googlesql: Google's analyzer is not installed; "
            "pip install 'bqmanage[googlesql]' (the PyPI package zetasql)"
        ) from None


class _Runtime:
    """The zetasql WebAssembly module, instantiated once: call a local-service method with a proto."""

    def __init__(self, notice: Callable[[str], None] | None) -> None:
        import wasmtime
        from zetasql.wasi import get_wasm_path

        config = wasmtime.Config()
        with contextlib.suppress(AttributeError):  # older wasmtime has no switch (and no threads)
            config.shared_memory = True  # the module's memory is shared, as in the package's client
        engine = wasmtime.Engine(config)
        module = self._module(wasmtime, engine, str(get_wasm_path()), notice)
        wasi = wasmtime.WasiConfig()
        wasi.inherit_stderr()
        try:
            import tzdata

            wasi.preopen_dir(str(Path(tzdata.__file__).parent / "zoneinfo"), "/usr/share/zoneinfo")
        except ImportError:
            pass  # time zone names other than UTC then fail to resolve, as in the package's client
        self.store = wasmtime.Store(engine)
        self.store.set_wasi(wasi)
        linker = wasmtime.Linker(engine)
        linker.define_wasi()
        self.exports = linker.instantiate(self.store, module).exports(self.store)
        if "_initialize" in self.exports:
            self.exports["_initialize"](self.store)
        self.memory = self.exports["memory"]
        self._shared = getattr(wasmtime, "SharedMemory", ())
        # Free the instance while wasmtime is still importable: left to interpreter shutdown, its
        # finalizers run after wasmtime's globals are gone and print a traceback after the output.
        atexit.register(self.close)

    def close(self) -> None:
        for name in ("memory", "exports", "store"):
            self.__dict__.pop(name, None)

    @staticmethod
    def _module(wasmtime: Any, engine: Any, wasm: str, notice: Callable[[str], None] | None) -> Any:
        cached = cache_dir() / f"zetasql-{_versions()}.cwasm"
        if cached.exists():
            try:
                return wasmtime.Module.deserialize_file(engine, str(cached))
            except Exception:
                cached.unlink(missing_ok=True)
        if notice is not None:
            notice(COMPILE_NOTICE.format(cache=cached.parent))
        module = wasmtime.Module.from_file(engine, wasm)
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(module.serialize())
        partial.replace(cached)  # atomic: a concurrent or killed run never leaves half a module
        return module

    def _base(self) -> int:
        # A shared memory's pointer needs no store (and it may move when memory grows: ask each time).
        pointer = self.memory.data_ptr() if isinstance(self.memory, self._shared) else self.memory.data_ptr(self.store)
        return ctypes.cast(pointer, ctypes.c_void_p).value or 0

    def call(self, method: str, request: Any, response_type: Any) -> Any:
        data = request.SerializeToString()
        malloc, free = self.exports["wasm_malloc"], self.exports["wasm_free"]
        request_ptr, size_ptr = malloc(self.store, max(1, len(data))), malloc(self.store, 4)
        try:
            ctypes.memmove(self._base() + request_ptr, data, len(data))
            response_ptr = self.exports[method](self.store, request_ptr, len(data), size_ptr)
            if response_ptr == 0:
                size = self.exports["wasm_get_last_error_size"](self.store)
                error = ctypes.string_at(self._base() + self.exports["wasm_get_last_error"](self.store), size).decode()
                raise GoogleSQLError(re.sub(r"^Code: \d+, Message: ", "", error))
            size = int.from_bytes(ctypes.string_at(self._base() + size_ptr, 4), "little")
            response = ctypes.string_at(self._base() + response_ptr, size)
            free(self.store, response_ptr)
            return response_type.FromString(response)
        finally:
            free(self.store, request_ptr)
            free(self.store, size_ptr)


# GoogleSQL type kinds of bqmanage's canonical types.
_KINDS = {
    "INT64": "TYPE_INT64",
    "FLOAT64": "TYPE_DOUBLE",
    "NUMERIC": "TYPE_NUMERIC",
    "BIGNUMERIC": "TYPE_BIGNUMERIC",
    "BOOL": "TYPE_BOOL",
    "STRING": "TYPE_STRING",
    "BYTES": "TYPE_BYTES",
    "DATE": "TYPE_DATE",
    "DATETIME": "TYPE_DATETIME",
    "TIME": "TYPE_TIME",
    "TIMESTAMP": "TYPE_TIMESTAMP",
    "GEOGRAPHY": "TYPE_GEOGRAPHY",
    "JSON": "TYPE_JSON",
    "INTERVAL": "TYPE_INTERVAL",
}
_INGESTION_PSEUDO_COLUMNS = (("_PARTITIONTIME", "TIMESTAMP"), ("_PARTITIONDATE", "DATE"))


class GoogleSQL:
    """Parse and analyze statements with Google's front end; errors raise GoogleSQLError."""

    def __init__(self, notice: Callable[[str], None] | None = None) -> None:
        from zetasql.wasi._pb2.zetasql.local_service import local_service_pb2
        from zetasql.wasi._pb2.zetasql.proto import options_pb2, simple_catalog_pb2
        from zetasql.wasi._pb2.zetasql.public import options_pb2 as public_options
        from zetasql.wasi._pb2.zetasql.public import simple_table_pb2, type_pb2

        self._runtime = _Runtime(notice)
        self._ls, self._opts, self._cat, self._tbl, self._type = (
            local_service_pb2,
            options_pb2,
            simple_catalog_pb2,
            simple_table_pb2,
            type_pb2,
        )
        self._one_line = public_options.ERROR_MESSAGE_ONE_LINE
        from google.protobuf import empty_pb2

        self._empty = empty_pb2.Empty
        # Every released feature: development and Spanner-only features off (with Spanner on, DDL
        # is resolved as Spanner DDL), external product mode, as BigQuery runs it.
        features = [
            v.number
            for v in public_options.LanguageFeature.DESCRIPTOR.values
            if v.number and "IN_DEVELOPMENT" not in v.name and "SPANNER" not in v.name
        ]
        self.language = options_pb2.LanguageOptionsProto(
            enabled_language_features=features, product_mode=public_options.PRODUCT_EXTERNAL
        )
        self._registered: dict[bytes, int] = {}  # catalog bytes -> id, newest last

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
        """One sub-catalog per dataset, so that ``dataset.table`` resolves as BigQuery resolves it."""
        by_dataset: dict[str, list[Any]] = {}
        for table in tables:
            columns = [self._tbl.SimpleColumnProto(name=c.name, type=self.type_of(c)) for c in table.columns]
            if table.partitioning is not None and table.partitioning.column is None:
                # An ingestion-time partitioned table has these pseudo-columns in BigQuery.
                columns += [
                    self._tbl.SimpleColumnProto(name=n, type=self.scalar(k), is_pseudo_column=True)
                    for n, k in _INGESTION_PSEUDO_COLUMNS
                ]
            by_dataset.setdefault(table.dataset, []).append(self._tbl.SimpleTableProto(name=table.name, column=columns))
        catalogs = [self._cat.SimpleCatalogProto(name=d, table=ts) for d, ts in sorted(by_dataset.items())]
        return self._cat.SimpleCatalogProto(
            name="root",
            catalog=catalogs,
            builtin_function_options=self._opts.ZetaSQLBuiltinFunctionOptionsProto(language_options=self.language),
        )

    # ---- the calls ----

    def parse(self, sql: str, script: bool = False) -> None:
        """Syntax only (a multi-statement script with ``script``)."""
        request = self._ls.ParseRequest(sql_statement=sql, options=self.language, allow_script=script)
        self._runtime.call("ZetaSqlLocalService_Parse", request, self._ls.ParseResponse)

    def analyze(
        self,
        sql: str,
        definitions: Definitions | Iterable[Table] = (),
        params: dict[str, Any] | None = None,
        undeclared_parameters: bool = False,
    ) -> None:
        """Resolve names and types against the definitions' tables, with typed query parameters
        (or, with ``undeclared_parameters``, any ``@name`` typed from where it is used)."""
        tables = tuple(definitions.tables if isinstance(definitions, Definitions) else definitions)
        parameters = [
            self._opts.AnalyzerOptionsProto.QueryParameterProto(name=k, type=self._param_type(v))
            for k, v in (params or {}).items()
        ]
        # CREATE TABLE ... PARTITION BY may name the ingestion-time pseudo-columns.
        pseudo = [
            self._opts.AnalyzerOptionsProto.QueryParameterProto(name=n, type=self.scalar(k)) for n, k in _INGESTION_PSEUDO_COLUMNS
        ]
        options = self._opts.AnalyzerOptionsProto(
            language_options=self.language,
            query_parameters=parameters,
            ddl_pseudo_columns=pseudo,
            error_message_mode=self._one_line,
            allow_undeclared_parameters=undeclared_parameters,
        )
        request = self._ls.AnalyzeRequest(
            options=options, sql_statement=sql, registered_catalog_id=self._catalog_id(self.catalog(tables))
        )
        self._runtime.call("ZetaSqlLocalService_Analyze", request, self._ls.AnalyzeResponse)

    def _catalog_id(self, catalog: Any) -> int:
        """Register each distinct catalog once, so that a statement crosses into the module alone."""
        key = catalog.SerializeToString(deterministic=True)
        if key in self._registered:
            return self._registered[key]
        if len(self._registered) >= 8:  # tests analyze against many small catalogs: keep a few
            oldest = next(iter(self._registered))
            self._runtime.call(
                "ZetaSqlLocalService_UnregisterCatalog",
                self._ls.UnregisterRequest(registered_id=self._registered.pop(oldest)),
                self._empty,
            )
        registered = self._runtime.call(
            "ZetaSqlLocalService_RegisterCatalog",
            self._ls.RegisterCatalogRequest(simple_catalog=catalog),
            self._ls.RegisterResponse,
        )
        self._registered[key] = registered.registered_id
        return int(registered.registered_id)

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


@functools.lru_cache(maxsize=1)
def googlesql(notice: Callable[[str], None] | None = None) -> GoogleSQL:
    """The one analyzer of this process (instantiating the module costs a tenth of a second)."""
    try:
        import wasmtime  # noqa: F401
        import zetasql.wasi  # noqa: F401
    except ImportError:
        raise UsageError(
            "--analyzer googlesql: Google's analyzer is not installed; "
            "pip install 'bqmanage[googlesql]' (the PyPI package zetasql)"
        ) from None
    return GoogleSQL(notice)
