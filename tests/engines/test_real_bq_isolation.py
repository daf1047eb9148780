"""Tenant isolation proved on real BigQuery: a member, impersonated, reads its tenant's rows only.

The local engine evaluates the policies' filters (check --isolation); only BigQuery enforces them,
and only a query run as the member proves it. Skipped unless ``BQMANAGE_TEST_PROJECT`` names a
project the default credentials may create datasets in, ``BQMANAGE_TEST_WRITER`` is their own
principal as a grantee (``serviceAccount:...`` or ``user:...``), and ``BQMANAGE_TEST_MEMBER`` is a
service account they may impersonate (roles/iam.serviceAccountTokenCreator) and that may run jobs
in the project. bqemulator has no row access policies (docs/isolation.md), so it cannot stand in.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from bqmanage.model.row_access import RowAccess, create_policy_sql, declared_policies

PROJECT = os.environ.get("BQMANAGE_TEST_PROJECT")
WRITER = os.environ.get("BQMANAGE_TEST_WRITER")
MEMBER = os.environ.get("BQMANAGE_TEST_MEMBER")
LOCATION = os.environ.get("BQMANAGE_TEST_LOCATION", "US")
pytestmark = [
    pytest.mark.real_bq,
    pytest.mark.skipif(
        not (PROJECT and WRITER and MEMBER) or bool(os.environ.get("BIGQUERY_EMULATOR_HOST")),
        reason="needs real BigQuery: BQMANAGE_TEST_PROJECT, BQMANAGE_TEST_WRITER and BQMANAGE_TEST_MEMBER (impersonable)",
    ),
]


@pytest.fixture
def dataset() -> Iterator[tuple[Any, str]]:
    from google.cloud import bigquery

    client = bigquery.Client(project=PROJECT, location=LOCATION)
    name = f"bqmanage_real_{uuid.uuid4().hex[:10]}"
    client.query(f"CREATE SCHEMA `{PROJECT}`.`{name}` OPTIONS (location = '{LOCATION}')").result()
    yield client, name
    client.delete_dataset(f"{PROJECT}.{name}", delete_contents=True, not_found_ok=True)
    client.close()


def test_an_impersonated_member_reads_only_its_tenants_rows(dataset: tuple[Any, str]) -> None:
    import google.auth
    from google.auth import impersonated_credentials
    from google.cloud import bigquery

    client, name = dataset
    assert PROJECT and WRITER and MEMBER
    client.query(
        f"CREATE TABLE `{PROJECT}`.`{name}`.members (tenant_id STRING NOT NULL, member STRING NOT NULL);"
        f"CREATE TABLE `{PROJECT}`.`{name}`.usage (tenant_id STRING NOT NULL, n INT64);"
        f"INSERT `{PROJECT}`.`{name}`.members VALUES ('acme', @member);"
        f"INSERT `{PROJECT}`.`{name}`.usage VALUES ('acme', 1), ('globex', 2);",
        job_config=bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("member", "STRING", MEMBER)]),
    ).result()
    access = RowAccess(
        tenant_column="tenant_id", members=f"{name}.members", member="{tenant}@x.example", writer=WRITER, project=PROJECT
    )
    for policy in declared_policies(access):
        client.query(create_policy_sql(policy, f"`{PROJECT}`.`{name}`.`usage`")).result()
    source, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    as_member = impersonated_credentials.Credentials(
        source_credentials=source, target_principal=MEMBER, target_scopes=["https://www.googleapis.com/auth/cloud-platform"]
    )
    member_client = bigquery.Client(project=PROJECT, location=LOCATION, credentials=as_member)
    rows = list(member_client.query(f"SELECT tenant_id FROM `{PROJECT}`.`{name}`.usage ORDER BY 1").result())
    assert [r["tenant_id"] for r in rows] == ["acme"]
    # The writer's TRUE filter: bqmanage's own principal still sees (and can update) every row.
    everything = list(client.query(f"SELECT tenant_id FROM `{PROJECT}`.`{name}`.usage ORDER BY 1").result())
    assert [r["tenant_id"] for r in everything] == ["acme", "globex"]
