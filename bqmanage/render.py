"""Render stage: changes -> GoogleSQL text and API payloads. Pure; a ``_sql`` function never executes.

What ``plan`` and ``apply --dry-run`` print is the BigQuery SQL, on every target; on BigQuery it is
exactly what ``apply`` sends. An engine that cannot run a step verbatim (the local DuckDB engine,
bqemulator's single-action ALTER) runs it its own way from the step's typed changes, and ``plan``
says so.
"""

from __future__ import annotations

from typing import Any

from bqmanage.changes import SetDatasetOptions, SetTableOptions
from bqmanage.defaults import default_expression
from bqmanage.model import Column, Dataset, Partitioning, Table, TableRef
from bqmanage.names import quote, string_literal


def dataset_sql(name: str, project: str | None = None) -> str:
    return ".".join(quote(p) for p in ([project] if project else []) + [name])


def options_sql(options: list[tuple[str, Any]]) -> str:
    """``OPTIONS (k = v, ...)`` for the options whose value is set; empty when none is."""
    parts = [f"{k} = {literal_sql(v)}" for k, v in options if v is not None]
    return f"OPTIONS ({', '.join(parts)})" if parts else ""


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
    options = options_sql([("description", dataset.description), ("location", dataset.location),
                           ("labels", dataset.labels or None)])
    return f"CREATE SCHEMA IF NOT EXISTS {dataset_sql(dataset.name, project)}" + (f"\n{options}" if options else "")


def column_sql(column: Column) -> str:
    """A column definition: ``name type [DEFAULT expr] [NOT NULL] [OPTIONS(...)]`` (DDL grammar order)."""
    parts = [quote(column.name), column.type_sql()]
    if column.default is not None:
        parts.append(f"DEFAULT {default_expression(column.type, column.default)}")
    if column.mode == "REQUIRED":
        parts.append("NOT NULL")
    if column.description:
        parts.append(options_sql([("description", column.description)]))
    return " ".join(parts)


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
        return f"PARTITION BY {name}" if partitioning.granularity == "DAY" else f"PARTITION BY DATE_TRUNC({name}, {partitioning.granularity})"
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


def create_table_sql(table: Table, project: str | None = None) -> str:
    lines = [f"CREATE TABLE IF NOT EXISTS {table.ref.sql(project)} ("]
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


def add_columns_sql(ref: TableRef, columns: list[Column], project: str | None = None) -> str:
    """One multi-action ALTER; never a DEFAULT (rejected on existing tables, set afterwards)."""
    actions = ",\n  ".join(f"ADD COLUMN IF NOT EXISTS {_column_no_default(c)}" for c in columns)
    return f"ALTER TABLE {ref.sql(project)}\n  {actions}"


def _column_no_default(column: Column) -> str:
    return column_sql(column.model_copy(update={"default": None}))


def set_default_sql(ref: TableRef, column: Column, project: str | None = None) -> str:
    return f"ALTER TABLE {ref.sql(project)} ALTER COLUMN {quote(column.name)} SET DEFAULT {default_expression(column.type, column.default or 'NULL')}"


def drop_default_sql(ref: TableRef, column: Column, project: str | None = None) -> str:
    return f"ALTER TABLE {ref.sql(project)} ALTER COLUMN {quote(column.name)} DROP DEFAULT"


def relax_column_sql(ref: TableRef, column: Column, project: str | None = None) -> str:
    return f"ALTER TABLE {ref.sql(project)} ALTER COLUMN {quote(column.name)} DROP NOT NULL"


def widen_type_sql(ref: TableRef, column: Column, project: str | None = None) -> str:
    return f"ALTER TABLE {ref.sql(project)} ALTER COLUMN {quote(column.name)} SET DATA TYPE {column.element_type_sql()}"


def set_column_description_sql(ref: TableRef, column: Column, project: str | None = None) -> str:
    return (f"ALTER TABLE {ref.sql(project)} ALTER COLUMN {quote(column.name)} "
            f"SET OPTIONS (description = {literal_sql(column.description)})")


def set_table_options_sql(change: SetTableOptions, project: str | None = None) -> str:
    # NULL clears an option; `labels` replaces the whole map.
    parts = ", ".join(f"{name} = {literal_sql(_option_value(desired))}" for name, desired, _ in change.options)
    return f"ALTER TABLE {TableRef(dataset=change.dataset, table=change.table or '').sql(project)} SET OPTIONS ({parts})"


def set_dataset_options_sql(change: SetDatasetOptions, project: str | None = None) -> str:
    parts = ", ".join(f"{name} = {literal_sql(_option_value(desired))}" for name, desired, _ in change.options)
    return f"ALTER SCHEMA {dataset_sql(change.dataset, project)} SET OPTIONS ({parts})"


def _option_value(value: object) -> object:
    """An empty label map is written as NULL, which clears the option."""
    return None if value == {} else value


def backfill_sql(ref: TableRef, columns: list[Column], project: str | None = None,
                 partitioning: Partitioning | None = None) -> str:
    """One UPDATE per table: existing rows get the default where the new column is NULL.

    With ``partitioning`` (a table with require_partition_filter), the WHERE also holds a
    predicate on the partitioning column alone that excludes no row, NULL partitions included.
    """
    sets = ",\n  ".join(f"{quote(c.name)} = IFNULL({quote(c.name)}, {default_expression(c.type, c.default or 'NULL')})" for c in columns)
    where = " OR ".join(f"{quote(c.name)} IS NULL" for c in columns)
    if partitioning is not None:
        where = f"({where})\n  AND {every_partition_sql(partitioning)}"
    return f"UPDATE {ref.sql(project)}\nSET\n  {sets}\nWHERE {where}"


def every_partition_sql(partitioning: Partitioning, alias: str | None = None) -> str:
    """A filter on the partitioning column alone that keeps every row: what a table with
    require_partition_filter needs in a statement meant for all its rows. Ingestion-time tables
    filter on the _PARTITIONTIME pseudo-column (NULL while rows sit in the streaming buffer)."""
    column = quote(partitioning.column) if partitioning.column else "_PARTITIONTIME"
    ref = f"{alias}.{column}" if alias else column
    return f"({ref} IS NOT NULL OR {ref} IS NULL)"
