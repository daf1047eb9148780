"""Every CREATE SCHEMA names a location: the dataset's, else the target's, else bqmanage refuses
(BigQuery would put the dataset in the US, https://cloud.google.com/bigquery/docs/locations).
And ``check`` reports a live dataset in another location than its definition (``location_mismatch``).

bqemulator keeps every dataset in one place and drops CREATE SCHEMA's options, so the drift test
reads the location the proxy reports for the dataset, as BigQuery's datasets.get would."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from bqmanage import api
from bqmanage.engines.bigquery import BigQueryEngine
from bqmanage.errors import UsageError
from bqmanage.settings import resolve_settings
from tests.faultproxy import FaultProxy
from tests.helpers import run_cli, write

pytestmark = pytest.mark.emulator


def _creates(proxy: FaultProxy) -> list[str]:
    queries = [
        json.loads(b)["configuration"]["query"]["query"]
        for m, p, b in proxy.bodies
        if m == "POST" and p.split("?")[0].endswith("/jobs")
    ]
    return [q for q in queries if "CREATE SCHEMA" in q]


def test_create_schema_takes_the_targets_location_when_the_dataset_names_none(proxy: FaultProxy, workdir: Path) -> None:
    write(workdir / "schemas" / "eu_data" / "_dataset.yaml", "location: EU\n")
    write(workdir / "schemas" / "eu_data" / "events.yaml", "columns:\n  - {name: id, type: STRING}\n")
    assert run_cli("--target", "bigquery", "--project", "loc-target", "--location", "us-central1", "apply").exit_code == 0
    creates = {q.split("`")[3]: q for q in _creates(proxy)}
    assert 'location = "EU"' in creates["eu_data"]
    assert 'location = "us-central1"' in creates["tenants"]  # from the target
    assert all("location = " in q for q in creates.values())


def test_on_bigquery_a_dataset_with_no_location_anywhere_is_refused(proxy: FaultProxy) -> None:
    settings = resolve_settings(target="bigquery", project="loc-none")
    engine = BigQueryEngine(settings, "test")
    engine.capabilities = dataclasses.replace(engine.capabilities, requires_location=True)  # real BigQuery's
    with pytest.raises(UsageError, match=r"dataset tenants: no location to create it in") as refused:
        api.apply(settings, engine)
    assert refused.value.exit_code == 2
    assert _creates(proxy) == [] and not [m for m, _, _ in proxy.bodies if m in ("PATCH", "PUT", "DELETE")]


def test_check_reports_a_dataset_in_another_location_than_defined(proxy: FaultProxy, workdir: Path) -> None:
    settings = resolve_settings(target="bigquery", project="loc-drift", location="EU")
    engine = BigQueryEngine(settings, "test")
    api.apply(settings, engine)

    def in_us(method: str, path: str, data: bytes) -> bytes:
        """datasets.get as BigQuery answers for a dataset made in the US (by hand, or long ago)."""
        if method != "GET" or not re.search(r"/datasets/tenants(\?|$)", path):
            return data
        return json.dumps({**json.loads(data), "location": "US"}).encode()

    proxy.edit_answer = in_us
    engine = BigQueryEngine(settings, "test")
    engine.capabilities = dataclasses.replace(engine.capabilities, unobservable=engine.capabilities.unobservable - {"location"})
    findings = api.check(settings, engine).findings
    drift = [f for f in findings if f.kind == "location_mismatch"]
    assert len(drift) == 1 and drift[0].dataset == "tenants" and drift[0].severity == "error"
    assert "in US" in drift[0].message and "EU" in drift[0].message
