"""How the bigquery engine reads many resources at once.

Every BigQuery call is a round trip of a tenth of a second to a few seconds, so a warehouse of
many tenants is read side by side (a bounded thread pool: the google client is thread-safe for
these calls), and ``check`` reads it in few requests: the datasets from one ``datasets.list``
plus one SCHEMATA_OPTIONS job per location, the tables from INFORMATION_SCHEMA in batches.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from google.api_core import exceptions as gexc

from bqmanage.engines import infoschema
from bqmanage.errors import WarehouseError
from bqmanage.model.locations import canonical_location

A = TypeVar("A")
R = TypeVar("R")
if TYPE_CHECKING:
    from google.api_core.retry import Retry
    from google.cloud import bigquery

    from bqmanage.plan import Capabilities


class BigQueryEngine(Protocol):
    """What these bulk reads use of ``engines.bigquery.BigQueryEngine``, which calls them: named
    here so that this module does not import the engine back (no import cycle)."""

    client: bigquery.Client
    project: str
    location: str | None
    capabilities: Capabilities
    concurrency: int
    info_schema_batch: int
    region_qualified: bool
    rpc_retry: Retry
    rpc_timeout: float
    _locations: dict[str, str]
    on_statement: Callable[[str], None]

    def _call(self, operation: str, func: Callable[[], R]) -> R: ...

    def _run(
        self, sql: str, params: dict[str, Any] | None, label: str | None = None, location: str | None = None
    ) -> tuple[list[Any], Any]: ...

    def read_datasets_exact(self, datasets: list[str]) -> dict[str, dict[str, Any] | None]: ...

    def get_tables(self, tables: list[tuple[str, str]]) -> dict[str, dict[str, Any] | None]: ...

    def query(self, sql: str, params: dict[str, Any] | None = None, label: str = "query") -> list[dict[str, Any]]: ...


def each(limit: int, func: Callable[[A], R], items: list[A], on_done: Callable[[int], None] | None = None) -> list[R]:
    """``func`` over ``items`` with at most ``limit`` calls in flight; the results in order.

    The first failure is raised as soon as it happens and what has not started is dropped, so a
    failing warehouse fails the command as fast as a serial loop would. ``on_done`` is called in
    the caller's thread with the number of calls finished so far.
    """
    if limit <= 1 or len(items) <= 1:
        results = []
        for n, item in enumerate(items, 1):
            results.append(func(item))
            if on_done:
                on_done(n)
        return results
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=min(limit, len(items)), thread_name_prefix="bqmanage")
    futures = [pool.submit(func, item) for item in items]
    try:
        for n, future in enumerate(concurrent.futures.as_completed(futures), 1):
            future.result()
            if on_done:
                on_done(n)
    except BaseException:
        # Ctrl-C or a failure: drop the queued calls; the few in flight end on their own timeout.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return [future.result() for future in futures]


# The job label of a dataset-qualified catalog read: where a region-qualified one could not answer
# (bench/bigquery_check.py counts them apart: bqemulator answers no region-qualified view).
CATALOG_BY_DATASET = "check_by_dataset"


def location_batches(
    datasets: dict[str, str | None], default: str | None, size: int, region_qualified: bool
) -> list[tuple[str, list[str]]]:
    """(location, datasets) per INFORMATION_SCHEMA job: datasets of one location only, in batches
    of ``size`` (or all at once for a region-qualified view). "" is the job's default location."""
    by_location: dict[str, list[str]] = {}
    for name, location in sorted(datasets.items()):
        where = location or default
        by_location.setdefault((canonical_location(where) or where) if where else "", []).append(name)
    return [
        (location, batch)
        for location, names in sorted(by_location.items())
        for batch in ([names] if region_qualified else infoschema.batches(names, size))
    ]


def read_datasets_bulk(engine: BigQueryEngine, names: list[str]) -> dict[str, dict[str, Any] | None]:
    """REST Dataset resources of ``names`` (None where absent) without a datasets.get each.

    datasets.list gives every dataset with its location and labels in one request per page, in
    every region (SCHEMATA would need the regions first, and would miss a dataset living in an
    unexpected one); the descriptions come from one SCHEMATA_OPTIONS job per location.
    """
    listed = engine._call(
        "datasets.list",
        lambda: list(engine.client.list_datasets(page_size=1000, retry=engine.rpc_retry, timeout=engine.rpc_timeout)),
    )
    live = {item.dataset_id: item._properties for item in listed}
    out: dict[str, dict[str, Any] | None] = {}
    for name in names:
        if (item := live.get(name)) is None:
            out[name] = None
            continue
        location = item.get("location") or ""
        engine._locations[name] = location
        reference = {"projectId": engine.project, "datasetId": name}
        out[name] = {"datasetReference": reference, "location": location, "labels": dict(item.get("labels") or {})}
    if "SCHEMATA_OPTIONS" in engine.capabilities.info_schema_missing:
        return out
    found = {name: resource["location"] for name, resource in out.items() if resource is not None}
    groups = location_batches(found, engine.location, len(found), region_qualified=True)

    def describe(group: tuple[str, list[str]]) -> dict[str, dict[str, Any]]:
        location, members = group
        sql = infoschema.schemata_options_sql(engine.project, location or "US")
        engine.on_statement(sql)
        try:
            rows, _ = engine._run(sql, {"datasets": members}, "check", location or None)
        except WarehouseError as exc:
            # Region-qualified views need dataset metadata permission on the whole project;
            # with grants on the datasets alone, read them one by one as before.
            if not isinstance(exc.__cause__, gexc.Forbidden):
                raise
            fallback = engine.read_datasets_exact(members)
            return {n: {"description": r.get("description")} for n, r in fallback.items() if r is not None}
        return infoschema.dataset_options([dict(r.items()) for r in rows])

    for options in each(engine.concurrency, describe, groups):
        for name, values in options.items():
            if (resource := out.get(name)) is not None:
                resource.update({k: v for k, v in values.items() if k == "description"})
    return out


def read_catalog(
    engine: BigQueryEngine, datasets: dict[str, str | None], on_progress: Callable[[int, int], None] | None = None
) -> dict[str, dict[str, Any]]:
    """Every table of ``datasets`` (name -> location) from INFORMATION_SCHEMA, the jobs side by side,
    each run in its location: a query job runs in one location and can read only datasets there
    (https://cloud.google.com/bigquery/docs/information-schema-intro#syntax,
    https://cloud.google.com/bigquery/docs/locations#specify_locations).

    Region-qualified (the default): one job per location, however many datasets, each view
    filtered to them by a parameter. Where that cannot answer (a dataset it shows no table of, or
    no permission on the region's metadata), those datasets are read again from their own
    dataset-qualified views, ``info_schema_batch`` datasets per job, as without the setting. An
    INFORMATION_SCHEMA query bills at least 10 MB whatever it reads (reference/bigquery-facts.md
    §10), so one job per location is also the cheapest read of many datasets."""
    for name, location in datasets.items():
        engine._locations.setdefault(name, location or "")
    out: dict[str, dict[str, Any]] = {}
    if engine.region_qualified:
        groups = location_batches(datasets, engine.location, engine.info_schema_batch, region_qualified=True)
        done = (lambda n: on_progress(n, len(groups))) if on_progress else None
        for resources in each(engine.concurrency, lambda g: _catalog_job(engine, g, True), groups, done):
            out.update(resources)
        seen = {key.split(".", 1)[0] for key in out}
        datasets = {name: location for name, location in datasets.items() if name not in seen}
        if not datasets:
            return out
    groups = location_batches(datasets, engine.location, engine.info_schema_batch, region_qualified=False)
    done = (lambda n: on_progress(n, len(groups))) if on_progress else None
    for resources in each(engine.concurrency, lambda g: _catalog_job(engine, g, False), groups, done):
        out.update(resources)
    return out


def _catalog_job(engine: BigQueryEngine, group: tuple[str, list[str]], region_qualified: bool) -> dict[str, dict[str, Any]]:
    """One INFORMATION_SCHEMA job reading every view for ``group``'s datasets (all of them at once)."""
    missing = engine.capabilities.info_schema_missing
    views = [v for v in infoschema.VIEWS if v not in missing]
    location, names = group
    region = (location or "US") if region_qualified else None
    sql = infoschema.catalog_sql(views, names, engine.project, missing, region)
    engine.on_statement(sql)
    try:
        result, _ = engine._run(
            sql, {"datasets": names} if region else None, "check" if region else CATALOG_BY_DATASET, location or None
        )
    except WarehouseError as exc:
        # Region-qualified views need metadata permission on the whole project: with grants on the
        # datasets alone, the caller reads them from their own views.
        if region is not None and isinstance(exc.__cause__, gexc.Forbidden):
            return {}
        raise
    return infoschema.to_resources(engine.project, infoschema.split_rows([dict(r.items()) for r in result]))


def latest_ledger_rows(
    engine: BigQueryEngine,
    datasets: dict[str, str | None],
    listed: frozenset[str] = frozenset(),
    unfinished_only: bool = False,
) -> dict[str, dict[str, Any]]:
    """The newest ledger row of every dataset of ``datasets`` (name -> location) that has a ledger.

    Which datasets have one comes from tables.get, read side by side (INFORMATION_SCHEMA could miss a
    ledger that an apply interrupted a minute ago created, and that is the ledger that matters);
    then one query per location (and per BATCH ledgers) reads them all. No ledger, no query.
    Datasets in ``listed`` just showed a ledger in a catalog read: they are not looked at again.
    """
    from bqmanage.ledger import BATCH, LEDGER, latest_entries_sql

    found = engine.get_tables([(name, LEDGER) for name in sorted(datasets) if name not in listed])
    by_location: dict[str, list[str]] = {}
    for name in sorted(datasets):
        if name in listed or found.get(f"{name}.{LEDGER}") is not None:
            location = datasets[name]
            by_location.setdefault((canonical_location(location) or location) if location else "", []).append(name)
    rows: list[dict[str, Any]] = []
    for names in by_location.values():
        # One location per query: a job reads the datasets of its own location only, and finds it
        # from the tables it reads when the target sets none.
        for i in range(0, len(names), BATCH):
            rows += engine.query(latest_entries_sql(names[i : i + BATCH]), label="plan")
    # The same query either way: a narrower first read would be a second job per location.
    return {str(row.pop("dataset")): row for row in rows if not unfinished_only or row["outcome"] != "succeeded"}
