"""The local engine's dataset access lists, in a side table of their own.

DuckDB has no grants; the table keeps each dataset's access list as BigQuery would (one row per
entry, ``role`` empty for an authorized view or dataset), so that plan, apply and check run end to
end and a test can add or remove a grant "by hand" with one INSERT or DELETE. A dataset without
rows has an empty list: the local catalog is exact, never "not read".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bqmanage.engines.duck_query import DuckResult
from bqmanage.model.access import AccessEntry, entry_to_api
from bqmanage.model.names import RESERVED_PREFIX

META = RESERVED_PREFIX  # the side schema (engines/duck_catalog.py)
Rows = Callable[[str, list[Any] | None], list[tuple[Any, ...]]]
ACCESS_TABLE = f"{META}.dataset_access"
ACCESS_DDL = (
    f"CREATE TABLE IF NOT EXISTS {ACCESS_TABLE} "
    "(dataset VARCHAR, role VARCHAR, member VARCHAR, PRIMARY KEY (dataset, role, member))"
)


def read_access(rows: Rows, exists: bool) -> dict[str, list[dict[str, Any]]]:
    """Every dataset's access entries, as the REST ``access`` list (datasets without any: absent).
    ``exists``: whether the table is there (the catalog's names say, without another read)."""
    if not exists:
        return {}
    out: dict[str, list[dict[str, Any]]] = {}
    for dataset, role, member in rows(f"SELECT dataset, role, member FROM {ACCESS_TABLE} ORDER BY 1, 2, 3", None):
        out.setdefault(dataset, []).append(entry_to_api(AccessEntry(role=role or None, member=member)))
    return out


class DuckAccess:
    """LocalEngine's ``set_access`` (changes.LocalTarget), over its ``_x``."""

    def _x(self, sql: str, params: Any = None) -> DuckResult:
        raise NotImplementedError  # LocalEngine's

    def set_access(self, dataset: str, grant: tuple[AccessEntry, ...], revoke: tuple[AccessEntry, ...]) -> None:
        # Runs inside the step's transaction (LocalEngine.execute): all of it or none.
        self._x(ACCESS_DDL)
        for entry in revoke:
            self._x(
                f"DELETE FROM {ACCESS_TABLE} WHERE dataset = ? AND role = ? AND lower(member) = lower(?)",
                [dataset, entry.role or "", entry.member],
            )
        for entry in grant:
            self._x(f"INSERT OR IGNORE INTO {ACCESS_TABLE} VALUES (?, ?, ?)", [dataset, entry.role or "", entry.member])
