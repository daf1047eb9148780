"""What the daily reset needs from a quota table's definition (design.md §6), checked at load time
so that `reset` never finds it out at midnight."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from typing import Any

from bqmanage.errors import Problem
from bqmanage.loader import LineMap
from bqmanage.model import Column, QuotaSpec

_POLICIES = "daily, monthly, carry, now or generated"


def indexed_columns(raw: list[Any], by_key: dict[str, Column]) -> Iterator[tuple[int, Column]]:
    """Each converted column with its index in the file's ``columns:`` list (broken ones skipped)."""
    for i, item in enumerate(raw):
        name = item.get("name") if isinstance(item, dict) else None
        column = by_key.get(name.lower()) if isinstance(name, str) else None
        if column is not None and column.name == name:
            yield i, column


def quota_problems(quota: QuotaSpec, raw_columns: list[Any], by_key: dict[str, Column], broken: set[str],
                   lines: LineMap) -> list[Problem]:
    """The quota section against the table's own columns."""
    problems: list[Problem] = []
    for key in ("tenant_column", "date_column"):
        value = getattr(quota, key)
        if value.lower() not in by_key and value.lower() not in broken:
            problems.append(lines.problem(("quota", key), f"{key} {value!r} is not a column of the table"))
    date_col = by_key.get(quota.date_column.lower())
    if date_col is not None and date_col.type != "DATE":
        problems.append(lines.problem(("quota", "date_column"), f"date column {date_col.name!r} must be DATE"))
    if quota.lookback_days < 1:
        problems.append(lines.problem(("quota", "lookback_days"), "lookback_days must be at least 1"))
    keys = {quota.tenant_column.lower(), quota.date_column.lower()}
    for i, column in indexed_columns(raw_columns, by_key):
        if column.key not in keys and column.reset is None:
            problems.append(lines.problem(("columns", i, "reset"), f"column {column.name!r} of a quota table needs a reset policy ({_POLICIES})"))
        if column.reset == "generated" and (column.type != "STRING" or column.mode == "REPEATED"):
            problems.append(lines.problem(("columns", i, "reset"), "a generated row id must be a STRING column"))
    try:
        zoneinfo.ZoneInfo(quota.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        problems.append(lines.problem(("quota", "time_zone"), f"unknown time zone {quota.time_zone!r}"))
    return problems
