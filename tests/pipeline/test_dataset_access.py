"""Dataset access end to end, on the local engine and on bqemulator (which keeps a dataset's
access list and its etag, measured): apply grants what a _dataset.yaml declares, check reports
grants removed or added by hand (text, JSON, SARIF), and nothing bqmanage does not declare is
ever revoked unless the dataset says its access is exclusive."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bqmanage.engines.bigquery import BigQueryEngine
from bqmanage.engines.duck_access import ACCESS_DDL
from bqmanage.engines.local import LocalEngine
from tests.helpers import engine_for, run_cli, target_args, write

ROOT = Path(__file__).resolve().parents[2]
TABLE = "columns:\n  - {name: id, type: STRING}\n"
DECLARED = (
    "access:\n"
    "  - {role: READER, member: group:analysts@example.com}\n"
    "  - {role: WRITER, member: serviceAccount:etl-loader@my-project.iam.gserviceaccount.com}\n"
)


def _sales(workdir: Path, extra: str = "") -> None:
    write(workdir / "schemas" / "sales" / "_dataset.yaml", extra + DECLARED)
    write(workdir / "schemas" / "sales" / "orders.yaml", TABLE)


def _live(project: str | None) -> list[dict[str, Any]]:
    resource = engine_for(project).read_datasets_exact(["sales"])["sales"]
    assert resource is not None
    return list(resource.get("access") or [])


def _by_hand(project: str | None, add: dict[str, Any] | None = None, remove: str | None = None) -> None:
    """Change the live access list the way a person would: in the console (the dataset's list), or
    on the local engine in its side table."""
    engine = engine_for(project)
    if isinstance(engine, LocalEngine):
        engine.con.execute(ACCESS_DDL)  # made on the first grant bqmanage makes
        if add is not None:
            member = f"user:{add['userByEmail']}" if "userByEmail" in add else f"domain:{add['domain']}"
            engine.con.execute("INSERT INTO _bqmanage.dataset_access VALUES ('sales', ?, ?)", [add["role"], member])
        if remove is not None:
            engine.con.execute("DELETE FROM _bqmanage.dataset_access WHERE dataset = 'sales' AND member LIKE ?", [f"%{remove}%"])
        engine.close()
        return
    assert isinstance(engine, BigQueryEngine)
    dataset = engine.client.get_dataset("sales")
    entries = [e for e in dataset._properties.get("access", []) if remove is None or remove not in json.dumps(e)]
    dataset._properties["access"] = entries + ([add] if add else [])
    engine.client.update_dataset(dataset, ["access_entries"])


def _findings(project: str | None) -> tuple[int, list[dict[str, Any]]]:
    result = run_cli(*target_args(project), "check", "--format", "json")
    return result.exit_code, json.loads(result.stdout)["findings"]


def test_apply_grants_the_declared_entries_and_a_second_apply_does_nothing(project: str | None, workdir: Path) -> None:
    _sales(workdir)
    planned = run_cli(*target_args(project), "plan")
    assert "grant READER group:analysts@example.com" in planned.stdout
    assert run_cli(*target_args(project), "apply").exit_code == 0
    live = _live(project)
    assert {"role": "READER", "groupByEmail": "analysts@example.com"} in live
    assert {"role": "WRITER", "userByEmail": "etl-loader@my-project.iam.gserviceaccount.com"} in live
    again = run_cli(*target_args(project), "plan")
    assert again.exit_code == 0 and "set_dataset_access" not in again.stdout
    assert run_cli(*target_args(project), "check").exit_code == 0


def test_check_reports_a_grant_removed_by_hand_and_a_grant_added_by_hand(project: str | None, workdir: Path) -> None:
    _sales(workdir)
    assert run_cli(*target_args(project), "apply").exit_code == 0
    _by_hand(project, add={"role": "WRITER", "userByEmail": "eve@example.com"}, remove="analysts@")
    code, findings = _findings(project)
    assert code == 1
    by_kind = {f["kind"]: f for f in findings}
    assert set(by_kind) == {"missing_grant", "unexpected_grant"}
    missing, unexpected = by_kind["missing_grant"], by_kind["unexpected_grant"]
    assert (missing["dataset"], missing["expected"]) == ("sales", "READER group:analysts@example.com")
    assert (missing["definition"], missing["definition_line"]) == ("schemas/sales/_dataset.yaml", 2)
    assert (unexpected["dataset"], unexpected["actual"]) == ("sales", "WRITER user:eve@example.com")
    text = run_cli(*target_args(project), "check")
    assert "missing_grant" in text.stdout and "unexpected_grant" in text.stdout
    sarif = json.loads(run_cli(*target_args(project), "check", "--format", "sarif").stdout)
    rules = {r["ruleId"]: r for r in sarif["runs"][0]["results"]}
    assert rules["missing_grant"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "schemas/sales/_dataset.yaml"
    assert "unexpected_grant" in rules
    # apply grants the removed entry again and leaves the other one: the access is not exclusive.
    assert run_cli(*target_args(project), "apply").exit_code == 0
    live = _live(project)
    assert {"role": "READER", "groupByEmail": "analysts@example.com"} in live
    assert {"role": "WRITER", "userByEmail": "eve@example.com"} in live
    assert [f["kind"] for f in _findings(project)[1]] == ["unexpected_grant"]


def test_an_exclusive_access_list_revokes_what_is_not_declared(project: str | None, workdir: Path) -> None:
    _sales(workdir, "access_exclusive: true\n")
    assert run_cli(*target_args(project), "apply").exit_code == 0
    _by_hand(project, add={"role": "READER", "domain": "example.org"})
    planned = run_cli(*target_args(project), "plan")
    assert "revoke READER domain:example.org" in planned.stdout
    assert run_cli(*target_args(project), "apply").exit_code == 0
    assert not [e for e in _live(project) if e.get("domain")]
    assert run_cli(*target_args(project), "check").exit_code == 0


def test_the_findings_validate_against_the_json_and_sarif_schemas(workdir: Path) -> None:
    _sales(workdir)
    assert run_cli("apply").exit_code == 0
    _by_hand(None, add={"role": "WRITER", "userByEmail": "eve@example.com"}, remove="analysts@")
    report = json.loads(run_cli("check", "--format", "json").stdout)
    jsonschema.validate(report, json.loads((ROOT / "deployment" / "findings.schema.json").read_text()))
    sarif = json.loads(run_cli("check", "--format", "sarif").stdout)
    sarif_schema = json.loads((ROOT / "tests" / "schemas" / "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft4Validator(sarif_schema).validate(sarif)


def test_bigquerys_own_project_groups_are_not_reported_unless_the_list_is_exclusive(workdir: Path) -> None:
    _sales(workdir)
    assert run_cli("apply").exit_code == 0
    engine = engine_for(None)
    assert isinstance(engine, LocalEngine)
    engine.con.execute("INSERT INTO _bqmanage.dataset_access VALUES ('sales', 'OWNER', 'specialGroup:projectOwners')")
    engine.close()
    assert run_cli("check").exit_code == 0
    _sales(workdir, "access_exclusive: true\n")
    assert [f["actual"] for f in _findings(None)[1]] == ["OWNER specialGroup:projectOwners"]


@pytest.mark.parametrize("declared", ["access: []\n", ""])
def test_a_dataset_declaring_no_entries_revokes_nothing_and_reports_only_with_an_access_key(workdir: Path, declared: str) -> None:
    write(workdir / "schemas" / "sales" / "_dataset.yaml", "description: Sales.\n" + declared)
    write(workdir / "schemas" / "sales" / "orders.yaml", TABLE)
    assert run_cli("apply").exit_code == 0
    _by_hand(None, add={"role": "READER", "domain": "example.org"})
    code, findings = _findings(None)
    assert (code, [f["kind"] for f in findings]) == ((1, ["unexpected_grant"]) if declared else (0, []))
    assert run_cli("apply").exit_code == 0
    assert _live(None) == [{"role": "READER", "domain": "example.org"}]
