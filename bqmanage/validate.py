"""Validation of one definition file: structure (pydantic) then BigQuery's rules, all problems at once."""

from __future__ import annotations

import difflib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from bqmanage.defaults import DefaultProblem, default_sql
from bqmanage.errors import Problem
from bqmanage.model import (
    Column,
    Dataset,
    Partitioning,
    QuotaSpec,
    RangePartitioning,
    Table,
)
from bqmanage.names import (
    column_name_problem,
    dataset_name_problem,
    label_problem,
    table_name_problem,
)
from bqmanage.types import (
    TIME_UNIT_TYPES,
    TypeSpec,
    TypeSyntaxError,
    param_problem,
    parse_type,
)
from bqmanage.yaml_source import KeyPath, LineMap


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class ColumnSpec(_Spec):
    name: str
    type: str
    mode: Literal["NULLABLE", "REQUIRED", "REPEATED", "nullable", "required", "repeated"] | None = None
    description: str | None = None
    fields: list[ColumnSpec] | None = None
    default: Any = None
    reset: Literal["daily", "monthly", "carry", "now", "generated"] | None = None
    # `bq show --schema` spells parameters as separate keys; accept them as pasted.
    precision: int | str | None = None
    scale: int | str | None = None
    maxLength: int | str | None = None
    policyTags: Any = None


class PartitioningSpec(_Spec):
    column: str | None = None
    granularity: Literal["HOUR", "DAY", "MONTH", "YEAR"] = "DAY"
    range: RangePartitioning | None = None


class TableSpec(_Spec):
    table: str | None = None
    description: str | None = None
    friendly_name: str | None = None
    labels: dict[str, str] = {}
    legacy_names: list[str] = []
    partitioning: PartitioningSpec | None = None
    clustering: list[str] = []
    partition_expiration_days: float | None = None
    require_partition_filter: bool | None = None
    quota: QuotaSpec | None = None  # the model's own strict class
    columns: list[ColumnSpec]


class DatasetSpec(_Spec):
    dataset: str | None = None
    description: str | None = None
    location: str | None = None
    labels: dict[str, str] = {}


def _structure(spec: type[_Spec], data: Any, lines: LineMap) -> tuple[Any, list[Problem]]:
    if not isinstance(data, dict):
        return None, [lines.problem((), "expected a mapping of keys at the top of the file")]
    try:
        return spec.model_validate(data), []
    except ValidationError as exc:
        return None, [_pydantic_problem(err, lines) for err in exc.errors()]


def _pydantic_problem(err: Any, lines: LineMap) -> Problem:
    loc: KeyPath = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("literal[", "str", "int"))))
    if err["type"] == "extra_forbidden":
        key = str(loc[-1])
        known = _known_keys(loc, lines)
        hint = difflib.get_close_matches(key, known, n=1)
        suffix = f"; did you mean {hint[0]!r}?" if hint else ""
        return lines.problem(loc, f"unknown key {key!r}{suffix}")
    if err["type"] == "missing":
        return lines.problem(loc[:-1], f"required key {loc[-1]!r} is missing")
    value = err.get("input")
    return lines.problem(loc, f"{err['msg'].lower()} (got {value!r})")


def _known_keys(loc: KeyPath, lines: LineMap) -> list[str]:
    if "columns" in loc or "fields" in loc:
        return list(ColumnSpec.model_fields)
    return list(TableSpec.model_fields) + list(DatasetSpec.model_fields)


def validate_dataset(data: Any, lines: LineMap, dir_name: str) -> tuple[Dataset | None, list[Problem]]:
    """Validate an optional _dataset.yaml (``data`` is {} when absent)."""
    spec, problems = _structure(DatasetSpec, data or {}, lines)
    if spec is None:
        return None, problems
    name = spec.dataset or dir_name
    if (why := dataset_name_problem(name)) is not None:
        problems.append(lines.problem(("dataset",), why))
    if spec.dataset and spec.dataset != dir_name:
        problems.append(lines.problem(("dataset",), f"dataset {spec.dataset!r} must match its directory {dir_name!r}"))
    problems += _label_problems(spec.labels, lines)
    if problems:
        return None, problems
    return Dataset(name=name, description=spec.description, location=spec.location, labels=spec.labels, source=lines.path, line=1), []


def _label_problems(labels: dict[str, str], lines: LineMap) -> list[Problem]:
    return [lines.problem(("labels", k), why) for k, v in labels.items() if (why := label_problem(k, v))]


def validate_table(data: Any, lines: LineMap, dataset: str, stem: str) -> tuple[Table | None, list[Problem]]:
    """Validate one table file against BigQuery's rules; return the table or every problem."""
    spec, problems = _structure(TableSpec, data, lines)
    if spec is None:
        return None, problems
    name = spec.table or stem
    if (why := table_name_problem(name)) is not None:
        problems.append(lines.problem(("table",), why))
    elif name != stem:
        problems.append(lines.problem(("table",), f"table {name!r} must match its file name {stem!r}.yaml"))
    if spec.description is not None and len(spec.description) > 16384:
        problems.append(lines.problem(("description",), "table description is longer than 16,384 characters"))
    problems += _label_problems(spec.labels, lines)
    columns = _columns(spec.columns, ("columns",), lines, problems, top_level=True)
    by_key = {c.key: c for c in columns}
    if not spec.columns:
        problems.append(lines.problem(("columns",), "a table needs at least one column"))
    partitioning = _partitioning(spec, by_key, lines, problems)
    if len(spec.clustering) > 4:
        problems.append(lines.problem(("clustering",), f"at most 4 clustering columns, got {len(spec.clustering)}"))
    for i, col_name in enumerate(spec.clustering):
        col = by_key.get(col_name.lower())
        if col is None:
            problems.append(lines.problem(("clustering", i), f"clustering column {col_name!r} is not a column of the table"))
        elif col.mode == "REPEATED" or col.type in ("STRUCT", "FLOAT64", "JSON", "GEOGRAPHY", "RANGE", "INTERVAL"):
            problems.append(lines.problem(("clustering", i), f"column {col_name!r} ({col.type_sql()}) cannot be a clustering column"))
    if partitioning is None and (spec.require_partition_filter or spec.partition_expiration_days is not None):
        key = "require_partition_filter" if spec.require_partition_filter else "partition_expiration_days"
        problems.append(lines.problem((key,), f"{key} needs a partitioned table"))
    for i, legacy in enumerate(spec.legacy_names):
        parts = legacy.split(".")
        if len(parts) != 2 or dataset_name_problem(parts[0]) or table_name_problem(parts[1]):
            problems.append(lines.problem(("legacy_names", i), f"legacy name {legacy!r} must be dataset.table"))
    quota = _quota(spec, by_key, lines, problems)
    if problems:
        return None, problems
    return Table(
        dataset=dataset, name=name, description=spec.description, friendly_name=spec.friendly_name,
        labels=spec.labels, partitioning=partitioning, clustering=tuple(spec.clustering),
        partition_expiration_days=spec.partition_expiration_days,
        require_partition_filter=spec.require_partition_filter, columns=tuple(columns),
        legacy_names=tuple(spec.legacy_names), quota=quota, source=lines.path, line=lines.line(()),
    ), []


def _partitioning(spec: TableSpec, by_key: dict[str, Column], lines: LineMap, problems: list[Problem]) -> Partitioning | None:
    part = spec.partitioning
    if part is None:
        return None
    rng = part.range
    if part.column is not None:
        col = by_key.get(part.column.lower())
        allowed = ("INT64",) if rng else TIME_UNIT_TYPES
        if col is None:
            problems.append(lines.problem(("partitioning", "column"), f"partition column {part.column!r} is not a column of the table"))
        elif col.mode == "REPEATED" or col.type not in allowed:
            problems.append(lines.problem(("partitioning", "column"), f"partition column {part.column!r} is {col.type_sql()}; it must be {' or '.join(allowed)}"))
        elif col.type == "DATE" and part.granularity == "HOUR":
            problems.append(lines.problem(("partitioning", "granularity"), "a DATE column cannot be partitioned by HOUR"))
    elif rng is not None:
        problems.append(lines.problem(("partitioning",), "range partitioning needs a column"))
    if rng is not None and (rng.interval <= 0 or rng.end <= rng.start):
        problems.append(lines.problem(("partitioning", "range"), "range needs start < end and a positive interval"))
    return Partitioning(column=part.column, granularity=part.granularity, range=rng)


def _quota(spec: TableSpec, by_key: dict[str, Column], lines: LineMap, problems: list[Problem]) -> QuotaSpec | None:
    if spec.quota is None:
        return None
    for key in ("tenant_column", "date_column"):
        value = getattr(spec.quota, key)
        if value.lower() not in by_key:
            problems.append(lines.problem(("quota", key), f"{key} {value!r} is not a column of the table"))
    date_col = by_key.get(spec.quota.date_column.lower())
    if date_col is not None and date_col.type != "DATE":
        problems.append(lines.problem(("quota", "date_column"), f"date column {date_col.name!r} must be DATE"))
    if spec.quota.lookback_days < 1:
        problems.append(lines.problem(("quota", "lookback_days"), "lookback_days must be at least 1"))
    keys = {spec.quota.tenant_column.lower(), spec.quota.date_column.lower()}
    for i, column in enumerate(spec.columns):
        if column.name.lower() not in keys and column.reset is None:
            problems.append(lines.problem(("columns", i, "reset"), f"column {column.name!r} of a quota table needs a reset policy (daily, monthly, carry, now or generated)"))
        if column.reset == "generated" and column.type.upper() != "STRING":
            problems.append(lines.problem(("columns", i, "reset"), "a generated row id must be a STRING column"))
    try:
        import zoneinfo

        zoneinfo.ZoneInfo(spec.quota.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        problems.append(lines.problem(("quota", "time_zone"), f"unknown time zone {spec.quota.time_zone!r}"))
    return spec.quota


def _columns(specs: list[ColumnSpec], at: KeyPath, lines: LineMap, problems: list[Problem], top_level: bool) -> list[Column]:
    columns: list[Column] = []
    seen: dict[str, int] = {}
    for i, spec in enumerate(specs):
        here = (*at, i)
        if (why := column_name_problem(spec.name)) is not None:
            problems.append(lines.problem((*here, "name"), why))
        if spec.name.lower() in seen:
            problems.append(lines.problem((*here, "name"), f"duplicate column {spec.name!r} (names are case-insensitive; first at {at[-1]}[{seen[spec.name.lower()]}])"))
        seen.setdefault(spec.name.lower(), i)
        column = _column(spec, here, lines, problems, top_level)
        if column is not None:
            columns.append(column)
    return columns


def _column(spec: ColumnSpec, here: KeyPath, lines: LineMap, problems: list[Problem], top_level: bool) -> Column | None:
    try:
        parsed = parse_type(spec.type)
    except TypeSyntaxError as exc:
        problems.append(lines.problem((*here, "type"), str(exc)))
        return None
    mode = spec.mode.upper() if spec.mode else None
    if parsed.base == "ARRAY":
        if mode == "REQUIRED":
            problems.append(lines.problem((*here, "mode"), "an ARRAY column cannot be REQUIRED (arrays are REPEATED)"))
        if parsed.element is not None and parsed.element.base == "ARRAY":
            problems.append(lines.problem((*here, "type"), "ARRAY of ARRAY is not allowed; wrap the inner array in a STRUCT"))
            return None
        parsed, mode = parsed.element or parsed, "REPEATED"
    fields: tuple[Column, ...] = ()
    if parsed.base == "STRUCT":
        if parsed.fields and spec.fields:
            problems.append(lines.problem((*here, "fields"), "give the STRUCT fields inline in the type or under fields, not both"))
        if spec.fields:
            fields = tuple(_columns(spec.fields, (*here, "fields"), lines, problems, top_level=False))
        elif parsed.fields:
            fields = tuple(_inline_fields(parsed, here, lines, problems))
        else:
            problems.append(lines.problem((*here, "fields"), "a STRUCT/RECORD column needs fields"))
    elif spec.fields:
        problems.append(lines.problem((*here, "fields"), f"fields are only allowed on STRUCT/RECORD, not {parsed.base}"))
    if parsed.base == "RANGE" and parsed.range_element not in TIME_UNIT_TYPES:
        problems.append(lines.problem((*here, "type"), "RANGE takes DATE, DATETIME or TIMESTAMP"))
    precision, scale, max_length = _params(parsed, spec, here, lines, problems)
    column_mode = mode or "NULLABLE"
    default = _default(spec, parsed.base, column_mode, precision, scale, max_length, here, lines, problems, top_level)
    if spec.description is not None and len(spec.description) > 1024:
        problems.append(lines.problem((*here, "description"), "column description is longer than 1,024 characters"))
    return Column(
        name=spec.name, type=parsed.base, mode=column_mode, precision=precision, scale=scale,
        max_length=max_length, range_element=parsed.range_element, fields=fields, default=default,
        description=spec.description, reset=spec.reset, line=lines.line(here),
    )


def _inline_fields(parsed: TypeSpec, here: KeyPath, lines: LineMap, problems: list[Problem]) -> list[Column]:
    out: list[Column] = []
    for name, sub in parsed.fields:
        if (why := column_name_problem(name)) is not None:
            problems.append(lines.problem((*here, "type"), why))
        mode = "NULLABLE"
        if sub.base == "ARRAY" and sub.element is not None:
            sub, mode = sub.element, "REPEATED"
        nested = tuple(_inline_fields(sub, here, lines, problems)) if sub.base == "STRUCT" else ()
        precision = sub.params[0] if sub.base in ("NUMERIC", "BIGNUMERIC") and sub.params else None
        scale = (sub.params[1] if len(sub.params) > 1 else 0) if precision is not None else None
        max_length = sub.params[0] if sub.base in ("STRING", "BYTES") and sub.params else None
        out.append(Column(name=name, type=sub.base, mode=mode, precision=precision, scale=scale,
                          max_length=max_length, range_element=sub.range_element, fields=nested))
    return out


def _params(parsed: TypeSpec, spec: ColumnSpec, here: KeyPath, lines: LineMap, problems: list[Problem]) -> tuple[int | None, int | None, int | None]:
    params = list(parsed.params)
    precision = scale = max_length = None
    if parsed.base in ("NUMERIC", "BIGNUMERIC"):
        if len(params) > 2:
            problems.append(lines.problem((*here, "type"), f"{parsed.base} takes at most (precision, scale)"))
        precision = params[0] if params else _int(spec.precision)
        scale = (params[1] if len(params) > 1 else 0) if params else _int(spec.scale)
        if precision is not None and scale is None:
            scale = 0
    elif parsed.base in ("STRING", "BYTES"):
        if len(params) > 1:
            problems.append(lines.problem((*here, "type"), f"{parsed.base} takes one length parameter"))
        max_length = params[0] if params else _int(spec.maxLength)
    elif params:
        problems.append(lines.problem((*here, "type"), f"{parsed.base} takes no parameters"))
    if (why := param_problem(parsed.base, precision, scale, max_length)) is not None:
        problems.append(lines.problem((*here, "type"), why))
    return precision, scale, max_length


def _int(value: int | str | None) -> int | None:
    return int(value) if value is not None and str(value).isdigit() else None


def _default(spec: ColumnSpec, base: str, mode: str, precision: int | None, scale: int | None,
             max_length: int | None, here: KeyPath, lines: LineMap, problems: list[Problem], top_level: bool) -> str | None:
    if "default" not in spec.model_fields_set:
        return None
    where = (*here, "default")
    if not top_level:
        problems.append(lines.problem(where, "defaults are allowed on top-level columns only"))
        return None
    if spec.default is None:
        if mode == "REQUIRED":
            problems.append(lines.problem(where, "a REQUIRED column cannot have a NULL default"))
        return None
    if mode == "REPEATED" or base == "STRUCT":
        problems.append(lines.problem(where, "bqmanage supports defaults on scalar columns only"))
        return None
    try:
        return default_sql(spec.default, base, precision, scale, max_length)
    except DefaultProblem as exc:
        problems.append(lines.problem(where, str(exc)))
        return None


ColumnSpec.model_rebuild()
