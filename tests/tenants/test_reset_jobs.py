"""A reset is two jobs on a normal day (the MERGE, then the dedup), reporting from
their DML statistics; the registry is read without a job. And every filter on the date column of
the quota table is a constant expression of parameters, so that BigQuery prunes partitions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from bqmanage import api
from bqmanage.definitions.load import load_definitions
from bqmanage.model.schema import Definitions
from bqmanage.settings import resolve_settings
from bqmanage.tenants.reset import ResetReport
from bqmanage.tenants.reset_sql import render_reset
from tests.faultproxy import FaultProxy
from tests.helpers import engine_for
from tests.tenants.test_reset import SAME_MONTH, build

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def proxy(emulator: str, emulator_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    proxy = FaultProxy(emulator_url)
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", proxy.url)
    try:
        yield proxy
    finally:
        proxy.close()


def _reset(project: str, proxy: FaultProxy, day: dt.date) -> tuple[ResetReport, dict[str, int]]:
    engine = engine_for(project)
    proxy.counts.clear()
    report = api.reset(resolve_settings(target="bigquery", project=project), engine, run_date=day)
    counts = dict(proxy.counts)
    engine.close()
    return report, counts


def test_a_normal_day_is_two_jobs_and_a_rerun_three(emulator: str, proxy: FaultProxy) -> None:
    build(emulator)
    # The first reset gives t3 (active, never a row) its registry defaults: more than two jobs.
    first, counts = _reset(emulator, proxy, SAME_MONTH)
    assert first.without_history == ["t3"] and first.new_rows == 3 and counts["jobs.insert"] > 2
    # A normal day: every active tenant has a row in the window. Two jobs, the registry read for
    # free (tabledata.list), and a complete report from the MERGE's DML statistics.
    day = SAME_MONTH + dt.timedelta(days=1)
    normal, counts = _reset(emulator, proxy, day)
    assert counts["jobs.insert"] == 2 and counts["data.list"] == 1
    assert (normal.active_tenants, normal.new_rows, normal.already_current) == (3, 3, 0)
    assert normal.without_history == normal.carried_from_older == normal.registry_duplicates == []
    # Rows written equal the active tenants: one each for the run date, no past row touched.
    rows = engine_for(emulator).query("SELECT tenant_id FROM `tenants`.`tenant_usage_quotas` WHERE usage_date = @d", {"d": day})
    assert sorted(r["tenant_id"] for r in rows) == ["t1", "t2", "t3"]
    # A second run on the same date inserts nothing; the status query says why (all current).
    again, counts = _reset(emulator, proxy, day)
    assert counts["jobs.insert"] == 3
    assert (again.active_tenants, again.new_rows, again.already_current) == (3, 0, 3)


def _quota_definitions(strategy: str) -> Definitions:
    desired = load_definitions(ROOT / "schemas")
    quotas = desired.table("tenants", "tenant_usage_quotas")
    assert quotas is not None and quotas.quota is not None
    table = quotas.model_copy(update={"quota": quotas.quota.model_copy(update={"strategy": strategy})})
    return Definitions(
        datasets=desired.datasets,
        digest=desired.digest,
        tables=tuple(table if t.name == table.name else t for t in desired.tables),
    )


def _date_filters(sql: str, date_column: str) -> list[exp.Expr]:
    """Every comparison in a WHERE or ON clause with the date column on one side."""
    tree = sqlglot.parse_one(sql, read="bigquery")
    clauses = [*tree.find_all(exp.Where), *(j.args["on"] for j in tree.find_all(exp.Join) if j.args.get("on"))]
    if isinstance(tree, exp.Merge):
        clauses.append(tree.args["on"])
    found = []
    for clause in clauses:
        for node in clause.find_all(exp.EQ, exp.GT, exp.GTE, exp.LT, exp.LTE):
            sides = (node.left, node.right)
            if any(isinstance(s, exp.Column) and s.name.lower() == date_column for s in sides):
                found.append(node)
    return found


@pytest.mark.parametrize("strategy", ["rollover", "in_place"])
def test_date_column_filters_are_constants_and_parameters_only(strategy: str) -> None:
    """BigQuery prunes partitions only when the date column is compared with a constant
    expression: literals, query parameters and functions of them, never another column or a
    subquery (https://cloud.google.com/bigquery/docs/querying-partitioned-tables#best_practices_for_partition_pruning)."""
    desired = _quota_definitions(strategy)
    table = desired.table("tenants", "tenant_usage_quotas")
    assert table is not None and table.quota is not None
    sql = render_reset(desired, table)
    checked = 0
    for statement in (sql.merge, sql.dedup, sql.status, sql.older):
        if statement is None:
            continue
        for node in _date_filters(statement, table.quota.date_column):
            (other,) = [s for s in (node.left, node.right) if not (isinstance(s, exp.Column) and s.name == "usage_date")]
            assert not list(other.find_all(exp.Column, exp.Select, exp.Subquery)), node.sql("bigquery")
            assert list(other.find_all(exp.Parameter, exp.Placeholder, exp.Literal)), node.sql("bigquery")
            checked += 1
    # rollover: the window (>= and <) in the MERGE and the status, the older stretch and lookup,
    # the run date in the ON clauses. in_place keeps one row per tenant, so it has no history to
    # prune and filters no scan by date.
    assert checked >= 8 if strategy == "rollover" else checked == 0
