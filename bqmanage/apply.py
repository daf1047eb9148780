"""Apply stage: run a plan's steps through an engine, stop at the first failure, keep a ledger.

Every step is idempotent (IF NOT EXISTS, diff-derived), so a re-run after a failure resumes.
Each apply that changes something records itself in its datasets' ledgers (``ledger``);
an entry that never reached ``succeeded`` hands its unfinished backfill to the next plan.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bqmanage import __version__
from bqmanage.changes import CreateTable
from bqmanage.errors import ApplyError, BqmanageError, DefaultsRejected, StreamingBufferError, capped
from bqmanage.ledger import LEDGER, LedgerEntry, entry_from_row, ledger_insert_sql, ledger_table
from bqmanage.plan import Plan, Step, fallback_steps, step_of

if TYPE_CHECKING:
    from bqmanage.engines import Engine


def latest_entries(engine: Engine, datasets: dict[str, str | None], unfinished_only: bool = False) -> list[LedgerEntry]:
    """The newest ledger row of every live dataset that has a ledger (name -> location), read the
    way the engine reads many at once (Engine.latest_ledger_rows); ``unfinished_only``: only those
    whose outcome is not "succeeded". No ledger, no query.

    A "running" row is a start whose end was never written. Where holding the warehouse proves
    that no other apply runs (Capabilities.one_writer), that run was killed (kill -9, a lost
    machine), and every reader (plan, check, apply, inspect) sees it as "interrupted"; elsewhere
    it may still be running, and says so."""
    rows = engine.latest_ledger_rows(datasets, unfinished_only=unfinished_only)
    entries = [entry_from_row(dataset, row) for dataset, row in sorted(rows.items())]
    if engine.capabilities.one_writer:
        for entry in entries:
            if entry.outcome == "running":
                entry.outcome = "interrupted"
    return entries


@dataclass
class ApplyResult:
    executed: list[Step] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)


class _Pacer:
    """Stay under BigQuery's per-table metadata update rate instead of tripping it."""

    def __init__(self, per_10s: int | None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.per_10s = per_10s
        self.sleep = sleep
        self.history: dict[str, deque[float]] = {}

    def wait(self, step: Step) -> None:
        if not self.per_10s or not step.is_metadata or not step.table:
            return
        recent = self.history.setdefault(f"{step.dataset}.{step.table}", deque())
        now = time.monotonic()
        while recent and now - recent[0] >= 10:
            recent.popleft()
        if len(recent) >= self.per_10s:
            self.sleep(10 - (now - recent[0]) + 0.05)
            recent.popleft()
        recent.append(time.monotonic())


def apply_plan(
    engine: Engine, plan: Plan, digest: str, on_step: Callable[[int, int, Step], None] | None = None, project: str | None = None
) -> ApplyResult:
    """Run every step in order; on failure raise ApplyError naming what ran and what did not."""
    result = ApplyResult()
    if not plan.steps:
        return result
    run_id = uuid.uuid4().hex
    principal = engine.principal()
    pacer = _Pacer(engine.capabilities.metadata_updates_per_10s)
    statements = [s.text() for s in plan.steps]
    started: set[str] = set()
    finished: set[str] = set()
    total = len(plan.steps)
    # Each dataset's ledger counts its own steps, and records its end as soon as its last step is
    # done: a run killed later, in another dataset, leaves this one's ledger true (not "running").
    mine = {d: sum(1 for s in plan.steps if s.dataset == d) for d in {s.dataset for s in plan.steps}}
    last = {s.dataset: i for i, s in enumerate(plan.steps)}
    done = dict.fromkeys(mine, 0)
    for index, step in enumerate(plan.steps):
        try:
            if step.kind != "create_dataset" and step.dataset not in started:
                _ledger_start(engine, step.dataset, run_id, principal, digest, statements, plan, mine[step.dataset], project)
                started.add(step.dataset)
            if on_step:
                on_step(index, total, step)
            pacer.wait(step)
            _execute(engine, step, pacer, project, functools.partial(_announce, on_step, index, total))
        except (BqmanageError, KeyboardInterrupt) as exc:
            # Ctrl-C or SIGTERM is a failure too: the ledger must say this run stopped, so that the
            # next plan resumes its backfill; then the interrupt goes on to the CLI (exit 130).
            reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else str(exc)
            for dataset in started - finished:
                _ledger_write(
                    engine,
                    dataset,
                    run_id,
                    principal,
                    digest,
                    "failed",
                    done[dataset],
                    mine[dataset],
                    statements,
                    plan,
                    reason,
                    quiet=True,
                )
            if isinstance(exc, KeyboardInterrupt):
                raise
            if isinstance(exc, StreamingBufferError):  # one line: the cause is known, the cure is to wait
                raise ApplyError(f"{step.dataset}.{step.table or ''}: {step.kind} not run: {exc}") from None
            ran = "\n".join(capped([f"  done     {s.kind} {s.dataset}.{s.table or ''}" for s in result.executed]))
            left = "\n".join(capped([f"  not run  {s.kind} {s.dataset}.{s.table or ''}" for s in plan.steps[index:]]))
            raise ApplyError(
                f"{step.dataset}.{step.table or ''}: step {index + 1} of {total} ({step.kind}) failed: {exc}\n"
                f"{ran}\n{left}\nRe-run `bqmanage apply` to resume: every step is idempotent.".replace("\n\n", "\n")
            ) from None
        result.executed.append(step)
        done[step.dataset] += 1
        if last[step.dataset] == index and step.dataset in started:
            _ledger_write(
                engine,
                step.dataset,
                run_id,
                principal,
                digest,
                "succeeded",
                done[step.dataset],
                mine[step.dataset],
                statements,
                plan,
                None,
            )
            finished.add(step.dataset)
    result.datasets = sorted(started)
    return result


def _announce(on_step: Callable[[int, int, Step], None] | None, index: int, total: int, step: Step) -> None:
    if on_step:
        on_step(index, total, step)


def _execute(engine: Engine, step: Step, pacer: _Pacer, project: str | None, on_fallback: Callable[[Step], None]) -> None:
    """Run one step. A ``patch_columns`` step whose defaults BigQuery rejects through the API is
    made again with DDL for them (plan.fallback_steps): each fallback step is announced through
    ``on_fallback`` (the CLI prints its reason), paced like any metadata update."""
    try:
        engine.execute(step)
    except DefaultsRejected:
        for fallback in fallback_steps(step, project):
            on_fallback(fallback)
            pacer.wait(fallback)
            engine.execute(fallback)


def _ledger_start(
    engine: Engine,
    dataset: str,
    run_id: str,
    principal: str,
    digest: str,
    statements: list[str],
    plan: Plan,
    total: int,
    project: str | None,
) -> None:
    if LEDGER not in engine.list_tables(dataset):
        engine.execute(step_of(CreateTable(dataset=dataset, table=LEDGER, desired=ledger_table(dataset)), project))
    _ledger_write(engine, dataset, run_id, principal, digest, "running", 0, total, statements, plan, None)


def _ledger_write(
    engine: Engine,
    dataset: str,
    run_id: str,
    principal: str,
    digest: str,
    outcome: str,
    applied: int,
    total: int,
    statements: list[str],
    plan: Plan,
    error: str | None,
    quiet: bool = False,
) -> None:
    # INSERT only, never UPDATE: inserts never conflict with concurrent DML.
    params = ledger_params(dataset, run_id, principal, digest, outcome, applied, total, statements, plan, error)
    try:
        engine.query(ledger_insert_sql(dataset), params, label="apply")
    except BqmanageError:
        if not quiet:
            raise


def ledger_params(
    dataset: str,
    run_id: str,
    principal: str,
    digest: str,
    outcome: str,
    applied: int,
    total: int,
    statements: list[str],
    plan: Plan,
    error: str | None,
) -> dict[str, Any]:
    """The query parameters of one ledger row (``ledger_insert_sql``)."""
    backfill = [[t, list(c)] for d, t, c in plan.backfill if d == dataset]
    return {
        "run_id": run_id,
        "applied_at": dt.datetime.now(dt.UTC),
        "principal": principal,
        "digest": digest,
        "version": __version__,
        "outcome": outcome,
        "applied": applied,
        "total": total,
        "statements": json.dumps([s for s, st in zip(statements, plan.steps, strict=False) if st.dataset == dataset]),
        "backfill": json.dumps(backfill),
        "error": error,
    }
