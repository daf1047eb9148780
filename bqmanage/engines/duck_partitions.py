"""The local engine's answer to "which partitions does this table have, and how big are they":
what INFORMATION_SCHEMA.PARTITIONS says on BigQuery, computed from the rows.

DuckDB tables are not partitioned: the partition of each row is worked out from the definition's
partitioning, with BigQuery's ids (20261120 for a day, __NULL__, __UNPARTITIONED__). Ingestion
time does not exist here (duck_sql reads _PARTITIONTIME as NULL, as in the streaming buffer), so
every row of an ingestion-time table is unpartitioned. A partition's bytes are BigQuery's logical
size of its rows (https://cloud.google.com/bigquery/pricing#data_size_calculation: 8 bytes for
INT64, FLOAT64 and the date and time types, 16 for NUMERIC, 32 for BIGNUMERIC, 1 for BOOL, 2 plus
the UTF-8 length for STRING and BYTES, NULL 0; nested and other values by the length of their
text), so that a backfill is cut on the local engine as it would be on BigQuery.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bqmanage.changes.partitions import NULL_PARTITION, UNPARTITIONED, Partition
from bqmanage.engines.duck_types import qi
from bqmanage.model.schema import Column, Table

_FIXED = {"INT64": 8, "FLOAT64": 8, "DATE": 8, "DATETIME": 8, "TIME": 8, "TIMESTAMP": 8, "NUMERIC": 16, "BIGNUMERIC": 32}
_FORMATS = {"DAY": "%Y%m%d", "HOUR": "%Y%m%d%H", "MONTH": "%Y%m", "YEAR": "%Y"}


def _size(column: Column) -> str:
    name = qi(column.name)
    if column.mode != "REPEATED" and column.type in _FIXED:
        return f"CASE WHEN {name} IS NULL THEN 0 ELSE {_FIXED[column.type]} END"
    if column.mode != "REPEATED" and column.type == "BOOL":
        return f"CASE WHEN {name} IS NULL THEN 0 ELSE 1 END"
    if column.mode != "REPEATED" and column.type == "STRING":
        return f"coalesce(2 + octet_length(encode({name})), 0)"
    if column.mode != "REPEATED" and column.type == "BYTES":
        return f"coalesce(2 + octet_length({name}), 0)"
    return f"coalesce(octet_length(encode(CAST({name} AS VARCHAR))), 0)"


def _partition_id(table: Table) -> str:
    partitioning = table.partitioning
    assert partitioning is not None
    if partitioning.column is None:
        return f"'{UNPARTITIONED}'"
    column = table.column(partitioning.column)
    name = qi(partitioning.column)
    if partitioning.range is not None:
        r = partitioning.range
        bucket = f"CAST({r.start} + floor(({name} - {r.start}) / {r.interval}) * {r.interval} AS BIGINT)"
        return (
            f"CASE WHEN {name} IS NULL THEN '{NULL_PARTITION}' WHEN {name} < {r.start} OR {name} >= {r.end} "
            f"THEN '{UNPARTITIONED}' ELSE CAST({bucket} AS VARCHAR) END"
        )
    value = f"timezone('UTC', {name})" if column is not None and column.type == "TIMESTAMP" else name
    return f"coalesce(strftime({value}, '{_FORMATS[partitioning.granularity]}'), '{NULL_PARTITION}')"


def partitions(rows: Callable[[str, list[Any] | None], list[tuple[Any, ...]]], table: Table) -> list[Partition]:
    """The partitions of the live ``table`` that hold rows (its columns and partitioning as read)."""
    if table.partitioning is None:
        return []
    size = " + ".join(_size(c) for c in table.columns) or "0"
    found = rows(
        f"SELECT {_partition_id(table)} AS p, count(*), sum({size}) FROM {qi(table.dataset)}.{qi(table.name)} GROUP BY p", None
    )
    return sorted((Partition(str(p), int(n), int(b or 0)) for p, n, b in found), key=lambda p: p.id)
