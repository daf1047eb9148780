"""Introspect stage: the live warehouse -> the same model as the definitions (the actual state).

Engines hand over REST-shaped resources (what ``tables.get`` returns); this module is the one
place that normalises them: legacy type names, string-encoded parameters, REPEATED arrays,
default spellings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bqmanage.defaults import normalize_default
from bqmanage.diff import compare, desired_datasets
from bqmanage.model import (
    Column,
    Dataset,
    Definitions,
    Partitioning,
    RangePartitioning,
    Table,
    Warehouse,
)
from bqmanage.types import canonical_name

if TYPE_CHECKING:
    from bqmanage.engines import Engine


def column_from_api(field: dict[str, Any]) -> Column:
    """A REST TableFieldSchema -> Column, normalised."""
    type_name = canonical_name(str(field.get("type", "STRING")))
    if type_name is None:
        raise ValueError(f"unknown type {field.get('type')!r}")
    precision = field.get("precision")
    scale = field.get("scale")
    max_length = field.get("maxLength")
    range_type = (field.get("rangeElementType") or {}).get("type")
    return Column(
        name=field["name"],
        type=type_name,
        mode=str(field.get("mode") or "NULLABLE").upper(),  # type: ignore[arg-type]
        precision=int(precision) if precision not in (None, "") else None,
        scale=(int(scale) if scale not in (None, "") else 0) if precision not in (None, "") else None,
        max_length=int(max_length) if max_length not in (None, "") else None,
        range_element=canonical_name(range_type) if range_type else None,
        fields=tuple(column_from_api(f) for f in field.get("fields") or ()),
        default=normalize_default(field.get("defaultValueExpression")),
        description=field.get("description") or None,
    )


def table_from_api(resource: dict[str, Any]) -> Table:
    """A REST Table resource -> Table, normalised."""
    ref = resource["tableReference"]
    partitioning = None
    expiration = None
    if tp := resource.get("timePartitioning"):
        partitioning = Partitioning(column=tp.get("field"), granularity=tp.get("type", "DAY"))
        if tp.get("expirationMs") not in (None, ""):
            expiration = int(tp["expirationMs"]) / 86400000
    elif rp := resource.get("rangePartitioning"):
        r = rp["range"]
        partitioning = Partitioning(column=rp["field"], range=RangePartitioning(start=int(r["start"]), end=int(r["end"]), interval=int(r["interval"])))
    return Table(
        dataset=ref["datasetId"],
        name=ref["tableId"],
        description=resource.get("description") or None,
        friendly_name=resource.get("friendlyName") or None,
        labels=resource.get("labels") or {},
        partitioning=partitioning,
        clustering=tuple((resource.get("clustering") or {}).get("fields") or ()),
        partition_expiration_days=expiration,
        require_partition_filter=resource.get("requirePartitionFilter") or None,
        columns=tuple(column_from_api(f) for f in (resource.get("schema") or {}).get("fields") or ()),
    )


def dataset_from_api(resource: dict[str, Any]) -> Dataset:
    return Dataset(
        name=resource["datasetReference"]["datasetId"],
        description=resource.get("description") or None,
        location=resource.get("location") or None,
        labels=resource.get("labels") or {},
    )


def read_actual(engine: Engine, desired: Definitions) -> Warehouse:
    """The live state of every dataset and table the definitions name (and nothing else)."""
    datasets: dict[str, Dataset] = {}
    tables: dict[str, Table] = {}
    for dataset in desired_datasets(desired):
        resource = engine.get_dataset(dataset.name)
        if resource is None:
            continue
        datasets[dataset.name] = dataset_from_api(resource)
        for table in (t for t in desired.tables if t.dataset == dataset.name):
            table_resource = engine.get_table(dataset.name, table.name)
            if table_resource is not None:
                tables[f"{dataset.name}.{table.name}"] = table_from_api(table_resource)
    return Warehouse(datasets=datasets, tables=tables)


def read_actual_bulk(engine: Engine, desired: Definitions, on_progress: Any = None) -> Warehouse:
    """Like ``read_actual`` but in as few requests as the engine allows (INFORMATION_SCHEMA on
    BigQuery). INFORMATION_SCHEMA can lag behind DDL, so every table it shows drifting, or does
    not show at all, is re-read with tables.get before anything is reported."""
    live = set(engine.list_datasets())
    datasets: dict[str, Dataset] = {}
    for dataset in desired_datasets(desired):
        if dataset.name in live and (resource := engine.get_dataset(dataset.name)) is not None:
            datasets[dataset.name] = dataset_from_api(resource)
    resources = engine.read_catalog({name: d.location for name, d in sorted(datasets.items())}, on_progress)
    wanted = {f"{t.dataset}.{t.name}" for t in desired.tables}
    tables = {k: table_from_api(v) for k, v in resources.items() if k in wanted}
    bulk = Warehouse(datasets=datasets, tables=tables)
    suspects = {f"{c.dataset}.{c.table}" for c in compare(desired, bulk, engine.capabilities.unobservable)
                if c.table and c.dataset in datasets}
    for key in sorted(suspects):
        dataset_name, table_name = key.split(".", 1)
        resource = engine.get_table(dataset_name, table_name)
        if resource is None:
            tables.pop(key, None)
        else:
            tables[key] = table_from_api(resource)
    return Warehouse(datasets=datasets, tables=tables)
