"""The bqmanage command line (typer), the one parser of every command: parse flags, call the
Project, print through report. ``tenant``, ``import`` and ``audit-code`` live in modules of their own.

Heavy libraries (pydantic, duckdb, the BigQuery client, sqlglot) are imported inside the commands
that need them, so ``bqmanage --help`` stays fast (bqmanage/cli/__init__.py has the numbers).
"""

from __future__ import annotations

from pathlib import Path

import typer

from bqmanage.cli import pipeline as cli_templates
from bqmanage.cli.audit_code import audit_code_command
from bqmanage.cli.common import FORMAT, check_text_or_json, funnel, one_shot, project_of, protected
from bqmanage.cli.imports import import_command
from bqmanage.cli.tenant import tenant_app
from bqmanage.environment import ENVIRONMENT
from bqmanage.errors import EXIT_BAD_INPUT
from bqmanage.terminal import log

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


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        # The installed distribution's version: the one a release tag fixes (pyproject.toml).
        typer.echo(f"bqmanage {version('bqmanage')}")
        raise typer.Exit(0)


@app.callback()
def main(
    ctx: typer.Context,
    _show_version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the installed version and exit."
    ),
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
    log_format: str = typer.Option(
        "text",
        "--log-format",
        envvar="BQMANAGE_LOG_FORMAT",
        help="stderr lines as text, or json: one {severity, message} object per line (Cloud Logging).",
    ),
) -> None:
    from bqmanage.terminal import LOG_FORMATS, set_log_format

    if log_format not in LOG_FORMATS:
        source = ctx.get_parameter_source("log_format")  # name the one that was set: the flag or its variable
        given = "BQMANAGE_LOG_FORMAT" if source is not None and source.name == "ENVIRONMENT" else "--log-format"
        # One line, as every other bad value of a flag (not click's usage block and blank line).
        from bqmanage.errors import UsageError
        from bqmanage.terminal import log

        log(UsageError(f"{given}: expected text or json, got {log_format!r}").printed(), "ERROR")
        raise typer.Exit(UsageError.exit_code)
    set_log_format(log_format)
    ctx.obj = {"target": target, "project": project, "location": location, "schemas": schemas, "config": config}


@app.command()
@funnel
@one_shot
def validate(ctx: typer.Context, fmt: str = FORMAT) -> None:
    """Load and validate the definitions; no warehouse access.

    Every problem is reported as file:line: key.path: message. Exit 2 on any problem.

    Global flags such as --schemas go before the command.

    Example: bqmanage --schemas ./schemas validate
    """
    check_text_or_json(fmt)
    desired = project_of(ctx).definitions
    if fmt == "json":
        from bqmanage.report.json_docs import compact, validate_doc

        typer.echo(compact(validate_doc(desired)))
        return
    # Count the datasets apply would create, including an empty one that has only a _dataset.yaml.
    templates = (
        f", and {len(desired.template_tables)} in {len(desired.templates)} dataset template(s)" if desired.templates else ""
    )
    typer.echo(f"OK: {len(desired.tables)} table(s) in {len(desired.all_datasets())} dataset(s){templates} are valid.")


@app.command()
@funnel
def render(
    ctx: typer.Context,
    fmt: str = typer.Option(
        "sql", "--format", help="sql (CREATE DDL), json-schema (bq's JSON schema) or odcs (Open Data Contract Standard v3 YAML)."
    ),
    table: str | None = typer.Option(
        None,
        "--table",
        metavar="DATASET.TABLE",
        help="Only this table: its CREATE TABLE, or its schema as bq mk --schema reads it.",
    ),
    tenant: list[str] = cli_templates.TENANT,
) -> None:
    """Print the CREATE SCHEMA / CREATE TABLE DDL for every definition. No warehouse access.

    --format json-schema prints one object keyed by dataset.table; with --table it prints that
    table's array of fields, the file bq mk --schema takes. --format odcs prints each table as an
    Open Data Contract Standard v3 document (YAML, `---` between tables); bqmanage's own settings
    are under customProperties.

    Example: bqmanage render --format json-schema --table tenants.tenant_profiles > profiles.json
    """
    project = project_of(ctx)
    text = project.render(fmt, table, tenant or ())
    if project.definitions.templates and not tenant:  # on stderr: stdout is the DDL or JSON a script redirects
        names = ", ".join(d.name for d in project.definitions.templates)
        log(f"Note: dataset template(s) {names} not rendered; add --tenant ID to render a tenant's datasets.", "WARNING")
    # Written as it is: click's echo strips what looks like a colour code when stdout is no terminal,
    # and `render > ddl.sql` must hold the very text plan and apply send.
    import sys

    if sys.stdout is not None:  # started with stdout closed: nowhere to write
        sys.stdout.write(text)
        sys.stdout.flush()


@app.command()
@funnel
def plan(
    ctx: typer.Context,
    no_backfill: bool = typer.Option(False, "--no-backfill", help="Plan without the backfill UPDATE of existing rows."),
    tenant: list[str] = cli_templates.TENANT,
    all_tenants: bool = cli_templates.ALL_TENANTS,
    fmt: str = FORMAT,
) -> None:
    """Print what apply would do: each step with a one-line reason and its exact SQL.

    Shows the latest ledger entry of every dataset. Exit 0 when nothing is pending, 1 when
    steps are pending, 2 when a change is refused, 3 when a tenant could not be read.

    Example: bqmanage --target bigquery --project my-proj plan
    """
    from bqmanage.tenants.scope import TenantScope

    scope = TenantScope.from_flags(tenant, all_tenants)
    check_text_or_json(fmt)
    raise typer.Exit(cli_templates.run_plan(project_of(ctx), not no_backfill, scope, fmt))


@app.command()
@funnel
def apply(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print exactly what would run; change nothing."),
    no_backfill: bool = typer.Option(
        False, "--no-backfill", help="Skip the UPDATE that gives existing rows the new columns' defaults."
    ),
    tenant: list[str] = cli_templates.TENANT,
    all_tenants: bool = cli_templates.ALL_TENANTS,
    fmt: str = FORMAT,
) -> None:
    """Create missing datasets and tables, add columns, set defaults and backfill existing rows.

    A second run does nothing and says so. Changes BigQuery cannot make in place (REQUIRED
    columns, type narrowing, partitioning, drops) are refused with exit 2 before anything runs.
    With tenants, one tenant's failure does not stop the others; the exit code is the worst.

    Example: bqmanage apply --dry-run
    """
    from bqmanage.tenants.scope import TenantScope

    scope = TenantScope.from_flags(tenant, all_tenants)
    check_text_or_json(fmt)
    raise typer.Exit(cli_templates.run_apply(project_of(ctx), dry_run, not no_backfill, scope, fmt))


@app.command()
@funnel
def inspect(
    ctx: typer.Context,
    all_datasets: bool = typer.Option(False, "--all", help="Every live dataset, not only the defined ones."),
    fmt: str = FORMAT,
) -> None:
    """Show the live tables and their columns as the engine reports them.

    Example: bqmanage inspect
    """
    from bqmanage.report import text as report
    from bqmanage.report.json_docs import compact, inspect_doc

    check_text_or_json(fmt)
    tables = project_of(ctx).inspect(all_datasets)
    typer.echo(compact(inspect_doc(tables)) if fmt == "json" else report.tables_text(tables), nl=fmt == "json")


@app.command()
@funnel
def check(
    ctx: typer.Context,
    fmt: str = typer.Option(
        "text", "--format", help="text, json (one object: clean + findings) or sarif (GitHub code scanning)."
    ),
    output: str = typer.Option(None, "--output", "-o", help="Write the report to this file instead of stdout ('-': stdout)."),
    code: list[str] = typer.Option(
        None, "--code", metavar="PATH", help="Also audit these source paths (as audit-code does) into the report."
    ),
    tenant: list[str] = cli_templates.TENANT,
    all_tenants: bool = cli_templates.ALL_TENANTS,
    isolation: bool = typer.Option(
        False,
        "--isolation",
        help="Also read every isolated table as each sampled tenant's members would (the live row access "
        "policies' filters) and report any other tenant's row they see (isolation_leak).",
    ),
) -> None:
    """Report drift of the live warehouse against the definitions, and legacy names.

    Read-only: it runs no DDL or DML. On BigQuery it reads INFORMATION_SCHEMA in batches and
    confirms every suspected drift with tables.get. Exit 0 clean, 1 findings, 2 bad input,
    3 warehouse failure (with tenants: the worst of theirs; the others are still checked).

    Example: bqmanage --target bigquery --project my-proj check --format sarif -o drift.sarif
    """
    from bqmanage.report.file import check_format, sealed, writable, write_whole
    from bqmanage.tenants.scope import TenantScope

    check_format(fmt)
    # A bad --output fails before any warehouse work (the rest is refused by Project.check before
    # it opens the warehouse); a report never replaces a file --code audits.
    project = project_of(ctx)
    audited = tuple(Path(p) for p in code or ())
    report_path = (
        writable(output, protected(ctx.obj, project.settings), audited, project.settings.local_path)
        if output not in (None, "-")  # -o -: stdout, as the option's absence
        else None
    )
    scope = TenantScope.from_flags(tenant, all_tenants)
    result = cli_templates.run_check(project, fmt, scope, [Path(p) for p in code or []], isolation, report_path)
    note = cli_templates.left_alone(project.definitions, scope, "check")
    text, exit_code = cli_templates.check_document(fmt, result, project.settings.target, note)
    if report_path:
        write_whole(report_path, sealed(fmt, text))
    else:
        typer.echo(text, nl=False)
    raise typer.Exit(exit_code)


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
        False, "--print-sql", help="Print the script for a BigQuery scheduled query (in the table's time zone); run nothing."
    ),
    print_transfer_config: bool = typer.Option(
        False,
        "--print-transfer-config",
        help="Print the scheduled query's transferConfigs.create request (JSON: parent, transferConfig); run nothing.",
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

    from bqmanage.errors import UsageError
    from bqmanage.report import text

    check_text_or_json(fmt)
    run_date = None
    if date is not None:
        try:
            # fromisoformat alone also takes 20261121 and 2026-W47-6: only what --help promises.
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
                raise ValueError(date)
            run_date = dt.date.fromisoformat(date)
        except ValueError:
            raise UsageError(f"--date: {date!r} is not a date (YYYY-MM-DD)") from None
    project = project_of(ctx)
    if print_sql:
        typer.echo(project.reset_script(table), nl=False)
        return
    if print_transfer_config:
        typer.echo(json.dumps(project.reset_transfer_config(table), indent=2))
        return
    report = project.reset(table=table, run_date=run_date, dry_run=dry_run, allow_future_date=allow_future_date)
    typer.echo(json.dumps(report.to_json(), indent=2) if fmt == "json" else text.reset_text(report), nl=fmt == "json")
    if report.invalid_tenants:
        log(f"error: {text.invalid_tenants_text(report)}", "ERROR")
    if report.registry_duplicates:
        log(f"error: {text.registry_duplicates_text(report)}", "ERROR")
    if report.invalid_tenants or report.registry_duplicates:
        raise typer.Exit(EXIT_BAD_INPUT)


app.add_typer(tenant_app, name="tenant")
app.command("import")(funnel(import_command))
app.command("audit-code")(funnel(one_shot(audit_code_command)))
