"""Issue 8: the reset against bad registries, bad dates, reactivated tenants, an unprepared
warehouse and long reports. Each on the local engine and, where it applies, on bqemulator."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from bqmanage import api
from tests.helpers import engine_for, run_cli, target_args
from tests.test_reset import SAME_MONTH, Q, _in_place, _settings, build, rows_on, snapshot

P = "`tenants`.`tenant_profiles`"


@pytest.fixture(params=["local", "emulator"])
def project(request: pytest.FixtureRequest, workdir: Path) -> str | None:
    return None if request.param == "local" else str(request.getfixturevalue("emulator"))


# ---- duplicates in the registry ----


def test_registry_duplicates_reset_each_tenant_once_then_exit_2(project: str | None) -> None:
    engine = build(project, days=2)
    # t1 listed twice with the same limits, t2 twice with different ones.
    engine.query(f"INSERT INTO {P} (tenant_id, status, daily_limit, monthly_limit, concurrent_limit) "
                 "VALUES ('t1', 'active', 100, 3000, 4), ('t2', 'active', 999, 9999, 9)")
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
    copy = ("'t1-20261121', 't1', DATE '2026-11-21', 5, 4, 1, 0, 9, 0, 2, 42, 902, 3, FALSE, FALSE, NULL, 10, 1.25, "
            "TIMESTAMP '2026-11-21 01:00:00+00', NULL, NULL, TIMESTAMP '2026-11-21 01:00:00+00'")
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
        assert (f"`tenants.tenant_usage_quotas` and `tenants.tenant_profiles` do not exist on target {target}; "
                "run `bqmanage apply` first") in result.stderr
        assert engine_for(project).list_datasets() == []  # nothing was created
    else:
        assert f"`tenants.tenant_profiles` does not exist on target {target}; run `bqmanage apply` first" in result.stderr
        assert snapshot(engine_for(project)) == before
    assert "Catalog Error" not in result.stderr and "Binder Error" not in result.stderr
