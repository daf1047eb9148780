"""A partitioned table's backfill above the target's ``backfill_max_bytes_per_job`` runs as one
UPDATE per range of partitions, each recorded in the ledger when done: plan shows the jobs and
their bytes, a run killed with SIGKILL between two jobs resumes at the next one, and no partition
is updated twice.

On the local engine the partitions and their sizes are modelled from the rows (BigQuery's
logical sizes); through the proxy, bqemulator lists the partitions (INFORMATION_SCHEMA.PARTITIONS)
and tests/bqservice.py bills each DML statement for the days it touches, and answers dry runs so.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bqmanage.changes.partitions import UNPARTITIONED
from tests import seed
from tests.faultproxy import Fault, FaultProxy
from tests.helpers import engine_for, run_cli, write

ROOT = Path(__file__).resolve().parents[2]
DAYS = 6
PER_DAY = 5
DAY_BYTES = 3 * 1024**3  # modelled on the proxy: each day's partition

# The old table's rows, PER_DAY on each of DAYS days (GoogleSQL, both engines).
_FILL = f"""
INSERT INTO `tenants`.`tenant_usage_quotas` (usage_id, tenant_id, usage_date, pipelines_run_today,
  pipelines_succeeded_today, pipelines_failed_today, pipelines_run_month, concurrent_pipelines_running,
  daily_limit, last_updated, created_at)
SELECT CONCAT('u', CAST(n AS STRING)), CONCAT('t', CAST(MOD(n, {PER_DAY}) AS STRING)),
  DATE_ADD(DATE '2026-11-01', INTERVAL DIV(n, {PER_DAY}) DAY), 1, 1, 0, 1, 0, 100,
  TIMESTAMP '2026-11-20 12:00:00+00', TIMESTAMP '2026-11-01 00:00:00+00'
FROM UNNEST(GENERATE_ARRAY(0, {DAYS * PER_DAY - 1})) AS n
"""
_NULLS = "SELECT COUNT(*) AS n FROM `tenants`.`tenant_usage_quotas` WHERE quota_exceeded IS NULL OR total_api_calls_today IS NULL"
_ROWS = "SELECT COUNT(*) AS n FROM `tenants`.`tenant_usage_quotas`"

# Kills the CLI with SIGKILL just before it sends the backfill job number KILL_AT: the jobs before
# it are done and recorded, as after a kill -9 between two jobs.
_KILLER = """
import os, signal, sys
import bqmanage.apply as apply
from bqmanage.changes import Backfill

run = apply._execute
seen = []

def execute(engine, step, *args):
    if step.changes and isinstance(step.changes[0], Backfill) and step.changes[0].part is not None:
        seen.append(step)
        if len(seen) == int(os.environ["KILL_AT"]):
            os.kill(os.getpid(), signal.SIGKILL)
    run(engine, step, *args)

apply._execute = execute
from bqmanage.cli import run as cli
sys.argv = ["bqmanage", *sys.argv[1:]]
cli()
"""


@pytest.fixture
def modelled(emulator_url: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """The proxy, billing the quota table by day and answering dry runs with those bytes."""
    proxy = FaultProxy(emulator_url)
    proxy.billing.dry_runs = True
    proxy.billing.partition_bytes["tenants.tenant_usage_quotas"] = {f"2026-11-{d:02d}": DAY_BYTES for d in range(1, DAYS + 1)}
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", proxy.url)
    monkeypatch.setenv("BQMANAGE_RETRY_DEADLINE", "15")
    try:
        yield proxy
    finally:
        proxy.close()


def _old_table_with_rows(project: str | None) -> None:
    engine = engine_for(project)
    try:
        seed.create_old_table(engine)
        engine.query(_FILL)
    finally:
        engine.close()


def _count(project: str | None, sql: str) -> int:
    engine = engine_for(project)
    try:
        return int(engine.query(sql)[0]["n"])
    finally:
        engine.close()


def _config(workdir: Path, project: str | None, bound: int) -> list[str]:
    engine = f"{{engine: bigquery, project: {project}" if project else "{engine: local"
    write(workdir / "bqmanage.yaml", f"targets:\n  t: {engine}, backfill_max_bytes_per_job: {bound}}}\n")
    return ["--target", "t"]


def _jobs(plan: str) -> list[str]:
    """The partitions of each backfill job a plan shows, in order."""
    return re.findall(r"backfill: .*; job \d+ of \d+, (partitions? [^\n]+)", plan)


def _backfills(proxy: FaultProxy) -> list[tuple[str, int]]:
    return [(sql, billed) for sql, billed in proxy.billing.per_job if sql.lstrip().startswith("UPDATE")]


def _days(sql: str) -> set[str]:
    match = re.search(r"`usage_date` >= DATE '([\d-]+)' AND `usage_date` < DATE '([\d-]+)'", sql)
    assert match, sql
    return {f"2026-11-{d:02d}" for d in range(1, DAYS + 1) if match.group(1) <= f"2026-11-{d:02d}" < match.group(2)}


def _kill_at(job: int, args: list[str], workdir: Path) -> int:
    env = {**os.environ, "KILL_AT": str(job), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _KILLER, *args, "apply"], cwd=workdir, env=env, capture_output=True, text=True, timeout=600
    )
    return done.returncode


def test_a_large_partitioned_backfill_runs_partition_by_partition_on_the_local_engine(workdir: Path) -> None:
    _old_table_with_rows(None)
    # Five rows a day are some hundreds of modelled bytes: a bound of 1 byte makes a job per day.
    args = _config(workdir, None, 1)
    plan = run_cli(*args, "plan").stdout
    assert _jobs(plan) == [f"partition 202611{d:02d}" for d in range(1, DAYS + 1)]
    assert len(re.findall(r"estimated bytes billed: [\d,]+ \(size of its partitions\)", plan)) == DAYS
    assert run_cli(*args, "apply").exit_code == 0
    assert _count(None, _NULLS) == 0 and _count(None, _ROWS) == DAYS * PER_DAY
    assert "No changes" in run_cli(*args, "plan").stdout


def test_a_backfill_under_the_bound_stays_one_update(workdir: Path) -> None:
    _old_table_with_rows(None)
    plan = run_cli(*_config(workdir, None, 10**12), "plan").stdout
    assert not _jobs(plan) and plan.count("] backfill: ") == 1


def test_a_killed_partition_backfill_resumes_at_the_next_partition_on_the_local_engine(workdir: Path) -> None:
    _old_table_with_rows(None)
    args = _config(workdir, None, 1)
    assert _kill_at(3, args, workdir) == -signal.SIGKILL
    # Jobs 1 and 2 were done and recorded: the re-run plans the other four, and check says it is owed.
    assert "pending_backfill" in run_cli(*args, "check").stdout
    plan = run_cli(*args, "plan").stdout
    assert "Resuming the unfinished backfill of tenants.tenant_usage_quotas" in plan
    assert _jobs(plan) == [f"partition 202611{d:02d}" for d in range(3, DAYS + 1)]
    assert run_cli(*args, "apply").exit_code == 0
    assert _count(None, _NULLS) == 0 and _count(None, _ROWS) == DAYS * PER_DAY
    assert "No changes" in run_cli(*args, "plan").stdout


def test_jobs_and_bytes_per_job_through_the_modelled_service(modelled: FaultProxy, workdir: Path) -> None:
    project = "backfill-by-partition"
    _old_table_with_rows(project)
    args = _config(workdir, project, 2 * DAY_BYTES)  # two days per job
    plan = run_cli(*args, "plan").stdout
    assert _jobs(plan) == [f"partitions 202611{d:02d}..202611{d + 1:02d} (2)" for d in (1, 3, 5)]
    assert plan.count(f"estimated bytes billed: {2 * DAY_BYTES:,} (size of its partitions)") == 3
    modelled.billing.per_job.clear()
    assert run_cli(*args, "apply").exit_code == 0
    jobs = _backfills(modelled)
    assert [billed for _, billed in jobs] == [2 * DAY_BYTES] * 3
    assert _count(project, _NULLS) == 0 and _count(project, _ROWS) == DAYS * PER_DAY


def test_a_backfill_under_the_bound_reads_no_partitions(modelled: FaultProxy, workdir: Path) -> None:
    project = "backfill-whole"
    _old_table_with_rows(project)
    modelled.reset()
    assert run_cli(*_config(workdir, project, 100 * DAY_BYTES), "apply").exit_code == 0
    assert [billed for _, billed in _backfills(modelled)] == [DAYS * DAY_BYTES]
    assert not [b for _, _, b in modelled.bodies if b"INFORMATION_SCHEMA.PARTITIONS" in b]


def test_a_killed_backfill_through_the_modelled_service_updates_no_partition_twice(modelled: FaultProxy, workdir: Path) -> None:
    project = "backfill-killed"
    _old_table_with_rows(project)
    args = _config(workdir, project, DAY_BYTES)
    modelled.billing.per_job.clear()
    assert _kill_at(4, args, workdir) == -signal.SIGKILL
    first = [_days(sql) for sql, _ in _backfills(modelled)]
    assert first == [{"2026-11-01"}, {"2026-11-02"}, {"2026-11-03"}]
    modelled.billing.per_job.clear()
    assert run_cli(*args, "apply").exit_code == 0
    second = [_days(sql) for sql, _ in _backfills(modelled)]
    assert second == [{"2026-11-04"}, {"2026-11-05"}, {"2026-11-06"}]
    assert _count(project, _NULLS) == 0 and _count(project, _ROWS) == DAYS * PER_DAY


def test_the_cap_holds_each_job_not_the_sum(modelled: FaultProxy, workdir: Path) -> None:
    """maximum_bytes_billed is a job's setting: a backfill cut into jobs under it runs, though
    all its jobs together bill more."""
    project = "backfill-capped"
    _old_table_with_rows(project)
    write(
        workdir / "bqmanage.yaml",
        f"targets:\n  t: {{engine: bigquery, project: {project}, backfill_max_bytes_per_job: {DAY_BYTES}, "
        f"maximum_bytes_billed: {2 * DAY_BYTES}}}\n",
    )
    result = run_cli("--target", "t", "apply")
    assert result.exit_code == 0, result.stderr
    assert len(_backfills(modelled)) == DAYS


@pytest.mark.parametrize("value", ["0", "-5", "lots"])
def test_a_bad_backfill_bound_is_refused_where_it_is_written(value: str, workdir: Path) -> None:
    write(workdir / "bqmanage.yaml", f"targets:\n  t: {{engine: local, backfill_max_bytes_per_job: {value}}}\n")
    result = run_cli("--target", "t", "plan")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert "bqmanage.yaml" in result.stderr and "targets.t.backfill_max_bytes_per_job" in result.stderr
    assert not (workdir / ".bqmanage").exists()


def _with_unpartitioned(method: str, path: str, data: bytes) -> bytes:
    """BigQuery lists rows outside the dated partitions (out of range, or still in the streaming
    buffer) as __UNPARTITIONED__; bqemulator never does: add it to the PARTITIONS answer."""
    if method != "GET" or b'"partition_id"' not in data or b'"rows"' not in data:
        return data
    answer = json.loads(data)
    answer["rows"].append({"f": [{"v": UNPARTITIONED}, {"v": "1"}, {"v": "0"}]})
    answer["totalRows"] = str(len(answer["rows"]))
    return json.dumps(answer).encode()


_BUFFER = (
    400,
    "invalidQuery",
    "UPDATE or DELETE statement over table p.tenants.tenant_usage_quotas would affect rows in the streaming buffer, "
    "which is not supported",
)


def test_the_rows_outside_the_partitions_go_last_and_alone_stay_owed(modelled: FaultProxy, workdir: Path) -> None:
    project = "backfill-buffer"
    _old_table_with_rows(project)
    args = _config(workdir, project, 2 * DAY_BYTES)
    modelled.edit_answer = _with_unpartitioned
    plan = run_cli(*args, "plan").stdout
    assert _jobs(plan)[-1] == f"partition {UNPARTITIONED}"
    assert "AND (`usage_date` < DATE '2026-11-01' OR `usage_date` >= DATE '2026-11-07');" in plan
    # BigQuery refuses the last job while its rows sit in the streaming buffer.
    only_last = re.compile(r'^(?!.*"dryRun": true).*"query": "UPDATE (?:[^"\\]|\\.)*\(`usage_date` < DATE', re.S)
    modelled.faults.append(Fault("POST", re.compile(r"/jobs(\?|$)"), 1, _BUFFER, body=only_last))
    modelled.billing.per_job.clear()
    result = run_cli(*args, "apply")
    assert result.exit_code == 3 and modelled.injected == 1 and "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        line for line in result.stderr.splitlines() if not line.startswith("[")
    ]
    assert "rows in the streaming buffer; re-run in up to 90 minutes" in result.stderr
    assert len(_backfills(modelled)) == 3  # the three dated jobs ran (the refused one never billed)
    # Owed: only the last job is planned again, and it runs once the buffer has drained.
    assert _jobs(run_cli(*args, "plan").stdout) == [f"partition {UNPARTITIONED}"]
    assert run_cli(*args, "apply").exit_code == 0
    assert _count(project, _NULLS) == 0
