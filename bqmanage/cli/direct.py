"""``validate`` and ``audit-code`` without typer: the two commands that run on every push.

The typer app (cli/main.py) parses them the same way and calls the same functions below; this
module only recognises the plain forms of their command lines (global flags before the command,
``--flag value`` or ``--flag=value``, the options their ``--help`` lists) and hands anything
else, ``--help`` included, back to typer, which answers it. So what is accepted here means the
same as there, and a mistake gets typer's message.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bqmanage.errors import EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK
from bqmanage.terminal import LOG_FORMATS, log, log_text, set_log_format

if TYPE_CHECKING:
    from bqmanage.errors import BqmanageError
    from bqmanage.settings import Settings

# The global flags, each with its environment variable (typer reads a non-empty one when the flag is absent).
GLOBAL_FLAGS = {
    "--target": "target",
    "--project": "project",
    "--location": "location",
    "--schemas": "schemas",
    "--config": "config",
}
GLOBAL_ENV = {key: f"BQMANAGE_{key.upper()}" for key in GLOBAL_FLAGS.values()}
LOG_FLAG = {"--log-format": "log_format"}  # not a setting: parse takes it out again
_AUDIT_FLAGS = {"--fix": "fix", "--dry-run": "dry_run"}
_AUDIT_VALUES = {"--format": "fmt", "--output": "output", "-o": "output", "--analyzer": "analyzer"}
_AUDIT_LISTS = {"--include": "include", "--exclude": "exclude"}
INTERRUPTED = "interrupted; re-run to resume (every step is idempotent)"


def echo(text: str, nl: bool = True, err: bool = False) -> None:
    """What typer.echo does for text: write, then flush (the streams are looked up when called, as tests swap them)."""
    stream = sys.stderr if err else sys.stdout
    stream.write(text + "\n" if nl else text)
    stream.flush()


def error_text(exc: BqmanageError) -> str:
    """How the error funnel prints an expected failure (BqmanageError.printed says how)."""
    return exc.printed()


# Whether a command is running (inside the error funnel), where an interrupt must unwind it.
RUNNING = {"command": False}


def terminate(signum: int, frame: object) -> None:
    # Kubernetes, systemd and CI runners stop a job with SIGTERM: stop as cleanly as on Ctrl-C
    # (apply records the failure in its ledger, the CLI says how to resume, exit 130).
    if RUNNING["command"]:
        raise KeyboardInterrupt
    # Before the command started (imports, parsing) or after it ended there is nothing to unwind,
    # and a KeyboardInterrupt there would surface as a traceback or click's "Aborted!" (exit 1).
    with contextlib.suppress(OSError, RuntimeError, ValueError):  # a write the signal cut, a closed pipe
        sys.stdout.flush()
    line = log_text("interrupted while no command was running; nothing was started or left half-done", "ERROR")
    os.write(2, line.encode() + b"\n")
    os._exit(EXIT_INTERRUPTED)


@contextlib.contextmanager
def running() -> Iterator[None]:
    """Mark the command as running: an interrupt now unwinds it (KeyboardInterrupt)."""
    RUNNING["command"] = True
    try:
        yield
    finally:
        RUNNING["command"] = False


def protected(obj: dict[str, Any], settings: Settings | None = None) -> tuple[Path, ...]:
    """What a report file must never overwrite: the definitions, the config file, and the local
    warehouse with its write-ahead log (``settings`` knows a target's own local_path)."""
    warehouse = settings.local_path if settings else Path(os.environ.get("BQMANAGE_LOCAL_PATH") or ".bqmanage/local.duckdb")
    return (
        Path(obj.get("schemas") or "schemas"),
        Path(obj.get("config") or "bqmanage.yaml"),
        warehouse,
        warehouse.with_name(warehouse.name + ".wal"),
        *((settings.schemas_dir,) if settings else ()),
    )


def settings_of(obj: dict[str, Any]) -> Settings:
    from bqmanage.settings import resolve_settings

    return resolve_settings(**obj)


def check_text_or_json(fmt: str) -> None:
    """--format of validate, plan, apply, inspect, import and reset."""
    from bqmanage.errors import UsageError

    if fmt not in ("text", "json"):
        raise UsageError(f"--format: expected text or json, got {fmt!r}")


def validate(obj: dict[str, Any], fmt: str = "text") -> int:
    """``bqmanage validate``."""
    from bqmanage.project import Project

    check_text_or_json(fmt)
    desired = Project.load(settings_of(obj)).definitions
    if fmt == "json":
        from bqmanage.report.json_docs import compact, validate_doc

        echo(compact(validate_doc(desired)))
        return EXIT_OK
    # Count the datasets apply would create, including an empty one that has only a _dataset.yaml.
    templates = (
        f", and {len(desired.template_tables)} in {len(desired.templates)} dataset template(s)" if desired.templates else ""
    )
    echo(f"OK: {len(desired.tables)} table(s) in {len(desired.all_datasets())} dataset(s){templates} are valid.")
    return EXIT_OK


def audit_code(
    obj: dict[str, Any],
    paths: list[str],
    fix: bool = False,
    dry_run: bool = False,
    fmt: str = "text",
    output: str | None = None,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    analyzer: str | None = None,
) -> int:
    """``bqmanage audit-code``."""
    from bqmanage.errors import UsageError
    from bqmanage.project import Project
    from bqmanage.report import code as code_report
    from bqmanage.report.file import check_format, findings_document, sealed, writable, write_whole

    check_format(fmt)
    if analyzer not in (None, "sqlglot", "googlesql"):
        raise UsageError(f"--analyzer: expected sqlglot or googlesql, got {analyzer!r}")
    if dry_run and not fix:
        raise UsageError("--dry-run: only with --fix (audit-code writes nothing without --fix)")
    settings = settings_of(obj)
    # Fails before any file is read; a report never replaces a file it audits.
    report_path = writable(output, protected(obj, settings), tuple(Path(p) for p in paths)) if output is not None else None
    project = Project.load(settings)
    desired = project.definitions
    result = project.audit_code(
        [Path(p) for p in paths],
        fix=fix,
        dry_run=dry_run,
        include=include,
        exclude=exclude,
        analyzer=analyzer,
        notice=lambda message: log(message, "INFO"),
    )
    if fix:  # the diff goes with the text report, or to stderr beside a machine-readable one
        diff = code_report.fix_text(result, dry_run)
        if fmt == "text":
            echo(diff, nl=False)
        elif diff:
            log(diff.rstrip("\n"))
    text = findings_document(fmt, result.findings, desired, lambda: code_report.findings_text(result), result.summary())
    if report_path:
        write_whole(report_path, sealed(fmt, text))
    else:
        echo(text, nl=False)
    return EXIT_OK if result.clean else EXIT_FINDINGS


def direct(argv: list[str]) -> int | None:
    """Run ``validate`` or ``audit-code`` and return the exit code, or None: typer's to parse."""
    parsed = parse(argv)
    if parsed is None:
        return None
    command, kwargs = parsed
    import gc

    from bqmanage.errors import BqmanageError

    # One command, then the process exits: what it builds is kept to the end and makes no garbage
    # cycles worth collecting, while the collector's passes over a heap that keeps growing (500
    # datasets of definitions, the files of a large tree) cost about 5% of the run.
    gc.disable()

    try:
        with running():
            return command(**kwargs)
    except BqmanageError as exc:
        log(error_text(exc), "ERROR")
        return exc.exit_code
    except KeyboardInterrupt:
        log(INTERRUPTED, "ERROR")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # As click does when the reader of stdout goes away (`| head`): no traceback, exit 1. What
        # is still buffered goes to /dev/null, so that flushing it at exit raises nothing either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def parse(argv: list[str]) -> tuple[Callable[..., int], dict[str, Any]] | None:
    """The command and its arguments, when ``argv`` is a plain ``validate`` or ``audit-code``; else None."""
    obj: dict[str, Any] = {}
    i = 0
    while i < len(argv) and argv[i].startswith("--"):
        flag, eq, value = argv[i].partition("=")
        key = GLOBAL_FLAGS.get(flag) or LOG_FLAG.get(flag)
        if key is None or key in obj:
            return None
        if not eq:
            if i + 1 >= len(argv):
                return None
            i += 1
            value = argv[i]
        if value.startswith("-"):
            return None  # typer's parser decides what `--schemas -x` means
        obj[key] = value
        i += 1
    for key, var in GLOBAL_ENV.items():
        if key not in obj:
            obj[key] = os.environ.get(var) or None  # typer ignores an empty variable
    log_format = obj.pop("log_format", None) or os.environ.get("BQMANAGE_LOG_FORMAT") or "text"
    if log_format not in LOG_FORMATS:
        return None  # typer's message
    command, rest = (argv[i], argv[i + 1 :]) if i < len(argv) else (None, [])
    found: tuple[Callable[..., int], dict[str, Any]] | None = None
    if command == "validate":
        fmt = _validate_format(rest)
        found = (validate, {"obj": obj} | ({"fmt": fmt} if fmt != "text" else {})) if fmt is not None else None
    elif command == "audit-code":
        options = _audit_options(rest)
        found = (audit_code, {"obj": obj, **options}) if options is not None else None
    if found is not None:
        set_log_format(log_format)  # as the typer app's callback does
    return found


def _validate_format(args: list[str]) -> str | None:
    """validate's --format, when ``args`` is no more than that; else None (typer's to parse)."""
    if not args:
        return "text"
    flag, eq, value = args[0].partition("=")
    if flag != "--format" or len(args) != (1 if eq else 2):
        return None
    value = value if eq else args[1]
    return value if value in ("text", "json") else None


def _audit_options(args: list[str]) -> dict[str, Any] | None:
    out: dict[str, Any] = {"paths": []}
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("-") or arg == "-":
            out["paths"].append(arg)
            continue
        flag, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if flag in _AUDIT_FLAGS and not eq:
            out[_AUDIT_FLAGS[flag]] = True
            continue
        key = _AUDIT_VALUES.get(flag) or _AUDIT_LISTS.get(flag)
        if key is None or (key in out and flag in _AUDIT_VALUES):
            return None  # unknown, `--`, `-oFILE`, or given twice: typer's to answer
        if not eq:
            if i >= len(args):
                return None
            value = args[i]
            i += 1
        if value.startswith("-") and value != "-":
            return None
        if flag in _AUDIT_LISTS:
            out.setdefault(key, []).append(value)
        else:
            out[key] = value
    return out if out["paths"] else None
