"""The daily quota reset, on the local engine and on bqemulator, with 3 tenants and 40
days of history: rollover and in_place semantics, idempotency, month boundary, concurrency,
golden SQL, and bad input."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlglot

from bqmanage import api
from bqmanage.engines import Engine
from bqmanage.settings import resolve_settings
from tests.helpers import engine_for, run_cli, target_args

GOLDEN = Path(__file__).parents[1] / "golden"
Q = "`tenants`.`tenant_usage_quotas`"
HISTORY_END = dt.date(2026, 11, 20)
SAME_MONTH, NEXT_MONTH = dt.date(2026, 11, 21), dt.date(2026, 12, 1)
TENANTS = {"t1": "active", "t2": "active", "t3": "active", "t4": "suspended", "t5": "deleted"}
WITH_HISTORY = ("t1", "t2", "t4", "t5")


def _settings(project: str | None):  # type: ignore[no-untyped-def]
    return resolve_settings(target="bigquery" if project else "local", project=project)


def _history_row(tenant: str, day: dt.date, n: int) -> str:
    month_total = day.day * n  # pipelines so far this month
    started = f"TIMESTAMP '{day.isoformat()} 10:00:00+00'"
    return (
        f"('{tenant}-{day:%Y%m%d}', '{tenant}', DATE '{day.isoformat()}', {n}, {n - 1}, 1, 0, {month_total}, {n % 3}, {n}, "
        f"{40 + n}, {900 + n}, {2 + n % 2}, TRUE, TRUE, {started}, {10 * n}, {n}.25, {started}, {started}, {started}, {started})"
    )


def build(project: str | None, days: int = 40) -> Engine:
    assert run_cli(*target_args(project), "apply").exit_code == 0
    engine = engine_for(project)
    profiles = ", ".join(f"('{t}', '{s}', {100 + i}, {3000 + i}, {4 + i})" for i, (t, s) in enumerate(TENANTS.items()))
    engine.query(
        "INSERT INTO `tenants`.`tenant_profiles` (tenant_id, status, daily_limit, monthly_limit, concurrent_limit) "
        f"VALUES {profiles}"
    )
    rows = [_history_row(t, HISTORY_END - dt.timedelta(days=d), i + 2) for i, t in enumerate(WITH_HISTORY) for d in range(days)]
    columns = (
        "usage_id, tenant_id, usage_date, pipelines_run_today, pipelines_succeeded_today, pipelines_failed_today, "
        "pipelines_cancelled_today, pipelines_run_month, concurrent_pipelines_running, max_concurrent_reached, "
        "daily_limit, monthly_limit, concurrent_limit, quota_exceeded, quota_warning_sent, quota_exceeded_at, "
        "total_api_calls_today, total_storage_used_gb, last_updated, last_pipeline_started_at, "
        "last_pipeline_completed_at, created_at"
    )
    for start in range(0, len(rows), 60):
        engine.query(f"INSERT INTO {Q} ({columns}) VALUES {', '.join(rows[start : start + 60])}")
    return engine


def snapshot(engine: Engine) -> list[tuple[Any, ...]]:
    """Every row, as comparable tuples (a checksum of the table's content)."""
    rows = engine.query(f"SELECT * FROM {Q}")
    return sorted(tuple(str(r[k]) for k in sorted(r)) for r in rows)


def rows_on(engine: Engine, day: dt.date) -> dict[str, dict[str, Any]]:
    rows = engine.query(f"SELECT * FROM {Q} WHERE usage_date = @d", {"d": day})
    assert len({r["tenant_id"] for r in rows}) == len(rows), "more than one row per tenant and date"
    return {r["tenant_id"]: r for r in rows}


def past(snap: list[tuple[Any, ...]], engine: Engine, day: dt.date) -> list[tuple[Any, ...]]:
    rows = engine.query(f"SELECT * FROM {Q} WHERE usage_date < @d", {"d": day})
    return sorted(tuple(str(r[k]) for k in sorted(r)) for r in rows)


def test_rollover_same_month_then_month_boundary(project: str | None) -> None:
    engine = build(project)
    before = snapshot(engine)
    report = api.reset(_settings(project), engine_for(project), run_date=SAME_MONTH)
    assert (report.active_tenants, report.new_rows, report.already_current) == (3, 3, 0)
    assert report.without_history == ["t3"]
    engine = engine_for(project)
    assert past(before, engine, SAME_MONTH) == before  # no past row changed
    new = rows_on(engine, SAME_MONTH)
    assert set(new) == {"t1", "t2", "t3"}  # suspended and deleted tenants get no row
    latest = {r["tenant_id"]: r for r in engine.query(f"SELECT * FROM {Q} WHERE usage_date = @d", {"d": HISTORY_END})}
    for tenant in ("t1", "t2"):
        row, prev = new[tenant], latest[tenant]
        assert row["usage_id"] == f"{tenant}-20261121"
        for daily in (
            "pipelines_run_today",
            "pipelines_succeeded_today",
            "pipelines_failed_today",
            "pipelines_cancelled_today",
            "max_concurrent_reached",
            "total_api_calls_today",
        ):
            assert row[daily] == 0
        assert (row["quota_exceeded"], row["quota_warning_sent"], row["quota_exceeded_at"]) == (False, False, None)
        for carried in (
            "pipelines_run_month",
            "daily_limit",
            "monthly_limit",
            "concurrent_limit",
            "concurrent_pipelines_running",
            "total_storage_used_gb",
            "last_pipeline_started_at",
        ):
            assert row[carried] == prev[carried], carried
    fresh = new["t3"]  # no history: the registry's defaults
    assert (fresh["daily_limit"], fresh["monthly_limit"], fresh["concurrent_limit"]) == (102, 3002, 6)
    assert (fresh["pipelines_run_month"], fresh["total_storage_used_gb"]) == (0, 0)

    after_first = snapshot(engine)
    again = api.reset(_settings(project), engine_for(project), run_date=SAME_MONTH)
    assert (again.new_rows, again.already_current) == (0, 3)
    assert snapshot(engine_for(project)) == after_first  # a second run changes nothing

    # The dates are fixed and may be ahead of the wall clock: the future-date guard has its own tests.
    api.reset(_settings(project), engine_for(project), run_date=NEXT_MONTH, allow_future_date=True)
    engine = engine_for(project)
    december = rows_on(engine, NEXT_MONTH)
    assert set(december) == {"t1", "t2", "t3"}
    assert all(r["pipelines_run_month"] == 0 for r in december.values())  # the month boundary
    assert december["t1"]["daily_limit"] == new["t1"]["daily_limit"]
    assert past(after_first, engine, NEXT_MONTH) == after_first
    settled = snapshot(engine)
    api.reset(_settings(project), engine_for(project), run_date=NEXT_MONTH, allow_future_date=True)
    assert snapshot(engine_for(project)) == settled


def test_missed_days_create_only_the_run_date(workdir: Path) -> None:
    engine = build(None, days=3)
    api.reset(_settings(None), engine, run_date=HISTORY_END + dt.timedelta(days=5), allow_future_date=True)
    dates = {
        r["usage_date"]
        for r in engine_for(None).query(f"SELECT DISTINCT usage_date FROM {Q} WHERE usage_date > @d", {"d": HISTORY_END})
    }
    assert dates == {HISTORY_END + dt.timedelta(days=5)}


def _in_place(path: Path = Path("schemas/tenants/tenant_usage_quotas.yaml")) -> None:
    path.write_text(path.read_text().replace("strategy: rollover", "strategy: in_place"))


def test_in_place_strategy(project: str | None) -> None:
    _in_place()
    engine = build(project, days=1)  # in_place keeps one row per tenant
    report = api.reset(_settings(project), engine_for(project), run_date=SAME_MONTH)
    assert (report.active_tenants, report.new_rows, report.without_history) == (3, 3, ["t3"])
    engine = engine_for(project)
    rows = {r["tenant_id"]: r for r in engine.query(f"SELECT * FROM {Q}")}
    assert len(rows) == 5 and len(engine.query(f"SELECT * FROM {Q}")) == 5  # one row per tenant
    for tenant in ("t1", "t2"):
        row = rows[tenant]
        assert row["usage_date"] == SAME_MONTH and row["usage_id"] == f"{tenant}-20261121"
        assert row["pipelines_run_today"] == 0 and row["quota_exceeded"] is False
        assert row["pipelines_run_month"] > 0 and row["daily_limit"] > 0  # carried within the month
    assert rows["t3"]["daily_limit"] == 102
    assert rows["t4"]["usage_date"] == HISTORY_END and rows["t4"]["pipelines_run_today"] > 0  # suspended: untouched
    settled = snapshot(engine)
    api.reset(_settings(project), engine_for(project), run_date=SAME_MONTH)
    assert snapshot(engine_for(project)) == settled
    api.reset(_settings(project), engine_for(project), run_date=NEXT_MONTH, allow_future_date=True)
    rows = {r["tenant_id"]: r for r in engine_for(project).query(f"SELECT * FROM {Q}")}
    assert all(rows[t]["pipelines_run_month"] == 0 and rows[t]["usage_date"] == NEXT_MONTH for t in ("t1", "t2", "t3"))
    assert rows["t4"]["usage_date"] == HISTORY_END


@pytest.mark.parametrize("strategy", ["rollover", "in_place"])
def test_four_concurrent_resets_leave_one_row_per_tenant_and_date(strategy: str, project: str | None) -> None:
    if strategy == "in_place":
        _in_place()
    build(project, days=1 if strategy == "in_place" else 2)  # in_place keeps one row per tenant
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def one() -> None:
        try:
            engine = engine_for(project)
            barrier.wait()
            api.reset(_settings(project), engine, run_date=SAME_MONTH)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not [t for t in threads if t.is_alive()], "a reset did not finish within 120 s"
    assert errors == []
    rows = engine_for(project).query(f"SELECT tenant_id, usage_date FROM {Q} WHERE usage_date = @d", {"d": SAME_MONTH})
    assert sorted(r["tenant_id"] for r in rows) == ["t1", "t2", "t3"]


def test_golden_reset_sql_and_it_parses(workdir: Path) -> None:
    result = run_cli("reset", "--print-sql")
    assert result.exit_code == 0
    # The golden file is the checked-in scheduled-query SQL itself.
    assert result.stdout == (GOLDEN.parent.parent / "deployment" / "reset" / "quota_reset.sql").read_text()
    statements = [s for s in sqlglot.parse(result.stdout, read="bigquery") if s]
    # The script's DECLAREs find the tenants to carry from beyond the lookback (sqlglot reads
    # IF ... END IF as commands); then the reset MERGE and the MERGE that collapses duplicates.
    assert [type(s).__name__ for s in statements] == ["Declare", "Declare", "Command", "Command", "Merge", "Merge"]
    # Partition pruning: the date column is filtered by the parameter only, never a subquery.
    assert "q.`usage_date` >= DATE_SUB(@run_date, INTERVAL 35 DAY) AND q.`usage_date` < @run_date" in result.stdout
    assert "target.`usage_date` = @run_date" in result.stdout


def test_a_new_daily_counter_changes_the_sql_with_no_code_change(workdir: Path) -> None:
    path = Path("schemas/tenants/tenant_usage_quotas.yaml")
    path.write_text(path.read_text() + "  - {name: pipelines_retried_today, type: INT64, default: 0, reset: daily}\n")
    sql = run_cli("reset", "--print-sql").stdout
    assert "0 AS `pipelines_retried_today`" in sql and "source.`pipelines_retried_today`" in sql
    engine = build(None, days=2)
    engine.query(f"UPDATE {Q} SET pipelines_retried_today = 7 WHERE TRUE")
    api.reset(_settings(None), engine_for(None), run_date=SAME_MONTH)
    assert {r["pipelines_retried_today"] for r in rows_on(engine_for(None), SAME_MONTH).values()} == {0}


@pytest.mark.parametrize(
    "args,message",
    [
        (["--date", "2026-02-30"], "--date: '2026-02-30' is not a date"),
        (["--table", "tenants.nope"], "--table: unknown table 'tenants.nope'"),
        (["--table", "tenants.tenant_profiles"], "has no quota section"),
    ],
)
def test_bad_input_exits_2_and_runs_nothing(args: list[str], message: str, workdir: Path) -> None:
    result = run_cli("reset", *args)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not Path(".bqmanage").exists()


def test_quota_definition_without_a_date_column(workdir: Path) -> None:
    path = Path("schemas/tenants/tenant_usage_quotas.yaml")
    path.write_text(path.read_text().replace("  date_column: usage_date\n", ""))
    result = run_cli("reset", "--date", "2026-11-21")
    assert result.exit_code == 2
    assert "schemas/tenants/tenant_usage_quotas.yaml:7: quota: required key 'date_column' is missing" in result.stderr
    assert not Path(".bqmanage").exists()


def test_dry_run_changes_nothing(project: str | None) -> None:
    engine = build(project, days=2)
    before = snapshot(engine)
    result = run_cli(*target_args(project), "reset", "--date", "2026-11-21", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "Dry run" in result.stdout and "3 would get a new row" in result.stdout
    if project is not None:
        # bqemulator's dry run reports 0 bytes (evaluation §3); real BigQuery reports the estimate.
        assert "BigQuery estimates the MERGE scans 0 bytes" in result.stdout
    assert snapshot(engine_for(project)) == before


@pytest.mark.parametrize("args", [[], ["--dry-run"], ["--in-place"]], ids=["rollover", "dry-run", "in-place"])
def test_registry_ids_that_break_the_tenant_id_rule_get_no_row_and_exit_2(args: list[str], workdir: Path) -> None:
    if args == ["--in-place"]:
        _in_place()
        args = []
    engine = build(None, days=1)
    bad = ["../../x", "evil\n::error::id"]
    for tenant in bad:
        engine.query("INSERT INTO `tenants`.`tenant_profiles` (tenant_id, status) VALUES (@t, 'active')", {"t": tenant})
    result = run_cli("reset", "--date", SAME_MONTH.isoformat(), *args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    assert not any(line.startswith("::") for line in (result.stdout + result.stderr).splitlines())
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "../../x" in errors[0] and "evil\\n::error::id" in errors[0]
    rows = engine_for(None).query(f"SELECT tenant_id, usage_date FROM {Q}")
    assert not {r["tenant_id"] for r in rows} & set(bad)  # none for the refused ids
    if "--dry-run" not in args:  # the valid active tenants still got theirs
        assert {r["tenant_id"] for r in rows if r["usage_date"] == SAME_MONTH} == {"t1", "t2", "t3"}
