"""The CLI side of dataset templates: the --tenant/--all-tenants flags of plan, apply and check,
progress while tenants run (a bar on a terminal, one plain line per tenant elsewhere, as in CI),
and the summaries that name the tenants that failed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

from bqmanage.errors import EXIT_BAD_INPUT, EXIT_FINDINGS, EXIT_OK
from bqmanage.terminal import is_terminal, json_logs, log, printable, printable_lines

if TYPE_CHECKING:
    from pathlib import Path

    from bqmanage.api import ApplyOutcome, CheckResult, PlanResult
    from bqmanage.model.schema import Definitions
    from bqmanage.plan import Step
    from bqmanage.project import Project
    from bqmanage.tenants.fleet import TenantOutcome
    from bqmanage.tenants.scope import TenantScope
    from bqmanage.tenants.templates import Registry

TENANT = typer.Option(
    None, "--tenant", metavar="ID", help="Also the templated datasets of this tenant (repeatable; need not be active)."
)
ALL_TENANTS = typer.Option(False, "--all-tenants", help="Also the templated datasets of every active tenant of the registry.")


def say_left_alone(desired: Definitions, scope: TenantScope, verb: str, fmt: str = "text") -> None:
    """plan and apply say it first, on stdout: a failure's message is still the first line of
    stderr, and the last line of stdout is still the summary that scripts read. Beside a JSON
    document, which is all of stdout, it goes to stderr."""
    if (note := left_alone(desired, scope, verb)) is not None:
        if fmt == "text":
            typer.echo(note)
        else:
            log(note, "WARNING")


def left_alone(desired: Definitions, scope: TenantScope, verb: str) -> str | None:
    """Without either flag, templates are left alone, and the command says so, once."""
    if not desired.templates or scope.engaged:
        return None
    names = ", ".join(d.name for d in desired.templates)
    noun = "template" if len(desired.templates) == 1 else "templates"
    return f"Note: dataset {noun} {names} left alone; add --tenant ID or --all-tenants to {verb} tenants' datasets."


@dataclass
class Watch:
    """What a command calls as it goes: once per finished tenant, and per catalog batch read."""

    tenant: Callable[[TenantOutcome[Any], int, int], None]
    catalog: Callable[[int, int], None] | None = None


@contextmanager
def progress(verb: str, describe: Callable[[Any], str], bar: bool = True) -> Iterator[Watch]:
    """A progress bar on a terminal (unless ``bar`` is False), else one line per tenant: a CI log
    keeps every line, and a bar would be noise there."""
    if not is_terminal(sys.stderr) or json_logs():

        def line(outcome: TenantOutcome[Any], done: int, total: int) -> None:
            log(printable(f"[{done}/{total}] tenant {outcome.tenant}: {_state(outcome, describe)}"))

        yield Watch(line)
        return
    if not bar:
        yield Watch(lambda outcome, done, total: None)
        return
    from rich.console import Console
    from rich.progress import Progress, TaskID

    with Progress(console=Console(stderr=True), transient=True) as view:
        tasks: dict[str, TaskID] = {}

        def update(label: str, done: int, total: int) -> None:
            task = tasks.get(label)
            if task is None:
                task = tasks[label] = view.add_task(label, total=total)
            view.update(task, completed=done, total=total)

        def tenant(outcome: TenantOutcome[Any], done: int, total: int) -> None:
            update(f"{verb} tenants", done, total)
            if outcome.error is not None:  # above the bar, and kept when it goes
                view.console.print(
                    printable(f"tenant {outcome.tenant}: {_state(outcome, describe)}"), markup=False, highlight=False
                )

        yield Watch(tenant, lambda done, total: update("reading the catalog", done, total))


def _state(outcome: TenantOutcome[Any], describe: Callable[[Any], str]) -> str:
    if outcome.error is not None:
        return f"failed (exit {outcome.exit_code}): {str(outcome.error).splitlines()[0]}"
    return describe(outcome.value)


def applied(outcome: ApplyOutcome) -> str:
    steps = len(outcome.planned.plan.steps)
    return f"{steps} step(s) applied" if steps else "up to date"


def planned_steps(planned: PlanResult) -> str:
    if planned.plan.has_refused:
        return f"{len(planned.plan.refused)} change(s) refused"
    return f"{len(planned.plan.steps)} step(s) pending" if planned.plan.steps else "no changes"


def checked(findings: list[Any]) -> str:
    return f"{len(findings)} finding(s)" if findings else "clean"


def worst_exit(outcomes: list[TenantOutcome[Any]]) -> int:
    """The worst tenant's exit code (0 without tenants). tenants.fleet, with its thread pool, is
    imported only where tenants ran: a plain check, plan or apply does not load it."""
    if not outcomes:
        return EXIT_OK
    from bqmanage.tenants import fleet

    return fleet.worst_exit(outcomes)


def _planned(outcome: TenantOutcome[ApplyOutcome]) -> TenantOutcome[PlanResult]:
    """A tenant's dry-run apply as the plan it printed."""
    from bqmanage.tenants.fleet import TenantOutcome

    return TenantOutcome(outcome.tenant, outcome.value.planned if outcome.value else None, outcome.error)


def _failures(outcomes: list[TenantOutcome[Any]]) -> list[TenantOutcome[Any]]:
    return [o for o in outcomes if o.error is not None]


def _whose(registry: Registry | None, count: int) -> str:
    if registry is None:
        return f"{count} tenant(s) given"
    if registry.missing:
        return f"no tenants: the registry {registry.table} does not exist yet (apply creates it)"
    return f"{count} active tenant(s) in {registry.table}"


def report_failures(outcomes: list[TenantOutcome[Any]]) -> None:
    """Each failed tenant's whole message, on stderr."""
    for outcome in _failures(outcomes):
        # The id is the registry's, so escaped on its own; printable_lines keeps only the line
        # breaks of our own message.
        log(printable_lines(f"error: tenant {printable(outcome.tenant)}: {outcome.error}"), "ERROR")


def failed_line(outcomes: list[TenantOutcome[Any]]) -> str:
    failed = _failures(outcomes)
    if not failed:
        return "0 failed"
    return f"{len(failed)} failed: " + ", ".join(f"{printable(o.tenant)} (exit {o.exit_code})" for o in failed)


def run_plan(project: Project, backfill: bool, scope: TenantScope, fmt: str = "text") -> int:
    """bqmanage plan: print the plan (and the tenants'); return the exit code."""
    say_left_alone(project.definitions, scope, "plan", fmt)
    with progress("planning", planned_steps) as watch:
        planned = project.plan(backfill=backfill, scope=scope, on_tenant=watch.tenant)
    if fmt == "json":
        from bqmanage.report.json_docs import compact, plan_doc

        report_failures(planned.tenants)
        typer.echo(compact(plan_doc(planned, project.settings.target)))
        return plan_exit(planned)
    text, code = plan_with_tenants(planned, project.settings.target, project.runs_as)
    typer.echo(text)
    return code


def run_apply(project: Project, dry_run: bool, backfill: bool, scope: TenantScope, fmt: str = "text") -> int:
    """bqmanage apply: each step as it starts (stderr), each tenant as it ends; return the exit code."""
    say_left_alone(project.definitions, scope, "apply", fmt)

    def on_step(index: int, total: int, step: Step) -> None:
        log(printable(f"[{index + 1}/{total}] {step.kind}: {step.reason}"))

    # Each tenant's value is its ApplyOutcome; a dry run says what its plan would do.
    describe: Callable[[ApplyOutcome], str] = (lambda o: planned_steps(o.planned)) if dry_run else applied
    # An interrupt that lands once apply has completed does not stop it (cli/signals.py): what it
    # did is printed below and the exit code is apply's own.
    with progress("applying", describe) as watch:
        outcome = project.apply(
            dry_run=dry_run, backfill=backfill, scope=scope, keep_going=True, on_step=on_step, on_tenant=watch.tenant
        )
    return apply_report(outcome, project.settings.target, project.runs_as, dry_run, fmt)


def apply_report(outcome: ApplyOutcome, target: str, runs_as: str | None, dry_run: bool, fmt: str = "text") -> int:
    """Print what apply did (or, in a dry run, would do); return the exit code."""
    from bqmanage.report import text as report

    steps = outcome.planned.plan.steps
    if dry_run:
        outcome.planned.registry = outcome.registry
        outcome.planned.tenants = [_planned(o) for o in outcome.tenants]
    if fmt == "json":
        from bqmanage.report.json_docs import apply_doc, compact

        report_failures(outcome.tenants)
        typer.echo(compact(apply_doc(outcome, target, dry_run)))
        return EXIT_OK if dry_run else worst_exit(outcome.tenants)
    if dry_run:
        text, _ = plan_with_tenants(outcome.planned, target, runs_as)
        typer.echo(text)
        return EXIT_OK
    fixed = " for the fixed datasets" if outcome.tenants or outcome.registry is not None else ""
    if not steps:
        typer.echo(f"Nothing to do{fixed}: target {target} already matches the definitions.")
    else:
        ledgers = report.name_list(outcome.result.datasets if outcome.result else [], full=None)
        typer.echo(f"Applied {len(steps)} step(s) to target {target}; recorded in the ledger of {ledgers}.")
    for done in outcome.members:  # the members tables follow the registry
        typer.echo(printable(f"Row access: {done}."))
    if not outcome.tenants and outcome.registry is None:
        return EXIT_OK
    line, code = apply_summary(outcome)
    typer.echo(line)
    return code


def apply_summary(outcome: ApplyOutcome) -> tuple[str, int]:
    """The tenants' line after apply's own, and the exit code: the worst tenant's."""
    done = [o.value for o in outcome.tenants if o.value is not None]
    changed = [o for o in done if o.planned.plan.steps]
    steps = sum(len(o.planned.plan.steps) for o in changed)
    report_failures(outcome.tenants)
    line = (
        f"Tenants ({_whose(outcome.registry, len(outcome.tenants))}): {len(changed)} changed"
        + (f" ({steps} step(s))" if steps else "")
        + ", "
        f"{len(done) - len(changed)} up to date, {failed_line(outcome.tenants)}."
    )
    return line, worst_exit(outcome.tenants)


def plan_with_tenants(planned: PlanResult, target: str, runs_as: str | None) -> tuple[str, int]:
    """plan's text: the fixed datasets' plan, then each tenant's that has something to do; and
    the exit code, the worst of all (1 pending, 2 refused, 3 a tenant that could not be read)."""
    from bqmanage.report import text as report

    parts = [report.plan_text(planned, target, runs_as)]
    if planned.tenants or planned.registry is not None:
        pending = _pending(planned)
        for outcome in pending:
            assert outcome.value is not None
            parts.append(
                f"\n== tenant {printable(outcome.tenant)} ==\n"
                + report.plan_text(outcome.value, f"{target} (tenant {printable(outcome.tenant)})", runs_as)
            )
        report_failures(planned.tenants)
        ok = sum(1 for o in planned.tenants if o.value is not None) - len(pending)
        parts.append(
            f"\nTenants ({_whose(planned.registry, len(planned.tenants))}): {len(pending)} with changes, "
            f"{ok} up to date, {failed_line(planned.tenants)}."
        )
    return "\n".join(parts), plan_exit(planned)


def _pending(planned: PlanResult) -> list[TenantOutcome[PlanResult]]:
    return [o for o in planned.tenants if o.value is not None and (o.value.plan.steps or o.value.plan.has_refused)]


def plan_exit(planned: PlanResult) -> int:
    """plan's exit code, the worst of all: 1 pending, 2 refused, 3 a tenant that could not be read."""

    def own(result: PlanResult) -> int:
        return EXIT_BAD_INPUT if result.plan.has_refused else EXIT_FINDINGS if result.plan.steps else EXIT_OK

    codes = [own(planned), *(own(o.value) for o in _pending(planned) if o.value is not None)]
    return max(*codes, worst_exit(planned.tenants))


def run_check(
    project: Project, fmt: str, scope: TenantScope, code: list[Path], isolation: bool = False, report: Path | None = None
) -> CheckResult:
    """check, with a bar on a terminal for the text format (JSON and SARIF runs stay quiet there);
    the ``report`` file it writes is not audited (--code)."""
    with progress("checking", checked, bar=fmt == "text") as watch:
        return project.check(
            scope=scope,
            code=code,
            on_progress=watch.catalog,
            on_tenant=watch.tenant,
            isolation=isolation,
            not_audited=(report,) if report else (),
        )


def check_document(fmt: str, result: CheckResult, target: str, note: str | None) -> tuple[str, int]:
    """check's report in ``fmt``, with the tenants' outcome when it ran for tenants, and the ``note``
    that templates were left alone (JSON and SARIF leave it to stderr); and the exit code: 1 for
    findings, or the worst failed tenant's."""
    from bqmanage.report import text as report
    from bqmanage.report.file import findings_document

    with_tenants = bool(result.tenants) or result.registry is not None
    failed = result.failed
    ok = len(result.tenants) - len(_failures(result.tenants))
    line = f"Tenants ({_whose(result.registry, len(result.tenants))}): {ok} checked, {failed_line(result.tenants)}.\n"
    if _failures(result.suspended):
        line += f"Suspended tenants' grants: {failed_line(result.suspended)}.\n"
    tenants = {
        "checked": ok,
        "failed": [{"tenant": o.tenant, "exit_code": o.exit_code, "message": str(o.error)} for o in failed],
    }
    report_failures(result.tenants + result.suspended)
    if note is not None:
        line = f"{note}\n"
        if fmt != "text":
            log(note, "WARNING")
    text = findings_document(
        fmt,
        result.findings,
        result.desired,
        lambda: report.findings_text(result.findings, target) + (line if with_tenants or note else ""),
        extra={"tenants": tenants} if with_tenants else None,
        notifications=[f"tenant {o.tenant}: {o.error}" for o in failed],
    )
    return text, max(EXIT_FINDINGS if result.findings else EXIT_OK, worst_exit(result.failed))
