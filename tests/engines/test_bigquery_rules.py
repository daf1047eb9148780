"""BigQuery rules that are not grammar, so the GoogleSQL analyzer cannot check them.
Each test cites the BigQuery documentation page the rule comes from. Pure: render and plan only."""

from __future__ import annotations

from pathlib import Path

import pytest

from bqmanage.definitions.load import load_definitions
from bqmanage.diff import compare
from bqmanage.model.schema import Column, Definitions, Partitioning, Table, Warehouse
from bqmanage.plan import build_plan
from bqmanage.render import create_table_sql, partition_sql
from bqmanage.tenants.reset_sql import render_reset

EVERYTHING = Path(__file__).parents[1] / "fixtures" / "everything"


def _table(partitioning: Partitioning, *columns: Column) -> Table:
    return Table(dataset="ds", name="t", partitioning=partitioning, columns=(Column(name="id", type="STRING"), *columns))


@pytest.mark.parametrize(
    ("granularity", "expected"),
    [
        ("DAY", "PARTITION BY _PARTITIONDATE"),
        ("HOUR", "PARTITION BY TIMESTAMP_TRUNC(_PARTITIONTIME, HOUR)"),
        ("MONTH", "PARTITION BY TIMESTAMP_TRUNC(_PARTITIONTIME, MONTH)"),
        ("YEAR", "PARTITION BY TIMESTAMP_TRUNC(_PARTITIONTIME, YEAR)"),
    ],
)
def test_ingestion_time_partitioning_keeps_its_granularity(granularity: str, expected: str) -> None:
    """https://cloud.google.com/bigquery/docs/reference/standard-sql/data-definition-language#partition_expression:
    _PARTITIONDATE partitions by day; TIMESTAMP_TRUNC(_PARTITIONTIME, HOUR|MONTH|YEAR) for the others."""
    table = _table(Partitioning(granularity=granularity))  # type: ignore[arg-type]
    assert partition_sql(table.partitioning, table) == expected  # type: ignore[arg-type]


def _backfills_of_bare_tables() -> dict[str, str]:
    desired = load_definitions(EVERYTHING)
    actual = {f"{t.dataset}.{t.name}": t.model_copy(update={"columns": t.columns[:1]}) for t in desired.tables}
    plan = build_plan(compare(desired, Warehouse(tables=actual)), desired=desired)
    return {s.table or "": s.sql or "" for s in plan.steps if s.kind == "backfill"}


@pytest.mark.parametrize(
    ("table", "predicate"),
    [
        ("by_day", "(`day` IS NOT NULL OR `day` IS NULL)"),
        ("by_range", "(`bucket` IS NOT NULL OR `bucket` IS NULL)"),
        ("by_ingestion", "(_PARTITIONTIME IS NOT NULL OR _PARTITIONTIME IS NULL)"),
        ("all_types", "(`happened_at` IS NOT NULL OR `happened_at` IS NULL)"),
    ],
)
def test_backfill_filters_on_the_partition_column_when_the_table_requires_it(table: str, predicate: str) -> None:
    """https://cloud.google.com/bigquery/docs/managing-partitioned-tables#require-filter: with
    require_partition_filter, a query whose WHERE has no filter on the partitioning column alone
    fails ("Cannot query over table ... without a filter that can be used for partition
    elimination"). The predicate keeps every row, NULL partitions included."""
    backfill = _backfills_of_bare_tables()[table]
    assert backfill.startswith("UPDATE")
    assert backfill.endswith(f"AND {predicate}")


def test_backfill_of_a_table_without_the_requirement_has_no_extra_predicate() -> None:
    desired = load_definitions(Path(__file__).resolve().parents[2] / "schemas")
    quotas = desired.table("tenants", "tenant_usage_quotas")
    assert quotas is not None and not quotas.require_partition_filter
    actual = quotas.model_copy(update={"columns": quotas.columns[:8]})
    plan = build_plan(
        compare(
            desired,
            Warehouse(
                tables={
                    "tenants.tenant_usage_quotas": actual,
                    "tenants.tenant_profiles": desired.table("tenants", "tenant_profiles"),
                }
            ),
        ),
        desired=desired,
    )
    (backfill,) = [s.sql or "" for s in plan.steps if s.kind == "backfill"]
    assert "IS NOT NULL OR" not in backfill


@pytest.mark.parametrize(
    ("type_", "default", "rendered"),
    [
        ("NUMERIC", "12345678901234567890", 'NUMERIC "12345678901234567890"'),
        ("BIGNUMERIC", "123456789012345678901234567890.5", 'BIGNUMERIC "123456789012345678901234567890.5"'),
        ("FLOAT64", "1000000000000000000000000000000", "1e+30"),
        ("FLOAT64", "0.25", "0.25"),
        ("FLOAT64", "3", "3.0"),
        ("INT64", "-42", "-42"),
    ],
)
def test_numeric_defaults_are_typed_literals(type_: str, default: str, rendered: str) -> None:
    """https://cloud.google.com/bigquery/docs/reference/standard-sql/lexical#numeric_literals: a
    bare integer literal must fit INT64, and NUMERIC/BIGNUMERIC literals are typed strings."""
    table = Table(dataset="ds", name="t", columns=(Column(name="c", type=type_, default=default),))
    assert f"`c` {type_} DEFAULT {rendered}" in create_table_sql(table)


def _quota_definitions(strategy: str, partition_column: str = "usage_date") -> tuple[Definitions, Table]:
    desired = load_definitions(Path(__file__).resolve().parents[2] / "schemas")
    quotas = desired.table("tenants", "tenant_usage_quotas")
    assert quotas is not None and quotas.quota is not None
    table = quotas.model_copy(
        update={
            "require_partition_filter": True,
            "partitioning": Partitioning(column=partition_column),
            "quota": quotas.quota.model_copy(update={"strategy": strategy}),
        }
    )
    tables = tuple(table if t.name == table.name else t for t in desired.tables)
    return Definitions(datasets=desired.datasets, tables=tables, digest=desired.digest), table


@pytest.mark.parametrize("strategy", ["in_place", "rollover"])
def test_reset_filters_on_the_partition_column_when_the_table_requires_it(strategy: str) -> None:
    """https://cloud.google.com/bigquery/docs/managing-partitioned-tables#require-filter: every scan
    of the quota table needs a predicate on its partitioning column. Rollover's scans are bounded
    on the date column already; in_place's MERGE, dedup and status scan every row, so they get one
    that keeps every row."""
    desired, table = _quota_definitions(strategy)
    sql = render_reset(desired, table)
    predicate = "`usage_date` IS NOT NULL OR"
    for name, statement in (("merge", sql.merge), ("dedup", sql.dedup), ("status", sql.status)):
        scans = statement.count("`tenants`.`tenant_usage_quotas` AS")
        if strategy == "in_place":
            assert statement.count(predicate) == scans, name
        else:
            assert predicate not in statement and "@run_date" in statement, name


def test_reset_with_another_partition_column_filters_every_scan() -> None:
    desired, table = _quota_definitions("rollover", partition_column="last_updated")
    sql = render_reset(desired, table)
    for statement in (sql.merge, sql.dedup, sql.status, sql.older or "", sql.script()):
        scans = statement.count("`tenants`.`tenant_usage_quotas` AS")
        assert statement.count("`last_updated` IS NOT NULL OR") == scans >= 1
