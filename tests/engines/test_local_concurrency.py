"""Two bqmanage processes on the same local DuckDB file. DuckDB allows one writing
process or many reading ones, so read-only commands open the file read-only and never create it,
and every command waits (boundedly, saying so) for the lock instead of failing at once."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import duckdb
import pytest

from tests.helpers import engine_for, run_cli
from tests.runtime import run, start

DB = Path(".bqmanage/local.duckdb")
TENANTS = ("t1", "t2", "t3")


def _registry() -> None:
    assert run_cli("apply").exit_code == 0
    engine = engine_for(None)
    engine.query(
        "INSERT INTO `tenants`.`tenant_profiles` (tenant_id, status, daily_limit, monthly_limit, concurrent_limit) "
        "VALUES ('t1', 'active', 10, 100, 1), ('t2', 'active', 20, 200, 2), ('t3', 'active', 30, 300, 3)"
    )
    engine.close()


def test_four_parallel_resets_all_succeed_with_one_row_per_tenant_and_date(workdir: Path) -> None:
    _registry()
    procs = [start("reset", "--date", "2026-11-21", cwd=workdir) for _ in range(4)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    for code, _, err in results:
        assert code == 0, err
        assert "Traceback" not in err
    rows = engine_for(None).query("SELECT tenant_id, usage_date FROM `tenants`.`tenant_usage_quotas`")
    assert sorted(r["tenant_id"] for r in rows) == list(TENANTS)  # one row per tenant and date


def test_two_parallel_applies_both_succeed(workdir: Path) -> None:
    procs = [start("apply", cwd=workdir) for _ in range(2)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert [code for code, _, _ in results] == [0, 0], [err for _, _, err in results]
    assert run_cli("plan").exit_code == 0


def _hold_write_lock(seconds: float) -> threading.Thread:
    """Another process's view of the file: this test process holds the write lock for a while."""
    con = duckdb.connect(str(DB))
    timer = threading.Timer(seconds, con.close)
    timer.start()
    return timer


@pytest.mark.parametrize("command, expected", [("check", 0), ("plan", 0), ("apply", 0), ("inspect", 0)])
def test_commands_wait_for_the_lock_and_say_so(command: str, expected: int, workdir: Path) -> None:
    assert run_cli("apply").exit_code == 0
    # The lock is held until the command says it waits (a fixed hold could end before a slow
    # start-up on a loaded machine reaches the file), then released.
    con = duckdb.connect(str(DB))
    proc = start(command, cwd=workdir)
    assert proc.stderr is not None
    first = proc.stderr.readline()
    con.close()
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == expected, first + err
    assert first.startswith(f"{DB}: waiting for another bqmanage using it")
    assert "Traceback" not in first + err


def test_check_while_apply_runs_waits_then_reports(workdir: Path) -> None:
    apply = start("apply", cwd=workdir)
    check = start("check", "--format", "json", cwd=workdir)
    assert apply.wait(timeout=120) == 0, apply.communicate()[1]
    out, err = check.communicate(timeout=120)
    # Whichever got the file first, check saw a consistent warehouse: all of it or none of it.
    assert check.returncode in (0, 1), err
    findings = json.loads(out)["findings"]
    # None of it: the datasets, tables and the isolated table's row access policies are missing.
    missing = {"missing_dataset", "missing_table", "row_access_policy_missing"}
    assert check.returncode == 0 or {f["kind"] for f in findings} <= missing


def test_lock_held_past_the_timeout_is_exit_3_naming_the_file(workdir: Path) -> None:
    assert run_cli("apply").exit_code == 0
    holder = _hold_write_lock(8)
    result = run("apply", cwd=workdir, BQMANAGE_LOCK_TIMEOUT="1")
    holder.join(30)
    assert not holder.is_alive()
    assert result.returncode == 3, result.stderr
    assert f"error: {DB}: " in result.stderr and "BQMANAGE_LOCK_TIMEOUT" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command, expected", [("check", 1), ("plan", 1), ("inspect", 0)])
def test_read_only_commands_on_a_missing_warehouse_create_nothing(command: str, expected: int, workdir: Path) -> None:
    result = run_cli(command)
    assert result.exit_code == expected, result.stderr
    assert not Path(".bqmanage").exists()
    if command == "check":
        assert "missing_dataset" in result.stdout


def test_apply_dry_run_creates_nothing(workdir: Path) -> None:
    result = run_cli("apply", "--dry-run")
    assert result.exit_code == 0 and "CREATE SCHEMA" in result.stdout
    assert not Path(".bqmanage").exists()
