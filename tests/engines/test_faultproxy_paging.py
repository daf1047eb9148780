"""The counting proxy pages datasets.list as BigQuery does: bqemulator 1.4.0 returns the first
``maxResults`` datasets and no nextPageToken, so a project past one page seemed to lose datasets
(at 1,000 tenants, bench/production_cost.py's check missed the 1,001st dataset)."""

from __future__ import annotations

import pytest
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from tests.faultproxy import FaultProxy

pytestmark = pytest.mark.emulator


def _client(url: str, project: str) -> bigquery.Client:
    return bigquery.Client(project=project, credentials=AnonymousCredentials(), client_options=ClientOptions(api_endpoint=url))


def test_datasets_list_is_paged_through_the_proxy(emulator_url: str, proxy: FaultProxy) -> None:
    project = "paging-project"
    direct = _client(emulator_url, project)
    names = [f"ds_{i}" for i in range(5)]
    for name in names:
        direct.create_dataset(f"{project}.{name}")
    # bqemulator alone: one page, cut at maxResults, no token (why the proxy pages).
    assert len(list(direct.list_datasets(page_size=2))) == 2
    proxy.reset()
    listed = [d.dataset_id for d in _client(proxy.url, project).list_datasets(page_size=2)]
    assert sorted(listed) == names
    assert proxy.counts["datasets.list"] == 3  # pages of 2, 2 and 1
    proxy.reset()
    assert sorted(d.dataset_id for d in _client(proxy.url, project).list_datasets()) == names
    assert proxy.counts["datasets.list"] == 1
