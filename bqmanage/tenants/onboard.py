"""What ``tenant add`` does beyond the registry row: it touches only what belongs to the tenant.

A platform onboards many tenants at once (50 deploy pipelines in a few seconds), so each add must
be cheap and must not contend on the shared tables more than it has to:

- The shared (fixed) datasets are only compared, never changed. When they need a migration (a
  deploy shipped a schema change that ``apply`` has not run yet), the add refuses before writing
  anything: N parallel adds must not run N concurrent ALTERs, etag races and full-table backfills.
- The tenant's templated datasets are planned on their own, without reading a ledger (an owed
  backfill is ``apply``'s to resume). A new tenant's datasets are CREATEs only: on BigQuery they go
  as one script job per dataset, with the ledger's table and its row, instead of a job each; of
  concurrent adds, the one that creates the ledger table writes the row (``_create_in_one_job``).
- A tenant this add registered gets its quota row from the reset's one-tenant MERGE, then one read
  confirms both rows (``confirm_new``): copies or a colliding id left by concurrent adds show there.
  A tenant registered before gets it from the reset restricted to it (``quota_row``).

So a new tenant with one templated dataset costs at most 6 query jobs (registry lookup and INSERT;
the quota MERGE and the confirming read; the dataset script; the row access members insert) and a
repeated add 2 (lookup and the reset's status read; the members table is read free).
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from bqmanage.apply import apply_plan, ledger_params
from bqmanage.changes import CreateDataset, SetDatasetAccess
from bqmanage.definitions.row_access import placed
from bqmanage.diff import compare
from bqmanage.errors import NotAppliedError, RefusedChangeError, UsageError, WarehouseError, capped
from bqmanage.introspect import read_live
from bqmanage.ledger import LEDGER, ledger_row_sql, ledger_table
from bqmanage.model.schema import Definitions
from bqmanage.plan import Plan, Step, build_plan, place_datasets, refusals_text, refuse_unplaced
from bqmanage.render import create_table_sql
from bqmanage.tenants import sql as tsql
from bqmanage.tenants.access import resolve_members
from bqmanage.tenants.commands import LABEL, note_quota_row, refuse_collision, shown
from bqmanage.tenants.ids import dataset_part
from bqmanage.tenants.reset import merge_params, run_reset
from bqmanage.tenants.reset_sql import not_applied_message, render_reset
from bqmanage.tenants.templates import for_tenants

if TYPE_CHECKING:
    from bqmanage.engines import Engine
    from bqmanage.settings import Settings
    from bqmanage.tenants.commands import TenantJob

_CREATES = ("create_dataset", "create_table")


def _plan(engine: Engine, desired: Definitions, project: str | None) -> Plan:
    """What ``apply`` would change in ``desired``'s datasets, without reading any ledger."""
    changes = compare(desired, read_live(engine, desired).actual, engine.capabilities.unobservable)
    return build_plan(changes, project, {}, desired, True)


def refuse_pending_migration(settings: Settings, engine: Engine, job: TenantJob) -> None:
    """Refuse (exit 2, nothing written) when the shared datasets differ from their definitions."""
    desired, tenant = job.desired, job.report.tenant
    fixed = Definitions(datasets=desired.datasets, tables=desired.tables, digest=desired.digest)
    plan = _plan(engine, fixed, settings.project)
    created = {(s.dataset, s.table) for s in plan.steps if s.kind == "create_table"}
    missing = [t for t in (job.tables.registry, job.tables.quota_table) if (t.dataset, t.name) in created]
    if missing:  # a warehouse that apply never ran on
        raise NotAppliedError(not_applied_message(missing, settings.target))
    if plan.steps:
        # One line: an error is printed as one (its text escaped), so the steps are listed on it.
        steps = "; ".join(x.strip() for x in capped([f"{s.kind} {s.dataset}.{s.table or ''}".rstrip(".") for s in plan.steps]))
        raise NotAppliedError(
            f"tenant add {tenant}: the shared datasets need a migration first ({len(plan.steps)} step(s) on "
            f"target {settings.target}: {steps}); run `bqmanage apply` first, then add the tenant. Nothing was written."
        )


def tenant_datasets(
    settings: Settings, engine: Engine, desired: Definitions, tenant: str, row: dict[str, Any] | None = None
) -> list[str]:
    """Create or bring up to date the tenant's templated datasets, their grants included; what each
    step did. ``row``: the tenant's registry row as register returned it (no second read)."""
    if not desired.templates:
        return []
    known = None if row is None else {tenant: row}
    part = resolve_members(engine, desired, for_tenants(desired, [tenant]), known, [tenant])
    part = place_datasets(part, settings.location)
    part = placed(settings, part, engine)
    plan = _plan(engine, part, settings.project)
    refuse_unplaced(plan, engine.capabilities, settings.target)
    if plan.has_refused:
        raise RefusedChangeError(refusals_text(plan))
    by_dataset: dict[str, list[Step]] = {}
    for step in plan.steps:
        by_dataset.setdefault(step.dataset, []).append(step)
    rest = []
    for dataset, steps in by_dataset.items():
        creates = [s for s in steps if s.kind != SetDatasetAccess.kind]
        if creates and engine.capabilities.scripts and all(s.kind in _CREATES and s.sql and not s.actions for s in creates):
            # The new dataset's grants follow its CREATEs: datasets.patch is no statement of a script.
            _create_in_one_job(settings, engine, dataset, creates, plan, desired.digest)
            rest += [s for s in steps if s.kind == SetDatasetAccess.kind]
        else:
            rest += steps
    if rest:
        apply_plan(engine, Plan(steps=tuple(rest), refused=(), backfill=plan.backfill), desired.digest, None, settings.project)
    return [s.reason for s in plan.steps]


def _create_in_one_job(settings: Settings, engine: Engine, dataset: str, steps: list[Step], plan: Plan, digest: str) -> None:
    """A new dataset's CREATEs, its ledger table and the ledger's row as one script job in the
    dataset's location. The CREATEs are IF NOT EXISTS: a script stopped half-way is made whole by
    the next add, and a CREATE owes no backfill, so no "running" row is needed first.

    The add that creates the ledger table writes the row. When the script creates the dataset,
    the ledger's CREATE is the last CREATE and has no IF NOT EXISTS, so of concurrent adds of one
    tenant exactly one creates it (BigQuery creates a table once; the others' CREATE fails with
    "Already Exists", reason duplicate, and their scripts stop there, after their own IF NOT
    EXISTS CREATEs, so the dataset is whole for each of them): one ledger row, from the add that
    made the dataset, not one per add that raced to it."""
    creates_dataset = any(isinstance(c, CreateDataset) for s in steps for c in s.changes)
    ledger_sql = create_table_sql(ledger_table(dataset), settings.project, if_not_exists=not creates_dataset)
    statements = [s.sql for s in steps if s.sql is not None]
    created = next((c.desired.location for s in steps for c in s.changes if isinstance(c, CreateDataset)), None)
    # The ledger's row is the script's last statement, its values written as literals (bqemulator
    # passes no query parameter to a script's statements; ledger_row_sql says how each is
    # escaped): one job for the dataset, not two, and the row is written only when every CREATE
    # before it has run.
    total = len(steps)
    params = ledger_params(
        dataset, uuid.uuid4().hex, engine.principal(), digest, "succeeded", total, total, [s.text() for s in steps], plan, None
    )
    script = ";\n".join([*statements, ledger_sql, ledger_row_sql(dataset, params)])
    try:
        engine.query(script, None, label="tenant", location=created or settings.location)
    except WarehouseError as exc:
        if not (creates_dataset and _ledger_exists_error(str(exc), dataset)):
            raise
        # Another add of this tenant created the ledger table (and so the dataset) meanwhile: its
        # row records the creation; this add's own CREATEs before the ledger's have run.


def _ledger_exists_error(message: str, dataset: str) -> bool:
    """``message`` is BigQuery's answer to a CREATE TABLE of ``dataset``'s ledger table that exists
    already: "Already Exists: Table PROJECT:DATASET.TABLE" (bqemulator: PROJECT.DATASET.TABLE)."""
    return re.search(rf"Already Exists: Table [^\s:]+[:.]{re.escape(dataset)}\.{re.escape(LEDGER)}\b", message) is not None


def confirm_new(settings: Settings, engine: Engine, job: TenantJob) -> None:
    """The quota row of a tenant whose registry row this add inserted, then one read that confirms
    both (``tenant_sql.confirm_sql``). Concurrent adds show there and are settled here: an id with
    the same dataset name makes this add take its rows back and refuse (both may; a re-run adds
    one), and copies of either row are collapsed (the last add to commit sees every copy)."""
    t, report = job.tables, job.report
    sql = render_reset(job.desired, t.quota_table, settings.warehouse_project, one_tenant=True)
    params: dict[str, object] = {"run_date": job.day, "tenant": report.tenant}
    engine.query(sql.merge, merge_params(sql, job.day, report.tenant), label=LABEL)
    rows = engine.query(tsql.confirm_sql(t), {**params, "dataset_part": dataset_part(report.tenant)}, label=LABEL)
    key = t.quota.tenant_column
    try:
        refuse_collision(t, report.tenant, rows, key)
    except UsageError:
        engine.query(tsql.quota_withdraw_sql(t), params, label=LABEL)
        engine.query(tsql.registry_withdraw_sql(t), {"tenant": report.tenant}, label=LABEL)
        raise
    own = [r for r in rows if r[key] == report.tenant]
    if not own:
        raise WarehouseError(f"tenant {report.tenant!r}: its registry row in {t.registry.ref} was removed while it was added")
    survivor = own[0]
    if survivor["_bqm_copies"] > 1:
        engine.query(tsql.registry_dedup_sql(t), {"tenant": report.tenant}, label=LABEL)
        # The copy the collapse kept, which may be another add's: read it, not the first copy.
        survivor = {**survivor, **(engine.query(tsql.registry_row_sql(t), {"tenant": report.tenant}, label=LABEL) or [{}])[0]}
    if own[0]["_bqm_rows_today"] > 1:
        engine.query(sql.dedup, params, label=LABEL)
    # This run registered the tenant when its insert wrote a row and the row that stands has the
    # values it was given; else another add of the id did, and its values are the ones reported.
    won = not report.registered_by_another and all(survivor.get(c) == v for c, v in job.wanted.items())
    report.registered, report.registered_by_another = won, not won
    report.status = survivor[t.quota.status_column]
    report.values = shown(t, survivor)
    report.quota_row = "created" if own[0]["_bqm_rows_today"] else "none"
    report.row_source = "registry" if own[0]["_bqm_rows_today"] else None


def quota_row(settings: Settings, engine: Engine, job: TenantJob) -> None:
    """The tenant's quota row for the job's day, made by the reset restricted to it: from its
    latest row however old, else the registry's values; none for a tenant that is not active."""
    sql = render_reset(job.desired, job.tables.quota_table, settings.warehouse_project, one_tenant=True)
    note_quota_row(engine, job, run_reset(engine, sql, job.day, False, settings.target, job.report.tenant))
