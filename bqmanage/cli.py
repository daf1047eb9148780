"""The bqmanage command line: parse flags, call one api function, print through report.

Heavy libraries (pydantic, duckdb, the BigQuery client) are imported inside the commands
that need them, so ``bqmanage --help`` stays fast.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from bqmanage.environment import ENVIRONMENT
from bqmanage.errors import EXIT_BAD_INPUT, EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK

if TYPE_CHECKING:
    from bqmanage.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="bqmanage",
    help=(
        "Keep a multi-tenant BigQuery warehouse exactly as its YAML definitions say.\n\n"
        "Definitions live in schemas/<dataset>/<table>.yaml. The default target is the embedded "
        "`local` engine (a DuckDB file in .bqmanage/); `--target bigquery` talks to BigQuery.\n\n"
        "Exit codes: 0 ok, 1 findings, 2 bad input or refused change, 3 warehouse failure.\n\n"
        "Example: bqmanage apply --dry-run"
    ),
    epilog="\b\nEnvironment (beyond each flag's BQMANAGE_* twin):\n"
    + "\n".join(f"  {name:<27} {what}" for name, what in ENVIRONMENT.items()),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def funnel(func: F) -> F:
    """The one error funnel: expected failures print one message and exit with their code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from bqmanage.errors import BqmanageError

        try:
            return func(*args, **kwargs)
        except BqmanageError as exc:
            typer.echo(f"error: {exc}" if "\n" not in str(exc) else str(exc), err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("interrupted; re-run to resume (every step is idempotent)", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def main(
    ctx: typer.Context,
    target: str = typer.Option(
        None, "--target", envvar="BQMANAGE_TARGET", help="Target: local (default), bigquery, or one named in bqmanage.yaml."
    ),
    project: str = typer.Option(
        None, "--project", envvar="BQMANAGE_PROJECT", help="Google Cloud project (else GOOGLE_CLOUD_PROJECT)."
    ),
    location: str = typer.Option(
        None, "--location", envvar="BQMANAGE_LOCATION", help="BigQuery location for jobs, e.g. US or EU."
    ),
    schemas: str = typer.Option(None, "--schemas", envvar="BQMANAGE_SCHEMAS", help="Definitions directory [default: ./schemas]."),
    config: str = typer.Option(
        None, "--config", envvar="BQMANAGE_CONFIG", help="Config file [default: ./bqmanage.yaml if present]."
    ),
) -> None:
    ctx.obj = {"target": target, "project": project, "location": location, "schemas": schemas, "config": config}


def _protected(ctx: typer.Context) -> tuple[Path, ...]:
    """What a report file must never overwrite: the definitions and the config file."""
    return (Path(ctx.obj.get("schemas") or "schemas"), Path(ctx.obj.get("config") or "bqmanage.yaml"))


def _settings(ctx: typer.Context) -> Settings:
    from bqmanage.settings import resolve_settings

    return resolve_settings(**ctx.obj)


@app.command()
@funnel
def validate(ctx: typer.Context) -> None:
    """Load and validate the definitions; no warehouse access.

    Every problem is reported as file:line: key.path: message. Exit 2 on any problem.

    Global flags such as --schemas go before the command.

    Example: bqmanage --schemas ./schemas validate
    """
    from bqmanage import api

    desired = api.validate(_settings(ctx))
    # Count the datasets apply would create, including an empty one that has only a _dataset.yaml.
    typer.echo(f"OK: {len(desired.tables)} table(s) in {len(desired.all_datasets())} dataset(s) are valid.")


@app.command()
@funnel
def render(
    ctx: typer.Context,
    fmt: str = typer.Option("sql", "--format", help="sql (CREATE DDL) or json-schema (for bq mk --schema)."),
) -> None:
    """Print the CREATE SCHEMA / CREATE TABLE DDL for every definition.

    Example: bqmanage render --format json-schema
    """
    from bqmanage import api
    from bqmanage.errors import UsageError

    if fmt not in ("sql", "json-schema"):
        raise UsageError(f"--format: expected sql or json-schema, got {fmt!r}")
    typer.echo(api.render_ddl(_settings(ctx), fmt), nl=False)


@app.command()
@funnel
def plan(
    ctx: typer.Context,
    no_backfill: bool = typer.Option(False, "--no-backfill", help="Plan without the backfill UPDATE of existing rows."),
) -> None:
    """Print what apply would do: each step with a one-line reason and its exact SQL.

    Shows the latest ledger entry of every dataset. Exit 0 when nothing is pending, 1 when
    steps are pending, 2 when a change is refused.

    Example: bqmanage --target bigquery --project my-proj plan
    """
    from bqmanage import api, report
    from bqmanage.engines import engine_session

    settings = _settings(ctx)
    desired = api.validate(settings)  # bad definitions fail before any warehouse call
    with engine_session(settings, "plan", read_only=True) as engine:
        planned = api.make_plan(settings, engine, backfill=not no_backfill, desired=desired)
        runs_as = engine.capabilities.runs_as
    typer.echo(report.plan_text(planned, settings.target, runs_as))
    if planned.plan.has_refused:
        raise typer.Exit(EXIT_BAD_INPUT)
    raise typer.Exit(EXIT_FINDINGS if planned.plan.steps else EXIT_OK)


@app.command()
@funnel
def apply(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print exactly what would run; change nothing."),
    no_backfill: bool = typer.Option(
        False, "--no-backfill", help="Skip the UPDATE that gives existing rows the new columns' defaults."
    ),
) -> None:
    """Create missing datasets and tables, add columns, set defaults and backfill existing rows.

    A second run does nothing and says so. Changes BigQuery cannot make in place (REQUIRED
    columns, type narrowing, partitioning, drops) are refused with exit 2 before anything runs.

    Example: bqmanage apply --dry-run
    """
    from bqmanage import api, report
    from bqmanage.engines import engine_session

    settings = _settings(ctx)
    desired = api.validate(settings)  # bad definitions fail before any warehouse call

    def progress(index: int, total: int, step: Any) -> None:
        typer.echo(f"[{index + 1}/{total}] {step.kind}: {step.reason}", err=True)

    with engine_session(settings, "apply", read_only=dry_run) as engine:
        outcome = api.apply(settings, engine, dry_run=dry_run, backfill=not no_backfill, on_step=progress, desired=desired)
        runs_as = engine.capabilities.runs_as
    steps = outcome.planned.plan.steps
    if dry_run:
        typer.echo(report.plan_text(outcome.planned, settings.target, runs_as))
        return
    if not steps:
        typer.echo(f"Nothing to do: target {settings.target} already matches the definitions.")
        return
    ledgers = report.name_list(outcome.result.datasets if outcome.result else [], full=None)
    typer.echo(f"Applied {len(steps)} step(s) to target {settings.target}; recorded in the ledger of {ledgers}.")


@app.command()
@funnel
def inspect(
    ctx: typer.Context,
    all_datasets: bool = typer.Option(False, "--all", help="Every live dataset, not only the defined ones."),
) -> None:
    """Show the live tables and their columns as the engine reports them.

    Example: bqmanage inspect
    """
    from bqmanage import api, report
    from bqmanage.engines import engine_session

    settings = _settings(ctx)
    desired = None if all_datasets else api.validate(settings)  # bad definitions fail before the warehouse is opened
    with engine_session(settings, "inspect", read_only=True) as engine:
        tables = api.inspect(settings, engine, all_datasets, desired)
    typer.echo(report.tables_text(tables), nl=False)


@app.command()
@funnel
def check(
    ctx: typer.Context,
    fmt: str = typer.Option(
        "text", "--format", help="text, json (one object: clean + findings) or sarif (GitHub code scanning)."
    ),
    output: str = typer.Option(None, "--output", "-o", help="Write the report to this file instead of stdout."),
    code: list[str] = typer.Option(
        None, "--code", metavar="PATH", help="Also audit these source paths (as audit-code does) into the report."
    ),
) -> None:
    """Report drift of the live warehouse against the definitions, and legacy names.

    Read-only: it runs no DDL or DML. On BigQuery it reads INFORMATION_SCHEMA in batches and
    confirms every suspected drift with tables.get. Exit 0 clean, 1 findings, 2 bad input,
    3 warehouse failure.

    Example: bqmanage --target bigquery --project my-proj check --format sarif -o drift.sarif
    """
    import sys

    from bqmanage import api, report
    from bqmanage.engines import engine_session
    from bqmanage.report_file import check_format, findings_document, writable, write_whole

    check_format(fmt)
    report_path = writable(output, _protected(ctx)) if output is not None else None  # fails before any warehouse work
    settings = _settings(ctx)
    desired = api.validate(settings)
    with engine_session(settings, "check", read_only=True) as engine:
        if fmt == "text" and sys.stderr.isatty():
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task("reading the catalog", total=None)
                result = api.check(settings, engine, desired, lambda done, total: bar.update(task, completed=done, total=total))
        else:
            result = api.check(settings, engine, desired)
    if code:
        result.findings += api.audit_code(settings, [Path(p) for p in code], desired=desired).findings
    text = findings_document(fmt, result.findings, result.desired, lambda: report.findings_text(result.findings, settings.target))
    if report_path:
        write_whole(report_path, text)
    else:
        typer.echo(text, nl=False)
    raise typer.Exit(EXIT_OK if result.clean else EXIT_FINDINGS)


@app.command()
@funnel
def reset(
    ctx: typer.Context,
    table: str = typer.Option(
        None, "--table", help="dataset.table of the quota table [default: the only one with a quota section]."
    ),
    date: str = typer.Option(None, "--date", help="Run date YYYY-MM-DD [default: today in the table's time zone]."),
    allow_future_date: bool = typer.Option(False, "--allow-future-date", help="Accept a --date more than one day after today."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Report what would happen (and, on BigQuery, the bytes it would scan); change nothing."
    ),
    print_sql: bool = typer.Option(
        False, "--print-sql", help="Print the script, which takes @run_date, for a BigQuery scheduled query; run nothing."
    ),
    fmt: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """Run the daily quota reset, derived from the definitions.

    One set-based MERGE for all tenants, with @run_date as a query parameter, then a MERGE that
    collapses any duplicate a concurrent run inserted. Rollover keeps history: past rows never
    change, and a second run on the same date changes nothing. A tenant with no row in the
    lookback window carries from its latest older row.

    Exit 2, having changed nothing, for a --date more than one day after today (unless
    --allow-future-date) and when apply has not created the tables. A registry that lists a
    tenant twice is still reset once per tenant, then exits 2 naming the duplicates.

    Example: bqmanage reset --date 2026-11-21 --dry-run
    """
    import datetime as dt
    import json
    import re

    from bqmanage import api
    from bqmanage import report as text
    from bqmanage.errors import UsageError

    if fmt not in ("text", "json"):
        raise UsageError(f"--format: expected text or json, got {fmt!r}")
    run_date = None
    if date is not None:
        try:
            # fromisoformat alone also takes 20261121 and 2026-W47-6: only what --help promises.
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
                raise ValueError(date)
            run_date = dt.date.fromisoformat(date)
        except ValueError:
            raise UsageError(f"--date: {date!r} is not a date (YYYY-MM-DD)") from None
    settings = _settings(ctx)
    desired = api.validate(settings)
    from bqmanage.reset import find_quota_table, render_reset, resolve_run_date

    quota_table = find_quota_table(desired, table)  # a bad --table fails before any warehouse call
    if print_sql:
        typer.echo(render_reset(desired, quota_table, settings.project).script(), nl=False)
        return
    assert quota_table.quota is not None
    resolve_run_date(quota_table.quota, run_date, allow_future_date)  # so does a far-future --date
    from bqmanage.engines import engine_session

    with engine_session(settings, "reset", read_only=dry_run) as engine:
        report = api.reset(settings, engine, table, run_date, dry_run, desired, allow_future_date)
    typer.echo(json.dumps(report.to_json(), indent=2) if fmt == "json" else text.reset_text(report), nl=fmt == "json")
    if report.registry_duplicates:
        typer.echo(f"error: {text.registry_duplicates_text(report)}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)


def _terminate(signum: int, frame: object) -> None:
    # Kubernetes, systemd and CI runners stop a job with SIGTERM: stop as cleanly as on Ctrl-C
    # (apply records the failure in its ledger, the CLI says how to resume, exit 130).
    raise KeyboardInterrupt


@app.command("audit-code")
@funnel
def audit_code(
    ctx: typer.Context,
    paths: list[str] = typer.Argument(..., metavar="PATH", help="Files or directories to audit."),
    fix: bool = typer.Option(
        False, "--fix", help="Rewrite legacy references in place (keeping quoting and qualification); print the diff."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="With --fix: print the diff, write nothing."),
    fmt: str = typer.Option("text", "--format", help="text, json (one object: clean + findings + summary) or sarif."),
    output: str = typer.Option(None, "--output", "-o", help="Write the report to this file instead of stdout."),
    include: list[str] = typer.Option(
        None,
        "--include",
        metavar="GLOB",
        help="Only files matching this gitignore-style pattern (repeatable; replaces the default types).",
    ),
    exclude: list[str] = typer.Option(
        None, "--exclude", metavar="GLOB", help="Skip files and directories matching this gitignore-style pattern (repeatable)."
    ),
    analyzer: str = typer.Option(
        None, "--analyzer", help="SQL analyzer: sqlglot (default) or googlesql (Google's, pip install 'bqmanage[googlesql]')."
    ),
) -> None:
    """Find legacy table names and unknown table/column references in source files.

    Reads Python, SQL, YAML, JSON, JS/TS and shell files, honouring .gitignore. Comments and
    prose are never references. SQL in .sql files and Python strings that touches a managed
    table is checked against the definitions. A line with `bqmanage: ignore[KIND]` in a comment
    is suppressed. Exit 0 clean, 1 findings (after --fix: findings that remain), 2 bad input.

    Example: bqmanage audit-code src/ --fix --dry-run
    """
    from bqmanage import api, code_report
    from bqmanage.errors import UsageError
    from bqmanage.report_file import check_format, findings_document, writable, write_whole

    check_format(fmt)
    if analyzer not in (None, "sqlglot", "googlesql"):
        raise UsageError(f"--analyzer: expected sqlglot or googlesql, got {analyzer!r}")
    if dry_run and not fix:
        raise UsageError("--dry-run: only with --fix (audit-code writes nothing without --fix)")
    report_path = writable(output, _protected(ctx)) if output is not None else None  # fails before any file is read
    settings = _settings(ctx)
    desired = api.validate(settings)
    result = api.audit_code(
        settings,
        [Path(p) for p in paths],
        fix=fix,
        dry_run=dry_run,
        include=include,
        exclude=exclude,
        analyzer=analyzer,
        desired=desired,
        notice=lambda m: typer.echo(m, err=True),
    )
    if fix:  # the diff goes with the text report, or to stderr beside a machine-readable one
        typer.echo(code_report.fix_text(result, dry_run), nl=False, err=fmt != "text")
    text = findings_document(fmt, result.findings, desired, lambda: code_report.findings_text(result), result.summary())
    if report_path:
        write_whole(report_path, text)
    else:
        typer.echo(text, nl=False)
    raise typer.Exit(EXIT_OK if result.clean else EXIT_FINDINGS)


def run() -> None:
    """Console-script entry point."""
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    app()


if __name__ == "__main__":
    run()
