"""The statements of the tenant commands, rendered from the definitions. Pure: SQL text only.

The registry is the table the quota table's ``quota.registry`` names. Every value (the tenant id,
a name, a limit, a status, the run date) is a query parameter; identifiers come from validated
definitions and are quoted.

Concurrency. BigQuery has no unique keys, and an insert-only MERGE does not conflict with another
(data-manipulation-language#dml_statement_conflicts), so two ``tenant add`` of one id can both
insert a registry row. Each caller that inserted reads the tenant's rows after its own MERGE has
committed, and collapses copies (``registry_dedup_sql``) when it sees more than one: the last
caller to commit sees every copy, so at least one caller always collapses them. The collapse is a
mutating MERGE; two at once conflict, and the loser is retried (the engines retry concurrent
updates) and then finds one row. Today's quota row is made the same way by the reset's own SQL,
restricted to the tenant (``reset.render_reset(one_tenant=True)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bqmanage.errors import UsageError
from bqmanage.model.defaults import default_expression
from bqmanage.model.names import quote
from bqmanage.model.schema import Column, Definitions, QuotaSpec, Table
from bqmanage.tenants.registry import registry_of, the_quota_table

# The limits the CLI sets (--daily-limit, --monthly-limit, --concurrent-limit), by the column
# they are in, in the registry and in the quota table; and the counter of the quota table that
# each one bounds, for `tenant list`.
LIMITS = {
    "daily_limit": "pipelines_run_today",
    "monthly_limit": "pipelines_run_month",
    "concurrent_limit": "concurrent_pipelines_running",
}
NAME = "tenant_name"  # the registry column --name writes
UPDATED = "updated_at"  # set to CURRENT_TIMESTAMP() by every change, when the registry has it
SUSPENDED = "suspended"
# Orderable types: a registry row's copies are ranked by these columns to choose the one kept.
_ORDERABLE = ("STRING", "INT64", "NUMERIC", "BIGNUMERIC", "FLOAT64", "BOOL", "DATE", "DATETIME", "TIME", "TIMESTAMP", "BYTES")


@dataclass(frozen=True)
class TenantTables:
    """The registry and the quota table that the tenant commands read and write."""

    quota_table: Table
    quota: QuotaSpec
    registry: Table
    project: str | None

    @property
    def tenant(self) -> str:
        return quote(self.quota.tenant_column)

    @property
    def reg_ref(self) -> str:
        return self.registry.ref.sql(self.project)

    @property
    def quota_ref(self) -> str:
        return self.quota_table.ref.sql(self.project)

    def registry_column(self, name: str, flag: str) -> Column:
        """The registry's column ``name``, which ``flag`` writes; a UsageError when it has none."""
        column = self.registry.column(name)
        if column is None:
            raise UsageError(f"{flag}: the registry {self.registry.ref} has no column {name!r} ({self.registry.source})")
        return column


def tenant_tables(desired: Definitions, project: str | None) -> TenantTables:
    """The one quota table and its registry (the validator has checked that the registry exists)."""
    table = the_quota_table(desired, "tenant")
    assert table.quota is not None
    return TenantTables(table, table.quota, registry_of(desired, table), project)


def param(column: str) -> str:
    """The query parameter carrying a value for ``column``; prefixed so that no column name can
    collide with @tenant or @run_date."""
    return f"v_{column.lower()}"


def lookup_sql(t: TenantTables) -> str:
    """The registry rows of @tenant, and of any other id whose datasets would have the same name
    (@dataset_part: tenant_ids.dataset_part, a hyphen read as an underscore)."""
    return f"SELECT r.* FROM {t.reg_ref} AS r\nWHERE REPLACE(r.{t.tenant}, '-', '_') = @dataset_part"


def registry_row_sql(t: TenantTables) -> str:
    return f"SELECT r.* FROM {t.reg_ref} AS r\nWHERE r.{t.tenant} = @tenant"


def registry_insert_sql(t: TenantTables, given: Sequence[str]) -> str:
    """An INSERT of @tenant's registry row unless it has one: ``given`` columns from their
    parameters (``param``), the status from @v_<status column>, every other column its default from
    the definitions (not the table's: bqemulator drops defaults), else NULL.

    An INSERT, not a MERGE: every MERGE takes a place in the table's mutating DML queue (2 running,
    20 pending; one more fails), while the first 1,500 INSERTs of a day into a table run at once
    (https://cloud.google.com/bigquery/docs/data-manipulation-language#insert_dml_concurrency), so
    parallel onboardings do not queue behind each other on the registry. Nothing is inserted when
    the id, or one with the same dataset name (@dataset_part), is registered already."""
    keys = {c.lower() for c in given} | {t.quota.status_column.lower()}
    values = []
    for column in t.registry.columns:
        if column.key == t.quota.tenant_column.lower():
            value = "@tenant"
        elif column.key in keys:
            value = f"@{param(column.name)}"
        elif column.default is not None:
            value = default_expression(column.type, column.default)
        elif column.mode == "REQUIRED":
            raise UsageError(
                f"{t.registry.source}: column {column.name!r} of the registry is REQUIRED and has no default, "
                "so a new tenant's row has no value for it; give it a default"
            )
        else:
            value = f"CAST(NULL AS {column.type_sql()})"
        values.append(f"{value} AS {quote(column.name)}")
    names = ", ".join(quote(c.name) for c in t.registry.columns)
    return (
        f"INSERT INTO {t.reg_ref} ({names})\nSELECT {', '.join(values)}\n"
        f"FROM UNNEST([1])\nWHERE NOT EXISTS (\n  SELECT 1 FROM {t.reg_ref} AS r\n"
        f"  WHERE REPLACE(r.{t.tenant}, '-', '_') = @dataset_part\n)"
    )


def registry_withdraw_sql(t: TenantTables) -> str:
    """Remove @tenant's registry rows: an add that finds, after its insert, another id with the
    same dataset name (inserted at the same time) takes its own row back."""
    return f"DELETE FROM {t.reg_ref}\nWHERE {t.tenant} = @tenant"


def quota_withdraw_sql(t: TenantTables) -> str:
    """Remove @tenant's quota rows for @run_date (with ``registry_withdraw_sql``)."""
    return f"DELETE FROM {t.quota_ref}\nWHERE {t.tenant} = @tenant AND {quote(t.quota.date_column)} = @run_date"


def confirm_sql(t: TenantTables) -> str:
    """After a new tenant's registry insert and quota MERGE, in one read: every registry row of an
    id with @tenant's dataset name (@dataset_part), with its id's copies, and @tenant's quota rows
    for @run_date. Concurrent adds show here: copies of the same id, or a colliding id."""
    d = quote(t.quota.date_column)
    return (
        f"SELECT r.*, COUNT(*) OVER (PARTITION BY r.{t.tenant}) AS _bqm_copies,\n"
        f"  (SELECT COUNT(*) FROM {t.quota_ref} AS q WHERE q.{t.tenant} = @tenant AND q.{d} = @run_date) AS _bqm_rows_today\n"
        f"FROM {t.reg_ref} AS r\nWHERE REPLACE(r.{t.tenant}, '-', '_') = @dataset_part"
    )


def registry_dedup_sql(t: TenantTables) -> str:
    """One MERGE that leaves @tenant exactly one registry row, when it has more.

    The reset's technique (reset._dedup_sql): no DELETE can keep one of two identical rows, so the
    kept row, matched through a keyed copy, deletes every row of the tenant, and is inserted back
    through an unkeyed copy that matches nothing. The kept row is the first by the registry's
    limits first, then the other columns in order: of copies that differ, the lowest limits, as
    the reset chooses among a tenant's copies (reset._registry_source_sql)."""
    names = ", ".join(quote(c.name) for c in t.registry.columns)
    ranked = sorted((c for c in t.registry.columns if c.type in _ORDERABLE), key=lambda c: c.key not in LIMITS)
    order = ", ".join(f"d.{quote(c.name)} ASC NULLS LAST" for c in ranked)
    tenant_type = t.registry.column(t.quota.tenant_column).type_sql()  # type: ignore[union-attr]
    return (
        f"MERGE {t.reg_ref} AS target\nUSING (\n  WITH keep AS (\n    SELECT {names} FROM (\n"
        f"      SELECT d.*, ROW_NUMBER() OVER (ORDER BY {order}) AS _bqm_rank, COUNT(*) OVER () AS _bqm_copies\n"
        f"      FROM {t.reg_ref} AS d\n      WHERE d.{t.tenant} = @tenant\n"
        "    ) WHERE _bqm_copies > 1 AND _bqm_rank = 1\n  )\n"
        f"  SELECT {t.tenant} AS _bqm_key, {names} FROM keep\n  UNION ALL\n"
        f"  SELECT CAST(NULL AS {tenant_type}), {names} FROM keep\n) AS source\n"
        f"ON target.{t.tenant} = source._bqm_key\nWHEN MATCHED THEN DELETE\n"
        f"WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({', '.join(f'source.{quote(c.name)}' for c in t.registry.columns)})"
    )


def registry_update_sql(t: TenantTables, columns: Sequence[str]) -> str:
    """Set ``columns`` of @tenant's registry row from their parameters, and its updated_at."""
    sets = [f"{quote(c)} = @{param(c)}" for c in columns]
    updated = t.registry.column(UPDATED)
    if updated is not None and updated.type == "TIMESTAMP":
        sets.append(f"{quote(updated.name)} = CURRENT_TIMESTAMP()")
    return f"UPDATE {t.reg_ref}\nSET {', '.join(sets)}\nWHERE {t.tenant} = @tenant"


def quota_columns(t: TenantTables, columns: Sequence[str]) -> list[str]:
    """Those of ``columns`` that the quota table has too (a limit carried into each day's row)."""
    return [c for c in columns if t.quota_table.column(c) is not None]


def quota_update_sql(t: TenantTables, columns: Sequence[str]) -> str:
    """Set ``columns`` of @tenant's row for @run_date from their parameters: a new limit holds
    from today, and later resets carry it. The date filter also satisfies a partition filter."""
    sets = ", ".join(f"{quote(c)} = @{param(c)}" for c in columns)
    return f"UPDATE {t.quota_ref}\nSET {sets}\nWHERE {t.tenant} = @tenant AND {quote(t.quota.date_column)} = @run_date"


def list_registry_sql(t: TenantTables) -> str:
    return f"SELECT r.* FROM {t.reg_ref} AS r\nORDER BY r.{t.tenant}"


def list_usage_sql(t: TenantTables, one_tenant: bool = False) -> str:
    """Each tenant's row for @run_date (or only @tenant's): its counters and the limits in force."""
    wanted = [t.quota.tenant_column, *(n for pair in LIMITS.items() for n in pair)]
    names = ", ".join(f"q.{quote(c)}" for c in wanted if t.quota_table.column(c) is not None)
    only = f" AND q.{t.tenant} = @tenant" if one_tenant else ""
    return f"SELECT {names}\nFROM {t.quota_ref} AS q\nWHERE q.{quote(t.quota.date_column)} = @run_date{only}"
