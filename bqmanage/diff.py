"""Diff stage: a pure ``compare(desired, actual)`` returning typed changes. No I/O.

This module only walks the two models side by side: datasets, tables, then columns and STRUCT
fields level by level. At each place it asks every change kind what it detects there
(``changes.CHANGE_KINDS``), so a new kind needs no edit here. Column order is not drift (BigQuery
appends new columns at the end), names compare case-insensitively, and properties the actual
engine cannot observe are not compared.
"""

from __future__ import annotations

from bqmanage.changes import CHANGE_KINDS, Change, ColumnAt
from bqmanage.model.schema import Column, Definitions, Table, Warehouse

# Where a change is: (dataset, None) for a dataset's own, (dataset, table) for a table's.
Place = tuple[str, str | None]

# Per detector, the kinds that define it, in CHANGE_KINDS order: half the kinds detect nothing on a
# column, and asking each of them about every column was a third of comparing a clean warehouse.
_DETECTORS: dict[tuple[str, int], list[type[Change]]] = {}


def _detecting(detector: str) -> list[type[Change]]:
    """The kinds whose ``detector`` (on_dataset, on_table, on_column) is their own, not Change's
    (which finds nothing); looked up again whenever a kind has been defined since."""
    key = (detector, len(CHANGE_KINDS))
    kinds = _DETECTORS.get(key)
    if kinds is None:
        inherited = getattr(Change, detector).__func__
        kinds = _DETECTORS[key] = [k for k in CHANGE_KINDS if getattr(k, detector).__func__ is not inherited]
    return kinds


def compare(desired: Definitions, actual: Warehouse, unobservable: frozenset[str] = frozenset()) -> list[Change]:
    """Every difference between the definitions (desired) and the warehouse (actual), as typed changes."""
    return [c for part in compare_by_place(desired, actual, unobservable).values() for c in part]


def compare_by_place(
    desired: Definitions, actual: Warehouse, unobservable: frozenset[str] = frozenset(), only: set[Place] | None = None
) -> dict[Place, list[Change]]:
    """``compare``'s changes by place, in its order (datasets, then tables as defined); ``only``
    compares those places alone, so that a caller that re-read a few can compare them again."""
    changes: dict[Place, list[Change]] = {}
    kinds = _detecting("on_dataset")
    for dataset in desired.all_datasets():
        if only is None or (dataset.name, None) in only:
            actual_dataset = actual.datasets.get(dataset.name)
            on_dataset = [c for kind in kinds for c in kind.on_dataset(dataset, actual_dataset, unobservable)]
            changes[(dataset.name, None)] = on_dataset
    for table in desired.tables:
        if only is None or (table.dataset, table.name) in only:
            found = actual.table(table.dataset, table.name)
            changes[(table.dataset, table.name)] = compare_table(table, found, unobservable)
    return changes


def compare_table(desired: Table, actual: Table | None, unobservable: frozenset[str] = frozenset()) -> list[Change]:
    """Changes that bring one table to its definition (``actual`` None: it is not live)."""
    changes = [c for kind in _detecting("on_table") for c in kind.on_table(desired, actual, unobservable)]
    if actual is not None:
        # Tenants' tables share their column objects (the loader's copies, the engines' columns read
        # back once per distinct column): a pair of column lists found in agreement is not compared
        # again. A column's detectors see only its table's names (ColumnAt), so agreement holds in
        # any table, for as long as no kind is defined (the detectors' list is in the key). The lists
        # are kept with the key, so that the ids in it stay theirs.
        key = (tuple(map(id, desired.columns)), tuple(map(id, actual.columns)), unobservable, id(_detecting("on_column")))
        if key not in _AGREEING:
            found = _compare_columns(desired.columns, actual.columns, ColumnAt(desired.dataset, desired.name, (), unobservable))
            if not found:
                if len(_AGREEING) >= _AGREEING_ENTRIES:
                    _AGREEING.clear()
                _AGREEING[key] = (desired.columns, actual.columns)
            changes += found
    return changes


# (ids of the defined columns, of the live ones, unobservable, id of the detectors) -> those columns.
_AGREEING: dict[tuple[tuple[int, ...], tuple[int, ...], frozenset[str], int], tuple[tuple[Column, ...], tuple[Column, ...]]] = {}
_AGREEING_ENTRIES = 10_000


def _compare_columns(desired: tuple[Column, ...], actual: tuple[Column, ...], parent: ColumnAt) -> list[Change]:
    """The columns of a table, or the fields of a STRUCT, and all that is below them."""
    changes: list[Change] = []
    kinds = _detecting("on_column")
    # By key, once: a lookup per column made a wide table quadratic, and check compares thousands.
    by_key: dict[str, Column] = {}
    for c in actual:
        by_key.setdefault(c.key, c)  # the first of a case-folded pair, as the scan found it
    for column in desired:
        actual_column = by_key.get(column.key)
        at = parent.child(column.name)
        for kind in kinds:
            changes.extend(kind.on_column(column, actual_column, at))
        if actual_column is not None and at.descends(column, actual_column):
            changes.extend(_compare_columns(column.fields, actual_column.fields, at))
    defined = {c.key for c in desired}
    for extra in actual:
        if extra.key not in defined:
            at = parent.child(extra.name)
            for kind in kinds:
                changes.extend(kind.on_column(None, extra, at))
    return changes
