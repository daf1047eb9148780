"""The row access mapping tables follow the registry: an active tenant's member is a row of each
mapping table its isolated tables name (``row_access.members``), a suspended one has none.

``tenant add`` and ``resume`` write the declared member row, ``suspend`` deletes every row of the
tenant (access revoked; its data stays). Each reads first and writes only what differs, so that a
command run again, or after a kill -9 between two statements, changes only what is still missing.
Values are query parameters; the table names are validated definitions, quoted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bqmanage.model.row_access import MEMBER_COLUMN, TENANT_COLUMN
from bqmanage.model.schema import TableRef

if TYPE_CHECKING:
    from bqmanage.engines import Engine
    from bqmanage.model.schema import Definitions
    from bqmanage.tenants.commands import TenantJob

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
