"""The daily quota reset, rendered from the definitions. Pure: SQL text only.

Rollover (default) gives every active tenant exactly one row for ``@run_date``, copied from its
latest earlier row within the lookback window (partition-pruned by constant filters), with daily
counters reset, monthly counters reset when the month changes, and registry defaults for a
tenant with no earlier row. Past rows are never modified. ``in_place`` keeps one row per tenant
and moves it to the run date. Both are single set-based MERGEs, idempotent per date; a second
statement removes the duplicates two concurrent runs can insert (BigQuery has no unique keys):
rows share a deterministic id, and the earliest one is kept.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from bqmanage.errors import UsageError
from bqmanage.model import Column, Definitions, QuotaSpec, Table
from bqmanage.names import quote, string_literal

_NOW = {"TIMESTAMP": "CURRENT_TIMESTAMP()", "DATETIME": "CURRENT_DATETIME()", "DATE": "CURRENT_DATE()", "TIME": "CURRENT_TIME()"}


@dataclass(frozen=True)
class ResetSql:
    table: Table
    quota: QuotaSpec
    registry: Table
    merge: str
    dedup: str
    status: str  # the per-tenant preview: active tenants, who is current, who has history

    def script(self) -> str:
        """The scheduled-query text: both statements, taking only ``@run_date``."""
        return f"{self.merge};\n\n{self.dedup};\n"


def quota_tables(desired: Definitions) -> list[Table]:
    return [t for t in desired.tables if t.quota is not None]


def find_quota_table(desired: Definitions, name: str | None) -> Table:
    """The table to reset: ``name`` (dataset.table), or the only quota table."""
    quotas = quota_tables(desired)
    if name is None:
        if len(quotas) != 1:
            names = ", ".join(f"{t.dataset}.{t.name}" for t in quotas) or "none"
            raise UsageError(f"--table: say which quota table to reset (quota tables: {names})")
        return quotas[0]
    dataset, _, table_name = name.partition(".")
    table = desired.table(dataset, table_name)
    if table is None:
        raise UsageError(f"--table: unknown table {name!r}; defined: {', '.join(f'{t.dataset}.{t.name}' for t in desired.tables)}")
    if table.quota is None:
        raise UsageError(f"--table: {name} has no quota section (tenant_column, date_column), so it has no date column to reset by")
    return table


def resolve_run_date(quota: QuotaSpec, run_date: dt.date | None, allow_future: bool, today: dt.date | None = None) -> dt.date:
    """The run date, default today in the table's time zone; refuses one far in the future.

    A run date more than a day ahead is almost always a typo (2062 for 2026), and it is not
    harmless: in_place moves every tenant's row there, after which every reset finds the row
    "newer" than its run date and does nothing. A day ahead stays allowed (a scheduler in
    another zone), and past dates too (re-running a missed day is a normal repair).
    """
    today = today or dt.datetime.now(zoneinfo.ZoneInfo(quota.time_zone)).date()
    day = run_date or today
    if day > today + dt.timedelta(days=1) and not allow_future:
        effect = ("an in_place reset would move every tenant's row to that date, and every later reset would then do nothing"
                  if quota.strategy == "in_place" else "a rollover reset would write every active tenant a row dated then")
        raise UsageError(
            f"--date: {day.isoformat()} is more than one day after today ({today.isoformat()} in {quota.time_zone}): "
            f"{effect}. Pass --allow-future-date if that is really meant.")
    return day


def render_reset(desired: Definitions, table: Table, project: str | None = None) -> ResetSql:
    quota = table.quota
    if quota is None:
        raise UsageError(f"{table.dataset}.{table.name}: no quota section")
    registry = _registry(desired, table, quota)
    ref = table.ref.sql(project)
    reg_ref = registry.ref.sql(project)
    tenant, date = quote(quota.tenant_column), quote(quota.date_column)
    active = f"r.{quote(quota.status_column)} = {string_literal(quota.active_status)}"
    window = f"q.{date} >= DATE_SUB(@run_date, INTERVAL {quota.lookback_days} DAY) AND q.{date} < @run_date"
    columns = [c for c in table.columns]
    names = ", ".join(quote(c.name) for c in columns)
    source_columns = ", ".join(f"source.{quote(c.name)}" for c in columns)
    if quota.strategy == "rollover":
        select = ",\n    ".join(f"{_rollover_value(c, quota, registry)} AS {quote(c.name)}" for c in columns)
        merge = (
            f"MERGE {ref} AS target\nUSING (\n  SELECT\n    {select}\n  FROM {reg_ref} AS r\n  LEFT JOIN (\n"
            f"    SELECT * FROM (\n      SELECT q.*, ROW_NUMBER() OVER (PARTITION BY q.{tenant} ORDER BY q.{date} DESC) AS _bqm_rank\n"
            f"      FROM {ref} AS q\n      WHERE {window}\n    ) WHERE _bqm_rank = 1\n  ) AS l ON l.{tenant} = r.{tenant}\n"
            f"  WHERE {active}\n) AS source\n"
            f"ON target.{tenant} = source.{tenant} AND target.{date} = @run_date\n"
            f"WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({source_columns})")
        same_row = f"k.{date} = @run_date AND d.{date} = @run_date"
        scope = f"d.{date} = @run_date"
    else:
        select = ",\n    ".join(f"{_fresh_value(c, quota, registry)} AS {quote(c.name)}" for c in columns)
        sets = ",\n  ".join(f"{quote(c.name)} = {_in_place_value(c, quota)}" for c in columns
                            if c.name.lower() != quota.tenant_column.lower())
        merge = (
            f"MERGE {ref} AS target\nUSING (\n  SELECT\n    {select}\n  FROM {reg_ref} AS r\n  WHERE {active}\n) AS source\n"
            f"ON target.{tenant} = source.{tenant}\n"
            f"WHEN MATCHED AND target.{date} < @run_date THEN UPDATE SET\n  {sets}\n"
            f"WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({source_columns})")
        same_row = "TRUE"
        scope = "TRUE"
    order = _dedup_order(table)
    keep_earlier = " OR ".join(
        "(" + " AND ".join([f"k.{quote(o)} = d.{quote(o)}" for o in order[:i]] + [f"k.{quote(col)} < d.{quote(col)}"]) + ")"
        for i, col in enumerate(order))
    dedup = (f"DELETE FROM {ref} AS d\nWHERE {scope} AND EXISTS (\n  SELECT 1 FROM {ref} AS k\n"
             f"  WHERE k.{tenant} = d.{tenant} AND {same_row}\n    AND ({keep_earlier})\n)")
    status = (
        f"SELECT r.{tenant} AS tenant,\n  COUNTIF(q.{date} = @run_date) > 0 AS is_current,\n"
        f"  COUNTIF(q.{date} < @run_date) > 0 AS has_history\nFROM {reg_ref} AS r\n"
        f"LEFT JOIN {ref} AS q ON q.{tenant} = r.{tenant}"
        + (f" AND q.{date} >= DATE_SUB(@run_date, INTERVAL {quota.lookback_days} DAY) AND q.{date} <= @run_date" if quota.strategy == "rollover" else "")
        + f"\nWHERE {active}\nGROUP BY r.{tenant}\nORDER BY tenant")
    return ResetSql(table=table, quota=quota, registry=registry, merge=merge, dedup=dedup, status=status)


def not_applied_message(missing: list[Table], target: str) -> str:
    """What a reset says when the warehouse has not been prepared by ``apply``."""
    names = " and ".join(f"`{t.dataset}.{t.name}`" for t in missing)
    verb = "does not exist" if len(missing) == 1 else "do not exist"
    return f"{names} {verb} on target {target}; run `bqmanage apply` first"


def _registry(desired: Definitions, table: Table, quota: QuotaSpec) -> Table:
    name = quota.registry or f"{table.dataset}.tenant_profiles"
    dataset, _, table_name = name.partition(".")
    registry = desired.table(dataset, table_name)
    if registry is None:
        raise UsageError(f"{table.source}: quota.registry {name!r} is not a defined table")
    for needed in (quota.tenant_column, quota.status_column):
        if registry.column(needed) is None:
            raise UsageError(f"{registry.source}: the registry has no column {needed!r}")
    return registry


def _reset_value(column: Column) -> str:
    return column.default if column.default is not None else f"CAST(NULL AS {column.type_sql()})"


def _registry_value(column: Column, registry: Table) -> str:
    """What a tenant with no earlier row starts with: the registry's column of the same name."""
    if registry.column(column.name) is not None:
        return f"r.{quote(column.name)}"
    return _reset_value(column)


def _fresh_value(column: Column, quota: QuotaSpec, registry: Table) -> str:
    """A brand-new row's value (no history)."""
    name = column.name.lower()
    if name == quota.tenant_column.lower():
        return f"r.{quote(column.name)}"
    if name == quota.date_column.lower():
        return "@run_date"
    if column.reset == "generated":
        return f"CONCAT(r.{quote(quota.tenant_column)}, '-', FORMAT_DATE('%Y%m%d', @run_date))"
    if column.reset == "now":
        return _NOW.get(column.type, _reset_value(column))
    if column.reset == "carry":
        return _registry_value(column, registry)
    return _reset_value(column)


def _rollover_value(column: Column, quota: QuotaSpec, registry: Table) -> str:
    fresh = _fresh_value(column, quota, registry)
    name = quote(column.name)
    if column.reset == "carry":
        return f"IF(l.{quote(quota.tenant_column)} IS NULL, {fresh}, l.{name})"
    if column.reset == "monthly":
        return f"IF(l.{quote(quota.tenant_column)} IS NOT NULL AND {_same_month('l', quota)}, l.{name}, {fresh})"
    return fresh


def _same_month(alias: str, quota: QuotaSpec) -> str:
    """The row ``alias`` is in the run date's month: monthly counters carry, else they reset."""
    return f"DATE_TRUNC({alias}.{quote(quota.date_column)}, MONTH) = DATE_TRUNC(@run_date, MONTH)"


def _in_place_value(column: Column, quota: QuotaSpec) -> str:
    name = quote(column.name)
    if column.name.lower() == quota.date_column.lower():
        return "@run_date"
    if column.reset == "generated":
        return f"CONCAT(target.{quote(quota.tenant_column)}, '-', FORMAT_DATE('%Y%m%d', @run_date))"
    if column.reset == "now":
        return _NOW.get(column.type, _reset_value(column))
    if column.reset == "carry":
        return f"target.{name}"
    if column.reset == "monthly":
        return f"IF({_same_month('target', quota)}, target.{name}, {_reset_value(column)})"
    return _reset_value(column)


def _dedup_order(table: Table) -> list[str]:
    """Which duplicate survives: the earliest by the `now` columns, then by the generated id."""
    order = [c.name for c in table.columns if c.reset == "now"] + [c.name for c in table.columns if c.reset == "generated"]
    if not order:
        raise UsageError(f"{table.source}: a quota table needs a `now` or `generated` column to break ties between concurrent runs")
    return order

