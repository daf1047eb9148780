"""``bqmanage audit-code``: the command, thin over ``Project.audit_code``; cli/main.py registers it.

It runs on every push (CI, pre-commit), so it imports only what it needs: the fixer and the diff
machinery come in with --fix, the SQL parser with the first file that holds SQL.
"""

from __future__ import annotations

from pathlib import Path

import typer

from bqmanage.cli.common import protected, settings_of
from bqmanage.errors import EXIT_FINDINGS, EXIT_OK
from bqmanage.terminal import log


def audit_code_command(
    ctx: typer.Context,
    paths: list[str] = typer.Argument(..., metavar="PATH", help="Files or directories to audit."),
    fix: bool = typer.Option(
        False, "--fix", help="Rewrite legacy references in place (keeping quoting and qualification); print the diff."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="With --fix: print the diff, write nothing."),
    fmt: str = typer.Option("text", "--format", help="text, json (one object: clean + findings + summary) or sarif."),
    output: str = typer.Option(None, "--output", "-o", help="Write the report to this file instead of stdout ('-': stdout)."),
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
    from bqmanage.errors import UsageError
    from bqmanage.project import Project
    from bqmanage.report import code as code_report
    from bqmanage.report.file import check_format, findings_document, sealed, writable, write_whole

    check_format(fmt)
    if analyzer not in (None, "sqlglot", "googlesql"):
        raise UsageError(f"--analyzer: expected sqlglot or googlesql, got {analyzer!r}")
    if dry_run and not fix:
        raise UsageError("--dry-run: only with --fix (audit-code writes nothing without --fix)")
    settings = settings_of(ctx)
    # Fails before any file is read; a report never replaces a file it audits.
    audited = tuple(Path(p) for p in paths)
    report_path = (
        writable(output, protected(ctx.obj, settings), audited, settings.local_path) if output not in (None, "-") else None
    )
    project = Project.load(settings)
    result = project.audit_code(
        list(audited),
        fix=fix,
        dry_run=dry_run,
        include=include or None,
        exclude=exclude or None,
        analyzer=analyzer,
        notice=lambda message: log(message, "INFO"),
        not_audited=(report_path,) if report_path else (),
    )
    if fix:  # the diff goes with the text report, or to stderr beside a machine-readable one
        diff = code_report.fix_text(result, dry_run)
        if fmt == "text":
            typer.echo(diff, nl=False)
        elif diff:
            log(diff.rstrip("\n"))
    text = findings_document(
        fmt, result.findings, project.definitions, lambda: code_report.findings_text(result), result.summary()
    )
    if report_path:
        write_whole(report_path, sealed(fmt, text))
    else:
        typer.echo(text, nl=False)
    raise typer.Exit(EXIT_OK if result.clean else EXIT_FINDINGS)
