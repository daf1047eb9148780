"""The seed incident end to end, on the local engine and on bqemulator, and its golden SQL."""

from __future__ import annotations

from pathlib import Path

import sqlglot

from bqmanage import api
from bqmanage.definitions.load import load_definitions
from bqmanage.definitions.row_access import with_writer
from bqmanage.diff import compare
from bqmanage.model.row_access import LOCAL_WRITER
from bqmanage.model.schema import Dataset, Warehouse
from bqmanage.plan import build_plan
from bqmanage.settings import resolve_settings
from tests import seed
from tests.helpers import engine_for, record, run_cli, target_args

GOLDEN = Path(__file__).parents[1] / "golden"


def _settings(project: str | None):  # type: ignore[no-untyped-def]
    return resolve_settings(target="bigquery" if project else "local", project=project)


def test_seed_scenario_end_to_end(project: str | None) -> None:
    engine = engine_for(project)
    seed.create_old_table(engine)
    seed.insert_old_rows(engine)
    before = seed.read_rows(engine)

    first = engine_for(project)
    sent = record(first)
    result = api.apply(_settings(project), first)
    assert result.result is not None and result.result.executed
    # Two metadata updates on the quota table, whatever the engine: the one multi-action ALTER
    # and the one tables.patch that sets every default; then the backfill (DML).
    quota = [s for s in sent if "`tenants`.`tenant_usage_quotas`" in s and not s.startswith(("SELECT", "INSERT"))]
    assert [s.split(None, 3)[:3] for s in quota] == [
        ["ALTER", "TABLE", f"`{project}`.`tenants`.`tenant_usage_quotas`" if project else "`tenants`.`tenant_usage_quotas`"],
        ["--", "API", "tables.patch:"],
        # The isolation the old table lacked; bqemulator holds no row access policies (docs/isolation.md).
        *([] if project else [["CREATE", "OR", "REPLACE"]] * 2),
        ["UPDATE", f"`{project}`.`tenants`.`tenant_usage_quotas`" if project else "`tenants`.`tenant_usage_quotas`", "SET"],
    ]
    first.close()

    after = seed.read_rows(engine_for(project))
    assert len(after) == len(before) == 3
    for old, new in zip(before, after, strict=False):
        # Every old value is unchanged (concurrent_limit stays NULL where it was NULL) ...
        assert {k: new[k] for k in old} == old
        # ... the new counters and flags hold their default, not NULL ...
        assert {k: new[k] for k in seed.NEW_COUNTERS} == seed.NEW_COUNTERS
        # ... and the new timestamps, which have no default, are NULL.
        assert all(new[k] is None for k in seed.NEW_TIMESTAMPS)

    # A row inserted after the apply gets concurrent_limit's new default of 3.
    engine = engine_for(project)
    engine.query(
        "INSERT INTO `tenants`.`tenant_usage_quotas` (usage_id, tenant_id, usage_date, daily_limit) "
        "VALUES ('t9', 't9', DATE '2026-11-21', 10)"
    )
    fresh = next(r for r in seed.read_rows(engine) if r["usage_id"] == "t9")
    if project is None:
        assert fresh["pipelines_cancelled_today"] == 0 and fresh["quota_exceeded"] is False
        assert fresh["concurrent_limit"] == 3
    # On bqemulator nothing is asserted about the new row's defaults: 1.4.0 drops
    # defaultValueExpression from tables.patch and never applies it (evaluation §3). The local
    # engine, the golden patch and the recorded statements above cover them.

    second = engine_for(project)
    sent = record(second)
    outcome = api.apply(_settings(project), second)
    assert outcome.planned.plan.steps == ()
    # Only reads; the local engine reads its catalog and ledger from DuckDB and sends nothing.
    assert not [s for s in sent if not s.lstrip().upper().startswith("SELECT")]
    assert sent or project is None


# The missing DEFAULT of an existing column cannot be observed on bqemulator 1.4.0, which drops
# defaultValueExpression from tables.get (evaluation §3): the local engine test above, the golden
# SQL below and tests/engines/test_real_bq.py (defaults through tables.patch) cover it.


def _seed_plan():  # type: ignore[no-untyped-def]
    # With the local engine's writer, as the local target's plan has it.
    desired = with_writer(load_definitions(Path(__file__).parents[2] / "schemas"), LOCAL_WRITER, None)
    # Read as an engine reads it: no row access policies yet.
    old = seed.old_deploy_table(Path(__file__).parents[2] / "schemas").model_copy(update={"row_access_policies": ()})
    profiles = desired.table("tenants", "tenant_profiles")
    members = desired.table("tenants", "tenant_members")
    actual = Warehouse(
        datasets={
            "tenants": Dataset(name="tenants", description=desired.datasets[0].description, labels=desired.datasets[0].labels)
        },
        tables={"tenants.tenant_usage_quotas": old, "tenants.tenant_profiles": profiles, "tenants.tenant_members": members},
    )
    return build_plan(compare(desired, actual))


def test_seed_migration_golden_sql() -> None:
    plan = _seed_plan()
    text = "\n\n".join(s.text() for s in plan.steps) + "\n"
    assert text == (GOLDEN / "seed_migration.sql").read_text()
    kinds = [s.kind for s in plan.steps]
    # Two metadata updates (one ALTER, one tables.patch for all 7 defaults), the row access policies
    # the old table lacked (the writer's TRUE filter first: the backfill is DML), then the backfill.
    assert kinds == ["add_column", "patch_columns", "set_row_access_policy", "set_row_access_policy", "backfill"]
    assert [s.is_metadata for s in plan.steps] == [True, True, False, False, False]
    alter = plan.steps[0].sql or ""
    assert alter.count("ADD COLUMN IF NOT EXISTS") == 9 and "DEFAULT" not in alter
    patch = plan.steps[1]
    assert patch.api is not None and len(patch.api["defaults"]) == 7 and patch.api["defaults"]["concurrent_limit"] == "3"
    # Both forms: the patch, and the DDL apply falls back to if BigQuery rejects a default there.
    assert len(patch.fallback) == 7 and all(f"-- {sql};" in text for sql in patch.fallback)
    assert plan.steps[-1].sql and plan.steps[-1].sql.startswith("UPDATE") and text.count("UPDATE") == 1
    for statement in sqlglot.parse(text, read="bigquery"):
        assert statement is not None


def test_no_backfill_flag_skips_the_update(workdir: Path) -> None:
    engine = engine_for(None)
    seed.create_old_table(engine)
    seed.insert_old_rows(engine)
    dry = run_cli("apply", "--dry-run", "--no-backfill")
    assert "UPDATE" not in dry.stdout and "ADD COLUMN IF NOT EXISTS" in dry.stdout
    assert run_cli("apply", "--no-backfill").exit_code == 0
    rows = seed.read_rows(engine_for(None))
    assert all(r["pipelines_cancelled_today"] is None for r in rows)


def test_plan_lists_reasons_sql_and_the_ledger(workdir: Path) -> None:
    engine = engine_for(None)
    seed.create_old_table(engine)
    first = run_cli("plan")
    assert first.exit_code == 1  # pending steps
    assert "No earlier apply recorded" in first.stdout
    assert "add_column: add pipelines_cancelled_today, max_concurrent_reached, quota_exceeded" in first.stdout
    assert "ALTER TABLE `tenants`.`tenant_usage_quotas` ALTER COLUMN `concurrent_limit` SET DEFAULT 3;" in first.stdout
    run_cli("apply")
    second = run_cli("plan")
    assert second.exit_code == 0
    assert "Last apply on tenants:" in second.stdout and "succeeded" in second.stdout
    assert "No changes" in second.stdout


def test_plan_prints_the_golden_bigquery_statements_on_every_target(project: str | None) -> None:
    """One plan, whatever the target: local and bqemulator print the golden BigQuery statements
    (bqemulator cannot report the existing concurrent_limit default, so it lacks that one step)."""
    engine = engine_for(project)
    seed.create_old_table(engine)
    result = run_cli(*target_args(project), "plan")
    assert result.exit_code == 1, result.stderr
    text = result.stdout.replace(f"`{project}`.", "") if project else result.stdout
    blocks = [block.split("\n", 1)[1].split("\n\n")[0].strip() for block in text.split("\n-- [")[1:]]
    # The statements only: on bigquery a data step also shows its dry-run estimate of bytes billed.
    blocks = ["\n".join(line for line in b.splitlines() if not line.startswith("-- estimated bytes billed")) for b in blocks]
    printed = [b for b in blocks if "`tenants`.`tenant_usage_quotas`" in b]
    golden = (GOLDEN / "seed_migration.sql").read_text().strip().split("\n\n")
    if project:
        golden = [
            "\n".join(line for line in step.splitlines() if "concurrent_limit" not in line or "set the default of" in line)
            for step in golden
        ]
        golden = [step.replace("set the default of concurrent_limit, ", "set the default of ") for step in golden]
        # bqemulator holds no row access policies, so it is sent none (docs/isolation.md).
        golden = [step for step in golden if "ROW ACCESS POLICY" not in step]
    assert printed == golden
    assert "These are the BigQuery statements" in result.stdout
