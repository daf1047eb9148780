"""What check, plan and a no-op apply cost on the bigquery target, counted at the proxy in
front of bqemulator: requests and jobs that do not grow per dataset as they did (one datasets.get,
one tables.list and one ledger query each), the dataset read from datasets.list and
SCHEMATA_OPTIONS, the batched ledger read that still finds an unfinished apply, and the bound on
requests in flight. Requests only bqemulator needs (the LIMIT 0 probes) are counted apart."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from bqmanage import api
from bqmanage.check import owed
from bqmanage.definitions.load import load_definitions
from bqmanage.engines import infoschema
from bqmanage.engines.bigquery import BigQueryEngine
from bqmanage.ledger import ledger_insert_sql
from bqmanage.model.schema import Definitions
from bqmanage.settings import Settings, resolve_settings
from tests.faultproxy import Fault, FaultProxy
from tests.helpers import write

pytestmark = pytest.mark.emulator


def _definitions(root: Path, datasets: int, default: bool = False) -> Definitions:
    for d in range(datasets):
        write(root / f"tenant_{d:02d}" / "events.yaml", "columns:\n  - {name: id, type: STRING, mode: REQUIRED}\n")
        n = "  - {name: n, type: INT64" + (", default: 7}" if default else "}") + "\n"
        write(root / f"tenant_{d:02d}" / "usage.yaml", "columns:\n  - {name: id, type: STRING}\n" + n)
    return load_definitions(root)


def _settings(project: str, schemas: Path) -> Settings:
    return resolve_settings(target="bigquery", project=project, schemas=str(schemas))


def _applied(project: str, root: Path, datasets: int, default: bool = False) -> tuple[Settings, Definitions]:
    settings, desired = _settings(project, root), _definitions(root, datasets, default)
    outcome = api.apply(settings, BigQueryEngine(settings, "test"), desired=desired)
    assert outcome.result is not None and outcome.result.executed
    return settings, desired


def _cost(proxy: FaultProxy, run: Callable[[], object]) -> tuple[dict[str, int], int]:
    proxy.reset()
    run()
    return dict(proxy.counts), proxy.jobs()


def test_check_plan_and_apply_do_not_pay_per_dataset_as_before(
    proxy: FaultProxy, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The cost of a check long after the apply: right after it, the applied tables are read with
    # tables.get as well (tests/check/test_recent_apply.py).
    monkeypatch.setattr(owed, "STALENESS_WINDOW", dt.timedelta(0))
    costs = {}
    for n in (3, 12):
        settings, desired = _applied(f"cost-project-{n}", workdir / f"schemas-{n}", n)
        engine = BigQueryEngine(settings, "test")
        check = api.check(settings, engine, desired)
        assert check.clean, [f.message for f in check.findings]
        costs[n] = {
            "check": _cost(proxy, lambda s=settings, e=engine, d=desired: api.check(s, e, d)),
            "plan": _cost(proxy, lambda s=settings, e=engine, d=desired: api.make_plan(s, e, desired=d)),
            "apply": _cost(proxy, lambda s=settings, e=engine, d=desired: api.apply(s, e, desired=d)),
        }
        assert proxy.emulator_only["jobs.insert"] > 0  # the probes happened, and were counted apart
    small, large = costs[3], costs[12]
    # check: one datasets.list for the datasets and one for the legacy audit, one region-qualified
    # INFORMATION_SCHEMA job (the three views bqemulator has, in one query) with its result polls;
    # bqemulator answers no region-qualified view, so one dataset-qualified job per 50 datasets
    # reads them again (on BigQuery the first answers); one query reads the ledgers the listing
    # showed (when each dataset was last applied). Nothing per dataset.
    assert large["check"] == small["check"]
    assert large["check"][1] == 3 and large["check"][0]["datasets.list"] == 2
    assert not {"datasets.get", "tables.list", "tables.get"} & set(large["check"][0])
    # plan: one ledger query for every dataset; per dataset a datasets.get, a tables.get per table
    # and one for its ledger, side by side. No tables.list, no query per dataset.
    assert small["plan"][1] == large["plan"][1] == 1
    assert "tables.list" not in large["plan"][0]
    assert large["plan"][0]["datasets.get"] - small["plan"][0]["datasets.get"] == 9
    assert large["plan"][0]["tables.get"] - small["plan"][0]["tables.get"] == 9 * 3
    # a no-op apply: no column has a default, so no ledger can hold a backfill to resume: none is read.
    assert small["apply"][1] == large["apply"][1] == 0
    assert large["apply"][0]["tables.get"] - small["apply"][0]["tables.get"] == 9 * 2


def test_check_reads_datasets_as_datasets_get_does(proxy: FaultProxy, workdir: Path) -> None:
    from google.cloud import bigquery

    settings = _settings("datasets-project", workdir / "defs")
    engine = BigQueryEngine(settings, "test")
    for name, location in (("eu_data", "EU"), ("us_data", "US"), ("west_data", "europe-west4")):
        dataset = bigquery.Dataset(f"datasets-project.{name}")
        dataset.location, dataset.description, dataset.labels = location, f"the {name}", {"team": name[:2], "tier": "gold"}
        engine.client.create_dataset(dataset)
    names = ["eu_data", "us_data", "west_data", "absent"]
    proxy.reset()
    bulk = engine.read_datasets_bulk(names)
    assert proxy.counts == {"datasets.list": 1}
    one_by_one = engine.read_datasets_exact(names)
    assert bulk["absent"] is None and one_by_one["absent"] is None
    for name in names[:3]:
        got, each = bulk[name], one_by_one[name]
        assert got is not None and each is not None
        assert (got["location"], got["labels"]) == (each["location"], each["labels"])
        # bqemulator answers SCHEMATA_OPTIONS with SCHEMATA's rows, so the engine does not read
        # descriptions there (BQEMULATOR.info_schema_missing); test_schemata_options_rows below
        # checks the rows BigQuery documents.
        assert "description" not in got and each["description"] == f"the {name}"


def test_without_project_wide_metadata_access_the_descriptions_come_from_datasets_get(proxy: FaultProxy, workdir: Path) -> None:
    """SCHEMATA_OPTIONS is region-qualified only, which needs dataset metadata permission on the
    project; a principal granted single datasets gets a 403 there, and bqmanage reads those
    datasets one by one instead. (bqemulator's SCHEMATA_OPTIONS is broken, so the engine is told
    to read it here, and the 403 is BigQuery's, injected at the proxy.)"""
    from google.cloud import bigquery

    settings = _settings("denied-project", workdir / "defs")
    engine = BigQueryEngine(settings, "test")
    missing = engine.capabilities.info_schema_missing - {"SCHEMATA_OPTIONS"}
    engine.capabilities = replace(engine.capabilities, info_schema_missing=missing)
    dataset = bigquery.Dataset("denied-project.tenant_a")
    dataset.description, dataset.labels = "Tenant A", {"tier": "gold"}
    engine.client.create_dataset(dataset)
    denied = (403, "accessDenied", "Access Denied: Project denied-project: User does not have bigquery.datasets.get permission")
    proxy.faults.append(Fault("POST", re.compile(r"/jobs(\?|$)"), 1, denied, body=re.compile("SCHEMATA_OPTIONS")))
    found = engine.read_datasets_bulk(["tenant_a"])["tenant_a"]
    assert proxy.injected == 1
    assert found is not None and (found["description"], found["labels"]) == ("Tenant A", {"tier": "gold"})


def test_schemata_options_rows() -> None:
    """Pure: SCHEMATA_OPTIONS as BigQuery renders it (a GoogleSQL literal per option), per dataset,
    and the one region-qualified query per location that reads it."""
    rows = [
        {"schema_name": "tenants", "option_name": "description", "option_value": '"Per-tenant \\"quota\\" state"'},
        {"schema_name": "eu_data", "option_name": "description", "option_value": '"EU"'},
    ]
    assert infoschema.dataset_options(rows) == {
        "tenants": {"description": 'Per-tenant "quota" state'},
        "eu_data": {"description": "EU"},
    }
    sql = infoschema.schemata_options_sql("my-proj", "europe-west4")
    assert "`my-proj`.`region-europe-west4`.INFORMATION_SCHEMA.SCHEMATA_OPTIONS" in sql
    assert "IN UNNEST(@datasets)" in sql


def test_the_batched_ledger_read_finds_an_unfinished_apply_and_apply_resumes_it(proxy: FaultProxy, workdir: Path) -> None:
    settings, desired = _applied("ledger-project", workdir / "defs", 4, default=True)
    engine = BigQueryEngine(settings, "test")
    # tenant_02's last apply stopped before its backfill: a row still without its default, and a
    # failed ledger entry that owes the backfill of usage.n.
    engine.query("INSERT INTO `ledger-project`.`tenant_02`.`usage` (id, n) VALUES ('old', NULL)")
    engine.query(
        ledger_insert_sql("tenant_02"),
        {
            "run_id": "interrupted",
            "applied_at": dt.datetime.now(dt.UTC),
            "principal": "test",
            "digest": desired.digest,
            "version": "0",
            "outcome": "failed",
            "applied": 1,
            "total": 2,
            "statements": "[]",
            "backfill": '[["usage", ["n"]]]',
            "error": "interrupted",
        },
    )
    proxy.reset()
    planned = api.make_plan(settings, engine, desired=desired)
    # Four ledgers, one query; and the dry run that estimates the backfill's bytes (free).
    dry_runs = [b for m, _, b in proxy.bodies if m == "POST" and b'"dryRun": true' in b]
    assert proxy.jobs() == 2 and len(dry_runs) == 1 and b"UPDATE" in dry_runs[0]
    assert [e.dataset for e in planned.ledger] == ["tenant_00", "tenant_01", "tenant_02", "tenant_03"]
    assert {e.dataset: e.outcome for e in planned.ledger}["tenant_02"] == "failed"
    assert planned.resumed == ["tenant_02.usage"]
    assert [(s.kind, s.dataset, s.table) for s in planned.plan.steps] == [("backfill", "tenant_02", "usage")]
    outcome = api.apply(settings, engine, desired=desired)
    assert outcome.result is not None and [s.kind for s in outcome.result.executed] == ["backfill"]
    assert engine.query("SELECT n FROM `ledger-project`.`tenant_02`.`usage` WHERE id = 'old'") == [{"n": 7}]
    assert api.make_plan(settings, engine, desired=desired).plan.steps == ()


@pytest.mark.parametrize("limit", [1, 3])
def test_requests_in_flight_stay_within_bqmanage_concurrency(
    limit: int, proxy: FaultProxy, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, desired = _applied(f"bound-project-{limit}", workdir / "defs", 6)
    monkeypatch.setenv("BQMANAGE_CONCURRENCY", str(limit))
    settings = _settings(f"bound-project-{limit}", workdir / "defs")
    assert settings.concurrency == limit
    # Every request takes its modelled latency (5 times faster), so that they overlap if they can.
    proxy.scale = proxy.clock.scale = 0.2
    proxy.reset()
    api.make_plan(settings, BigQueryEngine(settings, "test"), desired=desired)
    assert proxy.max_in_flight == limit


def test_inspect_and_import_read_each_dataset_and_table_once(proxy: FaultProxy, workdir: Path) -> None:
    """inspect and import read the live warehouse as plan does (one datasets.get and one tables.list
    per dataset, one tables.get per table), and run no query: they share plan's exact reader."""
    from bqmanage.importer.live import import_live

    settings, desired = _applied("read-project", workdir / "defs", 3)
    engine = BigQueryEngine(settings, "test")
    inspect = _cost(proxy, lambda: api.inspect(settings, engine, desired=desired))
    assert inspect == ({"datasets.get": 3, "tables.list": 3, "tables.get": 6}, 0)
    assert len(api.inspect(settings, engine, desired=desired)) == 6  # the ledgers are not shown
    names = ["tenant_00", "tenant_01"]
    imported = _cost(proxy, lambda: import_live(settings, engine, names, out=workdir / "imported").staged.discard())
    assert imported == ({"datasets.list": 1, "datasets.get": 2, "tables.list": 2, "tables.get": 4}, 0)
