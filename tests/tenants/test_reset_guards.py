"""The reset against bad registries, bad dates, reactivated tenants, an unprepared
warehouse and long reports. Each on the local engine and, where it applies, on bqemulator."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from bqmanage import api
from bqmanage.engines import Engine
from tests.helpers import engine_for, record, run_cli, target_args
from tests.tenants.test_reset import (
    SAME_MONTH,
    Q,
    _in_place,
    _settings,
    build,
    rows_on,
    snapshot,
)

P = "`tenants`.`tenant_profiles`"


# ---- duplicates in the registry ----


def test_registry_duplicates_reset_each_tenant_once_then_exit_2(project: str | None) -> None:
    engine = build(project, days=2)
    # t1 listed twice with the same limits, t2 twice with different ones.
    engine.query(
        f"INSERT INTO {P} (tenant_id, status, daily_limit, monthly_limit, concurrent_limit) "
        "VALUES ('t1', 'active', 100, 3000, 4), ('t2', 'active', 999, 9999, 9)"
    )
    result = run_cli(*target_args(project), "reset", "--date", SAME_MONTH.isoformat(), "--format", "json")
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "tenants.tenant_profiles lists 2 active tenant(s) more than once: t1, t2" in result.stderr
    assert "the reset ran once for each" in result.stderr
    report = json.loads(result.stdout)
    assert report["registry_duplicates"] == ["t1", "t2"]
    rows = rows_on(engine_for(project), SAME_MONTH)  # asserts one row per tenant and date
    assert sorted(rows) == ["t1", "t2", "t3"]
    assert report["new_rows"] == len(rows) == 3  # the report counts the rows actually inserted
    # A second run inserts nothing and still says the registry is wrong.
    again = run_cli(*target_args(project), "reset", "--date", SAME_MONTH.isoformat())
    assert again.exit_code == 2 and "0 got a new row, 3 already current" in again.stdout
    assert len(rows_on(engine_for(project), SAME_MONTH)) == 3


def test_identical_copies_on_the_run_date_collapse_to_one(project: str | None) -> None:
    """Fully identical rows (no column tells them apart, as the registry bug used to write)."""
    engine = build(project, days=2)
    copy = (
        "'t1-20261121', 't1', DATE '2026-11-21', 5, 4, 1, 0, 9, 0, 2, 42, 902, 3, FALSE, FALSE, NULL, 10, 1.25, "
        "TIMESTAMP '2026-11-21 01:00:00+00', NULL, NULL, TIMESTAMP '2026-11-21 01:00:00+00'"
    )
    engine.query(f"INSERT INTO {Q} VALUES ({copy}), ({copy}), ({copy})")
    report = api.reset(_settings(project), engine_for(project), run_date=SAME_MONTH)
    rows = rows_on(engine_for(project), SAME_MONTH)
    assert sorted(rows) == ["t1", "t2", "t3"]
    assert rows["t1"]["pipelines_run_today"] == 5  # the copy kept is the existing row, not a fresh one
    assert report.new_rows == 2 and report.already_current == 1


# ---- far-future run dates ----


def test_a_far_future_date_is_refused_before_any_warehouse_call(project: str | None) -> None:
    _in_place()
    build(project, days=1)
    before = snapshot(engine_for(project))
    result = run_cli(*target_args(project), "reset", "--date", "2062-11-21")
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert "--date: 2062-11-21 is more than one day after today" in result.stderr
    assert "--allow-future-date" in result.stderr
    assert snapshot(engine_for(project)) == before


def test_future_date_refusal_opens_no_warehouse(workdir: Path) -> None:
    result = run_cli("reset", "--date", "2062-11-21", "--dry-run")
    assert result.exit_code == 2 and "--allow-future-date" in result.stderr
    assert not Path(".bqmanage").exists()  # not even the local warehouse file


def test_tomorrow_past_dates_and_the_explicit_flag_are_allowed(workdir: Path) -> None:
    _in_place()
    build(None, days=1)
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    assert run_cli("reset", "--date", tomorrow.isoformat()).exit_code == 0
    assert run_cli("reset", "--date", "2026-01-05").exit_code == 0  # a repair of a missed day; in_place ignores older dates
    result = run_cli("reset", "--date", "2062-11-21", "--allow-future-date")
    assert result.exit_code == 0, result.stderr
    dates = {r["usage_date"] for r in engine_for(None).query(f"SELECT usage_date FROM {Q} WHERE tenant_id = 't1'")}
    assert dates == {dt.date(2062, 11, 21)}


# ---- a tenant reactivated after more than lookback_days ----


def _suspend_then_resume(engine: Engine) -> None:
    """t4's rows end 60 days before the run date (its suspension); now it is active again."""
    suspended_at, older = SAME_MONTH - dt.timedelta(days=60), SAME_MONTH - dt.timedelta(days=90)
    engine.query(f"DELETE FROM {Q} WHERE tenant_id = 't4'")
    for day, limit, storage in ((suspended_at, 777, "12.5"), (older, 555, "3.5")):
        engine.query(
            f"INSERT INTO {Q} (usage_id, tenant_id, usage_date, pipelines_run_today, pipelines_succeeded_today, "
            "pipelines_failed_today, pipelines_run_month, concurrent_pipelines_running, daily_limit, monthly_limit, "
            "concurrent_limit, total_storage_used_gb, last_updated, created_at) VALUES "
            f"('t4-{day:%Y%m%d}', 't4', @day, 7, 7, 0, 70, 1, {limit}, {limit * 30}, 8, NUMERIC '{storage}', "
            "CURRENT_TIMESTAMP(), CURRENT_TIMESTAMP())",
            {"day": day},
        )
    engine.query(f"UPDATE {P} SET status = 'active' WHERE tenant_id = 't4'")


def _assert_carried(row: dict[str, Any]) -> None:
    assert (row["daily_limit"], row["monthly_limit"], row["concurrent_limit"]) == (777, 777 * 30, 8)
    assert float(row["total_storage_used_gb"]) == 12.5 and row["concurrent_pipelines_running"] == 1
    assert row["pipelines_run_today"] == 0 and row["pipelines_run_month"] == 0  # a new day, a new month


def test_reactivated_tenant_carries_its_latest_row_however_old(project: str | None) -> None:
    _suspend_then_resume(build(project, days=2))
    engine = engine_for(project)
    sent = record(engine)
    report = api.reset(_settings(project), engine, run_date=SAME_MONTH)
    assert report.without_history == ["t3"]  # t3 never had a row: registry defaults
    assert report.carried_from_older == ["t4"]
    _assert_carried(rows_on(engine_for(project), SAME_MONTH)["t4"])
    # The older lookup ran once, for the absent tenants only, as its own bounded query; the MERGE's
    # main scan still filters the date column by constants and parameters only.
    lookups = [s for s in sent if "MAX(q.`usage_date`) AS last_date" in s]
    assert len(lookups) == 1
    # MERGE for the tenants with a row in the window, the status that names the others, their
    # older rows, the MERGE that gives them theirs, the dedup.
    assert [s.split()[0] for s in sent] == ["MERGE", "WITH", "SELECT", "MERGE", "MERGE"]
    assert "q.`usage_date` >= DATE_SUB(@run_date, INTERVAL 35 DAY) AND q.`usage_date` < @run_date" in sent[-2]

    again = engine_for(project)
    sent_again = record(again)
    api.reset(_settings(project), again, run_date=SAME_MONTH)  # everyone is current: no older lookup
    assert sent_again and not [s for s in sent_again if "AS last_date" in s]


def test_the_scheduled_query_script_does_the_same(emulator: str, workdir: Path) -> None:
    """The --print-sql script computes the carry inputs itself (DECLARE/IF); bqemulator runs scripts."""
    _suspend_then_resume(build(emulator, days=2))
    # bqemulator binds no query parameter inside a multi-statement script (measured: "Values were
    # not provided for ... run_date"), so @run_date goes in as the literal the scheduler would bind.
    script = (
        run_cli("reset", "--print-sql")
        .stdout.replace("`tenants`.", f"`{emulator}`.`tenants`.")
        .replace("@run_date", f"DATE '{SAME_MONTH.isoformat()}'")
    )
    engine_for(emulator).query(script)
    rows = rows_on(engine_for(emulator), SAME_MONTH)
    assert sorted(rows) == ["t1", "t2", "t3", "t4"]
    _assert_carried(rows["t4"])
    assert rows["t3"]["daily_limit"] == 102  # no row ever: the registry's defaults
    settled = snapshot(engine_for(emulator))
    engine_for(emulator).query(script)
    assert snapshot(engine_for(emulator)) == settled


# ---- reset before apply ----


@pytest.mark.parametrize("missing", ["both", "registry"])
def test_reset_before_apply_says_run_apply(missing: str, project: str | None) -> None:
    target = "bigquery" if project else "local"
    if missing == "registry":
        build(project, days=1)
        engine_for(project).query(f"DROP TABLE {P}")
        before = snapshot(engine_for(project))
    result = run_cli(*target_args(project), "reset", "--date", SAME_MONTH.isoformat())
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr
    if missing == "both":
        assert (
            f"`tenants.tenant_usage_quotas` and `tenants.tenant_profiles` do not exist on target {target}; "
            "run `bqmanage apply` first"
        ) in result.stderr
        if project is None:  # the refusal left no empty warehouse file behind
            from bqmanage.settings import resolve_settings

            assert not resolve_settings().local_path.exists()
        assert engine_for(project).list_datasets() == []  # nothing was created
    else:
        assert f"`tenants.tenant_profiles` does not exist on target {target}; run `bqmanage apply` first" in result.stderr
        assert snapshot(engine_for(project)) == before
    assert "Catalog Error" not in result.stderr and "Binder Error" not in result.stderr


# ---- long lists ----


def test_long_tenant_lists_are_cut_in_text_and_whole_in_json(workdir: Path) -> None:
    assert run_cli("apply").exit_code == 0
    engine = engine_for(None)
    engine.query(
        f"INSERT INTO {P} (tenant_id, status, daily_limit, concurrent_limit) "
        "SELECT CONCAT('t', LPAD(CAST(i AS STRING), 4, '0')), 'active', 100, 3 FROM UNNEST(GENERATE_ARRAY(0, 1799)) AS i"
    )
    text = run_cli("reset", "--date", SAME_MONTH.isoformat(), "--dry-run")
    assert text.exit_code == 0, text.stderr
    line = next(ln for ln in text.stdout.splitlines() if ln.startswith("No earlier row"))
    assert line == (
        "No earlier row, so registry defaults: "
        + ", ".join(f"t{i:04d}" for i in range(20))
        + " and 1,780 more (--format json lists them all)"
    )
    report = json.loads(run_cli("reset", "--date", SAME_MONTH.isoformat(), "--dry-run", "--format", "json").stdout)
    assert len(report["without_history"]) == 1800
