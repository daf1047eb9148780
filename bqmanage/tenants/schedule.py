"""The daily reset as a BigQuery scheduled query (Data Transfer Service), in the table's time zone.

The scheduler supplies ``@run_time`` (the intended time, a UTC TIMESTAMP) and ``@run_date`` (its
UTC date), and its schedules are stored in UTC with no daylight saving time
(https://cloud.google.com/bigquery/docs/scheduling-queries). The CLI's run date is today in the
quota table's ``time_zone``; the scheduled script must agree, so for a table not in UTC it declares
its run date as the date of ``@run_time`` in that zone, and it is scheduled at 00:17 local time at
the zone's smallest UTC offset: never before local midnight, and at most the DST shift after it,
on the same local day.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

from bqmanage.errors import UsageError
from bqmanage.model.names import string_literal
from bqmanage.model.schema import QuotaSpec
from bqmanage.tenants.reset_sql import ResetSql

DISPLAY_NAME = "bqmanage quota reset"
_MINUTE = 17  # off the hour: schedules on the hour can fire twice (the reset is idempotent anyway)
_RUN_DATE = "bqm_run_date"
# A string literal or quoted identifier (kept as is), or the parameter outside them (replaced).
_TOKENS = re.compile(r"(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`)|@run_date\b")
# The years whose offsets fix the schedule: a constant, so the printed configuration is the same
# whenever it is printed (a test compares it with the shipped file).
_YEARS = range(2024, 2036)


def is_utc(quota: QuotaSpec) -> bool:
    return _offsets(quota.time_zone) == {dt.timedelta(0)}


def scheduled_script(sql: ResetSql) -> str:
    """The scheduled query: the reset script, on the run date of the table's time zone."""
    script = sql.script()
    if is_utc(sql.quota):
        return script  # @run_date is the UTC date of @run_time: already the table's date
    declare = (
        f"-- The run date in {sql.quota.time_zone}, the quota table's time zone (the scheduler's run date is UTC's).\n"
        f"DECLARE {_RUN_DATE} DATE DEFAULT DATE(@run_time, {string_literal(sql.quota.time_zone)});\n"
    )
    return declare + _TOKENS.sub(lambda m: m.group(1) or _RUN_DATE, script)


def schedule(quota: QuotaSpec) -> str:
    """The Data Transfer Service schedule (UTC): 00:17 in the table's zone at its smallest offset."""
    smallest = min(_offsets(quota.time_zone))
    at = dt.datetime(2000, 1, 1, 0, _MINUTE) - smallest
    return f"every day {at:%H:%M}"


def transfer_config(sql: ResetSql, project: str | None, location: str | None) -> dict[str, Any]:
    """A CreateTransferConfigRequest as JSON: ``parent`` names the project and location, and
    ``transferConfig`` is the HTTP body of transferConfigs.create."""
    if not project:
        raise UsageError("--print-transfer-config: the scheduled query needs a project (--project or the target's project)")
    if not location:
        raise UsageError(
            "--print-transfer-config: the scheduled query needs the location of the quota table's dataset "
            "(--location, the target's location, or the dataset's location)"
        )
    return {
        "parent": f"projects/{project}/locations/{location.lower()}",
        "transferConfig": {
            "displayName": DISPLAY_NAME,
            "dataSourceId": "scheduled_query",
            "schedule": schedule(sql.quota),
            "params": {"query": scheduled_script(sql)},
        },
    }


def _offsets(zone: str) -> set[dt.timedelta]:
    """Every UTC offset the zone has at noon on a day of ``_YEARS`` (a few thousand lookups)."""
    tz = zoneinfo.ZoneInfo(zone)
    first = dt.datetime(_YEARS[0], 1, 1, 12)
    days = (first + dt.timedelta(days=n) for n in range(366 * len(_YEARS)))
    return {d.replace(tzinfo=tz).utcoffset() or dt.timedelta(0) for d in days}
