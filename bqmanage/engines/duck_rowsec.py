"""Row- and column-level security on the local engine: DuckDB has neither row access policies nor
policy tags, so the side schema keeps them, as BigQuery would report them, and plan, apply, check
and the isolation probe run end to end on a laptop.

The policies live in ``_bqmanage.row_access_policies`` (one row per policy, its filter as written,
GoogleSQL); policy tags in the column's side-table entry, as ``policyTags`` of its REST field.
DuckDB does not enforce either: the isolation probe (check/isolation.py) evaluates the filters.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from bqmanage.engines.duck_query import DuckResult
from bqmanage.model.names import RESERVED_PREFIX
from bqmanage.model.rest import ROW_ACCESS_KEY
from bqmanage.model.row_access import RowAccessPolicy
from bqmanage.model.schema import TableRef

POLICIES = "row_access_policies"
POLICIES_DDL = (
    f"CREATE TABLE IF NOT EXISTS {RESERVED_PREFIX}.{POLICIES} "
    "(dataset VARCHAR, tbl VARCHAR, name VARCHAR, filter VARCHAR, grantees JSON, PRIMARY KEY (dataset, tbl, name))"
)

Rows = Callable[[str, list[Any] | None], list[tuple[Any, ...]]]


def read_policies(rows: Rows, exists: bool, tables: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Every policy of ``tables`` as rowAccessPolicies.list shows one (plus its grantees, which the
    local engine can show); a table without policies has an empty list. One read for all."""
    wanted = list(tables)
    out: dict[tuple[str, str], list[dict[str, Any]]] = {pair: [] for pair in wanted}
    if not exists or not wanted:
        return out
    found: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for dataset, table, name, text, grantees in rows(
        f"SELECT dataset, tbl, name, filter, grantees FROM {RESERVED_PREFIX}.{POLICIES} "
        "WHERE dataset IN (SELECT unnest(?)) ORDER BY dataset, tbl, name",
        [sorted({d for d, _ in wanted})],
    ):
        found[(dataset, table)].append({"policyId": name, "filterPredicate": text, "grantees": _grantees(grantees)})
    return {pair: found.get(pair, []) for pair in wanted}


def _grantees(text: str | None) -> list[str]:
    """The grantees as written; a value edited by hand to no JSON list (NULL, text) reads as none:
    drift from the declared grantees, which apply writes again."""
    try:
        value = json.loads(text) if text is not None else []
    except ValueError:
        return []
    return [str(g) for g in value] if isinstance(value, list) else []


class DuckRowSecurity:
    """LocalEngine's primitives for the row access and policy tag change kinds (changes.LocalTarget)."""

    def _x(self, sql: str, params: Any = None) -> DuckResult:
        raise NotImplementedError  # LocalEngine's

    def _set_column_meta(self, ref: TableRef, path: str, update: dict[str, Any]) -> None:
        raise NotImplementedError  # LocalEngine's

    def get_tables(self, tables: list[tuple[str, str]], counts: bool = True) -> dict[str, dict[str, Any] | None]:
        raise NotImplementedError  # LocalEngine's

    def row_access_policies(self, tables: list[tuple[str, str]]) -> dict[str, list[dict[str, Any]]]:
        """The policies the catalog read holds beside each table's resource (engines.Engine)."""
        read = self.get_tables(tables, counts=False)
        return {key: list((resource or {}).get(ROW_ACCESS_KEY) or []) for key, resource in read.items()}

    def set_row_access_policy(self, ref: TableRef, policy: RowAccessPolicy) -> None:
        # A file made before policies existed has the side schema without this table.
        self._x(POLICIES_DDL)
        self._x(
            f"INSERT OR REPLACE INTO {RESERVED_PREFIX}.{POLICIES} VALUES (?, ?, ?, ?, ?)",
            [ref.dataset, ref.table, policy.name, policy.filter, json.dumps(list(policy.grantees))],
        )

    def set_policy_tags(self, ref: TableRef, path: str, names: tuple[str, ...]) -> None:
        # Kept as BigQuery's REST field shows them; none: the key is gone, as tables.get leaves it out.
        self._set_column_meta(ref, path.lower(), {"policyTags": {"names": list(names)} if names else None})
