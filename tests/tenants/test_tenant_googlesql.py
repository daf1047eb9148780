"""The statements of the tenant commands, analyzed by Google's GoogleSQL front end
(ZetaSQL) against a catalog built from the definitions, as tests/pipeline/test_googlesql.py does for the
rest: the registry's statements, and the reset's restricted to one tenant."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bqmanage.definitions.load import load_definitions
from bqmanage.model.schema import Definitions
from bqmanage.tenants import sql
from bqmanage.tenants.reset_sql import render_reset
from tests.googlesql import oracle

pytestmark = pytest.mark.googlesql

ROOT = Path(__file__).resolve().parents[2]
DAY = dt.date(2026, 11, 21)


def _definitions(strategy: str = "rollover") -> Definitions:
    desired = load_definitions(ROOT / "schemas")
    quotas = desired.table("tenants", "tenant_usage_quotas")
    assert quotas is not None and quotas.quota is not None
    # With require_partition_filter, so that the partition predicates are analyzed too.
    table = quotas.model_copy(
        update={"quota": quotas.quota.model_copy(update={"strategy": strategy}), "require_partition_filter": True}
    )
    tables = tuple(table if t.name == table.name else t for t in desired.tables)
    return Definitions(datasets=desired.datasets, digest=desired.digest, tables=tables)


def _analyze(statement: str, definitions: Definitions, params: dict[str, object]) -> None:
    oracle().analyze(statement, definitions, {k: v for k, v in params.items() if f"@{k}" in statement})


def test_registry_statements() -> None:
    definitions = _definitions()
    t = sql.tenant_tables(definitions, "my-project")
    limits = {sql.param(c): 5 for c in sql.LIMITS}
    params: dict[str, object] = {
        "tenant": "acme",
        "dataset_part": "acme",
        "run_date": DAY,
        sql.param(sql.NAME): "Acme Corp",
        sql.param("status"): "active",
        **limits,
    }
    statements = [
        sql.lookup_sql(t),
        sql.registry_row_sql(t),
        sql.registry_insert_sql(t, []),
        sql.registry_insert_sql(t, [sql.NAME, *sql.LIMITS]),
        sql.registry_dedup_sql(t),
        sql.registry_withdraw_sql(t),
        sql.quota_withdraw_sql(t),
        sql.confirm_sql(t),
        sql.registry_update_sql(t, list(sql.LIMITS)),
        sql.registry_update_sql(t, ["status"]),
        sql.quota_update_sql(t, list(sql.LIMITS)),
        sql.list_registry_sql(t),
        sql.list_usage_sql(t),
        sql.list_usage_sql(t, one_tenant=True),
    ]
    for statement in statements:
        _analyze(statement, definitions, params)


@pytest.mark.parametrize("strategy", ["rollover", "in_place"])
def test_reset_statements_restricted_to_one_tenant(strategy: str) -> None:
    definitions = _definitions(strategy)
    table = definitions.table("tenants", "tenant_usage_quotas")
    assert table is not None
    reset = render_reset(definitions, table, None, one_tenant=True)
    params = {
        "run_date": DAY,
        "tenant": "acme",
        "carry_tenants": ["acme"],
        "carry_from": dt.date(2026, 1, 1),
        "window_only": False,
    }
    for statement in (reset.merge, reset.dedup, reset.status, reset.older):
        if statement is not None:
            assert "@tenant" in statement or statement is reset.older
            _analyze(statement, definitions, params)
