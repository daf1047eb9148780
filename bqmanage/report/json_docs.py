"""The ``--format json`` documents of validate, plan, apply, inspect and import: one function per
document, each a plain dict that deployment/schemas/<command>.schema.json describes, and ``compact``,
which writes one as a single line (a collector that splits output by line keeps it whole).

They serialise the same results the text reports print (api.PlanResult, api.ApplyOutcome, the
live tables, importer.ImportResult); they decide nothing of their own. Values are carried exactly:
the JSON encoder escapes control characters itself.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bqmanage.api import ApplyOutcome, PlanResult
    from bqmanage.importer.live import ImportResult
    from bqmanage.model.schema import Column, Definitions, Table
    from bqmanage.plan import Step
    from bqmanage.tenants.fleet import TenantOutcome
    from bqmanage.tenants.templates import Registry


def compact(document: dict[str, Any]) -> str:
    """``document`` as one line of JSON."""
    return json.dumps(document, separators=(",", ":"), default=str)


def validate_doc(desired: Definitions) -> dict[str, Any]:
    """``validate --format json``: the definitions are valid (invalid ones fail before, on stderr)."""
    return {
        "valid": True,
        "tables": len(desired.tables),
        "datasets": len(desired.all_datasets()),
        "templates": len(desired.templates),
        "template_tables": len(desired.template_tables),
    }


def step_doc(step: Step, estimate: int | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"kind": step.kind, "dataset": step.dataset, "table": step.table, "reason": step.reason}
    if step.sql is not None:
        doc["sql"] = step.sql
    if step.api is not None:
        doc["api"] = step.api
        if step.detail:
            doc["detail"] = list(step.detail)
        if step.fallback:
            doc["fallback_sql"] = list(step.fallback)
    if estimate is not None:
        doc["bytes_estimate"] = estimate
    return doc


def _plan_body(planned: PlanResult) -> dict[str, Any]:
    """One plan's steps, refusals and ledger, for the fixed datasets or one tenant's."""
    refusals = []
    for change in planned.plan.refused:
        refusal = change.refusal()
        assert refusal is not None  # a refused change always says why
        refusals.append(
            {"code": refusal.code, "target": change.target, "reason": refusal.reason, "suggestion": refusal.suggestion}
        )
    estimates = planned.estimates or [None] * len(planned.plan.steps)
    return {
        "steps": [step_doc(s, e) for s, e in zip(planned.plan.steps, estimates, strict=False)],
        "refusals": refusals,
        "resumed": list(planned.resumed),
        "ledger": [
            {
                "dataset": e.dataset,
                "applied_at": e.applied_at.isoformat() if hasattr(e.applied_at, "isoformat") else str(e.applied_at),
                "principal": e.principal,
                "outcome": e.outcome,
                "applied_steps": e.applied_steps,
                "total_steps": e.total_steps,
                "definitions_digest": e.definitions_digest,
            }
            for e in planned.ledger
        ],
    }


def _tenants(outcomes: Sequence[TenantOutcome[Any]], registry: Registry | None, body: Any) -> dict[str, Any] | None:
    """The tenants' part of a document (None when the command ran for no tenants): each tenant's
    ``body`` of its value, or its failure."""
    if not outcomes and registry is None:
        return None
    return {
        "registry": None if registry is None else {"table": registry.table, "missing": registry.missing},
        "outcomes": [
            {"tenant": o.tenant, "status": "ok", **body(o.value)}
            if o.error is None
            else {"tenant": o.tenant, "status": "failed", "exit_code": o.exit_code, "message": str(o.error)}
            for o in outcomes
        ],
    }


def plan_doc(planned: PlanResult, target: str) -> dict[str, Any]:
    """``plan --format json`` (and ``apply --dry-run --format json``'s plan)."""
    return {"target": target, **_plan_body(planned), "tenants": _tenants(planned.tenants, planned.registry, _plan_body)}


def _applied(outcome: ApplyOutcome) -> dict[str, Any]:
    executed = outcome.result.executed if outcome.result else []
    return {
        "status": "applied" if executed else "up_to_date",
        "applied": [step_doc(s) for s in executed],
        "ledgers": list(outcome.result.datasets) if outcome.result else [],
    }


def apply_doc(outcome: ApplyOutcome, target: str, dry_run: bool) -> dict[str, Any]:
    """``apply --format json``: what was applied, or in a dry run what would be (``steps``)."""
    if dry_run:
        plan = plan_doc(outcome.planned, target)
        return {"target": target, "dry_run": True, "status": "dry_run", "applied": [], "ledgers": [], **plan}

    def tenant_body(value: ApplyOutcome) -> dict[str, Any]:
        return _applied(value)

    return {
        "target": target,
        "dry_run": False,
        **_applied(outcome),
        "steps": [step_doc(s) for s in outcome.planned.plan.steps],
        "tenants": _tenants(outcome.tenants, outcome.registry, tenant_body),
    }


def _column(column: Column) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": column.name, "type": column.type_sql(), "mode": column.mode}
    if column.default is not None:
        doc["default"] = column.default
    if column.description is not None:
        doc["description"] = column.description
    if column.fields:
        doc["fields"] = [_column(f) for f in column.fields]
    return doc


def inspect_doc(tables: list[Table]) -> dict[str, Any]:
    """``inspect --format json``: the live tables as the engine reports them."""
    return {
        "tables": [
            {
                "dataset": t.dataset,
                "table": t.name,
                "description": t.description,
                "partitioning": None if t.partitioning is None else t.partitioning.model_dump(exclude_none=True),
                "clustering": list(t.clustering),
                "columns": [_column(c) for c in t.columns],
            }
            for t in tables
        ]
    }


def import_doc(result: ImportResult, written: Sequence[Any]) -> dict[str, Any]:
    """``import --format json``: the files written (``written``, what Staged.commit returned),
    those that already matched, and what was skipped or noted."""
    return {
        "target": result.target,
        "out": result.staged.out.as_posix(),
        "datasets": list(result.datasets),
        "tables": result.tables,
        "written": [f.path.as_posix() for f in written if f.old is None],
        "replaced": [f.path.as_posix() for f in written if f.old is not None],
        "unchanged": [f.path.as_posix() for f in result.staged.files if f.status == "unchanged"],
        "skipped": list(result.skipped),
        "notes": [*result.notes, *result.template_report],
    }
