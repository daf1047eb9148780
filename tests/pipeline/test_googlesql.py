"""Every kind of statement bqmanage sends, parsed and analyzed by Google's GoogleSQL front
end (ZetaSQL) against a catalog built from the definitions. A statement it rejects fails the test
with Google's message. See tests/googlesql.py for how the analyzer is loaded and cached.

The analyzer knows GoogleSQL's grammar and types, not BigQuery's service rules (no DEFAULT on
ADD COLUMN for an existing table, partition filters, metadata rates): those are planner tests.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bqmanage.definitions.load import load_definitions
from bqmanage.diff import compare, compare_table
from bqmanage.engines import infoschema
from bqmanage.ledger import LEDGER, latest_entries_sql, latest_entry_sql, ledger_insert_sql, ledger_row_sql, ledger_table
from bqmanage.model.schema import Dataset, Definitions, Table, Warehouse
from bqmanage.plan import Step, build_plan
from bqmanage.render import create_schema_sql, create_table_sql
from bqmanage.tenants.reset_sql import render_reset
from tests import seed
from tests.googlesql import OracleError, oracle, statements
from tests.pipeline.test_planner import CASES, DATASET_CASES, compare_datasets

pytestmark = pytest.mark.googlesql

ROOT = Path(__file__).resolve().parents[2]
EVERYTHING = Path(__file__).parents[1] / "fixtures" / "everything"
RUN_DATE = {"run_date": dt.date(2026, 11, 21)}


def _analyze_steps(steps: tuple[Step, ...], before: list[Table], after: list[Table]) -> int:
    """Analyze every SQL step: ADD COLUMN against the table before it runs, everything else
    against the table as defined (SET DEFAULT and the backfill name the new columns)."""
    analyzed = 0
    for step in steps:
        # The DDL apply falls back to if BigQuery rejects a default through tables.patch.
        for sql in step.fallback:
            oracle().analyze(sql, after)
            analyzed += 1
        if step.sql is None:
            continue  # an API call (tables.patch), not SQL
        oracle().analyze(step.sql, before if step.kind == "add_column" else after)
        analyzed += 1
    return analyzed


# ---- the oracle can fail ----


def test_the_oracle_rejects_what_bigquery_rejects() -> None:
    quotas = seed.desired_quotas(ROOT / "schemas")
    with pytest.raises(OracleError, match="Did you mean max_concurrent_reached"):
        oracle().analyze("UPDATE tenants.tenant_usage_quotas SET max_concurent_reached = 1 WHERE TRUE", [quotas])
    with pytest.raises(OracleError, match="cannot be assigned to quota_exceeded, which has type BOOL"):
        oracle().analyze("UPDATE tenants.tenant_usage_quotas SET quota_exceeded = 0 WHERE TRUE", [quotas])
    with pytest.raises(OracleError, match="Syntax error"):
        oracle().parse("ALTER TABLE t ADD COLUMN")


def test_a_broken_rendered_statement_fails_the_tier() -> None:
    """The seed migration's real backfill, with one column name broken as a typo would."""
    desired = load_definitions(ROOT / "schemas")
    plan = build_plan(
        compare(desired, Warehouse(tables={"tenants.tenant_usage_quotas": seed.old_deploy_table(ROOT / "schemas")}))
    )
    backfill = next(s for s in plan.steps if s.kind == "backfill")
    assert backfill.sql is not None
    oracle().analyze(backfill.sql, desired)
    broken = backfill.sql.replace("`max_concurrent_reached`", "`max_concurent_reached`", 1)
    with pytest.raises(OracleError, match="max_concurent_reached"):
        oracle().analyze(broken, desired)


# ---- every statement kind ----


@pytest.mark.parametrize(
    "case_id,desired,actual,kinds,codes", [c for c in CASES if not c[4]], ids=[c[0] for c in CASES if not c[4]]
)
def test_planner_case_statements(case_id: str, desired: Table, actual: Table | None, kinds: list[str], codes: list[str]) -> None:
    plan = build_plan(compare_table(desired, actual))
    _analyze_steps(plan.steps, [actual] if actual else [], [desired])


@pytest.mark.parametrize("case_id,desired,actual,kinds", DATASET_CASES, ids=[c[0] for c in DATASET_CASES])
def test_dataset_case_statements(case_id: str, desired: Dataset, actual: Dataset | None, kinds: list[str]) -> None:
    for step in build_plan(compare_datasets(desired, actual), "my-project").steps:
        if step.api is not None:  # an API call (datasets.patch of the access list): no statement
            continue
        assert step.sql is not None
        oracle().analyze(step.sql)


def test_golden_render_of_the_shipped_definitions() -> None:
    desired = load_definitions(ROOT / "schemas")
    script = (Path(__file__).parents[1] / "golden" / "render_tenants.sql").read_text()
    for sql in statements(script):
        oracle().analyze(sql, desired)


def test_golden_seed_migration() -> None:
    desired = load_definitions(ROOT / "schemas")
    old = seed.old_deploy_table(ROOT / "schemas")
    profiles = desired.table("tenants", "tenant_profiles")
    assert profiles is not None
    golden = (Path(__file__).parents[1] / "golden" / "seed_migration.sql").read_text()
    for sql in statements(golden):
        oracle().analyze(sql, [old, profiles] if "ADD COLUMN" in sql else desired)
    # The patch step's DDL fallback, printed as comments under it: one ALTER COLUMN per default.
    fallback = [line.removeprefix("-- ").rstrip(";") for line in golden.splitlines() if line.startswith("-- ALTER TABLE")]
    assert len(fallback) == 7
    for sql in fallback:
        oracle().analyze(sql, desired)


def test_render_of_every_type_partitioning_and_option() -> None:
    desired = load_definitions(EVERYTHING)
    for dataset in desired.all_datasets():
        oracle().analyze(create_schema_sql(dataset, "my-project"))
    for table in desired.tables:
        oracle().analyze(create_table_sql(table, "my-project"))
        oracle().analyze(create_table_sql(table))


def test_migration_to_every_type_from_a_bare_table() -> None:
    """Every column of the fixture added to tables that have only their first column: ADD COLUMN,
    SET DEFAULT, the backfill, options and descriptions, on every partitioning kind."""
    desired = load_definitions(EVERYTHING)
    actual = {
        f"{t.dataset}.{t.name}": t.model_copy(update={"columns": t.columns[:1], "description": None, "labels": {}})
        for t in desired.tables
    }
    plan = build_plan(
        compare(desired, Warehouse(datasets={d.name: d for d in desired.all_datasets()}, tables=actual)), desired=desired
    )
    assert {s.kind for s in plan.steps} >= {"add_column", "patch_columns", "backfill", "set_table_options"}
    assert any(s.fallback for s in plan.steps)
    assert _analyze_steps(plan.steps, list(actual.values()), list(desired.tables)) >= 5


@pytest.mark.parametrize("strategy", ["rollover", "in_place"])
def test_reset_statements(strategy: str) -> None:
    desired = load_definitions(ROOT / "schemas")
    quotas = desired.table("tenants", "tenant_usage_quotas")
    assert quotas is not None and quotas.quota is not None
    # With require_partition_filter, so that the partition predicates are analyzed too.
    table = quotas.model_copy(
        update={"quota": quotas.quota.model_copy(update={"strategy": strategy}), "require_partition_filter": True}
    )
    definitions = Definitions(
        datasets=desired.datasets,
        digest=desired.digest,
        tables=tuple(table if t.name == table.name else t for t in desired.tables),
    )
    sql = render_reset(definitions, table, None)
    carry = {**RUN_DATE, "carry_tenants": ["acme"], "carry_from": dt.date(2026, 1, 1), "window_only": True}
    for statement in (sql.merge, sql.dedup, sql.status, sql.older):
        if statement is not None:
            used = {k: v for k, v in carry.items() if f"@{k}" in statement}
            oracle().analyze(statement, definitions, used)
    # The scheduled query is a script (DECLAREs for what the CLI passes as parameters): parsed.
    oracle().parse(sql.script(), script=True)
    oracle().parse((ROOT / "deployment" / "reset" / "quota_reset.sql").read_text(), script=True)


def test_ledger_statements() -> None:
    ledger = ledger_table("tenants")
    oracle().analyze(create_table_sql(ledger))
    params = {
        "run_id": "r",
        "applied_at": dt.datetime(2026, 11, 21, tzinfo=dt.UTC),
        "principal": "p",
        "digest": "d",
        "version": "v",
        "outcome": "running",
        "applied": 0,
        "total": 1,
        "statements": "[]",
        "backfill": "[]",
        "error": "e",
    }
    oracle().analyze(ledger_insert_sql("tenants"), [ledger], params)
    # A new tenant dataset's script: the ledger's CREATE without IF NOT EXISTS, and the row with
    # its values as literals, hostile strings and a NULL among them.
    oracle().analyze(create_table_sql(ledger, if_not_exists=False))
    hostile = {**params, "principal": "a\"b\\c\n\x00d`e'", "statements": '["CREATE TABLE `x` (\\"y\\")"]', "error": None}
    oracle().analyze(ledger_row_sql("tenants", hostile), [ledger])
    oracle().analyze(latest_entry_sql("tenants"), [ledger])
    assert LEDGER in latest_entry_sql("tenants")
    # plan reads every dataset's latest entry in one query
    oracle().analyze(latest_entries_sql(["tenants", "tenant_acme"]), [ledger, ledger_table("tenant_acme")])


def test_information_schema_readers_parse() -> None:
    views = sorted(infoschema.VIEWS)
    oracle().parse(infoschema.catalog_sql(views, ["tenants", "tenant_acme"], "my-project"))
    oracle().parse(infoschema.catalog_sql(views, ["tenants"], "my-project", region="EU"))


def test_dataset_options_reader_parses() -> None:
    oracle().parse(infoschema.schemata_options_sql("my-project", "europe-west4"))
