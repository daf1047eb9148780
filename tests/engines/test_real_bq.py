"""The questions BigQuery's documentation leaves open, asked of real BigQuery.

Skipped unless ``BQMANAGE_TEST_PROJECT`` names a project that the application default credentials
(or ``GOOGLE_APPLICATION_CREDENTIALS``) may create datasets in; each test makes a dataset of its
own in ``BQMANAGE_TEST_LOCATION`` (default US) and drops it. Run them with
``BQMANAGE_TEST_PROJECT=my-project pytest -m real_bq tests/engines/test_real_bq.py``.

Each test asserts the answer bqmanage assumes, and its docstring says what bqmanage does if the
answer is no (reference/bigquery-facts.md §9 lists the open questions).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from bqmanage.apply import ledger_insert_sql, ledger_params, ledger_table
from bqmanage.changes import Backfill, CreateTable
from bqmanage.engines import infoschema
from bqmanage.model.schema import Column, Partitioning
from bqmanage.plan import Plan, step_of

PROJECT = os.environ.get("BQMANAGE_TEST_PROJECT")
LOCATION = os.environ.get("BQMANAGE_TEST_LOCATION", "US")
pytestmark = [
    pytest.mark.real_bq,
    pytest.mark.skipif(not PROJECT, reason="needs BQMANAGE_TEST_PROJECT and credentials for a real BigQuery project"),
]


@pytest.fixture
def client() -> Iterator[Any]:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    # With BIGQUERY_EMULATOR_HOST set, the tests' own code runs against bqemulator (a smoke run:
    # its answers are not BigQuery's); without it, the real service with the default credentials.
    anonymous = AnonymousCredentials() if os.environ.get("BIGQUERY_EMULATOR_HOST") else None
    client = bigquery.Client(project=PROJECT, location=LOCATION, credentials=anonymous)
    yield client
    client.close()


@pytest.fixture
def dataset(client: Any) -> Iterator[str]:
    name = f"bqmanage_real_{uuid.uuid4().hex[:10]}"
    client.query(f"CREATE SCHEMA `{PROJECT}`.`{name}` OPTIONS (location = '{LOCATION}')").result()
    yield name
    client.delete_dataset(f"{PROJECT}.{name}", delete_contents=True, not_found_ok=True)


def _field(client: Any, dataset: str, table: str, name: str) -> dict[str, Any]:
    resource = client.get_table(f"{PROJECT}.{dataset}.{table}").to_api_repr()
    return next(f for f in resource["schema"]["fields"] if f["name"] == name)


def _patch_fields(client: Any, dataset: str, table: str, edit: Any) -> None:
    from google.cloud import bigquery

    live = client.get_table(f"{PROJECT}.{dataset}.{table}")
    resource = live.to_api_repr()
    for field in resource["schema"]["fields"]:
        edit(field)
    client.update_table(bigquery.Table.from_api_repr(resource), ["schema"])


def test_tables_patch_sets_a_default_value_expression(client: Any, dataset: str) -> None:
    """If no: the table read back after the patch lacks the default, and apply sets it with
    ``ALTER COLUMN SET DEFAULT`` instead (engines/bigquery.py ``_verify``, DDL fallback)."""
    client.query(f"CREATE TABLE `{PROJECT}`.`{dataset}`.t (n INT64)").result()
    _patch_fields(client, dataset, "t", lambda f: f.update({"defaultValueExpression": "7"}))
    assert _field(client, dataset, "t", "n").get("defaultValueExpression") == "7"


def test_tables_patch_removes_a_default_left_out(client: Any, dataset: str) -> None:
    """If no: the read-back still shows the default, and apply drops it with ``ALTER COLUMN DROP
    DEFAULT`` instead (DropDefault's DDL fallback)."""
    client.query(f"CREATE TABLE `{PROJECT}`.`{dataset}`.t (n INT64 DEFAULT 7)").result()
    _patch_fields(client, dataset, "t", lambda f: f.pop("defaultValueExpression", None))
    assert "defaultValueExpression" not in _field(client, dataset, "t", "n")


@pytest.mark.skipif(
    not (os.environ.get("BQMANAGE_TEST_POLICY_TAG") and os.environ.get("BQMANAGE_TEST_EDITOR_CREDENTIALS")),
    reason="needs BQMANAGE_TEST_POLICY_TAG (a policy tag name) and BQMANAGE_TEST_EDITOR_CREDENTIALS (a key of a "
    "principal with BigQuery Data Editor and Job User only)",
)
def test_echoing_unchanged_policy_tags_needs_data_catalog_rights_and_leaving_them_out_keeps_them(
    client: Any, dataset: str
) -> None:
    """If the echo does not fail: nothing is lost, stripping the tags stays harmless. If leaving
    them out cleared them: bqmanage would have to echo them, and a Data Editor could not patch a
    governed table at all; apply would fail with the 403, exit 3."""
    from google.api_core import exceptions
    from google.cloud import bigquery

    tag = os.environ["BQMANAGE_TEST_POLICY_TAG"]
    client.query(f"CREATE TABLE `{PROJECT}`.`{dataset}`.t (secret STRING, n INT64)").result()
    _patch_fields(client, dataset, "t", lambda f: f.update({"policyTags": {"names": [tag]}} if f["name"] == "secret" else {}))
    editor = bigquery.Client.from_service_account_json(os.environ["BQMANAGE_TEST_EDITOR_CREDENTIALS"], project=PROJECT)
    with pytest.raises(exceptions.Forbidden):
        _patch_fields(editor, dataset, "t", lambda f: f.update({"description": "echoed"}))
    _patch_fields(editor, dataset, "t", lambda f: (f.pop("policyTags", None), f.update({"description": "stripped"})))
    assert _field(client, dataset, "t", "secret").get("policyTags") == {"names": [tag]}


def test_application_dml_leaves_the_tables_etag_alone(client: Any, dataset: str) -> None:
    """If no (DML changes the etag): an application writing the table between bqmanage's read and
    its patch makes the patch fail with 412; bqmanage reads again and patches anew, five times,
    then fails the step without overwriting (test_patch_faults)."""
    client.query(f"CREATE TABLE `{PROJECT}`.`{dataset}`.t (n INT64)").result()
    before = client.get_table(f"{PROJECT}.{dataset}.t").etag
    client.query(f"INSERT INTO `{PROJECT}`.`{dataset}`.t (n) VALUES (1)").result()
    assert client.get_table(f"{PROJECT}.{dataset}.t").etag == before


def test_require_partition_filter_accepts_the_backfills_predicate(client: Any, dataset: str) -> None:
    """If no: the backfill UPDATE fails with "Cannot query over table ... without a filter", exit 3,
    and stays owed in the ledger; the fix would be a backfill partition by partition."""
    client.query(
        f"CREATE TABLE `{PROJECT}`.`{dataset}`.t (d DATE, n INT64) PARTITION BY d OPTIONS (require_partition_filter = TRUE)"
    ).result()
    client.query(f"INSERT INTO `{PROJECT}`.`{dataset}`.t (d, n) VALUES (CURRENT_DATE(), NULL)").result()
    client.query(f"ALTER TABLE `{PROJECT}`.`{dataset}`.t ALTER COLUMN n SET DEFAULT 0").result()
    backfill = Backfill(
        dataset=dataset,
        table="t",
        columns=(Column(name="n", type="INT64", default="0"),),
        partition_filter=Partitioning(column="d"),
    )
    client.query(backfill.render(PROJECT)).result()
    rows = list(client.query(f"SELECT n FROM `{PROJECT}`.`{dataset}`.t WHERE d IS NOT NULL").result())
    assert [r["n"] for r in rows] == [0]


def test_a_catalog_batch_bills_ten_megabytes_per_view_at_most(client: Any, dataset: str) -> None:
    """Measures what one check batch (a UNION ALL of dataset-qualified INFORMATION_SCHEMA views)
    bills. If it is 10 MB per view referenced (the pessimistic case bench/ models), a large fleet
    should set ``region_qualified_information_schema: true`` on its target: one view per kind."""
    from google.cloud import bigquery

    views = list(infoschema.VIEWS)[:3]
    sql = infoschema.catalog_sql(views, [dataset], PROJECT)
    job = client.query(sql, job_config=bigquery.QueryJobConfig(use_query_cache=False))
    job.result()
    billed = int(job.total_bytes_billed or 0)
    print(f"catalog batch of {len(views)} views billed {billed:,} bytes")
    assert 0 < billed <= 10 * 1024 * 1024 * len(views)


def test_a_null_query_parameter_is_accepted_in_the_ledger_insert(client: Any, dataset: str) -> None:
    """The docs say NULL parameters are not supported; in practice typed NULLs run. If no: every
    ledger write of a successful apply (error = NULL) fails, and the ledger would have to render
    NULL literals instead of parameters."""
    from google.cloud import bigquery

    from bqmanage.engines.bq_params import query_parameter

    ledger = step_of(CreateTable(dataset=dataset, table="_bqmanage_migrations", desired=ledger_table(dataset)), PROJECT)
    assert ledger.sql is not None
    client.query(ledger.sql).result()
    plan = Plan(steps=(), refused=())
    params = ledger_params(dataset, "run", "me", "digest", "succeeded", 1, 1, ["SELECT 1"], plan, None)
    config = bigquery.QueryJobConfig(
        default_dataset=f"{PROJECT}.{dataset}", query_parameters=[query_parameter(k, v) for k, v in params.items()]
    )
    client.query(ledger_insert_sql(dataset), job_config=config).result()
    rows = list(client.query(f"SELECT error, applied_at FROM `{PROJECT}`.`{dataset}`._bqmanage_migrations").result())
    assert len(rows) == 1 and rows[0]["error"] is None and isinstance(rows[0]["applied_at"], dt.datetime)
    json.dumps(params, default=str)  # the parameters are plain values
