"""How BigQuery types live in DuckDB, and how the local engine reads them back.

The physical DuckDB type is the truth; the BigQuery spelling kept in the side table is believed
only while it maps to that physical type.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from bqmanage.errors import WarehouseError
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


# The side-table key of a column's default as bqmanage wrote it in DuckDB's spelling (never a REST field).
WRITTEN_DEFAULT = "duckDefault"


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
        out = {k: v for k, v in meta.items() if k not in ("defaultValueExpression", "fields", WRITTEN_DEFAULT)}
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
    # The catalog read hands over one parsed side value per distinct text, shared by every table
    # that has it: looked up by identity first (its JSON text, the key below, was a fifth of
    # reading a warehouse back). The value is kept with the answer, so its id cannot be reused.
    known = _BY_IDENTITY.get((name, id(meta)))
    if known is not None and known[0] is meta:
        return known[1]
    spelled = _spelled_duck_type(name, json.dumps({k: v for k, v in meta.items() if k != WRITTEN_DEFAULT}))
    if len(_BY_IDENTITY) >= _IDENTITIES:
        _BY_IDENTITY.clear()
    _BY_IDENTITY[(name, id(meta))] = (meta, spelled)
    return spelled


# (column name, id of a side value) -> (that value, its spelling); side values are never changed.
_BY_IDENTITY: dict[tuple[str, int], tuple[dict[str, Any], str | None]] = {}
_IDENTITIES = 8192


@lru_cache(maxsize=8192)
def _spelled_duck_type(name: str, meta: str) -> str | None:
    candidate = _column_from_meta(name, json.loads(meta))
    return None if candidate is None else duck_type(candidate, with_array=False)


def _column_from_meta(name: str, meta: dict[str, Any]) -> Column | None:
    try:
        return column_from_api({**meta, "name": name, "mode": "NULLABLE"})
    except (KeyError, ValueError, WarehouseError):  # hand-edited side values: as if none
        return None


def same_spelling(written: str, physical: str) -> bool:
    """Whether DuckDB reports a default as bqmanage wrote it: exactly, or but for the case of its
    keywords (it lowercases FALSE), which only a quoted literal or identifier makes matter."""
    return written == physical or ("'" not in written and '"' not in written and written.lower() == physical.lower())
