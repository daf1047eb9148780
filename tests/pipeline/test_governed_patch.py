"""Schema patches on governed tables, and patches checked by reading the table back.

BigQuery's tables.get shows each column's ``policyTags`` (and ``dataPolicies``); a patch that
echoes them needs Data Catalog permissions even when they are unchanged, and left out they stay
(reference/bigquery-facts.md §11). bqemulator has no column-level security, so the proxy adds
tags to every column it reads back, as BigQuery would show them on a governed table. And the
docs do not say that tables.patch sets a default (§10): when the table read back lacks it, apply
sets it with DDL instead of reporting it done."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from typing import Any

from bqmanage import api
from bqmanage.engines.bigquery import BigQueryEngine
from bqmanage.settings import resolve_settings
from tests import seed
from tests.faultproxy import FaultProxy
from tests.helpers import engine_for

_TABLE = re.compile(r"/datasets/tenants/tables/tenant_usage_quotas(\?|$)")
_TAGS = {"names": ["projects/p/locations/us/taxonomies/1/policyTags/2"]}


def _governed(method: str, path: str, data: bytes) -> bytes:
    """tables.get of the quota table as BigQuery shows a table with column-level security."""
    if method != "GET" or not _TABLE.search(path):
        return data
    table = json.loads(data)
    for field in (table.get("schema") or {}).get("fields") or []:
        field["policyTags"] = _TAGS
        field["dataPolicies"] = [{"name": "projects/p/locations/us/dataPolicies/mask"}]
    return json.dumps(table).encode()


def _fields(body: bytes) -> list[dict[str, Any]]:
    def walk(fields: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for field in fields:
            yield field
            yield from walk(field.get("fields") or [])

    return list(walk((json.loads(body).get("schema") or {}).get("fields") or []))


def _patches(proxy: FaultProxy) -> list[bytes]:
    return [body for method, path, body in proxy.bodies if method == "PATCH" and _TABLE.search(path)]


def test_a_schema_patch_on_a_governed_table_sends_no_policy_tags(proxy: FaultProxy) -> None:
    project = "governed-patch"
    seed.create_old_table(engine_for(project))
    proxy.edit_answer = _governed
    settings = resolve_settings(target="bigquery", project=project)
    api.apply(settings, BigQueryEngine(settings, "test"))
    patches = _patches(proxy)
    assert patches, "the new columns' defaults go through tables.patch"
    fields = [f for body in patches for f in _fields(body)]
    assert any("defaultValueExpression" in f for f in fields)
    assert not [f["name"] for f in fields if "policyTags" in f or "dataPolicies" in f]


def test_a_default_the_patch_did_not_set_is_set_with_ddl(proxy: FaultProxy) -> None:
    project = "ignored-default"
    seed.create_old_table(engine_for(project))

    def ignore_defaults(method: str, path: str, body: bytes) -> bytes:
        """BigQuery answering the patch with success but leaving the defaults unset."""
        if method != "PATCH" or not _TABLE.search(path):
            return body
        table = json.loads(body)
        for field in (table.get("schema") or {}).get("fields") or []:
            field.pop("defaultValueExpression", None)
        return json.dumps(table).encode()

    proxy.edit_request = ignore_defaults
    settings = resolve_settings(target="bigquery", project=project)
    engine = BigQueryEngine(settings, "test")
    # Make defaults observable here: bqemulator's catalog keeps what tables.patch sends.
    engine.capabilities = dataclasses.replace(engine.capabilities, unobservable=engine.capabilities.unobservable - {"default"})
    outcome = api.apply(settings, engine)
    assert outcome.result is not None
    jobs = [
        json.loads(b)["configuration"]["query"]["query"]
        for m, p, b in proxy.bodies
        if m == "POST" and p.split("?")[0].endswith("/jobs")
    ]
    set_default = [q for q in jobs if q.startswith("ALTER") and "SET DEFAULT" in q]
    # Every default the patch carried was missing on read-back, so each was set with DDL instead.
    assert len(set_default) >= 6 and any("`pipelines_cancelled_today` SET DEFAULT 0" in q for q in set_default)
