"""The tenant registry: which table it is, worked out in one place, and who is in it, read in one way.

A quota table's registry is the table its ``quota.registry`` names, else ``tenant_profiles`` in
the quota table's own dataset. Validation (definitions/quota.py), the reset's SQL, the tenant
commands and ``--all-tenants`` all resolve it here, and refuse a set of definitions without one
quota table (or one registry) with the same message. The reset and ``--all-tenants`` read its
tenants and their status here too (``read_statuses``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bqmanage.errors import UsageError
from bqmanage.model.schema import Definitions, QuotaSpec, Table

if TYPE_CHECKING:
    from bqmanage.check.findings import Finding
    from bqmanage.engines import Engine

DEFAULT_TABLE = "tenant_profiles"


def registry_name(table: Table, quota: QuotaSpec) -> str:
    """dataset.table of the registry of the quota table ``table``."""
    return quota.registry or f"{table.dataset}.{DEFAULT_TABLE}"


def quota_tables(desired: Definitions) -> list[Table]:
    return [t for t in desired.tables if t.quota is not None]


def registry_of(desired: Definitions, table: Table) -> Table:
    """The defined registry of the quota table ``table``, with the tenant and status columns the
    reset and the tenant commands read. Validation has refused definitions where it is not, with
    the problem located; this is the same refusal for a caller that skipped it."""
    assert table.quota is not None
    name = registry_name(table, table.quota)
    dataset, _, table_name = name.partition(".")
    registry = desired.table(dataset, table_name)
    if registry is None:
        raise UsageError(f"{table.source}: quota.registry {name!r} is not a defined table")
    for needed in (table.quota.tenant_column, table.quota.status_column):
        if registry.column(needed) is None:
            raise UsageError(f"{registry.source}: the registry has no column {needed!r}")
    return registry


def not_exactly_one(flag: str, quotas: list[Table], hint: str = "") -> UsageError:
    """The one refusal for definitions without exactly one quota table (or registry) to use."""
    names = ", ".join(f"{t.dataset}.{t.name}" for t in quotas) or "none"
    return UsageError(f"{flag}: needs exactly one quota table with its tenant registry; the definitions have: {names}{hint}")


def the_quota_table(desired: Definitions, flag: str, hint: str = "") -> Table:
    """The one quota table of the definitions (a UsageError naming them all when there is not one)."""
    quotas = quota_tables(desired)
    if len(quotas) != 1:
        raise not_exactly_one(flag, quotas, hint)
    return quotas[0]


def the_registry(desired: Definitions, flag: str) -> tuple[Table, QuotaSpec]:
    """The one registry of the definitions, and a quota section that reads it: several quota
    tables may share one registry, as long as they agree on how they read it."""
    quotas = quota_tables(desired)
    readers = {
        (registry_name(t, t.quota), t.quota.tenant_column, t.quota.status_column, t.quota.active_status): t
        for t in quotas
        if t.quota is not None
    }
    if len(readers) != 1:
        raise not_exactly_one(flag, quotas)
    table = next(iter(readers.values()))
    assert table.quota is not None
    return registry_of(desired, table), table.quota


def read_statuses(engine: Engine, registry: Table, quota: QuotaSpec) -> list[tuple[Any, bool]]:
    """Every row of the registry as (tenant id, whether it is active), a tenant listed twice twice."""
    return [(tenant, status == quota.active_status) for tenant, status in read_status_rows(engine, registry, quota)]


def read_status_rows(engine: Engine, registry: Table, quota: QuotaSpec) -> list[tuple[Any, Any]]:
    """Every row of the registry as (tenant id, status) as written, a tenant listed twice twice.
    Read without a query job where the engine can (BigQuery's tabledata.list is free)."""
    from bqmanage.model.rest import column_to_api

    tenant, status = registry.column(quota.tenant_column), registry.column(quota.status_column)
    assert tenant is not None and status is not None  # registry_of checked them
    fields = [column_to_api(tenant), column_to_api(status)]
    rows = engine.read_rows(registry.dataset, registry.name, fields)
    return [(row[tenant.name], row[status.name]) for row in rows]


def bad_rows(rows: list[tuple[Any, Any]], active: str, suspended: str) -> list[tuple[Any, Any, str]]:
    """The registry rows ``--all-tenants`` would pass over without a word, as (tenant, status, why):
    a tenant listed more than once, a row without a tenant id, and a status that is the active or
    suspended one but for case or spaces ('Active', 'active '). Any other status (say 'deleted')
    is a status of the registry's own, not a mistake."""
    from collections import Counter

    out: list[tuple[Any, Any, str]] = []
    copies = Counter(tenant for tenant, _ in rows)
    for tenant, status in rows:
        if tenant is None:
            out.append((tenant, status, "the row has no tenant id"))
            continue
        near = isinstance(status, str) and status not in (active, suspended) and status.strip().lower() in (active, suspended)
        if near:
            meant = active if status.strip().lower() == active else suspended
            out.append((tenant, status, f"its status {status!r} is not {meant!r} (case or spaces), so --all-tenants skips it"))
    for tenant, count in sorted(copies.items(), key=lambda c: repr(c[0])):
        if tenant is not None and count > 1:
            statuses = [status for t, status in rows if t == tenant]
            out.append((tenant, statuses, f"it is listed {count} times (the reset refuses such a registry): keep one row"))
    return out


def registry_findings(registry_table: str, rows: list[tuple[Any, Any, str]]) -> list[Finding]:
    """``registry_row_invalid``: each row bad_rows found, named by its tenant id (escaped)."""
    from bqmanage.check.findings import SEVERITY, Finding

    dataset, _, table = registry_table.partition(".")
    return [
        Finding(
            "registry_row_invalid",
            SEVERITY["registry_row_invalid"],
            f"{registry_table}: tenant {tenant!r}: {why}",
            dataset=dataset,
            table=table,
            tenant=str(tenant) if tenant is not None else None,
            actual=status if not isinstance(status, list) else None,
        )
        for tenant, status, why in rows
    ]
