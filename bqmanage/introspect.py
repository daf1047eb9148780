"""Introspect stage: the live warehouse -> the same model as the definitions (the actual state).

Engines hand over REST-shaped resources (what ``tables.get`` returns), which ``rest`` converts;
this module decides what to read, and how to read a whole warehouse in few requests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bqmanage.check.legacy import undefined_tables
from bqmanage.diff import Place, compare_by_place
from bqmanage.model.rest import dataset_from_api, table_from_api
from bqmanage.model.schema import Definitions, Warehouse

if TYPE_CHECKING:
    from bqmanage.changes import Change
    from bqmanage.engines import Engine


def read_actual(
    engine: Engine, desired: Definitions, *, bulk: bool = False, on_progress: Callable[[int, int], None] | None = None
) -> Warehouse:
    """The live state of every dataset and table the definitions name (and nothing else).

    :param bulk: read it in as few requests as the engine allows (INFORMATION_SCHEMA on BigQuery),
        as check does over many datasets; plan and apply read each table with tables.get.
    :param on_progress: called with (jobs done, jobs) while a bulk read runs.
    """
    return read_for_check(engine, desired, on_progress)[0] if bulk else _read_each(engine, desired)


def _read_each(engine: Engine, desired: Definitions) -> Warehouse:
    found = engine.read_datasets_exact([d.name for d in desired.all_datasets()])
    datasets = {name: dataset_from_api(resource) for name, resource in found.items() if resource is not None}
    resources = engine.get_tables([(t.dataset, t.name) for t in desired.tables if t.dataset in datasets])
    tables = {key: table_from_api(resource) for key, resource in resources.items() if resource is not None}
    return Warehouse(datasets=datasets, tables=tables)


def read_for_check(
    engine: Engine, desired: Definitions, on_progress: Callable[[int, int], None] | None = None
) -> tuple[Warehouse, dict[str, dict[str, str]], list[Change]]:
    """The bulk read of ``check``; every table it saw in each live dataset with its type
    (``TABLE``, ``VIEW``, ...), which the legacy audit and ``extra_table`` read instead of listing
    each dataset again; and the drift, compared once (the places re-read compared again alone).

    INFORMATION_SCHEMA can lag behind DDL, so every table it shows drifting, or does not show at
    all, is re-read with tables.get before anything is reported; so is every drifting dataset.
    """
    found = engine.read_datasets_bulk([d.name for d in desired.all_datasets()])
    datasets = {name: dataset_from_api(resource) for name, resource in found.items() if resource is not None}
    resources = engine.read_catalog({name: d.location for name, d in sorted(datasets.items())}, on_progress)
    listing: dict[str, dict[str, str]] = {name: {} for name in datasets}
    for key in sorted(resources):
        dataset, table = key.split(".", 1)
        listing.setdefault(dataset, {})[table] = resources[key].get("type", "TABLE")
    wanted = {f"{t.dataset}.{t.name}" for t in desired.tables}
    tables = {k: table_from_api(v) for k, v in resources.items() if k in wanted and v.get("type", "TABLE") == "TABLE"}
    unobservable = engine.capabilities.unobservable
    by_place = compare_by_place(desired, Warehouse(datasets=datasets, tables=tables), unobservable)
    drift = [c for part in by_place.values() for c in part]
    reread: set[Place] = set()
    for name, resource in engine.read_datasets_exact(
        sorted({c.dataset for c in drift if c.table is None and c.dataset in datasets})
    ).items():
        reread.add((name, None))
        if resource is None:
            datasets.pop(name)
            listing.pop(name)
            reread |= {(t.dataset, t.name) for t in desired.tables if t.dataset == name}
        else:
            datasets[name] = dataset_from_api(resource)
    suspects = {(c.dataset, c.table) for c in drift if c.table and c.dataset in datasets}
    # A table dropped a moment ago can still be listed: an undefined one is confirmed too.
    suspects |= {(d, t) for d, t in undefined_tables(desired, listing) if d in datasets}
    reread.update(suspects)
    for key, resource in engine.get_tables(sorted(suspects)).items():
        dataset, table = key.split(".", 1)
        if resource is None:
            tables.pop(key, None)
            listing[dataset].pop(table, None)
        else:
            tables[key] = table_from_api(resource)
            listing[dataset].setdefault(table, resource.get("type", "TABLE"))
    tables = {k: v for k, v in tables.items() if k.split(".", 1)[0] in datasets}
    actual = Warehouse(datasets=datasets, tables=tables)
    if reread:
        by_place.update(compare_by_place(desired, actual, unobservable, only=reread))
    return actual, listing, [c for part in by_place.values() for c in part]
