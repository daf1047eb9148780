"""The definitions as Open Data Contract Standard v3 documents, one per table.

ODCS (https://bitol-io.github.io/open-data-contract-standard/) describes a table as a schema object
whose properties are its columns, with a logical type every contract tool understands and the
physical (BigQuery) type beside it. What only bqmanage means (defaults as SQL, reset policies,
partitioning, clustering, legacy names, the quota section, labels) goes under
``customProperties`` with ``vendor: bqmanage``, the place the standard keeps for it. The tests
validate every document against the ODCS JSON schema.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import yaml

from bqmanage.model.schema import Column, Table

API_VERSION = "v3.2.0"  # the version of the schema the tests validate against
VENDOR = "bqmanage"
_LOGICAL = {
    "STRING": "string",
    "BYTES": "string",
    "INT64": "integer",
    "NUMERIC": "number",
    "BIGNUMERIC": "number",
    "FLOAT64": "number",
    "BOOL": "boolean",
    "DATE": "date",
    "DATETIME": "timestamp",
    "TIMESTAMP": "timestamp",
    "TIME": "time",
    "STRUCT": "object",
    "JSON": "object",
    "RANGE": "object",
    "GEOGRAPHY": "string",
    "INTERVAL": "string",
}


def contract(table: Table, project: str | None = None) -> dict[str, Any]:
    """One table's data contract."""
    document: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "DataContract",
        "id": f"{table.dataset}.{table.name}",
        "name": table.name,
        "version": "",  # below: the fingerprint of everything else
        "status": "active",
    }
    if table.description:
        document["description"] = {"purpose": table.description}
    if project:
        document["servers"] = [{"server": project, "type": "bigquery", "project": project, "dataset": table.dataset}]
    schema: dict[str, Any] = {
        "name": table.name,
        "physicalName": table.name,
        "physicalType": "table",
        "logicalType": "object",
    }
    if table.friendly_name:
        schema["businessName"] = table.friendly_name
    if table.description:
        schema["description"] = table.description
    schema["properties"] = [_property(c, table) for c in table.columns]
    if custom := _custom(_table_extras(table)):
        schema["customProperties"] = custom
    document["schema"] = [schema]
    document["customProperties"] = _custom({"dataset": table.dataset})
    document["version"] = _version(document)
    return document


def render_contracts(tables: list[Table], project: str | None = None) -> str:
    """Every table's contract as YAML, one document each (``---`` between them)."""
    return yaml.safe_dump_all((contract(t, project) for t in tables), sort_keys=False, allow_unicode=True)


def _version(document: dict[str, Any]) -> str:
    """A version that changes whenever the contract does: bqmanage keeps no contract versions,
    so the semver core stays 0.0.0 and the build metadata is the contract's fingerprint (not the
    file's: moving a column's line changes nothing)."""
    content = {k: v for k, v in document.items() if k != "version"}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:12]
    return f"0.0.0+{digest}"


def _property(column: Column, table: Table | None = None) -> dict[str, Any]:
    """A column (or STRUCT field); a REPEATED one is an array of its element."""
    prop: dict[str, Any] = {"name": column.name, "physicalName": column.name}
    element = _element(column)
    if column.mode == "REPEATED":
        prop.update(logicalType="array", physicalType=column.type_sql(), items=element)
    else:
        prop.update(element)
    prop["required"] = column.mode == "REQUIRED"
    if column.description:
        prop["description"] = column.description
    partitioning = table.partitioning if table is not None else None
    if partitioning is not None and partitioning.column and partitioning.column.lower() == column.key:
        prop.update(partitioned=True, partitionKeyPosition=1)
    extras: dict[str, Any] = {}
    if column.default is not None:
        extras["defaultExpression"] = column.default
    if column.reset is not None:
        extras["reset"] = column.reset
    if custom := _custom(extras):
        prop["customProperties"] = custom
    return prop


def _element(column: Column) -> dict[str, Any]:
    """The type of one value: logical, physical, and a STRUCT's fields."""
    element: dict[str, Any] = {"logicalType": _LOGICAL.get(column.type, "string"), "physicalType": column.element_type_sql()}
    if column.type == "STRING" and column.max_length is not None:
        element["logicalTypeOptions"] = {"maxLength": column.max_length}
    if column.type == "STRUCT":
        element["properties"] = [_property(f) for f in column.fields]
    return element


def _table_extras(table: Table) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    if table.partitioning is not None:
        extras["partitioning"] = table.partitioning.model_dump(mode="json", exclude_none=True)
    if table.clustering:
        extras["clustering"] = list(table.clustering)
    if table.partition_expiration_days is not None:
        extras["partitionExpirationDays"] = table.partition_expiration_days
    if table.require_partition_filter is not None:
        extras["requirePartitionFilter"] = table.require_partition_filter
    if table.labels:
        extras["labels"] = dict(table.labels)
    if table.legacy_names:
        extras["legacyNames"] = list(table.legacy_names)
    if table.quota is not None:
        extras["quota"] = table.quota.model_dump(mode="json")
    return extras


def _custom(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"property": key, "value": value, "vendor": VENDOR} for key, value in values.items()]
