"""Kill `bqmanage apply` mid-migration, on the DuckDB the default install gets.

DuckDB 1.5 could leave a WAL that it can never replay ("Failure while replaying WAL file") when a
process died after an ALTER or a column comment on a table with a CURRENT_TIMESTAMP() default:
exactly what the seed migration does. bqmanage requires DuckDB 2. This test runs the real CLI as a
subprocess on the seed's old 13-column table holding a few hundred thousand rows, kills it with
SIGKILL, SIGTERM or SIGINT while a chosen step runs, then proves that the warehouse still opens,
that every row and every old value is still there, and that a re-run finishes the migration,
backfill included.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests import seed
from tests.helpers import engine_for

ROWS = 300_000
ROOT = Path(__file__).resolve().parents[2]
DB = Path(".bqmanage/local.duckdb")

# The old table's rows, generated in the warehouse itself (one INSERT ... SELECT, GoogleSQL).
_FILL = f"""
INSERT INTO `tenants`.`tenant_usage_quotas` (usage_id, tenant_id, usage_date, pipelines_run_today,
  pipelines_succeeded_today, pipelines_failed_today, pipelines_run_month, concurrent_pipelines_running,
  daily_limit, monthly_limit, concurrent_limit, last_updated, created_at)
SELECT CONCAT('u', CAST(n AS STRING)), CONCAT('t', CAST(MOD(n, 997) AS STRING)),
  DATE_SUB(DATE '2026-11-20', INTERVAL MOD(n, 300) DAY),
  MOD(n, 101), MOD(n, 53), MOD(n, 7), MOD(n, 1009), MOD(n, 3), 100 + MOD(n, 11),
  IF(MOD(n, 5) = 0, NULL, 3000 + n), IF(MOD(n, 4) = 0, NULL, 5),
  TIMESTAMP '2026-11-20 12:00:00+00', TIMESTAMP '2026-11-01 00:00:00+00'
FROM UNNEST(GENERATE_ARRAY(1, {ROWS})) AS n
"""

# Every old value, summed per column: a lost or altered row changes one of these.
_OLD_FINGERPRINT = """
SELECT COUNT(*) AS n, COUNT(DISTINCT usage_id) AS ids, SUM(pipelines_run_today) AS run,
  SUM(pipelines_succeeded_today) AS ok, SUM(pipelines_failed_today) AS failed,
  SUM(pipelines_run_month) AS month, SUM(concurrent_pipelines_running) AS running,
  SUM(daily_limit) AS daily, SUM(monthly_limit) AS monthly, COUNT(monthly_limit) AS monthly_set,
  SUM(concurrent_limit) AS conc, COUNT(concurrent_limit) AS conc_set,
  COUNT(DISTINCT tenant_id) AS tenants, MIN(usage_date) AS first_day, MAX(usage_date) AS last_day,
  COUNTIF(last_updated = TIMESTAMP '2026-11-20 12:00:00+00') AS updated_kept,
  COUNTIF(created_at = TIMESTAMP '2026-11-01 00:00:00+00') AS created_kept
FROM `tenants`.`tenant_usage_quotas`
"""

# After the migration, every new counter of every existing row holds its default (the backfill).
_BACKFILLED = """
SELECT COUNTIF(pipelines_cancelled_today = 0 AND max_concurrent_reached = 0 AND quota_exceeded = FALSE
  AND quota_warning_sent = FALSE AND total_api_calls_today = 0 AND total_storage_used_gb = 0) AS done
FROM `tenants`.`tenant_usage_quotas`
"""


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "bqmanage", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}


def _query(sql: str) -> dict[str, Any]:
    engine = engine_for(None)
    try:
        return engine.query(sql)[0]
    finally:
        engine.close()


def _kill_during(step_word: str, sig: signal.Signals) -> str:
    """Start `bqmanage apply`, send ``sig`` once a progress line naming ``step_word`` appears."""
    proc = subprocess.Popen(_cli("apply"), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    seen = []
    deadline = time.monotonic() + 120
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("[") and step_word in line:
            proc.send_signal(sig)
            break
        assert time.monotonic() < deadline, "apply never reached the step"
    else:
        pytest.fail(f"apply finished before a step with {step_word!r} started: {''.join(seen)}")
    out, err = proc.communicate(timeout=120)
    stderr = "".join(seen) + err
    assert "Traceback" not in stderr and "Traceback" not in out
    if sig != signal.SIGKILL:
        # A clean stop: one message, the interrupt exit code, never a C++ stack.
        assert proc.returncode != 0, stderr
    return stderr


@pytest.fixture(scope="module")
def seeded_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The old table with ROWS rows, built once; each case starts from a copy of the file."""
    base = tmp_path_factory.mktemp("interrupt-seed")
    cwd = Path.cwd()
    os.chdir(base)
    try:
        shutil.copytree(ROOT / "schemas", base / "schemas")
        engine = engine_for(None)
        seed.create_old_table(engine)
        engine.query(_FILL)
        engine.close()
        before = _query(_OLD_FINGERPRINT)
    finally:
        os.chdir(cwd)
    assert before["n"] == ROWS
    return base, before


# Kill points: while the ALTERs run on the CURRENT_TIMESTAMP() table (the DuckDB 1.5 WAL bug), while
# the defaults are set, and in the middle of the backfill UPDATE of every row.
CASES = [
    ("add_column", signal.SIGKILL),
    ("patch_columns", signal.SIGKILL),
    ("patch_columns", signal.SIGTERM),
    ("backfill", signal.SIGKILL),
    ("backfill", signal.SIGINT),
    ("backfill", signal.SIGTERM),
]


@pytest.mark.parametrize(("step_word", "sig"), CASES, ids=[f"{w}-{s.name}" for w, s in CASES])
def test_killed_apply_loses_nothing_and_resumes(
    step_word: str, sig: signal.Signals, workdir: Path, seeded_warehouse: tuple[Path, dict[str, Any]]
) -> None:
    base, before = seeded_warehouse
    DB.parent.mkdir(exist_ok=True)
    shutil.copy(base / DB, DB)

    _kill_during(step_word, sig)

    # The warehouse opens (a WAL that cannot be replayed would fail here) and holds every old value.
    assert _query(_OLD_FINGERPRINT) == before
    rerun = subprocess.run(_cli("apply"), env=_env(), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "Traceback" not in rerun.stderr
    assert _query(_OLD_FINGERPRINT) == before
    assert _query(_BACKFILLED)["done"] == ROWS
    # Nothing is left to do: the check is clean and a third apply issues nothing.
    check = subprocess.run(_cli("check"), env=_env(), capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr
    again = subprocess.run(_cli("apply"), env=_env(), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "Nothing to do" in again.stdout


def _ledger_rows() -> int:
    return int(_query("SELECT COUNT(*) AS n FROM `tenants`.`_bqmanage_migrations`")["n"])


def test_check_reports_the_backfill_a_killed_apply_still_owes(
    workdir: Path, seeded_warehouse: tuple[Path, dict[str, Any]]
) -> None:
    """The columns and their defaults are live, so the schema matches; the rows still read NULL.
    check says so, located at the table's definition, as plan resumes it; and writes nothing."""
    base, before = seeded_warehouse
    DB.parent.mkdir(exist_ok=True)
    shutil.copy(base / DB, DB)
    _kill_during("backfill", signal.SIGKILL)
    rows = _ledger_rows()

    check = subprocess.run(_cli("check", "--format", "json"), env=_env(), capture_output=True, text=True, timeout=300)
    assert check.returncode == 1, check.stdout + check.stderr
    assert "Traceback" not in check.stderr
    (owed,) = [f for f in json.loads(check.stdout)["findings"] if f["kind"] == "pending_backfill"]
    assert (owed["severity"], owed["dataset"], owed["table"]) == ("error", "tenants", "tenant_usage_quotas")
    assert owed["definition"] == "schemas/tenants/tenant_usage_quotas.yaml" and owed["definition_line"] >= 1
    text = subprocess.run(_cli("check"), env=_env(), capture_output=True, text=True, timeout=300)
    assert text.returncode == 1 and "tenants.tenant_usage_quotas: an apply that stopped" in text.stdout
    assert _query(_OLD_FINGERPRINT) == before and _ledger_rows() == rows  # read-only
    assert (_query(_BACKFILLED)["done"] or 0) < ROWS  # the rows still read NULL

    assert subprocess.run(_cli("apply"), env=_env(), capture_output=True, text=True, timeout=300).returncode == 0
    after = subprocess.run(_cli("check", "--format", "json"), env=_env(), capture_output=True, text=True, timeout=300)
    assert after.returncode == 0, after.stdout


def test_a_dataset_finished_before_the_kill_is_recorded_as_finished(
    workdir: Path, seeded_warehouse: tuple[Path, dict[str, Any]]
) -> None:
    """A run over two datasets, killed in the second: the first one's ledger says it succeeded,
    with its own step count, then and after the re-run; no ledger claims a run still going."""
    base, _before = seeded_warehouse
    DB.parent.mkdir(exist_ok=True)
    shutil.copy(base / DB, DB)
    (workdir / "schemas" / "audit_log").mkdir()
    (workdir / "schemas" / "audit_log" / "events.yaml").write_text("table: events\ncolumns:\n  - {name: id, type: STRING}\n")
    _kill_during("backfill", signal.SIGKILL)  # the backfill of tenants runs after audit_log's table
    killed = subprocess.run(_cli("plan"), env=_env(), capture_output=True, text=True, timeout=300)
    assert "Last apply on audit_log:" in killed.stdout
    assert "succeeded (2/2 steps)" in killed.stdout.split("Last apply on audit_log:")[1].splitlines()[0]
    # tenants: the truth. The local warehouse admits one writer, and plan holds it: no apply runs,
    # so the start without an end is a killed run, and its progress is unknown, not "0 done".
    tenants = killed.stdout.split("Last apply on tenants:")[1].splitlines()[0]
    assert "interrupted: started, killed before it recorded its end" in tenants, killed.stdout
    assert "how many ran is not recorded" in tenants and "running" not in killed.stdout
    as_json = subprocess.run(_cli("plan", "--format", "json"), env=_env(), capture_output=True, text=True, timeout=300)
    assert {e["dataset"]: e["outcome"] for e in json.loads(as_json.stdout)["ledger"]}["tenants"] == "interrupted"

    assert subprocess.run(_cli("apply"), env=_env(), capture_output=True, text=True, timeout=300).returncode == 0
    plan = subprocess.run(_cli("plan"), env=_env(), capture_output=True, text=True, timeout=300)
    ledger = [line for line in plan.stdout.splitlines() if line.startswith("Last apply on")]
    assert len(ledger) == 2 and all("succeeded" in line for line in ledger), plan.stdout
    assert "running" not in plan.stdout
