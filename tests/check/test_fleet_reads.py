"""Many tenants, few catalog reads: plan, apply and check --all-tenants read the embedded engine's
catalog a number of times that does not grow with the tenants, check compares once, and creating
datasets keeps DuckDB's memory bounded (a checkpoint every CHECKPOINT_TABLES tables created)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import bqmanage.diff
import bqmanage.introspect
from bqmanage import api
from bqmanage.engines import duck_file
from bqmanage.engines.local import LocalEngine
from bqmanage.settings import resolve_settings
from bqmanage.tenants.scope import TenantScope


def _register(engine: LocalEngine, tenants: list[str]) -> None:
    engine.query(
        "INSERT INTO `tenants`.`tenant_profiles` (tenant_id, status, daily_limit, concurrent_limit, created_at) "
        "SELECT id, 'active', 100, 3, CURRENT_TIMESTAMP() FROM UNNEST(@ids) AS id",
        {"ids": tenants},
        label="test",
    )
    engine.query(  # and their members (tenants.tenant_members follows the registry)
        "INSERT INTO `tenants`.`tenant_members` (tenant_id, member) "
        "SELECT id, CONCAT(id, '-reader@example.com') FROM UNNEST(@ids) AS id",
        {"ids": tenants},
        label="test",
    )


@contextmanager
def _statements(engine: LocalEngine) -> Iterator[list[str]]:
    """Every DuckDB statement the engine runs meanwhile (the real engine answers each)."""
    sent: list[str] = []
    real = engine._x

    def spy(sql: str, params: Any = None, names: Any = None) -> Any:
        sent.append(sql)
        return real(sql, params) if names is None else real(sql, params, names)

    engine._x = spy  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        del engine._x


def _catalog_reads(sent: list[str]) -> int:
    """Statements that enumerate the whole DuckDB catalog (each costs in proportion to it)."""
    return sum(any(f in s for f in ("duckdb_columns()", "duckdb_tables()", "duckdb_schemas()")) for s in sent)


def _reads_per_command(workdir: Path, tenants: int) -> dict[str, int]:
    settings = resolve_settings(schemas=str(workdir / "schemas"))
    engine = LocalEngine(workdir / f"fleet{tenants}.duckdb")
    try:
        api.apply(settings, engine)
        _register(engine, [f"t{i:03d}" for i in range(tenants)])
        reads: dict[str, int] = {}
        for name, run in (
            ("create", lambda: api.apply(settings, engine, scope=TenantScope.all())),
            ("no-op apply", lambda: api.apply(settings, engine, scope=TenantScope.all())),
            ("plan", lambda: api.make_plan(settings, engine, scope=TenantScope.all())),
            ("check", lambda: api.check(settings, engine, scope=TenantScope.all())),
        ):
            engine._forget()  # each command starts as a new process would, with nothing kept
            with _statements(engine) as sent:
                outcome = run()
            assert not getattr(outcome, "failed", []) and all(o.error is None for o in outcome.tenants)
            reads[name] = _catalog_reads(sent)
        return reads
    finally:
        engine.close()


def test_all_tenants_commands_read_the_catalog_as_often_for_12_tenants_as_for_2(workdir: Path) -> None:
    few, many = _reads_per_command(workdir, 2), _reads_per_command(workdir, 12)
    assert many == few, (few, many)
    assert few["no-op apply"] <= 8 and few["check"] <= 8  # the fixed datasets' read, then the tenants'


def test_check_compares_the_warehouse_once(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = resolve_settings(schemas=str(workdir / "schemas"))
    engine = LocalEngine(workdir / "once.duckdb")
    calls: list[object] = []
    real = bqmanage.diff.compare_by_place

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("only"))
        return real(*args, **kwargs)

    try:
        api.apply(settings, engine)
        monkeypatch.setattr(bqmanage.introspect, "compare_by_place", counted)
        monkeypatch.setattr(bqmanage.diff, "compare_by_place", counted)  # compare() goes through it too
        result = api.check(settings, engine)
    finally:
        engine.close()
    assert result.clean
    assert calls == [None]  # one comparison of everything; nothing was re-read to compare again


def test_creating_many_tables_checkpoints_so_that_memory_stays_evictable(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(duck_file, "CHECKPOINT_TABLES", 4)
    monkeypatch.setattr(duck_file, "CHECKPOINT_SHARE", 1000)  # a fixed cadence here
    settings = resolve_settings(schemas=str(workdir / "schemas"))
    engine = LocalEngine(workdir / "ckpt.duckdb")
    try:
        api.apply(settings, engine)
        _register(engine, [f"t{i:03d}" for i in range(6)])
        with _statements(engine) as sent:
            api.apply(settings, engine, scope=TenantScope.all())  # 6 tenants: 12 tables with their ledgers
        # 3 tables from the fixed apply, then 12: a checkpoint at the 4th, 8th and 12th.
        assert sent.count("CHECKPOINT") == 3
        assert api.check(settings, engine, scope=TenantScope.all()).clean
    finally:
        engine.close()


def test_checkpoints_grow_apart_as_the_catalog_grows(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkpoint writes the whole catalog: at a fixed cadence each tenant created cost more
    than the one before. The cadence follows the catalog (a share of its tables), up to a cap."""
    monkeypatch.setattr(duck_file, "CHECKPOINT_TABLES", 2)
    monkeypatch.setattr(duck_file, "CHECKPOINT_SHARE", 2)
    monkeypatch.setattr(duck_file, "CHECKPOINT_TABLES_MAX", 1000)
    settings = resolve_settings(schemas=str(workdir / "schemas"))
    engine = LocalEngine(workdir / "ckpt.duckdb")
    try:
        api.apply(settings, engine)
        _register(engine, [f"t{i:03d}" for i in range(12)])
        with _statements(engine) as sent:
            api.apply(settings, engine, scope=TenantScope.all())  # 12 tenants: 24 tables with their ledgers
        # Every 2nd table would be 12 checkpoints; half the catalog apart, they thin out as it grows.
        assert 2 <= sent.count("CHECKPOINT") <= 12 // 2
        assert api.check(settings, engine, scope=TenantScope.all()).clean
    finally:
        engine.close()
