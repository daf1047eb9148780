"""Findings: what ``check`` reports. Built from the same typed changes ``apply`` plans (each kind
states its drifts), so a finding says what apply would do about it, or why it cannot.

``FINDING_KINDS`` and ``SEVERITY`` are the documented JSON vocabulary (deployment/findings.schema.json):
scripts depend on it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only check's path needs the changes; audit-code's start-up does without them
    from bqmanage.changes import Change, Drift
    from bqmanage.model.schema import Definitions

FINDING_KINDS = (
    "missing_dataset",
    "missing_table",
    "missing_column",
    "extra_column",
    "extra_table",
    "type_mismatch",
    "mode_mismatch",
    "default_mismatch",
    "description_mismatch",
    "partitioning_mismatch",
    "clustering_mismatch",
    "option_mismatch",
    "legacy_dataset",
    "legacy_table",
    "legacy_reference",
    "unknown_table_reference",
    "unknown_column_reference",
    "sql_type_error",
    "orphan_dataset",
    "pending_backfill",
    "unreadable_path",
    "skipped_link",
    "location_mismatch",
    "row_access_policy_missing",
    "row_access_policy_differs",
    "policy_tags_differ",
    "isolation_leak",
    "missing_grant",
    "unexpected_grant",
    "registry_row_invalid",
)
SEVERITY = {
    # Isolation is security: a policy missing or altered, a tag removed, or a tenant reading
    # another's rows is an error, whatever else still works.
    "row_access_policy_missing": "error",
    "row_access_policy_differs": "error",
    "policy_tags_differ": "error",
    "isolation_leak": "error",
    "missing_dataset": "error",
    "missing_table": "error",
    "missing_column": "error",
    "type_mismatch": "error",
    "mode_mismatch": "error",
    "partitioning_mismatch": "error",
    "default_mismatch": "error",
    "extra_column": "warning",
    # Another tool's table, or one made by hand: nothing breaks, but nothing checks it either.
    "extra_table": "warning",
    "description_mismatch": "warning",
    "clustering_mismatch": "warning",
    "option_mismatch": "warning",
    "legacy_dataset": "warning",
    "legacy_table": "warning",
    "legacy_reference": "warning",
    "unknown_table_reference": "error",
    "unknown_column_reference": "error",
    "sql_type_error": "error",
    # A tenant's dataset left behind: nothing breaks, but its data outlives the tenant.
    "orphan_dataset": "warning",
    # An apply stopped before its backfill finished: rows still hold NULL where the definition
    # gives a default; the next apply finishes it.
    "pending_backfill": "error",
    # audit-code could not read a file or directory: what it holds was not audited.
    "unreadable_path": "error",
    # A link inside an audited directory that leads out of it: not followed, so not audited.
    "skipped_link": "warning",
    # Its jobs run in the live location; data and queries are not where they were meant to be.
    "location_mismatch": "error",
    # Somebody who should read a dataset cannot (a tenant's readers, after a grant was removed).
    "missing_grant": "error",
    # Somebody not declared can read or write a dataset: a grant made by hand, or by another tool.
    "unexpected_grant": "error",
    # A registry row --all-tenants cannot take as written (a status 'active ', a tenant listed twice):
    # that tenant would be skipped, or covered once, without a word.
    "registry_row_invalid": "error",
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
    # check --tenant/--all-tenants: the tenant whose templated dataset drifted.
    tenant: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in _FIELD_NAMES}
        if not all(v is None or isinstance(v, (str, int, float)) for v in data.values()):
            data = asdict(self)  # a nested value (a partitioning): copied as plain data
        if self.path is not None:
            data["column"] = data.pop("col")
            return {k: v for k, v in data.items() if v is not None or k == "replacement"}
        del data["col"]
        return {k: v for k, v in data.items() if v is not None or k in ("dataset", "table", "column", "expected", "actual")}


_FIELD_NAMES = tuple(f.name for f in fields(Finding))  # asdict deep-copies: 25,000 code findings took seconds


def findings_from_changes(changes: list[Change], desired: Definitions) -> list[Finding]:
    """What ``check`` reports: every drift each change states, located at its definition."""
    out: list[Finding] = []
    for change in changes:
        table = desired.table(change.dataset, change.table) if change.table else None
        for drift in change.drifts():
            # A dataset's own finding with a line (an access entry) points at its _dataset.yaml.
            source = table.source if table else _dataset_source(desired, change.dataset) if drift.line else None
            out.append(
                Finding(
                    drift.kind,
                    SEVERITY[drift.kind],
                    f"{drift.subject}: {drift.problem}; {_apply_would(change, drift)}",
                    dataset=change.dataset,
                    table=change.table,
                    column=drift.column,
                    expected=drift.expected,
                    actual=drift.actual,
                    definition=source,
                    definition_line=drift.line or (table.line if table else None),
                )
            )
    return out


def _dataset_source(desired: Definitions, name: str) -> str | None:
    return next((d.source for d in desired.datasets if d.name == name), None)


def _apply_would(change: Change, drift: Drift) -> str:
    """What apply does about a drift, in words, and the steps it runs: the same names ``plan``
    prints, so that check never describes SQL that render does not produce."""
    from bqmanage.changes import Backfill

    if change.report_only:
        return f"apply {drift.fix}"
    refusal = change.refusal()
    if refusal is not None:
        return f"apply cannot fix this ({refusal.code}): {refusal.reason}; manual path: {refusal.suggestion}"
    steps = [_step_name(change), *(_step_name(f) for f in change.follow_ups()), *([Backfill.kind] if change.backfills() else [])]
    return f"apply {drift.fix} ({'steps' if len(steps) > 1 else 'step'}: {', '.join(steps)})"


def _step_name(change: Change) -> str:
    """The step a change runs in, as ``plan`` names it (several kinds share ``patch_columns``)."""
    return type(change).step_kind or change.kind
