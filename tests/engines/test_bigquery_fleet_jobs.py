"""check --all-tenants on the bigquery target reads the tenants' catalog in a number of jobs that
does not grow with the tenants: one region-qualified INFORMATION_SCHEMA job per location, by default.
bqemulator answers no region-qualified view, so there the datasets it showed nothing of are read
again from their own views (one job per 50 datasets): those jobs are labelled apart, and the
findings are the same (bqemulator through the counting proxy)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bqmanage.definitions.load import load_definitions
from bqmanage.engines.bq_catalog import CATALOG_BY_DATASET
from bqmanage.render import create_schema_sql, create_table_sql
from bqmanage.tenants.templates import for_tenants
from tests.faultproxy import FaultProxy
from tests.helpers import engine_for, run_cli

pytestmark = pytest.mark.emulator


@pytest.fixture
def proxy(emulator_url: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    proxy = FaultProxy(emulator_url)
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", proxy.url)
    monkeypatch.setenv("BQMANAGE_RETRY_DEADLINE", "60")
    yield proxy
    proxy.close()


def _tenants(project: str, tenants: list[str]) -> None:
    """The registry rows, and the tenants' datasets made with the DDL apply renders, in one script."""
    engine = engine_for(project)
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
    desired = for_tenants(load_definitions(Path("schemas")), tenants)
    statements = [create_schema_sql(d, project) for d in desired.datasets]
    statements += [create_table_sql(t, project) for t in desired.tables]
    engine.query(";\n".join(statements) + ";", label="test")
    engine.close()


def _catalog_jobs(proxy: FaultProxy) -> tuple[int, int]:
    """(region-qualified catalog jobs, dataset-qualified ones) that read the tenants' datasets."""
    jobs = [b for m, _, b in proxy.bodies if m == "POST" and b"INFORMATION_SCHEMA" in b and b"tenant_t0" in b]
    by_dataset = sum(CATALOG_BY_DATASET.encode() in b for b in jobs)
    return len(jobs) - by_dataset, by_dataset


def test_check_all_tenants_reads_the_catalog_in_one_region_qualified_job_however_many_tenants(proxy: FaultProxy) -> None:
    counts = {}
    for n in (3, 60):
        args = ["--target", "bigquery", "--project", f"fleet-jobs-{n}"]
        assert run_cli(*args, "apply").exit_code == 0
        _tenants(f"fleet-jobs-{n}", [f"t{i:03d}" for i in range(n)])
        proxy.reset()
        result = run_cli(*args, "check", "--all-tenants", "--format", "json")
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["tenants"] == {"checked": n, "failed": []}
        counts[n] = _catalog_jobs(proxy)
    # One region-qualified job each time; bqemulator's gap costs one job per 50 datasets read again.
    assert counts[3][0] == counts[60][0] == 1
    assert (counts[3][1], counts[60][1]) == (1, 2)
