"""The library API: one function per CLI command. The CLI is a thin shell over these."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from bqmanage.loader import load_definitions
from bqmanage.model import Definitions, Table
from bqmanage.settings import Settings

if TYPE_CHECKING:
    from pathlib import Path

    from bqmanage.apply import ApplyResult, LedgerEntry
    from bqmanage.code_audit import CodeAuditResult
    from bqmanage.engines import Engine
    from bqmanage.findings import Finding
    from bqmanage.plan import Plan, Step
    from bqmanage.reset import ResetSql


def validate(settings: Settings) -> Definitions:
    """Load and validate the definitions; raises DefinitionError listing every problem."""
    return load_definitions(settings.schemas_dir)


def render_ddl(settings: Settings, fmt: str = "sql") -> str:
    """The CREATE DDL of every definition, or ``bq``-compatible JSON schemas."""
    from bqmanage import render
    from bqmanage.rest import schema_to_api

    desired = validate(settings)
    if fmt == "json-schema":
        import json

        return json.dumps({f"{t.dataset}.{t.name}": schema_to_api(t.columns) for t in desired.tables}, indent=2)
    parts = [render.create_schema_sql(d, settings.project) + ";" for d in desired.all_datasets()]
    parts += [render.create_table_sql(t, settings.project) + ";" for t in desired.tables]
    return "\n\n".join(parts) + "\n"


@dataclass
class PlanResult:
    plan: Plan
    desired: Definitions
    ledger: list[LedgerEntry] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)


def make_plan(settings: Settings, engine: Engine, backfill: bool = True, desired: Definitions | None = None) -> PlanResult:
    """Load, introspect, diff and plan: what ``apply`` would do, without doing it."""
    from bqmanage.apply import latest_entry
    from bqmanage.diff import compare
    from bqmanage.introspect import read_actual
    from bqmanage.plan import build_plan

    desired = desired or validate(settings)
    actual = read_actual(engine, desired)
    changes = compare(desired, actual, engine.capabilities.unobservable)
    # Only live datasets can hold a ledger; introspection already knows which those are.
    ledger = [e for name in sorted(actual.datasets) if (e := latest_entry(engine, name)) is not None]
    resume: dict[tuple[str, str], tuple[str, ...]] = {}
    for entry in ledger:
        if entry.outcome != "succeeded":
            for table, columns in entry.backfill:
                resume[(entry.dataset, table)] = tuple(columns)
    plan = build_plan(changes, settings.project, resume, desired, backfill)
    resumed = [f"{d}.{t}" for d, t in resume]
    return PlanResult(plan=plan, desired=desired, ledger=ledger, resumed=resumed)


@dataclass
class ApplyOutcome:
    planned: PlanResult
    result: ApplyResult | None


def apply(settings: Settings, engine: Engine, dry_run: bool = False, backfill: bool = True,
          on_step: Callable[[int, int, Step], None] | None = None, desired: Definitions | None = None) -> ApplyOutcome:
    """Bring the warehouse to the definitions. Refused changes stop everything before any statement."""
    from bqmanage.apply import apply_plan
    from bqmanage.errors import RefusedChangeError
    from bqmanage.report import refusals_text

    planned = make_plan(settings, engine, backfill, desired)
    if planned.plan.has_refused:
        raise RefusedChangeError(refusals_text(planned.plan))
    if dry_run:
        return ApplyOutcome(planned=planned, result=None)
    return ApplyOutcome(planned=planned, result=apply_plan(engine, planned.plan, planned.desired.digest, on_step, settings.project))


def inspect(settings: Settings, engine: Engine, all_datasets: bool = False,
            desired: Definitions | None = None) -> list[Table]:
    """The live tables of the datasets the definitions name (or every dataset), as the model."""
    from bqmanage.names import RESERVED_PREFIX
    from bqmanage.rest import table_from_api

    names = engine.list_datasets() if all_datasets else [d.name for d in (desired or validate(settings)).all_datasets()]
    tables = []
    for dataset in names:
        if engine.get_dataset(dataset) is None:
            continue
        for name in engine.list_tables(dataset):
            if name.lower().startswith(RESERVED_PREFIX) and not all_datasets:
                continue  # bqmanage's own ledger
            resource = engine.get_table(dataset, name)
            if resource is not None:
                tables.append(table_from_api(resource))
    return tables


@dataclass
class CheckResult:
    findings: list[Finding]
    desired: Definitions

    @property
    def clean(self) -> bool:
        return not self.findings


def check(settings: Settings, engine: Engine, desired: Definitions | None = None,
          on_progress: Callable[[int, int], None] | None = None) -> CheckResult:
    """Drift of the live warehouse against the definitions, plus the legacy-name audit. Read-only."""
    from bqmanage.audit import audit_warehouse
    from bqmanage.diff import compare
    from bqmanage.findings import findings_from_changes
    from bqmanage.introspect import read_actual

    desired = desired or validate(settings)
    actual = read_actual(engine, desired, bulk=True, on_progress=on_progress)
    changes = compare(desired, actual, engine.capabilities.unobservable)
    findings = findings_from_changes(changes, desired) + audit_warehouse(engine, desired, settings.legacy)
    return CheckResult(findings=findings, desired=desired)


@dataclass
class ResetReport:
    table: str
    registry: str
    run_date: str
    strategy: str
    active_tenants: int
    new_rows: int  # active tenants that had no row for the run date and now have one
    already_current: int
    dry_run: bool
    without_history: list[str] = field(default_factory=list)  # registry defaults
    carried_from_older: list[str] = field(default_factory=list)  # latest row older than the lookback
    registry_duplicates: list[str] = field(default_factory=list)  # active tenants listed more than once
    bytes_estimate: int | None = None

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)


def reset(settings: Settings, engine: Engine, table_name: str | None = None, run_date: date | None = None,
          dry_run: bool = False, desired: Definitions | None = None, allow_future_date: bool = False) -> ResetReport:
    """Run the daily quota reset for ``run_date`` (default: today in the table's time zone).

    One set-based MERGE (never a loop per tenant) over the de-duplicated registry, then one MERGE
    that collapses any duplicate rows, all with query parameters. Tenants with no row in the
    lookback window cost one narrow extra lookup for their latest older row, and only then.
    Reports who got a new row, who was already current, whose values came from the registry or
    from an older row, and which tenants the registry lists more than once.
    """
    from bqmanage.reset import find_quota_table, render_reset, resolve_run_date

    desired = desired or validate(settings)
    table = find_quota_table(desired, table_name)
    sql = render_reset(desired, table, settings.project)
    day = resolve_run_date(sql.quota, run_date, allow_future_date)
    params: dict[str, object] = {"run_date": day}
    before = _reset_status(engine, sql, params, settings.target)
    current_before = {r["tenant"] for r in before if r["current_rows"]}
    absent = [r["tenant"] for r in before if not r["has_history"] and not r["current_rows"]]
    older: dict[str, date] = {}
    if sql.older is not None and absent:
        rows = engine.query(sql.older, {"run_date": day, "carry_tenants": absent}, label="reset")
        older = {r["tenant"]: r["last_date"] for r in rows}
    merge_params = dict(params)
    if sql.older is not None:
        merge_params.update(carry_tenants=sorted(older), carry_from=min(older.values(), default=sql.window_start(day)))
    report = ResetReport(
        table=f"{table.dataset}.{table.name}", registry=f"{sql.registry.dataset}.{sql.registry.name}",
        run_date=day.isoformat(), strategy=sql.quota.strategy, active_tenants=len(before), new_rows=0,
        already_current=len(current_before), dry_run=dry_run,
        without_history=sorted(t for t in absent if t not in older), carried_from_older=sorted(older),
        registry_duplicates=[r["tenant"] for r in before if r["copies"] > 1])
    if dry_run:
        report.bytes_estimate = engine.estimate_bytes(sql.merge, merge_params)
        report.new_rows = len(before) - len(current_before)
        return report
    engine.query(sql.merge, merge_params, label="reset")
    engine.query(sql.dedup, params, label="reset")
    after = engine.query(sql.status, params, label="reset")
    report.new_rows = sum(1 for r in after if r["current_rows"] and r["tenant"] not in current_before)
    return report


def _reset_status(engine: Engine, sql: ResetSql, params: dict[str, object], target: str) -> list[dict[str, Any]]:
    """The first read of a reset; when it fails because apply never ran, say so plainly."""
    from bqmanage.errors import NotAppliedError, WarehouseError
    from bqmanage.reset import not_applied_message

    try:
        return engine.query(sql.status, params, label="reset")
    except WarehouseError:
        # Only on failure: the normal run pays no tables.get round trips for this.
        missing = [t for t in (sql.table, sql.registry) if engine.get_table(t.dataset, t.name) is None]
        if missing:
            raise NotAppliedError(not_applied_message(missing, target)) from None
        raise


def audit_code(settings: Settings, paths: list[Path], *, fix: bool = False, dry_run: bool = False,
               include: list[str] | None = None, exclude: list[str] | None = None, analyzer: str | None = None,
               desired: Definitions | None = None, notice: Callable[[str], None] | None = None) -> CodeAuditResult:
    """Legacy names and unknown table/column references in source files; ``fix`` rewrites the
    legacy names (``dry_run``: computes the diffs, writes nothing). Flags add to the config's
    ``audit_code`` include and exclude patterns. Never audits the definitions or the config file,
    which name legacy tables on purpose."""
    from bqmanage.code_audit import audit_code as run

    desired = desired or validate(settings)
    config = settings.audit_code.model_copy(update={
        "include": [*settings.audit_code.include, *(include or [])],
        "exclude": [*settings.audit_code.exclude, *(exclude or [])]})
    skip = {settings.schemas_dir.resolve()} | ({settings.config_file.resolve()} if settings.config_file else set())
    return run(paths, desired, settings.legacy, config, skip=frozenset(skip), analyzer=analyzer, fix=fix,
               dry_run=dry_run, notice=notice)
