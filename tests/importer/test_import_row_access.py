"""Import of isolation on the local engine: bqmanage's row access policies import as the table's
``row_access`` (its member read from the members table), hand-made policies are named and left to
their owner, and policy tags import as ``policy_tags``; ``check`` finds the imported definitions clean."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import yaml

from tests.helpers import run_cli, write

TAG = "projects/p1/locations/eu/taxonomies/111/policyTags/222"


def test_isolation_policies_and_tags_made_by_hand_import_to_definitions_check_finds_clean(workdir: Path) -> None:
    write(
        workdir / "schemas" / "crm" / "customers.yaml",
        f"columns:\n  - {{name: id, type: STRING, mode: REQUIRED}}\n  - {{name: email, type: STRING, policy_tags: [{TAG}]}}\n",
    )
    assert run_cli("apply").exit_code == 0
    for tenant in ("acme", "globex"):
        assert run_cli("tenant", "add", tenant).exit_code == 0
    # A policy of someone else's, made by hand beside bqmanage's.
    con = duckdb.connect(".bqmanage/local.duckdb")
    try:
        con.execute(
            "INSERT INTO _bqmanage.row_access_policies VALUES ('tenants', 'tenant_usage_quotas', 'auditors', 'TRUE', ?)",
            [json.dumps(["group:auditors@example.com"])],
        )
    finally:
        con.close()

    result = run_cli("import", "--all", "--out", "imported")
    assert result.exit_code == 0, result.stderr
    assert "tenants.tenant_usage_quotas: row access policies auditors are not bqmanage's; left to their owner" in result.stdout
    quotas = yaml.safe_load(Path("imported/tenants/tenant_usage_quotas.yaml").read_text())
    assert quotas["row_access"] == {
        "tenant_column": "tenant_id",
        "members": "tenants.tenant_members",
        "member": "{tenant}-reader@example.com",
    }
    customers = yaml.safe_load(Path("imported/crm/customers.yaml").read_text())
    assert customers["columns"][1]["policy_tags"] == [TAG]
    check = run_cli("--schemas", "imported", "check")
    assert check.exit_code == 0, check.stdout
    assert "Clean: target" in check.stdout
    assert "No changes" in run_cli("--schemas", "imported", "plan").stdout
