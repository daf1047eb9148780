"""Row- and column-level security on the bigquery engine: the live row access policies of a table
(rowAccessPolicies.list, which the Python client has no method for), and what the engine can see
of them. Policies are made by DDL (CREATE OR REPLACE ROW ACCESS POLICY), as any other step.

rowAccessPolicies.list returns each policy's filter, not its grantees (input only in the REST
resource; INFORMATION_SCHEMA.ROW_ACCESS_POLICIES has none either, reference/bigquery-facts.md §11),
so on BigQuery check compares filters, and the isolation probe's grantee test relies on the
definitions. bqemulator has no row access policies at all: the engine declares the gap.
https://cloud.google.com/bigquery/docs/reference/rest/v2/rowAccessPolicies/list
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

from google.cloud import bigquery

from bqmanage.engines.bq_catalog import each
from bqmanage.plan import Capabilities

T = TypeVar("T")


def row_security(capabilities: Capabilities, emulator: bool) -> Capabilities:
    """The engine's capabilities with what it cannot see of row access policies."""
    hidden = {"row_access", "policy_tags"} if emulator else {"row_access_grantees"}
    return dataclasses.replace(capabilities, unobservable=capabilities.unobservable | hidden)


class BqRowSecurity:
    """BigQueryEngine's reads of row access policies."""

    client: bigquery.Client
    project: str
    concurrency: int
    rpc_retry: Any
    rpc_timeout: float

    def _call(self, operation: str, func: Callable[[], T]) -> T:
        raise NotImplementedError  # BigQueryEngine's

    def row_access_policies(self, tables: list[tuple[str, str]]) -> dict[str, list[dict[str, Any]]]:
        """Each table's policies as ``{"policyId", "filterPredicate"}``, keyed "dataset.table"."""
        found = each(self.concurrency, self._list_policies, tables)
        return {f"{d}.{t}": policies for (d, t), policies in zip(tables, found, strict=True)}

    def _list_policies(self, table: tuple[str, str]) -> list[dict[str, Any]]:
        dataset, name = table
        path = "/projects/{}/datasets/{}/tables/{}/rowAccessPolicies".format(
            *(quote(p, safe="") for p in (self.project, dataset, name))
        )
        out: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            params = {"pageToken": token} if token else {}
            call = functools.partial(
                self.client._call_api, self.rpc_retry, method="GET", path=path, query_params=params, timeout=self.rpc_timeout
            )
            page = self._call("rowAccessPolicies.list", call)
            for item in page.get("rowAccessPolicies") or []:
                ref = item.get("rowAccessPolicyReference") or {}
                out.append({"policyId": ref.get("policyId", ""), "filterPredicate": item.get("filterPredicate", "")})
            token = page.get("nextPageToken")
            if not token:
                return out
