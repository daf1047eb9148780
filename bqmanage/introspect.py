"""Introspect stage: the live warehouse -> the same model as the definitions (the actual state).

Engines hand over REST-shaped resources (what ``tables.get`` returns), which ``rest`` converts;
this module decides what to read, and how to read a whole warehouse in few requests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bqmanage.diff import compare
from bqmanage.model import Dataset, Definitions, Table, Warehouse
from bqmanage.rest import dataset_from_api, table_from_api

if TYPE_CHECKING:
    from bqmanage.engines import Engine


def read_actual(
    engine: Engine, desired: Definitions, *, bulk: bool = False, on_progress: Callable[[int, int], None] | None = None
) -> Warehouse:
    """The live state of every dataset and table the definitions name (and nothing else).

    :param bulk: read it in as few requests as the engine allows (INFORMATION_SCHEMA on BigQuery),
        as check does over many datasets; plan and apply read each table with tables.get.
    :param on_progress: called with (batches read, batches) while a bulk read runs.
    """
    return _read_bulk(engine, desired, on_progress) if bulk else _read_each(engine, desired)


def _read_each(engine: Engine, desired: Definitions) -> Warehouse:
    datasets: dict[str, Dataset] = {}
    tables: dict[str, Table] = {}
    for dataset in desired.all_datasets():
        resource = engine.get_dataset(dataset.name)
        if resource is None:
            continue
        datasets[dataset.name] = dataset_from_api(resource)
        for table in (t for t in desired.tables if t.dataset == dataset.name):
            table_resource = engine.get_table(dataset.name, table.name)
            if table_resource is not None:
                tables[f"{dataset.name}.{table.name}"] = table_from_api(table_resource)
    return Warehouse(datasets=datasets, tables=tables)


def _read_bulk(engine: Engine, desired: Definitions, on_progress: Callable[[int, int], None] | None) -> Warehouse:
    """INFORMATION_SCHEMA can lag behind DDL, so every table it shows drifting, or does not show
    at all, is re-read with tables.get before anything is reported."""
    live = set(engine.list_datasets())
    datasets: dict[str, Dataset] = {}
    for dataset in desired.all_datasets():
        if dataset.name in live and (resource := engine.get_dataset(dataset.name)) is not None:
            datasets[dataset.name] = dataset_from_api(resource)
    resources = engine.read_catalog({name: d.location for name, d in sorted(datasets.items())}, on_progress)
    wanted = {f"{t.dataset}.{t.name}" for t in desired.tables}
    tables = {k: table_from_api(v) for k, v in resources.items() if k in wanted}
    bulk = Warehouse(datasets=datasets, tables=tables)
    suspects = {
        f"{c.dataset}.{c.table}"
        for c in compare(desired, bulk, engine.capabilities.unobservable)
        if c.table and c.dataset in datasets
    }
    for key in sorted(suspects):
        dataset_name, table_name = key.split(".", 1)
        resource = engine.get_table(dataset_name, table_name)
        if resource is None:
            tables.pop(key, None)
        else:
            tables[key] = table_from_api(resource)
    return Warehouse(datasets=datasets, tables=tables)
