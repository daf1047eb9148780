"""The local engine backfills in committed rowid chunks, under a memory limit.

The chunk size is made small here so that a few thousand rows span several chunks; the 5-million-row
measurement is bench/backfill_memory.py. A stop between two chunks is injected by the DuckDB
connection itself (the statement after the second chunk raises KeyboardInterrupt, as Ctrl-C does).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bqmanage import api
from bqmanage.engines import local
from bqmanage.settings import resolve_settings
from tests import seed
from tests.helpers import engine_for

ROWS = 5_000
CHUNK = 1_000

_FILL = f"""
INSERT INTO `tenants`.`tenant_usage_quotas` (usage_id, tenant_id, usage_date, pipelines_run_today,
  pipelines_succeeded_today, pipelines_failed_today, pipelines_run_month, concurrent_pipelines_running,
  daily_limit, monthly_limit, concurrent_limit, last_updated, created_at)
SELECT CONCAT('u', CAST(n AS STRING)), CONCAT('t', CAST(MOD(n, 97) AS STRING)), DATE '2026-11-20',
  MOD(n, 101), MOD(n, 53), MOD(n, 7), MOD(n, 1009), MOD(n, 3), 100, IF(MOD(n, 5) = 0, NULL, 3000 + n), 5,
  TIMESTAMP '2026-11-20 12:00:00+00', TIMESTAMP '2026-11-01 00:00:00+00'
FROM UNNEST(GENERATE_ARRAY(1, {ROWS})) AS n
"""
_OLD = "SELECT COUNT(*) AS n, SUM(pipelines_run_today) AS run, SUM(monthly_limit) AS monthly FROM `tenants`.`tenant_usage_quotas`"
_DONE = (
    "SELECT COUNTIF(pipelines_cancelled_today = 0 AND max_concurrent_reached = 0 AND quota_exceeded = FALSE "
    "AND quota_warning_sent = FALSE AND total_api_calls_today = 0 AND total_storage_used_gb = 0) AS done, "
    "COUNTIF(pipelines_cancelled_today IS NULL) AS pending FROM `tenants`.`tenant_usage_quotas`"
)


class _StopAfter:
    """A DuckDB connection that raises KeyboardInterrupt instead of running the chunk after ``chunks``."""

    def __init__(self, con: Any, chunks: int) -> None:
        self._con, self.left = con, chunks

    def execute(self, sql: str, *args: Any) -> Any:
        if "rowid >= $lo" in sql:
            if self.left == 0:
                raise KeyboardInterrupt
            self.left -= 1
        return self._con.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


@pytest.fixture
def old_table(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setattr(local, "BACKFILL_ROWS", CHUNK)
    engine = engine_for(None)
    seed.create_old_table(engine)
    engine.query(_FILL)
    before = engine.query(_OLD)[0]
    engine.close()
    assert before["n"] == ROWS
    return before


def test_a_chunked_backfill_sets_every_row_and_keeps_the_old_values(old_table: dict[str, Any]) -> None:
    engine = engine_for(None)
    assert isinstance(engine, local.LocalEngine)
    assert engine.con.execute("SELECT current_setting('memory_limit')").fetchone() == ("244.1 MiB",)  # 256MB
    outcome = api.apply(resolve_settings(), engine)
    assert outcome.result is not None and "backfill" in [s.kind for s in outcome.result.executed]
    assert engine.query(_OLD)[0] == old_table
    assert engine.query(_DONE)[0] == {"done": ROWS, "pending": 0}
    assert api.check(resolve_settings(), engine).clean


def test_a_stop_between_chunks_keeps_what_was_committed_and_the_rerun_finishes(old_table: dict[str, Any]) -> None:
    engine = engine_for(None)
    assert isinstance(engine, local.LocalEngine)
    engine.con = _StopAfter(engine.con, chunks=2)  # type: ignore[assignment]
    with pytest.raises(KeyboardInterrupt):
        api.apply(resolve_settings(), engine)
    engine.close()
    engine = engine_for(None)
    # Two chunks committed, the third rolled back; nothing else changed.
    assert engine.query(_DONE)[0] == {"done": 2 * CHUNK, "pending": ROWS - 2 * CHUNK}
    assert engine.query(_OLD)[0] == old_table
    planned = api.make_plan(resolve_settings(), engine)
    assert planned.resumed == ["tenants.tenant_usage_quotas"]
    assert [s.kind for s in planned.plan.steps] == ["backfill"]
    # apply reads only the unfinished ledger entries (no history to show): this one is among them.
    assert api.apply(resolve_settings(), engine).planned.resumed == ["tenants.tenant_usage_quotas"]
    assert engine.query(_DONE)[0] == {"done": ROWS, "pending": 0}
    assert engine.query(_OLD)[0] == old_table
