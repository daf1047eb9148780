"""The jobs of a backfill cut by partitions, for every kind of partitioning: which partitions each
covers, what it bills, and its UPDATE, analyzed by Google's GoogleSQL front end against the table.

On an ingestion-time table, rows still in the streaming buffer have a NULL _PARTITIONTIME
(BigQuery lists them as the __UNPARTITIONED__ partition): every job over the dated partitions
leaves them out, and they get one job of their own, last, the one BigQuery may refuse for a while.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bqmanage.changes import Backfill
from bqmanage.changes.partitions import NULL_PARTITION, UNPARTITIONED, Partition, slices
from bqmanage.model.schema import Column, Partitioning, RangePartitioning, Table
from bqmanage.plan import step_of
from tests.googlesql import oracle

GIB = 1024**3


def _table(partitioning: Partitioning, kind: str | None) -> Table:
    columns = (Column(name="id", type="STRING"), Column(name="n", type="INT64", default="0"))
    if kind is not None:
        columns += (Column(name="at", type=kind),)
    return Table(dataset="d", name="t", columns=columns, partitioning=partitioning, require_partition_filter=True)


CASES = [
    (Partitioning(column="at", granularity="DAY"), "DATE", ["20261101", "20261102"], "DATE '2026-11-01'", "DATE '2026-11-02'"),
    (
        Partitioning(column="at", granularity="HOUR"),
        "TIMESTAMP",
        ["2026110123", "2026110200"],
        "TIMESTAMP '2026-11-01 23:00:00+00'",
        "TIMESTAMP '2026-11-02 00:00:00+00'",
    ),
    (
        Partitioning(column="at", granularity="MONTH"),
        "DATETIME",
        ["202612", "202701"],
        "DATETIME '2026-12-01 00:00:00'",
        "DATETIME '2027-01-01 00:00:00'",
    ),
    (Partitioning(column="at", range=RangePartitioning(start=0, end=100, interval=10)), "INT64", ["0", "10"], "0", "10"),
    (
        Partitioning(column=None, granularity="YEAR"),
        None,
        ["2025", "2026"],
        "TIMESTAMP '2025-01-01 00:00:00+00'",
        "TIMESTAMP '2026-01-01 00:00:00+00'",
    ),
]


@pytest.mark.googlesql
@pytest.mark.parametrize(("partitioning", "kind", "ids", "first", "second"), CASES)
def test_each_partition_job_is_valid_googlesql_and_keeps_to_its_partitions(
    partitioning: Partitioning, kind: str | None, ids: list[str], first: str, second: str
) -> None:
    table = _table(partitioning, kind)
    listed = [Partition(ids[0], 10, 4 * GIB), Partition(ids[1], 10, 4 * GIB), Partition(NULL_PARTITION, 1, GIB)]
    if kind is None:
        listed = [*listed[:2], Partition(UNPARTITIONED, 3, GIB)]
    parts = slices(partitioning, kind or "TIMESTAMP", listed, 5 * GIB, None)
    column = "`at`" if kind else "_PARTITIONTIME"
    assert parts[0].where == f"{column} >= {first} AND {column} < {second}" and parts[0].bytes == 4 * GIB
    assert parts[1].where.startswith(f"{column} >= {second} AND {column} < ")
    # The rows no dated partition holds come last, in a job of their own.
    assert parts[2].where == (f"{column} IS NULL" if kind else "_PARTITIONTIME IS NULL") and len(parts) == 3
    for part in parts:
        step = step_of(Backfill(dataset="d", table="t", columns=(table.columns[1],), part=part))
        assert step.sql is not None and step.sql.endswith(part.where) and "`n` IS NULL" in step.sql
        oracle().analyze(step.sql, [table])


def test_consecutive_partitions_share_a_job_up_to_the_bound() -> None:
    listed = [Partition(f"202611{d:02d}", 10, GIB) for d in range(1, 8)]
    parts = slices(Partitioning(column="at"), "DATE", listed, 3 * GIB, None)
    assert [len(p.ids) for p in parts] == [3, 3, 1] and [p.bytes for p in parts] == [3 * GIB, 3 * GIB, GIB]


def test_a_partition_larger_than_the_bound_is_a_job_of_its_own() -> None:
    listed = [Partition("20261101", 10, GIB), Partition("20261102", 10, 9 * GIB), Partition("20261103", 10, GIB)]
    parts = slices(Partitioning(column="at"), "DATE", listed, 2 * GIB, None)
    assert [p.ids for p in parts] == [("20261101",), ("20261102",), ("20261103",)]


def test_without_bytes_the_estimate_is_shared_by_rows() -> None:
    listed = [Partition("20261101", 30, None), Partition("20261102", 10, None)]
    parts = slices(Partitioning(column="at"), "DATE", listed, 10, 400)
    assert [p.bytes for p in parts] == [300, 100]


def test_partitions_done_are_skipped_and_split_the_ranges() -> None:
    listed = [Partition(f"202611{d:02d}", 10, GIB) for d in range(1, 6)]
    done = frozenset({"20261101", "20261103"})
    parts = slices(Partitioning(column="at"), "DATE", listed, 10 * GIB, None, done)
    # 02 alone (03 is done: a range over it would bill it again), then 04..05.
    assert [p.ids for p in parts] == [("20261102",), ("20261104", "20261105")]


@pytest.mark.googlesql
def test_out_of_range_rows_of_a_column_partitioned_table_get_the_last_job() -> None:
    table = _table(Partitioning(column="at", range=RangePartitioning(start=0, end=100, interval=10)), "INT64")
    listed = [Partition("0", 5, GIB), Partition("90", 5, GIB), Partition(UNPARTITIONED, 1, GIB)]
    parts = slices(table.partitioning or Partitioning(), "INT64", listed, GIB, None)
    assert parts[-1].where == "(`at` < 0 OR `at` >= 100)"
    oracle().analyze(step_of(Backfill(dataset="d", table="t", columns=(table.columns[1],), part=parts[-1])).sql or "", [table])


def test_on_the_local_engine_the_buffer_job_alone_fills_an_ingestion_time_table(workdir: Path) -> None:
    """The local engine has no ingestion time: its rows read _PARTITIONTIME NULL, as BigQuery's
    streaming buffer does. So the jobs over dated partitions change none of them, and the
    buffer's job, run last, fills them all."""
    from bqmanage.changes import AddColumn, CreateDataset, CreateTable
    from bqmanage.model.schema import Dataset
    from tests.helpers import engine_for

    table = _table(Partitioning(column=None), None)
    new = Column(name="flag", type="BOOL", default="FALSE")
    engine = engine_for(None)
    try:
        engine.execute(step_of(CreateDataset(dataset="d", table=None, desired=Dataset(name="d"))))
        engine.execute(step_of(CreateTable(dataset="d", table="t", desired=table)))
        engine.query("INSERT INTO `d`.`t` (id, n) VALUES ('a', 1), ('b', 2)")
        engine.execute(step_of(AddColumn(dataset="d", table="t", column=new)))
        listed = engine.partitions(table)
        assert listed == [Partition(UNPARTITIONED, 2, listed[0].bytes)]
        dated, buffer = slices(table.partitioning or Partitioning(), "TIMESTAMP", [Partition("20261101", 5, 1), *listed], 1, None)
        engine.execute(step_of(Backfill(dataset="d", table="t", columns=(new,), part=dated)))
        assert engine.query("SELECT COUNT(*) AS n FROM `d`.`t` WHERE flag IS NULL")[0]["n"] == 2
        engine.execute(step_of(Backfill(dataset="d", table="t", columns=(new,), part=buffer)))
        assert engine.query("SELECT COUNT(*) AS n FROM `d`.`t` WHERE flag IS NULL")[0]["n"] == 0
    finally:
        engine.close()


@pytest.mark.parametrize(
    ("partitioning", "kind", "value", "expected"),
    [
        (Partitioning(column="at", granularity="HOUR"), "TIMESTAMP", "TIMESTAMP '2026-11-01 23:30:00+00'", "2026110123"),
        (Partitioning(column="at", granularity="MONTH"), "DATETIME", "DATETIME '2026-12-05 10:00:00'", "202612"),
        (Partitioning(column="at", range=RangePartitioning(start=0, end=100, interval=10)), "INT64", "42", "40"),
        (Partitioning(column="at", range=RangePartitioning(start=0, end=100, interval=10)), "INT64", "420", UNPARTITIONED),
        (Partitioning(column="at", granularity="DAY"), "DATE", "NULL", NULL_PARTITION),
    ],
)
def test_the_local_engine_lists_partitions_with_bigquerys_ids(
    partitioning: Partitioning, kind: str, value: str, expected: str, workdir: Path
) -> None:
    from bqmanage.changes import CreateDataset, CreateTable
    from bqmanage.model.schema import Dataset
    from tests.helpers import engine_for

    table = _table(partitioning, kind)
    engine = engine_for(None)
    try:
        engine.execute(step_of(CreateDataset(dataset="d", table=None, desired=Dataset(name="d"))))
        engine.execute(step_of(CreateTable(dataset="d", table="t", desired=table)))
        engine.query(f"INSERT INTO `d`.`t` (id, n, at) VALUES ('a', 1, {value}), ('b', NULL, {value})")
        (listed,) = engine.partitions(table)
        # Two rows: "a" (3 bytes) and "b", n 8 bytes where set, the partitioning value's own size.
        assert listed.id == expected and listed.rows == 2 and listed.bytes is not None and listed.bytes >= 3 + 3 + 8
    finally:
        engine.close()
