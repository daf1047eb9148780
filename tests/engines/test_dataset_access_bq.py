"""How the bigquery engine changes a dataset's access list, as the requests show it (through the
proxy in front of bqemulator, which keeps the list and answers a stale etag with 412, measured):
read, merge, and patch with the read's etag; a concurrent change is read again, never overwritten."""

from __future__ import annotations

import itertools
import json
import os
import re
from pathlib import Path

import pytest
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from tests.faultproxy import Fault, FaultProxy
from tests.helpers import run_cli, write

pytestmark = pytest.mark.emulator

_projects = itertools.count()
EVE = {"role": "WRITER", "userByEmail": "eve@example.com"}
ANALYSTS = {"role": "READER", "groupByEmail": "analysts@example.com"}


@pytest.fixture
def bq() -> tuple[str, ...]:
    """The CLI's target flags, a project of its own per test (the emulator lives for the session)."""
    return ("--target", "bigquery", "--project", f"access-{next(_projects):04d}-{os.getpid()}", "--location", "US")


def _client(url: str, bq: tuple[str, ...]) -> bigquery.Client:
    return bigquery.Client(bq[3], credentials=AnonymousCredentials(), client_options=ClientOptions(api_endpoint=url))


def _patches(proxy: FaultProxy) -> list[tuple[dict[str, object], str | None]]:
    """Each datasets.patch the engine sent: its body and its If-Match header."""
    return [
        (json.loads(body), headers.get("If-Match"))
        for (method, path, body), headers in zip(proxy.bodies, proxy.headers, strict=True)
        if method == "PATCH" and "/datasets/sales" in path and "/tables" not in path
    ]


def _sales(workdir: Path) -> None:
    write(workdir / "schemas" / "sales" / "_dataset.yaml", "access:\n  - {role: READER, member: group:analysts@example.com}\n")
    write(workdir / "schemas" / "sales" / "orders.yaml", "columns:\n  - {name: id, type: INT64}\n")


def test_a_grant_is_one_patch_of_the_merged_list_sent_with_the_etag_just_read(
    proxy: FaultProxy, workdir: Path, bq: tuple[str, ...]
) -> None:
    write(workdir / "schemas" / "sales" / "_dataset.yaml", "description: Sales.\n")
    write(workdir / "schemas" / "sales" / "orders.yaml", "columns:\n  - {name: id, type: INT64}\n")
    assert run_cli(*bq, "apply").exit_code == 0
    client = _client(proxy.upstream, bq)
    dataset = client.get_dataset("sales")
    dataset._properties["access"] = [EVE]
    dataset = client.update_dataset(dataset, ["access_entries"])
    _sales(workdir)
    proxy.reset()
    proxy.headers.clear()
    assert run_cli(*bq, "apply").exit_code == 0
    ((body, etag),) = _patches(proxy)
    assert body == {"access": [EVE, ANALYSTS]}  # the entry nobody declared is sent back as it was
    assert etag is not None and etag == dataset.etag  # If-Match: the etag of the read just before
    assert proxy.counts["datasets.patch"] == 1


def test_a_concurrent_change_between_read_and_patch_is_read_again_and_kept(
    proxy: FaultProxy, workdir: Path, bq: tuple[str, ...]
) -> None:
    """bqemulator does not check If-Match (measured: a stale etag is accepted and the list
    overwritten), so the proxy answers the stale patch with 412 as BigQuery does
    (https://cloud.google.com/bigquery/docs/reference/rest/v2/datasets/patch, ETag / If-Match)."""
    write(workdir / "schemas" / "sales" / "orders.yaml", "columns:\n  - {name: id, type: INT64}\n")
    assert run_cli(*bq, "apply").exit_code == 0
    _sales(workdir)
    client = _client(proxy.upstream, bq)
    reads: list[str] = []

    def somebody_else_grants_after_the_read(method: str, path: str, body: bytes) -> bytes:
        # The plan reads the dataset, then the step reads it again for its etag: right after that
        # second read another tool adds an entry, and bqmanage's etag is stale.
        if method == "GET" and re.search(r"/datasets/sales\?", path):
            reads.append(path)
            if len(reads) == 2:
                dataset = client.get_dataset("sales")
                dataset._properties["access"] = [*dataset._properties.get("access", []), EVE]
                client.update_dataset(dataset, ["access_entries"])
        return body

    proxy.edit_answer = somebody_else_grants_after_the_read
    stale = (412, "conditionNotMet", "Precondition check failed.")
    proxy.faults.append(Fault("PATCH", re.compile(r"/datasets/sales\?"), 1, stale))
    proxy.reset()
    proxy.headers.clear()
    result = run_cli(*bq, "apply")
    assert result.exit_code == 0, result.stderr
    assert proxy.injected == 1
    refused, sent = _patches(proxy)
    assert refused[0] == {"access": [ANALYSTS]} and refused[1] != sent[1]  # sent again with a fresh etag
    assert sent[0] == {"access": [EVE, ANALYSTS]}  # merged into what the fresh read showed
    assert client.get_dataset("sales")._properties["access"] == [EVE, ANALYSTS]


def test_412s_past_the_retries_fail_with_exit_3_naming_the_call(proxy: FaultProxy, workdir: Path, bq: tuple[str, ...]) -> None:
    write(workdir / "schemas" / "sales" / "orders.yaml", "columns:\n  - {name: id, type: INT64}\n")
    assert run_cli(*bq, "apply").exit_code == 0
    _sales(workdir)
    stale = (412, "conditionNotMet", "Precondition check failed.")
    proxy.faults.append(Fault("PATCH", re.compile(r"/datasets/sales\?"), 100, stale))
    result = run_cli(*bq, "apply")
    assert result.exit_code == 3
    assert "datasets.patch failed" in result.stderr and "Traceback" not in result.stderr
    assert not _client(proxy.upstream, bq).get_dataset("sales")._properties.get("access")


def test_an_authorized_view_and_dataset_are_sent_as_bigquery_names_them(
    proxy: FaultProxy, workdir: Path, bq: tuple[str, ...]
) -> None:
    """Only the request is checked: bqemulator 1.4.0 keeps an authorized view but reads an authorized
    dataset back as ``{"dataset": {"projectId": "", "datasetId": ""}}`` (measured), so check on it
    would see a different entry; real BigQuery keeps it (the Dataset resource's access[].dataset)."""
    write(
        workdir / "schemas" / "sales" / "_dataset.yaml",
        "access:\n  - {member: view:other-project.shared.orders_v}\n  - {member: dataset:other-project.reporting}\n",
    )
    write(workdir / "schemas" / "sales" / "orders.yaml", "columns:\n  - {name: id, type: INT64}\n")
    assert run_cli(*bq, "apply").exit_code == 0
    ((body, etag),) = _patches(proxy)
    assert etag
    assert body == {
        "access": [
            {"view": {"projectId": "other-project", "datasetId": "shared", "tableId": "orders_v"}},
            {"dataset": {"dataset": {"projectId": "other-project", "datasetId": "reporting"}, "targetTypes": ["VIEWS"]}},
        ]
    }
