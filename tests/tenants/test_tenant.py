"""`bqmanage tenant add|list|suspend|resume|set-limits`, on the local
engine and on bqemulator: idempotent onboarding shown by the statements sent, concurrent adds of
one id, suspend and resume against the reset, and hostile ids that leave nothing written."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from bqmanage import api
from bqmanage.engines import Engine
from bqmanage.errors import UsageError
from bqmanage.settings import Settings, resolve_settings
from bqmanage.tenants.scope import Limits
from tests.helpers import engine_for, record, run_cli, target_args

REGISTRY = "`tenants`.`tenant_profiles`"
QUOTAS = "`tenants`.`tenant_usage_quotas`"
# Statements that change data or the catalog; a repeated add may send none of them.
WRITES = re.compile(r"^\s*(MERGE|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|TRUNCATE)\b|tables\.(insert|patch)", re.I)


def _settings(project: str | None) -> Settings:
    return resolve_settings(target="bigquery" if project else "local", project=project)


def _applied(project: str | None) -> Engine:
    assert run_cli(*target_args(project), "apply").exit_code == 0
    return engine_for(project)


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()  # the quota table's time zone is UTC


def registry_rows(engine: Engine, tenant: str) -> list[dict[str, Any]]:
    return engine.query(f"SELECT * FROM {REGISTRY} WHERE tenant_id = @t", {"t": tenant})


def quota_rows(engine: Engine, tenant: str) -> list[dict[str, Any]]:
    return engine.query(f"SELECT * FROM {QUOTAS} WHERE tenant_id = @t ORDER BY usage_date", {"t": tenant})


def warehouse(engine: Engine) -> tuple[list[str], list[tuple[str, ...]], list[tuple[str, ...]]]:
    """The datasets and the content of both tables: what "nothing written" compares."""

    def rows(table: str) -> list[tuple[str, ...]]:
        return sorted(tuple(str(r[k]) for k in sorted(r)) for r in engine.query(f"SELECT * FROM {table}"))

    return sorted(engine.list_datasets()), rows(REGISTRY), rows(QUOTAS)


def test_add_creates_the_registry_row_and_todays_row_and_again_changes_nothing(project: str | None) -> None:
    engine = _applied(project)
    added = run_cli(*target_args(project), "tenant", "add", "acme", "--name", "Acme Corp", "--daily-limit", "200")
    assert added.exit_code == 0, added.stderr
    assert added.stdout.splitlines() == [
        "Added tenant acme to tenants.tenant_profiles (active): "
        "tenant_name 'Acme Corp', daily_limit 200, monthly_limit 3000, concurrent_limit 3.",
        "From the dataset templates: create dataset tenant_acme.",
        "From the dataset templates: create table tenant_acme.pipeline_runs (8 columns).",
        "Row access: acme-reader@example.com may read its rows (tenants.tenant_members).",
        "Created its row for today in tenants.tenant_usage_quotas, with the registry's values (no earlier row).",
    ]
    # The tenant's datasets from the shipped template schemas/tenant_{tenant}/.
    assert engine.get_table("tenant_acme", "pipeline_runs") is not None
    [row] = registry_rows(engine, "acme")
    # Limits not given come from the registry's defaults in the definitions.
    assert (row["status"], row["daily_limit"], row["monthly_limit"], row["concurrent_limit"]) == ("active", 200, 3000, 3)
    [today] = quota_rows(engine, "acme")
    assert (today["usage_date"], today["usage_id"]) == (_today(), f"acme-{_today():%Y%m%d}")
    assert (today["daily_limit"], today["monthly_limit"], today["concurrent_limit"], today["pipelines_run_today"]) == (
        200,
        3000,
        3,
        0,
    )
    before = warehouse(engine)

    sent = record(again := engine_for(project))
    report = api.tenant_add(_settings(project), again, "acme", "Acme Corp", Limits(200))
    assert not report.changed and report.quota_row == "unchanged"
    assert sent, "the repeated add reads the registry and the quota table"
    assert [s for s in sent if WRITES.search(s)] == []  # no DDL, no DML: reads only
    assert warehouse(engine_for(project)) == before

    repeated = run_cli(*target_args(project), "tenant", "add", "acme", "--name", "Acme Corp", "--daily-limit", "200")
    assert (repeated.exit_code, repeated.stdout.strip()) == (
        0,
        "Nothing to do: tenant acme is already in tenants.tenant_profiles (active) with these values, and has its row for today.",
    )
    assert warehouse(engine_for(project)) == before


def test_add_with_other_limits_updates_the_registry_and_todays_row_and_says_what_changed(project: str | None) -> None:
    engine = _applied(project)
    api.tenant_add(_settings(project), engine, "acme", limits=Limits(daily=200))
    changed = run_cli(*target_args(project), "tenant", "add", "acme", "--daily-limit", "250", "--concurrent-limit", "5")
    assert changed.exit_code == 0, changed.stderr
    assert changed.stdout.splitlines() == [
        "Updated tenant acme in tenants.tenant_profiles: daily_limit 200 -> 250, concurrent_limit 3 -> 5.",
        "Updated its row for today in tenants.tenant_usage_quotas: daily_limit 250, concurrent_limit 5.",
    ]
    [row] = registry_rows(engine, "acme")
    assert (row["daily_limit"], row["monthly_limit"], row["concurrent_limit"]) == (250, 3000, 5)
    assert row["updated_at"] is not None
    [today] = quota_rows(engine, "acme")
    assert (today["daily_limit"], today["concurrent_limit"]) == (250, 5)
    # Not giving a limit keeps it: a re-run of an older onboarding script does not undo set-limits.
    assert not api.tenant_add(_settings(project), engine_for(project), "acme").changed


def test_four_concurrent_adds_of_one_id_leave_one_registry_row_and_one_quota_row(project: str | None) -> None:
    _applied(project)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def one() -> None:
        try:
            engine = engine_for(project)
            barrier.wait()
            api.tenant_add(_settings(project), engine, "acme", "Acme Corp", Limits(200))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert not [t for t in threads if t.is_alive()], "an add did not finish within 180 s"
    assert errors == []
    engine = engine_for(project)
    assert len(registry_rows(engine, "acme")) == 1
    assert [r["usage_date"] for r in quota_rows(engine, "acme")] == [_today()]
    assert not api.tenant_add(_settings(project), engine, "acme", "Acme Corp", Limits(200)).changed


def test_copies_left_in_the_registry_are_collapsed_by_the_next_add(project: str | None) -> None:
    """What the last of several concurrent adds finds: two identical rows (as two insert-only
    MERGEs leave them, same values, which no DELETE can tell apart). The add collapses them."""
    engine = _applied(project)
    api.tenant_add(_settings(project), engine, "acme", limits=Limits(daily=200))
    engine.query(f"INSERT INTO {REGISTRY} SELECT * FROM {REGISTRY} WHERE tenant_id = 'acme'")
    assert len(registry_rows(engine, "acme")) == 2
    api.tenant_add(_settings(project), engine, "acme", limits=Limits(daily=200))
    assert len(registry_rows(engine, "acme")) == 1


HOSTILE = [
    ("acme; DROP TABLE x", "holds ' ', ';', 'A', 'B', 'D', 'E', 'L', 'O', 'P', 'R', 'T', which the rule does not allow"),
    ("../x", "holds '.', '/', which the rule does not allow"),
    ("", "the tenant id is empty"),
    ("a" * 300, "the tenant id is 300 characters long, more than 63"),
    ("acme'--", 'holds "\'", which the rule does not allow'),
    ("\u0430cme", "holds U+0430, which the rule does not allow"),  # Cyrillic a: looks like "acme"
    ("tenant id", "holds ' ', which the rule does not allow"),
    ("acme\nx", "holds U+000A, which the rule does not allow"),
    ("_acme", "must start with a lowercase letter or a digit"),
]
RULE = "a tenant id is 1 to 63 characters: lowercase ASCII letters, digits, '_' and '-', starting with a letter or a digit"


def test_hostile_ids_exit_2_with_the_broken_rule_and_nothing_is_written(project: str | None) -> None:
    engine = _applied(project)
    api.tenant_add(_settings(project), engine, "globex")
    before = warehouse(engine)
    for tenant_id, broken in HOSTILE:
        sent = record(watched := engine_for(project))
        with pytest.raises(UsageError) as refused:
            api.tenant_add(_settings(project), watched, tenant_id, limits=Limits(daily=5))
        assert broken in str(refused.value) and RULE in str(refused.value)
        assert sent == []  # refused before the first statement
        for command in (
            ["add", tenant_id, "--daily-limit", "5"],
            ["suspend", tenant_id],
            ["set-limits", tenant_id, "--daily-limit", "5"],
        ):
            result = run_cli(*target_args(project), "tenant", *command)
            assert (result.exit_code, result.stdout) == (2, ""), (tenant_id, command, result.stderr)
            assert "Traceback" not in result.stderr
            [line] = result.stderr.splitlines()
            assert line.startswith("error: invalid tenant id ") and broken in line and RULE in line
    assert warehouse(engine_for(project)) == before


@pytest.mark.parametrize("tenant_id", ["acme; DROP TABLE x", "../x", "acme\nx"])
def test_a_hostile_id_on_a_fresh_machine_creates_no_local_warehouse(tenant_id: str, workdir: Path) -> None:
    result = run_cli("tenant", "add", tenant_id)
    assert result.exit_code == 2 and "invalid tenant id" in result.stderr
    assert not (workdir / ".bqmanage").exists()


def test_ids_that_share_a_dataset_name_are_refused(project: str | None) -> None:
    engine = _applied(project)
    api.tenant_add(_settings(project), engine, "acme-eu")
    before = warehouse(engine)
    result = run_cli(*target_args(project), "tenant", "add", "acme_eu")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: tenant id 'acme_eu': tenant 'acme-eu' is already registered in tenants.tenant_profiles, and their "
        "datasets would have the same name ('-' reads as '_' in a dataset name: acme_eu); choose another id"
    )
    assert warehouse(engine_for(project)) == before


def test_the_registry_lookup_spells_the_dataset_name_mapping_as_tenant_ids_does() -> None:
    from bqmanage.tenants.ids import dataset_part

    # tenant_sql.lookup_sql narrows with REPLACE(id, '-', '_'): the same mapping.
    assert dataset_part("acme-eu_1-x") == "acme-eu_1-x".replace("-", "_") == "acme_eu_1_x"


def test_adding_a_suspended_tenant_again_does_not_resume_it(project: str | None) -> None:
    engine = _applied(project)
    api.tenant_add(_settings(project), engine, "acme", run_date=_today() - dt.timedelta(days=1))
    api.tenant_suspend(_settings(project), engine, "acme")
    result = run_cli(*target_args(project), "tenant", "add", "acme")
    assert result.stdout.strip() == (
        "Nothing to do: tenant acme is already in tenants.tenant_profiles (suspended) with these values, and has no row "
        "for today (`bqmanage tenant resume acme` makes it active)."
    )
    assert [r["status"] for r in registry_rows(engine, "acme")] == ["suspended"]
    assert len(quota_rows(engine, "acme")) == 1


def test_unknown_tenant_and_missing_limits_exit_2(project: str | None) -> None:
    _applied(project)
    for command in (["suspend", "nobody"], ["resume", "nobody"], ["set-limits", "nobody", "--daily-limit", "5"]):
        result = run_cli(*target_args(project), "tenant", *command)
        assert result.exit_code == 2, command
        assert result.stderr.strip() == (
            "error: tenant 'nobody': not in tenants.tenant_profiles; `bqmanage tenant add nobody` registers it"
        )
    for args, message in (
        (
            ["set-limits", "acme"],
            "error: tenant set-limits: give at least one of --daily-limit, --monthly-limit, --concurrent-limit",
        ),
        (["add", "acme", "--daily-limit", "-1"], "error: --daily-limit: -1 is not a limit (0 to 9223372036854775807)"),
        (["list", "--format", "yaml"], "error: --format: expected text or json, got 'yaml'"),
    ):
        result = run_cli(*target_args(project), "tenant", *args)
        assert (result.exit_code, result.stderr.strip()) == (2, message)


def test_add_before_apply_says_to_run_apply(workdir: Path) -> None:
    result = run_cli("tenant", "add", "acme")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: `tenants.tenant_profiles` and `tenants.tenant_usage_quotas` do not exist on target local; "
        "run `bqmanage apply` first"
    )


def test_list_shows_status_limits_and_todays_usage(project: str | None) -> None:
    engine = _applied(project)
    settings = _settings(project)
    api.tenant_add(settings, engine, "acme", "Acme Corp", Limits(100))
    api.tenant_add(settings, engine, "globex", "Globex", Limits(250, concurrent=5))
    api.tenant_suspend(settings, engine, "globex")
    engine.query(
        f"UPDATE {QUOTAS} SET pipelines_run_today = 7, pipelines_run_month = 40, concurrent_pipelines_running = 2 "
        "WHERE tenant_id = 'acme' AND usage_date = @d",
        {"d": _today()},
    )
    engine.query(f"DELETE FROM {QUOTAS} WHERE tenant_id = 'globex' AND usage_date = @d", {"d": _today()})
    text = run_cli(*target_args(project), "tenant", "list")
    assert text.exit_code == 0, text.stderr
    assert text.stdout.splitlines() == [
        "tenant  status     daily  monthly  concurrent  name",
        "acme    active     7/100  40/3000  2/3         Acme Corp",
        "globex  suspended  -/250  -/3000   -/5         Globex",
        "2 tenant(s) in tenants.tenant_profiles: 1 active, 1 suspended. "
        "Usage today from tenants.tenant_usage_quotas (used/limit; '-': no row today).",
    ]
    listed = run_cli(*target_args(project), "tenant", "list", "--format", "json")
    document = json.loads(listed.stdout)
    assert document["run_date"] == _today().isoformat()
    acme, globex = document["tenants"]
    assert acme == {
        "tenant": "acme",
        "status": "active",
        "name": "Acme Corp",
        "limits": {"daily_limit": 100, "monthly_limit": 3000, "concurrent_limit": 3},
        "today": {
            "daily_limit": {"used": 7, "limit": 100},
            "monthly_limit": {"used": 40, "limit": 3000},
            "concurrent_limit": {"used": 2, "limit": 3},
        },
    }
    assert (globex["status"], globex["today"]) == ("suspended", None)


def _row_on(engine: Engine, tenant: str, day: dt.date) -> dict[str, Any] | None:
    rows = engine.query(f"SELECT * FROM {QUOTAS} WHERE tenant_id = @t AND usage_date = @d", {"t": tenant, "d": day})
    assert len(rows) <= 1
    return rows[0] if rows else None


def test_suspend_then_reset_creates_no_row_and_resume_60_days_later_carries_limits_and_storage(project: str | None) -> None:
    engine = _applied(project)
    settings = _settings(project)
    start = dt.date(2026, 7, 1)
    api.tenant_add(settings, engine, "acme", limits=Limits(daily=70, monthly=900), run_date=start)
    api.tenant_add(settings, engine, "globex", run_date=start)
    engine.query(
        f"UPDATE {QUOTAS} SET total_storage_used_gb = 12.5, pipelines_run_today = 9 WHERE tenant_id = 'acme' AND usage_date = @d",
        {"d": start},
    )
    last = start + dt.timedelta(days=1)
    api.reset(settings, engine, run_date=last)  # acme's last row before the suspension
    suspended = run_cli(*target_args(project), "tenant", "suspend", "acme")
    assert suspended.stdout.splitlines() == [
        "Suspended tenant acme: resets give it no row from now on; its rows so far are kept.",
        "Row access revoked: acme-reader@example.com can no longer read its rows (tenants.tenant_members).",
    ]
    history = quota_rows(engine, "acme")

    for day in (last + dt.timedelta(days=1), last + dt.timedelta(days=30)):
        report = api.reset(settings, engine, run_date=day)
        assert report.active_tenants == 1 and _row_on(engine, "acme", day) is None  # globex only
        assert _row_on(engine, "globex", day) is not None
    assert quota_rows(engine, "acme") == history  # its history is kept, untouched

    back = last + dt.timedelta(days=60)  # beyond the 35-day lookback
    resumed = api.tenant_resume(settings, engine_for(project), "acme", run_date=back)
    assert (resumed.status, resumed.quota_row, resumed.row_source) == ("active", "created", "older row")
    row = _row_on(engine, "acme", back)
    assert row is not None
    assert (row["daily_limit"], row["monthly_limit"], str(row["total_storage_used_gb"])) == (70, 900, "12.50")
    assert (row["pipelines_run_today"], row["pipelines_run_month"]) == (0, 0)  # a new day, a new month
    again = api.reset(settings, engine, run_date=back)  # the reset of that day finds it current
    assert _row_on(engine, "acme", back) == row and "acme" not in again.without_history
    assert not api.tenant_resume(settings, engine, "acme", run_date=back).changed


def test_limits_set_while_suspended_hold_after_resume(project: str | None) -> None:
    engine = _applied(project)
    settings = _settings(project)
    start = dt.date(2026, 10, 1)
    api.tenant_add(settings, engine, "acme", limits=Limits(daily=70), run_date=start)
    api.tenant_suspend(settings, engine, "acme")
    changed = api.tenant_set_limits(settings, engine, "acme", Limits(daily=80), run_date=start + dt.timedelta(days=3))
    assert (changed.changes, changed.quota_row) == ({"daily_limit": [70, 80]}, "none")
    resumed = api.tenant_resume(settings, engine, "acme", run_date=start + dt.timedelta(days=5))
    assert resumed.row_updates == {"daily_limit": 80}
    row = _row_on(engine, "acme", start + dt.timedelta(days=5))
    assert row is not None and row["daily_limit"] == 80


def test_set_limits_updates_the_registry_and_todays_row(project: str | None) -> None:
    engine = _applied(project)
    api.tenant_add(_settings(project), engine, "acme", run_date=_today() - dt.timedelta(days=1))
    result = run_cli(*target_args(project), "tenant", "set-limits", "acme", "--daily-limit", "500")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Updated tenant acme in tenants.tenant_profiles: daily_limit 100 -> 500.",
        "Created its row for today in tenants.tenant_usage_quotas, carried from its latest row; then set daily_limit 500.",
    ]
    assert [r["daily_limit"] for r in quota_rows(engine, "acme")] == [100, 500]  # yesterday's row keeps its limit
    same = run_cli(*target_args(project), "tenant", "set-limits", "acme", "--daily-limit", "500")
    assert same.stdout.strip() == "Nothing to do: tenant acme already has these limits in tenants.tenant_profiles."


def test_four_parallel_add_processes_on_local_leave_one_registry_row_and_one_quota_row(workdir: Path) -> None:
    """Separate processes on the local engine: the DuckDB file's lock serialises them."""
    from tests.runtime import start

    _applied(None).close()
    procs = [start("tenant", "add", "acme", "--daily-limit", "200", cwd=workdir) for _ in range(4)]
    results = [(p.wait(timeout=180), *p.communicate()) for p in procs]
    for code, _, err in results:
        assert code == 0, err
        assert "Traceback" not in err
    outputs = sorted(out.splitlines()[0] for _, out, _ in results)
    assert outputs[0].startswith("Added tenant acme") and all(o.startswith("Nothing to do") for o in outputs[1:])
    engine = engine_for(None)
    assert len(registry_rows(engine, "acme")) == 1
    assert len(quota_rows(engine, "acme")) == 1
