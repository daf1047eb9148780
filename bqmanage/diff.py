"""Diff stage: a pure ``compare(desired, actual)`` returning typed changes. No I/O.

Column order is not drift (BigQuery appends new columns at the end), names compare
case-insensitively, and properties the actual engine cannot observe are not compared.
"""

from __future__ import annotations

from collections.abc import Iterable

from bqmanage.changes import (
    AddColumn,
    AddField,
    Change,
    ChangeMode,
    ChangePartitioning,
    ChangeType,
    CreateDataset,
    CreateTable,
    DropColumn,
    DropDefault,
    RelaxColumn,
    SetClustering,
    SetColumnDescription,
    SetDatasetOptions,
    SetDefault,
    SetTableOptions,
    WidenType,
)
from bqmanage.model import Column, Dataset, Definitions, Partitioning, Table, Warehouse
from bqmanage.types import DECIMAL_LIMITS

_WIDER = {"INT64": ("NUMERIC", "BIGNUMERIC", "FLOAT64"), "NUMERIC": ("BIGNUMERIC", "FLOAT64")}


def compare(desired: Definitions, actual: Warehouse, unobservable: frozenset[str] = frozenset()) -> list[Change]:
    """Every difference between the definitions and the live warehouse, as typed changes."""
    changes: list[Change] = []
    for dataset in desired.all_datasets():
        live = actual.datasets.get(dataset.name)
        if live is None:
            changes.append(CreateDataset(dataset=dataset.name, table=None, desired=dataset))
        elif "dataset_options" not in unobservable:
            options = _option_diff(dataset, live, ("description", "labels"))
            if options:
                changes.append(SetDatasetOptions(dataset=dataset.name, table=None, options=options))
    for table in desired.tables:
        live_table = actual.table(table.dataset, table.name)
        if live_table is None:
            changes.append(CreateTable(dataset=table.dataset, table=table.name, desired=table))
        else:
            changes.extend(compare_table(table, live_table, unobservable))
    return changes


def compare_table(desired: Table, actual: Table, unobservable: frozenset[str] = frozenset()) -> list[Change]:
    """Changes that bring one existing table to its definition."""
    where = {"dataset": desired.dataset, "table": desired.name}
    changes: list[Change] = []
    if _partition_key(desired.partitioning) != _partition_key(actual.partitioning):
        changes.append(ChangePartitioning(**where, desired_spec=_partition_text(desired.partitioning),
                                          actual_spec=_partition_text(actual.partitioning)))
    for column in desired.columns:
        live = actual.column(column.name)
        if live is None:
            changes.append(AddColumn(**where, column=column))
            continue
        changes.extend(_compare_column(column, live, where, unobservable))
    desired_keys = {c.key for c in desired.columns}
    for live in actual.columns:
        if live.key not in desired_keys:
            changes.append(DropColumn(**where, column=live, actual=live))
    if "clustering" not in unobservable:
        if tuple(c.lower() for c in desired.clustering) != tuple(c.lower() for c in actual.clustering):
            changes.append(SetClustering(**where, desired_fields=desired.clustering, actual_fields=actual.clustering))
    names = ["description", "partition_expiration_days", "friendly_name", "labels", "require_partition_filter"]
    options = _option_diff(desired, actual, tuple(n for n in names if n not in unobservable))
    if options:
        changes.append(SetTableOptions(**where, options=options))
    return changes


def _option_diff(desired: Table | Dataset, actual: Table | Dataset, names: Iterable[str]) -> tuple[tuple[str, object, object], ...]:
    out = []
    for name in names:
        want, have = getattr(desired, name), getattr(actual, name)
        # Unset and false/empty are the same thing to BigQuery.
        if (want or None) != (have or None):
            out.append((name, want, have))
    return tuple(out)


def _compare_column(column: Column, live: Column, where: dict[str, str], unobservable: frozenset[str]) -> list[Change]:
    changes: list[Change] = []
    if column.mode != live.mode:
        if column.mode == "NULLABLE" and live.mode == "REQUIRED":
            changes.append(RelaxColumn(**where, column=column, actual=live))
        else:
            changes.append(ChangeMode(**where, column=column, actual=live))
    if column.type == "STRUCT" and live.type == "STRUCT" and column.mode == live.mode:
        changes.extend(_compare_fields(column, live, column.name, where, unobservable))
    elif _shape(column, unobservable) != _shape(live, unobservable):
        if is_widening(live, column):
            changes.append(WidenType(**where, column=column, actual=live))
        else:
            changes.append(ChangeType(**where, column=column, actual=live))
    if "default" not in unobservable and column.default != live.default:
        if column.default is None:
            changes.append(DropDefault(**where, column=column, actual=live))
        else:
            changes.append(SetDefault(**where, column=column, actual=live))
    if "description" not in unobservable and (column.description or None) != (live.description or None):
        changes.append(SetColumnDescription(**where, column=column, actual=live))
    return changes


def _compare_fields(desired: Column, actual: Column, path: str, where: dict[str, str], unobservable: frozenset[str]) -> list[Change]:
    changes: list[Change] = []
    for field in desired.fields:
        sub_path = f"{path}.{field.name}"
        live = next((f for f in actual.fields if f.key == field.key), None)
        if live is None:
            changes.append(AddField(**where, column=field, path=sub_path))
            continue
        if field.mode != live.mode:
            changes.append(ChangeMode(**where, column=field, actual=live, path=sub_path))
        if field.type == "STRUCT" and live.type == "STRUCT":
            changes.extend(_compare_fields(field, live, sub_path, where, unobservable))
        elif _shape(field, unobservable) != _shape(live, unobservable):
            # Widening a nested field means re-declaring the whole STRUCT: refused as a type change.
            changes.append(ChangeType(**where, column=field, actual=live, path=sub_path))
    desired_keys = {f.key for f in desired.fields}
    for live in actual.fields:
        if live.key not in desired_keys:
            changes.append(DropColumn(**where, column=live, actual=live, path=f"{path}.{live.name}"))
    return changes


def _shape(column: Column, unobservable: frozenset[str]) -> tuple[object, ...]:
    shape = column.shape()
    if "type_params" in unobservable:
        return (shape[0], None, None, None, *shape[4:])
    return shape


def is_widening(actual: Column, desired: Column) -> bool:
    """True when ALTER COLUMN SET DATA TYPE can turn ``actual`` into ``desired`` (widening only)."""
    if actual.mode == "REPEATED" or desired.mode == "REPEATED":
        return False
    if desired.type in _WIDER.get(actual.type, ()):
        return desired.type == "FLOAT64" or desired.precision is None or _fits(actual, desired)
    if desired.type != actual.type:
        return False
    if desired.type in ("STRING", "BYTES"):
        if actual.max_length is None:
            return False
        return desired.max_length is None or desired.max_length > actual.max_length
    if desired.type in DECIMAL_LIMITS:
        return _fits(actual, desired)
    return False


def _digits(column: Column) -> tuple[int, int]:
    """(integer digits, scale) of a numeric column; INT64 needs 19 integer digits."""
    if column.type == "INT64":
        return 19, 0
    if column.precision is None:
        return DECIMAL_LIMITS[column.type]
    scale = column.scale or 0
    return column.precision - scale, scale


def _fits(actual: Column, desired: Column) -> bool:
    a_int, a_scale = _digits(actual)
    d_int, d_scale = _digits(desired)
    return d_int >= a_int and d_scale >= a_scale and (d_int, d_scale) != (a_int, a_scale) or (
        desired.type != actual.type and d_int >= a_int and d_scale >= a_scale
    )


def _partition_key(partitioning: Partitioning | None) -> tuple[object, ...] | None:
    return partitioning.key() if partitioning else None


def _partition_text(partitioning: Partitioning | None) -> str:
    if partitioning is None:
        return "none"
    if partitioning.range:
        r = partitioning.range
        return f"RANGE_BUCKET({partitioning.column}, GENERATE_ARRAY({r.start}, {r.end}, {r.interval}))"
    column = partitioning.column or "_PARTITIONTIME"
    return f"{column} by {partitioning.granularity}"
