"""render --format odcs: each table as an Open Data Contract Standard v3 document, valid against
the ODCS JSON schema that open-data-contract-standard (the package datacontract-cli reads
contracts with) ships."""

from __future__ import annotations

import importlib.resources
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.helpers import run_cli

EVERYTHING = Path(__file__).parents[1] / "fixtures" / "everything"


def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(importlib.resources.files("open_data_contract_standard").joinpath("schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)  # type: ignore[no-any-return]


def _contracts(*args: str) -> list[dict[str, Any]]:
    result = run_cli(*args, "render", "--format", "odcs")
    assert result.exit_code == 0, result.stderr
    return list(yaml.safe_load_all(result.stdout))


def _errors(document: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _validator().iter_errors(document)]


def test_the_shipped_definitions_export_as_valid_contracts(workdir: Path) -> None:
    for args in ((), ("--project", "my-project")):
        contracts = _contracts(*args)
        assert [c["id"] for c in contracts] == [
            "tenants.tenant_members",
            "tenants.tenant_profiles",
            "tenants.tenant_usage_quotas",
        ]
        for document in contracts:
            assert _errors(document) == []
    quotas = contracts[2]
    assert quotas["servers"] == [{"server": "my-project", "type": "bigquery", "project": "my-project", "dataset": "tenants"}]
    table = quotas["schema"][0]
    custom = {p["property"]: p["value"] for p in table["customProperties"]}
    assert custom["legacyNames"] == ["customers.customer_usage_quotas"]
    assert custom["quota"]["time_zone"] == "UTC" and custom["clustering"] == ["tenant_id"]
    assert all(p["vendor"] == "bqmanage" for p in table["customProperties"])
    usage_date = next(p for p in table["properties"] if p["name"] == "usage_date")
    assert usage_date["partitioned"] is True and usage_date["logicalType"] == "date"


def test_every_type_and_nesting_exports_as_a_valid_contract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(EVERYTHING, tmp_path / "schemas")
    monkeypatch.chdir(tmp_path)
    contracts = {c["id"]: c for c in _contracts()}
    for document in contracts.values():
        assert _errors(document) == []
    props = {p["name"]: p for p in contracts["kitchen.all_types"]["schema"][0]["properties"]}
    assert props["tag"]["logicalTypeOptions"] == {"maxLength": 16} and props["tag"]["physicalType"] == "STRING(16)"
    assert props["amount"]["logicalType"] == "number" and props["amount"]["physicalType"] == "NUMERIC(10, 2)"
    assert props["tags"]["logicalType"] == "array" and props["tags"]["items"]["logicalType"] == "string"
    inner = next(p for p in props["meta"]["properties"] if p["name"] == "inner")
    dates = next(p for p in inner["properties"] if p["name"] == "b")
    assert (dates["logicalType"], dates["items"]["logicalType"]) == ("array", "date")
    assert props["id"]["required"] is True and props["id"]["description"] == "It's the id."


def test_the_validation_rejects_a_contract_that_breaks_the_standard(workdir: Path) -> None:
    """The check can fail: a custom property without a value, a logical type ODCS lacks."""
    document = _contracts()[0]
    document["schema"][0]["customProperties"] = [{"property": "x", "vendor": "bqmanage"}]
    document["schema"][0]["properties"][0]["logicalType"] = "varchar"
    errors = _errors(document)
    assert any(e.startswith("schema/0/customProperties/0:") for e in errors)
    assert any(e.startswith("schema/0/properties/0/logicalType:") for e in errors)


def test_the_version_changes_with_the_contract_only(workdir: Path) -> None:
    def version() -> str:
        (profiles,) = [c for c in _contracts() if c["id"] == "tenants.tenant_profiles"]
        return str(profiles["version"])

    before = version()
    profiles = Path("schemas/tenants/tenant_profiles.yaml")
    profiles.write_text("\n" + profiles.read_text())  # lines move, nothing else
    assert version() == before
    profiles.write_text(profiles.read_text() + "  - {name: region, type: STRING}\n")
    assert version() != before


def test_one_table_and_a_bad_format(workdir: Path) -> None:
    one = run_cli("render", "--format", "odcs", "--table", "tenants.tenant_profiles")
    assert one.exit_code == 0
    assert [c["id"] for c in yaml.safe_load_all(one.stdout)] == ["tenants.tenant_profiles"]
    bad = run_cli("render", "--format", "odcs3")
    assert bad.exit_code == 2 and "--format" in bad.stderr and bad.stdout == ""
