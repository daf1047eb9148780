"""Google's GoogleSQL front end (ZetaSQL) as a test oracle: a thin layer over bqmanage.codeaudit.googlesql.

The product module loads the PyPI ``zetasql`` package's WebAssembly module (compiled once, then
cached in ``~/.cache/bqmanage/``) and builds a catalog from the definitions, one sub-catalog per
dataset. Here a rejection becomes an assertion failure that shows the statement, and a
`project`.dataset.table path is reduced to dataset.table, as the catalog has no project level.
It knows GoogleSQL's grammar and types, not BigQuery's service rules (those stay planner rules,
tested apart).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

from bqmanage.codeaudit.googlesql import GoogleSQL, GoogleSQLError
from bqmanage.model.schema import Definitions, Table


class OracleError(AssertionError):
    """GoogleSQL rejected a statement; the message is Google's."""

    def __init__(self, sql: str, message: str) -> None:
        self.sql = sql
        self.google_message = message
        super().__init__(f"GoogleSQL rejects the statement: {message}\n--- statement ---\n{sql}")


class Oracle(GoogleSQL):
    def parse(self, sql: str, script: bool = False) -> None:
        """Syntax only (a multi-statement script with ``script``): raises OracleError."""
        try:
            super().parse(sql, script)
        except GoogleSQLError as exc:
            raise OracleError(sql, exc.message) from None

    def analyze(
        self,
        sql: str,
        definitions: Definitions | Iterable[Table] = (),
        params: dict[str, Any] | None = None,
        undeclared_parameters: bool = False,
    ) -> None:
        """Resolve names and types against the definitions' tables; raises OracleError."""
        try:
            super().analyze(_strip_project(sql), definitions, params, undeclared_parameters)
        except GoogleSQLError as exc:
            raise OracleError(sql, exc.message) from None


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
