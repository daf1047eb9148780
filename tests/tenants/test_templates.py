"""Per-tenant dataset templates (schemas/tenant_{tenant}/), validated like any
dataset, applied, planned and checked once per tenant with --tenant or --all-tenants, left alone
(and said so, once) without either, and orphan datasets reported. On the local engine and on
bqemulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bqmanage.definitions.load import load_definitions
from bqmanage.model.names import dataset_name_problem
from bqmanage.tenants.scope import TenantScope
from bqmanage.tenants.templates import dataset_name, for_tenants, template_name_problem, tenant_part
from tests.helpers import engine_for, record, run_cli, target_args, write

ROOT = Path(__file__).resolve().parents[2]
NOTE = "left alone; add --tenant ID or --all-tenants"
MEMBER = "INSERT INTO `tenants`.`tenant_members` (tenant_id, member) VALUES (@tenant_id, @member)"
REGISTER = """
MERGE `tenants`.`tenant_profiles` AS t
USING (SELECT @tenant_id AS tenant_id, @status AS status) AS s
ON t.tenant_id = s.tenant_id
WHEN NOT MATCHED THEN INSERT (tenant_id, status, daily_limit, concurrent_limit, created_at)
  VALUES (s.tenant_id, s.status, 100, 3, CURRENT_TIMESTAMP())
"""


def register(project: str | None, **tenants: str) -> None:
    engine = engine_for(project)
    try:
        for tenant_id, status in tenants.items():
            engine.query(REGISTER, {"tenant_id": tenant_id, "status": status}, label="test")
            if status == "active":  # and its member: tenants.tenant_members follows the registry
                engine.query(MEMBER, {"tenant_id": tenant_id, "member": f"{tenant_id}-reader@example.com"}, label="test")
    finally:
        engine.close()


def json_check(project: str | None, *args: str) -> tuple[int, dict[str, Any]]:
    result = run_cli(*target_args(project), "check", "--format", "json", *args)
    return result.exit_code, json.loads(result.stdout)


# ---- validation ----


def test_the_shipped_template_is_a_template_not_a_dataset() -> None:
    desired = load_definitions(ROOT / "schemas")
    assert [d.name for d in desired.templates] == ["tenant_{tenant}"]
    assert [(t.dataset, t.name) for t in desired.template_tables] == [("tenant_{tenant}", "pipeline_runs")]
    assert all("{" not in d.name for d in desired.all_datasets())  # render, reset, audit never see it
    runs = for_tenants(desired, ["acme-eu"]).tables[0]
    assert (runs.dataset, runs.clustering) == ("tenant_acme_eu", ("pipeline", "status"))
    assert runs.partitioning is not None and runs.partitioning.column == "run_date"
    assert runs.source is not None and runs.source.endswith("schemas/tenant_{tenant}/pipeline_runs.yaml")


@pytest.mark.parametrize("tenant", ["a", "0", "acme-eu", "a" * 63, "x_-_9"])
def test_a_valid_template_names_a_valid_dataset_for_every_valid_id(tenant: str) -> None:
    for template in ("tenant_{tenant}", "{tenant}", "{tenant}_runs", "T{tenant}x"):
        assert template_name_problem(template) is None
        name = dataset_name(template, tenant)
        assert dataset_name_problem(name) is None
        assert tenant_part(template, name) == tenant.replace("-", "_")
    assert tenant_part("tenant_{tenant}", "tenants") is None and tenant_part("tenant_{tenant}", "tenant_") is None
    assert tenant_part("tenant_{tenant}", "tenant_Acme") is None  # a tenant id never has capitals
    # Longer than a file name can be, so only this function can see it.
    assert "longer than 1024" in (template_name_problem("x" * 1000 + "{tenant}") or "")


@pytest.mark.parametrize(
    "directory,fragment",
    [
        ("t_{tenant}_{tenant}", "exactly once"),
        ("t_{id}", "exactly once"),
        ("t_{tenant", "exactly once"),
        ("t-{tenant}", "letters, digits and underscores only"),
        ("t.{tenant}", "letters, digits and underscores only"),
        ("_bqmanage_{tenant}", "reserved"),
    ],
)
def test_a_bad_template_name_is_one_located_problem(directory: str, fragment: str, workdir: Path) -> None:
    write(workdir / "schemas" / directory / "t.yaml", "columns:\n  - {name: id, type: STRING}\n")
    result = run_cli("validate")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if fragment in ln]
    assert len(lines) == 1 and lines[0].startswith(f"schemas/{directory}"), result.stderr


def test_what_a_template_table_cannot_have_and_a_fixed_dataset_a_template_names(workdir: Path) -> None:
    write(
        workdir / "schemas/tenant_{tenant}/legacy.yaml",
        "legacy_names: [customers.x]\ncolumns:\n  - {name: id, type: STRING}\n",
    )
    write(workdir / "schemas/Tenant_Acme/t.yaml", "columns:\n  - {name: id, type: STRING}\n")
    result = run_cli("validate")
    assert result.exit_code == 2
    assert "schemas/tenant_{tenant}/legacy.yaml:1: legacy_names: legacy names are not supported in a dataset template" in (
        result.stderr
    )
    assert "schemas/Tenant_Acme: dataset 'Tenant_Acme' is what the template 'tenant_{tenant}'" in result.stderr
    assert "for tenant 'acme'" in result.stderr


def test_validate_counts_templates_apart(workdir: Path) -> None:
    result = run_cli("validate")
    assert result.stdout == "OK: 3 table(s) in 1 dataset(s), and 1 in 1 dataset template(s) are valid.\n"


def test_bad_tenant_flags_exit_2_before_the_warehouse(workdir: Path) -> None:
    bad = (["--tenant", "acme; DROP TABLE x"], ["--tenant", "../x"], ["--tenant", ""], ["--tenant", "acme", "--all-tenants"])
    for args in bad:
        for command in ("plan", "apply", "check"):
            result = run_cli(command, *args)
            assert result.exit_code == 2, (command, args, result.stdout)
            assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert "a tenant id is 1 to 63 characters" in run_cli("apply", "--tenant", "a b").stderr
    assert "share the dataset name part 'acme_eu'" in run_cli("apply", "--tenant", "acme-eu", "--tenant", "acme_eu").stderr
    assert not Path(".bqmanage").exists()  # the warehouse was never opened


# ---- on the engines ----


def test_without_flags_templates_are_left_alone_and_said_so_once(project: str | None) -> None:
    for command in ("plan", "apply", "check"):
        result = run_cli(*target_args(project), command)
        assert result.exit_code in (0, 1), (command, result.stderr)
        assert (result.stdout + result.stderr).count(NOTE) == 1, (command, result.stdout, result.stderr)
    assert "Note: dataset template tenant_{tenant} left alone" in run_cli(*target_args(project), "apply").stdout.splitlines()[0]
    engine = engine_for(project)
    assert not [d for d in engine.list_datasets() if d.startswith("tenant_")]
    # With a flag, or in JSON (stderr), it is not in the report.
    code, report = json_check(project)
    assert code == 0 and report["clean"] and "tenants" not in report


def test_apply_tenant_then_all_tenants_then_nothing(project: str | None) -> None:
    assert run_cli(*target_args(project), "apply").exit_code == 0
    register(project, acme="active", globex="active", initech="suspended")
    one = run_cli(*target_args(project), "apply", "--tenant", "acme")
    assert one.exit_code == 0, one.stderr
    assert "[1/1] tenant acme: 2 step(s) applied" in one.stderr and NOTE not in one.stdout
    assert one.stdout.splitlines()[-1] == "Tenants (1 tenant(s) given): 1 changed (2 step(s)), 0 up to date, 0 failed."
    engine = engine_for(project)
    assert [d for d in engine.list_datasets() if d.startswith("tenant_")] == ["tenant_acme"]
    assert engine.get_table("tenant_acme", "pipeline_runs") is not None

    every = run_cli(*target_args(project), "apply", "--all-tenants")
    assert every.exit_code == 0, every.stderr
    assert "tenant acme: up to date" in every.stderr and "tenant globex: 2 step(s) applied" in every.stderr
    assert "initech" not in every.stderr  # suspended: no datasets
    assert every.stdout.splitlines()[-1] == (
        "Tenants (2 active tenant(s) in tenants.tenant_profiles): 1 changed (2 step(s)), 1 up to date, 0 failed."
    )
    engine = engine_for(project)
    assert [d for d in engine.list_datasets() if d.startswith("tenant_")] == ["tenant_acme", "tenant_globex"]

    # A second run sends nothing but reads: no DDL, no DML.
    from bqmanage import api
    from bqmanage.settings import resolve_settings

    sent = record(engine)
    settings = resolve_settings(target="bigquery" if project else "local", project=project)
    outcome = api.apply(settings, engine, scope=TenantScope.all())
    assert [o.tenant for o in outcome.tenants] == ["acme", "globex"] and all(o.error is None for o in outcome.tenants)
    writes = [s for s in sent if not s.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert writes == []
    assert run_cli(*target_args(project), "plan", "--all-tenants").exit_code == 0


def _create_drifted_tenant(project: str | None, tenant: str, drop: str) -> None:
    """A tenant's dataset made by hand (as a copy-paste script would), without one column."""
    from bqmanage.changes import CreateDataset, CreateTable
    from bqmanage.plan import Step
    from bqmanage.render import create_schema_sql, create_table_sql

    desired = for_tenants(load_definitions(Path("schemas")), [tenant])
    engine = engine_for(project)
    dataset, table = desired.datasets[0], desired.tables[0]
    table = table.model_copy(update={"columns": tuple(c for c in table.columns if c.name != drop)})
    change = CreateDataset(dataset=dataset.name, table=None, desired=dataset)
    engine.execute(Step("create_dataset", dataset.name, None, "test", sql=create_schema_sql(dataset), changes=(change,)))
    created = CreateTable(dataset=table.dataset, table=table.name, desired=table)
    engine.execute(Step("create_table", table.dataset, table.name, "test", sql=create_table_sql(table), changes=(created,)))
    engine.close()


def test_check_names_the_tenant_and_reports_orphans(project: str | None) -> None:
    assert run_cli(*target_args(project), "apply").exit_code == 0
    register(project, acme="active", hooli="active", initech="suspended")
    assert run_cli(*target_args(project), "apply", "--tenant", "acme").exit_code == 0
    _create_drifted_tenant(project, "hooli", drop="rows_processed")
    _create_drifted_tenant(project, "zzz", drop="")  # no tenant zzz in the registry: an orphan
    _create_drifted_tenant(project, "initech", drop="")  # suspended, still a registry tenant: not an orphan

    code, report = json_check(project, "--all-tenants")
    assert code == 1
    by_kind = {f["kind"]: f for f in report["findings"]}
    assert sorted(by_kind) == ["missing_column", "orphan_dataset"] and len(report["findings"]) == 2
    drift = by_kind["missing_column"]
    where = (drift["tenant"], drift["dataset"], drift["table"], drift["column"])
    assert where == ("hooli", "tenant_hooli", "pipeline_runs", "rows_processed")
    assert drift["message"].startswith("tenant hooli: ") and drift["definition"].endswith("tenant_{tenant}/pipeline_runs.yaml")
    assert by_kind["orphan_dataset"]["dataset"] == "tenant_zzz" and "tenant" not in by_kind["orphan_dataset"]
    assert report["tenants"] == {"checked": 2, "failed": []}
    jsonschema.Draft202012Validator(json.loads((ROOT / "deployment" / "findings.schema.json").read_text())).validate(report)

    sarif = json.loads(run_cli(*target_args(project), "check", "--all-tenants", "--format", "sarif").stdout)
    jsonschema.Draft4Validator(json.loads((ROOT / "tests" / "schemas" / "sarif-schema-2.1.0.json").read_text())).validate(sarif)
    results = sarif["runs"][0]["results"]
    assert [r["properties"]["tenant"] for r in results if "properties" in r] == ["hooli"]
    assert sarif["runs"][0]["invocations"][0]["executionSuccessful"] is True

    # --tenant checks only those tenants, and reports no orphans (it does not read the registry).
    code, report = json_check(project, "--tenant", "acme")
    assert code == 0 and report["findings"] == [] and report["tenants"] == {"checked": 1, "failed": []}

    text = run_cli(*target_args(project), "check", "--all-tenants")
    assert "tenant_hooli.pipeline_runs\n  error    missing_column  tenant hooli: " in text.stdout
    assert text.stdout.endswith("Tenants (2 active tenant(s) in tenants.tenant_profiles): 2 checked, 0 failed.\n")

    planned = run_cli(*target_args(project), "plan", "--all-tenants")
    assert planned.exit_code == 1 and "== tenant hooli ==" in planned.stdout and "== tenant acme ==" not in planned.stdout
    assert run_cli(*target_args(project), "apply", "--all-tenants").exit_code == 0
    code, report = json_check(project, "--all-tenants")
    assert code == 1 and [f["kind"] for f in report["findings"]] == ["orphan_dataset"]  # apply never drops it


def test_an_undefined_table_in_a_tenants_dataset_names_the_tenant(project: str | None) -> None:
    from bqmanage.model.schema import Column, Table
    from tests.check.test_check import create

    assert run_cli(*target_args(project), "apply").exit_code == 0
    register(project, acme="active", hooli="active")
    assert run_cli(*target_args(project), "apply", "--all-tenants").exit_code == 0
    engine = engine_for(project)
    create(engine, Table(dataset="tenant_hooli", name="customer_backup", columns=(Column(name="id", type="STRING"),)))
    engine.close()
    code, report = json_check(project, "--all-tenants")
    # A template has no legacy names, so even a customer_ table there is extra, and the tenant's.
    assert code == 1 and [(f["kind"], f.get("tenant"), f["table"]) for f in report["findings"]] == [
        ("extra_table", "hooli", "customer_backup")
    ]
    assert report["findings"][0]["message"].startswith("tenant hooli: tenant_hooli.customer_backup: table is live")
    # Without the tenant flags, the templated datasets are left alone, this table too.
    code, report = json_check(project)
    assert (code, report["findings"]) == (0, [])


def test_a_registry_id_that_cannot_name_a_dataset_fails_that_tenant_only(workdir: Path) -> None:
    assert run_cli("apply").exit_code == 0
    register(None, acme="active", globex="active")
    engine = engine_for(None)
    engine.query(REGISTER, {"tenant_id": "Bad Id", "status": "active"}, label="test")
    engine.close()
    result = run_cli("apply", "--all-tenants")
    assert result.exit_code == 2
    assert "error: tenant Bad Id: tenants.tenant_profiles lists tenant 'Bad Id', whose datasets cannot be named" in result.stderr
    assert result.stdout.splitlines()[-1] == (
        "Tenants (3 active tenant(s) in tenants.tenant_profiles): 2 changed (4 step(s)), 0 up to date, 1 failed: Bad Id (exit 2)."
    )
    assert [d for d in engine_for(None).list_datasets() if d.startswith("tenant_")] == ["tenant_acme", "tenant_globex"]
    code, report = json_check(None, "--all-tenants")
    assert code == 2 and report["clean"] is False and report["tenants"]["failed"][0]["tenant"] == "Bad Id"


def test_all_tenants_on_a_new_warehouse_creates_the_registry_first(project: str | None) -> None:
    dry = run_cli(*target_args(project), "apply", "--all-tenants", "--dry-run")
    assert dry.exit_code == 0 and "the registry tenants.tenant_profiles does not exist yet" in dry.stdout
    result = run_cli(*target_args(project), "apply", "--all-tenants")
    assert result.exit_code == 0, result.stderr
    last = result.stdout.splitlines()[-1]
    assert last == "Tenants (0 active tenant(s) in tenants.tenant_profiles): 0 changed, 0 up to date, 0 failed."


def test_tenant_workers_setting_is_checked(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BQMANAGE_TENANT_WORKERS", "0")
    result = run_cli("apply", "--all-tenants")
    assert result.exit_code == 2 and result.stderr.startswith("error: BQMANAGE_TENANT_WORKERS=0: expected a whole number")


def test_one_tenant_failing_apply_does_not_stop_the_others(workdir: Path) -> None:
    from bqmanage import api
    from bqmanage.errors import WarehouseError
    from bqmanage.plan import Step
    from bqmanage.settings import resolve_settings
    from bqmanage.tenants.fleet import TenantsFailedError

    assert run_cli("apply").exit_code == 0
    register(None, acme="active", globex="active", hooli="active", initech="suspended")  # --tenant names registered ids
    engine = engine_for(None)
    inner = engine.execute

    def flaky(step: Step) -> None:
        if step.dataset == "tenant_globex":
            raise WarehouseError("injected failure")
        inner(step)

    engine.execute = flaky  # type: ignore[method-assign]
    outcome = api.apply(resolve_settings(), engine, scope=TenantScope.all(), keep_going=True)
    assert [(o.tenant, o.exit_code) for o in outcome.tenants] == [("acme", 0), ("globex", 3), ("hooli", 0)]
    assert "injected failure" in str(outcome.tenants[1].error)
    # The library's default for a deploy script: the failure raises, with its exit code, after the others ran.
    with pytest.raises(TenantsFailedError) as info:
        api.apply(resolve_settings(), engine, scope=TenantScope.of(["globex", "initech"]))
    assert info.value.exit_code == 3 and str(info.value).startswith("tenant globex: ")
    assert engine.get_table("tenant_initech", "pipeline_runs") is not None
