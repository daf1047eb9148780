"""plan, apply and check over many tenants against one read of the live catalog.

Each tenant's datasets are its own, so every tenant can be planned against one bulk read of all of
them (one ``read_live`` and one ledger read for the whole fleet) instead of reading the catalog
again per tenant: on the embedded engine each read enumerates the whole catalog, which made
``apply --all-tenants`` quadratic in the number of tenants (5 DuckDB catalog statements a tenant).
After the read, a tenant's work is its own diff and plan, proportional to its own datasets.

When the bulk read fails (one tenant's dataset unreachable), each tenant reads its own, as before,
so that the failure is that tenant's outcome and the others go on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from bqmanage.errors import BqmanageError, UsageError
from bqmanage.model.schema import Dataset, Definitions, Table, Warehouse
from bqmanage.tenants import fleet
from bqmanage.tenants.access import resolve_members
from bqmanage.tenants.templates import for_tenants

if TYPE_CHECKING:
    from bqmanage.check.findings import Finding
    from bqmanage.engines import Engine
    from bqmanage.ledger import LedgerEntry
    from bqmanage.settings import Settings
    from bqmanage.tenants.fleet import Fleet, OnTenant, TenantOutcome

# A tenant's part of the bulk read: its definitions, its live datasets and tables, its ledger rows.
Part = tuple[Definitions, Warehouse, list["LedgerEntry"]]
# What a plan is made of: the live part of its definitions and their newest ledger entries.
Read = tuple[Warehouse, list["LedgerEntry"]]
# The plan the caller makes (api's PlanResult): the wings sit below the API, so it comes in as a type variable.
P = TypeVar("P")


def read_parts(
    engine: Engine, whole: Definitions, tenants: list[str], history: bool, granted: dict[str, Dataset] | None = None
) -> dict[str, Part] | None:
    """Every tenant's part of one bulk read (None when it failed: read tenant by tenant)."""
    from bqmanage.apply import latest_entries
    from bqmanage.introspect import read_live
    from bqmanage.ledger import ledger_datasets

    mine = {t: _granted(for_tenants(whole, [t]), granted or {}) for t in tenants}
    everyone = Definitions(
        datasets=tuple(d for p in mine.values() for d in p.datasets),
        tables=tuple(tb for p in mine.values() for tb in p.tables),
        digest=whole.digest,
    )
    try:
        actual = read_live(engine, everyone).actual
        ledger = latest_entries(engine, ledger_datasets(everyone, actual, history), unfinished_only=not history)
    except BqmanageError:
        return None
    owner = {d.name: t for t, p in mine.items() for d in p.all_datasets()}
    datasets: dict[str, dict[str, Dataset]] = {t: {} for t in tenants}
    tables: dict[str, dict[str, Table]] = {t: {} for t in tenants}
    entries: dict[str, list[LedgerEntry]] = {t: [] for t in tenants}
    for name, dataset in actual.datasets.items():
        datasets[owner[name]][name] = dataset
    for key, table in actual.tables.items():
        tables[owner[table.dataset]][key] = table
    for entry in ledger:
        entries[owner[entry.dataset]].append(entry)
    return {t: (mine[t], Warehouse(datasets=datasets[t], tables=tables[t]), entries[t]) for t in tenants}


def plan_each(
    engine: Engine, whole: Definitions, tenants: list[str], history: bool, plan: Callable[[Definitions, Read | None], P]
) -> Callable[[str], P]:
    """A tenant -> its plan (``plan``: the API's, given the tenant's part of the read, or None to
    read its own); every tenant's part comes from one read here, or, where that read fails, from its own."""
    # Every tenant's members_from values in one registry read, whichever way the datasets are read.
    # A tenant whose registry value cannot be granted fails alone (exit 2), with nothing planned for it.
    refused: dict[str, str] = {}
    granted = (
        {d.name: d for d in resolve_members(engine, whole, for_tenants(whole, tenants), None, tenants, refused=refused).datasets}
        if tenants
        else {}
    )
    parts = read_parts(engine, whole, tenants, history, granted) if tenants else {}

    def one(tenant: str) -> P:
        if tenant in refused:
            raise UsageError(refused[tenant])
        if parts is None:  # which tenant's dataset failed the read? Each reads its own to find out.
            return plan(_granted(for_tenants(whole, [tenant]), granted), None)
        desired, actual, ledger = parts.pop(tenant)  # let go of each part once planned
        return plan(desired, (actual, ledger))

    return one


def check_tenants(
    settings: Settings, engine: Engine, desired: Definitions, chosen: Fleet, on_done: OnTenant[list[Finding]] | None = None
) -> list[TenantOutcome[list[Finding]]]:
    """check's tenants: in one bulk read where the engine reads its catalog whole (the embedded
    engine) or a region's INFORMATION_SCHEMA in one query, else (or if that read fails)
    ``info_schema_batch`` tenants at a time."""
    whole = engine.capabilities.one_catalog_read or settings.region_qualified_information_schema
    size = fleet.workers(settings, engine)
    return chosen.failed + fleet.check_tenants(engine, desired, chosen.tenants, settings.info_schema_batch, size, on_done, whole)


def suspended_grants(
    settings: Settings, engine: Engine, desired: Definitions, suspended: list[str]
) -> list[TenantOutcome[list[Finding]]]:
    """check --all-tenants of the tenants that are not active: a suspended tenant is declared no
    grant (tenants/access.py), so every entry still live on a dataset whose template declares
    ``access:`` is an ``unexpected_grant``; the rest of its datasets is left alone, as apply
    --all-tenants leaves it. Read in bulk as the active tenants are; a tenant whose datasets
    cannot be read is a failure of its own."""
    templates = tuple(d.model_copy(update={"access": ()}) for d in desired.templates if d.access is not None)
    if not suspended or not templates:
        return []
    grants_only = Definitions(datasets=(), tables=(), digest=desired.digest, templates=templates)
    whole = engine.capabilities.one_catalog_read or settings.region_qualified_information_schema
    size = fleet.workers(settings, engine)
    outcomes = fleet.check_tenants(engine, grants_only, suspended, settings.info_schema_batch, size, None, whole)
    return [
        dataclasses.replace(o, value=[_still_granted(f) for f in o.value if f.kind == "unexpected_grant"])
        if o.value is not None
        else o
        for o in outcomes
    ]


def _still_granted(finding: Finding) -> Finding:
    tenant = finding.tenant
    return dataclasses.replace(
        finding,
        message=(
            f"tenant {tenant} (suspended): {finding.dataset} access: {finding.actual} is still granted; a suspended "
            f"tenant has no access (`bqmanage tenant suspend {tenant}` revokes what the definitions declare; revoke "
            "any other entry by hand)"
        ),
    )


def _granted(part: Definitions, datasets: dict[str, Dataset]) -> Definitions:
    """``part`` with its datasets as resolved for all the tenants at once (resolve_members)."""
    return part.model_copy(update={"datasets": tuple(datasets.get(d.name, d) for d in part.datasets)})
