"""The daily quota reset, rendered from the definitions. Pure: SQL text only.

Rollover (default) gives every active tenant exactly one row for ``@run_date``, copied from its
latest earlier row, with daily counters reset, monthly counters reset when the month changes, and
registry defaults for a tenant with no earlier row at all. Past rows are never modified.
``in_place`` keeps one row per tenant and moves it to the run date. Both are single set-based
MERGEs over a de-duplicated registry, idempotent per date.

Where the latest earlier row comes from: the lookback window, filtered by constants and
parameters only so that BigQuery prunes partitions; and, for the few tenants with no row in the
window (reactivated ones), a second branch bounded by ``@carry_from``, the date of the oldest such
tenant's latest row, which a narrow two-column lookup (``older``) finds first. With no such tenant
the branch's range is empty and reads nothing.

Duplicates: BigQuery has no unique keys, so two concurrent runs can both insert. A second MERGE
rewrites each (tenant, date) group that has more than one row as exactly one row (deleting every
copy and inserting the kept one back), which works even for copies identical in every column.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from bqmanage.errors import UsageError
from bqmanage.model.defaults import default_expression
from bqmanage.model.names import quote, string_literal
from bqmanage.model.schema import Column, Definitions, QuotaSpec, Table
from bqmanage.render import every_partition_sql
from bqmanage.tenants.ids import SQL_PATTERN
from bqmanage.tenants.registry import registry_of, the_quota_table

_NOW = {"TIMESTAMP": "CURRENT_TIMESTAMP()", "DATETIME": "CURRENT_DATETIME()", "DATE": "CURRENT_DATE()", "TIME": "CURRENT_TIME()"}
# The scheduled query supplies only @run_date, so its script computes the carry inputs itself,
# as script variables (BigQuery scripting: DECLARE/SET); the CLI passes them as query parameters.
_PARAMS = ("@carry_tenants", "@carry_from")
_VARIABLES = ("bqm_carry_tenants", "bqm_carry_from")


@dataclass(frozen=True)
class ResetSql:
    table: Table
    quota: QuotaSpec
    registry: Table
    # takes @run_date, and for rollover @carry_tenants (ARRAY<STRING>), @carry_from (DATE) and
    # @window_only (BOOL: only tenants with a row in the lookback window)
    merge: str
    dedup: str  # takes @run_date
    status: str  # per active tenant: registry copies, rows on the run date, a row in the lookback window
    older: str | None  # rollover: each of @carry_tenants' latest row date before the window
    script_prelude: str  # the scheduled query's DECLAREs computing what the CLI passes as parameters
    script_merge: str

    def script(self) -> str:
        """The scheduled-query text: a script taking only ``@run_date``."""
        return f"{self.script_prelude}{self.script_merge};\n\n{self.dedup};\n"

    def window_start(self, run_date: dt.date) -> dt.date:
        """The first day of the lookback window: ``@carry_from`` when no tenant needs an older row."""
        return run_date - dt.timedelta(days=self.quota.lookback_days)


def find_quota_table(desired: Definitions, name: str | None) -> Table:
    """The table to reset: ``name`` (dataset.table), or the only quota table."""
    if name is None:
        return the_quota_table(desired, "reset", "; name the one to reset with --table")
    dataset, _, table_name = name.partition(".")
    table = desired.table(dataset, table_name)
    if table is None:
        raise UsageError(
            f"--table: unknown table {name!r}; defined: {', '.join(f'{t.dataset}.{t.name}' for t in desired.tables)}"
        )
    if table.quota is None:
        raise UsageError(
            f"--table: {name} has no quota section (tenant_column, date_column), so it has no date column to reset by"
        )
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
        effect = (
            "an in_place reset would move every tenant's row to that date, and every later reset would then do nothing"
            if quota.strategy == "in_place"
            else "a rollover reset would write every active tenant a row dated then"
        )
        raise UsageError(
            f"--date: {day.isoformat()} is more than one day after today ({today.isoformat()} in {quota.time_zone}): "
            f"{effect}. Pass --allow-future-date if that is really meant."
        )
    if (day - dt.date.min).days <= quota.lookback_days:
        raise UsageError(f"--date: {day.isoformat()} leaves no room for the {quota.lookback_days}-day lookback before year 1")
    return day


@dataclass(frozen=True)
class _Sql:
    """The quoted pieces every statement of one quota table is built from."""

    table: Table
    quota: QuotaSpec
    registry: Table
    ref: str  # the quota table
    reg_ref: str  # the registry
    tenant: str
    date: str
    one_tenant: bool = False  # restricted to the tenant @tenant (tenant add, tenant resume)

    def only(self, alias: str) -> str:
        """`` AND <alias's tenant is @tenant>`` when restricted to one tenant: the same statements
        as the reset of every tenant, narrowed by a query parameter."""
        return f" AND {alias}.{self.tenant} = @tenant" if self.one_tenant else ""

    @property
    def window_start(self) -> str:
        return f"DATE_SUB(@run_date, INTERVAL {self.quota.lookback_days} DAY)"

    @property
    def active(self) -> str:
        """Active tenants whose id keeps the tenant-id rule: a row written around bqmanage with an
        id that check and apply refuse gets no quota row either (the reset reports it)."""
        return f"{self.active_status} AND {self.valid(f'r.{self.tenant}')}{self.only('r')}"

    @property
    def active_status(self) -> str:
        return f"r.{quote(self.quota.status_column)} = {string_literal(self.quota.active_status)}"

    def valid(self, tenant: str) -> str:
        """Whether the id ``tenant`` (a column) keeps the tenant-id rule; NULL for a NULL id."""
        return f"REGEXP_CONTAINS({tenant}, {string_literal(SQL_PATTERN)})"

    def every_partition(self, alias: str) -> str:
        """`` AND <a filter keeping every row>`` on a scan of the quota table, when BigQuery needs one
        that the statement's own date filters do not give: the table requires a partition filter
        and the scan is not bounded on a partitioning date column (in_place scans every row).
        https://cloud.google.com/bigquery/docs/managing-partitioned-tables#require-filter"""
        partitioning = self.table.partitioning
        if not self.table.require_partition_filter or partitioning is None:
            return ""
        dated = (partitioning.column or "").lower() == self.quota.date_column.lower()
        if dated and self.quota.strategy == "rollover":
            return ""
        return f" AND {every_partition_sql(partitioning, alias)}"

    @property
    def insert(self) -> str:
        names = ", ".join(quote(c.name) for c in self.table.columns)
        return (
            f"WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({', '.join(f'source.{quote(c.name)}' for c in self.table.columns)})"
        )


def render_reset(desired: Definitions, table: Table, project: str | None = None, one_tenant: bool = False) -> ResetSql:
    """The reset's statements; ``one_tenant``: each also takes ``@tenant`` and touches only it."""
    quota = table.quota
    if quota is None:
        raise UsageError(f"{table.dataset}.{table.name}: no quota section")
    registry = registry_of(desired, table)
    sql = _Sql(
        table,
        quota,
        registry,
        table.ref.sql(project),
        registry.ref.sql(project),
        quote(quota.tenant_column),
        quote(quota.date_column),
        one_tenant,
    )
    if quota.strategy == "rollover":
        merge, script_merge = _rollover_merge_sql(sql, *_PARAMS, "@window_only"), _rollover_merge_sql(sql, *_VARIABLES)
        older: str | None = _older_sql(sql, _PARAMS[0])
        prelude = _carry_prelude_sql(sql)
    else:
        merge = script_merge = _in_place_merge_sql(sql)
        older, prelude = None, ""
    return ResetSql(
        table=table,
        quota=quota,
        registry=registry,
        merge=merge,
        dedup=_dedup_sql(sql),
        status=_status_sql(sql),
        older=older,
        script_prelude=prelude,
        script_merge=script_merge,
    )


def _rollover_merge_sql(sql: _Sql, carry_tenants: str, carry_from: str, window_only: str | None = None) -> str:
    """Every active tenant without a row for the run date gets one, from its latest earlier row.

    The latest row comes from two scans, each with its own constant range on the date column so
    that BigQuery prunes partitions: the lookback window, and the stretch before it back to
    ``carry_from`` for ``carry_tenants`` only (an empty range when there are none).
    https://cloud.google.com/bigquery/docs/querying-partitioned-tables#best_practices_for_partition_pruning
    With ``window_only`` true, only tenants that have such a row get one (tenants/reset.py: the
    first MERGE of a normal day, which needs nothing read before it).
    """
    t, d = sql.tenant, sql.date
    only = f"\n  WHERE l.{t} IS NOT NULL OR NOT {window_only}" if window_only else ""
    select = ",\n    ".join(f"{_rollover_value(c, sql.quota, sql.registry)} AS {quote(c.name)}" for c in sql.table.columns)
    return (
        f"MERGE {sql.ref} AS target\nUSING (\n  SELECT\n    {select}\n  FROM {_registry_source_sql(sql)} AS r\n  LEFT JOIN (\n"
        f"    SELECT * FROM (\n      SELECT q.*, ROW_NUMBER() OVER (PARTITION BY q.{t} ORDER BY q.{d} DESC) AS _bqm_rank\n"
        f"      FROM (\n        SELECT * FROM {sql.ref} AS q\n"
        f"        WHERE q.{d} >= {sql.window_start} AND q.{d} < @run_date{sql.only('q')}{sql.every_partition('q')}\n"
        f"        UNION ALL\n        SELECT * FROM {sql.ref} AS q\n"
        f"        WHERE q.{d} >= {carry_from} AND q.{d} < {sql.window_start} AND q.{t} IN UNNEST({carry_tenants}){sql.only('q')}"
        f"{sql.every_partition('q')}\n"
        f"      ) AS q\n    ) WHERE _bqm_rank = 1\n  ) AS l ON l.{t} = r.{t}{only}\n) AS source\n"
        f"ON target.{t} = source.{t} AND target.{d} = @run_date{sql.every_partition('target')}\n{sql.insert}"
    )


def _in_place_merge_sql(sql: _Sql) -> str:
    """Each active tenant's one row, reset and moved to the run date (inserted when missing)."""
    select = ",\n    ".join(f"{_fresh_value(c, sql.quota, sql.registry)} AS {quote(c.name)}" for c in sql.table.columns)
    sets = ",\n  ".join(
        f"{quote(c.name)} = {_in_place_value(c, sql.quota)}"
        for c in sql.table.columns
        if c.name.lower() != sql.quota.tenant_column.lower()
    )
    return (
        f"MERGE {sql.ref} AS target\nUSING (\n  SELECT\n    {select}\n  FROM {_registry_source_sql(sql)} AS r\n) AS source\n"
        f"ON target.{sql.tenant} = source.{sql.tenant}{sql.every_partition('target')}\n"
        f"WHEN MATCHED AND target.{sql.date} < @run_date THEN UPDATE SET\n  {sets}\n{sql.insert}"
    )


def _older_sql(sql: _Sql, carry_tenants: str) -> str:
    """The date of each given tenant's latest row before the window: two narrow columns only."""
    t, d = sql.tenant, sql.date
    return (
        f"SELECT q.{t} AS tenant, MAX(q.{d}) AS last_date\nFROM {sql.ref} AS q\n"
        f"WHERE q.{d} < {sql.window_start} AND q.{t} IN UNNEST({carry_tenants}){sql.every_partition('q')}\nGROUP BY q.{t}"
    )


def _carry_prelude_sql(sql: _Sql) -> str:
    """The scheduled query's own carry inputs: the active tenants with no row in the window nor on
    the run date, then how far back the oldest of their latest rows is; only when there is such a
    tenant is anything before the window read. https://cloud.google.com/bigquery/docs/reference/standard-sql/procedural-language
    """
    t, d = sql.tenant, sql.date
    tenants, since = _VARIABLES
    tenant_type = sql.table.column(sql.quota.tenant_column).type_sql()  # type: ignore[union-attr]
    older = _older_sql(sql, tenants).replace("\n", "\n    ")
    return (
        f"DECLARE {tenants} ARRAY<{tenant_type}> DEFAULT ARRAY(\n"
        f"  SELECT DISTINCT r.{t} FROM {sql.reg_ref} AS r\n  WHERE {sql.active} AND NOT EXISTS (\n"
        f"    SELECT 1 FROM {sql.ref} AS q\n"
        f"    WHERE q.{t} = r.{t} AND q.{d} >= {sql.window_start} AND q.{d} <= @run_date{sql.every_partition('q')}));\n"
        f"DECLARE {since} DATE DEFAULT {sql.window_start};\n"
        f"IF ARRAY_LENGTH({tenants}) > 0 THEN\n"
        f"  SET {since} = (SELECT IFNULL(MIN(last_date), {since}) FROM (\n    {older}));\nEND IF;\n\n"
    )


def _status_sql(sql: _Sql) -> str:
    """Per active tenant: its registry copies, its rows on the run date, whether it has an earlier
    row (in the window, for rollover), and whether its id keeps the tenant-id rule (the MERGEs skip
    those that do not; the reset names them). One read before the MERGE and one after."""
    t, d = sql.tenant, sql.date
    window = f"q.{d} >= {sql.window_start} AND q.{d} <= @run_date" if sql.quota.strategy == "rollover" else "TRUE"
    narrow = f"{sql.only('q')}{sql.every_partition('q')}"
    scope = f"\n  WHERE {window}{narrow}" if window != "TRUE" or narrow else ""
    return (
        f"WITH reg AS (\n  SELECT r.{t} AS tenant, COUNT(*) AS copies\n  FROM {sql.reg_ref} AS r\n"
        f"  WHERE {sql.active_status}{sql.only('r')}\n  GROUP BY r.{t}\n), cur AS (\n"
        f"  SELECT q.{t} AS tenant, COUNTIF(q.{d} = @run_date) AS current_rows,\n"
        f"    COUNTIF(q.{d} < @run_date) > 0 AS has_history\n  FROM {sql.ref} AS q{scope}\n  GROUP BY q.{t}\n)\n"
        "SELECT reg.tenant, reg.copies, COALESCE(cur.current_rows, 0) AS current_rows,\n"
        f"  COALESCE(cur.has_history, FALSE) AS has_history, COALESCE({sql.valid('reg.tenant')}, FALSE) AS valid\n"
        "FROM reg LEFT JOIN cur ON cur.tenant = reg.tenant\nORDER BY reg.tenant"
    )


def not_applied_message(missing: list[Table], target: str) -> str:
    """What a reset says when the warehouse has not been prepared by ``apply``."""
    names = " and ".join(f"`{t.dataset}.{t.name}`" for t in missing)
    verb = "does not exist" if len(missing) == 1 else "do not exist"
    return f"{names} {verb} on target {target}; run `bqmanage apply` first"


def _registry_source_sql(sql: _Sql) -> str:
    """Active tenants, one row each even when the registry lists a tenant twice.

    Without this a duplicated tenant got two rows identical in every column (same id, same
    timestamps), which no DELETE can tell apart. Of the copies, the one with the lowest defaults
    is used (NULLS LAST on both engines), so a duplicate never raises a limit; the run still
    reports the duplicates as bad input.
    """
    used = [c.name for c in sql.table.columns if c.reset == "carry" and sql.registry.column(c.name) is not None]
    order = ", ".join(f"r.{quote(name)} ASC NULLS LAST" for name in used) or f"r.{sql.tenant}"
    return (
        f"(\n    SELECT * FROM (\n"
        f"      SELECT r.*, ROW_NUMBER() OVER (PARTITION BY r.{sql.tenant} ORDER BY {order}) AS _bqm_copy\n"
        f"      FROM {sql.reg_ref} AS r\n      WHERE {sql.active}\n    ) WHERE _bqm_copy = 1\n  )"
    )


def _dedup_sql(sql: _Sql) -> str:
    """One MERGE that leaves one row per (tenant, run date), or per tenant for in_place.

    BigQuery has no row id, so a DELETE cannot keep one of two identical rows. Instead every
    group with more than one row is matched by a keyed copy of its kept row (all its rows
    deleted) and the same row is inserted back through an unkeyed copy that matches nothing.
    Groups with one row are not in the source, so without duplicates the MERGE changes nothing.
    https://cloud.google.com/bigquery/docs/reference/standard-sql/dml-syntax#merge_statement
    """
    t, d = sql.tenant, sql.date
    rollover = sql.quota.strategy == "rollover"
    names = ", ".join(quote(c.name) for c in sql.table.columns)
    order = ", ".join(f"d.{quote(name)}" for name in _dedup_order(sql.table))
    tenant_type = sql.table.column(sql.quota.tenant_column).type_sql()  # type: ignore[union-attr]
    return (
        f"MERGE {sql.ref} AS target\nUSING (\n  WITH keep AS (\n    SELECT {names} FROM (\n"
        f"      SELECT d.*, ROW_NUMBER() OVER (PARTITION BY d.{t} ORDER BY {order}) AS _bqm_rank,\n"
        f"        COUNT(*) OVER (PARTITION BY d.{t}) AS _bqm_copies\n      FROM {sql.ref} AS d\n"
        f"      WHERE {f'd.{d} = @run_date' if rollover else 'TRUE'}{sql.only('d')}{sql.every_partition('d')}\n"
        "    ) WHERE _bqm_copies > 1 AND _bqm_rank = 1\n  )\n"
        f"  SELECT {t} AS _bqm_key, {names} FROM keep\n  UNION ALL\n"
        f"  SELECT CAST(NULL AS {tenant_type}), {names} FROM keep\n) AS source\n"
        f"ON target.{t} = source._bqm_key{f' AND target.{d} = @run_date' if rollover else ''}{sql.every_partition('target')}\n"
        f"WHEN MATCHED THEN DELETE\n{sql.insert}"
    )


def _reset_value(column: Column) -> str:
    return default_expression(column.type, column.default) if column.default is not None else f"CAST(NULL AS {column.type_sql()})"


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
        raise UsageError(
            f"{table.source}: a quota table needs a `now` or `generated` column to break ties between concurrent runs"
        )
    return order
