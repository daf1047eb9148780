"""`check`, `plan` and a no-op `apply` on the bigquery target, against reading the same catalog naively.

The bigquery engine runs against bqemulator through the counting proxy (tests/faultproxy.py),
which makes every request take its modelled BigQuery latency (``LATENCY`` there) on a clock that
hides the emulator's own time. Requests and jobs are counted; the naive approaches are measured in
the same run, on the same warehouse.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import harness

from tests import faultproxy

SIZES = (10, 100, 1000)
TABLES = 3
# Wall seconds per modelled second while requests wait. A serial loop's own work never overlaps a
# wait, so its scale changes nothing but the wall time; where requests overlap, the client's work
# during a wait runs on the clock at 1/scale, so concurrent approaches get a larger one.
SERIAL_SCALE, CONCURRENT_SCALE = 0.01, 0.1
NAIVE_INFO_SCHEMA_UP_TO = 100  # bqemulator spends ~0.1 s on each dataset-qualified COLUMNS view
PLAN_UP_TO = 100  # plan and apply read every table with tables.get: 5,000 emulator reads at 1,000
# Two columns: bqemulator's time for a COLUMNS view grows with its rows (not the model's, which
# does not depend on them), and the 1,000-dataset run has to fit the benchmark's budget.
TABLE_YAML = "partitioning: {column: day}\ncolumns:\n  - {name: id, type: STRING, mode: REQUIRED}\n  - {name: day, type: DATE}\n"


def _definitions(root: Path, datasets: int) -> Path:
    for d in range(datasets):
        for t in range(TABLES):
            path = root / f"tenant_{d:04d}" / f"usage_{t}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(TABLE_YAML)
    return root


def _populate(url: str, project: str, desired: Any, ledgers: bool) -> None:
    """The warehouse the definitions describe, made through the emulator's REST API directly (about
    10 ms a table, against 50 ms for a DDL job), and, where ``ledgers``, a ledger holding one
    succeeded apply in every dataset, as bqmanage leaves a managed warehouse."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    from bqmanage.ledger import ledger_table
    from bqmanage.model.rest import table_to_api

    client = bigquery.Client(project=project, credentials=AnonymousCredentials(), client_options=ClientOptions(api_endpoint=url))
    names = sorted({t.dataset for t in desired.tables})
    tables = list(desired.tables) + ([ledger_table(d) for d in names] if ledgers else [])

    def create_table(table: Any) -> None:
        resource = table_to_api(table)
        resource["tableReference"]["projectId"] = project
        client.create_table(bigquery.Table.from_api_repr(resource))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda d: client.create_dataset(bigquery.Dataset(f"{project}.{d}")), names))
        list(pool.map(create_table, tables))
        if ledgers:
            row = {"run_id": "bench", "applied_at": "2026-11-23T00:00:00Z", "outcome": "succeeded", "backfill": "[]"}
            list(pool.map(lambda d: client.insert_rows_json(f"{project}.{d}._bqmanage_migrations", [row]), names))
    client.close()


def _engine(proxy: faultproxy.FaultProxy, project: str, region: bool = True, concurrency: int | None = None) -> Any:
    from bqmanage.engines.bigquery import BigQueryEngine
    from bqmanage.settings import resolve_settings

    os.environ["BIGQUERY_EMULATOR_HOST"] = proxy.url
    settings = resolve_settings(target="bigquery", project=project)
    update: dict[str, Any] = {"region_qualified_information_schema": region}
    if concurrency is not None:
        update["concurrency"] = concurrency
    settings = settings.model_copy(update=update)
    engine = BigQueryEngine(settings, "bench")
    # These tables are never altered, so bqemulator's catalog is right about them: the engine reads
    # them as it would on BigQuery, without its emulator-only probe of the physical columns.
    engine.capabilities = replace(engine.capabilities, catalog_follows_alter=True)
    # bqemulator works one request at a time and takes seconds over a batch of INFORMATION_SCHEMA
    # views, so jobs sent side by side queue behind each other; the modelled clock does not see it.
    engine.rpc_timeout = 900.0
    return settings, engine


def _measure(proxy: faultproxy.FaultProxy, func: Callable[[], Any], scale: float = CONCURRENT_SCALE) -> dict[str, Any]:
    proxy.reset()
    proxy.clock.scale = scale
    start, wall = proxy.clock.now(), time.perf_counter()
    result = func()
    from bqmanage.engines.bq_catalog import CATALOG_BY_DATASET

    # Dataset-qualified catalog jobs that re-read what a region-qualified job showed nothing of:
    # on bqemulator, which answers no region-qualified view, every dataset; on BigQuery, none.
    gap = sum(m == "POST" and CATALOG_BY_DATASET.encode() in b and b"/jobs" in p.encode() for m, p, b in proxy.bodies)
    return {
        "result": result,
        "requests": proxy.requests(),
        "jobs": proxy.jobs(),
        "gap_jobs": gap,
        "modelled": proxy.clock.now() - start,
        "wall": time.perf_counter() - wall,
        "emulator_only": sum(proxy.emulator_only.values()),
    }


def _approaches(proxy: faultproxy.FaultProxy, project: str, desired: Any, n: int) -> dict[str, dict[str, Any]]:
    from bqmanage import api
    from bqmanage.ledger import latest_entry_sql

    names = sorted({t.dataset for t in desired.tables})
    out: dict[str, dict[str, Any]] = {}
    settings, engine = _engine(proxy, project)
    out["check"] = _measure(proxy, lambda: api.check(settings, engine, desired))
    assert out["check"]["result"].clean, [f.message for f in out["check"]["result"].findings][:3]
    settings_d, engine_d = _engine(proxy, project, region=False)
    out["check, dataset-qualified"] = _measure(proxy, lambda: api.check(settings_d, engine_d, desired))

    def get_loop() -> None:
        for table in desired.tables:
            engine.client.get_table(f"{project}.{table.dataset}.{table.name}")

    out["sequential tables.get"] = _measure(proxy, get_loop, SERIAL_SCALE)
    if n <= NAIVE_INFO_SCHEMA_UP_TO:

        def per_dataset() -> None:
            for name in names:
                sql = f"SELECT table_name, column_name, data_type FROM `{project}`.`{name}`.INFORMATION_SCHEMA.COLUMNS"
                list(engine.client.query(sql, job_retry=None).result())

        out["INFORMATION_SCHEMA per dataset"] = _measure(proxy, per_dataset, SERIAL_SCALE)
    if n <= PLAN_UP_TO:
        out["plan"] = _measure(proxy, lambda: api.make_plan(settings, engine, desired=desired))
        out["no-op apply"] = _measure(proxy, lambda: api.apply(settings, engine, desired=desired))
        assert out["no-op apply"]["result"].result is not None and not out["no-op apply"]["result"].result.executed
        _, serial = _engine(proxy, project, concurrency=1)

        def plan_as_before() -> None:
            # What plan read before: every resource in turn, then each dataset's ledger with a
            # tables.list and a query of its own.
            from bqmanage.introspect import read_live

            read_live(serial, desired)
            for name in names:
                if "_bqmanage_migrations" in serial.list_tables(name):
                    serial.query(latest_entry_sql(name), label="plan")

        out["plan, serial with a ledger query per dataset"] = _measure(proxy, plan_as_before, SERIAL_SCALE)
    return out


def run(sizes: tuple[int, ...]) -> dict[int, dict[str, dict[str, Any]]]:
    from bqmanage.definitions.load import load_definitions
    from tests.emulator import running_emulator

    results: dict[int, dict[str, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp, running_emulator(Path(tmp) / "home") as url:
        proxy = faultproxy.FaultProxy(url, scale=CONCURRENT_SCALE)
        try:
            for n in sizes:
                desired = load_definitions(_definitions(Path(tmp) / f"schemas-{n}", n))
                project = f"bench-check-{n}"
                _populate(url, project, desired, ledgers=n <= PLAN_UP_TO)
                results[n] = _approaches(proxy, project, desired, n)
        finally:
            proxy.close()
    return results


def _latency_table() -> str:
    rows = [[kind, seconds] for kind, seconds in faultproxy.LATENCY.items()]
    rows.append(
        [
            "first jobs.getQueryResults of a job (waits for it)",
            f"{faultproxy.JOB_RUN} + {faultproxy.PER_VIEW} per INFORMATION_SCHEMA view read",
        ]
    )
    return harness.table_markdown(["request", "modelled seconds"], rows)


METHOD = """The bigquery engine against bqemulator 1.4.0, through the counting proxy (`tests/faultproxy.py`),
on {sizes} datasets x {tables} tables (two columns each, partitioned), one warehouse per size shared by every
approach. Requests and query jobs are counted at the proxy.

**The latency model.** BigQuery publishes no latencies, so each request kind is given one, sized
from what users of real projects report: about 0.5 s per `tables.get` (dbt-labs/dbt-bigquery#938),
0.36 s per table for a `tables.list` + `tables.get` scan (prowler-cloud/prowler#12502), 3-4 s end to
end for a query that executes in 0.4 s (googleapis/nodejs-bigquery#1383). The numbers below are
assumptions in that range, on the low side for metadata calls (which favours the naive loops):

{latency}

The proxy holds each answer until its latency has passed on a modelled clock, which runs 1/scale
times faster than the wall while some request waits, at wall speed while none does (the client's
own work), and stands still while bqemulator works, so the emulator's speed never shows. "Modelled
s" is that clock: what the run would take on BigQuery, with concurrency counted as it happens. The
serial approaches run at scale {serial:g} (their own work never overlaps a wait, so the scale
changes only the wall time), the concurrent ones at {concurrent:g}: there, the client's work done
while another request waits is counted {magnified:g} times over, which overstates them, not the naive loops.
Requests only bqemulator needs (bqmanage's `SELECT * ... LIMIT 0` probe of a table's physical
columns, since its catalog does not follow ALTER) get no latency and are not counted; these tables
are never altered, so the benchmark's engines skip the probe as they would on BigQuery.

**Approaches.** `check`: datasets from one `datasets.list` (+ one SCHEMATA_OPTIONS job per location
on BigQuery; bqemulator's is broken, so it is not read there), tables from INFORMATION_SCHEMA: one
region-qualified job per location that reads every view in one UNION ALL, then, for the datasets it
shows nothing of, their own views, one job per 50 datasets, {concurrency} jobs at a time; then
`tables.get` for whatever drifts. `check, dataset-qualified`: `region_qualified_information_schema:
false`, the per-50-datasets jobs only. Naive, measured in the
same run: a sequential `tables.get` per table (what `plan` read before, without its datasets.get and
ledger reads), and one INFORMATION_SCHEMA.COLUMNS query per dataset (up to {naive_is} datasets:
bqemulator spends about 0.1 s of its own on each dataset-qualified COLUMNS view). `plan` and a
no-op `apply` (up to {plan_up_to} datasets, each with a ledger holding one succeeded apply) against
plan's read path before this change: every resource in turn, and per dataset a `tables.list` and a
query for its ledger."""


def _row(n: int, name: str, m: dict[str, Any], base: dict[str, Any] | None) -> list[Any]:
    ratio = f"{base['modelled'] / m['modelled']:.1f}x" if base and m["modelled"] else ""
    return [n, name, m["requests"], round(m["requests"] / n, 2), m["jobs"], round(m["modelled"], 1), ratio, round(m["wall"], 1)]


def bench(quick: bool = False) -> harness.Result:
    sizes = SIZES[:1] if quick else SIZES
    results = run(sizes)
    rows: list[list[Any]] = []
    for n, found in results.items():
        naive = found["sequential tables.get"]
        before = found.get("plan, serial with a ledger query per dataset")
        for name, m in found.items():
            base = before if name in ("plan", "no-op apply") else naive
            rows.append(_row(n, name, m, None if m is base else base))
    top = max(results)
    found = results[top]
    check, by_dataset, naive = found["check"], found["check, dataset-qualified"], found["sequential tables.get"]
    model_jobs = [results[n]["check"]["jobs"] - results[n]["check"]["gap_jobs"] for n in results]
    gap_jobs = [results[n]["check"]["gap_jobs"] for n in results]
    probes = sum(m["emulator_only"] for found in results.values() for m in found.values())
    names = (
        "check",
        "check, dataset-qualified",
        "sequential tables.get",
        "INFORMATION_SCHEMA per dataset",
        "plan",
        "plan, serial with a ledger query per dataset",
    )
    series = [
        harness.Series(
            name,
            [n for n in results if name in results[n]],
            [results[n][name]["modelled"] for n in results if name in results[n]],
        )
        for name in names
    ]
    notes = f"""- At {top:,} datasets `check` (default settings: region-qualified INFORMATION_SCHEMA) makes
  {check["requests"]} requests ({check["requests"] / top:.2f} per dataset) in {check["jobs"]} jobs on bqemulator,
  {naive["modelled"] / check["modelled"]:.0f}x faster under the model than the sequential `tables.get` loop
  ({naive["requests"]:,} requests).
- Jobs as BigQuery would run them (the region-qualified job per location, which BigQuery answers):
  {", ".join(str(j) for j in model_jobs)} at {", ".join(f"{n:,}" for n in results)} datasets. **bqemulator returns
  0 rows for region-qualified views**, so there every dataset is read again from its own views, one job
  per 50 datasets ({", ".join(str(j) for j in gap_jobs)} jobs, labelled `check_by_dataset`, counted apart; their
  time is in the modelled seconds above, which therefore overstate `check` on BigQuery). With
  `region_qualified_information_schema: false` (dataset-qualified only): {by_dataset["jobs"]} jobs at {top:,}.
- Bytes: every INFORMATION_SCHEMA query bills at least 10 MB (reference/bigquery-facts.md §10), so one
  job per location bills less than one per 50 datasets; the proxy does not model bytes here.
- bqemulator-only requests seen: {probes} (the engines skip the probe; see above).
- Not measured: real BigQuery. The latencies are the model's; the counts are exact."""
    criteria = [
        harness.Criterion(
            f"bigquery target, {top:,} datasets: check makes fewer than 1 request per dataset with batching",
            check["requests"] < top,
            f"{check['requests']} requests ({check['requests'] / top:.2f} per dataset)",
        ),
        harness.Criterion(
            "bigquery: check makes a constant number of jobs with the default settings (jobs bqemulator's "
            "missing region-qualified views add are counted apart)",
            len(set(model_jobs)) == 1,
            f"{', '.join(str(j) for j in model_jobs)} jobs at {', '.join(f'{n:,}' for n in results)} datasets "
            f"(+ {', '.join(str(j) for j in gap_jobs)} dataset-qualified jobs on bqemulator)",
        ),
        harness.Criterion(
            f"check at {top:,} datasets is at least 10x faster than the sequential tables.get loop (latency model)",
            naive["modelled"] >= 10 * check["modelled"],
            f"{check['modelled']:.1f} s against {naive['modelled']:.1f} s modelled "
            f"({naive['modelled'] / check['modelled']:.0f}x)",
        ),
    ]
    return harness.Result(
        name="bigquery_check",
        title="Reading the catalog on the bigquery target: check, plan and a no-op apply",
        method=METHOD.format(
            sizes=", ".join(f"{n:,}" for n in sizes),
            tables=TABLES,
            latency=_latency_table(),
            serial=SERIAL_SCALE,
            concurrent=CONCURRENT_SCALE,
            magnified=1 / CONCURRENT_SCALE,
            concurrency=8,
            naive_is=NAIVE_INFO_SCHEMA_UP_TO,
            plan_up_to=PLAN_UP_TO,
        ),
        headers=["datasets", "approach", "requests", "per dataset", "jobs", "modelled s", "faster than naive", "wall s"],
        rows=rows,
        notes=notes,
        plot=harness.Plot(
            "bigquery target: modelled seconds against datasets", "datasets", "modelled BigQuery s", series, logx=True, logy=True
        ),
        criteria=criteria,
    )


if __name__ == "__main__":
    harness.main(bench)
