"""Hundreds of tenants on the bigquery target (bqemulator through the fault proxy).

200 tenant datasets from the shipped template: a column missing from one tenant's table is exactly
one finding naming that tenant; the catalog is read in bulk (a few INFORMATION_SCHEMA jobs, not one
per tenant); with one tenant's dataset unreachable the other 199 are still checked (and applied),
the failure names that tenant and the exit code is 3.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bqmanage.definitions.load import load_definitions
from bqmanage.render import create_schema_sql, create_table_sql
from bqmanage.tenants.templates import for_tenants
from tests.faultproxy import Fault, FaultProxy
from tests.helpers import engine_for, run_cli

TENANTS = [f"t{i:04d}" for i in range(200)]
DRIFTED, UNREACHABLE = "t0007", "t0042"  # in the same batch of 50: the batch's failure must not hide the drift
DENIED = (403, "accessDenied", f"Access Denied: Dataset tenant_{UNREACHABLE}: Permission bigquery.tables.get denied")


def _two_hundred_tenants(project: str) -> None:
    """The registry rows in one INSERT, and the 200 datasets in a few script jobs, with the DDL apply
    renders (one apply per tenant would take minutes on bqemulator, whose writes are serial);
    DRIFTED's table is created without one column, as if someone had removed it."""
    engine = engine_for(project)
    engine.query(
        "INSERT INTO `tenants`.`tenant_profiles` (tenant_id, status, daily_limit, concurrent_limit, created_at) "
        "SELECT id, 'active', 100, 3, CURRENT_TIMESTAMP() FROM UNNEST(@ids) AS id",
        {"ids": TENANTS},
        label="test",
    )
    engine.query(  # and their members (tenants.tenant_members follows the registry)
        "INSERT INTO `tenants`.`tenant_members` (tenant_id, member) "
        "SELECT id, CONCAT(id, '-reader@example.com') FROM UNNEST(@ids) AS id",
        {"ids": TENANTS},
        label="test",
    )
    definitions = load_definitions(Path("schemas"))
    for first in range(0, len(TENANTS), 20):  # a script of 20 tenants stays well within the request timeout
        desired = for_tenants(definitions, TENANTS[first : first + 20])
        statements = [create_schema_sql(d, project) for d in desired.datasets]
        for table in desired.tables:
            if table.dataset == f"tenant_{DRIFTED}":
                table = table.model_copy(update={"columns": tuple(c for c in table.columns if c.name != "rows_processed")})
            statements.append(create_table_sql(table, project))
        engine.query(";\n".join(statements) + ";", label="test")
    engine.close()


@pytest.fixture
def proxy(emulator_url: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    proxy = FaultProxy(emulator_url)
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", proxy.url)
    monkeypatch.setenv("BQMANAGE_RETRY_DEADLINE", "60")  # bqemulator answers slowly while it reads 50 datasets' catalog
    monkeypatch.setenv("BQMANAGE_TENANT_WORKERS", os.environ.get("SCALE_WORKERS", "2"))
    # bqemulator works one request at a time: a check reading 200 tenants' catalog in one go sends
    # its per-50-datasets jobs side by side, and 8 queued behind each other outlast the deadline.
    monkeypatch.setenv("BQMANAGE_CONCURRENCY", os.environ.get("SCALE_WORKERS", "2"))
    yield proxy
    proxy.close()


def test_200_tenants_one_drifted_one_unreachable(proxy: FaultProxy) -> None:
    args = ["--target", "bigquery", "--project", "scale-project-200"]
    assert run_cli(*args, "apply").exit_code == 0
    _two_hundred_tenants("scale-project-200")

    proxy.bodies.clear()
    result = run_cli(*args, "check", "--all-tenants", "--format", "json")
    report = json.loads(result.stdout)
    assert result.exit_code == 1, result.stderr
    assert [(f["kind"], f["tenant"], f["dataset"], f["column"]) for f in report["findings"]] == [
        ("missing_column", DRIFTED, f"tenant_{DRIFTED}", "rows_processed")
    ]
    assert report["tenants"] == {"checked": 200, "failed": []}
    # In bulk: a few INFORMATION_SCHEMA jobs per 50 tenants (one per view), never one per tenant.
    bulk = [b for method, _, b in proxy.bodies if method == "POST" and b"INFORMATION_SCHEMA" in b and b"tenant_t0" in b]
    assert 4 <= len(bulk) <= 4 * 4
    # tables.get only to confirm the one drift INFORMATION_SCHEMA showed (it can lag behind DDL).
    gets = {p.split("?")[0] for m, p, _ in proxy.bodies if m == "GET" and "/datasets/tenant_t0" in p and "/tables/" in p}
    assert gets == {f"/bigquery/v2/projects/scale-project-200/datasets/tenant_{DRIFTED}/tables/pipeline_runs"}
    assert "[200/200] tenant " in result.stderr

    proxy.faults += [
        Fault("GET", re.compile(rf"/datasets/tenant_{UNREACHABLE}(/|\?|$)"), 10**6, DENIED),
        Fault("POST", re.compile(r"/(jobs|queries)(\?|$)"), 10**6, DENIED, body=re.compile(rf"tenant_{UNREACHABLE}\b")),
    ]
    result = run_cli(*args, "check", "--all-tenants", "--format", "json")
    report = json.loads(result.stdout)
    assert result.exit_code == 3, result.stderr
    assert [(f["kind"], f["tenant"]) for f in report["findings"]] == [("missing_column", DRIFTED)]
    assert report["tenants"]["checked"] == 199 and report["clean"] is False
    assert [(f["tenant"], f["exit_code"]) for f in report["tenants"]["failed"]] == [(UNREACHABLE, 3)]
    assert f"error: tenant {UNREACHABLE}: bigquery project scale-project-200" in result.stderr
    assert "Access Denied" in result.stderr and "Traceback" not in result.stderr

    # apply goes on past the unreachable tenant too, and fixes the drifted one.
    applied = run_cli(*args, "apply", "--all-tenants")
    assert applied.exit_code == 3, applied.stderr
    assert applied.stdout.splitlines()[-1] == (
        "Tenants (200 active tenant(s) in tenants.tenant_profiles): 1 changed (3 step(s)), 198 up to date, "
        f"1 failed: {UNREACHABLE} (exit 3)."
    )
    assert f"tenant {DRIFTED}: 3 step(s) applied" in applied.stderr
