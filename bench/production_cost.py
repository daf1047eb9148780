"""What the fleet commands cost on the bigquery target, as BigQuery would bill them: requests, query
jobs and modelled bytes billed for `check --all-tenants`, a no-op `apply --all-tenants` and `tenant
add`, against the naive ways.

The warehouse is made directly through bqemulator's REST API; the commands run through the counting
proxy (tests/faultproxy.py), whose billing model (tests/bqservice.py) bills each job as on-demand
pricing would: at least 10 MB per query and per table referenced, 10 MB per INFORMATION_SCHEMA view
referenced (the pessimistic case, unconfirmed), DDL and dry runs free. Usage:
``python bench/production_cost.py [--quick]`` (10 tenants only) or ``[--sizes 10,100,1000]``: 1,000
tenants took 30 minutes on two shared cores at load 8-14 (83% of it the two checks waiting for
bqemulator to parse their catalog batches); the default 10 and 100 take about 3. Each phase's wall
time, its own and bqemulator's CPU go to stderr as it runs.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import harness

from tests import faultproxy
from tests.bqservice import MB

SIZES = (10, 100)
ROOT = Path(__file__).resolve().parent.parent
# bqemulator answers one query at a time, each INFORMATION_SCHEMA batch of 50 datasets in about
# 10 s of its CPU: at 1,000 tenants a request can wait behind several, and neither the client nor
# the proxy may give up on it (a retried jobs.insert would be counted twice).
RPC_TIMEOUT = 1800.0
# `tenant add` before this change (main at 73b956d), measured through the same proxy on one tenant:
# a new tenant 13 jobs and 36 requests, a repeated add 4 jobs and 19 requests (it planned and applied
# the whole definitions, shared datasets included, and read every ledger).
NAIVE_ADD = {"new": (36, 13), "repeated": (19, 4)}


def _children_cpu() -> float:
    """CPU seconds of this process's children so far (bqemulator runs as one): whose work a phase was."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():  # ppid
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return total


class _Phases:
    """Logs each phase to stderr: wall seconds, this process's CPU and the emulator's CPU, and the
    load average, so a long run shows where its time goes while it runs."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self, what: str, run: Any) -> Any:
        wall, ours, theirs = time.perf_counter(), time.process_time(), _children_cpu()
        result = run()
        wall, ours, theirs = time.perf_counter() - wall, time.process_time() - ours, _children_cpu() - theirs
        print(
            f"[{time.perf_counter() - self.start:7.0f} s] {what}: {wall:.1f} s wall, bench {ours:.1f} s CPU,"
            f" emulator {theirs:.1f} s CPU, load {os.getloadavg()[0]:.1f}",
            file=sys.stderr,
            flush=True,
        )
        return result


PHASES = _Phases()


def _warehouse(url: str, project: str, n: int) -> list[str]:
    """The fixed datasets applied, ``n`` active tenants registered, their datasets and ledgers made."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    from bqmanage import api
    from bqmanage.apply import ledger_table
    from bqmanage.engines.bigquery import BigQueryEngine
    from bqmanage.model.rest import table_to_api
    from bqmanage.settings import resolve_settings
    from bqmanage.tenants.templates import for_tenants

    os.environ["BIGQUERY_EMULATOR_HOST"] = url
    settings = resolve_settings(target="bigquery", project=project, schemas=str(ROOT / "schemas"))
    desired = api.validate(settings)
    PHASES(f"{n}: shared datasets applied", lambda: api.apply(settings, BigQueryEngine(settings, "bench"), desired=desired))
    ids = [f"t{i:04d}" for i in range(n)]
    client = bigquery.Client(project=project, credentials=AnonymousCredentials(), client_options=ClientOptions(api_endpoint=url))
    rows = [
        {"tenant_id": t, "status": "active", "daily_limit": 100, "concurrent_limit": 3, "created_at": "2026-12-01T00:00:00Z"}
        for t in ids
    ]
    PHASES(f"{n}: registry rows", lambda: client.insert_rows_json(f"{project}.tenants.tenant_profiles", rows))
    part = for_tenants(desired, ids)

    def datasets() -> None:
        for dataset in part.datasets:
            client.create_dataset(bigquery.Dataset(f"{project}.{dataset.name}"))

    def tables() -> None:
        for table in [*part.tables, *(ledger_table(d.name) for d in part.datasets)]:
            resource = table_to_api(table)
            resource["tableReference"]["projectId"] = project
            client.create_table(bigquery.Table.from_api_repr(resource))

    PHASES(f"{n}: {len(part.datasets)} tenant datasets", datasets)
    PHASES(f"{n}: {len(part.tables) + len(part.datasets)} tenant tables", tables)
    client.close()
    return ids


def _measure(proxy: faultproxy.FaultProxy, what: str, run: Any) -> tuple[int, int, int]:
    proxy.reset()
    billed = proxy.billing.billed
    outcome = PHASES(what, run)
    measured = proxy.requests(), proxy.jobs(), proxy.billing.billed - billed
    print(f"    {what}: {_said(outcome)}", file=sys.stderr)
    # A jobs.insert sent twice under one job id is a retry (a timeout on the way): it would count twice.
    ids = [faultproxy._job_id(body) for method, path, body in proxy.bodies if faultproxy.kind(method, path) == "jobs.insert"]
    if len(ids) != len(set(ids)):
        print(f"    {what}: {len(ids) - len(set(ids))} jobs.insert sent again under the same id", file=sys.stderr)
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(proxy.counts.items()))
    print(f"    {what}: {measured[0]} requests ({kinds}), {measured[1]} jobs, {measured[2] / MB:,.0f} MB", file=sys.stderr)
    return measured


def _said(outcome: Any) -> str:
    """What a command found or did, in a few words: a row measures a clean check and a no-op apply only
    if the run says so."""
    from bqmanage.api import ApplyOutcome, CheckResult

    if isinstance(outcome, CheckResult):
        first = f"; first: {outcome.findings[0]}" if outcome.findings else ""
        return f"{len(outcome.findings)} findings, {len(outcome.failed)} tenants failed{first}"
    if isinstance(outcome, ApplyOutcome):
        runs = [outcome, *(t.value for t in outcome.tenants if t.value is not None)]
        steps = sum(len(o.result.executed) for o in runs if isinstance(o, ApplyOutcome) and o.result is not None)
        return f"{steps} steps executed, {sum(t.error is not None for t in outcome.tenants)} tenants failed"
    return type(outcome).__name__


def _naive_check(views: int, n: int) -> tuple[int, int, int]:
    """The catalog reads alone, one INFORMATION_SCHEMA query per view and dataset (the ``n`` tenant
    datasets and the shared one), each a jobs.insert and a getQueryResults: counted by the same
    model, not run. ``views`` are those the measured check reads on this endpoint."""
    queries = views * (n + 1)
    return 2 * queries, queries, queries * 10 * MB


def _commands(proxy: faultproxy.FaultProxy, project: str, views: int, n: int) -> dict[str, tuple[int, int, int]]:
    from bqmanage import api
    from bqmanage.engines.bigquery import BigQueryEngine
    from bqmanage.settings import resolve_settings
    from bqmanage.tenants.scope import TenantScope

    settings = resolve_settings(target="bigquery", project=project, schemas=str(ROOT / "schemas"))
    region = settings.model_copy(update={"region_qualified_information_schema": True})

    def engine_for(chosen: Any) -> BigQueryEngine:
        engine = BigQueryEngine(chosen, "bench")
        engine.rpc_timeout = RPC_TIMEOUT
        return engine

    engine = engine_for(settings)
    return {
        "check --all-tenants (batches of 50)": _measure(
            proxy, f"{n}: check --all-tenants (batches of 50)", lambda: api.check(settings, engine, scope=TenantScope.all())
        ),
        "check --all-tenants, region-qualified": _measure(
            proxy,
            f"{n}: check --all-tenants, region-qualified",
            lambda: api.check(region, engine_for(region), scope=TenantScope.all()),
        ),
        "naive check: a query per view and dataset (catalog reads only)": _naive_check(views, n),
        "apply --all-tenants (no change)": _measure(
            proxy, f"{n}: apply --all-tenants (no change)", lambda: api.apply(settings, engine, scope=TenantScope.all())
        ),
        "tenant add, new tenant": _measure(
            proxy, f"{n}: tenant add, new tenant", lambda: api.tenant_add(settings, engine, "newcomer")
        ),
        "tenant add, repeated": _measure(
            proxy, f"{n}: tenant add, repeated", lambda: api.tenant_add(settings, engine, "newcomer")
        ),
    }


def bench(quick: bool = False, sizes: tuple[int, ...] = SIZES) -> harness.Result:
    from bqmanage.engines import infoschema
    from bqmanage.engines.bigquery import BQEMULATOR
    from bqmanage.testing.emulator import running_emulator

    rows: list[list[Any]] = []
    # The views the measured check reads: bqemulator has no COLUMN_FIELD_PATHS (3 of 4; BigQuery 4).
    views = len([v for v in infoschema.VIEWS if v not in BQEMULATOR.info_schema_missing])
    with running_emulator() as url:
        for n in sizes[:1] if quick else sizes:
            project = f"prodcost-{n}"
            _warehouse(url, project, n)
            proxy = faultproxy.FaultProxy(url, upstream_timeout=RPC_TIMEOUT)
            os.environ["BIGQUERY_EMULATOR_HOST"] = proxy.url
            measured = _commands(proxy, project, views, n)
            proxy.close()
            for what, (requests, jobs, billed) in measured.items():
                rows.append([n, what, requests, jobs, f"{billed / MB:,.0f}"])
            # Apply before the batched ledger read: one job per dataset's ledger (by the model, not run;
            # its metadata reads, the measured ones, are not modelled).
            rows.append(
                [
                    n,
                    "naive apply: a ledger query per dataset (jobs by the model)",
                    "not modelled",
                    n + 1,
                    f"{(n + 1) * 10:,} (min.)",
                ]
            )
            for kind, (requests, jobs) in NAIVE_ADD.items():
                rows.append([n, f"naive tenant add, {kind} (before)", requests, jobs, f"{jobs * 10:,} (min.)"])
    return _result(rows)


def _result(rows: list[list[Any]]) -> harness.Result:
    return harness.Result(
        name="production_cost",
        title="Fleet commands on the bigquery target: requests, jobs and modelled bytes billed",
        method=__doc__ or "",
        headers=["tenants", "what", "requests", "query jobs", "modelled MB billed"],
        rows=rows,
    )


if __name__ == "__main__":
    start = time.perf_counter()
    chosen = SIZES
    if "--sizes" in sys.argv:
        chosen = tuple(int(s) for s in sys.argv[sys.argv.index("--sizes") + 1].split(","))
    result = bench("--quick" in sys.argv, chosen)
    print(f"| {' | '.join(result.headers)} |\n|{'---|' * len(result.headers)}")
    for row in result.rows:
        print(f"| {' | '.join(str(c) for c in row)} |")
    print(f"\n({time.perf_counter() - start:.0f} s)")
