"""Running the daily reset through an engine, and what it reports.

On BigQuery the cost is jobs, so a rollover reset on a normal day is two: the MERGE, then the
dedup. What the report says comes from their DML statistics and from the registry, read with
``tabledata.list`` (free, no job):

- The first MERGE gives a row to every active tenant whose latest row is in the lookback window
  (``@window_only``), the case of every tenant on a normal day. When it inserted one row per
  active tenant, the report is complete: each got a new row, none was already current, none
  needed the registry's defaults or an older row.
- Otherwise some tenant already had its row for the run date, or has no row in the window (a new
  or reactivated tenant). Only then is the status query run, to name them; the latest older row
  of those without a row in the window is looked up (two narrow columns), and a second MERGE gives
  them their row, carried from that row (``@carry_tenants``, ``@carry_from``: constants, so that
  BigQuery prunes partitions) or from the registry's defaults.

``in_place`` moves existing rows, so the tenants that had none cannot be told apart afterwards:
it reads the status before its MERGE (three jobs), and reports new rows from the MERGE's count.
A dry run reads the status and estimates the bytes; it changes nothing. The reset of one tenant
(``tenant add``, ``tenant resume``) reads its status first too, and writes only what it lacks.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bqmanage.errors import NotAppliedError, WarehouseError
from bqmanage.tenants.ids import tenant_id_problem
from bqmanage.tenants.registry import read_statuses
from bqmanage.tenants.reset_sql import ResetSql, not_applied_message

if TYPE_CHECKING:
    from bqmanage.engines import Engine


@dataclass
class ResetReport:
    table: str
    registry: str
    run_date: str
    strategy: str
    active_tenants: int
    new_rows: int  # active tenants that had no row for the run date and now have one
    already_current: int
    dry_run: bool
    without_history: list[str] = field(default_factory=list)  # registry defaults
    carried_from_older: list[str] = field(default_factory=list)  # latest row older than the lookback
    registry_duplicates: list[str] = field(default_factory=list)  # active tenants listed more than once
    invalid_tenants: list[str] = field(default_factory=list)  # active ids the tenant-id rule refuses: skipped
    bytes_estimate: int | None = None

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)


def run_reset(engine: Engine, sql: ResetSql, day: dt.date, dry_run: bool, target: str, tenant: str | None = None) -> ResetReport:
    """The reset of every active tenant for ``day``; with ``tenant`` (rendered ``one_tenant``), of
    that tenant only (tenant add, tenant resume)."""
    report = ResetReport(
        table=f"{sql.table.dataset}.{sql.table.name}",
        registry=f"{sql.registry.dataset}.{sql.registry.name}",
        run_date=day.isoformat(),
        strategy=sql.quota.strategy,
        active_tenants=0,
        new_rows=0,
        already_current=0,
        dry_run=dry_run,
    )
    if dry_run or sql.older is None or tenant is not None:
        return _with_status_first(engine, sql, day, report, target, tenant)
    active, report.invalid_tenants = _guarded(engine, sql, target, lambda: _active_tenants(engine, sql))
    report.active_tenants = len(set(active))
    report.registry_duplicates = sorted(t for t, n in Counter(active).items() if n > 1)
    first = _guarded(engine, sql, target, lambda: engine.dml(sql.merge, _merge_params(sql, day, window_only=True), "reset"))
    report.new_rows = _inserted(first.inserted, first.affected)
    if report.new_rows != report.active_tenants:
        # Someone was already current, or has no row in the window: name them, and give the
        # latter their row from an older one or from the registry.
        status = [r for r in engine.query(sql.status, {"run_date": day}, label="reset") if r["valid"]]
        report.already_current = max(0, sum(1 for r in status if r["current_rows"]) - report.new_rows)
        absent = sorted(r["tenant"] for r in status if not r["current_rows"])
        if absent:
            older = _older(engine, sql, day, absent)
            report.without_history = sorted(t for t in absent if t not in older)
            report.carried_from_older = sorted(older)
            second = engine.dml(sql.merge, _merge_params(sql, day, older=older), "reset")
            report.new_rows += _inserted(second.inserted, second.affected)
    engine.dml(sql.dedup, {"run_date": day}, "reset")
    return report


def _with_status_first(
    engine: Engine, sql: ResetSql, day: dt.date, report: ResetReport, target: str, tenant: str | None
) -> ResetReport:
    """The reset that reads its status first: a dry run, ``in_place``, and one tenant's."""
    params: dict[str, object] = {"run_date": day} if tenant is None else {"run_date": day, "tenant": tenant}
    read = _guarded(engine, sql, target, lambda: engine.query(sql.status, params, label="reset"))
    before = [r for r in read if r["valid"]]
    report.invalid_tenants = sorted(str(r["tenant"]) for r in read if not r["valid"])
    current_before = {r["tenant"] for r in before if r["current_rows"]}
    absent = [r["tenant"] for r in before if not r["has_history"] and not r["current_rows"]]
    older = _older(engine, sql, day, absent) if sql.older is not None and absent else {}
    report.active_tenants = len(before)
    report.already_current = len(current_before)
    report.without_history = sorted(t for t in absent if t not in older)
    report.carried_from_older = sorted(older)
    report.registry_duplicates = [r["tenant"] for r in before if r["copies"] > 1]
    merge_params = {**params, **_merge_params(sql, day, older=older)} if sql.older is not None else params
    if report.dry_run:
        report.bytes_estimate = engine.estimate_bytes(sql.merge, merge_params)
        report.new_rows = len(before) - len(current_before)
        return report
    if tenant is not None:
        return _reset_one(engine, sql, report, before, params, merge_params)
    merged = engine.dml(sql.merge, merge_params, "reset")
    report.new_rows = merged.affected  # in_place: every row moved to the run date, or inserted
    engine.dml(sql.dedup, params, "reset")
    return report


def _reset_one(
    engine: Engine,
    sql: ResetSql,
    report: ResetReport,
    before: list[dict[str, Any]],
    params: dict[str, Any],
    merge: dict[str, Any],
) -> ResetReport:
    """The reset of the one tenant ``params["tenant"]`` (tenant add, tenant resume): no statement
    that changes data when it already has its row (a repeated ``tenant add`` changes nothing), and
    the collapse of copies only when the status read after the MERGE shows some. That is enough
    under concurrency: every caller that inserted reads after its own MERGE committed, so the last
    one to commit sees every copy and collapses them."""
    if before and not before[0]["current_rows"]:  # active, without its row for the run date
        engine.query(sql.merge, merge, label="tenant")
        before = engine.query(sql.status, params, label="tenant")
        report.new_rows = sum(1 for r in before if r["current_rows"])
    if any(r["current_rows"] > 1 for r in before):
        engine.query(sql.dedup, params, label="tenant")
    return report


def _active_tenants(engine: Engine, sql: ResetSql) -> tuple[list[Any], list[str]]:
    """The active tenants of the registry, a tenant listed twice twice; and, apart, the active ids
    that break the tenant-id rule, which the statements skip (``ResetSql.active``) as check and
    apply --all-tenants refuse them."""
    active = [tenant for tenant, on in read_statuses(engine, sql.registry, sql.quota) if on]
    invalid = sorted({str(t) for t in active if not isinstance(t, str) or tenant_id_problem(t) is not None})
    return [t for t in active if isinstance(t, str) and tenant_id_problem(t) is None], invalid


def _older(engine: Engine, sql: ResetSql, day: dt.date, absent: list[Any]) -> dict[Any, dt.date]:
    """Each given tenant's latest row date before the lookback window, where it has one."""
    assert sql.older is not None
    rows = engine.query(sql.older, {"run_date": day, "carry_tenants": absent}, label="reset")
    return {r["tenant"]: r["last_date"] for r in rows}


def _merge_params(
    sql: ResetSql, day: dt.date, older: dict[Any, dt.date] | None = None, window_only: bool = False
) -> dict[str, object]:
    older = older or {}
    return {
        "run_date": day,
        "carry_tenants": sorted(older),
        "carry_from": min(older.values(), default=sql.window_start(day)),
        "window_only": window_only,
    }


def _inserted(inserted: int | None, affected: int) -> int:
    # A rollover MERGE only inserts: where the engine gives no split, its total is its inserts.
    return inserted if inserted is not None else affected


def _guarded(engine: Engine, sql: ResetSql, target: str, read: Any) -> Any:
    """The first warehouse call of a reset; when it fails because apply never ran, say so plainly."""
    try:
        return read()
    except WarehouseError:
        # Only on failure: the normal run pays no tables.get round trips for this.
        missing = [t for t in (sql.table, sql.registry) if engine.get_table(t.dataset, t.name) is None]
        if missing:
            raise NotAppliedError(not_applied_message(missing, target)) from None
        raise


def merge_params(sql: ResetSql, day: dt.date, tenant: str) -> dict[str, object]:
    """The parameters of the one-tenant MERGE (rendered ``one_tenant``) of a tenant that has no
    row older than the lookback window to carry: one just registered (tenants/onboard.py)."""
    params: dict[str, object] = {"run_date": day, "tenant": tenant}
    return {**params, **_merge_params(sql, day)} if sql.older is not None else params
