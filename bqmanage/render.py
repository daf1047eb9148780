"""Render: the GoogleSQL building blocks (quoting, literals, OPTIONS, column definitions) and the
CREATE DDL that ``bqmanage render`` prints. Pure; a ``_sql`` function never executes.

Each change kind renders its own statement from these (``changes``). What ``plan`` and ``apply
--dry-run`` print is the BigQuery SQL, on every target; on BigQuery it is exactly what ``apply``
sends. An engine that cannot run a step verbatim (the local DuckDB engine, bqemulator's
single-action ALTER) runs it its own way from the step's typed changes, and ``plan`` says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bqmanage.model.defaults import default_expression
from bqmanage.model.names import quote, string_literal
from bqmanage.model.schema import Column, Dataset, Definitions, Partitioning, Table


def dataset_sql(name: str, project: str | None = None) -> str:
    return ".".join(quote(p) for p in ([project] if project else []) + [name])


def options_sql(options: list[tuple[str, Any]]) -> str:
    """``OPTIONS (k = v, ...)`` for the options whose value is set; empty when none is."""
    parts = [f"{k} = {literal_sql(v)}" for k, v in options if v is not None]
    return f"OPTIONS ({', '.join(parts)})" if parts else ""


def set_options_sql(options: Iterable[tuple[str, object]]) -> str:
    """``SET OPTIONS (k = v, ...)`` of an ALTER: NULL clears an option, an empty label map too
    (``labels`` replaces the whole map)."""
    parts = ", ".join(f"{name} = {literal_sql(None if value == {} else value)}" for name, value in options)
    return f"SET OPTIONS ({parts})"


def literal_sql(value: Any) -> str:
    """A constant option value: string, number, bool, or labels as an array of pairs."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        pairs = ", ".join(f"({string_literal(k)}, {string_literal(v)})" for k, v in sorted(value.items()))
        return f"[{pairs}]"
    return string_literal(str(value))


def create_schema_sql(dataset: Dataset, project: str | None = None) -> str:
    options = options_sql(
        [("description", dataset.description), ("location", dataset.location), ("labels", dataset.labels or None)]
    )
    return f"CREATE SCHEMA IF NOT EXISTS {dataset_sql(dataset.name, project)}" + (f"\n{options}" if options else "")


def column_sql(column: Column) -> str:
    """A column definition: ``name type [DEFAULT expr] [NOT NULL] [OPTIONS(...)]`` (DDL grammar order)."""
    parts = [quote(column.name), schema_sql(column)]
    if column.default is not None:
        parts.append(f"DEFAULT {default_expression(column.type, column.default)}")
    if column.mode == "REQUIRED":
        parts.append("NOT NULL")
    if column.description:
        parts.append(options_sql([("description", column.description)]))
    return " ".join(parts)


def schema_sql(column: Column) -> str:
    """A column's type as DDL declares it: like ``type_sql``, except that each field of a STRUCT is
    a column definition of its own, so it keeps its NOT NULL and its description
    (column_schema: ``STRUCT<field_name column_schema, ...>``, data-definition-language#column_name_and_column_schema)."""
    if column.type != "STRUCT":
        return column.type_sql()
    struct = f"STRUCT<{', '.join(column_sql(f) for f in column.fields)}>"
    return f"ARRAY<{struct}>" if column.mode == "REPEATED" else struct


def partition_sql(partitioning: Partitioning, table: Table) -> str:
    if partitioning.range is not None:
        r = partitioning.range
        return f"PARTITION BY RANGE_BUCKET({quote(partitioning.column or '')}, GENERATE_ARRAY({r.start}, {r.end}, {r.interval}))"
    if partitioning.column is None:
        # Ingestion time: _PARTITIONDATE is the daily form only; other granularities truncate
        # _PARTITIONTIME (https://cloud.google.com/bigquery/docs/reference/standard-sql/data-definition-language#partition_expression).
        if partitioning.granularity == "DAY":
            return "PARTITION BY _PARTITIONDATE"
        return f"PARTITION BY TIMESTAMP_TRUNC(_PARTITIONTIME, {partitioning.granularity})"
    column = table.column(partitioning.column)
    name = quote(partitioning.column)
    if column is not None and column.type == "DATE":
        return (
            f"PARTITION BY {name}"
            if partitioning.granularity == "DAY"
            else f"PARTITION BY DATE_TRUNC({name}, {partitioning.granularity})"
        )
    func = "TIMESTAMP_TRUNC" if column is not None and column.type == "TIMESTAMP" else "DATETIME_TRUNC"
    if partitioning.granularity == "DAY" and func == "TIMESTAMP_TRUNC":
        return f"PARTITION BY DATE({name})"
    return f"PARTITION BY {func}({name}, {partitioning.granularity})"


def table_options(table: Table) -> list[tuple[str, Any]]:
    return [
        ("description", table.description),
        ("friendly_name", table.friendly_name),
        ("labels", table.labels or None),
        ("partition_expiration_days", table.partition_expiration_days),
        ("require_partition_filter", table.require_partition_filter),
    ]


def create_table_sql(table: Table, project: str | None = None, if_not_exists: bool = True) -> str:
    """The table's CREATE; ``if_not_exists=False`` fails on a table that exists ("Already Exists",
    reason duplicate): of several at once, exactly one creates it (tenants/onboard.py)."""
    lines = [f"CREATE TABLE {'IF NOT EXISTS ' if if_not_exists else ''}{table.ref.sql(project)} ("]
    lines += [f"  {column_sql(c)}," for c in table.columns]
    lines[-1] = lines[-1].rstrip(",")
    lines.append(")")
    if table.partitioning is not None:
        lines.append(partition_sql(table.partitioning, table))
    if table.clustering:
        lines.append("CLUSTER BY " + ", ".join(quote(c) for c in table.clustering))
    options = options_sql(table_options(table))
    if options:
        lines.append(options)
    return "\n".join(lines)


def every_partition_sql(partitioning: Partitioning, alias: str | None = None) -> str:
    """A filter on the partitioning column alone that keeps every row: what a table with
    require_partition_filter needs in a statement meant for all its rows. Ingestion-time tables
    filter on the _PARTITIONTIME pseudo-column (NULL while rows sit in the streaming buffer)."""
    column = quote(partitioning.column) if partitioning.column else "_PARTITIONTIME"
    ref = f"{alias}.{column}" if alias else column
    return f"({ref} IS NOT NULL OR {ref} IS NULL)"


def render_definitions(desired: Definitions, fmt: str, project: str | None = None, table: str | None = None) -> str:
    """What ``render`` prints: the CREATE DDL of every dataset and table, their schemas as ``bq``
    takes them, or their Open Data Contract Standard documents (YAML, one per table). With
    ``table`` ("dataset.table"): that table's CREATE TABLE, its contract, or its schema alone, a
    JSON array of fields, which is the file ``bq mk --schema`` reads."""
    import json

    from bqmanage.errors import UsageError
    from bqmanage.model.odcs import render_contracts
    from bqmanage.model.rest import schema_to_api

    tables = {f"{t.dataset}.{t.name}": t for t in desired.tables}
    if table is not None:
        if table not in tables:
            known = ", ".join(sorted(tables)) or "none"
            raise UsageError(f"--table: no definition of {table!r}; defined tables: {known}")
        if fmt == "json-schema":
            return json.dumps(schema_to_api(tables[table].columns), indent=2) + "\n"
        if fmt == "odcs":
            return render_contracts([tables[table]], project)
        return create_table_sql(tables[table], project) + ";\n"
    if fmt == "json-schema":
        return json.dumps({key: schema_to_api(t.columns) for key, t in tables.items()}, indent=2)
    if fmt == "odcs":
        return render_contracts(list(tables.values()), project)
    parts = [create_schema_sql(d, project) + ";" for d in desired.all_datasets()]
    parts += [create_table_sql(t, project) + ";" for t in desired.tables]
    return "\n\n".join(parts) + "\n"
