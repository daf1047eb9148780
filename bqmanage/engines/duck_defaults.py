"""Which spelling of a column default the local engine reports: the definition's (BigQuery's), kept
in the side table, while DuckDB's stored default still means it; else DuckDB's own (drift)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bqmanage.engines.duck_client import duckdb
from bqmanage.engines.duck_types import same_spelling

if TYPE_CHECKING:
    from bqmanage.engines.duck_query import DuckResult


class DuckDefaults:
    """LocalEngine's reading of column defaults, over its ``_x`` (every statement goes through it)."""

    # Constant pairs (DuckDB's stored default, the definition's transpiled) -> whether they are equal.
    _same_value: dict[tuple[str, str], bool]

    def _x(self, sql: str, params: Any = None) -> DuckResult:
        raise NotImplementedError  # LocalEngine's: guarded, so Ctrl-C in the fetch is an interrupt too

    def _believed_default(self, defined: str | None, physical: str, written: str | None = None) -> str:
        """The BigQuery spelling from the side table while DuckDB's stored default means the same,
        else DuckDB's own: a default stored altered (or changed behind bqmanage's back) is drift.
        ``written``, the DuckDB spelling bqmanage stored with ``defined``: when DuckDB still says
        exactly that, no transpiling is needed (and a read-only command never loads sqlglot)."""
        if defined is None:
            return physical
        if written is not None and same_spelling(written, physical):
            return defined
        from bqmanage.engines.duck_sql import bq_default_to_duck, same_expression

        converted = bq_default_to_duck(defined)
        if same_expression(physical, converted):
            return defined
        if defined.rstrip().endswith(")"):
            return physical  # a function (CURRENT_TIMESTAMP()...): two evaluations need not agree
        if (physical, converted) not in self._same_value:  # constants: the answer never changes
            try:
                row = self._x(f"SELECT ({physical}) IS NOT DISTINCT FROM ({converted})").fetchone()
            except duckdb.Error:
                row = None
            self._same_value[(physical, converted)] = bool(row and row[0])
        return defined if self._same_value[(physical, converted)] else physical
