"""The row access mapping tables follow the registry: an active tenant's member is a row of each
mapping table its isolated tables name (``row_access.members``), a suspended one has none.

``tenant add`` and ``resume`` write the declared member row, ``suspend`` deletes every row of the
tenant (access revoked; its data stays). Each reads first and writes only what differs, so that a
command run again, or after a kill -9 between two statements, changes only what is still missing.
Values are query parameters; the table names are validated definitions, quoted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bqmanage.model.row_access import MEMBER_COLUMN, TENANT_COLUMN
from bqmanage.model.schema import Table, TableRef

if TYPE_CHECKING:
    from bqmanage.check.findings import Finding
    from bqmanage.engines import Engine
    from bqmanage.model.schema import Definitions, Warehouse
    from bqmanage.tenants.commands import TenantJob
    from bqmanage.tenants.scope import TenantScope

LABEL = "tenant"


def _members(desired: Definitions, tenant: str) -> dict[TableRef, set[str]]:
    out: dict[TableRef, set[str]] = {}
    for table in desired.tables:
        if table.row_access is not None:
            dataset, name = table.row_access.members.split(".", 1)
            out.setdefault(TableRef(dataset=dataset, table=name), set()).add(table.row_access.member_of(tenant))
    return out


def _rows(engine: Engine, ref: TableRef) -> list[dict[str, Any]]:
    """The members table's rows, read without a query job where the engine can (BigQuery's
    tabledata.list is free): a repeated ``tenant add`` then runs no job here at all."""
    fields = [
        {"name": TENANT_COLUMN, "type": "STRING", "mode": "NULLABLE"},
        {"name": MEMBER_COLUMN, "type": "STRING", "mode": "NULLABLE"},
    ]
    return engine.read_rows(ref.dataset, ref.table, fields)


def sync(engine: Engine, job: TenantJob, project: str | None, active: bool) -> None:
    """Make ``job``'s tenant have exactly its declared member rows (``active``) or none."""
    tenant = job.report.tenant
    for ref, wanted in sorted(_members(job.desired, tenant).items(), key=lambda kv: str(kv[0])):
        table = ref.sql(project)
        tenant_col, member_col = f"`{TENANT_COLUMN}`", f"`{MEMBER_COLUMN}`"
        have = {r[MEMBER_COLUMN] for r in _rows(engine, ref) if r[TENANT_COLUMN] == tenant}
        if not active:
            if have:
                engine.query(f"DELETE FROM {table} WHERE {tenant_col} = @tenant", {"tenant": tenant}, label=LABEL)
                job.report.members[str(ref)] = [sorted(have), []]
            continue
        for member in sorted(wanted - have):
            # NOT EXISTS: a concurrent add of the same tenant may have written it meanwhile.
            engine.query(
                f"INSERT INTO {table} ({tenant_col}, {member_col})\n"
                f"SELECT @tenant, @member FROM UNNEST([1])\n"
                f"WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {tenant_col} = @tenant AND {member_col} = @member)",
                {"tenant": tenant, "member": member},
                label=LABEL,
            )
        if wanted - have:
            job.report.members[str(ref)] = [sorted(have), sorted(have | wanted)]


# The members table is bqmanage's derived state: exactly the rows the registry derives (each
# active tenant's declared member of each isolated table naming the table), nothing else. ``check``
# reports a row missing (missing_grant) or one the registry does not derive (unexpected_grant),
# ``apply`` restores it: a hand-added row would otherwise keep granting a tenant's rows after suspend.


@dataclass(frozen=True)
class MemberRow:
    ref: TableRef
    tenant: str
    member: str
    table: Table  # an isolated table that names the members table: where it is declared
    why: str = ""  # for a row the registry does not derive: why not


def member_drift(
    engine: Engine, desired: Definitions, tenants: Sequence[str] | None = None, actual: Warehouse | None = None
) -> tuple[list[MemberRow], list[MemberRow]]:
    """(rows missing, rows not derived) of the members tables, for ``tenants`` (None: every row and
    every tenant of the registry). Nothing while the registry or a members table is not there yet:
    ``actual``, the live catalog the caller has read already, says which are there (else one
    tables.get each; a second catalog read on the local engine).
    The members are read before the registry: a tenant command writes its registry row first, so a
    row read here is never of a tenant the registry read after it does not know."""
    from bqmanage.tenants.registry import read_statuses
    from bqmanage.tenants.sql import tenant_tables

    patterns: dict[TableRef, dict[str, Table]] = {}
    for table in desired.tables:
        if table.row_access is not None:
            dataset, name = table.row_access.members.split(".", 1)
            patterns.setdefault(TableRef(dataset=dataset, table=name), {}).setdefault(table.row_access.member, table)
    if not patterns or not any(t.quota is not None and t.quota.registry for t in desired.tables):
        return [], []
    t = tenant_tables(desired, None)

    def there(dataset: str, table: str) -> bool:
        return (actual.table(dataset, table) if actual is not None else engine.get_table(dataset, table)) is not None

    live = {ref: _rows(engine, ref) for ref in patterns if there(ref.dataset, ref.table)}
    if not live or not there(t.registry.dataset, t.registry.name):
        return [], []
    statuses = read_statuses(engine, t.registry, t.quota)
    active = {str(tenant) for tenant, on in statuses if on}
    registered = {str(tenant) for tenant, _ in statuses}
    wanted = set(tenants) if tenants is not None else None
    missing: list[MemberRow] = []
    extra: list[MemberRow] = []
    for ref, rows in live.items():
        declared = {(tenant, p.replace("{tenant}", tenant)): table for tenant in active for p, table in patterns[ref].items()}
        have = {(str(r[TENANT_COLUMN]), str(r[MEMBER_COLUMN])) for r in rows}
        first = next(iter(patterns[ref].values()))
        for (tenant, member), table in sorted(declared.items()):
            if (tenant, member) not in have and (wanted is None or tenant in wanted):
                missing.append(MemberRow(ref, tenant, member, table))
        for tenant, member in sorted(have - set(declared)):
            if wanted is None or tenant in wanted:
                why = (
                    "not the member the definitions declare"
                    if tenant in active
                    else "the tenant is not active"
                    if tenant in registered
                    else "no such tenant in the registry"
                )
                extra.append(MemberRow(ref, tenant, member, first, why))
    return missing, extra


def member_findings(missing: list[MemberRow], extra: list[MemberRow]) -> list[Finding]:
    from bqmanage.check.findings import SEVERITY, Finding

    def finding(kind: str, row: MemberRow, text: str) -> Finding:
        access = row.table.row_access
        return Finding(
            kind,
            SEVERITY[kind],
            f"tenant {row.tenant}: {row.ref} row access: {text}",
            dataset=row.ref.dataset,
            table=row.ref.table,
            expected=row.member if kind == "missing_grant" else None,
            actual=row.member if kind == "unexpected_grant" else None,
            definition=row.table.source,
            definition_line=access.line if access else None,
            tenant=row.tenant,
        )

    out = [
        finding("missing_grant", r, f"{r.member} is not a member of the active tenant; apply --tenant {r.tenant} restores it")
        for r in missing
    ]
    out += [
        finding(
            "unexpected_grant",
            r,
            f"{r.member} is a member, which the registry does not derive ({r.why}); apply removes it "
            "(the members table follows the registry)",
        )
        for r in extra
    ]
    return out


def restore(
    engine: Engine, desired: Definitions, project: str | None, scope: TenantScope, actual: Warehouse | None = None
) -> list[str]:
    """Make the members tables exactly what the registry derives for ``scope``'s tenants (all
    without a scope); what was done. A row is inserted only where it is still missing, and a row is
    removed by its exact (tenant, member), so that a run again changes nothing."""
    missing, extra = member_drift(engine, desired, scope.tenant_list, actual)
    tenant_col, member_col = f"`{TENANT_COLUMN}`", f"`{MEMBER_COLUMN}`"
    done: list[str] = []
    for row in extra:
        engine.query(
            f"DELETE FROM {row.ref.sql(project)} WHERE {tenant_col} = @tenant AND {member_col} = @member",
            {"tenant": row.tenant, "member": row.member},
            label=LABEL,
        )
        done.append(f"removed member {row.member} of tenant {row.tenant} from {row.ref} ({row.why})")
    for row in missing:
        table = row.ref.sql(project)
        engine.query(
            f"INSERT INTO {table} ({tenant_col}, {member_col})\n"
            f"SELECT @tenant, @member FROM UNNEST([1])\n"
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {tenant_col} = @tenant AND {member_col} = @member)",
            {"tenant": row.tenant, "member": row.member},
            label=LABEL,
        )
        done.append(f"restored member {row.member} of tenant {row.tenant} in {row.ref}")
    return done
