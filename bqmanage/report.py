"""Report stage: text and JSON for plans, applies and inspections. Formatting only, no logic."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bqmanage.findings import Finding
from bqmanage.model import Table
from bqmanage.names import LEDGER

if TYPE_CHECKING:
    from bqmanage.api import PlanResult, ResetReport
    from bqmanage.plan import Plan


# Text output names at most this many items of a list; JSON output always carries all of them.
LIST_LIMIT = 20


def name_list(names: Sequence[str], limit: int = LIST_LIMIT, full: str | None = "--format json lists them all") -> str:
    """At most ``limit`` names for a line of text; 1,800 tenant ids or datasets help nobody.
    ``full`` says where the whole list is, when a command has one."""
    shown = ", ".join(names[:limit])
    rest = len(names) - limit
    return shown if rest <= 0 else f"{shown} and {rest:,} more" + (f" ({full})" if full else "")


def capped(lines: list[str], limit: int = LIST_LIMIT) -> list[str]:
    """The first ``limit`` lines of a long listing, then one line saying how many were left out."""
    if len(lines) <= limit:
        return lines
    return [*lines[:limit], f"  ... and {len(lines) - limit} more"]


def refusals_text(plan: Plan) -> str:
    lines = [f"Refused: {len(plan.refused)} change(s) BigQuery cannot make in place; nothing was run."]
    for change in plan.refused:
        refusal = change.refusal()
        assert refusal is not None
        lines.append(f"  {refusal.code} {change.target}: {refusal.reason}")
        lines.append(f"        manual path: {refusal.suggestion}")
    return "\n".join(lines)


def plan_text(planned: PlanResult, target: str, runs_as: str | None = None) -> str:
    """What ``bqmanage plan`` prints: the ledger's latest entry, each step's reason and exact SQL."""
    plan = planned.plan
    lines: list[str] = []
    for entry in planned.ledger:
        when = entry.applied_at.isoformat(timespec="seconds") if hasattr(entry.applied_at, "isoformat") else entry.applied_at
        lines.append(
            f"Last apply on {entry.dataset}: {when} by {entry.principal or 'unknown'}, "
            f"{entry.outcome} ({entry.applied_steps}/{entry.total_steps} steps), definitions {entry.definitions_digest}"
        )
    if not planned.ledger:
        lines.append(f"No earlier apply recorded (no {LEDGER} ledger yet).")
    for name in planned.resumed:
        lines.append(f"Resuming the unfinished backfill of {name} from an interrupted apply.")
    if plan.has_refused:
        lines.append(refusals_text(plan))
    if not plan.steps:
        if not plan.has_refused:
            lines.append(f"No changes: target {target} matches the definitions.")
        return "\n".join(lines)
    lines.append(f"{len(plan.steps)} step(s) to bring target {target} to the definitions:")
    for i, step in enumerate(plan.steps, 1):
        lines.append("")
        lines.append(f"-- [{i}] {step.kind}: {step.reason}")
        lines.append(step.text())
    datasets = sorted({s.dataset for s in plan.steps})
    if runs_as:
        lines.append("")
        lines.append(f"-- These are the BigQuery statements; on target {target}, {runs_as}.")
    lines.append("")
    lines.append(
        f"-- bookkeeping: each run is recorded in {name_list([f'{d}.{LEDGER}' for d in datasets], full=None)} "
        "(CREATE TABLE IF NOT EXISTS on first use, then one INSERT at the start and one at the end)."
    )
    return "\n".join(lines)


def tables_text(tables: list[Table]) -> str:
    """A readable listing of live tables and their columns (``bqmanage inspect``)."""
    if not tables:
        return "No tables."
    out: list[str] = []
    for table in tables:
        extras = []
        if table.partitioning:
            extras.append(f"partitioned by {table.partitioning.column or '_PARTITIONTIME'}")
        if table.clustering:
            extras.append(f"clustered by {', '.join(table.clustering)}")
        out.append(f"{table.dataset}.{table.name}" + (f"  ({'; '.join(extras)})" if extras else ""))
        width = max(len(c.name) for c in table.columns) if table.columns else 0
        for column in table.columns:
            flags = "NOT NULL" if column.mode == "REQUIRED" else ""
            default = f"DEFAULT {column.default}" if column.default else ""
            out.append(f"  {column.name.ljust(width)}  {column.type_sql():<16} {flags:<8} {default}".rstrip())
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def findings_text(findings: list[Finding], target: str) -> str:
    """A readable table of findings, grouped by dataset and table."""
    if not findings:
        return f"Clean: target {target} matches the definitions; no legacy names found.\n"
    groups: dict[str, list[Finding]] = {}
    for finding in findings:  # code findings (check --code) are grouped by their file
        key = finding.path or (f"{finding.dataset}.{finding.table}" if finding.table else str(finding.dataset))
        groups.setdefault(key, []).append(finding)
    width = max(len(f.kind) for f in findings)
    out = []
    for name in sorted(groups):
        out.append(name)
        for f in groups[name]:
            where = f"{f.line}:{f.col}: " if f.path else ""
            out.append(f"  {f.severity:<8} {f.kind:<{width}}  {where}{f.message}")
        out.append("")
    errors = sum(1 for f in findings if f.severity == "error")
    out.append(f"{len(findings)} finding(s) on target {target}: {errors} error(s), {len(findings) - errors} warning(s).")
    return "\n".join(out) + "\n"


def findings_json(findings: list[Finding]) -> dict[str, object]:
    return {"clean": not findings, "findings": [f.to_json() for f in findings]}


def reset_text(report: ResetReport) -> str:
    """What ``bqmanage reset`` prints on stdout."""
    verb = "would get" if report.dry_run else "got"
    lines = [
        (
            f"{'Dry run: ' if report.dry_run else ''}reset {report.table} for {report.run_date} ({report.strategy}): "
            f"{report.active_tenants} active tenant(s); {report.new_rows} {verb} a new row, "
            f"{report.already_current} already current."
        )
    ]
    if report.without_history:
        lines.append(f"No earlier row, so registry defaults: {name_list(report.without_history)}")
    if report.carried_from_older:
        lines.append(f"Latest row older than the lookback window, carried from it: {name_list(report.carried_from_older)}")
    if report.bytes_estimate is not None:
        lines.append(f"BigQuery estimates the MERGE scans {report.bytes_estimate:,} bytes.")
    return "\n".join(lines) + "\n"


def registry_duplicates_text(report: ResetReport) -> str:
    """Why a reset that did its work still exits 2: the registry lists tenants more than once."""
    done = "would run" if report.dry_run else "ran"
    return (
        f"{report.registry} lists {len(report.registry_duplicates)} active tenant(s) more than once: "
        f"{name_list(report.registry_duplicates)}; the reset {done} once for each, with the lowest of "
        "their copies' defaults. Remove the extra rows from the registry."
    )
