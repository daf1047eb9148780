"""The seed incident: tenant_usage_quotas as an old deploy script created it, 9 of its 22 columns
missing.

Built from the production definitions, never a hand copy (a hand-copied test schema once hid a
constraint production relied on): the same table minus the
9 columns the script forgot, and concurrent_limit without its default.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from bqmanage.changes import CreateDataset, CreateTable
from bqmanage.definitions.load import load_definitions
from bqmanage.engines import Engine
from bqmanage.model.schema import Table
from bqmanage.plan import Step
from bqmanage.render import create_schema_sql, create_table_sql

MISSING = (
    "pipelines_cancelled_today",
    "max_concurrent_reached",
    "quota_exceeded",
    "quota_warning_sent",
    "quota_exceeded_at",
    "total_api_calls_today",
    "total_storage_used_gb",
    "last_pipeline_started_at",
    "last_pipeline_completed_at",
)
NEW_COUNTERS = {
    "pipelines_cancelled_today": 0,
    "max_concurrent_reached": 0,
    "quota_exceeded": False,
    "quota_warning_sent": False,
    "total_api_calls_today": 0,
    "total_storage_used_gb": Decimal("0"),
}
NEW_TIMESTAMPS = ("quota_exceeded_at", "last_pipeline_started_at", "last_pipeline_completed_at")


def desired_quotas(schemas: Path = Path("schemas")) -> Table:
    table = load_definitions(schemas).table("tenants", "tenant_usage_quotas")
    assert table is not None
    return table


def old_deploy_table(schemas: Path = Path("schemas")) -> Table:
    desired = desired_quotas(schemas)
    columns = tuple(
        c.model_copy(update={"default": None}) if c.name == "concurrent_limit" else c
        for c in desired.columns
        if c.name not in MISSING
    )
    assert len(columns) == 13
    # The old deploy script made no row access policies: isolation is one of the migration's steps.
    return desired.model_copy(update={"columns": columns, "row_access": None})


def create_old_table(engine: Engine, schemas: Path = Path("schemas")) -> Table:
    old = old_deploy_table(schemas)
    # The dataset itself is as defined; the incident is about the table.
    dataset = load_definitions(schemas).datasets[0]
    engine.execute(
        Step(
            "create_dataset",
            "tenants",
            None,
            "old deploy",
            sql=create_schema_sql(dataset),
            changes=(CreateDataset(dataset="tenants", table=None, desired=dataset),),
        )
    )
    engine.execute(
        Step(
            "create_table",
            "tenants",
            old.name,
            "old deploy",
            sql=create_table_sql(old),
            changes=(CreateTable(dataset="tenants", table=old.name, desired=old),),
        )
    )
    return old


OLD_ROWS: list[dict[str, Any]] = [
    {
        "usage_id": f"t{i}-2026-11-20",
        "tenant_id": f"t{i}",
        "usage_date": dt.date(2026, 11, 20),
        "pipelines_run_today": 5 * i,
        "pipelines_succeeded_today": 4 * i,
        "pipelines_failed_today": i,
        "pipelines_run_month": 40 * i,
        "concurrent_pipelines_running": i % 2,
        "daily_limit": 100,
        "monthly_limit": 3000 if i != 2 else None,
        "concurrent_limit": None if i == 1 else 5,
        "last_updated": dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC),
        "created_at": dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    }
    for i in (1, 2, 3)
]


def insert_old_rows(engine: Engine) -> None:
    for row in OLD_ROWS:
        names = ", ".join(row)
        placeholders = ", ".join(f"@{k}" if row[k] is not None else "NULL" for k in row)
        params = {k: v for k, v in row.items() if v is not None}
        engine.query(f"INSERT INTO `tenants`.`tenant_usage_quotas` ({names}) VALUES ({placeholders})", params)


def read_rows(engine: Engine) -> list[dict[str, Any]]:
    return sorted(engine.query("SELECT * FROM `tenants`.`tenant_usage_quotas`"), key=lambda r: r["usage_id"])
