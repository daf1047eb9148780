"""The library API: one function per CLI command. The CLI is a thin shell over these."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import TYPE_CHECKING

from bqmanage.definitions.load import load_definitions
from bqmanage.definitions.row_access import placed
from bqmanage.model.schema import Definitions, Table, Warehouse
from bqmanage.settings import Settings
from bqmanage.tenants import members
from bqmanage.tenants.scope import NO_LIMITS, NO_TENANTS, Limits, TenantScope

if TYPE_CHECKING:
    from bqmanage.apply import ApplyResult
    from bqmanage.check.findings import Finding
    from bqmanage.engines import Engine
    from bqmanage.ledger import LedgerEntry
    from bqmanage.plan import Plan, Step
    from bqmanage.tenants.commands import TenantJob, TenantListing, TenantReport
    from bqmanage.tenants.fanout import Read
    from bqmanage.tenants.fleet import OnTenant, TenantOutcome
    from bqmanage.tenants.reset import ResetReport
    from bqmanage.tenants.templates import Registry

    OnStep = Callable[[int, int, Step], None]


def validate(settings: Settings) -> Definitions:
    """Load and validate the definitions; raises DefinitionError listing every problem."""
    return load_definitions(settings.schemas_dir)


def render_ddl(
    settings: Settings,
    fmt: str = "sql",
    table: str | None = None,
    tenants: list[str] | None = None,
    desired: Definitions | None = None,
) -> str:
    """The CREATE DDL (or ``bq``'s JSON schemas) of every definition and ``tenants``' templates."""
    from bqmanage.render import render_definitions
    from bqmanage.tenants.templates import with_tenants

    desired = with_tenants(desired or validate(settings), tenants or [])
    return render_definitions(desired, fmt, settings.project, table)


@dataclass
class PlanResult:
    plan: Plan
    desired: Definitions
    ledger: list[LedgerEntry] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    # With tenants: each tenant's own plan of its templated datasets (or why it has none).
    tenants: list[TenantOutcome[PlanResult]] = field(default_factory=list)
    registry: Registry | None = None  # --all-tenants: what the registry said
    # Per step, the bytes it would bill (a dry run; data steps only, None elsewhere or unknown).
    estimates: list[int | None] = field(default_factory=list)
    actual: Warehouse | None = None  # the live catalog it was planned against


def make_plan(
    settings: Settings,
    engine: Engine,
    backfill: bool = True,
    desired: Definitions | None = None,
    history: bool = True,
    *,
    scope: TenantScope = NO_TENANTS,
    on_tenant: OnTenant[PlanResult] | None = None,
) -> PlanResult:
    """Load, introspect, diff and plan: what ``apply`` would do, without doing it. ``history`` reads
    every dataset's latest ledger entry (plan shows them); without it, only the unfinished entries
    of the ledgers that can owe a backfill (those of datasets with a column that has a default).
    ``scope`` (some tenants, or the registry's active tenants) also plans the dataset templates
    for those tenants, one plan per tenant; the default leaves templates alone."""
    from bqmanage.plan import place_datasets

    desired = placed(settings, place_datasets(scope.refused_unfit(desired or validate(settings)), settings.location), engine)
    planned = plan_against(settings, engine, backfill, history, desired, None)
    if scope.engaged:
        from bqmanage.tenants import fanout, fleet

        chosen = fleet.resolve(engine, desired, scope)
        planned.registry = chosen.registry
        one = fanout.plan_each(engine, desired, chosen.tenants, True, partial(plan_against, settings, engine, backfill, True))
        planned.tenants = chosen.failed + fleet.run_per_tenant(chosen.tenants, one, fleet.workers(settings, engine), on_tenant)
    return planned


def plan_against(
    settings: Settings, engine: Engine, backfill: bool, history: bool, desired: Definitions, read: Read | None
) -> PlanResult:
    """make_plan of ``desired`` (placed) against what was read of it: its live part and newest ledger
    entries (None: read here; ``ledger_datasets`` says which ledgers). The location guardrail and
    the cost estimate are here, so that each tenant's plan of a fleet gets them too."""
    from bqmanage.apply import cut_backfills, latest_entries
    from bqmanage.diff import compare
    from bqmanage.introspect import read_live
    from bqmanage.ledger import ledger_datasets
    from bqmanage.plan import build_plan, estimate_bytes, refuse_unplaced

    actual, ledger = read if read is not None else (read_live(engine, desired).actual, None)
    changes = compare(desired, actual, engine.capabilities.unobservable)
    if ledger is None:
        # Without history only unfinished entries matter (what a plan resumes): the local engine
        # then reads each ledger's newest outcome alone, and whole rows of the few unfinished.
        ledger = latest_entries(engine, ledger_datasets(desired, actual, history), unfinished_only=not history)
    resume: dict[tuple[str, str], tuple[str, ...]] = {}
    for entry in ledger:
        if entry.outcome != "succeeded":
            for table, columns in entry.backfill:
                resume[(entry.dataset, table)] = tuple(columns)
    plan = build_plan(changes, settings.project, resume, desired, backfill)
    refuse_unplaced(plan, engine.capabilities, settings.target)
    resumed = [f"{d}.{t}" for d, t in resume]
    bound = settings.backfill_max_bytes_per_job  # a larger backfill runs partition by partition
    plan, estimates = cut_backfills(
        engine, plan, estimate_bytes(engine.estimate_bytes, plan), actual, bound, ledger, settings.project
    )
    return PlanResult(plan=plan, desired=desired, ledger=ledger, resumed=resumed, estimates=estimates, actual=actual)


@dataclass
class ApplyOutcome:
    planned: PlanResult
    result: ApplyResult | None
    # With tenants: each tenant's own apply of its templated datasets, or its failure.
    tenants: list[TenantOutcome[ApplyOutcome]] = field(default_factory=list)
    registry: Registry | None = None
    members: list[str] = field(default_factory=list)  # rows of the members tables restored or removed


def apply(
    settings: Settings,
    engine: Engine,
    dry_run: bool = False,
    backfill: bool = True,
    on_step: Callable[[int, int, Step], None] | None = None,
    desired: Definitions | None = None,
    *,
    scope: TenantScope = NO_TENANTS,
    keep_going: bool = False,
    on_tenant: OnTenant[ApplyOutcome] | None = None,
) -> ApplyOutcome:
    """Bring the warehouse to the definitions. Refused changes stop everything before any statement.

    ``scope`` (some tenants, or the registry's active tenants, read after the fixed datasets are
    applied, so that a new warehouse gets its registry first) then applies the dataset templates,
    tenant by tenant in a bounded pool, each planned against one read of them all; one tenant's
    failure does not stop the others: afterwards they raise TenantsFailedError (worst exit code),
    unless ``keep_going`` (then they are in ``tenants``). The members tables follow the registry."""
    desired = scope.refused_unfit(desired or validate(settings))  # before the fixed datasets are applied
    planned = make_plan(settings, engine, backfill, desired, history=dry_run)  # a dry run prints the plan
    scope.refuse_unregistered(engine, planned.desired)  # likewise: an id the registry does not list
    outcome = apply_planned(settings, engine, planned, dry_run, on_step)
    unchanged = None if planned.plan.steps else planned.actual  # the catalog read still stands: no second read
    outcome.members = [] if dry_run else members.restore(engine, planned.desired, settings.warehouse_project, scope, unchanged)
    if scope.engaged:
        from bqmanage.tenants import fanout, fleet

        whole = planned.desired
        chosen = fleet.resolve(engine, whole, scope)
        outcome.registry = chosen.registry
        # Planned against one read of every tenant's datasets, then applied tenant by tenant.
        one = fanout.plan_each(engine, whole, chosen.tenants, dry_run, partial(plan_against, settings, engine, backfill, dry_run))
        done = fleet.run_per_tenant(
            chosen.tenants, lambda t: apply_planned(settings, engine, one(t), dry_run), fleet.workers(settings, engine), on_tenant
        )
        outcome.tenants = chosen.failed + done
        failed = [o for o in outcome.tenants if o.error is not None]
        if failed and not keep_going:
            raise fleet.TenantsFailedError(failed)
    return outcome


def apply_planned(
    settings: Settings, engine: Engine, planned: PlanResult, dry_run: bool = False, on_step: OnStep | None = None
) -> ApplyOutcome:
    """Run a plan (none with ``dry_run``). A refused change, or data steps that would bill more
    than the target's cap, stop it before any statement."""
    from bqmanage.apply import apply_plan
    from bqmanage.errors import RefusedChangeError
    from bqmanage.plan import refusals_text, refuse_over_cap

    if planned.plan.has_refused:
        raise RefusedChangeError(refusals_text(planned.plan))
    if dry_run:
        return ApplyOutcome(planned=planned, result=None)
    refuse_over_cap(settings.target, settings.maximum_bytes_billed, planned.estimates)
    result = apply_plan(engine, planned.plan, planned.desired.digest, on_step, settings.project)
    return ApplyOutcome(planned=planned, result=result)


def inspect(settings: Settings, engine: Engine, all_datasets: bool = False, desired: Definitions | None = None) -> list[Table]:
    """The live tables of the datasets the definitions name (or every dataset), as the model."""
    from bqmanage.introspect import not_own, read_live

    defined = (desired or validate(settings)).all_datasets
    names = engine.list_datasets() if all_datasets else [d.name for d in defined()]
    # Every table of those datasets, in the order listed (every dataset: bqmanage's own too).
    read = read_live(engine, None, names, undefined=(lambda *_: True) if all_datasets else not_own)
    for why in read.unreadable.values():
        raise ValueError(why)  # no table of the model can say it
    return list(read.actual.tables.values())


@dataclass
class CheckResult:
    findings: list[Finding]
    desired: Definitions
    # With tenants: one outcome per tenant (its findings are in ``findings`` too), or its failure.
    tenants: list[TenantOutcome[list[Finding]]] = field(default_factory=list)
    registry: Registry | None = None
    # --all-tenants: the registry's suspended tenants, whose grants only are checked (none may be left).
    suspended: list[TenantOutcome[list[Finding]]] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.findings and not self.failed

    @property
    def failed(self) -> list[TenantOutcome[list[Finding]]]:
        return [o for o in self.tenants + self.suspended if o.error is not None]


def check(
    settings: Settings,
    engine: Engine,
    desired: Definitions | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    *,
    scope: TenantScope = NO_TENANTS,
    on_tenant: OnTenant[list[Finding]] | None = None,
    isolation: bool = False,
) -> CheckResult:
    """Drift of the live warehouse against the definitions, work an interrupted apply still owes, and the
    legacy-name audit. Read-only. ``scope`` also checks those tenants' templated
    datasets, read in bulk; each finding names its tenant, and a tenant whose datasets cannot be read is a
    failure of its own (the others are still checked). ``TenantScope.all()`` also reports live datasets that
    match a template but belong to no tenant of the registry (``orphan_dataset``)."""
    from bqmanage.check.findings import findings_from_changes
    from bqmanage.check.legacy import audit_warehouse, extra_table_findings
    from bqmanage.check.owed import owed_backfills, read_ledgers, recently_applied
    from bqmanage.introspect import confirm_recent, read_live
    from bqmanage.plan import place_datasets
    from bqmanage.tenants.templates import templated

    desired = placed(settings, place_datasets(scope.refused_unfit(desired or validate(settings)), settings.location), engine)
    read = read_live(engine, desired, confirm=True, on_progress=on_progress)
    actual, listed, changes = read.actual, read.listing, read.changes
    # The ledgers say what bqmanage changed lately: INFORMATION_SCHEMA may not show that yet.
    ledger = read_ledgers(engine, desired, actual, listed)
    if engine.capabilities.catalog_lags:
        actual, changes = confirm_recent(engine, desired, actual, changes, recently_applied(ledger))
    # Tenants' datasets are the templates' (no legacy names there): the audit leaves them to the
    # per-tenant check, so that one unreadable tenant dataset does not fail the whole check.
    skip = partial(templated, desired) if desired.templates else None
    findings = findings_from_changes(changes, desired) + owed_backfills(desired, ledger)
    findings += extra_table_findings(desired, listed, settings.legacy)
    findings += audit_warehouse(engine, desired, settings.legacy, listed, skip)
    if isolation:  # the probe: isolation proved on the live data (check/isolation.py)
        from bqmanage.check.isolation import probe

        findings += probe(engine, desired, actual, list(scope.ids) if scope.ids else None)
    findings += members.member_findings(*members.member_drift(engine, desired, scope.tenant_list, actual))  # follow the registry
    result = CheckResult(findings=findings, desired=desired)
    if scope.engaged:
        from bqmanage.tenants import fanout, fleet
        from bqmanage.tenants.templates import orphan_findings

        chosen = fleet.resolve(engine, desired, scope)
        result.registry = chosen.registry
        result.tenants = fanout.check_tenants(settings, engine, desired, chosen, on_tenant)
        result.findings += [f for o in result.tenants for f in o.value or []]
        if chosen.registry is not None:  # a suspended tenant that still has access is drift too
            result.suspended = fanout.suspended_grants(settings, engine, desired, chosen.registry.inactive)
            result.findings += [f for o in result.suspended for f in o.value or []]
        if chosen.registry is not None and not chosen.registry.missing:
            from bqmanage.tenants.registry import registry_findings

            result.findings += registry_findings(chosen.registry.table, chosen.registry.bad_rows)
            result.findings += orphan_findings(engine.list_datasets(), desired, chosen.registry)
    return result


def reset(
    settings: Settings,
    engine: Engine,
    table_name: str | None = None,
    run_date: date | None = None,
    dry_run: bool = False,
    desired: Definitions | None = None,
    allow_future_date: bool = False,
    tenant: str | None = None,
) -> ResetReport:
    """Run the daily quota reset for ``run_date`` (default: today in the table's time zone).
    Two MERGE jobs on a normal day (tenants/reset.py says when more are needed). Reports who got a
    new row, who was already current, and where the values came from."""
    from bqmanage.tenants.reset import run_reset
    from bqmanage.tenants.reset_sql import find_quota_table, render_reset, resolve_run_date

    desired = desired or validate(settings)
    table = find_quota_table(desired, table_name)
    sql = render_reset(desired, table, settings.warehouse_project, one_tenant=tenant is not None)
    day = resolve_run_date(sql.quota, run_date, allow_future_date)
    return run_reset(engine, sql, day, dry_run, settings.target, tenant)


def tenant_add(
    settings: Settings,
    engine: Engine,
    tenant_id: str,
    name: str | None = None,
    limits: Limits = NO_LIMITS,
    *,
    run_date: date | None = None,
    desired: Definitions | None = None,
    job: TenantJob | None = None,
) -> TenantReport:
    """Onboard a tenant: its registry row (limits not given: the registry's defaults in the
    definitions), its templated datasets and tables, and its quota row for today (the reset's
    SQL, restricted to it). Again with the same arguments it changes nothing and says so; with
    other limits it updates the registry and today's row. A bad id is refused (UsageError, exit 2)
    before anything is read or written."""
    from bqmanage.tenants import access, onboard
    from bqmanage.tenants import commands as tenants

    job = job or tenants.job(settings, "tenant_add", tenant_id, desired, run_date, limits, name)
    # Only what belongs to the tenant: shared datasets that need a migration are apply's (onboard).
    onboard.refuse_pending_migration(settings, engine, job)
    row = tenants.register(engine, job.tables, job.report, job.wanted, job.tables.quota.active_status, settings.target)
    inserting = job.report.registered
    if inserting:  # its quota row first: one read then confirms both rows
        onboard.confirm_new(settings, engine, job)
    job.report.datasets = onboard.tenant_datasets(settings, engine, job.desired, tenant_id, row)
    if not inserting:
        onboard.quota_row(settings, engine, job)
    tenants.update_changed_limits(engine, job)
    access.follow(settings, engine, job, job.report.status in ("", job.tables.quota.active_status))  # and converge
    return job.report


def tenant_list(
    settings: Settings, engine: Engine, *, run_date: date | None = None, desired: Definitions | None = None
) -> TenantListing:
    """Every tenant of the registry: status, limits, and its usage on ``run_date`` (default today
    in the quota table's time zone) against the limits of that day's row. Read-only."""
    from bqmanage.tenants import commands as tenants
    from bqmanage.tenants.reset_sql import resolve_run_date
    from bqmanage.tenants.sql import tenant_tables

    t = tenant_tables(desired or validate(settings), settings.warehouse_project)
    return tenants.list_tenants(engine, t, resolve_run_date(t.quota, run_date, allow_future=True), settings.target)


def tenant_suspend(
    settings: Settings, engine: Engine, tenant_id: str, *, desired: Definitions | None = None, job: TenantJob | None = None
) -> TenantReport:
    """Suspend a tenant: resets give it no row from now on; its rows so far are kept."""
    from bqmanage.tenants import commands as tenants
    from bqmanage.tenants.access import follow, tenant_access
    from bqmanage.tenants.sql import SUSPENDED

    job = job or tenants.job(settings, "tenant_suspend", tenant_id, desired)
    tenants.set_status(engine, job.tables, job.report, SUSPENDED, settings.target)
    job.report.datasets = tenant_access(settings, engine, job.desired, tenant_id, granted=False)  # its data stays
    follow(settings, engine, job, active=False)
    return job.report


def tenant_resume(
    settings: Settings,
    engine: Engine,
    tenant_id: str,
    *,
    run_date: date | None = None,
    desired: Definitions | None = None,
    job: TenantJob | None = None,
) -> TenantReport:
    """Make a suspended tenant active again, with its row for today carried from its latest row
    however old (limits, storage and the other carried values), as the next reset would."""
    from bqmanage.tenants import access, onboard
    from bqmanage.tenants import commands as tenants

    job = job or tenants.job(settings, "tenant_resume", tenant_id, desired, run_date)
    tenants.set_status(engine, job.tables, job.report, job.tables.quota.active_status, settings.target)
    job.report.datasets = access.tenant_access(settings, engine, job.desired, tenant_id, granted=True)
    onboard.quota_row(settings, engine, job)
    tenants.align_quota_row(engine, job.tables, job.report, job.day)
    access.follow(settings, engine, job, active=True)
    return job.report


def tenant_set_limits(
    settings: Settings,
    engine: Engine,
    tenant_id: str,
    limits: Limits,
    *,
    run_date: date | None = None,
    desired: Definitions | None = None,
    job: TenantJob | None = None,
) -> TenantReport:
    """Change a tenant's limits in the registry and in its row for today, which an active tenant
    gets now if the reset has not made it yet: later resets carry the limits from it."""
    from bqmanage.tenants import commands as tenants
    from bqmanage.tenants import onboard

    job = job or tenants.job(settings, "tenant_set_limits", tenant_id, desired, run_date, limits)
    tenants.set_limits(engine, job.tables, job.report, job.wanted, settings.target)
    if job.report.changes:  # today's row too, made first for an active tenant the reset has not reached yet
        onboard.quota_row(settings, engine, job)
        tenants.update_changed_limits(engine, job)
    return job.report
