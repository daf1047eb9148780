"""The model <-> BigQuery's REST resources (TableFieldSchema, Table, Dataset), both ways.

Engines hand over what ``tables.get`` returns and take schemas in the same shape (``tables.patch``,
``bq mk --schema``); this module is the one place that converts: legacy type names (INTEGER,
RECORD), string-encoded parameters, REPEATED for arrays, default spellings. It sits below the
engines and the pipeline stages, so that both can use it without importing each other.
"""

from __future__ import annotations

import json
import math
from typing import Any

from bqmanage.errors import WarehouseError
from bqmanage.model.access import access_from_api
from bqmanage.model.defaults import default_expression, normalize_default
from bqmanage.model.row_access import RowAccessPolicy
from bqmanage.model.schema import Column, Dataset, Partitioning, RangePartitioning, Table
from bqmanage.model.types import LEGACY, canonical_name
from bqmanage.terminal import printable

_MS_PER_DAY = 86_400_000

# Columns read back, by the text of their REST field: a fleet of tenants repeats the same few
# columns thousands of times, and building each Column (pydantic, normalised) cost more than the
# comparison it serves. A Column is frozen, so tables can share one. Bounded like the YAML reader's.
_COLUMNS: dict[str, Column] = {}
_COLUMN_ENTRIES = 20_000


def column_from_api(field: dict[str, Any]) -> Column:
    """A REST TableFieldSchema -> Column, normalised."""
    key = repr(field)
    column = _COLUMNS.get(key)
    if column is None:
        if len(_COLUMNS) >= _COLUMN_ENTRIES:
            _COLUMNS.clear()
        column = _COLUMNS[key] = _column_from_api(field)
    return column


def _column_from_api(field: dict[str, Any]) -> Column:
    type_name = canonical_name(str(field.get("type", "STRING")))
    if type_name is None:
        raise ValueError(f"unknown type {field.get('type')!r}")
    precision = _number(field.get("precision"))
    range_type = (field.get("rangeElementType") or {}).get("type")
    return Column(
        name=field["name"],
        type=type_name,
        mode=str(field.get("mode") or "NULLABLE").upper(),  # type: ignore[arg-type]
        precision=precision,
        # The REST API leaves out a zero scale.
        scale=(_number(field.get("scale")) or 0) if precision is not None else None,
        max_length=_number(field.get("maxLength")),
        range_element=canonical_name(range_type) if range_type else None,
        fields=tuple(column_from_api(f) for f in field.get("fields") or ()),
        default=normalize_default(field.get("defaultValueExpression")),
        description=field.get("description") or None,
        # None for a column without tags, as a definition that names none: a round trip is exact.
        policy_tags=_policy_tags(field),
    )


def _policy_tags(field: dict[str, Any]) -> tuple[str, ...] | None:
    """A column's policy tag names; a ``policyTags`` of another shape is a malformed answer."""
    tags = field.get("policyTags") or {}
    names = tags.get("names") if isinstance(tags, dict) else None
    if not isinstance(tags, dict) or not (names is None or (isinstance(names, list) and all(isinstance(n, str) for n in names))):
        raise WarehouseError(
            f"column {printable(field.get('name'))}: policyTags {printable(json.dumps(tags))[:200]} is malformed: "
            "the endpoint does not answer as the BigQuery API"
        )
    return tuple(names) if names else None


def column_to_api(column: Column) -> dict[str, Any]:
    """A Column -> REST TableFieldSchema, as ``bq show --schema`` prints it (legacy type names)."""
    field: dict[str, Any] = {"name": column.name, "type": LEGACY.get(column.type, column.type), "mode": column.mode}
    if column.description:
        field["description"] = column.description
    if column.max_length is not None:
        field["maxLength"] = str(column.max_length)
    if column.precision is not None:
        field["precision"] = str(column.precision)
        field["scale"] = str(column.scale or 0)
    if column.range_element:
        field["rangeElementType"] = {"type": column.range_element}
    if column.default is not None:
        field["defaultValueExpression"] = default_expression(column.type, column.default)
    if column.policy_tags:
        field["policyTags"] = {"names": list(column.policy_tags)}
    if column.fields:
        field["fields"] = schema_to_api(column.fields)
    return field


def schema_to_api(columns: tuple[Column, ...] | list[Column]) -> list[dict[str, Any]]:
    """The REST ``schema.fields`` list of some columns."""
    return [column_to_api(c) for c in columns]


def table_from_api(resource: dict[str, Any]) -> Table:
    """A REST Table resource -> Table, normalised."""
    ref = resource["tableReference"]
    partitioning = None
    expiration = None
    if tp := resource.get("timePartitioning"):
        partitioning = Partitioning(column=tp.get("field"), granularity=tp.get("type", "DAY"))
        if tp.get("expirationMs") not in (None, ""):
            expiration = int(tp["expirationMs"]) / _MS_PER_DAY
    elif rp := resource.get("rangePartitioning"):
        r = rp["range"]
        bounds = RangePartitioning(start=int(r["start"]), end=int(r["end"]), interval=int(r["interval"]))
        partitioning = Partitioning(column=rp["field"], range=bounds)
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
        row_access_policies=policies_from_api(resource.get(ROW_ACCESS_KEY)),
    )


# Where an engine hands over a table's live row access policies beside its REST Table resource
# (they are a resource of their own in BigQuery: rowAccessPolicies.list, INFORMATION_SCHEMA).
ROW_ACCESS_KEY = "bqmanage:rowAccessPolicies"


def policies_from_api(items: list[dict[str, Any]] | None) -> tuple[RowAccessPolicy, ...] | None:
    """``[{"policyId", "filterPredicate", "grantees"}]`` -> policies; None when the engine read none."""
    if items is None:
        return None
    return tuple(
        RowAccessPolicy(name=i["policyId"], filter=i.get("filterPredicate") or "", grantees=tuple(i.get("grantees") or ()))
        for i in items
    )


def table_to_api(table: Table) -> dict[str, Any]:
    """A Table -> REST Table resource (the properties bqmanage manages; unset ones left out)."""
    resource: dict[str, Any] = {
        "tableReference": {"datasetId": table.dataset, "tableId": table.name},
        "schema": {"fields": schema_to_api(table.columns)},
    }
    if (p := table.partitioning) is not None:
        if p.range is not None:
            resource["rangePartitioning"] = {
                "field": p.column,
                "range": {"start": str(p.range.start), "end": str(p.range.end), "interval": str(p.range.interval)},
            }
        else:
            resource["timePartitioning"] = {"type": p.granularity, **({"field": p.column} if p.column else {})}
            if table.partition_expiration_days is not None:
                resource["timePartitioning"]["expirationMs"] = expiration_ms(table.partition_expiration_days)
    if table.clustering:
        resource["clustering"] = {"fields": list(table.clustering)}
    for key, value in (
        ("description", table.description),
        ("labels", table.labels or None),
        ("friendlyName", table.friendly_name),
        ("requirePartitionFilter", table.require_partition_filter),
    ):
        if value is not None:
            resource[key] = value
    return resource


def expiration_ms(days: float) -> str:
    """``partition_expiration_days`` as the REST ``timePartitioning.expirationMs`` string."""
    return str(round(days * _MS_PER_DAY))


_INT64_MAX = 2**63 - 1


def expiration_problem(days: float | None) -> str | None:
    """Why BigQuery cannot hold ``days`` as it is written, or None. The API stores the expiration
    as an INT64 of milliseconds (timePartitioning.expirationMs): a value must be positive, at most
    INT64 milliseconds, and a whole number of milliseconds, or it reads back as another number
    and drifts on every check."""
    if days is None:
        return None
    if not (math.isfinite(days) and days > 0):
        return f"partition_expiration_days must be a positive number of days, got {days}"
    ms = days * _MS_PER_DAY
    if ms >= _INT64_MAX:
        return (
            f"partition_expiration_days {days} is too large: BigQuery stores it as an INT64 of milliseconds "
            f"(at most {_INT64_MAX // _MS_PER_DAY:,} days)"
        )
    if round(ms) < 1 or round(ms) / _MS_PER_DAY != days:
        return (
            f"partition_expiration_days {days} is not a whole number of milliseconds ({ms:g} ms): BigQuery keeps "
            "whole milliseconds, so it would read back as another value"
        )
    return None


def dataset_from_api(resource: dict[str, Any]) -> Dataset:
    """A REST Dataset resource -> Dataset."""
    return Dataset(
        name=resource["datasetReference"]["datasetId"],
        description=resource.get("description") or None,
        location=resource.get("location") or None,
        labels=resource.get("labels") or {},
        access=access_from_api(resource),
    )


def _number(value: object) -> int | None:
    """REST encodes int64 values as strings; absent and "" mean unset."""
    return int(value) if value not in (None, "") else None  # type: ignore[call-overload]
