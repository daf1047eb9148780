"""One job per tenant, hundreds of tenants at once: a bounded thread pool in which one tenant's
failure is that tenant's outcome, and the others go on.

Each tenant has datasets of its own, so its tables are not another tenant's: BigQuery's
per-table metadata limit (5 updates per 10 s, which apply paces per table) is not shared between
tenants, and the pool's size bounds only the requests in flight (BQMANAGE_TENANT_WORKERS; BigQuery
allows 300 concurrent API requests per user, https://cloud.google.com/bigquery/quotas#api_request_quotas).
The local engine has one DuckDB connection, so it runs tenants one after another.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from bqmanage.check.findings import Finding, findings_from_changes
from bqmanage.definitions.access import TenantMemberError, tenant_member_problems
from bqmanage.errors import EXIT_OK, BqmanageError, UsageError
from bqmanage.tenants.access import resolve_members
from bqmanage.tenants.templates import (
    Registry,
    check_tenant_list,
    for_tenants,
    read_registry,
    refuse_unregistered,
    tenant_datasets,
)

if TYPE_CHECKING:
    from bqmanage.engines import Engine
    from bqmanage.model.schema import Definitions
    from bqmanage.settings import Settings
    from bqmanage.tenants.scope import TenantScope

T = TypeVar("T")
U = TypeVar("U")


@dataclass
class TenantOutcome(Generic[T]):
    """What one tenant's job gave: its value, or the expected failure that stopped it."""

    tenant: str
    value: T | None = None
    error: BqmanageError | None = None

    @property
    def exit_code(self) -> int:
        return self.error.exit_code if self.error is not None else EXIT_OK


class TenantsFailedError(BqmanageError):
    """Some tenants failed (each message says which); the exit code is the worst of theirs."""

    multiline = True

    def __init__(self, failed: list[TenantOutcome[T]]) -> None:
        self.exit_code = max(o.exit_code for o in failed)
        super().__init__("\n".join(f"tenant {o.tenant}: {o.error}" for o in failed))


def worst_exit(outcomes: list[TenantOutcome[T]]) -> int:
    return max((o.exit_code for o in outcomes), default=EXIT_OK)


@dataclass
class Fleet:
    """The tenants a command runs for, resolved from its ``TenantScope``: valid ids, and the
    failures known before any work (an id in the registry that cannot name a dataset).
    ``registry`` is set for ``TenantScope.all()``."""

    tenants: list[str]
    failed: list[TenantOutcome[Any]]
    registry: Registry | None = None


def resolve(engine: Engine, desired: Definitions, scope: TenantScope) -> Fleet:
    """The tenants of ``scope``; every active one is read from the registry only now."""
    if scope.every_active and scope.ids:
        raise UsageError("--tenant and --all-tenants: give one or the other")
    if not desired.templates:
        return Fleet([], [])
    if not scope.every_active:
        ids = check_tenant_list(scope.ids or ())
        refuse_unregistered(engine, desired, ids)
        return Fleet(ids, [])
    registry = read_registry(engine, desired)
    failed: list[TenantOutcome[Any]] = [TenantOutcome(t, error=UsageError(why)) for t, why in registry.invalid.items()]
    # A tenant whose id a {tenant} member pattern cannot serve: its own failure, the others go on.
    unfit = {t: problems for t in registry.active if (problems := tenant_member_problems(desired, t))}
    failed += [TenantOutcome(t, error=TenantMemberError(problems)) for t, problems in unfit.items()]
    return Fleet([t for t in registry.active if t not in unfit], failed, registry)


def workers(settings: Settings, engine: Engine) -> int:
    return settings.tenant_workers if engine.capabilities.thread_safe else 1


# Called with a tenant's outcome, how many tenants are done and how many there are.
OnTenant = Callable[[TenantOutcome[T], int, int], None]


def run_pool(
    units: list[U],
    work: Callable[[U], list[TenantOutcome[T]]],
    size: int,
    total: int,
    on_done: OnTenant[T] | None = None,
) -> list[TenantOutcome[T]]:
    """``work`` on every unit, ``size`` at a time; ``on_done`` runs in this thread as each of the
    ``total`` tenants finishes (so that printing never interleaves). A bug (not a BqmanageError)
    stops the pool."""
    done: list[TenantOutcome[T]] = []

    def finish(outcomes: list[TenantOutcome[T]]) -> None:
        for outcome in outcomes:
            done.append(outcome)
            if on_done is not None:
                on_done(outcome, len(done), total)

    if size <= 1 or len(units) <= 1:
        for unit in units:
            finish(work(unit))
        return done
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=min(size, len(units)), thread_name_prefix="bqmanage-tenant")
    try:
        for future in concurrent.futures.as_completed([pool.submit(work, unit) for unit in units]):
            finish(future.result())
    except BaseException:
        # Ctrl-C or a bug: start nothing more; tenants already running finish their current job.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return done


def run_per_tenant(
    tenants: list[str], job: Callable[[str], T], size: int, on_done: OnTenant[T] | None = None
) -> list[TenantOutcome[T]]:
    """``job`` once per tenant; the outcomes in the order of ``tenants``."""

    def work(tenant: str) -> list[TenantOutcome[T]]:
        try:
            return [TenantOutcome(tenant, value=job(tenant))]
        except BqmanageError as exc:
            return [TenantOutcome(tenant, error=exc)]

    order = {t: i for i, t in enumerate(tenants)}
    return sorted(run_pool(tenants, work, size, len(tenants), on_done), key=lambda o: order[o.tenant])


def check_tenants(
    engine: Engine,
    desired: Definitions,
    tenants: list[str],
    batch: int,
    size: int,
    on_done: OnTenant[list[Finding]] | None = None,
    whole: bool = False,
) -> list[TenantOutcome[list[Finding]]]:
    """Drift of the tenants' datasets. The catalog is read in bulk, ``batch`` tenants per read
    (INFORMATION_SCHEMA on BigQuery, one UNION ALL job per view), several batches at once; a batch
    that fails is read again tenant by tenant, so that one unreachable dataset fails one tenant.
    ``whole``: all the tenants in one read first, and in batches only if that read fails."""
    from bqmanage.check.legacy import extra_table_findings
    from bqmanage.diff import compare
    from bqmanage.introspect import list_only, read_live

    # Every tenant's members_from values in one registry read, not one per batch or per tenant.
    # A value that cannot be granted declares nothing: a grant it made is reported as not declared.
    part = resolve_members(engine, desired, for_tenants(desired, tenants), None, tenants, refused={})
    resolved = {d.name: d for d in part.datasets}

    def read(group: list[str], bulk: bool) -> list[TenantOutcome[list[Finding]]]:
        part = for_tenants(desired, group)
        part = part.model_copy(update={"datasets": tuple(resolved.get(d.name, d) for d in part.datasets)})
        if bulk:
            live = read_live(engine, part, confirm=True)
            listed, changes = live.listing, live.changes
        else:
            live = read_live(engine, part, undefined=list_only)  # each dataset listed, only the defined tables read
            listed, changes = live.listing, compare(part, live.actual, engine.capabilities.unobservable)
        owner = tenant_datasets(desired, group)
        found: dict[str, list[Finding]] = {t: [] for t in group}
        # A template has no legacy names: every undefined table of a tenant's dataset is extra.
        drift = findings_from_changes(changes, part)
        for finding in drift + extra_table_findings(part, listed, None):
            tenant = owner[finding.dataset or ""]
            found[tenant].append(dataclasses.replace(finding, tenant=tenant, message=f"tenant {tenant}: {finding.message}"))
        return [TenantOutcome(t, value=found[t]) for t in group]

    def work(group: list[str]) -> list[TenantOutcome[list[Finding]]]:
        try:
            return read(group, bulk=True)
        except BqmanageError:
            pass  # which tenant's dataset failed the batch? Read them one by one (tables.get) to find out
        outcomes: list[TenantOutcome[list[Finding]]] = []
        for tenant in group:
            try:
                outcomes += read([tenant], bulk=False)
            except BqmanageError as exc:
                outcomes.append(TenantOutcome(tenant, error=exc))
        return outcomes

    order = {t: i for i, t in enumerate(tenants)}
    if whole and len(tenants) > 1:
        try:
            outcomes = read(tenants, bulk=True)
        except BqmanageError:
            outcomes = []  # which batch failed it? Read them in batches, as without ``whole``
        for done, outcome in enumerate(outcomes, 1):
            if on_done is not None:
                on_done(outcome, done, len(tenants))
        if outcomes:
            return sorted(outcomes, key=lambda o: order[o.tenant])
    groups = [tenants[i : i + batch] for i in range(0, len(tenants), max(batch, 1))]
    return sorted(run_pool(groups, work, size, len(tenants), on_done), key=lambda o: order[o.tenant])
