"""BigQuery SQL as DuckDB SQL, through sqlglot: the local engine's DML, defaults and backfills.

Kept apart from duck_types, and imported only where a statement is transpiled, so that a read-only
command (check, plan) does not load sqlglot and its dialects (0.2 to 0.3 s of start-up).
"""

from __future__ import annotations

import re
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB


class _Duck(DuckDB):
    r"""DuckDB as sqlglot writes it, except byte strings.

    sqlglot writes BigQuery's B"by'te\\s" (the bytes by'te\s) as CAST(e'by''te\s' AS BLOB), and
    DuckDB reads the escape string's \s as s: the stored bytes lose their backslash. A plain
    string with every byte that is not printable ASCII, and every quote and backslash, as \xNN is
    read back exactly by DuckDB's VARCHAR -> BLOB cast.
    """

    class Generator(DuckDB.Generator):  # type: ignore[misc,valid-type]
        def bytestring_sql(self, expression: exp.ByteString) -> str:
            # sqlglot (>= 30.30, see pyproject) hands the literal over decoded, one character per byte.
            return f"CAST({blob_literal(str(expression.this).encode('latin-1'))} AS BLOB)"


def blob_literal(data: bytes) -> str:
    """A DuckDB string that the BLOB cast turns into exactly ``data``."""
    return "'" + "".join(chr(b) if 0x20 <= b < 0x7F and b not in (0x27, 0x5C) else f"\\x{b:02X}" for b in data) + "'"


# DuckDB has no ingestion time: on the local engine every row is as if still in BigQuery's
# streaming buffer, where these pseudo-columns read NULL.
_PSEUDO_COLUMNS = ("_PARTITIONTIME", "_PARTITIONDATE")


def to_duckdb(sql: str) -> list[str]:
    """BigQuery SQL as DuckDB statements, through sqlglot; every statement and default the local
    engine runs comes through here."""

    def adapt(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and not node.table and node.name.upper() in _PSEUDO_COLUMNS:
            return exp.Null()
        # DuckDB has no CURRENT_DATETIME(); BigQuery's is the wall clock in UTC, without a zone.
        if isinstance(node, exp.CurrentDatetime) and not node.this:
            return sqlglot.parse_one("timezone('UTC', now())", read="duckdb")
        # NUMERIC '…' and BIGNUMERIC '…' literals: as a plain number DuckDB keeps every digit it
        # can (HUGEINT, exact DECIMAL), where a cast to its default DECIMAL(18,3) would overflow.
        if (
            isinstance(node, exp.Cast)
            and isinstance(node.this, exp.Literal)
            and node.this.is_string
            and node.to.this in (exp.DataType.Type.DECIMAL, exp.DataType.Type.BIGDECIMAL)
            and not node.to.expressions
        ):
            return exp.Literal.number(node.this.this)
        return node

    return [tree.transform(adapt).sql(dialect=_Duck) for tree in sqlglot.parse(sql, read="bigquery") if tree]


def in_rowid_range(update: str) -> str:
    """A DuckDB UPDATE limited to rows whose rowid is in [$lo, $hi), its two parameters."""
    tree = sqlglot.parse_one(update, read="duckdb")
    if not isinstance(tree, exp.Update):
        raise ValueError(f"not an UPDATE: {update[:80]}")
    return tree.where("rowid >= $lo AND rowid < $hi", dialect="duckdb").sql(dialect=_Duck)


_GEOGPOINT = re.compile(r"\s*ST_GEOGPOINT\s*\(\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*\)\s*\Z", re.I)


# Both are pure and sqlglot parses take about a millisecond; a warehouse of many tenant datasets
# repeats the same few defaults thousands of times, so introspection asks for each only once.
@lru_cache(maxsize=4096)
def bq_default_to_duck(expr: str) -> str:
    # GEOGRAPHY is text (WKT) on the local engine, which has no spatial functions loaded.
    if point := _GEOGPOINT.match(expr):
        return f"'POINT({point.group(1)} {point.group(2)})'"
    return to_duckdb(f"SELECT {expr}")[0][len("SELECT ") :]


@lru_cache(maxsize=4096)
def same_expression(physical: str, converted: str) -> bool:
    """Whether two DuckDB expressions read the same once sqlglot spells both (case, aliases)."""

    def canonical(text: str) -> str:
        try:
            return sqlglot.transpile(text, read="duckdb", write="duckdb")[0]
        except sqlglot.errors.ParseError:
            return text

    return canonical(physical) == canonical(converted)
