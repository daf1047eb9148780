"""A suspended tenant is declared no grant: ``tenant add`` and ``apply --tenant`` of it grant
nothing back, and ``check`` neither owes it the revoked entries (missing_grant) nor accepts one
granted again (unexpected_grant)."""

from __future__ import annotations

from pathlib import Path

from bqmanage.engines.local import LocalEngine
from tests.helpers import engine_for, run_cli
from tests.tenants.test_tenant_access import PIPELINES, _access, _ready, _set_reader_group, _tenant


def test_a_suspended_tenant_gets_no_grant_back_from_add_apply_or_check(workdir: Path) -> None:
    _ready(None, workdir)
    _tenant(None, "add", "acme")
    _set_reader_group(None, "acme", "group:acme-readers@example.com")
    _tenant(None, "add", "acme")
    assert _tenant(None, "suspend", "acme")["datasets"] == ["revoke 2 access entries on tenant_acme"]
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
    assert _tenant(None, "resume", "acme")["datasets"] == ["grant 1 access entry on tenant_acme"]
    assert run_cli("check", "--tenant", "acme").exit_code == 0
