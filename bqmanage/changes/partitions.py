"""A large backfill cut into bounded jobs, one per range of partitions.

An UPDATE on a partitioned table bills every partition it touches, all columns
(https://cloud.google.com/bigquery/docs/reference/standard-sql/dml-syntax#on-demand_query_size_calculation):
the backfill of a freshly added column bills the whole table in one job, holds the table's DML
queue for as long as that takes, and fails whole on any error. Cut into ranges of partitions,
each job bills only its own, a failure costs one range, and the apply ledger records each range
done, so that a re-run resumes at the next one.

Pure: the engine lists the partitions (``Partition``, from INFORMATION_SCHEMA.PARTITIONS on
BigQuery), this module groups them and renders each group's predicate on the partitioning
column alone, which also satisfies ``require_partition_filter``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bqmanage.model.names import quote
from bqmanage.model.schema import Partitioning

# BigQuery's partition ids for rows outside the dated (or ranged) partitions
# (https://cloud.google.com/bigquery/docs/partitioned-tables#date_timestamp_partitioned_tables):
# NULL in the partitioning column, and rows out of range or, on an ingestion-time table, still in
# the streaming buffer (_PARTITIONTIME is NULL there).
NULL_PARTITION = "__NULL__"
UNPARTITIONED = "__UNPARTITIONED__"
_FORMATS = {"DAY": "%Y%m%d", "HOUR": "%Y%m%d%H", "MONTH": "%Y%m", "YEAR": "%Y"}


@dataclass(frozen=True)
class Partition:
    """One partition as the engine lists it: its id, rows, and logical bytes (None: unknown)."""

    id: str
    rows: int
    bytes: int | None = None


@dataclass(frozen=True)
class Slice:
    """The partitions one backfill job covers, its predicate, and the bytes it would bill."""

    ids: tuple[str, ...]
    where: str
    bytes: int | None

    @property
    def label(self) -> str:
        return f"partition {self.ids[0]}" if len(self.ids) == 1 else f"partitions {self.ids[0]}..{self.ids[-1]} ({len(self.ids)})"


def slices(
    partitioning: Partitioning,
    column_type: str,
    listed: list[Partition],
    bound: int,
    estimate: int | None,
    done: frozenset[str] = frozenset(),
) -> list[Slice]:
    """The jobs of a backfill over ``listed`` partitions, skipping those ``done`` by an earlier run:
    runs of consecutive partitions, each billing at most ``bound`` where one partition allows
    (a larger partition is a job of its own), then the NULL partition, then the unpartitioned
    rows last (the streaming buffer: the one job BigQuery may refuse for a while).

    A partition's bytes are the listed ones; where the engine has none, ``estimate`` (the dry run
    of the whole backfill) shared by rows; where neither is known, each partition is its own job."""
    sizes = _sizes(listed, estimate)
    dated = sorted(p.id for p in listed if p.id not in (NULL_PARTITION, UNPARTITIONED))
    out: list[Slice] = []
    run: list[str] = []
    for pid in dated:
        if pid in done or (run and _over(sizes, run, pid, bound)):
            out += _close(run, partitioning, column_type, sizes)
            run = []
        if pid not in done:
            run.append(pid)
    out += _close(run, partitioning, column_type, sizes)
    column = quote(partitioning.column) if partitioning.column else "_PARTITIONTIME"
    if any(p.id == NULL_PARTITION for p in listed) and NULL_PARTITION not in done:
        out.append(Slice((NULL_PARTITION,), f"{column} IS NULL", sizes.get(NULL_PARTITION)))
    if any(p.id == UNPARTITIONED for p in listed) and UNPARTITIONED not in done:
        if partitioning.column is None:  # ingestion time: the streaming buffer's rows
            where = "_PARTITIONTIME IS NULL"
        elif dated:  # out of range (and, for a column, rows the listing did not place yet)
            lo, hi = _bounds(dated[0], dated[-1], partitioning, column_type)
            where = f"({column} < {lo} OR {column} >= {hi})"
        else:
            where = f"{column} IS NOT NULL"
        out.append(Slice((UNPARTITIONED,), where, sizes.get(UNPARTITIONED)))
    return out


def _sizes(listed: list[Partition], estimate: int | None) -> dict[str, int]:
    if sum(p.bytes or 0 for p in listed) > 0:
        return {p.id: p.bytes or 0 for p in listed}
    rows = sum(p.rows for p in listed)
    if estimate is None or rows <= 0:
        return {}
    return {p.id: estimate * p.rows // rows for p in listed}


def _over(sizes: dict[str, int], run: list[str], pid: str, bound: int) -> bool:
    if not sizes:
        return True  # sizes unknown: one partition per job
    return sum(sizes.get(p, 0) for p in run) + sizes.get(pid, 0) > bound


def _close(run: list[str], partitioning: Partitioning, column_type: str, sizes: dict[str, int]) -> list[Slice]:
    if not run:
        return []
    column = quote(partitioning.column) if partitioning.column else "_PARTITIONTIME"
    lo, hi = _bounds(run[0], run[-1], partitioning, column_type)
    billed = sum(sizes[p] for p in run) if sizes else None
    return [Slice(tuple(run), f"{column} >= {lo} AND {column} < {hi}", billed)]


def _bounds(first: str, last: str, partitioning: Partitioning, column_type: str) -> tuple[str, str]:
    """The GoogleSQL literals of the start of partition ``first`` and the end of ``last``."""
    if partitioning.range is not None:
        return str(int(first)), str(int(last) + partitioning.range.interval)
    unit = partitioning.granularity
    start = dt.datetime.strptime(first, _FORMATS[unit])
    end = _next(dt.datetime.strptime(last, _FORMATS[unit]), unit)
    return _literal(start, column_type), _literal(end, column_type)


def _next(start: dt.datetime, unit: str) -> dt.datetime:
    if unit == "HOUR":
        return start + dt.timedelta(hours=1)
    if unit == "DAY":
        return start + dt.timedelta(days=1)
    if unit == "MONTH":
        return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return start.replace(year=start.year + 1)


def _literal(moment: dt.datetime, column_type: str) -> str:
    if column_type == "DATE":
        return f"DATE '{moment:%Y-%m-%d}'"
    if column_type == "DATETIME":
        return f"DATETIME '{moment:%Y-%m-%d %H:%M:%S}'"
    return f"TIMESTAMP '{moment:%Y-%m-%d %H:%M:%S}+00'"  # TIMESTAMP columns and _PARTITIONTIME
