"""The DuckDB client of the local engine: duckdb's C extension, without the package's Python layer.

``import duckdb`` (2.x) runs the package's ``__init__``, which re-exports the extension
(``_duckdb``) and builds a pure-Python relational API beside it: DuckDBPyRelation, expressions,
the Arrow and Polars sources, thirty dataclasses and ctypes. That is about 40 ms of CPU, a ninth
of a read-only ``check`` on the demo, for methods bqmanage never calls (``con.sql``,
``read_csv``, ``from_df``...). What the engine uses (``connect``, a connection's ``execute`` and
``fetch*``, the exception classes, ``DuckDBPyConnection``) are the extension's own objects, which
the package re-exports unchanged, so they behave the same whichever module they are reached
through; tests/engines/test_duck_client.py holds that, and that this fast path is taken.

A duckdb without a top-level extension module (a future layout) is imported whole instead.
"""

from __future__ import annotations

try:
    import _duckdb as duckdb
except ImportError:  # pragma: no cover - the installed duckdb keeps its extension elsewhere
    import duckdb  # type: ignore[no-redef]

__all__ = ["duckdb"]
