"""A job runs in one location and reads or creates datasets there only
(https://cloud.google.com/bigquery/docs/locations#specify_locations). check groups datasets by
location for INFORMATION_SCHEMA, and CREATE SCHEMA runs in the dataset's own location."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bqmanage import api
from bqmanage.settings import resolve_settings
from tests.faultproxy import FaultProxy
from tests.helpers import engine_for, write

pytestmark = pytest.mark.emulator


def _jobs(proxy: FaultProxy) -> list[dict[str, object]]:
    return [
        json.loads(body)
        for method, path, body in proxy.bodies
        if method == "POST" and re.search(r"/(jobs|queries)(\?|$)", path) and body
    ]


def _query_of(job: dict[str, object]) -> str:
    return str(((job.get("configuration") or {}).get("query") or {}).get("query") or job.get("query") or "")  # type: ignore[union-attr]


def _location_of(job: dict[str, object]) -> str | None:
    return (job.get("jobReference") or {}).get("location") or job.get("location")  # type: ignore[union-attr,return-value]


@pytest.fixture
def proxied(emulator_url: str, workdir: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    proxy = FaultProxy(emulator_url)
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", proxy.url)
    yield proxy
    proxy.close()


def test_create_schema_runs_in_the_datasets_location(proxied: FaultProxy, workdir: Path) -> None:
    write(workdir / "schemas" / "eu_data" / "_dataset.yaml", "location: EU\n")
    write(workdir / "schemas" / "eu_data" / "events.yaml", "columns:\n  - {name: id, type: STRING}\n")
    settings = resolve_settings(target="bigquery", project="loc-project-1")
    api.apply(settings, engine_for("loc-project-1"))
    creates = [j for j in _jobs(proxied) if "CREATE SCHEMA" in _query_of(j)]
    assert {_query_of(j).split("`")[3] for j in creates} == {"eu_data", "tenants"}
    assert {_query_of(j).split("`")[3]: _location_of(j) for j in creates}["eu_data"] == "EU"


def test_check_reads_each_location_in_a_job_of_its_own() -> None:
    """Pure: the groups the engine forms, from the datasets' locations."""
    from bqmanage.engines.bq_catalog import location_batches

    groups = location_batches({"a": "EU", "b": "US", "c": "EU", "d": None}, default=None, size=50, region_qualified=False)
    assert groups == [("", ["d"]), ("EU", ["a", "c"]), ("US", ["b"])]
    assert location_batches({"a": "eu", "b": "EU"}, default=None, size=1, region_qualified=False) == [
        ("EU", ["a"]),
        ("EU", ["b"]),
    ]
    assert location_batches({"a": "EU", "b": "US"}, default="US", size=50, region_qualified=True) == [
        ("EU", ["a"]),
        ("US", ["b"]),
    ]


@pytest.mark.parametrize("value", ["EU\x1b[2J\nApplied 3 step(s)", "mars-central1"], ids=["hostile", "unknown"])
@pytest.mark.parametrize("source", ["flag", "variable", "config"])
def test_an_unknown_target_location_is_exit_2_before_any_warehouse_call(
    source: str, value: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers import run_cli

    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "http://127.0.0.1:9")  # a call would be exit 3
    monkeypatch.setenv("BQMANAGE_RETRY_DEADLINE", "2")
    args = ["--target", "bigquery", "--project", "demo-project"]
    where = "--location: "
    if source == "flag":
        args += ["--location", value]
    elif source == "variable":
        monkeypatch.setenv("BQMANAGE_LOCATION", value)
        where = "BQMANAGE_LOCATION: "
    else:
        write(
            Path("bqmanage.yaml"),
            "targets:\n  prod:\n    engine: bigquery\n    project: demo-project\n    location: " + json.dumps(value) + "\n",
        )
        args = ["--target", "prod"]
        where = "bqmanage.yaml:5: targets.prod.location: "
    result = run_cli(*args, "plan")
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {where}unknown BigQuery location"), result.stderr
    assert all(c.isprintable() for c in lines[0]) and result.stdout == ""


def test_a_target_location_is_case_insensitive_like_a_dataset_s(workdir: Path) -> None:
    from tests.helpers import run_cli

    assert run_cli("--location", "eu", "apply").exit_code == 0
