"""Golden DDL for the tenants dataset, valid GoogleSQL per sqlglot's BigQuery dialect.

The golden files were reviewed by hand against the DDL reference
(https://cloud.google.com/bigquery/docs/reference/standard-sql/data-definition-language#create_table_statement): column
grammar order `name type [DEFAULT expr] [NOT NULL] [OPTIONS(...)]`, PARTITION BY the DATE column,
CLUSTER BY, table OPTIONS. Regenerate with `bqmanage render > tests/golden/render_tenants.sql`
only after reviewing the difference.
"""

from __future__ import annotations

import json
from pathlib import Path

import sqlglot
from sqlglot import exp

from tests.helpers import run_cli

GOLDEN = Path(__file__).parents[1] / "golden"


def test_render_matches_golden(workdir: Path) -> None:
    result = run_cli("render")
    assert result.exit_code == 0
    assert result.stdout == (GOLDEN / "render_tenants.sql").read_text()


def test_json_schema_matches_golden(workdir: Path) -> None:
    result = run_cli("render", "--format", "json-schema")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == json.loads((GOLDEN / "render_tenants.json").read_text())


def test_one_table_is_the_schema_file_bq_mk_reads(workdir: Path) -> None:
    """bq mk --schema takes a JSON array of fields (name, type, mode, fields, ...), not an object."""
    result = run_cli("render", "--format", "json-schema", "--table", "tenants.tenant_profiles")
    assert result.exit_code == 0, result.stderr
    fields = json.loads(result.stdout)
    assert isinstance(fields, list) and all({"name", "type", "mode"} <= set(f) for f in fields)
    assert fields == json.loads((GOLDEN / "render_tenants.json").read_text())["tenants.tenant_profiles"]
    ddl = run_cli("render", "--table", "tenants.tenant_usage_quotas")
    assert ddl.exit_code == 0
    assert ddl.stdout == (GOLDEN / "render_tenants.sql").read_text().split("\n\n")[-1]


def test_render_a_tenants_templated_datasets(workdir: Path) -> None:
    plain = run_cli("render")
    assert "not rendered; add --tenant ID" in plain.stderr and "pipeline_runs" not in plain.stdout
    result = run_cli("render", "--tenant", "acme-eu", "--tenant", "globex")
    assert result.exit_code == 0 and result.stderr == ""
    statements = [s for s in sqlglot.parse(result.stdout, read="bigquery") if s]
    created = [s.this.sql("bigquery") for s in statements if isinstance(s, exp.Create)]
    assert "`tenant_acme_eu`" in created and "`tenant_globex`.`pipeline_runs`" in " ".join(created)
    assert len(statements) == 4 + 2 * 2  # the fixed datasets', then each tenant's dataset and table
    one = run_cli("render", "--tenant", "globex", "--format", "json-schema", "--table", "tenant_globex.pipeline_runs")
    assert one.exit_code == 0 and json.loads(one.stdout)[0]["name"] == "run_id"


def test_render_bad_table_or_tenant_is_one_message(workdir: Path) -> None:
    unknown = run_cli("render", "--table", "tenants.nope")
    assert unknown.exit_code == 2 and unknown.stdout == ""
    assert unknown.stderr.startswith(
        "error: --table: no definition of 'tenants.nope'; defined tables: tenants.tenant_members, tenants.tenant_profiles"
    )
    hostile = run_cli("render", "--tenant", "x`; DROP SCHEMA tenants; --")
    assert hostile.exit_code == 2 and hostile.stdout == "" and "invalid tenant id" in hostile.stderr


def test_golden_ddl_parses_as_bigquery() -> None:
    statements = [s for s in sqlglot.parse((GOLDEN / "render_tenants.sql").read_text(), read="bigquery") if s]
    assert len(statements) == 4
    quotas = statements[3]
    assert isinstance(quotas, exp.Create) and quotas.args.get("exists")
    columns = [c for c in quotas.find_all(exp.ColumnDef)]
    assert len(columns) == 22
    assert [c.name for c in columns][:3] == ["usage_id", "tenant_id", "usage_date"]
    by_name = {c.name: c for c in columns}
    assert by_name["total_storage_used_gb"].args["kind"].sql("bigquery") == "NUMERIC(10, 2)"
    concurrent = by_name["concurrent_limit"].sql("bigquery")
    assert "DEFAULT 3" in concurrent and "NOT NULL" not in concurrent


def test_quotas_table_is_the_seed_schema() -> None:
    """The 22 columns of seeds/002 in its order, with its NOT NULLs and defaults."""
    seed = [
        ("usage_id", "STRING", True, None),
        ("tenant_id", "STRING", True, None),
        ("usage_date", "DATE", True, None),
        ("pipelines_run_today", "INT64", True, "0"),
        ("pipelines_succeeded_today", "INT64", True, "0"),
        ("pipelines_failed_today", "INT64", True, "0"),
        ("pipelines_cancelled_today", "INT64", False, "0"),
        ("pipelines_run_month", "INT64", True, "0"),
        ("concurrent_pipelines_running", "INT64", True, "0"),
        ("max_concurrent_reached", "INT64", False, "0"),
        ("daily_limit", "INT64", True, None),
        ("monthly_limit", "INT64", False, None),
        ("concurrent_limit", "INT64", False, "3"),
        ("quota_exceeded", "BOOL", False, "FALSE"),
        ("quota_warning_sent", "BOOL", False, "FALSE"),
        ("quota_exceeded_at", "TIMESTAMP", False, None),
        ("total_api_calls_today", "INT64", False, "0"),
        ("total_storage_used_gb", "NUMERIC(10, 2)", False, "0"),
        ("last_updated", "TIMESTAMP", True, "CURRENT_TIMESTAMP()"),
        ("last_pipeline_started_at", "TIMESTAMP", False, None),
        ("last_pipeline_completed_at", "TIMESTAMP", False, None),
        ("created_at", "TIMESTAMP", True, "CURRENT_TIMESTAMP()"),
    ]
    from bqmanage.definitions.load import load_definitions

    table = load_definitions(Path(__file__).parents[2] / "schemas").table("tenants", "tenant_usage_quotas")
    assert table is not None
    assert [(c.name, c.type_sql(), c.mode == "REQUIRED", c.default) for c in table.columns] == seed
    assert table.partitioning is not None and table.partitioning.column == "usage_date"
    assert table.clustering == ("tenant_id",)
    assert table.legacy_names == ("customers.customer_usage_quotas",)
