"""check --all-tenants reports the registry rows it cannot take as written (a status that is
'active' but for case or spaces, a tenant listed twice) as registry_row_invalid, instead of
skipping those tenants without a word; tenant list shows such a status escaped, as written."""

from __future__ import annotations

import json
from pathlib import Path

from bqmanage.check.findings import FINDING_KINDS, SEVERITY
from tests.helpers import engine_for, run_cli

P = "`tenants`.`tenant_profiles`"
ROOT = Path(__file__).resolve().parents[2]


def _registry_with_bad_rows() -> None:
    assert run_cli("apply").exit_code == 0
    for tenant in ("s1", "s2", "s3", "s4"):
        assert run_cli("tenant", "add", tenant).exit_code == 0
    engine = engine_for(None)
    try:
        engine.query(f"UPDATE {P} SET status = 'Active' WHERE tenant_id = 's1'")
        engine.query(f"UPDATE {P} SET status = 'active ' WHERE tenant_id = 's2'")
        engine.query(f"INSERT INTO {P} (tenant_id, status) VALUES ('s4', 'active')")
    finally:
        engine.close()


def test_check_all_tenants_reports_each_bad_registry_row(workdir: Path) -> None:
    _registry_with_bad_rows()
    result = run_cli("check", "--all-tenants", "--format", "json")
    assert result.exit_code == 1, result.stderr
    found = [f for f in json.loads(result.stdout)["findings"] if f["kind"] == "registry_row_invalid"]
    by_tenant = {f["tenant"]: f for f in found}
    assert sorted(by_tenant) == ["s1", "s2", "s4"] and len(found) == 3
    assert by_tenant["s1"]["actual"] == "Active" and by_tenant["s2"]["actual"] == "active "
    assert "'active '" in by_tenant["s2"]["message"] and "skips it" in by_tenant["s2"]["message"]
    assert "listed 2 times" in by_tenant["s4"]["message"]
    assert all(f["severity"] == "error" and f["table"] == "tenant_profiles" for f in found)
    text = run_cli("check", "--all-tenants")
    assert text.exit_code == 1 and text.stdout.count("registry_row_invalid") == 3


def test_a_clean_registry_has_no_such_finding(workdir: Path) -> None:
    assert run_cli("apply").exit_code == 0
    assert run_cli("tenant", "add", "s1").exit_code == 0
    assert "registry_row_invalid" not in run_cli("check", "--all-tenants").stdout


def test_tenant_list_shows_a_status_escaped_as_written(workdir: Path) -> None:
    _registry_with_bad_rows()
    result = run_cli("tenant", "list")
    assert result.exit_code == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:] if line.startswith("s")}
    assert "'active '" in rows["s2"] and "'Active'" not in rows["s2"]
    assert rows["s3"].split()[1] == "active"


def test_the_kind_is_in_the_documented_vocabulary() -> None:
    assert "registry_row_invalid" in FINDING_KINDS and SEVERITY["registry_row_invalid"] == "error"
    assert '"registry_row_invalid"' in (ROOT / "deployment" / "findings.schema.json").read_text()
    assert "registry_row_invalid" in (ROOT / "docs" / "check.md").read_text()
