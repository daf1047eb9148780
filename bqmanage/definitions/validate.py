"""Validation of one definition file: its shape (definitions/specs.py) then BigQuery's rules, all problems at once."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from bqmanage.definitions.access import access_entries
from bqmanage.definitions.columns import column_count_problem, columns_from_specs
from bqmanage.definitions.quota import quota_problems
from bqmanage.definitions.row_access import row_access_from_spec
from bqmanage.definitions.specs import DatasetSpec, PartitioningSpec, TableSpec, structure
from bqmanage.definitions.yaml_source import KeyPath, LineMap
from bqmanage.errors import Problem
from bqmanage.model.locations import canonical_location, location_problem
from bqmanage.model.names import (
    MAX_LABELS,
    dataset_name_problem,
    label_problem,
    reserved_name_problem,
    table_name_problem,
)
from bqmanage.model.rest import expiration_problem
from bqmanage.model.schema import Column, Dataset, Partitioning, QuotaSpec, Table
from bqmanage.model.types import TIME_UNIT_TYPES
from bqmanage.tenants.templates import is_template, template_name_problem

_NOT_CLUSTERABLE = ("STRUCT", "FLOAT64", "JSON", "GEOGRAPHY", "RANGE", "INTERVAL")


def validate_dataset(data: Any, lines: LineMap, dir_name: str) -> tuple[Dataset | None, list[Problem]]:
    """Validate an optional _dataset.yaml (``data`` is {} when absent)."""
    problems: list[Problem] = []
    spec = structure(DatasetSpec, data or {}, (), lines, problems, partial=True)
    if spec is None:
        return None, problems
    name = spec.dataset or dir_name
    named = template_name_problem(name) if is_template(name) else dataset_name_problem(name)
    if (why := named or reserved_name_problem(name, "dataset")) is not None:
        problems.append(_dataset_problem(lines, ("dataset",), why))
    if spec.dataset and spec.dataset != dir_name:
        problems.append(lines.problem(("dataset",), f"dataset {spec.dataset!r} must match its directory {dir_name!r}"))
    if spec.location is not None and (why := location_problem(spec.location)) is not None:
        problems.append(lines.problem(("location",), why))
    problems += _label_problems(spec.labels, lines)
    access = access_entries(spec.access, is_template(name), lines, problems)
    if problems:
        return None, sorted(problems, key=_line)
    location = canonical_location(spec.location) if spec.location is not None else None
    return Dataset(
        name=name,
        description=spec.description,
        location=location,
        labels=spec.labels,
        access=access,
        access_exclusive=spec.access_exclusive,
        source=lines.path,
        line=1,
    ), []


def _dataset_problem(lines: LineMap, key: KeyPath, message: str) -> Problem:
    """A dataset with no _dataset.yaml is its directory: say so, rather than name a file that is not there."""
    if lines.lines:
        return lines.problem(key, message)
    return Problem(PurePosixPath(lines.path).parent.as_posix(), None, "", message)


def _line(problem: Problem) -> int:
    """Problems are found part by part; report them in the order of the file (a stable sort)."""
    return problem.line or 0


def _label_problems(labels: dict[str, str], lines: LineMap) -> list[Problem]:
    problems = [lines.problem(("labels", k), why) for k, v in labels.items() if (why := label_problem(k, v))]
    if len(labels) > MAX_LABELS:
        problems.append(lines.problem(("labels",), f"{len(labels)} labels; BigQuery allows at most {MAX_LABELS} per resource"))
    return problems


def validate_table(data: Any, lines: LineMap, dataset: str, stem: str) -> tuple[Table | None, list[Problem]]:
    """Validate one table file against BigQuery's rules; return the table or every problem."""
    problems: list[Problem] = []
    spec = structure(TableSpec, data, (), lines, problems, partial=True)
    if spec is None:
        return None, sorted(problems, key=_line)
    name = spec.table or stem
    if (why := table_name_problem(name) or reserved_name_problem(name, "table")) is not None:
        problems.append(lines.problem(("table",), why))
    elif name != stem:
        problems.append(lines.problem(("table",), f"table {name!r} must match its file name {stem!r}.yaml"))
    if spec.description is not None and len(spec.description) > 16384:
        problems.append(lines.problem(("description",), "table description is longer than 16,384 characters"))
    problems += _label_problems(spec.labels, lines)
    columns, broken = columns_from_specs(spec.columns, ("columns",), lines, problems)
    if not spec.columns:
        problems.append(lines.problem(("columns",), "a table needs at least one column"))
    if (why := column_count_problem(columns)) is not None:
        problems.append(lines.problem(("columns",), why))
    by_key = {c.key: c for c in columns}
    partitioning = _partitioning(spec, by_key, broken, lines, problems)
    _clustering(spec, by_key, broken, lines, problems)
    if (why := expiration_problem(spec.partition_expiration_days)) is not None:
        problems.append(lines.problem(("partition_expiration_days",), why))
    if spec.partitioning is None and (spec.require_partition_filter or spec.partition_expiration_days is not None):
        key = "require_partition_filter" if spec.require_partition_filter else "partition_expiration_days"
        problems.append(lines.problem((key,), f"{key} needs a partitioned table"))
    for i, legacy in enumerate(spec.legacy_names):
        parts = legacy.split(".")
        if len(parts) != 2 or dataset_name_problem(parts[0]) or table_name_problem(parts[1]):
            problems.append(lines.problem(("legacy_names", i), f"legacy name {legacy!r} must be dataset.table"))
    quota = None
    if spec.quota is not None and (quota := structure(QuotaSpec, spec.quota, ("quota",), lines, problems)) is not None:
        problems += quota_problems(quota, spec.columns, by_key, broken, lines)
    row_access = None
    if spec.row_access is not None:
        row_access = row_access_from_spec(spec.row_access, by_key, lines, problems)
    if problems:
        return None, sorted(problems, key=_line)
    return Table(
        dataset=dataset,
        name=name,
        description=spec.description,
        friendly_name=spec.friendly_name,
        labels=spec.labels,
        partitioning=partitioning,
        clustering=tuple(spec.clustering),
        partition_expiration_days=spec.partition_expiration_days,
        require_partition_filter=spec.require_partition_filter,
        columns=tuple(columns),
        legacy_names=tuple(spec.legacy_names),
        quota=quota,
        row_access=row_access,
        source=lines.path,
        line=lines.line(()),
    ), []


def _partitioning(
    spec: TableSpec, by_key: dict[str, Column], broken: set[str], lines: LineMap, problems: list[Problem]
) -> Partitioning | None:
    if spec.partitioning is None:
        return None
    part = structure(PartitioningSpec, spec.partitioning, ("partitioning",), lines, problems)
    if part is None:
        return None
    rng = part.range
    if part.column is not None and part.column.lower() not in broken:
        col = by_key.get(part.column.lower())
        allowed = ("INT64",) if rng else TIME_UNIT_TYPES
        if col is None:
            problems.append(
                lines.problem(("partitioning", "column"), f"partition column {part.column!r} is not a column of the table")
            )
        elif col.mode == "REPEATED" or col.type not in allowed:
            problems.append(
                lines.problem(
                    ("partitioning", "column"),
                    f"partition column {part.column!r} is {col.type_sql()}; it must be {' or '.join(allowed)}",
                )
            )
        elif col.type == "DATE" and part.granularity == "HOUR":
            problems.append(lines.problem(("partitioning", "granularity"), "a DATE column cannot be partitioned by HOUR"))
    elif part.column is None and rng is not None:
        problems.append(lines.problem(("partitioning",), "range partitioning needs a column"))
    if rng is not None and (rng.interval <= 0 or rng.end <= rng.start):
        problems.append(lines.problem(("partitioning", "range"), "range needs start < end and a positive interval"))
    if rng is not None and spec.partition_expiration_days is not None:
        # partition_expiration_days applies to time-unit and ingestion-time partitions only
        # (https://cloud.google.com/bigquery/docs/managing-partitioned-tables#partition-expiration).
        problems.append(
            lines.problem(
                ("partition_expiration_days",), "partition_expiration_days is not supported on integer-range partitioned tables"
            )
        )
    return Partitioning(column=part.column, granularity=part.granularity, range=rng)


def _clustering(spec: TableSpec, by_key: dict[str, Column], broken: set[str], lines: LineMap, problems: list[Problem]) -> None:
    if len(spec.clustering) > 4:
        problems.append(lines.problem(("clustering",), f"at most 4 clustering columns, got {len(spec.clustering)}"))
    for i, col_name in enumerate(spec.clustering):
        col = by_key.get(col_name.lower())
        if col is None and col_name.lower() not in broken:
            problems.append(lines.problem(("clustering", i), f"clustering column {col_name!r} is not a column of the table"))
        elif col is not None and (col.mode == "REPEATED" or col.type in _NOT_CLUSTERABLE):
            problems.append(
                lines.problem(("clustering", i), f"column {col_name!r} ({col.type_sql()}) cannot be a clustering column")
            )
