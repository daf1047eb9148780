"""The reset as a BigQuery scheduled query: the configuration bqmanage prints is the one shipped in
deployment/reset/, its query is the real reset script, and it resets the table's own day when the
quota table's time zone is not UTC."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.googlesql import oracle
from tests.helpers import engine_for, run_cli
from tests.tenants.test_reset import SAME_MONTH, build, rows_on

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "deployment" / "reset" / "scheduled_query.json"
# How the shipped file is generated (docs/platform.md says so too).
ARGS = ("--target", "bigquery", "--project", "my-project", "--location", "US", "reset", "--print-transfer-config")
QUOTAS = Path("schemas/tenants/tenant_usage_quotas.yaml")


def _in_zone(zone: str) -> None:
    QUOTAS.write_text(QUOTAS.read_text().replace("time_zone: UTC", f"time_zone: {zone}"))


def _printed(*args: str) -> dict[str, object]:
    result = run_cli(*args)
    assert result.exit_code == 0, result.stderr
    document: dict[str, object] = json.loads(result.stdout)
    return document


def test_the_shipped_scheduled_query_is_what_bqmanage_prints(workdir: Path) -> None:
    printed = _printed(*ARGS)
    assert json.loads(SHIPPED.read_text()) == printed, "regenerate: bqmanage " + " ".join(ARGS)
    assert printed["parent"] == "projects/my-project/locations/us"
    config = printed["transferConfig"]
    assert isinstance(config, dict)
    assert config["dataSourceId"] == "scheduled_query" and config["schedule"] == "every day 00:17"
    query = config["params"]["query"]
    # The real reset script, not a placeholder: what --print-sql prints, the checked-in SQL.
    assert query == run_cli(*ARGS[:-1], "--print-sql").stdout
    assert "MERGE `my-project`.`tenants`.`tenant_usage_quotas` AS target" in query
    oracle().parse(query, script=True)


@pytest.mark.parametrize(
    ("zone", "schedule"),
    [("America/New_York", "every day 05:17"), ("Asia/Kolkata", "every day 18:47"), ("Pacific/Auckland", "every day 12:17")],
)
def test_a_table_in_another_time_zone_resets_its_own_day(zone: str, schedule: str, workdir: Path) -> None:
    """@run_date is the scheduler's UTC date: the script takes the date of @run_time in the zone,
    and runs after local midnight whether or not daylight saving time is in effect."""
    _in_zone(zone)
    config = _printed(*ARGS)["transferConfig"]
    assert isinstance(config, dict)
    assert config["schedule"] == schedule
    query = config["params"]["query"]
    assert query.startswith(f"-- The run date in {zone}")
    assert f'DECLARE bqm_run_date DATE DEFAULT DATE(@run_time, "{zone}");' in query
    assert "@run_date" not in query
    assert "q.`usage_date` >= DATE_SUB(bqm_run_date, INTERVAL 35 DAY) AND q.`usage_date` < bqm_run_date" in query
    oracle().parse(query, script=True)
    assert run_cli(*ARGS[:-1], "--print-sql").stdout == query


@pytest.mark.parametrize("missing", ["--project", "--location"])
def test_a_transfer_config_without_project_or_location_is_refused(missing: str, workdir: Path) -> None:
    args = [a for i, a in enumerate(ARGS) if missing not in (a, ARGS[i - 1] if i else "")]
    result = run_cli(*args)
    assert result.exit_code == 2
    assert "--print-transfer-config: the scheduled query needs" in result.stderr and missing in result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr


@pytest.mark.emulator
def test_the_scheduled_script_in_new_york_resets_new_yorks_date(emulator: str, workdir: Path) -> None:
    """At 03:00 UTC on the 22nd it is still the 21st in New York: the row written is the 21st's."""
    build(emulator, days=2)
    _in_zone("America/New_York")
    query = _printed(*ARGS)["transferConfig"]["params"]["query"]  # type: ignore[index]
    # bqemulator binds no query parameter inside a script: @run_time goes in as the literal the
    # scheduler would bind.
    intended = dt.datetime.combine(SAME_MONTH + dt.timedelta(days=1), dt.time(3), dt.UTC)
    script = query.replace("`my-project`.", f"`{emulator}`.").replace("@run_time", f"TIMESTAMP '{intended.isoformat()}'")
    engine_for(emulator).query(script)
    assert sorted(rows_on(engine_for(emulator), SAME_MONTH)) == ["t1", "t2", "t3"]
    assert rows_on(engine_for(emulator), SAME_MONTH + dt.timedelta(days=1)) == {}
