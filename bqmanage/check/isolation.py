"""The isolation probe (``check --isolation``): proved on data, not on metadata.

For a sample of tenants, every isolated table is read as each of the tenant's members would read
it, and any row of another tenant it shows is an ``isolation_leak``. The rows a member sees are
those of the table's LIVE row access policies (as the engine reports them, so a policy widened by
hand counts, and a definition that says otherwise does not) that apply to the member, ORed, as
BigQuery combines them: each filter is evaluated with SESSION_USER() standing for the member (a
query parameter), by a principal that sees every row (bqmanage's writer on BigQuery; anyone on the
local engine, which enforces no policy). Who the members are comes from the live mapping tables.

A policy applies to a member when a grantee names it, its domain, or everyone signed in; group
membership cannot be resolved here, so a ``group:`` grantee counts as applying: the probe then
reports a leak the group may not cause, never misses one it does.
https://cloud.google.com/bigquery/docs/row-level-security-intro (policies combine; grantees)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlglot.errors import SqlglotError

from bqmanage.changes.row_access import ROW_ACCESS_GRANTEES
from bqmanage.check.findings import SEVERITY, Finding
from bqmanage.errors import UsageError
from bqmanage.model.names import quote
from bqmanage.model.row_access import MEMBER_COLUMN, TENANT_COLUMN, RowAccessPolicy, declared_policies
from bqmanage.model.schema import Definitions, Table, TableRef, Warehouse

if TYPE_CHECKING:
    from bqmanage.engines import Engine

# Tenants probed when there are more: every one on a small warehouse, an even spread on a big one.
SAMPLE = 20
_SESSION_USER = re.compile(r"\bSESSION_USER\s*\(\s*\)", re.IGNORECASE)
_EVERYONE = ("allAuthenticatedUsers", "allUsers")


def applies(policy: RowAccessPolicy, member: str) -> bool:
    """Whether ``policy`` is granted to ``member`` (an email, as SESSION_USER() returns it)."""
    for grantee in policy.grantees:
        kind, _, name = grantee.partition(":")
        if grantee in _EVERYONE or kind == "group" or name.lower() == member.lower():
            return True
        if kind == "domain" and member.lower().endswith("@" + name.lower()):
            return True
    return False


def as_member(policy_filter: str) -> str:
    """The filter with SESSION_USER() as the ``@member`` parameter. Filters are GoogleSQL that the
    engine reports; a string literal spelling SESSION_USER() would be rewritten too, which can only
    make the probe see differently from BigQuery in a filter written to fool it."""
    return _SESSION_USER.sub("@member", policy_filter)


def sample(tenants: Sequence[str], size: int = SAMPLE) -> list[str]:
    ordered = sorted(set(tenants))
    if len(ordered) <= size:
        return ordered
    step = len(ordered) / size
    return [ordered[int(i * step)] for i in range(size)]


def probe(engine: Engine, desired: Definitions, actual: Warehouse, tenants: Sequence[str] | None = None) -> list[Finding]:
    """An ``isolation_leak`` per (table, tenant, member) that sees another tenant's rows."""
    findings: list[Finding] = []
    isolated = [t for t in desired.tables if t.row_access is not None]
    members_of: dict[str, dict[str, list[str]]] = {}
    for table in isolated:
        live = actual.table(table.dataset, table.name)
        if live is None:
            continue  # reported as missing_table
        if live.row_access_policies is None:
            raise UsageError(
                f"check --isolation: target {engine.name} does not report the row access policies of {table.ref} "
                "(bqemulator holds none; docs/isolation.md)"
            )
        access = table.row_access
        assert access is not None
        if access.members not in members_of:
            members_of[access.members] = _members(engine, access.members, actual)
        members = members_of[access.members]
        policies = _with_grantees(live, table, ROW_ACCESS_GRANTEES not in engine.capabilities.unobservable)
        for tenant in sample(list(tenants) if tenants is not None else list(members)):
            for member in members.get(tenant, []):
                try:
                    seen = _visible_tenants(engine, live.ref, policies, access.tenant_column, member)
                except SqlglotError:  # a live filter edited by hand (local side table) that is no SQL
                    findings.append(_leak(table, tenant, member, ["(unknown: a live filter cannot be evaluated)"]))
                    break
                others = sorted(str(s) for s in seen if str(s) != tenant)
                if others:
                    findings.append(_leak(table, tenant, member, others))
    return findings


def _members(engine: Engine, members: str, actual: Warehouse) -> dict[str, list[str]]:
    dataset, name = members.split(".", 1)
    if actual.table(dataset, name) is None:
        return {}
    ref = TableRef(dataset=dataset, table=name)
    rows = engine.query(
        f"SELECT {quote(TENANT_COLUMN)}, {quote(MEMBER_COLUMN)} FROM {ref.sql()} ORDER BY 1, 2", label="isolation_probe"
    )
    out: dict[str, list[str]] = {}
    for row in rows:
        out.setdefault(str(row[TENANT_COLUMN]), []).append(str(row[MEMBER_COLUMN]))
    return out


def _with_grantees(live: Table, table: Table, known: bool) -> list[RowAccessPolicy]:
    """The live policies with grantees. Where the engine cannot read them (BigQuery's API returns
    none), bqmanage's own policies have the declared grantees and any other counts as granted to
    everyone: the probe may then report a leak that is not one, never miss one."""
    if known:
        return list(live.row_access_policies or ())
    declared = {p.name.lower(): p.grantees for p in declared_policies(table.row_access)} if table.row_access else {}
    everyone = ("allAuthenticatedUsers",)
    return [p.model_copy(update={"grantees": declared.get(p.name.lower(), everyone)}) for p in live.row_access_policies or ()]


def _visible_tenants(
    engine: Engine, ref: TableRef, policies: list[RowAccessPolicy], tenant_column: str, member: str
) -> list[object]:
    """The tenants whose rows ``member`` sees in the table: none when no policy applies to it."""
    applying = [p for p in policies if applies(p, member)]
    if any(not p.filter.strip() for p in applying):
        raise SqlglotError("a live policy has no filter")  # a NULL written by hand: what does it admit?
    filters = [f"({as_member(p.filter)})" for p in applying]
    if not filters:
        return []
    sql = f"SELECT DISTINCT {quote(tenant_column)} AS seen FROM {ref.sql()} WHERE " + " OR ".join(filters)
    return [row["seen"] for row in engine.query(sql, {"member": member}, label="isolation_probe")]


def _leak(table: Table, tenant: str, member: str, others: list[str]) -> Finding:
    shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
    return Finding(
        "isolation_leak",
        SEVERITY["isolation_leak"],
        f"{table.ref}: {member}, a member of tenant {tenant}, can read rows of tenant(s) {shown}; "
        "a live row access policy admits them (check shows which differs; apply restores the declared ones)",
        dataset=table.dataset,
        table=table.name,
        column=table.row_access.tenant_column if table.row_access else None,
        expected=[tenant],
        actual=sorted({tenant, *others}),
        definition=table.source,
        definition_line=table.line,
        tenant=tenant,
    )
