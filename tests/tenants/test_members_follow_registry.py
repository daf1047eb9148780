"""The members table is bqmanage's derived state: exactly the rows the registry derives. ``check``
reports an active tenant's missing row (missing_grant) and a row the registry does not derive
(unexpected_grant: a suspended tenant's, or one added by hand), and ``apply`` restores it, once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bqmanage.engines.local import LocalEngine
from tests.helpers import engine_for, run_cli, target_args

MEMBERS = "`tenants`.`tenant_members`"


def _sql(project: str | None, sql: str) -> list[dict[str, Any]]:
    engine = engine_for(project)
    try:
        return engine.query(sql)
    finally:
        if isinstance(engine, LocalEngine):
            engine.close()


def _members(project: str | None) -> list[tuple[str, str]]:
    return [(r["tenant_id"], r["member"]) for r in _sql(project, f"SELECT tenant_id, member FROM {MEMBERS} ORDER BY 1, 2")]


def _findings(project: str | None, *args: str) -> tuple[int, list[tuple[str, str | None, str | None]]]:
    result = run_cli(*target_args(project), "check", *args, "--format", "json")
    assert "Traceback" not in result.stderr
    found = json.loads(result.stdout)["findings"]
    members = [
        (f["kind"], f.get("tenant"), f.get("expected") or f.get("actual")) for f in found if f.get("table") == "tenant_members"
    ]
    return result.exit_code, members


def test_a_missing_row_is_reported_and_restored_and_a_suspended_tenants_row_removed(project: str | None, workdir: Path) -> None:
    args = target_args(project)
    assert run_cli(*args, "apply").exit_code == 0
    for tenant in ("t0", "t1"):
        assert run_cli(*args, "tenant", "add", tenant).exit_code == 0
    assert run_cli(*args, "tenant", "suspend", "t1").exit_code == 0
    _sql(project, f"DELETE FROM {MEMBERS} WHERE tenant_id = 't0'")
    _sql(project, f"INSERT INTO {MEMBERS} (tenant_id, member) VALUES ('t1', 't1-reader@example.com')")

    code, found = _findings(project, "--all-tenants")
    assert code == 1
    assert found == [("missing_grant", "t0", "t0-reader@example.com"), ("unexpected_grant", "t1", "t1-reader@example.com")]
    assert _findings(project, "--tenant", "t0") == (1, [("missing_grant", "t0", "t0-reader@example.com")])

    applied = run_cli(*args, "apply", "--all-tenants")
    assert applied.exit_code == 0, applied.stderr
    assert "Row access: restored member t0-reader@example.com of tenant t0 in tenants.tenant_members." in applied.stdout
    assert "Row access: removed member t1-reader@example.com of tenant t1 from tenants.tenant_members" in applied.stdout
    assert _members(project) == [("t0", "t0-reader@example.com")]
    again = run_cli(*args, "apply", "--all-tenants")
    assert again.exit_code == 0 and "Row access:" not in again.stdout
    assert _findings(project, "--all-tenants") == (0, [])


def test_a_row_added_by_hand_is_reported_and_apply_removes_it(workdir: Path) -> None:
    assert run_cli("apply").exit_code == 0
    for tenant in ("acme", "globex"):
        assert run_cli("tenant", "add", tenant).exit_code == 0
    _sql(None, f"INSERT INTO {MEMBERS} VALUES ('acme', 'globex-reader@example.com')")
    checked = run_cli("check", "--isolation")
    assert checked.exit_code == 1
    assert "isolation_leak" in checked.stdout and "unexpected_grant" in checked.stdout
    assert "globex-reader@example.com is a member, which the registry does not derive" in checked.stdout

    applied = run_cli("apply")
    assert applied.exit_code == 0, applied.stderr
    assert "Row access: removed member globex-reader@example.com of tenant acme" in applied.stdout
    assert _members(None) == [("acme", "acme-reader@example.com"), ("globex", "globex-reader@example.com")]
    assert run_cli("check", "--isolation").exit_code == 0
    assert run_cli("tenant", "suspend", "globex").exit_code == 0
    assert ("acme", "globex-reader@example.com") not in _members(None)
    assert run_cli("check", "--isolation", "--all-tenants").exit_code == 0
