"""The partitions of one table on BigQuery, for a backfill cut by partitions (changes/partitions.py).

INFORMATION_SCHEMA.PARTITIONS takes a dataset qualifier only (no region qualifier,
https://cloud.google.com/bigquery/docs/information-schema-partitions) and bills at least 10 MB
(information-schema-intro#pricing): one query per backfill that is cut, none otherwise.
``total_logical_bytes`` is what an UPDATE of the partition bills for it, all columns
(dml-syntax#on-demand_query_size_calculation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bqmanage.changes.partitions import Partition
from bqmanage.model.names import quote

if TYPE_CHECKING:
    from bqmanage.engines.bq_catalog import BigQueryEngine
    from bqmanage.model.schema import Table


def partitions_sql(project: str, dataset: str) -> str:
    return (
        "SELECT partition_id, total_rows, total_logical_bytes "
        f"FROM {quote(project)}.{quote(dataset)}.INFORMATION_SCHEMA.PARTITIONS WHERE table_name = @table"
    )


def partitions(engine: BigQueryEngine, table: Table) -> list[Partition]:
    """Every partition of ``table`` BigQuery lists, in the dataset's location."""
    sql, location = partitions_sql(engine.project, table.dataset), engine._locations.get(table.dataset) or None
    engine.on_statement(sql)
    rows, _ = engine._run(sql, {"table": table.name}, "backfill", location)
    return [
        Partition(str(row["partition_id"]), int(row["total_rows"] or 0), int(row["total_logical_bytes"] or 0) or None)
        for row in rows
        if row["partition_id"] is not None
    ]
