"""A ``{tenant}`` member pattern that some valid tenant ids cannot make a valid member (a service
account's name is 6 to 30 characters of letters, digits and hyphens) passes ``validate``, and is
checked for each tenant a command acts for: ``tenant add``, ``tenant resume`` and ``apply --tenant``
refuse such an id with one located message, exit 2, before writing anything; ``--all-tenants`` fails
that tenant on its own and goes on with the others."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bqmanage.engines.local import LocalEngine
from tests.helpers import engine_for, run_cli, write

TEMPLATE = "schemas/tenant_{tenant}/_dataset.yaml"
PATTERN = "serviceAccount:{tenant}@my-project.iam.gserviceaccount.com"
ACCESS = f"description: One tenant's pipeline data.\naccess:\n  - {{role: WRITER, member: '{PATTERN}'}}\n"
WHERE = "schemas/tenant_{tenant}/_dataset.yaml:3: access[0].member: "


def _state() -> dict[str, Any]:
    """What a refused command must not have changed: registry, quota rows, member rows, datasets, grants."""
    engine = engine_for(None)
    assert isinstance(engine, LocalEngine)
    try:
        con = engine.con
        return {
            "registry": sorted(con.execute("SELECT tenant_id, status FROM tenants.tenant_profiles").fetchall()),
            "quota": sorted(con.execute("SELECT tenant_id FROM tenants.tenant_usage_quotas").fetchall()),
            "members": sorted(con.execute("SELECT * FROM tenants.tenant_members").fetchall()),
            "datasets": sorted(r[0] for r in con.execute("SELECT schema_name FROM information_schema.schemata").fetchall()),
            "grants": sorted(con.execute("SELECT * FROM _bqmanage.dataset_access").fetchall()) if _has_grants(con) else [],
        }
    finally:
        engine.close()


def _has_grants(con: Any) -> bool:  # the side table is made with the first grant
    sql = "SELECT count(*) FROM duckdb_tables() WHERE schema_name = '_bqmanage' AND table_name = 'dataset_access'"
    return bool(con.execute(sql).fetchone()[0])


def _refused(args: list[str], tenant: str, why: str) -> None:
    result = run_cli(*args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    errors = result.stderr.splitlines()
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"error: {WHERE}member '{PATTERN}' is not valid for tenant id '{tenant}': "), errors[0]
    assert why in errors[0]


@pytest.fixture
def applied(workdir: Path) -> Path:
    write(workdir / TEMPLATE, ACCESS)
    assert run_cli("validate").exit_code == 0  # ids of 6 to 30 letters, digits and hyphens fit it
    assert run_cli("apply").exit_code == 0
    return workdir


UNFIT = {
    "one-character": ("a", "6 to 30 characters; 'a' has 1"),
    "forty-characters": ("a" * 40, "has 40"),
    "underscore": ("acme_eu", "lowercase letters, digits and hyphens"),
    "trailing-hyphen": ("acme-eu-", "not ending with a hyphen"),
}


@pytest.mark.parametrize("case", list(UNFIT))
def test_tenant_add_refuses_an_id_the_pattern_cannot_serve_and_writes_nothing(case: str, applied: Path) -> None:
    tenant, why = UNFIT[case]
    before = _state()
    _refused(["tenant", "add", tenant], tenant, why)
    assert _state() == before
    assert run_cli("tenant", "add", "acme-eu").exit_code == 0  # an id the pattern fits is added
    assert ("tenant_acme_eu", "WRITER", "serviceAccount:acme-eu@my-project.iam.gserviceaccount.com") in _state()["grants"]


def test_apply_tenant_refuses_it_before_anything_even_on_a_fresh_warehouse(workdir: Path) -> None:
    write(workdir / TEMPLATE, ACCESS)
    _refused(["apply", "--tenant", "a"], "a", "has 1")
    assert not (workdir / ".bqmanage").exists()  # not even the fixed datasets, nor the file
    for command in (["plan", "--tenant", "a"], ["check", "--tenant", "a"]):
        _refused(command, "a", "has 1")


def test_resume_refuses_a_suspended_tenant_the_pattern_no_longer_serves(applied: Path) -> None:
    # Added and suspended while the template declared no pattern; the pattern came afterwards.
    write(applied / TEMPLATE, "description: One tenant's pipeline data.\naccess: []\n")
    assert run_cli("tenant", "add", "ab").exit_code == 0
    assert run_cli("tenant", "suspend", "ab").exit_code == 0
    write(applied / TEMPLATE, ACCESS)
    before = _state()
    _refused(["tenant", "resume", "ab"], "ab", "has 2")
    assert _state() == before  # still suspended, no grant, no member row, no quota row
    assert ("ab", "suspended") in before["registry"]
    assert run_cli("tenant", "suspend", "ab").exit_code == 0  # suspending grants nothing: never refused


def test_all_tenants_fails_the_unfit_tenant_alone_and_goes_on(applied: Path) -> None:
    write(applied / TEMPLATE, "description: One tenant's pipeline data.\naccess: []\n")
    assert run_cli("tenant", "add", "ab").exit_code == 0  # registered before the pattern was declared
    write(applied / TEMPLATE, ACCESS)
    engine = engine_for(None)
    assert isinstance(engine, LocalEngine)
    engine.con.execute("INSERT INTO tenants.tenant_profiles (tenant_id, status) VALUES ('acme-corp', 'active')")
    engine.close()
    before = _state()
    result = run_cli("apply", "--all-tenants")
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: tenant ab: {WHERE}member '{PATTERN}' is not valid for tenant id 'ab': "
        "member 'serviceAccount:ab@my-project.iam.gserviceaccount.com': "
        "a service account's name (before @) is 6 to 30 characters; 'ab' has 2"
    ]
    assert "1 failed: ab (exit 2)" in result.stdout
    after = _state()
    # The other tenant was applied; ab got no grant (its dataset was there before).
    assert ("tenant_acme_corp", "WRITER", "serviceAccount:acme-corp@my-project.iam.gserviceaccount.com") in after["grants"]
    assert [g for g in after["grants"] if g[0] == "tenant_ab"] == [g for g in before["grants"] if g[0] == "tenant_ab"] == []
    check = run_cli("check", "--all-tenants")
    assert check.exit_code == 2 and "1 failed: ab (exit 2)" in check.stdout
