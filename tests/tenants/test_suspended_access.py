"""A suspended tenant is declared no grant: ``tenant add`` and ``apply --tenant`` of it grant
nothing back, and ``check`` neither owes it the revoked entries (missing_grant) nor accepts one
granted again (unexpected_grant)."""

from __future__ import annotations

import json
from pathlib import Path

from bqmanage.engines.local import LocalEngine
from tests.helpers import engine_for, run_cli
from tests.tenants.test_tenant_access import PIPELINES, R, W, _access, _ready, _set_reader_group, _tenant


def test_a_suspended_tenant_gets_no_grant_back_from_add_apply_or_check(workdir: Path) -> None:
    _ready(None, workdir)
    _tenant(None, "add", "acme")
    _set_reader_group(None, "acme", "group:acme-readers@example.com")
    _tenant(None, "add", "acme")
    assert _tenant(None, "suspend", "acme")["datasets"] == [f"revoke 2 access entries on tenant_acme (revoke {R}, revoke {W})"]
    added = _tenant(None, "add", "acme")
    assert added["datasets"] == [] and added["status"] == "suspended"
    assert _access(None) == []
    applied = run_cli("apply", "--tenant", "acme")
    assert applied.exit_code == 0, applied.stderr
    assert "grant" not in applied.stdout
    assert _access(None) == []
    assert run_cli("plan", "--tenant", "acme").exit_code == 0
    assert run_cli("check", "--tenant", "acme").exit_code == 0  # the revoked entries are not missing
    engine = engine_for(None)
    assert isinstance(engine, LocalEngine)
    engine.con.execute(
        "INSERT INTO _bqmanage.dataset_access VALUES "
        "('tenant_acme', 'WRITER', 'serviceAccount:acme-pipelines@my-project.iam.gserviceaccount.com')"
    )
    engine.close()
    assert _access(None) == [PIPELINES]
    result = run_cli("check", "--tenant", "acme")
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert "unexpected_grant" in result.stdout + result.stderr
    assert _tenant(None, "resume", "acme")["datasets"] == [f"grant 1 access entry on tenant_acme (grant {R})"]
    assert run_cli("check", "--tenant", "acme").exit_code == 0


def _grant_by_hand(dataset: str, role: str, member: str) -> None:
    engine = engine_for(None)
    assert isinstance(engine, LocalEngine)
    engine.con.execute("INSERT INTO _bqmanage.dataset_access VALUES (?, ?, ?)", [dataset, role, member])
    engine.close()


def test_check_all_tenants_reports_a_grant_left_on_a_suspended_tenants_dataset(workdir: Path) -> None:
    _ready(None, workdir)
    _tenant(None, "add", "acme")
    _tenant(None, "add", "globex")
    _tenant(None, "suspend", "acme")
    assert run_cli("check", "--all-tenants").exit_code == 0  # suspended with nothing granted: clean
    # Access given back by hand (or left by another tool) while acme is suspended.
    _grant_by_hand("tenant_acme", "READER", "user:eve@example.com")
    result = run_cli("check", "--all-tenants", "--format", "json")
    assert result.exit_code == 1, result.stderr
    assert "Traceback" not in result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert [(f["kind"], f["tenant"], f["dataset"], f["actual"]) for f in findings] == [
        ("unexpected_grant", "acme", "tenant_acme", "READER user:eve@example.com")
    ]
    assert "(suspended)" in findings[0]["message"] and "still granted" in findings[0]["message"]
    text = run_cli("check", "--all-tenants")
    assert text.exit_code == 1
    assert "unexpected_grant  tenant acme (suspended): tenant_acme access: READER user:eve@example.com" in text.stdout
    # Only its grants: a suspended tenant's schema is left alone, as apply --all-tenants leaves it.
    engine = engine_for(None)
    assert isinstance(engine, LocalEngine)
    engine.con.execute("DROP TABLE tenant_acme.pipeline_runs")
    engine.close()
    assert [f["kind"] for f in json.loads(run_cli("check", "--all-tenants", "--format", "json").stdout)["findings"]] == [
        "unexpected_grant"
    ]
