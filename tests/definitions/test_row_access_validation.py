"""Bad row access and policy tag declarations: exit 2, one message naming the file, line and key,
no traceback, and nothing read or written (validate opens no warehouse)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_cli, write

TAG = "projects/p1/locations/eu/taxonomies/1/policyTags/2"
COLUMNS = "columns:\n  - {name: tenant_id, type: STRING, mode: REQUIRED}\n  - {name: n, type: INT64}\n"
ACCESS = "row_access:\n  tenant_column: tenant_id\n  members: tenants.tenant_members\n  member: '{tenant}-reader@example.com'\n"

# (name, yaml text of schemas/ds/t.yaml, expected line, expected fragment)
BAD = [
    ("unknown_tenant_column", ACCESS.replace("tenant_column: tenant_id", "tenant_column: tenant"), 2, "tenant column 'tenant'"),
    (
        "tenant_column_type",
        ACCESS.replace("tenant_id\n", "n\n", 1) + COLUMNS.replace("n, type: INT64", "n, type: FLOAT64"),
        2,
        "must be STRING or INT64",
    ),
    ("members_not_a_table", ACCESS.replace("tenants.tenant_members", "tenant_members"), 3, "must be dataset.table"),
    ("member_without_tenant", ACCESS.replace("{tenant}-reader", "reader"), 4, "must name the tenant as {tenant}"),
    ("member_is_a_group", ACCESS.replace("'{tenant}-reader@", "'group:{tenant}-reader@"), 4, "must be an email address"),
    ("bad_grantee", ACCESS + "  grant_to: [everyone]\n", 5, "grantee 'everyone'"),
    ("unknown_key", ACCESS + "  writers: [x]\n", 5, "unknown key 'writers'"),
    (
        "members_undefined",
        ACCESS.replace("tenants.tenant_members", "tenants.nobody"),
        3,
        "members table tenants.nobody is not defined",
    ),
    ("bad_policy_tag", "columns:\n  - {name: a, type: STRING, policy_tags: [pii]}\n", 2, "policy tag 'pii' must be projects/"),
    ("two_policy_tags", f"columns:\n  - {{name: a, type: STRING, policy_tags: [{TAG}, {TAG}]}}\n", 2, "at most 1 per column"),
    (
        "tag_on_a_struct",
        f"columns:\n  - {{name: a, type: 'STRUCT<b INT64>', policy_tags: [{TAG}]}}\n",
        2,
        "leaf columns of a STRUCT",
    ),
    (
        "both_spellings",
        f"columns:\n  - {{name: a, type: STRING, policy_tags: [{TAG}], policyTags: {{names: [{TAG}]}}}}\n",
        2,
        "not both",
    ),
]


@pytest.mark.parametrize("name,text,line,fragment", BAD, ids=[b[0] for b in BAD])
def test_bad_row_access_or_policy_tags(name: str, text: str, line: int, fragment: str, workdir: Path) -> None:
    if "columns:" not in text:
        text += COLUMNS
    write(Path("schemas/ds/t.yaml"), text)
    result = run_cli("validate")
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    mine = [ln for ln in result.stderr.splitlines() if ln.startswith("schemas/ds/t.yaml:")]
    assert len(mine) == 1, result.stderr
    assert mine[0].startswith(f"schemas/ds/t.yaml:{line}:"), mine[0]
    assert fragment in mine[0]
    assert not Path(".bqmanage").exists()


def test_a_good_declaration_validates(workdir: Path) -> None:
    write(Path("schemas/ds/t.yaml"), ACCESS + COLUMNS.replace("INT64}", f"INT64, policy_tags: [{TAG}]}}"))
    result = run_cli("validate")
    assert result.exit_code == 0, result.stderr
