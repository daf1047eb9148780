"""An apply interrupted after each step in turn resumes on re-run with nothing lost or
duplicated; rate-limit and concurrent-update errors are retried; a rebuild is refused before anything runs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bqmanage import api
from bqmanage.errors import ApplyError, WarehouseError
from bqmanage.ledger import LEDGER
from bqmanage.plan import Step
from bqmanage.settings import resolve_settings
from tests import seed
from tests.faultproxy import CONCURRENT, RATE_LIMIT, Fault, FaultProxy
from tests.helpers import engine_for, run_cli, target_args, write


class Stop(Exception):
    """An abrupt stop (a killed process): no failure is recorded anywhere."""


def _steps_of_seed_apply() -> int:
    engine = engine_for(None)
    planned = api.make_plan(resolve_settings(), engine)
    return len(planned.plan.steps)


def _assert_seed_end_state(project: str | None = None) -> None:
    engine = engine_for(project)
    rows = seed.read_rows(engine)
    assert len(rows) == len(seed.OLD_ROWS)  # nothing lost, nothing duplicated
    for old, new in zip(sorted(seed.OLD_ROWS, key=lambda r: r["usage_id"]), rows, strict=False):
        assert {k: new[k] for k in old} == old
        assert {k: new[k] for k in seed.NEW_COUNTERS} == seed.NEW_COUNTERS
    assert api.make_plan(resolve_settings(target="bigquery" if project else "local", project=project), engine).plan.steps == ()


@pytest.mark.parametrize("how", ["engine_error", "abrupt_stop"])
def test_interrupted_after_each_step_then_resumed(how: str, workdir: Path) -> None:
    seed.create_old_table(engine_for(None))
    seed.insert_old_rows(engine_for(None))
    total = _steps_of_seed_apply()
    # tenant_members, tenant_profiles, one multi-action ALTER (9 ADD COLUMNs), one tables.patch (7 defaults),
    # the two row access policies the old table lacks, 1 backfill
    assert total == 7
    snapshot = Path(".bqmanage/local.duckdb").read_bytes()
    for stop_at in range(total):
        Path(".bqmanage/local.duckdb").write_bytes(snapshot)
        engine = engine_for(None)
        inner = engine.execute
        calls = {"n": 0}

        def flaky(step: Step, inner: Any = inner, calls: dict[str, int] = calls, stop_at: int = stop_at) -> None:
            if step.table != LEDGER:
                if calls["n"] == stop_at:
                    if how == "engine_error":
                        raise WarehouseError("injected failure")
                    raise Stop()
                calls["n"] += 1
            inner(step)

        engine.execute = flaky  # type: ignore[method-assign]
        with pytest.raises(ApplyError if how == "engine_error" else Stop):
            api.apply(resolve_settings(), engine)
        engine.close()
        resumed = run_cli("apply")
        assert resumed.exit_code == 0, f"stop at {stop_at}: {resumed.stderr}"
        _assert_seed_end_state()


def test_failure_report_names_what_ran_and_what_did_not(workdir: Path) -> None:
    seed.create_old_table(engine_for(None))
    engine = engine_for(None)
    inner = engine.execute

    def flaky(step: Step) -> None:
        if step.kind == "backfill":
            raise WarehouseError("injected failure")
        inner(step)

    engine.execute = flaky  # type: ignore[method-assign]
    with pytest.raises(ApplyError) as info:
        api.apply(resolve_settings(), engine)
    text = str(info.value)
    assert "(backfill) failed: injected failure" in text
    assert "done     add_column tenants.tenant_usage_quotas" in text
    assert "not run  backfill tenants.tenant_usage_quotas" in text
    assert info.value.exit_code == 3
    plan = run_cli("plan")
    assert "failed" in plan.stdout and "Resuming the unfinished backfill of tenants.tenant_usage_quotas" in plan.stdout


def test_partitioning_change_is_refused_and_nothing_runs(workdir: Path) -> None:
    engine = engine_for(None)
    seed.create_old_table(engine)
    seed.insert_old_rows(engine)
    before = seed.read_rows(engine)
    path = Path("schemas/tenants/tenant_usage_quotas.yaml")
    path.write_text(
        path.read_text().replace("partitioning: {column: usage_date}", "partitioning: {column: usage_date, granularity: MONTH}")
    )
    engine = engine_for(None)
    result = run_cli("apply")
    assert result.exit_code == 2
    assert "BQM104 tenants.tenant_usage_quotas: partitioning usage_date by DAY -> usage_date by MONTH" in result.stderr
    assert "manual path:" in result.stderr and "Traceback" not in result.stderr
    fresh = engine_for(None)
    assert seed.read_rows(fresh) == before
    assert fresh.get_table("tenants", "tenant_profiles") is None  # not even the safe parts ran
    assert LEDGER not in fresh.list_tables("tenants")


def test_refused_required_column(workdir: Path) -> None:
    run_cli("apply")
    path = Path("schemas/tenants/tenant_profiles.yaml")
    write(path, path.read_text() + "  - {name: region, type: STRING, mode: REQUIRED}\n")
    result = run_cli("apply")
    assert result.exit_code == 2
    assert "BQM101" in result.stderr and "cannot add a REQUIRED column" in result.stderr


@pytest.mark.parametrize("error", [RATE_LIMIT, CONCURRENT], ids=["rateLimitExceeded", "concurrent_update"])
def test_transient_errors_are_retried_then_succeed(
    error: tuple[int, str, str], emulator_url: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = FaultProxy(emulator_url)
    try:
        monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", proxy.url)
        monkeypatch.setenv("BQMANAGE_RETRY_DEADLINE", "30")
        project = "retry-project-" + error[1].lower()[:8]
        # The first two ALTERs sent get the fault; the client must retry them.
        proxy.faults.append(Fault("POST", re.compile(r"/(jobs|queries)(\?|$)"), 2, error, body=re.compile("ALTER TABLE")))
        engine = engine_for(project)
        seed.create_old_table(engine)
        engine.sleep = lambda seconds: None  # type: ignore[attr-defined]  # keep the backoff, skip the wait
        outcome = api.apply(resolve_settings(target="bigquery", project=project), engine)
        assert proxy.injected == 2
        assert outcome.result is not None and outcome.result.executed
        assert run_cli(*target_args(project), "plan").exit_code == 0
    finally:
        proxy.close()


def test_non_retryable_error_fails_fast_with_exit_3(emulator_url: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = FaultProxy(emulator_url)
    try:
        monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", proxy.url)
        proxy.faults.append(
            Fault(
                "POST",
                re.compile(r"/(jobs|queries)(\?|$)"),
                1,
                (403, "accessDenied", "Access Denied: Project p: User does not have bigquery.jobs.create permission"),
                body=re.compile("CREATE SCHEMA"),
            )
        )
        result = run_cli("--target", "bigquery", "--project", "denied-project", "apply")
        assert result.exit_code == 3
        assert "Access Denied" in result.stderr and "Traceback" not in result.stderr
        assert proxy.injected == 1
    finally:
        proxy.close()
