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
from bqmanage.changes import Backfill, CreateTable
from bqmanage.changes.partitions import UNPARTITIONED, slices
from bqmanage.errors import ApplyError, BqmanageError, DefaultsRejected, StreamingBufferError, capped
from bqmanage.ledger import LEDGER, LedgerEntry, entry_from_row, ledger_insert_sql, ledger_table
from bqmanage.plan import Plan, Step, cut_backfill, fallback_steps, step_of
from bqmanage.terminal import printable

if TYPE_CHECKING:
    from bqmanage.engines import Engine
    from bqmanage.model.schema import Warehouse


def latest_entries(
    engine: Engine, datasets: dict[str, str | None], listed: frozenset[str] = frozenset(), unfinished_only: bool = False
) -> list[LedgerEntry]:
    """The newest ledger row of every live dataset that has a ledger (name -> location), read the
    way the engine reads many at once (Engine.latest_ledger_rows; ``listed``: known to have one;
    ``unfinished_only``: only those whose outcome is not "succeeded"). No ledger, no query.

    A "running" row is a start whose end was never written. Where holding the warehouse proves
    that no other apply runs (Capabilities.one_writer), that run was killed (kill -9, a lost
    machine), and every reader (plan, check, apply, inspect) sees it as "interrupted"; elsewhere
    it may still be running, and says so."""
    rows = engine.latest_ledger_rows(datasets, listed, unfinished_only=unfinished_only)
    entries = [entry_from_row(dataset, row) for dataset, row in sorted(rows.items())]
    if engine.capabilities.one_writer:
        for entry in entries:
            if entry.outcome == "running":
                entry.outcome = "interrupted"
    return entries


def cut_backfills(
    engine: Engine,
    plan: Plan,
    estimates: list[int | None],
    actual: Warehouse,
    bound: int,
    ledger: list[LedgerEntry],
    project: str | None,
) -> tuple[Plan, list[int | None]]:
    """Each backfill of a partitioned table run as one UPDATE per range of partitions
    (changes/partitions.py) when it would bill more than ``bound`` (its dry-run estimate; the
    local engine's modelled sizes), when an earlier run did part of it (the ledger says which
    partitions: they are skipped), or when an ingestion-time table has rows in the streaming
    buffer (they go last, in a job of their own: the others need not wait for the buffer)."""
    # Partitions done count only for the same columns: a column added since needs them all.
    finished = {
        (e.dataset, t, tuple(sorted(c.lower() for c in columns))): e.done.get(t, [])
        for e in ledger
        if e.outcome != "succeeded"
        for t, columns in e.backfill
    }
    for index in reversed(range(len(plan.steps))):
        change = plan.steps[index].changes[0] if plan.steps[index].changes else None
        live = actual.table(change.dataset, change.table or "") if isinstance(change, Backfill) else None
        if not isinstance(change, Backfill) or change.part or live is None or live.partitioning is None:
            continue
        key = (change.dataset, change.table or "", tuple(sorted(c.key for c in change.columns)))
        estimate, done = estimates[index], frozenset(finished.get(key, ()))
        ingestion = live.partitioning.column is None
        if estimate is not None and estimate <= bound and not done and not ingestion:
            continue
        listed = engine.partitions(live)
        total = estimate if estimate is not None else sum(p.bytes or 0 for p in listed)
        if total <= bound and not done and not (ingestion and any(p.id == UNPARTITIONED for p in listed)):
            continue
        column = live.column(live.partitioning.column) if live.partitioning.column else None
        parts = slices(live.partitioning, column.type if column else "TIMESTAMP", listed, bound, estimate, done)
        if len(parts) > 1 or (done and parts):  # else one job over everything: the whole UPDATE is that
            plan, estimates = cut_backfill(plan, estimates, index, parts, tuple(sorted(done)), project)
    return plan, estimates


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
    # The partitions each backfill cut by partitions has done: earlier runs' and this one's.
    progress = {(d, t): list(ids) for d, t, ids in plan.backfill_done}

    def record(dataset: str, outcome: str, error: str | None = None, quiet: bool = False) -> None:
        """This run's ledger row in ``dataset``: its outcome and how many of its steps are done."""
        _ledger_write(
            engine,
            dataset,
            run_id,
            principal,
            digest,
            outcome,
            done[dataset],
            mine[dataset],
            statements,
            plan,
            error,
            quiet=quiet,
            progress=progress,
        )

    for index, step in enumerate(plan.steps):
        try:
            if step.kind != "create_dataset" and step.dataset not in started:
                _ledger_start(
                    engine, step.dataset, run_id, principal, digest, statements, plan, mine[step.dataset], project, progress
                )
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
                record(dataset, "failed", reason, quiet=True)
            if isinstance(exc, KeyboardInterrupt):
                raise
            # The failure is quoted on its headline's one line, whatever a server put in its text.
            why = printable(exc)
            if isinstance(exc, StreamingBufferError):  # one line: the cause is known, the cure is to wait
                raise ApplyError(f"{_where(step)}: {step.kind} not run: {why}") from None
            ran = "\n".join(capped([f"  done     {s.kind} {_where(s)}" for s in result.executed]))
            left = "\n".join(capped([f"  not run  {s.kind} {_where(s)}" for s in plan.steps[index:]]))
            raise ApplyError(
                f"{_where(step)}: step {index + 1} of {total} ({step.kind}) failed: {why}\n"
                f"{ran}\n{left}\nRe-run `bqmanage apply` to resume: every step is idempotent.".replace("\n\n", "\n")
            ) from None
        result.executed.append(step)
        done[step.dataset] += 1
        part = step.changes[0].part if step.changes and isinstance(step.changes[0], Backfill) else None
        if part is not None and last[step.dataset] != index:
            # One range of partitions done: recorded at once, so that a run killed now resumes
            # at the next range (every statement is idempotent, but each one bills).
            progress.setdefault((step.dataset, step.table or ""), []).extend(part.ids)
            record(step.dataset, "running")
        if last[step.dataset] == index and step.dataset in started:
            record(step.dataset, "succeeded")
            finished.add(step.dataset)
    result.datasets = sorted(started)
    return result


def _where(step: Step) -> str:
    """What a step works on: dataset.table, or the dataset of a dataset's step."""
    return f"{step.dataset}.{step.table}" if step.table else step.dataset


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
    progress: dict[tuple[str, str], list[str]],
) -> None:
    if LEDGER not in engine.list_tables(dataset):
        engine.execute(step_of(CreateTable(dataset=dataset, table=LEDGER, desired=ledger_table(dataset)), project))
    _ledger_write(engine, dataset, run_id, principal, digest, "running", 0, total, statements, plan, None, progress=progress)


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
    progress: dict[tuple[str, str], list[str]] | None = None,
) -> None:
    # INSERT only, never UPDATE: inserts never conflict with concurrent DML.
    params = ledger_params(dataset, run_id, principal, digest, outcome, applied, total, statements, plan, error, progress)
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
    progress: dict[tuple[str, str], list[str]] | None = None,
) -> dict[str, Any]:
    """The query parameters of one ledger row (``ledger_insert_sql``). A backfill cut by
    partitions names the partitions done so far (``progress``), which a re-run skips."""
    progress = progress or {}
    backfill = [[t, list(c), *([progress[(d, t)]] if progress.get((d, t)) else [])] for d, t, c in plan.backfill if d == dataset]
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
