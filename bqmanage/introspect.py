"""Introspect stage: the live warehouse -> the same model as the definitions (the actual state).

Engines hand over REST-shaped resources (what ``tables.get`` returns), which ``rest`` converts;
this module decides what to read, and how to read a whole warehouse in few requests. Every
command that reads the live warehouse (plan, apply, check, inspect, import, the tenant fleet)
reads it through ``read_live``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bqmanage.check.legacy import undefined_tables
from bqmanage.check.policies import attach_policies
from bqmanage.diff import Place, compare_by_place
from bqmanage.model.names import is_own
from bqmanage.model.rest import dataset_from_api, table_from_api
from bqmanage.model.schema import Definitions, Warehouse

if TYPE_CHECKING:
    from bqmanage.changes import Change
    from bqmanage.engines import Engine

# Which listed table-like objects (dataset, name, REST type) to read besides the defined tables.
Select = Callable[[str, str, str], bool]


def not_own(dataset: str, table: str, kind: str) -> bool:
    """Every listed object but bqmanage's own (the ledger), which no definition names."""
    return not is_own(table)


def list_only(dataset: str, table: str, kind: str) -> bool:
    """Nothing besides the defined tables (the listing alone is wanted)."""
    return False


@dataclass
class LiveRead:
    """What one read of the live warehouse saw.

    ``listing``: every table-like object of each dataset read, with its REST type (``TABLE``,
    ``VIEW``, ...), when the read listed the datasets (``undefined`` or ``confirm``); the legacy
    audit and ``extra_table`` read it instead of listing each dataset again. ``resources``: the
    REST Table resource of each table read, for what the model does not keep (import's notes).
    ``unreadable``: a table ``undefined`` selected that the model cannot express, and why.
    ``changes``: with ``confirm``, the drift against the definitions, compared once.
    """

    actual: Warehouse
    listing: dict[str, dict[str, str]] = field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)


def read_live(
    engine: Engine,
    desired: Definitions | None = None,
    datasets: Sequence[str] | None = None,
    *,
    undefined: Select | None = None,
    confirm: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> LiveRead:
    """The live state of ``datasets`` (default: every dataset ``desired`` names; absent ones are
    left out) and of the tables ``desired`` names in them.

    :param undefined: also list each dataset and read the objects this selects, the ones no
        definition names too (inspect, import; ``list_only`` for the listing alone). Exact reads only.
    :param confirm: read in bulk (INFORMATION_SCHEMA on BigQuery), as check does over many datasets,
        then confirm with exact reads whatever the bulk read shows drifting or undefined, and
        compare: ``changes``. Without it every dataset and table is read exactly (datasets.get,
        tables.get), as plan and apply read.
    :param on_progress: called with (jobs done, jobs) while a bulk read runs.
    """
    names = [d.name for d in desired.all_datasets()] if datasets is None and desired else list(datasets or [])
    if confirm:
        assert desired is not None, "confirm compares against the definitions"
        return _read_confirmed(engine, desired, names, on_progress)
    found = engine.read_datasets_exact(names)
    live = {name: dataset_from_api(resource) for name, resource in found.items() if resource is not None}
    defined = [(t.dataset, t.name) for t in desired.tables] if desired else []
    wanted = [(d, t) for d, t in defined if d in live]
    listing: dict[str, dict[str, str]] = {}
    if undefined is not None:
        named = set(defined)
        for name in live:
            listing[name] = engine.list_table_types(name)
            wanted += [(name, t) for t, kind in listing[name].items() if (name, t) not in named and undefined(name, t, kind)]
    # No row counts: the model keeps none, and the local engine reads every table to count them.
    resources = {key: r for key, r in engine.get_tables(wanted, counts=False).items() if r is not None}
    strict = {f"{d}.{t}" for d, t in defined}
    tables, unreadable = {}, {}
    for key, resource in resources.items():
        try:
            tables[key] = table_from_api(resource)
        except ValueError as exc:
            if key in strict:  # a defined table: the comparison cannot go on without it
                raise
            unreadable[key] = str(exc)
    if desired is not None:
        tables = attach_policies(engine, desired, tables)
    return LiveRead(Warehouse(datasets=live, tables=tables), listing, resources, unreadable)


def _read_confirmed(
    engine: Engine, desired: Definitions, names: list[str], on_progress: Callable[[int, int], None] | None
) -> LiveRead:
    """The bulk read of ``check``, confirmed.

    INFORMATION_SCHEMA can lag behind DDL, so every table it shows drifting, or does not show at
    all, is re-read with tables.get before anything is reported; so is every drifting dataset.
    """
    found = engine.read_datasets_bulk(names)
    datasets = {name: dataset_from_api(resource) for name, resource in found.items() if resource is not None}
    resources = engine.read_catalog({name: d.location for name, d in sorted(datasets.items())}, on_progress)
    listing: dict[str, dict[str, str]] = {name: {} for name in datasets}
    for key in sorted(resources):
        dataset, table = key.split(".", 1)
        listing.setdefault(dataset, {})[table] = resources[key].get("type", "TABLE")
    wanted = {f"{t.dataset}.{t.name}" for t in desired.tables}
    tables = {k: table_from_api(v) for k, v in resources.items() if k in wanted and v.get("type", "TABLE") == "TABLE"}
    tables = attach_policies(engine, desired, tables)
    unobservable = engine.capabilities.unobservable
    by_place = compare_by_place(desired, Warehouse(datasets=datasets, tables=tables), unobservable)
    drift = [c for part in by_place.values() for c in part]
    reread: set[Place] = set()
    drifting = {c.dataset for c in drift if c.table is None and c.dataset in datasets}
    # A bulk read has no access lists (datasets.list, SCHEMATA): datasets.get reads those declaring one.
    drifting |= {
        d.name for d in desired.all_datasets() if d.access is not None and d.name in datasets and datasets[d.name].access is None
    }
    for name, resource in engine.read_datasets_exact(sorted(drifting)).items():
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
    for key, resource in engine.get_tables(sorted(suspects), counts=False).items():
        dataset, table = key.split(".", 1)
        if resource is None:
            tables.pop(key, None)
            resources.pop(key, None)
            listing[dataset].pop(table, None)
        else:
            tables[key] = attach_policies(engine, desired, {key: table_from_api(resource)})[key]
            resources[key] = resource
            listing[dataset].setdefault(table, resource.get("type", "TABLE"))
    tables = {k: v for k, v in tables.items() if k.split(".", 1)[0] in datasets}
    actual = Warehouse(datasets=datasets, tables=tables)
    if reread:
        by_place.update(compare_by_place(desired, actual, unobservable, only=reread))
    changes = [c for part in by_place.values() for c in part]
    return LiveRead(actual, listing, {k: v for k, v in resources.items() if k in tables}, changes=changes)


def confirm_recent(
    engine: Engine, desired: Definitions, actual: Warehouse, changes: list[Change], recent: set[str]
) -> tuple[Warehouse, list[Change]]:
    """``check``'s bulk read, confirmed with tables.get where it may be stale.

    A schema change may not show in INFORMATION_SCHEMA at once; tables.get is the immediate truth
    (https://cloud.google.com/bigquery/docs/managing-table-schemas). read_live(confirm=True) re-reads what the
    view shows drifting, but a view that still shows a table as it was before an apply can agree
    with the definitions (they were reverted since, or the apply went wrong) and say "clean". The
    defined tables of the ``recent`` datasets, which the ledger says bqmanage changed within the
    staleness window, are read with tables.get and compared again; the others are trusted."""
    wanted = sorted((t.dataset, t.name) for t in desired.tables if t.dataset in recent and t.dataset in actual.datasets)
    if not wanted:
        return actual, changes
    tables = dict(actual.tables)
    for key, resource in engine.get_tables(wanted, counts=False).items():
        if resource is None:
            tables.pop(key, None)
        else:
            tables[key] = table_from_api(resource)
    confirmed = Warehouse(datasets=actual.datasets, tables=tables)
    places: set[Place] = set(wanted)
    fresh = compare_by_place(desired, confirmed, engine.capabilities.unobservable, only=places)
    return confirmed, [c for c in changes if (c.dataset, c.table) not in places] + [c for part in fresh.values() for c in part]
