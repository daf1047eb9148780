"""Findings: what ``check`` reports. Built from the same typed changes ``apply`` plans, so a
finding says what apply would do about it, or why it cannot."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

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
from bqmanage.model import Definitions

KINDS = (
    "missing_dataset", "missing_table", "missing_column", "extra_column", "type_mismatch", "mode_mismatch",
    "default_mismatch", "description_mismatch", "partitioning_mismatch", "clustering_mismatch",
    "option_mismatch", "legacy_dataset", "legacy_table", "legacy_reference", "unknown_table_reference",
    "unknown_column_reference", "sql_type_error",
)
SEVERITY = {
    "missing_dataset": "error", "missing_table": "error", "missing_column": "error", "type_mismatch": "error",
    "mode_mismatch": "error", "partitioning_mismatch": "error", "default_mismatch": "error",
    "extra_column": "warning", "description_mismatch": "warning", "clustering_mismatch": "warning",
    "option_mismatch": "warning", "legacy_dataset": "warning", "legacy_table": "warning",
    "legacy_reference": "warning", "unknown_table_reference": "error", "unknown_column_reference": "error",
    "sql_type_error": "error",
}


@dataclass(frozen=True)
class Finding:
    kind: str
    severity: str
    message: str
    dataset: str | None = None
    table: str | None = None
    column: str | None = None
    expected: Any = None
    actual: Any = None
    # Where the definition is, for SARIF and for people: "schemas/tenants/x.yaml" and its line.
    definition: str | None = None
    definition_line: int | None = None
    # Legacy findings: the current name, and what a person needs to decide if it is still used.
    replacement: str | None = None
    row_count: int | None = None
    last_modified: str | None = None
    # Code findings (audit-code): where in a source file, 1-based. In JSON, ``column`` is
    # ``col`` (design §4); the referenced name as written is ``actual``, a suggestion ``expected``.
    path: str | None = None
    line: int | None = None
    col: int | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.path is not None:
            data["column"] = data.pop("col")
            return {k: v for k, v in data.items() if v is not None or k == "replacement"}
        del data["col"]
        return {k: v for k, v in data.items() if v is not None or k in ("dataset", "table", "column", "expected", "actual")}


def _apply_would(change: Change, what: str) -> str:
    refusal = change.refusal()
    if refusal is not None:
        return f"apply cannot fix this ({refusal.code}): {refusal.reason}; manual path: {refusal.suggestion}"
    return f"apply {what}"


def findings_from_changes(changes: list[Change], desired: Definitions) -> list[Finding]:
    """One finding per drift; table options become one finding per option."""
    out: list[Finding] = []
    for change in changes:
        table = desired.table(change.dataset, change.table) if change.table else None
        where = {"dataset": change.dataset, "table": change.table,
                 "definition": table.source if table else None, "definition_line": table.line if table else None}
        column = getattr(change, "column", None)
        if column is not None and getattr(column, "line", None):
            where["definition_line"] = column.line
        col_name = getattr(change, "path", "") or (column.name if column is not None else None)
        kind, expected, actual, what = _classify(change)
        if kind == "option_mismatch":
            for name, want, have in change.options:  # type: ignore[attr-defined]
                option_kind = "description_mismatch" if name == "description" else "option_mismatch"
                out.append(Finding(option_kind, SEVERITY[option_kind],
                                   f"{change.target}: {name} is {have!r}, expected {want!r}; " + _apply_would(change, f"sets it ({'ALTER SCHEMA' if change.table is None else 'ALTER TABLE'} SET OPTIONS)"),
                                   column=name if option_kind == "option_mismatch" else None, expected=want, actual=have, **where))
            continue
        message = f"{change.target}{'.' + col_name if col_name and kind not in ('missing_dataset', 'missing_table') else ''}: {_text(kind, expected, actual)}; {_apply_would(change, what)}"
        out.append(Finding(kind, SEVERITY[kind], message, column=col_name if kind not in ("missing_dataset", "missing_table") else None,
                           expected=expected, actual=actual, **where))
    return out


def _classify(change: Change) -> tuple[str, Any, Any, str]:
    col = getattr(change, "column", None)
    live = getattr(change, "actual", None)
    if isinstance(change, CreateDataset):
        return "missing_dataset", change.dataset, None, "creates it (CREATE SCHEMA IF NOT EXISTS)"
    if isinstance(change, CreateTable):
        return "missing_table", change.target, None, "creates it (CREATE TABLE IF NOT EXISTS)"
    if isinstance(change, (AddColumn, AddField)):
        extra = f", sets its default {col.default} and backfills existing rows" if col.default is not None and isinstance(change, AddColumn) else ""
        how = "ALTER TABLE ADD COLUMN IF NOT EXISTS" if isinstance(change, AddColumn) else "tables.patch"
        return "missing_column", col.type_sql(), None, f"adds it ({how}){extra}"
    if isinstance(change, DropColumn):
        return "extra_column", None, col.type_sql(), ""
    if isinstance(change, (WidenType, ChangeType)):
        return "type_mismatch", col.type_sql(), live.type_sql() if live else None, "widens it (ALTER COLUMN SET DATA TYPE)"
    if isinstance(change, (RelaxColumn, ChangeMode)):
        return "mode_mismatch", col.mode, live.mode if live else None, "relaxes it (ALTER COLUMN DROP NOT NULL)"
    if isinstance(change, (SetDefault, DropDefault)):
        return "default_mismatch", col.default, live.default if live else None, (
            "sets it (ALTER COLUMN SET DEFAULT); existing rows keep their values" if isinstance(change, SetDefault) else "drops it (ALTER COLUMN DROP DEFAULT)")
    if isinstance(change, SetColumnDescription):
        return "description_mismatch", col.description, live.description if live else None, "sets it (ALTER COLUMN SET OPTIONS)"
    if isinstance(change, ChangePartitioning):
        return "partitioning_mismatch", change.desired_spec, change.actual_spec, ""
    if isinstance(change, SetClustering):
        return "clustering_mismatch", list(change.desired_fields), list(change.actual_fields), "sets it (tables.patch clustering)"
    if isinstance(change, (SetTableOptions, SetDatasetOptions)):
        return "option_mismatch", None, None, ""
    raise TypeError(f"unsupported change {type(change).__name__}")


def _text(kind: str, expected: Any, actual: Any) -> str:
    if kind == "missing_dataset":
        return "dataset is missing"
    if kind == "missing_table":
        return "table is missing"
    if kind == "missing_column":
        return f"column is missing (expected {expected})"
    if kind == "extra_column":
        return f"column {actual} is live but not defined"
    label = kind.replace("_mismatch", "")
    return f"{label} is {actual if actual is not None else 'none'}, expected {expected if expected is not None else 'none'}"
