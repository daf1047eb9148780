"""Tenant isolation on the local engine: the shipped row access policies applied, checked for
drift (a policy altered or dropped by hand, a policy tag removed by hand), and proved on data by
the isolation probe (``check --isolation``), which finds a policy widened by hand."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import duckdb
import jsonschema
import pytest

from bqmanage import api
from bqmanage.settings import resolve_settings
from tests.helpers import engine_for, record, run_cli, target_args, write

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "deployment" / "findings.schema.json").read_text())
LOCAL = ".bqmanage/local.duckdb"
QUOTAS = "tenants.tenant_usage_quotas"


def _by_hand(sql: str, params: list[Any] | None = None) -> None:
    """A change made behind bqmanage's back, straight in the local file (its side schema holds
    what BigQuery would: the policies and the columns' policy tags)."""
    con = duckdb.connect(LOCAL)
    try:
        con.execute(sql, params or [])
    finally:
        con.close()


def _check(*args: str) -> tuple[int, list[dict[str, Any]]]:
    result = run_cli("check", "--format", "json", *args)
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, SCHEMA)
    return result.exit_code, doc["findings"]


@pytest.fixture
def isolated(workdir: Path) -> Path:
    """The shipped definitions applied, with two tenants (each has its quota row for today)."""
    assert run_cli("apply").exit_code == 0
    for tenant in ("acme", "globex"):
        assert run_cli("tenant", "add", tenant).exit_code == 0
    return workdir


def test_apply_creates_the_writer_policy_before_the_isolation_policy(workdir: Path) -> None:
    out = run_cli("plan").stdout
    writer = out.index("CREATE OR REPLACE ROW ACCESS POLICY `bqmanage_writer`")
    isolation = out.index("CREATE OR REPLACE ROW ACCESS POLICY `bqmanage_tenant_isolation`")
    assert writer < isolation
    assert "WHERE `member` = SESSION_USER()" in out[isolation:]
    assert run_cli("apply").exit_code == 0
    again = run_cli("plan")
    assert again.exit_code == 0 and "ROW ACCESS POLICY" not in again.stdout


def test_the_declared_isolation_passes_the_probe(isolated: Path) -> None:
    code, findings = _check("--isolation")
    assert (code, findings) == (0, [])


def test_the_probe_finds_a_policy_widened_by_hand(isolated: Path) -> None:
    # A second policy with a TRUE filter for everyone: policies are ORed, so every tenant's
    # member now reads every row. The metadata check does not own hand-made policies...
    _by_hand(
        "INSERT INTO _bqmanage.row_access_policies VALUES ('tenants', 'tenant_usage_quotas', 'support_view', 'TRUE', ?)",
        [json.dumps(["allAuthenticatedUsers"])],
    )
    assert _check() == (0, [])
    # ... the probe reads the data as each member would, and sees the leak.
    code, findings = _check("--isolation")
    assert code == 1
    leaks = {(f["tenant"], tuple(f["actual"])) for f in findings if f["kind"] == "isolation_leak"}
    assert leaks == {("acme", ("acme", "globex")), ("globex", ("acme", "globex"))}
    assert {f["table"] for f in findings} == {"tenant_usage_quotas"}
    text = run_cli("check", "--isolation")
    assert text.exit_code == 1
    assert "acme-reader@example.com, a member of tenant acme, can read rows of tenant(s) globex" in text.stdout
    sarif = json.loads(run_cli("check", "--isolation", "--format", "sarif").stdout)
    rules = {r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert "isolation_leak" in rules


def test_a_policy_altered_by_hand_is_reported_and_apply_restores_it(isolated: Path) -> None:
    _by_hand("UPDATE _bqmanage.row_access_policies SET filter = 'TRUE' WHERE name = 'bqmanage_tenant_isolation'")
    code, findings = _check("--isolation")
    assert code == 1
    kinds = sorted(f["kind"] for f in findings)
    assert kinds == ["isolation_leak", "isolation_leak", "row_access_policy_differs"]
    (differs,) = [f for f in findings if f["kind"] == "row_access_policy_differs"]
    assert differs["column"] == "bqmanage_tenant_isolation" and differs["actual"]["filter"] == "TRUE"
    assert "SESSION_USER()" in differs["expected"]["filter"]
    assert differs["definition"].endswith("tenant_usage_quotas.yaml")
    assert run_cli("apply").exit_code == 0
    assert _check("--isolation") == (0, [])


def test_a_grantee_changed_by_hand_is_reported(isolated: Path) -> None:
    _by_hand(
        "UPDATE _bqmanage.row_access_policies SET grantees = ? WHERE name = 'bqmanage_writer'",
        [json.dumps(["serviceAccount:someone-else@example.com"])],
    )
    code, findings = _check()
    assert code == 1 and [f["kind"] for f in findings] == ["row_access_policy_differs"]
    assert findings[0]["actual"]["grantees"] == ["serviceAccount:someone-else@example.com"]


def test_a_policy_dropped_by_hand_is_reported_as_missing(isolated: Path) -> None:
    _by_hand("DELETE FROM _bqmanage.row_access_policies WHERE name = 'bqmanage_writer'")
    code, findings = _check()
    assert code == 1
    assert [(f["kind"], f["column"]) for f in findings] == [("row_access_policy_missing", "bqmanage_writer")]
    assert run_cli("apply").exit_code == 0
    assert _check() == (0, [])


def test_a_suspended_tenants_member_reads_nothing_and_the_probe_stays_clean(isolated: Path) -> None:
    assert run_cli("tenant", "suspend", "globex").exit_code == 0
    assert _check("--isolation") == (0, [])
    con = duckdb.connect(LOCAL, read_only=True)
    try:
        members = con.execute("SELECT tenant_id, member FROM tenants.tenant_members ORDER BY 1").fetchall()
    finally:
        con.close()
    assert members == [("acme", "acme-reader@example.com")]


def test_removing_row_access_from_a_definition_is_refused_before_anything_runs(isolated: Path) -> None:
    path = Path("schemas/tenants/tenant_usage_quotas.yaml")
    text = path.read_text()
    start = text.index("row_access:")
    path.write_text(text[:start] + text[text.index("columns:") :])
    before = Path(LOCAL).read_bytes()
    result = run_cli("apply")
    assert result.exit_code == 2
    assert "BQM121" in result.stderr + result.stdout and "DROP ALL ROW ACCESS POLICIES" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert Path(LOCAL).read_bytes() == before


TAG = "projects/p1/locations/eu/taxonomies/111/policyTags/222"
TAGGED = f"""\
table: customers
columns:
  - {{name: id, type: STRING, mode: REQUIRED}}
  - {{name: email, type: STRING, policy_tags: ["{TAG}"]}}
  - {{name: phone, type: STRING, policyTags: {{names: ["{TAG}"]}}}}
"""


def test_a_policy_tag_removed_by_hand_is_reported_and_apply_sets_exactly_the_declared_tags(workdir: Path) -> None:
    write(workdir / "schemas" / "crm" / "customers.yaml", TAGGED)
    assert run_cli("apply").exit_code == 0
    assert _check() == (0, [])
    _by_hand(
        "UPDATE _bqmanage.columns SET meta = json_object('name', 'email', 'type', 'STRING', 'mode', 'NULLABLE') "
        "WHERE dataset = 'crm' AND tbl = 'customers' AND path = 'email'"
    )
    code, findings = _check()
    assert code == 1
    assert [(f["kind"], f["column"], f["expected"], f["actual"]) for f in findings] == [
        ("policy_tags_differ", "email", [TAG], [])
    ]
    plan = json.loads(run_cli("plan", "--format", "json").stdout)
    (step,) = [s for s in plan["steps"] if s["kind"] == "patch_columns"]
    assert step["api"]["policyTags"] == {"email": [TAG]}
    assert run_cli("apply").exit_code == 0
    assert _check() == (0, [])


def test_on_bqemulator_isolation_is_a_declared_gap_and_nothing_is_sent(project: str | None) -> None:
    """Both engines in turn: the local engine holds the policies; bqemulator has none, so the
    engine declares it and apply sends no policy statement there (a documented gap)."""
    engine = engine_for(project)
    sent = record(engine)
    settings = resolve_settings(target="bigquery" if project else "local", project=project)
    api.apply(settings, engine)
    policies = [s for s in sent if "ROW ACCESS POLICY" in s]
    if project is None:
        assert len(policies) == 2
        assert run_cli(*target_args(project), "check").exit_code == 0
        return
    assert policies == [] and "row_access" in engine.capabilities.unobservable
    pytest.skip("bqemulator has no row access policies and keeps no policy tags: check cannot compare them there")


def test_where_grantees_cannot_be_read_an_unknown_policy_counts_as_everyones(isolated: Path) -> None:
    """As on BigQuery, whose API returns no grantees: bqmanage's policies keep their declared
    grantees (the declared setup passes), a policy of someone else's is taken as granted to every
    member, so the probe reports what it may expose rather than miss it."""
    from bqmanage.check.isolation import probe
    from bqmanage.definitions.load import load_definitions
    from bqmanage.definitions.row_access import placed
    from bqmanage.engines.local import LocalEngine
    from bqmanage.introspect import read_live

    _by_hand(
        "INSERT INTO _bqmanage.row_access_policies VALUES ('tenants', 'tenant_usage_quotas', 'auditors', 'TRUE', ?)",
        [json.dumps(["group:auditors@example.com"])],
    )
    _by_hand("UPDATE _bqmanage.row_access_policies SET grantees = '[]'")  # what rowAccessPolicies.list shows
    settings = resolve_settings()

    def leaks() -> set[str | None]:
        engine = LocalEngine(settings.local_path, read_only=True)
        try:
            desired = placed(settings, load_definitions(Path("schemas")), engine)
            hidden = engine.capabilities.unobservable | {"row_access_grantees"}
            engine.capabilities = dataclasses.replace(engine.capabilities, unobservable=hidden)
            return {f.tenant for f in probe(engine, desired, read_live(engine, desired).actual)}
        finally:
            engine.close()

    assert leaks() == {"acme", "globex"}
    _by_hand("DELETE FROM _bqmanage.row_access_policies WHERE name = 'auditors'")
    assert leaks() == set()
