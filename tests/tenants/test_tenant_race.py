"""Concurrent ``tenant add`` of one id with different values: each run says truthfully whose values
stand. Processes on the local engine never race (the DuckDB file's lock serialises whole runs:
tests/tenants/test_tenant.py); adds in one process race statement by statement on both engines,
as separate processes do on BigQuery, so the interleavings are forced here through on_statement."""

from __future__ import annotations

import threading
from typing import Any

from bqmanage import api
from bqmanage.report.text import tenant_text
from bqmanage.tenants.commands import TenantReport
from bqmanage.tenants.scope import Limits
from tests.helpers import engine_for, run_cli, target_args
from tests.tenants.test_tenant import _settings, registry_rows

INSERT = "INSERT INTO"


def test_adds_of_one_id_with_other_limits_each_report_whose_values_stand(project: str | None) -> None:
    assert run_cli(*target_args(project), "apply").exit_code == 0
    # Every run has looked the id up (absent) before any sends its insert: one insert writes the
    # row, the others' NOT EXISTS finds it.
    lookups_done = threading.Barrier(4)
    reports: dict[int, TenantReport] = {}
    errors: list[BaseException] = []

    def add(daily: int) -> None:
        engine = engine_for(project)
        engine.on_statement = lambda sql: lookups_done.wait(60) if sql.startswith(INSERT) and "tenant_profiles" in sql else None  # type: ignore[method-assign]
        try:
            reports[daily] = api.tenant_add(_settings(project), engine, "same1", limits=Limits(daily=daily))
        except BaseException as exc:  # each outcome is asserted
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(daily,)) for daily in (10, 20, 30, 40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert errors == []
    [row] = registry_rows(engine_for(project), "same1")
    winners = [daily for daily, r in reports.items() if r.registered]
    assert winners == [row["daily_limit"]]
    for daily, report in reports.items():
        assert report.values["daily_limit"] == row["daily_limit"]
        first = tenant_text(report).splitlines()[0]
        if daily in winners:
            assert first.startswith("Added tenant same1") and not report.registered_by_another
        else:
            assert report.registered_by_another
            assert first == (
                "Another add of tenant same1 registered it in tenants.tenant_profiles at the same time (active); its values "
                f"stand: tenant_name NULL, daily_limit {row['daily_limit']}, monthly_limit 3000, concurrent_limit 3 "
                "(`bqmanage tenant set-limits same1` changes them)."
            )


def test_an_add_whose_copy_loses_the_collapse_reports_the_copy_that_stands(project: str | None) -> None:
    # On BigQuery two inserts of one id can both land (no unique keys): here another add's copy,
    # with a lower limit, lands just before this add's confirming read, and the collapse keeps it.
    assert run_cli(*target_args(project), "apply").exit_code == 0
    engine, other = engine_for(project), engine_for(project)

    def copy_first(sql: str) -> None:
        if "_bqm_copies" in sql and not registry_rows(other, "same1")[1:]:
            row: dict[str, Any] = {**registry_rows(other, "same1")[0], "daily_limit": 5}
            names = ", ".join(f"`{k}`" for k in row)
            other.query(f"INSERT INTO `tenants`.`tenant_profiles` ({names}) SELECT {', '.join(f'@{k}' for k in row)}", row)

    engine.on_statement = copy_first  # type: ignore[method-assign]
    report = api.tenant_add(_settings(project), engine, "same1", limits=Limits(daily=10))
    [row] = registry_rows(other, "same1")
    assert row["daily_limit"] == 5 and report.values["daily_limit"] == 5
    assert report.registered_by_another and not report.registered
    assert tenant_text(report).startswith("Another add of tenant same1 registered it")


def test_adds_that_each_create_the_dataset_leave_one_ledger_row(emulator: str) -> None:
    # All four adds have planned the tenant's new dataset before any runs its script: each script
    # runs, and only the one that creates the ledger table records the creation (onboard.py).
    assert run_cli(*target_args(emulator), "apply").exit_code == 0
    scripts = threading.Barrier(4)
    errors: list[BaseException] = []

    def add() -> None:
        engine = engine_for(emulator)
        engine.on_statement = lambda sql: scripts.wait(60) if sql.startswith("CREATE SCHEMA") else None  # type: ignore[method-assign]
        try:
            api.tenant_add(_settings(emulator), engine, "same1")
        except BaseException as exc:  # each outcome is asserted
            errors.append(exc)

    threads = [threading.Thread(target=add) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert errors == [] and scripts.broken is False
    engine = engine_for(emulator)
    [row] = engine.query("SELECT outcome, applied_steps, total_steps FROM `tenant_same1`.`_bqmanage_migrations`")
    assert row["outcome"] == "succeeded" and row["applied_steps"] == row["total_steps"] == 2
    tables = engine.query("SELECT table_name FROM `tenant_same1`.INFORMATION_SCHEMA.TABLES ORDER BY 1")
    assert [t["table_name"] for t in tables] == ["_bqmanage_migrations", "pipeline_runs"]
