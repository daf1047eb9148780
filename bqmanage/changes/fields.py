"""Adding a field inside a live STRUCT column. DDL cannot; the ``tables.patch`` API can, given the
table's whole schema with the field added. (A field's description is in ``patch``.)"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from bqmanage.changes.base import Change, ColumnAt, ColumnChange, Drift, LocalTarget, Refusal, Rendered, TablePatch
from bqmanage.model.rest import column_to_api
from bqmanage.model.schema import Column


def schema_field(table: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The REST field at a dotted path of a Table resource (names are case-insensitive)."""
    fields: list[dict[str, Any]] = (table.get("schema") or {}).get("fields") or []
    found = None
    for name in path.split("."):
        found = next((f for f in fields if f["name"].lower() == name.lower()), None)
        if found is None:
            return None
        fields = found.get("fields") or []
    return found


@dataclass(frozen=True, kw_only=True)
class AddField(ColumnChange, TablePatch):
    """A defined field is not in its live STRUCT column."""

    kind: ClassVar[str] = "add_field"
    order: ClassVar[int] = 40
    per_table: ClassVar[bool] = True

    @classmethod
    def on_column(cls, desired: Column | None, actual: Column | None, at: ColumnAt) -> Iterator[Change]:
        if desired is not None and actual is None and at.is_field:
            yield AddField(dataset=at.dataset, table=at.table, column=desired, path=at.dotted)

    def refusal(self) -> Refusal | None:
        if self.column.mode == "REQUIRED":
            return Refusal(
                "BQM101",
                f"field {self.path} is REQUIRED; BigQuery cannot add a REQUIRED field to an existing record",
                "declare the field NULLABLE",
            )
        return None

    def describe(self) -> str:
        return f"add field {self.path} {self.column.type_sql()} to {self.target}"

    def render(self, project: str | None) -> dict[str, Any]:
        return {"method": "tables.patch", "fields": [self.path]}

    @classmethod
    def render_group(cls, changes: Sequence[Self], project: str | None) -> Rendered:
        paths = [c.path for c in changes]
        return Rendered(
            f"add nested fields {', '.join(paths)} via tables.patch (DDL cannot)", api={"method": "tables.patch", "fields": paths}
        )

    def patch(self, table: dict[str, Any]) -> str:
        # tables.patch must keep every existing field; a new one goes at the end of its record.
        parent, _, _ = self.path.rpartition(".")
        record = schema_field(table, parent)
        if record is not None:
            children = record.setdefault("fields", [])
            if all(c["name"].lower() != self.column.key for c in children):
                children.append(column_to_api(self.column))
        return "schema"

    def drifts(self) -> list[Drift]:
        return [
            self.drift(
                "missing_column",
                f"column is missing (expected {self.column.type_sql()})",
                "adds it",
                expected=self.column.type_sql(),
            )
        ]

    def run_local(self, db: LocalTarget) -> None:
        db.add_column(self.ref, self.path, self.column)
