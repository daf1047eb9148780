"""What the daily reset needs from a quota table's definition (docs/reset.md), checked at load time
so that `reset` never finds it out at midnight."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from typing import Any

from bqmanage.definitions.yaml_source import LineMap
from bqmanage.errors import Problem
from bqmanage.model.names import dataset_name_problem, table_name_problem
from bqmanage.model.schema import Column, QuotaSpec, Table
from bqmanage.tenants.registry import registry_name

_POLICIES = "daily, monthly, carry, now or generated"
# `now` writes CURRENT_<type>() for these; on any other type it writes the column's default.
_NOW_TYPES = ("DATE", "DATETIME", "TIME", "TIMESTAMP")
# Types whose current value differs between two runs, so that the earliest copy can be told apart.
_TIE_BREAK_TYPES = ("DATETIME", "TIME", "TIMESTAMP")
# Implicit coercions of a registry value into a quota column:
# https://docs.cloud.google.com/bigquery/docs/reference/standard-sql/conversion_rules#coercion
_COERCIONS = {
    ("INT64", "NUMERIC"),
    ("INT64", "BIGNUMERIC"),
    ("INT64", "FLOAT64"),
    ("NUMERIC", "BIGNUMERIC"),
    ("NUMERIC", "FLOAT64"),
    ("BIGNUMERIC", "FLOAT64"),
}


# Ten years: a lookback is a partition-pruned scan, and a date far before year 1 does not exist.
MAX_LOOKBACK_DAYS = 3660


def indexed_columns(raw: list[Any], by_key: dict[str, Column]) -> Iterator[tuple[int, Column]]:
    """Each converted column with its index in the file's ``columns:`` list (broken ones skipped)."""
    for i, item in enumerate(raw):
        name = item.get("name") if isinstance(item, dict) else None
        column = by_key.get(name.lower()) if isinstance(name, str) else None
        if column is not None and column.name == name:
            yield i, column


def quota_problems(
    quota: QuotaSpec, raw_columns: list[Any], by_key: dict[str, Column], broken: set[str], lines: LineMap
) -> list[Problem]:
    """The quota section against the table's own columns."""
    problems: list[Problem] = []
    for key in ("tenant_column", "date_column"):
        value = getattr(quota, key)
        if value.lower() not in by_key and value.lower() not in broken:
            problems.append(lines.problem(("quota", key), f"{key} {value!r} is not a column of the table"))
    date_col = by_key.get(quota.date_column.lower())
    if date_col is not None and date_col.type != "DATE":
        problems.append(lines.problem(("quota", "date_column"), f"date column {date_col.name!r} must be DATE"))
    if not 1 <= quota.lookback_days <= MAX_LOOKBACK_DAYS:
        problems.append(lines.problem(("quota", "lookback_days"), f"lookback_days must be between 1 and {MAX_LOOKBACK_DAYS}"))
    if quota.registry is not None and not _is_table_ref(quota.registry):
        problems.append(lines.problem(("quota", "registry"), f"registry {quota.registry!r} must be dataset.table"))
    keys = {quota.tenant_column.lower(), quota.date_column.lower()}
    for i, column in indexed_columns(raw_columns, by_key):
        if column.key not in keys and column.reset is None:
            problems.append(
                lines.problem(
                    ("columns", i, "reset"), f"column {column.name!r} of a quota table needs a reset policy ({_POLICIES})"
                )
            )
        if column.reset == "generated" and (column.type != "STRING" or column.mode == "REPEATED"):
            problems.append(lines.problem(("columns", i, "reset"), "a generated row id must be a STRING column"))
        resets_to_default = column.reset in ("daily", "monthly") or (column.reset == "now" and column.type not in _NOW_TYPES)
        if resets_to_default and column.mode == "REQUIRED" and column.default is None:
            problems.append(
                lines.problem(
                    ("columns", i, "reset"),
                    f"column {column.name!r} is REQUIRED and `{column.reset}` resets it to its default, "
                    "so it needs a default (else the reset writes NULL)",
                )
            )
    if not broken and not any(c.reset == "now" and c.type in _TIE_BREAK_TYPES and c.mode != "REPEATED" for c in by_key.values()):
        # Two concurrent resets can both insert a tenant's row; the dedup keeps the earliest copy by
        # the `now` columns (reset._dedup_order). Both copies share the generated id, and
        # CURRENT_DATE() too, so neither can tell them apart.
        problems.append(
            lines.problem(
                ("quota",),
                "a quota table needs a `now` column of type TIMESTAMP, DATETIME or TIME "
                "(e.g. last_updated): it tells two concurrent resets' copies of a row apart, "
                "and the earliest is kept",
            )
        )
    try:
        zoneinfo.ZoneInfo(quota.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        problems.append(lines.problem(("quota", "time_zone"), f"unknown time zone {quota.time_zone!r}"))
    return problems


def _is_table_ref(name: str) -> bool:
    parts = name.split(".")
    return len(parts) == 2 and dataset_name_problem(parts[0]) is None and table_name_problem(parts[1]) is None


def registry_problems(table: Table, quota: QuotaSpec, registry: Table | None, lines: LineMap) -> list[Problem]:
    """What the reset reads from the registry (reset.render_reset, reset._registry_value), located in
    the quota table's file. ``registry`` is None when no table of that name is defined."""
    name = registry_name(table, quota)
    where = ("quota", "registry")
    if registry is None:
        how = "quota.registry" if quota.registry else "the default registry (quota.registry is not set)"
        return [lines.problem(where if quota.registry else ("quota",), f"{how} {name!r} is not a defined table")]
    problems: list[Problem] = []
    for key, needed in (("tenant_column", quota.tenant_column), ("status_column", quota.status_column)):
        if registry.column(needed) is None:
            problems.append(lines.problem(where, f"the registry {name} has no column {needed!r} (quota.{key})"))
    tenant, reg_tenant = table.column(quota.tenant_column), registry.column(quota.tenant_column)
    if tenant is not None and reg_tenant is not None and not (_assignable(reg_tenant, tenant) or _assignable(tenant, reg_tenant)):
        problems.append(
            lines.problem(
                where,
                f"{name}.{reg_tenant.name} is {reg_tenant.type_sql()}, but the tenant column "
                f"{tenant.name} is {tenant.type_sql()}; the reset joins them",
            )
        )
    status = registry.column(quota.status_column)
    if status is not None and (status.type != "STRING" or status.mode == "REPEATED"):
        problems.append(
            lines.problem(
                where,
                f"{name}.{status.name} is {status.type_sql()}; the reset compares it with the STRING {quota.active_status!r}",
            )
        )
    for i, column in enumerate(table.columns):
        if column.reset != "carry" or column.key in (quota.tenant_column.lower(), quota.date_column.lower()):
            continue
        # A tenant with no earlier row starts from the registry's column of the same name, else
        # from the column's default, else NULL.
        source = registry.column(column.name)
        if source is None and column.mode == "REQUIRED" and column.default is None:
            problems.append(
                lines.problem(
                    ("columns", i, "reset"),
                    f"registry {name} has no column {column.name!r}, so a tenant "
                    "with no earlier row would get NULL in this REQUIRED column: add the column "
                    "to the registry or give this one a default",
                )
            )
        elif source is not None and not _assignable(source, column):
            problems.append(
                lines.problem(
                    ("columns", i, "reset"),
                    f"{name}.{source.name} is {source.type_sql()}, which cannot "
                    f"be written to this {column.type_sql()} column (a tenant with no earlier row "
                    "starts from the registry's value)",
                )
            )
    return problems


def _assignable(source: Column, target: Column) -> bool:
    """A value of ``source``'s type can be written to ``target``. Parameters (STRING(10)) are
    checked on write, not here; a NULLABLE source into a REQUIRED target fails only on a NULL
    value, which is data, so it is left to the registry's owner."""
    if (source.mode == "REPEATED") != (target.mode == "REPEATED"):
        return False
    if source.type != target.type:
        return (source.type, target.type) in _COERCIONS
    if source.range_element != target.range_element or len(source.fields) != len(target.fields):
        return False
    return all(_assignable(s, t) and s.type == t.type for s, t in zip(source.fields, target.fields, strict=True))
