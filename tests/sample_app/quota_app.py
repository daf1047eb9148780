"""A small application in the incident's shape: it counts a pipeline run against the tenant's
quota row for today, and refuses a run over the daily limit.

It speaks GoogleSQL with @parameters through a query function: in production ``bigquery_runner``
over the official client; in its tests the same runner over bqemulator's client
(``bqmanage_bigquery``), or the embedded warehouse's ``query`` (``bqmanage_warehouse``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Runner = Callable[[str, dict[str, Any]], list[dict[str, Any]]]

READ = """
SELECT pipelines_run_today, daily_limit
FROM `tenants`.`tenant_usage_quotas`
WHERE tenant_id = @tenant_id AND usage_date = @today
"""
INCREMENT = """
UPDATE `tenants`.`tenant_usage_quotas`
SET pipelines_run_today = pipelines_run_today + 1,
    last_pipeline_started_at = CURRENT_TIMESTAMP(),
    last_updated = CURRENT_TIMESTAMP()
WHERE tenant_id = @tenant_id AND usage_date = @today
"""


class QuotaExceeded(Exception):
    pass


class NoQuotaRow(Exception):
    """The daily reset has not given the tenant a row for today."""


@dataclass(frozen=True)
class Usage:
    pipelines_run_today: int
    daily_limit: int


def start_pipeline(run: Runner, tenant_id: str, today: dt.date) -> Usage:
    """Count one pipeline run for ``tenant_id`` today; QuotaExceeded when the limit is reached."""
    params = {"tenant_id": tenant_id, "today": today}
    rows = run(READ, params)
    if not rows:
        raise NoQuotaRow(f"{tenant_id} has no quota row for {today}")
    if rows[0]["pipelines_run_today"] >= rows[0]["daily_limit"]:
        raise QuotaExceeded(f"{tenant_id} reached its daily limit of {rows[0]['daily_limit']}")
    run(INCREMENT, params)
    after = run(READ, params)[0]
    return Usage(after["pipelines_run_today"], after["daily_limit"])


def bigquery_runner(client: Any) -> Runner:
    """The production query function over a google.cloud.bigquery.Client."""
    from google.cloud import bigquery

    kinds = {str: "STRING", int: "INT64", dt.date: "DATE"}

    def run(sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        config = bigquery.QueryJobConfig(
            query_parameters=[bigquery.ScalarQueryParameter(k, kinds[type(v)], v) for k, v in params.items()]
        )
        return [dict(row.items()) for row in client.query(sql, job_config=config).result()]

    return run
