"""Report stage: text and JSON for plans, applies and inspections. Formatting only, no logic."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bqmanage.check.findings import Finding
from bqmanage.errors import LIST_LIMIT
from bqmanage.ledger import LEDGER
from bqmanage.model.schema import Table
from bqmanage.tenants.ids import RULE
from bqmanage.terminal import printable, printable_lines

if TYPE_CHECKING:
    from bqmanage.api import PlanResult
    from bqmanage.plan import Step
    from bqmanage.tenants.commands import TenantListing, TenantReport
    from bqmanage.tenants.reset import ResetReport


def name_list(names: Sequence[str], limit: int = LIST_LIMIT, full: str | None = "--format json lists them all") -> str:
    """At most ``limit`` names for a line of text; 1,800 tenant ids or datasets help nobody.
    ``full`` says where the whole list is, when a command has one."""
    shown = ", ".join(printable(n) for n in names[:limit])  # tenant ids from a registry, dataset names
    rest = len(names) - limit
    return shown if rest <= 0 else f"{shown} and {rest:,} more" + (f" ({full})" if full else "")


def plan_text(planned: PlanResult, target: str, runs_as: str | None = None) -> str:
    """What ``bqmanage plan`` prints: the ledger's latest entry, each step's reason and exact SQL."""
    plan = planned.plan
    lines: list[str] = []
    for entry in planned.ledger:
        when = entry.applied_at.isoformat(timespec="seconds") if hasattr(entry.applied_at, "isoformat") else entry.applied_at
        # A "running" row is a start whose end was never written: a killed run, or one still going.
        outcome = {
            "running": "started, no end recorded (killed, or still running)",
            "interrupted": "interrupted: started, killed before it recorded its end",
        }.get(entry.outcome, entry.outcome)
        # A run that recorded no end recorded no progress either: its count is not "0 done".
        steps = (
            f"{entry.total_steps} step(s) planned, how many ran is not recorded"
            if entry.outcome in ("running", "interrupted")
            else f"{entry.applied_steps}/{entry.total_steps} steps"
        )
        lines.append(  # a ledger row is the warehouse's to say: anyone who can write it could forge a line
            printable(
                f"Last apply on {entry.dataset}: {when} by {entry.principal or 'unknown'}, "
                f"{outcome} ({steps}), definitions {entry.definitions_digest}"
            )
        )
    if not planned.ledger:
        lines.append(f"No earlier apply recorded (no {LEDGER} ledger yet).")
    for name in planned.resumed:
        lines.append(f"Resuming the unfinished backfill of {name} from an interrupted apply.")
    if plan.has_refused:
        from bqmanage.plan import refusals_text

        lines.append(refusals_text(plan))
    if not plan.steps:
        if not plan.has_refused:
            lines.append(f"No changes: target {target} matches the definitions.")
        return "\n".join(lines)
    lines.append(f"{len(plan.steps)} step(s) to bring target {target} to the definitions:")
    estimates = planned.estimates or [None] * len(plan.steps)
    for i, (step, estimate) in enumerate(zip(plan.steps, estimates, strict=False), 1):
        lines.append("")
        # A description or default in the SQL is the definition's: control characters shown escaped,
        # as GoogleSQL reads them too (string_literal already escapes line breaks).
        lines.append(printable(f"-- [{i}] {step.kind}: {step.reason}"))
        if estimate is not None:
            lines.append(f"-- estimated bytes billed: {estimate:,} ({_estimated_by(step)})")
        lines.append(printable_lines(step.text()))
    if known := [e for e in estimates if e is not None]:
        lines.append("")
        lines.append(f"-- estimated bytes billed in all: {sum(known):,}")
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


def _estimated_by(step: Step) -> str:
    """Where a step's estimate comes from: a dry run, or for one job of a backfill cut by
    partitions, the size of its partitions (what an UPDATE of them bills)."""
    from bqmanage.changes import Backfill  # only where a plan is printed: audit-code never loads the kinds

    change = step.changes[0] if step.changes else None
    return "size of its partitions" if isinstance(change, Backfill) and change.part is not None else "dry run"


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
        out.append(printable(f"{table.dataset}.{table.name}" + (f"  ({'; '.join(extras)})" if extras else "")))
        width = max(len(c.name) for c in table.columns) if table.columns else 0
        for column in table.columns:
            flags = "NOT NULL" if column.mode == "REQUIRED" else ""
            default = f"DEFAULT {column.default}" if column.default else ""
            out.append(printable(f"  {column.name.ljust(width)}  {column.type_sql():<16} {flags:<8} {default}".rstrip()))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def code_finding_line(f: Finding) -> str:
    """A finding in a source file, as compilers print one (editors jump to it), the same under
    ``audit-code`` and ``check --code``. What has no line (a file that could not be read) is
    located at its path alone."""
    where = f"{f.path}:{f.line}:{f.col}" if f.line is not None else str(f.path)
    # A file name and a quoted reference are the audited tree's: one line each.
    return printable(f"{where}: {f.severity} {f.kind}: {f.message}")


def findings_text(findings: list[Finding], target: str) -> str:
    """A readable table of the warehouse's findings, grouped by dataset and table, then the code
    findings of ``check --code``, one line each."""
    if not findings:
        return f"Clean: target {target} matches the definitions; no legacy names found.\n"
    groups: dict[str, list[Finding]] = {}
    in_code = [f for f in findings if f.path]
    for finding in findings:
        if not finding.path:
            groups.setdefault(f"{finding.dataset}.{finding.table}" if finding.table else str(finding.dataset), []).append(finding)
    width = max((len(f.kind) for f in findings if not f.path), default=0)
    out = []
    for name in sorted(groups):
        out.append(printable(name))  # a live table's name: the warehouse's to choose
        # The message quotes live and defined values (descriptions, defaults): one line each.
        out += [f"  {f.severity:<8} {f.kind:<{width}}  {printable(f.message)}" for f in groups[name]]
        out.append("")
    if in_code:
        out += [code_finding_line(f) for f in in_code]
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


def invalid_tenants_text(report: ResetReport) -> str:
    """Why a reset exits 2 when the registry lists ids that check and apply --all-tenants refuse."""
    skipped = "would skip" if report.dry_run else "skipped"
    return (
        f"{report.registry} lists {len(report.invalid_tenants)} active tenant id(s) that break the tenant-id rule: "
        f"{name_list(report.invalid_tenants)}; the reset {skipped} them ({RULE}). Fix or remove those rows."
    )


def registry_duplicates_text(report: ResetReport) -> str:
    """Why a reset that did its work still exits 2: the registry lists tenants more than once."""
    done = "would run" if report.dry_run else "ran"
    return (
        f"{report.registry} lists {len(report.registry_duplicates)} active tenant(s) more than once: "
        f"{name_list(report.registry_duplicates)}; the reset {done} once for each, with the lowest of "
        "their copies' defaults. Remove the extra rows from the registry."
    )


def _values(values: dict[str, object]) -> str:
    # NULL as SQL says it: "tenant_name None" read like a name.
    return ", ".join(f"{k} {v!r}" if isinstance(v, str) else f"{k} {'NULL' if v is None else v}" for k, v in values.items())


_ROW_SOURCE = {
    "registry": "with the registry's values (no earlier row)",
    "latest row": "carried from its latest row",
    "older row": "carried from its latest row, older than the lookback window",
}


def tenant_text(report: TenantReport) -> str:
    """What ``tenant add|suspend|resume|set-limits`` print: what changed, or that nothing did."""
    who, verb = f"tenant {report.tenant}", report.operation.removeprefix("tenant_")
    if not report.changed and not report.registered_by_another:
        state = "has its row for today" if report.quota_row == "unchanged" else "has no row for today"
        if verb == "add":
            hint = f" (`bqmanage tenant resume {report.tenant}` makes it active)" if report.status == "suspended" else ""
            return f"Nothing to do: {who} is already in {report.registry} ({report.status}) with these values, and {state}{hint}."
        if verb == "set_limits":
            return f"Nothing to do: {who} already has these limits in {report.registry}."
        return f"Nothing to do: {who} is already {report.status}" + (f", and {state}." if verb == "resume" else ".")
    lines = []
    changes = printable(", ".join(f"{k} {before} -> {after}" for k, (before, after) in report.changes.items()))
    if report.registered:
        lines.append(f"Added {who} to {report.registry} ({report.status}): {_values(report.values)}.")
    elif report.registered_by_another:
        lines.append(
            f"Another add of {who} registered it in {report.registry} at the same time ({report.status}); its values "
            f"stand: {_values(report.values)} (`bqmanage tenant set-limits {report.tenant}` changes them)."
        )
    elif verb == "suspend" and report.changes:
        lines.append(f"Suspended {who}: resets give it no row from now on; its rows so far are kept.")
    elif verb == "resume" and report.changes:
        lines.append(f"Resumed {who} ({report.status}).")
    elif report.changes:
        lines.append(f"Updated {who} in {report.registry}: {changes}.")
    if report.status_by_another:
        other = "resume" if report.status_by_another == "suspended" else "suspend"
        lines.append(
            f"Another tenant command made {who} {report.status_by_another} meanwhile; its access follows that status "
            f"(`bqmanage tenant {other} {report.tenant}` changes it)."
        )
    lines += [f"From the dataset templates: {step}." for step in report.datasets]
    lines += [_members_line(table, before, after) for table, (before, after) in report.members.items()]
    updates = _values(report.row_updates)
    if report.quota_row == "created":
        then = f"; then set {updates}" if updates else ""
        lines.append(f"Created its row for today in {report.quota_table}, {_ROW_SOURCE[report.row_source or 'registry']}{then}.")
    elif report.quota_row == "updated":
        lines.append(f"Updated its row for today in {report.quota_table}: {updates}.")
    elif report.quota_row == "unchanged" and verb == "resume":
        lines.append(f"Its row for today in {report.quota_table} was already there.")
    elif report.quota_row == "none" and verb != "suspend":
        lines.append(f"No row for today in {report.quota_table}: the tenant is {report.status}, and only active tenants get one.")
    return "\n".join(lines)


def _members_line(table: str, before: list[str], after: list[str]) -> str:
    """The row access mapping rows a tenant command wrote or deleted (members are the registry's)."""
    if after:
        return printable(f"Row access: {', '.join(sorted(set(after) - set(before)))} may read its rows ({table}).")
    return printable(f"Row access revoked: {', '.join(before)} can no longer read its rows ({table}).")


def _status(status: object) -> str:
    """A registry status as written: a plain lower-case word as it is, anything else quoted and
    escaped ('active ' is not active, and must not look it)."""
    import re

    return status if isinstance(status, str) and re.fullmatch(r"[a-z][a-z0-9_]*", status) else repr(status)


def tenants_text(listing: TenantListing) -> str:
    """What ``tenant list`` prints: one line per tenant, today's usage against its limits."""
    limits = list(listing.tenants[0].limits) if listing.tenants else []
    header = ["tenant", "status", *(k.removesuffix("_limit") for k in limits), "name"]
    table = [header]
    for t in listing.tenants:
        usage = [
            f"{t.today[k]['used']}/{t.today[k]['limit']}" if t.today and k in t.today else f"-/{t.limits[k]}" for k in limits
        ]
        # Every cell is the registry's: a name with a line break would forge a row.
        table.append([printable(cell) for cell in (t.tenant, _status(t.status), *usage, t.name or "")])
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table]
    statuses: dict[str, int] = {}
    for t in listing.tenants:
        statuses[t.status] = statuses.get(t.status, 0) + 1
    counts = ", ".join(f"{n} {printable(_status(s))}" for s, n in sorted(statuses.items(), key=lambda c: repr(c[0])))
    lines.append(
        f"{len(listing.tenants)} tenant(s) in {listing.registry}" + (f": {counts}" if counts else "") + ". "
        f"Usage today from {listing.quota_table} (used/limit; '-': no row today)."
    )
    return "\n".join(lines)
