"""Import of row access policies: a table isolated the way ``row_access`` declares it (bqmanage's
two policies, the isolation filter over a members table) imports as its ``row_access``; any other
policy is named in a note and left to its owner (check compares only bqmanage's own).

The member pattern is read from the members table: each tenant's member with its tenant id
replaced by ``{tenant}``, when every row agrees on one pattern; otherwise import says so and writes
no ``row_access`` (check then reports the live isolation as undeclared, refused, never dropped).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bqmanage.model.names import quote
from bqmanage.model.rest import policies_from_api
from bqmanage.model.row_access import (
    DEFAULT_GRANTEES,
    ISOLATION_POLICY,
    MEMBER_COLUMN,
    TENANT_COLUMN,
    WRITER_POLICY,
    RowAccess,
    normalize_filter,
)
from bqmanage.model.schema import Table, TableRef
from bqmanage.terminal import printable

if TYPE_CHECKING:
    from bqmanage.engines import Engine

_NAME = r"`?([A-Za-z_][A-Za-z0-9_]*)`?"
_FILTER = re.compile(
    rf"{_NAME} IN \(SELECT `?{TENANT_COLUMN}`? FROM (?:`?[a-z][a-z0-9.:-]*`?\.)?`?([A-Za-z0-9_]+)`?\.{_NAME} "
    rf"WHERE `?{MEMBER_COLUMN}`? = SESSION_USER\(\)\)\Z",
    re.IGNORECASE,
)


def with_row_access(engine: Engine, tables: list[Table], notes: list[str]) -> list[Table]:
    """``tables`` with the ``row_access`` their live policies express."""
    if not tables or "row_access" in engine.capabilities.unobservable:
        return tables  # an engine that holds no policies (bqemulator) is not asked, one request per table
    found = engine.row_access_policies([(t.dataset, t.name) for t in tables])
    out = []
    for table in tables:
        policies = policies_from_api(found.get(f"{table.dataset}.{table.name}")) or ()
        others = sorted(p.name for p in policies if p.name.lower() not in (ISOLATION_POLICY, WRITER_POLICY))
        if others:
            notes.append(
                printable(f"{table.ref}: row access policies {', '.join(others)} are not bqmanage's; left to their owner")
            )
        isolation = next((p for p in policies if p.name.lower() == ISOLATION_POLICY), None)
        if isolation is not None:
            access = _declared(engine, table, isolation.filter, isolation.grantees, notes)
            table = table.model_copy(update={"row_access": access}) if access is not None else table
        out.append(table)
    return out


def _declared(engine: Engine, table: Table, text: str, grantees: tuple[str, ...], notes: list[str]) -> RowAccess | None:
    match = _FILTER.match(normalize_filter(text))
    if match is None:
        notes.append(printable(f"{table.ref}: its {ISOLATION_POLICY} filter is not one row_access writes; left as it is"))
        return None
    column, dataset, members = match.groups()
    rows = engine.query(
        f"SELECT {quote(TENANT_COLUMN)}, {quote(MEMBER_COLUMN)} FROM {TableRef(dataset=dataset, table=members).sql()}",
        label="import",
    )
    patterns = {str(r[MEMBER_COLUMN]).replace(str(r[TENANT_COLUMN]), "{tenant}") for r in rows}
    if not patterns:
        # No tenant yet: the member is the definition's to say (kept from a definition there, see
        # kept_access); without one, import writes no row_access (emit) and says so.
        notes.append(
            printable(
                f"{table.ref}: isolated by {dataset}.{members}, which has no members yet: its row_access member "
                "comes from the definition import writes over, else add row_access by hand"
            )
        )
        return RowAccess(tenant_column=column, members=f"{dataset}.{members}", member="", grant_to=grantees or DEFAULT_GRANTEES)
    if len(patterns) != 1 or "{tenant}" not in next(iter(patterns)):
        notes.append(
            printable(
                f"{table.ref}: the members of {dataset}.{members} follow no one pattern with {{tenant}}; "
                "declare row_access by hand (its member is what tenant add writes)"
            )
        )
        return None
    return RowAccess(
        tenant_column=column, members=f"{dataset}.{members}", member=patterns.pop(), grant_to=grantees or DEFAULT_GRANTEES
    )


def kept_access(live: Table, old: Table) -> RowAccess | None:
    """An import over a definition: the live isolation, with the member pattern the definition
    says (it lives only there); the definition's own when the live filter was not read."""
    if live.row_access is None:
        return old.row_access if live.row_access_policies is None else None
    if old.row_access is not None and (not live.row_access.member or old.row_access.members == live.row_access.members):
        return live.row_access.model_copy(update={"member": old.row_access.member})
    return live.row_access
