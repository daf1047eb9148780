"""INFORMATION_SCHEMA at scale: the SQL that reads it in few jobs, and its rows -> REST resources.

Pure (no I/O). Dataset-qualified views are batched with UNION ALL, every view in one query; a
target may instead ask for one region-qualified query. Views or columns an engine lacks are
declared as data.
Sources: https://cloud.google.com/bigquery/docs/information-schema-columns, ...-column-field-paths,
...-tables and ...-table-options.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from bqmanage.model.names import quote
from bqmanage.model.rest import column_to_api, expiration_ms
from bqmanage.model.schema import Mode, column_from_type
from bqmanage.model.types import TypeSpec, TypeSyntaxError, parse_type

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


# Every column of the views, in one order, for the query that reads them all at once.
_ALL_COLUMNS = tuple(dict.fromkeys(c for columns in VIEWS.values() for c in columns))
_INT64 = frozenset({"ordinal_position", "clustering_ordinal_position"})


def catalog_sql(
    views: list[str], datasets: list[str], project: str, missing: frozenset[str] = frozenset(), region: str | None = None
) -> str:
    """One query over every view of ``views`` for all ``datasets``, so that a batch costs one job,
    not one per view: UNION ALL of dataset-qualified views, or of one region-qualified view each
    filtered by a ``@datasets`` parameter. Each view's rows come under the union of the views'
    columns (NULL where a view has none), named by a ``catalog_view`` column; ``split_rows`` takes
    them apart again."""
    parts = []
    for view in views:
        columns = ", ".join(
            c
            if c in VIEWS[view] and f"{view}.{c}" not in missing
            else f"CAST(NULL AS {'INT64' if c in _INT64 else 'STRING'}) AS {c}"
            for c in _ALL_COLUMNS
        )
        select = f"SELECT '{view}' AS catalog_view, {columns} FROM {quote(project)}"
        if region is not None:
            where = "WHERE table_schema IN UNNEST(@datasets)"
            parts.append(f"{select}.{quote('region-' + region.lower())}.INFORMATION_SCHEMA.{view} {where}")
        else:
            parts += [f"{select}.{quote(d)}.INFORMATION_SCHEMA.{view}" for d in datasets]
    return "\nUNION ALL\n".join(parts)


def split_rows(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The rows of ``catalog_sql``, per view, each with that view's columns only."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        view = str(row["catalog_view"])
        out[view].append({c: row.get(c) for c in VIEWS[view]})
    return dict(out)


def schemata_options_sql(project: str, region: str) -> str:
    """The descriptions of the ``@datasets`` of one region. SCHEMATA_OPTIONS has no dataset-qualified
    form (https://cloud.google.com/bigquery/docs/information-schema-datasets-schemata-options);
    the rest of a dataset (its name, location and labels) comes with datasets.list."""
    return (
        f"SELECT schema_name, option_name, option_value FROM {quote(project)}.{quote('region-' + region.lower())}"
        ".INFORMATION_SCHEMA.SCHEMATA_OPTIONS WHERE schema_name IN UNNEST(@datasets) AND option_name = 'description'"
    )


def dataset_options(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """REST-shaped options (``description``) per dataset, from SCHEMATA_OPTIONS rows."""
    out: dict[str, dict[str, Any]] = defaultdict(dict)
    for row in rows:
        name, value = _option(str(row["option_name"]), str(row["option_value"]))
        out[str(row["schema_name"])][name] = value
    return dict(out)


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
        dataset, table = key.split(".", 1)
        if info.get("table_type") not in (None, "BASE TABLE"):
            # Listed (the legacy audit reads names), never compared: views are not managed.
            reference = {"projectId": project, "datasetId": dataset, "tableId": table}
            out[key] = {"tableReference": reference, "type": str(info["table_type"]).replace(" ", "_")}
            continue
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
                resource.setdefault("timePartitioning", {"type": "DAY"})["expirationMs"] = expiration_ms(value)
            else:
                resource[name] = value
        out[key] = resource
    return out


def _describe(field: dict[str, Any], path: str, paths: dict[str, dict[str, Any]]) -> None:
    if (row := paths.get(path)) is not None and row.get("description"):
        field["description"] = row["description"]
    for child in field.get("fields", []):
        _describe(child, f"{path}.{child['name'].lower()}", paths)
