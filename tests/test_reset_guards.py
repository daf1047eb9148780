"""Issue 8: the reset against bad registries, bad dates, reactivated tenants, an unprepared
warehouse and long reports. Each on the local engine and, where it applies, on bqemulator."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.helpers import engine_for, run_cli, target_args
from tests.test_reset import SAME_MONTH, Q, _in_place, build, snapshot

P = "`tenants`.`tenant_profiles`"


@pytest.fixture(params=["local", "emulator"])
def project(request: pytest.FixtureRequest, workdir: Path) -> str | None:
    return None if request.param == "local" else str(request.getfixturevalue("emulator"))


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
