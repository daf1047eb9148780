"""Every statement of row- and column-level security, analyzed by Google's GoogleSQL front end
(ZetaSQL) against a catalog built from the shipped definitions: the two row access policies (on
BigQuery, qualified by the project), the mapping table's DML that tenant add, suspend and resume
send, and the isolation probe's reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from bqmanage import api
from bqmanage.check.isolation import as_member
from bqmanage.definitions.load import load_definitions
from bqmanage.definitions.row_access import with_writer
from bqmanage.engines.local import LocalEngine
from bqmanage.model.row_access import create_policy_sql, declared_policies
from bqmanage.settings import resolve_settings
from tests.googlesql import OracleError, oracle
from tests.helpers import record

pytestmark = pytest.mark.googlesql

ROOT = Path(__file__).resolve().parents[2]
WRITER = "serviceAccount:bqmanage@my-project.iam.gserviceaccount.com"


@pytest.mark.parametrize("project", [None, "my-project"])
def test_the_row_access_policies_pass_the_analyzer(project: str | None) -> None:
    desired = with_writer(load_definitions(ROOT / "schemas"), WRITER, project)
    quotas = desired.table("tenants", "tenant_usage_quotas")
    assert quotas is not None and quotas.row_access is not None
    policies = declared_policies(quotas.row_access)
    assert [p.name for p in policies] == ["bqmanage_writer", "bqmanage_tenant_isolation"]
    for policy in policies:
        oracle().analyze(create_policy_sql(policy, quotas.ref.sql(project)), desired)
        # The probe evaluates the same filter with the member as a parameter.
        probe = f"SELECT DISTINCT tenant_id AS seen FROM tenants.tenant_usage_quotas WHERE ({as_member(policy.filter)})"
        oracle().analyze(probe, desired, {"member": "acme-reader@example.com"})


def test_the_analyzer_rejects_a_filter_that_names_a_missing_column() -> None:
    desired = with_writer(load_definitions(ROOT / "schemas"), WRITER, None)
    quotas = desired.table("tenants", "tenant_usage_quotas")
    assert quotas is not None and quotas.row_access is not None
    (_, isolation) = declared_policies(quotas.row_access)
    broken = isolation.model_copy(update={"filter": isolation.filter.replace("`member`", "`members`")})
    with pytest.raises(OracleError, match="members"):
        oracle().analyze(create_policy_sql(broken, quotas.ref.sql()), desired)


def test_the_mapping_table_statements_of_tenant_commands_pass_the_analyzer(workdir: Path) -> None:
    settings = resolve_settings()
    desired = load_definitions(Path("schemas"))
    engine = LocalEngine(settings.local_path)
    try:
        api.apply(settings, engine, desired=desired)
        sent = record(engine)
        api.tenant_add(settings, engine, "acme", desired=desired)
        api.tenant_suspend(settings, engine, "acme", desired=desired)
        api.tenant_resume(settings, engine, "acme", desired=desired)
    finally:
        engine.close()
    mapping = [s for s in sent if "tenant_members" in s]
    assert any(s.startswith("INSERT INTO") for s in mapping) and any(s.startswith("DELETE FROM") for s in mapping)
    for statement in mapping:
        params = {k: v for k, v in {"tenant": "acme", "member": "acme-reader@example.com"}.items() if f"@{k}" in statement}
        oracle().analyze(statement, desired, params)
