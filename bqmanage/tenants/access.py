"""A tenant's dataset access, from its template and its registry row.

A template entry with ``members_from: tenant_profiles.reader_group`` grants each tenant the member
its registry row holds in that column (one query for all the tenants at hand); a NULL grants
nothing. ``tenant suspend`` revokes what the templates grant the tenant (its data stays) and
``tenant resume`` grants it again: both are one ``set_dataset_access`` step per dataset, made
with the dataset's etag, idempotent, so that a run killed half-way is finished by running it again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from bqmanage.apply import apply_plan
from bqmanage.changes import SetDatasetAccess
from bqmanage.errors import UsageError, WarehouseError
from bqmanage.introspect import read_live
from bqmanage.model.access import AccessEntry, registry_member_problem
from bqmanage.model.rest import column_to_api
from bqmanage.model.schema import Dataset, Definitions
from bqmanage.plan import Plan, step_of
from bqmanage.tenants.sql import SUSPENDED, TenantTables, tenant_tables
from bqmanage.tenants.templates import for_tenants, tenant_datasets
from bqmanage.terminal import printable

if TYPE_CHECKING:
    from bqmanage.engines import Engine
    from bqmanage.settings import Settings
    from bqmanage.tenants.commands import TenantJob


def resolve_members(
    engine: Engine,
    whole: Definitions,
    part: Definitions,
    known: dict[str, Any] | None = None,
    tenants: Iterable[str] = (),
    *,
    withhold_inactive: bool = True,
    refused: dict[str, str] | None = None,
) -> Definitions:
    """``part`` (templates expanded for some tenants) with every ``members_from`` entry filled in
    from the registry; an entry whose value is NULL is left out. A value that cannot be a member
    is refused (exit 2), naming the registry row: granting half of what is declared is worse.
    A value may be one member of the kinds the entry allows (``kinds:``; by default an email
    principal): a ``domain:`` or ``specialGroup:`` value would open the dataset to far more than
    the tenant's readers. With ``refused`` given, a refused tenant is not raised for: its message
    goes there (tenant -> message) and the refused entry declares nothing, so that each caller
    fails that tenant alone and check reports a grant the value made as not declared.

    A tenant of ``tenants`` whose registry status is not the active one (a suspended tenant) is
    declared no grant at all on its datasets (``withhold_inactive``): add, apply and check then
    neither grant nor expect what suspend revoked. Only suspend itself resolves them as declared
    (``withhold_inactive=False``), to know what to revoke.

    The registry is read as the statuses are (``registry.read_statuses``): its rows through
    tabledata.list on BigQuery, free and no query job, once for all the tenants at hand.

    :param known: tenant -> its registry row as the caller just read it, or {} for a row it just
        inserted (NULL in the member columns unless they have a default): not read again."""
    owner = tenant_datasets(whole, tenants) if withhold_inactive else {}
    owned = {owner[d.name] for d in part.datasets if d.access and d.name in owner}
    pending = [e for d in part.datasets for e in d.access or () if e.members_from and e.tenant]
    if not pending and not owned:
        return part
    t = tenant_tables(whole, None)
    columns = sorted({e.members_from.partition(".")[2].lower() for e in pending if e.members_from})
    status = t.quota.status_column.lower()
    wanted_tenants = {e.tenant for e in pending if e.tenant} | owned
    defaults = any((c := t.registry.column(name)) is not None and c.default is not None for name in columns)
    rows = {tenant: row for tenant, row in (known or {}).items() if row or not defaults}  # {}: all NULL
    if wanted_tenants - set(rows):
        tenant_column = t.registry.column(t.quota.tenant_column)
        names = [*columns, status] if owned else columns
        wanted = [c for c in (tenant_column, *(t.registry.column(n) for n in names)) if c is not None]
        for row in _registry_rows(engine, t, [column_to_api(c) for c in wanted]):
            if (tenant := row[wanted[0].name]) in wanted_tenants and tenant not in rows:
                rows[tenant] = row
    values = {(tenant, k.lower()): v for tenant, row in rows.items() for k, v in row.items()}
    active = t.quota.active_status
    inactive = {tenant for tenant in owned if values.get((tenant, status), active) not in (None, active)}
    datasets = tuple(
        d.model_copy(update={"access": ()})
        if owner.get(d.name) in inactive and d.access is not None
        else _resolved(d, values, t, refused)
        for d in part.datasets
    )
    return part.model_copy(update={"datasets": datasets})


def _registry_rows(engine: Engine, t: TenantTables, fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The registry's rows; none while it does not exist (a warehouse apply has not run on: plan
    --tenant shows the tenant's datasets all the same, and nobody is granted yet), and without the
    columns it does not have yet."""
    try:
        return engine.read_rows(t.registry.dataset, t.registry.name, fields)
    except WarehouseError:
        resource = engine.get_table(t.registry.dataset, t.registry.name)
        if resource is None:
            return []
        # A member column apply has not added yet (check before apply): NULL for every tenant.
        live = {f["name"].lower() for f in (resource.get("schema") or {}).get("fields") or []}
        if (there := [f for f in fields if f["name"].lower() in live]) == fields:
            raise
        return engine.read_rows(t.registry.dataset, t.registry.name, there)


def _resolved(dataset: Dataset, values: dict[tuple[str, str], Any], t: TenantTables, refused: dict[str, str] | None) -> Dataset:
    if not any(e.members_from for e in dataset.access or ()):
        return dataset
    entries: list[AccessEntry] = []
    for entry in dataset.access or ():
        if not (entry.members_from and entry.tenant):
            entries.append(entry)
            continue
        column = entry.members_from.partition(".")[2]
        value = values.get((entry.tenant, column.lower()))
        if value is None:
            continue
        if (why := registry_member_problem(str(value), entry.kinds)) is not None:
            message = (
                f"{t.registry.ref}: tenant '{printable(entry.tenant)}': {column} = '{printable(str(value))}' cannot be "
                f"granted ({dataset.source}: access members_from {entry.members_from}): {printable(why)}; nothing is "
                "granted to the tenant until the registry row holds a valid member or NULL"
            )
            if refused is None:
                raise UsageError(message)
            refused.setdefault(entry.tenant, message)
            continue
        entries.append(AccessEntry(role=entry.role, member=str(value), line=entry.line))
    return dataset.model_copy(update={"access": tuple(entries)})


def tenant_access(settings: Settings, engine: Engine, desired: Definitions, tenant: str, granted: bool) -> list[str]:
    """Grant (``granted``) or revoke what the templates declare for ``tenant`` on its live datasets;
    what each step did. Entries nobody declared are never touched."""
    # Suspend revokes whatever valid entries are declared; a refused value was never granted by bqmanage.
    refused: dict[str, str] | None = None if granted else {}
    part = resolve_members(engine, desired, for_tenants(desired, [tenant]), withhold_inactive=False, refused=refused)
    actual = read_live(engine, part).actual
    steps = []
    for dataset in part.datasets:
        live = actual.datasets.get(dataset.name)
        if live is None or live.access is None:
            continue  # no dataset, nothing to revoke; resume creates it (onboard.tenant_datasets)
        have = {e.key for e in live.access}
        declared = [e for e in dataset.access or () if e.member]
        if granted:
            change = SetDatasetAccess(dataset=dataset.name, table=None, grant=tuple(e for e in declared if e.key not in have))
        else:
            change = SetDatasetAccess(dataset=dataset.name, table=None, revoke=tuple(e for e in declared if e.key in have))
        if change.grant or change.revoke:
            steps.append(step_of(change, settings.project))
    if steps:
        apply_plan(engine, Plan(steps=tuple(steps), refused=()), desired.digest, None, settings.project)
    return [s.reason for s in steps]


# How often a command follows a status another command changed meanwhile before it gives up (exit 3).
_CONVERGE_ROUNDS = 6


def converge(settings: Settings, engine: Engine, job: TenantJob, synced: str) -> None:
    """After a tenant command made grants and members follow ``synced`` (the status it wrote or
    read): read the status that stands now, and while it is not ``synced`` (a concurrent add,
    suspend or resume wrote another: BigQuery has no lock), make grants and members follow it and
    read again. Each command's last read comes after its last change, so the command to finish
    last leaves grants and members as the status that stands says. The read is tabledata.list
    (free, no query job)."""
    from bqmanage.tenants import members
    from bqmanage.tenants.registry import read_statuses

    t, tenant = job.tables, job.report.tenant
    active = t.quota.active_status
    for _ in range(_CONVERGE_ROUNDS):
        statuses = [on for who, on in read_statuses(engine, t.registry, t.quota) if who == tenant]
        if not statuses:
            return  # withdrawn (a colliding add): nothing of it to follow
        now = active if any(statuses) else SUSPENDED
        if now == (synced or active):
            return
        synced = job.report.status = job.report.status_by_another = now
        steps = tenant_access(settings, engine, job.desired, tenant, granted=now == active)
        job.report.datasets += [s for s in steps if s not in job.report.datasets]
        members.sync(engine, job, settings.warehouse_project, active=now == active)
    raise WarehouseError(f"tenant {tenant!r}: its status in {t.registry.ref} kept changing while access followed it; run again")


def follow(settings: Settings, engine: Engine, job: TenantJob, active: bool) -> None:
    """The members as the command's status says (``members.sync``), then ``converge``."""
    from bqmanage.tenants import members

    members.sync(engine, job, settings.warehouse_project, active)
    converge(settings, engine, job, job.tables.quota.active_status if active else SUSPENDED)
