"""The tenant registry: register, change and list tenants (the ``bqmanage tenant`` commands).

The statements come from ``tenant_sql``; this module runs them and says what changed. Every
operation reads first and writes only what differs, so that repeating one changes nothing:
a second identical ``tenant add`` sends reads only. The id is checked against the one rule
(``tenant_ids``) before anything is read or written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bqmanage.definitions.access import refuse_tenant_members
from bqmanage.definitions.load import load_definitions
from bqmanage.errors import NotAppliedError, UsageError, WarehouseError
from bqmanage.tenants import sql
from bqmanage.tenants.ids import check_tenant_id, dataset_part
from bqmanage.tenants.reset_sql import not_applied_message, resolve_run_date
from bqmanage.tenants.scope import Limits

if TYPE_CHECKING:
    import datetime as dt

    from bqmanage.engines import Engine
    from bqmanage.model.schema import Definitions
    from bqmanage.settings import Settings
    from bqmanage.tenants.reset import ResetReport

LABEL = "tenant"  # the job label of every statement (bqmanage_step=tenant on BigQuery)


@dataclass
class TenantReport:
    """What one tenant command found and changed."""

    operation: str  # tenant_add, tenant_suspend, tenant_resume, tenant_set_limits
    tenant: str
    registry: str
    quota_table: str
    run_date: str
    status: str = ""
    registered: bool = False  # a new registry row, with this run's values
    # Another add of this id registered it at the same time, and its values stand (``values``),
    # not this run's: concurrent adds of one id with different limits, one wins.
    registered_by_another: bool = False
    changes: dict[str, list[Any]] = field(default_factory=dict)  # column: [before, after]
    values: dict[str, Any] = field(default_factory=dict)  # name and limits as registered now
    quota_row: str = "unchanged"  # created, updated, unchanged, or none (no row for the run date)
    row_source: str | None = None  # where a created row's values came from: registry, latest row, older row
    row_updates: dict[str, Any] = field(default_factory=dict)  # limits written into today's row
    datasets: list[str] = field(default_factory=list)  # what creating the templated datasets did
    members: dict[str, list[Any]] = field(default_factory=dict)  # row access mapping table: [before, after]
    # Another tenant command changed the status meanwhile (BigQuery has no lock): the status that
    # stands, which grants and members were made to follow (tenants/access.converge).
    status_by_another: str | None = None

    @property
    def changed(self) -> bool:
        return bool(
            self.registered
            or self.changes
            or self.quota_row in ("created", "updated")
            or self.datasets
            or self.members
            or self.status_by_another
        )

    def to_json(self) -> dict[str, object]:
        return {**self.__dict__, "changed": self.changed}


@dataclass
class TenantRow:
    """One tenant of ``tenant list``: its registry row, and its quota row for the run date."""

    tenant: str
    status: str
    name: str | None
    limits: dict[str, Any]  # the registry's, which a tenant with no earlier row starts from
    today: dict[str, dict[str, Any]] | None  # limit column: {"used": counter, "limit": today's limit}; None: no row


@dataclass
class TenantListing:
    registry: str
    quota_table: str
    run_date: str
    tenants: list[TenantRow]

    def to_json(self) -> dict[str, object]:
        return {
            "registry": self.registry,
            "quota_table": self.quota_table,
            "run_date": self.run_date,
            "tenants": [t.__dict__ for t in self.tenants],
        }


# A display name is a label on one line of ``tenant list``: 1,024 characters is more than any
# company or product name needs, and the bound keeps one row from flooding a listing or a log
# (the registry column is a STRING, which would take megabytes).
MAX_NAME_LENGTH = 1024


def check_display_name(name: str) -> None:
    """A display name is one line of plain text: a control character (a line break, an escape
    sequence), a Unicode line separator or an invisible format character in it could only forge
    what a listing shows."""
    from bqmanage.terminal import printable

    if len(name) > MAX_NAME_LENGTH:
        raise UsageError(f"--name: {len(name):,} characters long; give at most {MAX_NAME_LENGTH:,}")
    if printable(name) != name:
        raise UsageError(f"--name: '{printable(name)}' holds a control character or line break; give one line of text")
    import unicodedata

    # Invisible format characters (Unicode Cf: U+200B zero width space, U+FEFF, the joiners): a
    # name that holds one looks like another; refused alike, whether printable() escapes it or not.
    hidden = next((c for c in name if unicodedata.category(c) == "Cf"), None)
    if hidden is not None:
        raise UsageError(f"--name: holds U+{ord(hidden):04X}, an invisible format character; give visible text only")


def report_for(operation: str, t: sql.TenantTables, tenant: str, run_date: str) -> TenantReport:
    return TenantReport(operation, tenant, str(t.registry.ref), str(t.quota_table.ref), run_date)


@dataclass
class TenantJob:
    desired: Definitions
    tables: sql.TenantTables
    report: TenantReport
    day: dt.date
    wanted: dict[str, object]  # registry column: value, as given


def job(
    settings: Settings,
    operation: str,
    tenant_id: str,
    desired: Definitions | None,
    run_date: dt.date | None = None,
    limits: Limits | None = None,
    name: str | None = None,
) -> TenantJob:
    """Everything a tenant command checks before its first read: the id against the one rule,
    the limits, the definitions, and that the registry has the columns the flags write."""
    check_tenant_id(tenant_id)
    wanted: dict[str, object] = dict((limits or Limits()).given())
    if operation == "tenant_set_limits" and not wanted:
        raise UsageError("tenant set-limits: give at least one of --daily-limit, --monthly-limit, --concurrent-limit")
    desired = desired or load_definitions(settings.schemas_dir)
    if operation in ("tenant_add", "tenant_resume"):  # they grant the tenant its members: each must be valid
        refuse_tenant_members(desired, [tenant_id])
    t = sql.tenant_tables(desired, settings.warehouse_project)
    for column in wanted:
        t.registry_column(column, f"--{column.replace('_', '-')}")
    if name is not None:
        check_display_name(name)
        wanted = {t.registry_column(sql.NAME, "--name").name: name, **wanted}
    day = resolve_run_date(t.quota, run_date, allow_future=False)
    return TenantJob(desired, t, report_for(operation, t, tenant_id, day.isoformat()), day, wanted)


def _read(engine: Engine, t: sql.TenantTables, statement: str, params: dict[str, Any], target: str) -> list[dict[str, Any]]:
    """The first read of a command; when it fails because apply never ran, say so plainly."""
    try:
        return engine.query(statement, params, label=LABEL)
    except WarehouseError:
        missing = [table for table in (t.registry, t.quota_table) if engine.get_table(table.dataset, table.name) is None]
        if missing:
            raise NotAppliedError(not_applied_message(missing, target)) from None
        raise


def shown(t: sql.TenantTables, row: dict[str, Any]) -> dict[str, Any]:
    names = [sql.NAME, *sql.LIMITS]
    return {n: row.get(n) for n in names if t.registry.column(n) is not None}


def register(
    engine: Engine, t: sql.TenantTables, report: TenantReport, wanted: dict[str, Any], active: str, target: str
) -> dict[str, Any]:
    """Make @tenant's registry row hold ``wanted`` (column: value): insert it when absent (status
    ``active``), else update the columns that differ. Refuses an id whose datasets would be named
    like another tenant's. Returns the row as it is now, or {} for a row just inserted, which
    ``onboard.confirm_new`` reads back."""
    tenant = report.tenant
    lookup = {"dataset_part": dataset_part(tenant)}
    rows = _read(engine, t, sql.lookup_sql(t), lookup, target)
    key = t.quota.tenant_column
    refuse_collision(t, tenant, rows, key)
    own = [r for r in rows if r[key] == tenant]
    params: dict[str, Any] = {"tenant": tenant, **{sql.param(c): v for c, v in wanted.items()}}
    if not own:
        # Confirmed by onboard.confirm_new after the quota row is made: one read for both.
        status = t.quota.status_column
        params = {**params, sql.param(status): active, **lookup}
        inserted = engine.dml(sql.registry_insert_sql(t, list(wanted)), params, label=LABEL).affected
        # Nothing inserted: another add of this id (or a colliding one) got in between the lookup
        # and the insert; confirm_new reads which, and whose values stand.
        report.registered, report.registered_by_another = True, not inserted
        return {}
    if len(own) > 1:  # a concurrent add inserted too (see tenant_sql), or a hand-written copy
        engine.query(sql.registry_dedup_sql(t), {"tenant": tenant}, label=LABEL)
        own = engine.query(sql.registry_row_sql(t), {"tenant": tenant}, label=LABEL)
    row = own[0]
    if not report.registered:
        report.changes = {c: [row.get(c), v] for c, v in wanted.items() if row.get(c) != v}
        if report.changes:
            engine.query(sql.registry_update_sql(t, list(report.changes)), params, label=LABEL)
            row = {**row, **{c: v for c, (_, v) in report.changes.items()}}
    report.status = row[t.quota.status_column]
    report.values = shown(t, row)
    return row


def refuse_collision(t: sql.TenantTables, tenant: str, rows: list[dict[str, Any]], key: str) -> None:
    # The SQL narrows by the mapping's SQL spelling; the mapping itself decides.
    others = sorted({r[key] for r in rows if dataset_part(r[key]) == dataset_part(tenant)} - {tenant})
    if others:
        raise UsageError(
            f"tenant id {tenant!r}: tenant {others[0]!r} is already registered in {t.registry.ref}, and their "
            f"datasets would have the same name ('-' reads as '_' in a dataset name: {dataset_part(tenant)}); "
            "choose another id"
        )


def read_tenant(engine: Engine, t: sql.TenantTables, tenant: str, target: str) -> dict[str, Any]:
    """@tenant's registry row; a UsageError (exit 2) for a tenant the registry does not have."""
    rows = _read(engine, t, sql.registry_row_sql(t), {"tenant": tenant}, target)
    if not rows:
        raise UsageError(f"tenant {tenant!r}: not in {t.registry.ref}; `bqmanage tenant add {tenant}` registers it")
    return rows[0]


def set_status(engine: Engine, t: sql.TenantTables, report: TenantReport, status: str, target: str) -> None:
    """Give @tenant ``status``, unless it has it already. A deleted tenant stays deleted."""
    row = read_tenant(engine, t, report.tenant, target)
    column = t.quota.status_column
    before = row[column]
    report.values = shown(t, row)
    report.status = status
    if before == status:
        return
    if before not in (t.quota.active_status, sql.SUSPENDED):
        raise UsageError(f"tenant {report.tenant!r}: its status in {t.registry.ref} is {before!r}, not active or suspended")
    engine.query(sql.registry_update_sql(t, [column]), {"tenant": report.tenant, sql.param(column): status}, label=LABEL)
    report.changes = {column: [before, status]}


def update_quota_row(engine: Engine, t: sql.TenantTables, report: TenantReport, run_date: Any, limits: dict[str, Any]) -> None:
    """Write ``limits`` (column: value) into @tenant's row for the run date, when it has one."""
    columns = sql.quota_columns(t, [c for c in limits if c in sql.LIMITS])
    if not columns or report.quota_row == "none":
        return
    params = {"tenant": report.tenant, "run_date": run_date, **{sql.param(c): limits[c] for c in columns}}
    engine.query(sql.quota_update_sql(t, columns), params, label=LABEL)
    report.row_updates = {c: limits[c] for c in columns}
    if report.quota_row == "unchanged":
        report.quota_row = "updated"


def note_quota_row(engine: Engine, job: TenantJob, done: ResetReport) -> None:
    """What the reset restricted to the tenant (api._quota_row) did to its row for the day."""
    tenant = job.report.tenant
    # The reset sees active tenants only; a suspended one may still have the row it got before.
    present = done.already_current or (not done.active_tenants and has_row(engine, job.tables, tenant, job.day))
    job.report.quota_row = "created" if done.new_rows else "unchanged" if present else "none"
    if done.new_rows:
        older = tenant in done.carried_from_older
        job.report.row_source = "registry" if tenant in done.without_history else "older row" if older else "latest row"


def update_changed_limits(engine: Engine, job: TenantJob) -> None:
    """The limits an add or set-limits changed in the registry, into the tenant's row for the day."""
    update_quota_row(engine, job.tables, job.report, job.day, {c: v for c, (_, v) in job.report.changes.items()})


def align_quota_row(engine: Engine, t: sql.TenantTables, report: TenantReport, run_date: Any) -> None:
    """After a resume: the row just carried from the tenant's latest row takes the registry's
    limits where they differ, since limits set while it was suspended (set-limits) went to the
    registry only; they are the latest values."""
    if report.quota_row != "created":
        return
    rows = engine.query(sql.list_usage_sql(t, one_tenant=True), {"tenant": report.tenant, "run_date": run_date}, label=LABEL)
    wanted = {c: v for c, v in report.values.items() if c in sql.LIMITS and rows and c in rows[0] and rows[0][c] != v}
    if wanted:
        update_quota_row(engine, t, report, run_date, wanted)


def has_row(engine: Engine, t: sql.TenantTables, tenant: str, run_date: Any) -> bool:
    """Whether @tenant has a row for the run date."""
    return bool(engine.query(sql.list_usage_sql(t, one_tenant=True), {"tenant": tenant, "run_date": run_date}, label=LABEL))


def set_limits(engine: Engine, t: sql.TenantTables, report: TenantReport, wanted: dict[str, Any], target: str) -> None:
    """Set the limits that differ in the registry (api.tenant_set_limits then updates today's row)."""
    row = read_tenant(engine, t, report.tenant, target)
    report.status = row[t.quota.status_column]
    report.changes = {c: [row.get(c), v] for c, v in wanted.items() if row.get(c) != v}
    report.values = {**shown(t, row), **wanted}
    if report.changes:
        params = {"tenant": report.tenant, **{sql.param(c): v for c, v in wanted.items()}}
        engine.query(sql.registry_update_sql(t, list(report.changes)), params, label=LABEL)


def list_tenants(engine: Engine, t: sql.TenantTables, run_date: Any, target: str) -> TenantListing:
    """Every registered tenant with its status and limits, and its usage on the run date."""
    registry = _read(engine, t, sql.list_registry_sql(t), {}, target)
    usage = {r[t.quota.tenant_column]: r for r in engine.query(sql.list_usage_sql(t), {"run_date": run_date}, label=LABEL)}
    rows = []
    for r in registry:
        tenant = r[t.quota.tenant_column]
        limits = {c: r.get(c) for c in sql.LIMITS if t.registry.column(c) is not None}
        day = usage.get(tenant)
        today = None
        if day is not None:
            today = {
                limit: {"used": day.get(counter), "limit": day.get(limit)}
                for limit, counter in sql.LIMITS.items()
                if limit in day or counter in day
            }
        rows.append(TenantRow(tenant, r[t.quota.status_column], r.get(sql.NAME), limits, today))
    return TenantListing(str(t.registry.ref), str(t.quota_table.ref), str(run_date), rows)
