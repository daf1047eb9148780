"""Plan stage: order the changes into steps, apply BigQuery's safety rules, render each step.

Pure: no I/O. Engine quirks arrive as data (``Capabilities``), never as ``if engine == ...``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bqmanage import render
from bqmanage.changes import (
    AddColumn,
    AddField,
    Change,
    CreateDataset,
    CreateTable,
    DropDefault,
    RelaxColumn,
    SetClustering,
    SetColumnDescription,
    SetDatasetOptions,
    SetDefault,
    SetTableOptions,
    WidenType,
)
from bqmanage.model import Column, Definitions, Partitioning, TableRef


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do and see. The planner and diff read these; nothing branches on names."""

    # Several ADD COLUMN actions in one ALTER TABLE. The plan always has BigQuery's one ALTER per
    # table; an engine without this runs its actions one at a time (the plan says so).
    multi_action_alter: bool = True
    # How the engine runs the plan's BigQuery statements, when not verbatim; plan prints it.
    runs_as: str | None = None
    # Properties the engine cannot read back (diff skips them).
    unobservable: frozenset[str] = frozenset()
    # Metadata updates allowed per table per 10 s; apply paces itself to stay under it.
    metadata_updates_per_10s: int | None = None
    # INFORMATION_SCHEMA views ("COLUMN_FIELD_PATHS") or columns ("COLUMNS.column_default") it lacks.
    info_schema_missing: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Step:
    """One statement or API call, with the one-line reason ``plan`` prints."""

    kind: str
    dataset: str
    table: str | None
    reason: str
    sql: str | None = None
    api: dict[str, Any] | None = None  # {"method": "tables.patch", ...} for what DDL cannot do
    changes: tuple[Change, ...] = ()
    is_metadata: bool = True  # counts toward the per-table metadata update limit

    def text(self) -> str:
        """What ``plan`` and ``--dry-run`` print for this step."""
        if self.sql is not None:
            return self.sql + ";"
        return f"-- API {self.api['method'] if self.api else '?'}: {self.reason}"


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    refused: tuple[Change, ...]
    changes: tuple[Change, ...]
    backfill: tuple[tuple[str, str, tuple[str, ...]], ...] = field(default=())  # (dataset, table, columns)

    @property
    def has_refused(self) -> bool:
        return bool(self.refused)


_ORDER = (CreateDataset, SetDatasetOptions, CreateTable, AddColumn, AddField, RelaxColumn, WidenType,
          SetDefault, DropDefault, SetColumnDescription, SetTableOptions, SetClustering)


def build_plan(changes: list[Change], project: str | None = None,
               resume_backfill: dict[tuple[str, str], tuple[str, ...]] | None = None,
               desired: Definitions | None = None,
               backfill: bool = True) -> Plan:
    """Turn changes into ordered, rendered steps; refused changes stop the whole plan.

    :param resume_backfill: columns whose backfill an interrupted earlier apply left undone.
    :param desired: the definitions, to render resumed backfills and partition filters.
    """
    refused = tuple(c for c in changes if not c.is_safe)
    safe = sorted((c for c in changes if c.is_safe), key=lambda c: _ORDER.index(type(c)))
    steps: list[Step] = []
    for change in safe:
        if isinstance(change, (AddColumn, AddField)):
            continue  # grouped per table below
        steps.append(_step(change, project))
    _group_adds(safe, steps, project)
    desired_columns = {(t.dataset, t.name): t.columns for t in desired.tables} if desired else {}
    backfills = _backfills(safe, resume_backfill or {}, desired_columns)
    if backfill:
        for (dataset, table), columns in backfills.items():
            ref = TableRef(dataset=dataset, table=table)
            names = ", ".join(c.name for c in columns)
            steps.append(Step("backfill", dataset, table, f"existing rows of {ref} get the default of {names} (they read NULL)",
                              sql=render.backfill_sql(ref, list(columns), project, _filter_of(desired, ref)),
                              is_metadata=False))
    steps.sort(key=_step_order)
    record = tuple((d, t, tuple(c.name for c in cols)) for (d, t), cols in backfills.items())
    return Plan(steps=tuple(steps), refused=refused, changes=tuple(changes), backfill=record)


_KIND_ORDER = ("create_dataset", "set_dataset_options", "create_table", "add_columns", "add_fields",
               "relax_column", "widen_type", "set_default", "drop_default", "set_column_description",
               "set_table_options", "set_clustering", "backfill")


def _step_order(step: Step) -> tuple[int, str, int]:
    # Datasets first, then tables one by one, each in the order ALTERs must run.
    group = 0 if step.kind in ("create_dataset", "set_dataset_options") else 1
    return (group, f"{step.dataset}.{step.table or ''}", _KIND_ORDER.index(step.kind))


def _group_adds(safe: list[Change], steps: list[Step], project: str | None) -> None:
    tables: dict[tuple[str, str], list[Change]] = {}
    for change in safe:
        if isinstance(change, (AddColumn, AddField)):
            tables.setdefault((change.dataset, change.table or ""), []).append(change)
    for (dataset, table), group in tables.items():
        ref = TableRef(dataset=dataset, table=table)
        adds = [c for c in group if isinstance(c, AddColumn)]
        if adds:
            # One multi-action ALTER per table: one metadata update instead of one per column. The
            # plan is BigQuery's on every target; an engine that cannot run it whole splits it.
            names = ", ".join(a.column.name for a in adds)
            steps.append(Step("add_columns", dataset, table, f"add {names} (NULLABLE, no DEFAULT: BigQuery rejects it on existing tables)",
                              sql=render.add_columns_sql(ref, [a.column for a in adds], project), changes=tuple(adds)))
            # The default of a new column is set after the ADD, then existing rows are backfilled.
            for add in adds:
                if add.column.default is not None:
                    steps.append(_step(SetDefault(dataset=dataset, table=table, column=add.column), project))
        fields = [c for c in group if isinstance(c, AddField)]
        if fields:
            paths = ", ".join(f.path for f in fields)
            steps.append(Step("add_fields", dataset, table, f"add nested fields {paths} via tables.patch (DDL cannot)",
                              api={"method": "tables.patch", "fields": [f.path for f in fields]}, changes=tuple(fields)))


def _step(change: Change, project: str | None) -> Step:
    ref = TableRef(dataset=change.dataset, table=change.table or "")
    reason = change.describe()
    base = {"dataset": change.dataset, "table": change.table, "reason": reason, "changes": (change,)}
    if isinstance(change, CreateDataset):
        return Step("create_dataset", sql=render.create_schema_sql(change.desired, project), **base)
    if isinstance(change, SetDatasetOptions):
        return Step("set_dataset_options", sql=render.set_dataset_options_sql(change, project), **base)
    if isinstance(change, CreateTable):
        return Step("create_table", sql=render.create_table_sql(change.desired, project), **base)
    if isinstance(change, RelaxColumn):
        return Step("relax_column", sql=render.relax_column_sql(ref, change.column, project), **base)
    if isinstance(change, WidenType):
        return Step("widen_type", sql=render.widen_type_sql(ref, change.column, project), **base)
    if isinstance(change, SetDefault):
        return Step("set_default", sql=render.set_default_sql(ref, change.column, project), **base)
    if isinstance(change, DropDefault):
        return Step("drop_default", sql=render.drop_default_sql(ref, change.column, project), **base)
    if isinstance(change, SetColumnDescription):
        return Step("set_column_description", sql=render.set_column_description_sql(ref, change.column, project), **base)
    if isinstance(change, SetTableOptions):
        return Step("set_table_options", sql=render.set_table_options_sql(change, project), **base)
    if isinstance(change, SetClustering):
        # Clustering changes only through the API (tables.update/patch), not DDL.
        return Step("set_clustering", api={"method": "tables.patch", "clustering": list(change.desired_fields)}, **base)
    raise TypeError(f"unsupported change {type(change).__name__}")


def _filter_of(desired: Definitions | None, ref: TableRef) -> Partitioning | None:
    """The partitioning a DML statement must filter on: BigQuery refuses any query over a table
    with require_partition_filter whose WHERE has no predicate on the partitioning column
    (https://cloud.google.com/bigquery/docs/managing-partitioned-tables#require-filter)."""
    table = desired.table(ref.dataset, ref.table) if desired else None
    return table.partitioning if table is not None and table.require_partition_filter else None


def _backfills(safe: list[Change], resume: dict[tuple[str, str], tuple[str, ...]],
               desired_columns: dict[tuple[str, str], tuple[Column, ...]]) -> dict[tuple[str, str], tuple[Column, ...]]:
    out: dict[tuple[str, str], list[Column]] = {}
    for change in safe:
        if isinstance(change, AddColumn) and change.column.default is not None:
            out.setdefault((change.dataset, change.table or ""), []).append(change.column)
    for key, names in resume.items():
        wanted = {n.lower() for n in names}
        have = {c.key for c in out.get(key, [])}
        for column in desired_columns.get(key, ()):
            if column.key in wanted and column.key not in have and column.default is not None:
                out.setdefault(key, []).append(column)
    return {k: tuple(v) for k, v in out.items()}
