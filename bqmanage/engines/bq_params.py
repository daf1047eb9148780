"""Values the bigquery engine converts: a Python value as the client's typed query parameter, and
REST field types compared by their canonical name."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from google.cloud import bigquery


def query_parameter(name: str, value: Any) -> Any:
    if isinstance(value, list):
        return bigquery.ArrayQueryParameter(name, "STRING", value)
    kinds = (
        (bool, "BOOL"),
        (int, "INT64"),
        (float, "FLOAT64"),
        (decimal.Decimal, "NUMERIC"),
        (dt.datetime, "TIMESTAMP"),
        (dt.date, "DATE"),
        (str, "STRING"),
    )
    kind = next((k for t, k in kinds if isinstance(value, t)), "STRING")
    return bigquery.ScalarQueryParameter(name, kind, value)


def same_base_type(catalog: dict[str, Any], physical: dict[str, Any]) -> bool:
    from bqmanage.model.types import canonical_name

    return canonical_name(str(catalog.get("type"))) == canonical_name(str(physical.get("type")))
