"""audit-code at scale, counted in work rather than seconds: what depends only on a SELECT (its
sources, its aliases) is computed once per scope, not once per column it names."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bqmanage.codeaudit import sql
from bqmanage.codeaudit.refs import LegacyIndex
from bqmanage.codeaudit.sql import SqlglotAnalyzer
from bqmanage.definitions.load import load_definitions
from bqmanage.settings import LegacyConfig

ROOT = Path(__file__).resolve().parents[2]
INDEX = LegacyIndex(load_definitions(ROOT / "schemas"), LegacyConfig().datasets, LegacyConfig().prefixes)


def counted(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[int]:
    """Wrap owner.name so every call is counted; returns the one-element counter."""
    calls = [0]
    original: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)
    return calls


def select_of(n: int) -> str:
    return "SELECT " + ", ".join(f"nosuch{i}" for i in range(n)) + " FROM tenants.tenant_profiles"


@pytest.mark.parametrize("n", [200, 400])
def test_scope_work_is_once_per_statement_not_per_column(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    aliases = counted(monkeypatch, sql, "_aliases")
    known: list[int] = [0]
    analyzer = SqlglotAnalyzer(INDEX)
    original_known = analyzer._known

    def counting_known(table: Any) -> Any:
        known[0] += 1
        return original_known(table)

    monkeypatch.setattr(analyzer, "_known", counting_known)
    issues = analyzer.check(select_of(n))
    assert issues is not None
    assert len([i for i in issues if i.kind == "unknown_column_reference"]) == n
    # One SELECT, one table: constant, whatever the number of columns it names.
    assert aliases[0] == 1
    assert known[0] == 1


JOINED = (
    "SELECT p.tenant_id, tenant_nme, p.statuss, q.anything, daily_limit * 2 AS doubled "
    "FROM tenants.tenant_profiles p JOIN tenants.tenant_usage_quotas q USING (tenant_id) "
    "WHERE p.tenant_id IN (SELECT tenant_id FROM tenants.tenant_profiles WHERE nosuch = 1) "
    "ORDER BY doubled"
)


@pytest.mark.parametrize(
    "text,expected",
    [
        (
            JOINED,
            [
                ("tenant_profiles", "tenant_nme", "tenant_name", 20),
                ("tenant_profiles", "statuss", "status", 34),
                ("tenant_usage_quotas", "anything", None, 45),
                ("tenant_profiles", "nosuch", None, 240),
            ],
        ),
        (
            "INSERT INTO tenants.tenant_profiles (tenant_id, statuz, _partitiontime) VALUES ('a', 'b', NULL)",
            [("tenant_profiles", "statuz", "status", 48)],
        ),
        (
            "UPDATE tenants.tenant_profiles SET statuz = 'x' WHERE tenant_idd = %s AND status = :st",
            [("tenant_profiles", "statuz", "status", 35), ("tenant_profiles", "tenant_idd", "tenant_id", 54)],
        ),
    ],
)
def test_column_findings_are_the_same_with_per_scope_work(text: str, expected: list[tuple[Any, ...]]) -> None:
    """A SELECT alias in ORDER BY, a JOIN's second table, a subquery's own scope, an INSERT column
    list with a pseudo-column and placeholders made parameters all resolve as before."""
    issues = SqlglotAnalyzer(INDEX).check(sql.with_parameters(text, ()))
    assert issues is not None
    assert [(i.table, i.actual, i.expected, i.start) for i in issues if i.kind == "unknown_column_reference"] == expected
    assert all(text[i.start : i.start + len(i.actual or "")] == i.actual for i in issues)
