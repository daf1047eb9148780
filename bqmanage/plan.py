"""Plan stage: refuse what BigQuery cannot do in place, then turn the other changes into ordered,
rendered steps, plus the backfill of new columns' defaults.

Pure: no I/O. Each change kind renders its own step and states where it goes (``changes``);
engine quirks arrive as data (``Capabilities``), never as ``if engine == ...``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from bqmanage.changes import Backfill, Change, CreateDataset, without_defaults
from bqmanage.changes.partitions import Slice
from bqmanage.errors import RefusedChangeError, UsageError
from bqmanage.model.schema import Column, Definitions, Partitioning, TableRef
from bqmanage.terminal import printable


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
    # Whether tables.get shows the columns ALTER added; when not, the engine reads a query's schema.
    catalog_follows_alter: bool = True
    # Whether several threads may call the engine at once (--all-tenants runs tenants in a pool).
    thread_safe: bool = True
    # Whether one query job may hold several statements (a BigQuery script): tenant add creates a
    # new tenant's dataset in one job instead of one per statement.
    scripts: bool = False
    # Whether CREATE SCHEMA must name a location: BigQuery puts a dataset without one in the US
    # (https://cloud.google.com/bigquery/docs/locations#specify_locations), which nobody meant.
    requires_location: bool = False
    # Whether its whole catalog is one read whatever its size (a local file): check --all-tenants
    # then reads every tenant at once instead of in batches.
    one_catalog_read: bool = False
    # Whether holding the warehouse open proves that no apply is running elsewhere (the local file
    # admits one writer, or readers, never both): a ledger's "running" row is then a killed run.
    one_writer: bool = False
    # Whether its bulk catalog (INFORMATION_SCHEMA) may lag behind a change: check then confirms
    # the tables of a recent apply with tables.get.
    catalog_lags: bool = False


@dataclass(frozen=True)
class Step:
    """One statement or API call, with the one-line reason ``plan`` prints. ``kind`` is the kind
    of its changes."""

    kind: str
    dataset: str
    table: str | None
    reason: str
    sql: str | None = None
    api: dict[str, Any] | None = None  # {"method": "tables.patch", ...} for what DDL cannot do
    changes: tuple[Change, ...] = ()
    is_metadata: bool = True  # counts toward the per-table metadata update limit
    actions: tuple[str, ...] = ()  # ``sql`` one action per statement (Rendered.actions)
    detail: tuple[str, ...] = ()  # what an API call changes, one line each (Rendered.detail)
    fallback: tuple[str, ...] = ()  # DDL for the defaults of an API call BigQuery rejects (Rendered.fallback)

    def text(self) -> str:
        """What ``plan`` and ``--dry-run`` print for this step."""
        if self.sql is not None:
            return self.sql + ";"
        lines = [f"-- API {self.api['method'] if self.api else '?'}: {self.reason}"]
        lines += [f"--   {line}" for line in self.detail]
        if self.fallback:
            lines.append("-- if BigQuery rejects a default through the API, apply sets it with DDL instead:")
            lines += [f"-- {sql};" for sql in self.fallback]
        return "\n".join(lines)


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    refused: tuple[Change, ...]
    backfill: tuple[tuple[str, str, tuple[str, ...]], ...] = field(default=())  # (dataset, table, columns)
    # (dataset, table, partition ids) a backfill cut by partitions had done before this plan.
    backfill_done: tuple[tuple[str, str, tuple[str, ...]], ...] = field(default=())

    @property
    def has_refused(self) -> bool:
        return bool(self.refused)


def refusals_text(plan: Plan) -> str:
    """The message of a plan with refused changes: each one, why, and the manual path."""
    lines = [f"Refused: {len(plan.refused)} change(s) BigQuery cannot make in place; nothing was run."]
    for change in plan.refused:
        refusal = change.refusal()
        assert refusal is not None
        # Targets, reasons and suggestions name live columns and tables: the warehouse's text, so
        # each line is escaped on its own and only our line breaks stay.
        lines.append(printable(f"  {refusal.code} {change.target}: {refusal.reason}"))
        lines.append(printable(f"        manual path: {refusal.suggestion}"))
    return "\n".join(lines)


def build_plan(
    changes: list[Change],
    project: str | None = None,
    resume_backfill: dict[tuple[str, str], tuple[str, ...]] | None = None,
    desired: Definitions | None = None,
    backfill: bool = True,
) -> Plan:
    """Turn changes into ordered, rendered steps; refused changes stop the whole plan.

    :param resume_backfill: columns whose backfill an interrupted earlier apply left undone.
    :param desired: the definitions, to render resumed backfills and partition filters.
    :param backfill: False plans no backfill steps (they are still recorded as owed).
    """
    refused = tuple(c for c in changes if c.refusal() is not None)
    planned = [c for c in changes if c.refusal() is None and not c.report_only]
    planned += [f for c in list(planned) for f in c.follow_ups()]
    backfills = _backfills(planned, resume_backfill or {}, desired)
    if backfill:
        planned += [
            Backfill(dataset=d, table=t, columns=cols, partition_filter=_filter_of(desired, TableRef(dataset=d, table=t)))
            for (d, t), cols in backfills.items()
        ]
    steps = sorted((_step(group, project) for group in _groups(planned)), key=_step_order)
    record = tuple((d, t, tuple(c.name for c in cols)) for (d, t), cols in backfills.items())
    return Plan(steps=tuple(steps), refused=refused, backfill=record)


def step_of(change: Change, project: str | None = None) -> Step:
    """The step of one change on its own (the ledger's table, tests)."""
    return _step([change], project)


def fallback_steps(step: Step, project: str | None = None) -> list[Step]:
    """What apply runs instead of a ``patch_columns`` step whose defaults BigQuery rejected through
    the API: the patch without them (when it has anything else), then each default's DDL."""
    rest = without_defaults(step.changes)
    steps = [_step(rest, project)] if rest else []
    for change in step.changes:
        if change not in rest:
            sql = change.render(project)
            assert isinstance(sql, str)  # a default's DDL form
            reason = f"{change.describe()} with DDL: BigQuery rejected it through tables.patch"
            steps.append(Step(change.kind, change.dataset, change.table, reason, sql=sql, changes=(change,)))
    return steps


def _groups(changes: list[Change]) -> list[list[Change]]:
    """One group per change, except that a ``per_table`` kind has one per table (one ALTER or
    one tables.patch with all of them), and kinds that share a ``step_kind`` one per table
    together; in the order the changes came."""
    groups: dict[object, list[Change]] = {}
    for i, change in enumerate(changes):
        kind = type(change)
        key: object = i
        if kind.step_kind:
            key = (kind.step_kind, change.dataset, change.table)
        elif kind.per_table:
            key = (kind, change.dataset, change.table)
        groups.setdefault(key, []).append(change)
    return list(groups.values())


def _step(group: list[Change], project: str | None) -> Step:
    kind, first = type(group[0]), group[0]
    rendered = kind.render_group(group, project)
    return Step(
        kind.step_kind or kind.kind,
        first.dataset,
        first.table,
        rendered.reason,
        sql=rendered.sql,
        api=rendered.api,
        changes=tuple(group),
        is_metadata=kind.is_metadata,
        actions=rendered.actions,
        detail=rendered.detail,
        fallback=rendered.fallback,
    )


def _step_order(step: Step) -> tuple[int, str, int]:
    # Datasets first, then tables one by one, each in the order its kinds must run.
    return (0 if step.table is None else 1, f"{step.dataset}.{step.table or ''}", type(step.changes[0]).order)


def _filter_of(desired: Definitions | None, ref: TableRef) -> Partitioning | None:
    """The partitioning a DML statement must filter on: BigQuery refuses any query over a table
    with require_partition_filter whose WHERE has no predicate on the partitioning column
    (https://cloud.google.com/bigquery/docs/managing-partitioned-tables#require-filter)."""
    table = desired.table(ref.dataset, ref.table) if desired else None
    return table.partitioning if table is not None and table.require_partition_filter else None


def _backfills(
    planned: list[Change], resume: dict[tuple[str, str], tuple[str, ...]], desired: Definitions | None
) -> dict[tuple[str, str], tuple[Column, ...]]:
    """Per table, the columns whose existing rows need their default: those the planned changes
    add, then those an interrupted apply left undone (read from the definitions)."""
    out: dict[tuple[str, str], list[Column]] = {}
    for change in planned:
        for column in change.backfills():
            out.setdefault((change.dataset, change.table or ""), []).append(column)
    for (dataset, table), names in resume.items():
        wanted = {n.lower() for n in names}
        have = {c.key for c in out.get((dataset, table), [])}
        defined = desired.table(dataset, table) if desired else None
        for column in defined.columns if defined else ():
            if column.key in wanted and column.key not in have and column.default is not None:
                out.setdefault((dataset, table), []).append(column)
    return {k: tuple(v) for k, v in out.items()}


def cut_backfill(
    plan: Plan, estimates: list[int | None], index: int, parts: list[Slice], done: tuple[str, ...], project: str | None
) -> tuple[Plan, list[int | None]]:
    """The plan with its backfill step ``index`` replaced by one job per slice of partitions, each
    with its bytes as its estimate; ``done``: the partitions an earlier run finished."""
    step = plan.steps[index]
    whole = step.changes[0]
    assert isinstance(whole, Backfill)
    jobs = [
        step_of(replace(whole, part=part, of=(i, len(parts)), partition_filter=None), project) for i, part in enumerate(parts, 1)
    ]
    steps = plan.steps[:index] + tuple(jobs) + plan.steps[index + 1 :]
    out = estimates[:index] + [p.bytes for p in parts] + estimates[index + 1 :]
    record = ((whole.dataset, whole.table or "", done),) if done else ()
    return replace(plan, steps=steps, backfill_done=plan.backfill_done + record), out


def place_datasets(desired: Definitions, location: str | None) -> Definitions:
    """Datasets whose definition names no location take the target's (when it has one): that is
    where CREATE SCHEMA puts them, and where ``check`` expects them."""
    if not location or all(d.location for d in desired.all_datasets()):
        return desired
    update = {
        "datasets": tuple(d if d.location else d.model_copy(update={"location": location}) for d in desired.datasets),
        "templates": tuple(d if d.location else d.model_copy(update={"location": location}) for d in desired.templates),
    }
    return desired.model_copy(update=update)


def refuse_unplaced(plan: Plan, capabilities: Capabilities, target: str) -> None:
    """On BigQuery, refuse a CREATE SCHEMA that names no location (UsageError, exit 2)."""
    unplaced = sorted(
        {c.dataset for s in plan.steps for c in s.changes if isinstance(c, CreateDataset) and not c.desired.location}
    )
    if capabilities.requires_location and unplaced:
        raise UsageError(
            f"dataset {unplaced[0]}: no location to create it in; set `location:` in its _dataset.yaml or the location "
            f"of target {target} (--location, BQMANAGE_LOCATION); BigQuery would otherwise put it in the US"
        )


def estimate_bytes(estimate: Callable[[str], int | None], plan: Plan) -> list[int | None]:
    """Per step, the bytes it would bill: ``estimate`` (the engine's free dry run) of each step that
    reads or writes data (the backfill), None for the others and where the engine cannot tell. The
    engine comes in as a function, so that the planner stays free of I/O and below the engines."""
    return [estimate(s.sql) if not s.is_metadata and s.sql else None for s in plan.steps]


def total_bytes(estimates: list[int | None]) -> int | None:
    """What the estimated steps would bill together; None when none was estimated."""
    known = [e for e in estimates if e is not None]
    return sum(known) if known else None


def refuse_over_cap(target: str, cap: int | None, estimates: list[int | None]) -> None:
    """Refuse (exit 2) a plan with a data job that would bill more than the target's cap: checked
    before any change, since BigQuery would fail that job half-way, after the ALTERs. The cap is
    per job (maximum_bytes_billed is a job's setting), so a backfill cut by partitions is held to
    it job by job."""
    estimate = max((e for e in estimates if e is not None), default=None)
    if cap is not None and estimate is not None and estimate > cap:
        raise RefusedChangeError(
            f"target {target}: a data step of the plan would bill about {estimate:,} bytes, above its "
            f"maximum_bytes_billed of {cap:,}; nothing was run. Raise the limit, lower backfill_max_bytes_per_job "
            "(a partitioned table's backfill then runs in smaller jobs), or apply with --no-backfill."
        )
