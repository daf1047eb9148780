"""How BigQuery types live in DuckDB, and how the local engine reads them back.

The physical DuckDB type is the truth; the BigQuery spelling kept in the side table is believed
only while it maps to that physical type.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB

from bqmanage.model.rest import column_from_api
from bqmanage.model.schema import Column

_SCALAR = {
    "INT64": "BIGINT",
    "FLOAT64": "DOUBLE",
    "BOOL": "BOOLEAN",
    "STRING": "VARCHAR",
    "BYTES": "BLOB",
    "DATE": "DATE",
    "DATETIME": "TIMESTAMP",
    "TIME": "TIME",
    "TIMESTAMP": "TIMESTAMP WITH TIME ZONE",
    "GEOGRAPHY": "VARCHAR",
    "JSON": "JSON",
    "INTERVAL": "INTERVAL",
}
_REVERSE = {
    "BIGINT": "INT64",
    "INTEGER": "INT64",
    "SMALLINT": "INT64",
    "TINYINT": "INT64",
    "HUGEINT": "INT64",
    "DOUBLE": "FLOAT64",
    "FLOAT": "FLOAT64",
    "BOOLEAN": "BOOL",
    "VARCHAR": "STRING",
    "BLOB": "BYTES",
    "DATE": "DATE",
    "TIMESTAMP": "DATETIME",
    "TIME": "TIME",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
    "JSON": "JSON",
    "INTERVAL": "INTERVAL",
}


def qi(name: str) -> str:
    """DuckDB identifier quoting."""
    return '"' + name.replace('"', '""') + '"'


def duck_type(column: Column, with_array: bool = True) -> str:
    """The DuckDB type that physically holds a BigQuery column."""
    if column.type == "STRUCT":
        inner = ", ".join(f"{qi(f.name)} {duck_type(f)}" for f in column.fields)
        base = f"STRUCT({inner})"
    elif column.type in ("NUMERIC", "BIGNUMERIC"):
        precision, scale = (
            (column.precision, column.scale or 0) if column.precision else ((38, 9) if column.type == "NUMERIC" else (None, None))
        )
        base = f"DECIMAL({precision},{scale})" if precision and precision <= 38 else "DOUBLE"
    elif column.type == "RANGE":
        element = _SCALAR[column.range_element or "DATE"]
        base = f'STRUCT("start" {element}, "end" {element})'
    else:
        base = _SCALAR[column.type]
    return f"{base}[]" if with_array and column.mode == "REPEATED" else base


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


def duck_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def field_from_duck(name: str, physical: Any, side: dict[str, dict[str, Any]], path: str) -> dict[str, Any]:
    """A REST TableFieldSchema for one physical column or field; the side spelling wins when consistent."""
    mode = "NULLABLE"
    if physical.id == "list":
        physical, mode = physical.children[0][1], "REPEATED"
    meta = side.get(path)
    # The side spelling first: a RANGE is physically a STRUCT of its two ends.
    if meta is not None and meta.get("type") not in ("RECORD", "STRUCT") and _spelled(name, meta) == str(physical):
        out = {k: v for k, v in meta.items() if k not in ("defaultValueExpression", "fields")}
        out.update(
            {
                "name": name,
                "mode": mode if mode == "REPEATED" or meta.get("mode") != "REQUIRED" or "." not in path else "REQUIRED",
            }
        )
        return out
    if physical.id == "struct":
        fields = [field_from_duck(n, t, side, f"{path}.{n.lower()}") for n, t in physical.children]
        out = {"name": name, "type": "RECORD", "mode": mode, "fields": fields}
        if meta and meta.get("mode") == "REQUIRED" and mode == "NULLABLE" and "." in path:
            out["mode"] = "REQUIRED"  # DuckDB cannot mark struct fields NOT NULL
        if meta and meta.get("description") and "." in path:
            out["description"] = meta["description"]
        return out
    text = str(physical)
    if text.startswith("DECIMAL("):
        precision, scale = (int(x) for x in text[8:-1].split(","))
        return {"name": name, "type": "NUMERIC", "mode": mode, "precision": str(precision), "scale": str(scale)}
    return {"name": name, "type": _REVERSE.get(text, "STRING"), "mode": mode}


def _spelled(name: str, meta: dict[str, Any]) -> str | None:
    """The DuckDB type the side table's spelling maps to, None if it is not a valid column.
    Tenant datasets repeat the same columns: each spelling is validated once per process."""
    return _spelled_duck_type(name, json.dumps(meta))


@lru_cache(maxsize=8192)
def _spelled_duck_type(name: str, meta: str) -> str | None:
    candidate = _column_from_meta(name, json.loads(meta))
    return None if candidate is None else duck_type(candidate, with_array=False)


def _column_from_meta(name: str, meta: dict[str, Any]) -> Column | None:
    try:
        return column_from_api({**meta, "name": name, "mode": "NULLABLE"})
    except (KeyError, ValueError):
        return None
