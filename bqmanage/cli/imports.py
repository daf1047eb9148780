"""``bqmanage import``: the command, thin over ``importer.import_live`` (the library function); cli/main.py registers it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bqmanage.cli import signals
from bqmanage.cli.common import FORMAT
from bqmanage.errors import EXIT_BAD_INPUT, UsageError
from bqmanage.terminal import is_terminal, log, printable

if TYPE_CHECKING:
    from bqmanage.importer.files import GeneratedFile
    from bqmanage.importer.live import ImportResult


def import_command(
    ctx: typer.Context,
    dataset: list[str] = typer.Option(None, "--dataset", metavar="NAME", help="A live dataset to import (repeatable)."),
    all_datasets: bool = typer.Option(False, "--all", help="Every live dataset except legacy ones (customers)."),
    out: str = typer.Option(None, "--out", help="Where to write [default: the definitions directory, ./schemas]."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace definition files that differ (the diff is shown first)."),
    yes: bool = typer.Option(False, "--yes", help="With --overwrite: do not ask; needed without a terminal."),
    as_template: str = typer.Option(
        None, "--as-template", metavar="PATTERN", help="Write the one --dataset as a per-tenant template, e.g. tenant_{tenant}."
    ),
    fmt: str = FORMAT,
) -> None:
    """Write definitions of what is live, so that an existing warehouse comes under management.

    Reads datasets and tables as plan and check do, and writes schemas/<dataset>/_dataset.yaml and
    <table>.yaml, validated before anything is written. Views, external tables and bqmanage's
    ledger are skipped and named; what the target cannot report is said, not guessed. A file
    that exists and differs is replaced only with --overwrite, after its diff, with confirmation
    (a terminal or --yes). Exit 0 written or unchanged, 2 refused (nothing written), 3 warehouse failure.

    Example: bqmanage import --dataset tenants
    """
    from bqmanage.cli.common import check_text_or_json, settings_of
    from bqmanage.engines import engine_session
    from bqmanage.importer.live import import_live
    from bqmanage.report.json_docs import compact, import_doc

    check_text_or_json(fmt)
    if yes and not overwrite:
        raise UsageError("--yes: only with --overwrite (import never replaces a file without it)")
    if all_datasets and dataset:
        raise UsageError("--all and --dataset: choose one")
    settings = settings_of(ctx)
    out_dir = Path(out) if out else None
    from bqmanage.importer.files import check_out

    check_out(out_dir or settings.schemas_dir)  # before the warehouse is read
    _refuse_out(out, out_dir or settings.schemas_dir, settings.local_path)
    with engine_session(settings, "import", read_only=True) as engine:
        result = import_live(settings, engine, dataset or [], all_datasets, out=out_dir, template=as_template)
    staged = result.staged
    say = typer.echo if fmt == "text" else log  # beside a JSON document, which is all of stdout: stderr
    try:
        if fmt == "text":
            for line in result.skipped:
                typer.echo(f"skipped {printable(line)}")
        changed = staged.changed()
        if changed and not overwrite:
            names = ", ".join(f.path.as_posix() for f in changed)
            log(
                f"error: {names}: exists and differs from what is live; nothing written. "
                "Pass --overwrite to replace (the diff is shown first).",
                "ERROR",
            )
            raise typer.Exit(EXIT_BAD_INPUT)
        if changed:
            say("".join(f.diff() for f in changed).rstrip("\n"))
            if not yes and not _confirmed(len(changed)):
                raise typer.Exit(EXIT_BAD_INPUT)
        written = staged.commit()
        signals.done()  # written: a late interrupt no longer turns that into "interrupted"
        if fmt == "json":
            typer.echo(compact(import_doc(result, written)))
            return
        for file in written:
            typer.echo(f"{'replaced' if file.old is not None else 'wrote'} {file.path.as_posix()}")
        for line in result.notes:
            typer.echo(f"note: {printable(line)}")
        for line in result.template_report:
            typer.echo(printable(line))
        typer.echo(_summary(result, written))
    finally:
        staged.discard()


def _summary(result: ImportResult, written: list[GeneratedFile]) -> str:
    """The last line: what was written, and "nothing to write" when that is so (never "Imported"
    for files that were all already there)."""
    staged = result.staged
    same = sum(1 for f in staged.files if f.status == "unchanged")
    what = f"{result.tables} table(s) of {len(result.datasets)} dataset(s)"
    into = f"{staged.out.as_posix()}/"
    if not staged.files:
        return f"Nothing to write: target {result.target} has no table to import."
    if not written:
        return f"Nothing to write: {same} file(s) already matched {what} of target {result.target} in {into}."
    tail = f"; wrote {len(written)} file(s), {same} file(s) already matched" if same else ""
    return f"Imported {what} from target {result.target} into {into}{tail}. Next: bqmanage check"


def _refuse_out(given: str | None, out: Path, warehouse: Path) -> None:
    """No --out through a symbolic link out of the working directory, and none among the local
    warehouse's files or in its state directory (the predicates of a report's -o)."""
    import os

    from bqmanage.report.file import leaves_tree, warehouse_state

    if given is not None and leaves_tree(given):
        raise UsageError(f"--out {given}: it is reached through a symbolic link out of {Path.cwd()}; nothing written")
    if warehouse_state(Path(os.path.realpath(out)), warehouse):
        raise UsageError(f"--out {out}: cannot write definitions among the files of the local warehouse {warehouse}")


def _confirmed(count: int) -> bool:
    if not is_terminal(sys.stdin):
        log("error: --overwrite without a terminal to confirm on: pass --yes to replace; nothing written.", "ERROR")
        return False
    if typer.confirm(f"Replace {count} file(s)?", default=False):
        return True
    log("Nothing written.", "ERROR")
    return False
