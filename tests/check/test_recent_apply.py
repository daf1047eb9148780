"""``check`` right after an apply: INFORMATION_SCHEMA may not show a schema change yet (BigQuery
documents only that it may lag; tables.get is the immediate truth), so the tables of datasets the
ledger says bqmanage changed within the staleness window are read with tables.get; the others are
trusted. Counted at the proxy in front of bqemulator, whose COLUMNS view really does lag an ALTER."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.faultproxy import FaultProxy
from tests.helpers import engine_for, run_cli, target_args, write

pytestmark = pytest.mark.emulator

_TABLE = "columns:\n  - {name: id, type: STRING, mode: REQUIRED}\n  - {name: n, type: INT64}\n"


def _schemas(workdir: Path) -> None:
    shutil.rmtree(workdir / "schemas")
    for dataset in ("alpha", "beta"):
        write(workdir / "schemas" / dataset / "_dataset.yaml", "description: test\n")
        for table in ("one", "two"):
            write(workdir / "schemas" / dataset / f"{table}.yaml", _TABLE)


def _age(project: str, dataset: str) -> None:
    """Make the dataset's ledger say its last apply was two hours ago."""
    engine = engine_for(project)
    try:
        engine.query(
            f"UPDATE `{dataset}`.`_bqmanage_migrations` SET applied_at = TIMESTAMP_SUB(applied_at, INTERVAL 2 HOUR) WHERE TRUE"
        )
    finally:
        engine.close()


def _tables_read(proxy: FaultProxy) -> list[str]:
    """dataset.table of every tables.get bqmanage sent for a defined table (not a ledger)."""
    out = []
    for method, path, _ in proxy.bodies:
        parts = urlsplit(path).path.split("/")
        if method == "GET" and "tables" in parts and parts.index("tables") == len(parts) - 2:
            dataset, table = parts[parts.index("datasets") + 1], parts[-1]
            if not table.startswith("_bqmanage"):
                out.append(f"{dataset}.{table}")
    return sorted(out)


def test_check_reads_with_tables_get_only_the_tables_of_a_recent_apply(proxy: FaultProxy, workdir: Path) -> None:
    project = "recent-apply"
    _schemas(workdir)
    assert run_cli(*target_args(project), "apply").exit_code == 0
    _age(project, "beta")
    proxy.reset()
    assert run_cli(*target_args(project), "check").exit_code == 0
    assert _tables_read(proxy) == ["alpha.one", "alpha.two"]
    _age(project, "alpha")
    proxy.reset()
    assert run_cli(*target_args(project), "check").exit_code == 0
    assert _tables_read(proxy) == []


def test_a_catalog_that_still_agrees_with_reverted_definitions_is_not_believed(proxy: FaultProxy, workdir: Path) -> None:
    """bqemulator's COLUMNS view does not show a column ALTER added. Apply adds one, the
    definitions are reverted: the view agrees with them, tables.get does not, and check says so."""
    project = "recent-revert"
    _schemas(workdir)
    assert run_cli(*target_args(project), "apply").exit_code == 0
    table = workdir / "schemas" / "alpha" / "one.yaml"
    write(table, _TABLE + "  - {name: added, type: STRING}\n")
    assert run_cli(*target_args(project), "apply").exit_code == 0
    write(table, _TABLE)
    result = run_cli(*target_args(project), "check")
    assert result.exit_code == 1 and "alpha.one" in result.stdout and "added" in result.stdout, result.stdout
