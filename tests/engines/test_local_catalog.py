"""The local engine reads its catalog in bulk, a bounded number of times per command.

The resources it hands out are exactly those of the per-table reads it replaced:
``tests/golden/local_resources.json`` was written by that implementation (main at 6cd2959, with
``PYTHONPATH=<checkout> python tests/engines/test_local_catalog.py OUT``) on the warehouse ``build_warehouse`` makes, which
holds every type and option of the kitchen fixture, drift made behind bqmanage's back, rows,
deleted rows and a table the side tables do not know. Rewritten once since, when datasets gained
their ``access`` list and the registry its ``reader_group`` column: those were the only differences.
``lastModifiedTime`` is a clock reading,
so only its presence is compared.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from bqmanage import api
from bqmanage.engines import Engine, duck_types
from bqmanage.engines.local import LocalEngine
from bqmanage.model import rest
from bqmanage.model.names import RESERVED_PREFIX
from bqmanage.model.rest import ROW_ACCESS_KEY
from bqmanage.settings import resolve_settings
from tests import seed
from tests.helpers import engine_for, write

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "local_resources.json"
KITCHEN = ROOT / "tests" / "fixtures" / "everything" / "kitchen"

# Drift a person or another tool could make in DuckDB itself, each read back differently.
_BEHIND_ITS_BACK = (
    "ALTER TABLE kitchen.by_day ALTER COLUMN n SET DEFAULT 7",  # the side table's default is no longer believed
    "COMMENT ON COLUMN kitchen.by_day.day IS 'changed by hand'",
    "ALTER TABLE kitchen.by_range ALTER COLUMN bucket DROP NOT NULL",
    "ALTER TABLE kitchen.by_ingestion ADD COLUMN extra VARCHAR",
    "ALTER TABLE tenants.tenant_usage_quotas ALTER COLUMN total_storage_used_gb SET DATA TYPE DOUBLE",
    "CREATE SCHEMA customers",
    "CREATE TABLE customers.customer_usage_quotas (tenant_id VARCHAR NOT NULL, n BIGINT DEFAULT 1, s STRUCT(a INT, b VARCHAR[]))",
    "INSERT INTO customers.customer_usage_quotas VALUES ('a', 1, NULL), ('b', 2, {'a': 1, 'b': ['x']})",
    "INSERT INTO kitchen.by_day (day, n) SELECT DATE '2026-01-01' + CAST(i AS INTEGER), i FROM range(10) t(i)",
    "DELETE FROM kitchen.by_day WHERE n < 3",
)


def build_warehouse() -> None:
    """In the current directory (a copy of the production definitions): apply them with the
    kitchen fixture, add rows, then drift by hand."""
    shutil.copytree(KITCHEN, Path("schemas") / "kitchen")
    settings = resolve_settings()
    engine = engine_for(None)
    try:
        api.apply(settings, engine)
        seed.insert_old_rows(engine)
        engine.query("INSERT INTO `tenants`.`tenant_profiles` (tenant_id, tenant_name) VALUES ('t1', 'One'), ('t2', NULL)")
    finally:
        engine.close()
    engine = engine_for(None)
    assert isinstance(engine, LocalEngine)
    try:
        for statement in _BEHIND_ITS_BACK:
            engine.con.execute(statement)
    finally:
        engine.close()


NEWER = "tenants.tenant_members"


def _stable(resource: dict[str, Any] | None) -> dict[str, Any] | None:
    if resource is None:
        return None
    out = json.loads(json.dumps(resource))
    # The row access policies read beside each table are newer than the golden (their own tests:
    # tests/check/test_isolation.py).
    out.pop(ROW_ACCESS_KEY, None)
    if "lastModifiedTime" in out:
        out["lastModifiedTime"] = "<set>"
    return out


def dump(engine: Engine) -> dict[str, Any]:
    """Every dataset and table the engine lists, one resource at a time, plus absent ones."""
    datasets: dict[str, Any] = {}
    tables: dict[str, Any] = {}
    for dataset in [*engine.list_datasets(), "no_such_dataset"]:
        datasets[dataset] = engine.read_datasets_exact([dataset])[dataset]
        for table in [*engine.list_tables(dataset), "no_such_table"]:
            tables[f"{dataset}.{table}"] = _stable(engine.get_table(dataset, table))
    return {"datasets": datasets, "tables": tables}


@pytest.fixture
def warehouse(workdir: Path) -> Path:
    build_warehouse()
    return workdir


def test_resources_are_those_of_the_per_table_reads(warehouse: Path) -> None:
    golden = json.loads(GOLDEN.read_text())
    engine = engine_for(None)
    dumped = dump(engine)
    # The row access members table is newer than the golden; it is read as every other table.
    assert dumped["tables"].pop(NEWER) is not None
    assert dumped == golden
    # In bulk, from a fresh engine: the same resources.
    fresh = engine_for(None)
    keys = [tuple(k.split(".", 1)) for k in golden["tables"]]
    bulk = fresh.get_tables([(d, t) for d, t in keys])
    assert {k: _stable(v) for k, v in bulk.items()} == golden["tables"]
    # plan's and apply's read (read_live): the same resources without row counts, which need every
    # table read; asked for afterwards, they are read.
    bare = engine_for(None)
    uncounted = bare.get_tables([(d, t) for d, t in keys], counts=False)
    assert {k: _stable(v) for k, v in uncounted.items()} == {
        k: None if v is None else {name: value for name, value in v.items() if name != "numRows"}
        for k, v in golden["tables"].items()
    }
    assert _stable(bare.get_table("kitchen", "by_day")) == golden["tables"]["kitchen.by_day"]
    assert fresh.read_datasets_exact(list(golden["datasets"])) == golden["datasets"]
    # check's bulk read: every table of the datasets but bqmanage's own ledger, without row
    # counts (as BigQuery's INFORMATION_SCHEMA read has none)...
    reader = engine_for(None)
    catalog = reader.read_catalog({"kitchen": None, "tenants": None, "customers": None})
    expected = {
        k: {name: value for name, value in v.items() if name != "numRows"}
        for k, v in golden["tables"].items()
        if v is not None and k.split(".")[0] in ("kitchen", "tenants", "customers") and RESERVED_PREFIX not in k
    }
    assert {k: _stable(v) for k, v in catalog.items() if k != NEWER} == expected
    # ...and what get_table hands out afterwards still has them.
    assert _stable(reader.get_table("tenants", "tenant_profiles")) == golden["tables"]["tenants.tenant_profiles"]


class _Counting:
    """The engine's DuckDB connection, noting every statement it is given."""

    def __init__(self, con: Any, log: list[str]) -> None:
        self._con, self._log = con, log

    def execute(self, sql: str, *args: Any) -> Any:
        self._log.append(sql)
        return self._con.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def _tenants(count: int) -> None:
    for d in range(count):
        for t in range(3):
            write(
                Path(f"schemas/team_{d:03d}/events_{t}.yaml"),  # not tenant_*: the shipped template names those
                "partitioning: {column: day}\ncolumns:\n  - {name: id, type: STRING, mode: REQUIRED}\n"
                "  - {name: day, type: DATE}\n  - {name: n, type: INT64, default: 0}\n",
            )


_CATALOG_READS = (
    "duckdb_tables()",
    "duckdb_columns()",
    "duckdb_schemas()",
    f"{RESERVED_PREFIX}.tables",
    f"{RESERVED_PREFIX}.columns",
)


def _statements(command: str) -> list[str]:
    engine = engine_for(None)
    assert isinstance(engine, LocalEngine)
    sent: list[str] = []
    engine.con = _Counting(engine.con, sent)  # type: ignore[assignment]
    settings = resolve_settings()
    try:
        if command == "check":
            assert api.check(settings, engine).clean
        elif command == "apply":
            assert not api.apply(settings, engine).planned.plan.steps
        else:
            assert not api.make_plan(settings, engine).plan.steps
    finally:
        engine.close()
    return sent


def test_catalog_reads_per_command_do_not_grow_with_the_warehouse(workdir: Path) -> None:
    counts: dict[tuple[str, int], list[str]] = {}
    for size in (2, 12):
        _tenants(size)
        assert api.apply(resolve_settings(), engine_for(None)).result is not None
        for command in ("check", "plan", "apply"):
            counts[(command, size)] = _statements(command)
    for (command, size), sent in counts.items():
        for view in _CATALOG_READS:
            # duckdb_schemas() also answers once whether the side schema exists, at connect.
            limit = 2 if view == "duckdb_schemas()" else 1
            assert sum(view in s for s in sent) <= limit, (command, size, view, sent)
    # The same number of statements at 12 tenant datasets as at 2: plan reads every ledger in one
    # statement, and check the ledgers that can owe a backfill (pending_backfill) in one too.
    assert len(counts[("check", 12)]) == len(counts[("check", 2)])
    assert len(counts[("plan", 12)]) == len(counts[("plan", 2)])
    assert len([s for s in counts[("check", 12)] if "_migrations" in s]) == 1
    assert len([s for s in counts[("plan", 12)] if "_migrations" in s]) == 1
    # Neither counts rows: a count(*) per table was a sixth of check's reading and a third of
    # plan's catalog read, and nothing compares it.
    assert not [s for s in counts[("check", 12)] + counts[("plan", 12)] if "count(*)" in s]
    # A no-op apply shows no history: of each ledger it reads the newest outcome, no whole row.
    ledger_reads = [s for s in counts[("apply", 12)] if "_migrations" in s]
    assert len(ledger_reads) == 1 and "outcome" in ledger_reads[0] and "principal" not in ledger_reads[0]


def test_columns_read_back_are_built_once_per_distinct_column(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tenants repeat the same columns: check builds each distinct one once, whatever the number
    of datasets (building a Column per column read cost more than comparing it)."""
    built: dict[int, int] = {}
    real = rest._column_from_api

    def counted(field: dict[str, Any]) -> Any:
        built[size] = built.get(size, 0) + 1
        return real(field)

    monkeypatch.setattr(rest, "_column_from_api", counted)
    for size in (2, 12):
        _tenants(size)
        assert api.apply(resolve_settings(), engine_for(None)).result is not None
        monkeypatch.setattr(rest, "_COLUMNS", {})  # what apply read is not check's
        duck_types._spelled_duck_type.cache_clear()  # nor the side spellings it checked
        built[size] = 0
        engine = engine_for(None)
        try:
            assert api.check(resolve_settings(), engine).clean
        finally:
            engine.close()
    assert built[12] == built[2] > 0


def test_a_shared_side_value_is_spelled_once_and_another_value_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """The catalog read shares one parsed side value per distinct text: its spelling is looked up by
    identity, and a value that is not the same object (whatever it holds) is spelled from its text."""
    types = duckdb.connect().type
    dumped: list[Any] = []
    real = json.dumps
    monkeypatch.setattr(duck_types.json, "dumps", lambda value: dumped.append(value) or real(value))
    shared = {"type": "NUMERIC", "precision": "10", "scale": "2"}
    read = [duck_types.field_from_duck("gb", types("DECIMAL(10,2)"), {"gb": shared}, "gb") for _ in range(3)]
    assert read == [{"type": "NUMERIC", "precision": "10", "scale": "2", "name": "gb", "mode": "NULLABLE"}] * 3
    assert len(dumped) == 1
    other = {"type": "NUMERIC", "precision": "12", "scale": "2"}  # now wrong for the physical type
    assert duck_types.field_from_duck("gb", types("DECIMAL(10,2)"), {"gb": other}, "gb")["precision"] == "10"
    assert len(dumped) == 2


def test_writes_are_seen_by_the_next_read(workdir: Path) -> None:
    """What the engine keeps of the catalog goes with any statement that may change it."""
    engine = engine_for(None)
    assert engine.list_datasets() == []
    assert api.apply(resolve_settings(), engine).result is not None  # through the same engine
    assert engine.list_tables("tenants") == ["_bqmanage_migrations", "tenant_members", "tenant_profiles", "tenant_usage_quotas"]
    before = engine.get_table("tenants", "tenant_profiles")
    assert before is not None and before["numRows"] == "0"
    engine.query("INSERT INTO `tenants`.`tenant_profiles` (tenant_id) VALUES ('t1')")
    after = engine.get_table("tenants", "tenant_profiles")
    assert after is not None and after["numRows"] == "1"
    engine.query("CREATE TABLE `tenants`.`extra` (x INT64)")
    assert "extra" in engine.list_tables("tenants")
    assert engine.get_table("tenants", "extra") is not None


if __name__ == "__main__":
    # Writes the golden file from whichever bqmanage is importable: run in a scratch directory.
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        shutil.copytree(ROOT / "schemas", "schemas")
        build_warehouse()
        Path(sys.argv[1]).write_text(json.dumps(dump(engine_for(None)), indent=1, sort_keys=True) + "\n")
