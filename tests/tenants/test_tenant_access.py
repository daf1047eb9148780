"""The tenant lifecycle carries dataset access: ``tenant add`` grants what the template declares in
the same run, ``suspend`` revokes it (the data stays), ``resume`` restores it; each again changes
nothing, and a run killed between its registry write and its grants is finished by running it
again. On the local engine, and on bqemulator with the requests the proxy saw."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bqmanage.engines.local import LocalEngine
from tests.faultproxy import FaultProxy
from tests.helpers import engine_for, run_cli, target_args, write

TEMPLATE = "schemas/tenant_{tenant}/_dataset.yaml"
ACCESS = (
    "description: One tenant's pipeline data.\n"
    "access:\n"
    "  - {role: READER, members_from: tenant_profiles.reader_group}\n"
    "  - {role: WRITER, member: 'serviceAccount:{tenant}-pipelines@my-project.iam.gserviceaccount.com'}\n"
)
PIPELINES = {"role": "WRITER", "userByEmail": "acme-pipelines@my-project.iam.gserviceaccount.com"}
READERS = {"role": "READER", "groupByEmail": "acme-readers@example.com"}
R, W = f"READER group:{READERS['groupByEmail']}", f"WRITER serviceAccount:{PIPELINES['userByEmail']}"


def _access(project: str | None, dataset: str = "tenant_acme") -> list[dict[str, Any]]:
    resource = engine_for(project).read_datasets_exact([dataset])[dataset]
    assert resource is not None
    return list(resource.get("access") or [])


def _set_reader_group(project: str | None, tenant: str, group: str | None) -> None:
    engine = engine_for(project)
    engine.query("UPDATE `tenants`.`tenant_profiles` SET reader_group = @g WHERE tenant_id = @t", {"g": group, "t": tenant})
    if isinstance(engine, LocalEngine):
        engine.close()


def _ready(project: str | None, workdir: Path) -> None:
    write(workdir / TEMPLATE, ACCESS)
    assert run_cli(*target_args(project), "apply").exit_code == 0


def _tenant(project: str | None, *args: str) -> dict[str, Any]:
    result = run_cli(*target_args(project), "tenant", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_add_grants_in_the_same_run_suspend_revokes_resume_restores(project: str | None, workdir: Path) -> None:
    _ready(project, workdir)
    added = _tenant(project, "add", "acme")
    assert _access(project) == [PIPELINES]  # the pattern's member; the registry has no group yet
    assert any("grant" in step for step in added["datasets"])
    _set_reader_group(project, "acme", "group:acme-readers@example.com")
    again = _tenant(project, "add", "acme")  # the registry's group now: granted by the same command
    assert sorted(map(json.dumps, _access(project))) == sorted(map(json.dumps, [PIPELINES, READERS]))
    assert again["datasets"] == ["grant 1 access entry on tenant_acme (grant READER group:acme-readers@example.com)"]
    assert _tenant(project, "add", "acme")["changed"] is False
    suspended = _tenant(project, "suspend", "acme")
    assert suspended["datasets"] == [f"revoke 2 access entries on tenant_acme (revoke {R}, revoke {W})"]
    assert _access(project) == []
    assert engine_for(project).get_table("tenant_acme", "pipeline_runs") is not None  # the data stays
    assert _tenant(project, "suspend", "acme")["datasets"] == []
    assert run_cli(*target_args(project), "check", "--all-tenants").exit_code == 0  # a suspended tenant is not owed grants
    resumed = _tenant(project, "resume", "acme")
    assert resumed["datasets"] == [f"grant 2 access entries on tenant_acme (grant {R}, grant {W})"]
    assert _tenant(project, "resume", "acme")["datasets"] == []
    assert run_cli(*target_args(project), "check", "--all-tenants").exit_code == 0


def test_a_suspend_killed_after_its_status_write_revokes_when_run_again(workdir: Path) -> None:
    _ready(None, workdir)
    _tenant(None, "add", "acme")
    # What a kill -9 between the registry write and the revocation leaves: suspended, still granted.
    engine = engine_for(None)
    engine.query("UPDATE `tenants`.`tenant_profiles` SET status = 'suspended' WHERE tenant_id = 'acme'")
    assert isinstance(engine, LocalEngine)
    engine.close()
    assert _access(None) == [PIPELINES]
    assert _tenant(None, "suspend", "acme")["datasets"] == [f"revoke 1 access entry on tenant_acme (revoke {W})"]
    assert _access(None) == []
    # And a resume killed the same way: active, not granted yet; run again, it grants.
    engine = engine_for(None)
    engine.query("UPDATE `tenants`.`tenant_profiles` SET status = 'active' WHERE tenant_id = 'acme'")
    assert isinstance(engine, LocalEngine)
    engine.close()
    assert _tenant(None, "resume", "acme")["datasets"] == [f"grant 1 access entry on tenant_acme (grant {W})"]
    assert _access(None) == [PIPELINES]


def test_suspend_leaves_grants_nobody_declared(workdir: Path) -> None:
    _ready(None, workdir)
    _tenant(None, "add", "acme")
    engine = engine_for(None)
    assert isinstance(engine, LocalEngine)
    engine.con.execute("INSERT INTO _bqmanage.dataset_access VALUES ('tenant_acme', 'READER', 'user:auditor@example.com')")
    engine.close()
    _tenant(None, "suspend", "acme")
    assert _access(None) == [{"role": "READER", "userByEmail": "auditor@example.com"}]


def test_a_registry_value_that_is_no_member_is_refused_naming_the_row(workdir: Path) -> None:
    _ready(None, workdir)
    _tenant(None, "add", "acme")
    _set_reader_group(None, "acme", "acme-readers")  # no kind: which kind of member is it?
    result = run_cli("tenant", "resume", "acme")
    assert result.exit_code == 2
    assert "tenants.tenant_profiles: tenant 'acme': reader_group = 'acme-readers' cannot be granted" in result.stderr
    assert "Traceback" not in result.stderr
    assert _access(None) == [PIPELINES]


@pytest.mark.emulator
def test_the_lifecycle_sends_one_etag_patch_per_change_on_bigquery(proxy: FaultProxy, workdir: Path) -> None:
    project = "access-lifecycle"
    _ready(project, workdir)
    proxy.reset()
    proxy.headers.clear()
    _tenant(project, "add", "acme")
    created = len(proxy.bodies)
    _set_reader_group(project, "acme", "group:acme-readers@example.com")
    _tenant(project, "add", "acme")  # only the new grant: no dataset script again
    assert not [b for _, _, b in proxy.bodies[created:] if b"CREATE" in b]
    _tenant(project, "suspend", "acme")
    _tenant(project, "resume", "acme")
    _tenant(project, "resume", "acme")
    patches = [
        (json.loads(body), headers.get("If-Match"))
        for (method, path, body), headers in zip(proxy.bodies, proxy.headers, strict=True)
        if method == "PATCH" and "/datasets/tenant_acme?" in path
    ]
    # Granted in the template's order: the group (members_from) first, once the registry has it.
    expected = [[PIPELINES], [PIPELINES, READERS], [], [READERS, PIPELINES]]
    assert [body for body, _ in patches] == [{"access": a} for a in expected]
    assert all(etag for _, etag in patches)


def test_a_registry_without_the_member_column_yet_grants_nothing_and_fails_no_tenant(workdir: Path) -> None:
    """Definitions that gained the registry column before apply added it (check in CI first)."""
    profiles = workdir / "schemas" / "tenants" / "tenant_profiles.yaml"
    shipped = profiles.read_text()
    without = shipped[: shipped.index("  - name: reader_group")]
    profiles.write_text(without)
    write(workdir / TEMPLATE, "description: One tenant's pipeline data.\n")
    assert run_cli("apply").exit_code == 0
    _tenant(None, "add", "acme")
    profiles.write_text(shipped)
    write(workdir / TEMPLATE, ACCESS)
    checked = run_cli("check", "--all-tenants", "--format", "json")
    assert checked.exit_code == 1, checked.stderr
    report = json.loads(checked.stdout)
    kinds = sorted(f["kind"] for f in report["findings"])
    assert kinds == ["missing_column", "missing_grant"]  # the column, and the pattern's grant
    assert all(o["status"] != "failed" for o in report.get("tenants", {}).get("outcomes", []))
