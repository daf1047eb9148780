"""INFORMATION_SCHEMA at scale: the SQL that reads it in few jobs, and its rows -> REST resources.

Pure (no I/O). Dataset-qualified views are batched with UNION ALL; a target may instead ask for
one region-qualified query per view. Views or columns an engine lacks are declared as data.
Sources: https://cloud.google.com/bigquery/docs/information-schema-columns, ...-column-field-paths,
...-tables and ...-table-options.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from bqmanage.model import Mode, column_from_type
from bqmanage.names import quote
from bqmanage.rest import column_to_api
from bqmanage.types import TypeSpec, TypeSyntaxError, parse_type

VIEWS: dict[str, tuple[str, ...]] = {
    "COLUMNS": (
        "table_schema",
        "table_name",
        "column_name",
        "ordinal_position",
        "is_nullable",
        "data_type",
        "is_partitioning_column",
        "clustering_ordinal_position",
        "column_default",
    ),
    "COLUMN_FIELD_PATHS": ("table_schema", "table_name", "column_name", "field_path", "data_type", "description"),
    "TABLES": ("table_schema", "table_name", "table_type", "ddl"),
    "TABLE_OPTIONS": ("table_schema", "table_name", "option_name", "option_value"),
}


def view_sql(
    view: str, datasets: list[str], project: str, missing: frozenset[str] = frozenset(), region: str | None = None
) -> str:
    """One query over ``view`` for all ``datasets``: UNION ALL of dataset-qualified views, or one
    region-qualified view filtered by a ``@datasets`` parameter."""
    columns = ", ".join(c if f"{view}.{c}" not in missing else f"CAST(NULL AS STRING) AS {c}" for c in VIEWS[view])
    if region is not None:
        return (
            f"SELECT {columns} FROM {quote(project)}.{quote('region-' + region.lower())}.INFORMATION_SCHEMA.{view} "
            "WHERE table_schema IN UNNEST(@datasets)"
        )
    return "\nUNION ALL\n".join(f"SELECT {columns} FROM {quote(project)}.{quote(d)}.INFORMATION_SCHEMA.{view}" for d in datasets)


def batches(datasets: list[str], size: int) -> list[list[str]]:
    return [datasets[i : i + size] for i in range(0, len(datasets), size)]


_PARTITION = re.compile(r"PARTITION BY\s+(?P<expr>[^\n]+)", re.I)
_TRUNC = re.compile(r"(?:DATE|DATETIME|TIMESTAMP)_TRUNC\(\s*`?(?P<col>\w+)`?\s*,\s*(?P<unit>\w+)\s*\)", re.I)
_RANGE = re.compile(
    r"RANGE_BUCKET\(\s*`?(?P<col>\w+)`?\s*,\s*GENERATE_ARRAY\(\s*(-?\d+)\s*,\s*(-?\d+)\s*,\s*(\d+)\s*\)\s*\)", re.I
)
_LABEL = re.compile(r'STRUCT\(\s*"((?:[^"\\]|\\.)*)"\s*,\s*"((?:[^"\\]|\\.)*)"\s*\)')


def _partitioning(ddl: str | None, partition_column: str | None) -> dict[str, Any]:
    match = _PARTITION.search(ddl or "")
    expr = match.group("expr").strip() if match else ""
    if (rng := _RANGE.search(expr)) is not None:
        return {
            "rangePartitioning": {
                "field": rng.group("col"),
                "range": {"start": rng.group(2), "end": rng.group(3), "interval": rng.group(4)},
            }
        }
    if (trunc := _TRUNC.search(expr)) is not None:
        return {"timePartitioning": {"type": trunc.group("unit").upper(), "field": trunc.group("col")}}
    if "_PARTITION" in expr.upper() and partition_column is None:
        return {"timePartitioning": {"type": "DAY"}}
    if partition_column is not None:
        return {"timePartitioning": {"type": "DAY", "field": partition_column}}
    return {}


def _option(name: str, value: str) -> tuple[str, Any]:
    value = value.strip()
    if name == "labels":
        return "labels", {k: v for k, v in _LABEL.findall(value)}
    if name in ("description", "friendly_name"):
        text = value[1:-1] if value[:1] in "\"'" else value
        return ("friendlyName" if name == "friendly_name" else name), re.sub(r"\\(.)", r"\1", text)
    if name == "require_partition_filter":
        return "requirePartitionFilter", value.lower() == "true"
    if name == "partition_expiration_days":
        return "partition_expiration_days", float(value)
    return name, value


def to_resources(project: str, rows: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """REST-shaped Table resources, keyed ``dataset.table``, from the rows of the four views."""
    columns: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows.get("COLUMNS", []):
        if row.get("ordinal_position") is not None:  # pseudo columns have none
            columns[f"{row['table_schema']}.{row['table_name']}"].append(row)
    paths = {f"{r['table_schema']}.{r['table_name']}.{r['field_path'].lower()}": r for r in rows.get("COLUMN_FIELD_PATHS", [])}
    tables = {f"{r['table_schema']}.{r['table_name']}": r for r in rows.get("TABLES", [])}
    options: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows.get("TABLE_OPTIONS", []):
        options[f"{row['table_schema']}.{row['table_name']}"].append(row)
    out: dict[str, dict[str, Any]] = {}
    for key, table_rows in columns.items():
        info = tables.get(key, {})
        if info.get("table_type") not in (None, "BASE TABLE"):
            continue
        dataset, table = key.split(".", 1)
        fields = []
        partition_column = None
        clustering = []
        for row in sorted(table_rows, key=lambda r: int(r["ordinal_position"])):
            try:
                spec = parse_type(str(row["data_type"]))
            except TypeSyntaxError:
                spec = TypeSpec("STRING")
            mode: Mode = "REQUIRED" if row.get("is_nullable") == "NO" else "NULLABLE"
            field = column_to_api(column_from_type(row["column_name"], spec, mode))
            if row.get("column_default") not in (None, "NULL"):
                field["defaultValueExpression"] = row["column_default"]
            _describe(field, f"{key}.{row['column_name'].lower()}", paths)
            fields.append(field)
            if row.get("is_partitioning_column") == "YES":
                partition_column = row["column_name"]
            if row.get("clustering_ordinal_position") is not None:
                clustering.append((int(row["clustering_ordinal_position"]), row["column_name"]))
        resource: dict[str, Any] = {
            "tableReference": {"projectId": project, "datasetId": dataset, "tableId": table},
            "schema": {"fields": fields},
            **_partitioning(info.get("ddl"), partition_column),
        }
        if clustering:
            resource["clustering"] = {"fields": [c for _, c in sorted(clustering)]}
        for row in options.get(key, []):
            name, value = _option(row["option_name"], str(row["option_value"]))
            if name == "partition_expiration_days":
                resource.setdefault("timePartitioning", {"type": "DAY"})["expirationMs"] = str(int(value * 86400000))
            else:
                resource[name] = value
        out[key] = resource
    return out


def _describe(field: dict[str, Any], path: str, paths: dict[str, dict[str, Any]]) -> None:
    if (row := paths.get(path)) is not None and row.get("description"):
        field["description"] = row["description"]
    for child in field.get("fields", []):
        _describe(child, f"{path}.{child['name'].lower()}", paths)
