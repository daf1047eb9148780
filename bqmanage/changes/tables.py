"""Change kinds of a table as a whole: create it, its options, clustering and partitioning, and
the backfill of its existing rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from bqmanage.changes.base import (
    Change,
    Drift,
    LocalTarget,
    Options,
    Refusal,
    Refused,
    TablePatch,
    mismatch,
    option_diff,
    options_drifts,
)
from bqmanage.changes.partitions import Slice
from bqmanage.model.defaults import default_expression
from bqmanage.model.names import quote
from bqmanage.model.schema import Column, Partitioning, Table
from bqmanage.render import create_table_sql, every_partition_sql, set_options_sql

_TABLE_OPTIONS = ("description", "partition_expiration_days", "friendly_name", "labels", "require_partition_filter")


@dataclass(frozen=True, kw_only=True)
class CreateTable(Change):
    """A defined table is not live."""

    kind: ClassVar[str] = "create_table"
    order: ClassVar[int] = 20
    desired: Table

    @classmethod
    def on_table(cls, desired: Table, actual: Table | None, unobservable: frozenset[str]) -> Iterator[Change]:
        if actual is None:
            yield CreateTable(dataset=desired.dataset, table=desired.name, desired=desired)

    def describe(self) -> str:
        return f"create table {self.target} ({len(self.desired.columns)} columns)"

    def render(self, project: str | None) -> str:
        return create_table_sql(self.desired, project)

    def drifts(self) -> list[Drift]:
        return [Drift("missing_table", self.target, "table is missing", "creates it", expected=self.target)]

    def run_local(self, db: LocalTarget) -> None:
        db.create_table(self.desired)


@dataclass(frozen=True, kw_only=True)
class SetTableOptions(Change):
    """A live table's description, friendly name, labels, partition expiration or partition
    filter requirement differ from its definition."""

    kind: ClassVar[str] = "set_table_options"
    order: ClassVar[int] = 100
    options: Options = ()

    @classmethod
    def on_table(cls, desired: Table, actual: Table | None, unobservable: frozenset[str]) -> Iterator[Change]:
        if actual is None:
            return
        if options := option_diff(desired, actual, (n for n in _TABLE_OPTIONS if n not in unobservable)):
            yield SetTableOptions(dataset=desired.dataset, table=desired.name, options=options)

    def describe(self) -> str:
        return f"set table options {', '.join(o[0] for o in self.options)} on {self.target}"

    def render(self, project: str | None) -> str:
        return f"ALTER TABLE {self.ref.sql(project)} {set_options_sql((n, d) for n, d, _ in self.options)}"

    def drifts(self) -> list[Drift]:
        return options_drifts(self, self.options)

    def run_local(self, db: LocalTarget) -> None:
        db.update_table(self.ref, {name: desired for name, desired, _ in self.options})


@dataclass(frozen=True, kw_only=True)
class SetClustering(TablePatch):
    """A live table's clustering differs from its definition. Clustering changes through the
    API only (tables.patch), not DDL."""

    kind: ClassVar[str] = "set_clustering"
    order: ClassVar[int] = 110
    desired_fields: tuple[str, ...] = ()
    actual_fields: tuple[str, ...] = ()

    @classmethod
    def on_table(cls, desired: Table, actual: Table | None, unobservable: frozenset[str]) -> Iterator[Change]:
        if (
            actual is not None
            and "clustering" not in unobservable
            and tuple(c.lower() for c in desired.clustering) != tuple(c.lower() for c in actual.clustering)
        ):
            yield SetClustering(
                dataset=desired.dataset, table=desired.name, desired_fields=desired.clustering, actual_fields=actual.clustering
            )

    def describe(self) -> str:
        return f"set clustering of {self.target} to ({', '.join(self.desired_fields) or 'none'})"

    def render(self, project: str | None) -> dict[str, Any]:
        return {"method": "tables.patch", "clustering": list(self.desired_fields)}

    def patch(self, table: dict[str, Any]) -> str:
        table["clustering"] = {"fields": list(self.desired_fields)} if self.desired_fields else None
        return "clustering"

    def drifts(self) -> list[Drift]:
        expected, actual = list(self.desired_fields), list(self.actual_fields)
        return [Drift("clustering_mismatch", self.target, mismatch("clustering", expected, actual), "sets it", expected, actual)]

    def run_local(self, db: LocalTarget) -> None:
        db.update_table(self.ref, {"clustering": self.desired_fields})


@dataclass(frozen=True, kw_only=True)
class ChangePartitioning(Refused):
    """A live table's partitioning differs from its definition: fixed at creation."""

    kind: ClassVar[str] = "change_partitioning"
    desired_spec: str = ""
    actual_spec: str = ""

    @classmethod
    def on_table(cls, desired: Table, actual: Table | None, unobservable: frozenset[str]) -> Iterator[Change]:
        if actual is not None and _key(desired.partitioning) != _key(actual.partitioning):
            yield ChangePartitioning(
                dataset=desired.dataset,
                table=desired.name,
                desired_spec=_text(desired.partitioning),
                actual_spec=_text(actual.partitioning),
            )

    def refusal(self) -> Refusal:
        return Refusal(
            "BQM104",
            f"partitioning {self.actual_spec} -> {self.desired_spec}; BigQuery fixes partitioning at creation",
            "create a new table with the new partitioning, copy the rows with INSERT ... SELECT, then swap names",
        )

    def describe(self) -> str:
        return f"change partitioning of {self.target}"

    def drifts(self) -> list[Drift]:
        return [
            Drift(
                "partitioning_mismatch",
                self.target,
                mismatch("partitioning", self.desired_spec, self.actual_spec),
                expected=self.desired_spec,
                actual=self.actual_spec,
            )
        ]


def _key(partitioning: Partitioning | None) -> tuple[object, ...] | None:
    return partitioning.key() if partitioning else None


def _text(partitioning: Partitioning | None) -> str:
    if partitioning is None:
        return "none"
    if partitioning.range:
        r = partitioning.range
        return f"RANGE_BUCKET({partitioning.column}, GENERATE_ARRAY({r.start}, {r.end}, {r.interval}))"
    column = partitioning.column or "_PARTITIONTIME"
    return f"{column} by {partitioning.granularity}"


@dataclass(frozen=True, kw_only=True)
class Backfill(Change):
    """Existing rows get the default of columns just added, where they are NULL. The plan adds
    it after the columns of ``backfills()``; diff never detects it."""

    kind: ClassVar[str] = "backfill"
    order: ClassVar[int] = 120
    is_metadata: ClassVar[bool] = False  # DML: not under the metadata update limit
    columns: tuple[Column, ...]
    # The table's partitioning when it has require_partition_filter: BigQuery refuses a DML
    # statement without a predicate on it
    # (https://cloud.google.com/bigquery/docs/managing-partitioned-tables#require-filter).
    partition_filter: Partitioning | None = None
    # One job of a backfill cut by partitions (changes.partitions): its WHERE keeps to them.
    part: Slice | None = None
    # Of how many jobs this is one (the plan's reason says "job 2 of 7").
    of: tuple[int, int] | None = None

    def describe(self) -> str:
        names = ", ".join(c.name for c in self.columns)
        what = f"existing rows of {self.ref} get the default of {names} (they read NULL)"
        if self.part is None:
            return what
        job = f"job {self.of[0]} of {self.of[1]}, " if self.of else ""
        return f"{what}; {job}{self.part.label}"

    def render(self, project: str | None) -> str:
        """One UPDATE per table; with a partition filter, its WHERE also holds a predicate on the
        partitioning column alone that excludes no row, NULL partitions included."""
        sets = ",\n  ".join(
            f"{quote(c.name)} = IFNULL({quote(c.name)}, {default_expression(c.type, c.default or 'NULL')})" for c in self.columns
        )
        where = " OR ".join(f"{quote(c.name)} IS NULL" for c in self.columns)
        if self.part is not None:  # a predicate on the partitioning column alone: the filter too
            where = f"({where})\n  AND {self.part.where}"
        elif self.partition_filter is not None:
            where = f"({where})\n  AND {every_partition_sql(self.partition_filter)}"
        return f"UPDATE {self.ref.sql(project)}\nSET\n  {sets}\nWHERE {where}"

    def drifts(self) -> list[Drift]:
        return []  # reported as the missing column it follows

    def run_local(self, db: LocalTarget) -> None:
        db.backfill(self.ref, self.render(None))
