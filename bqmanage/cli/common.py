"""What every command module of the CLI shares: the error funnel, the settings of a command and
what a report file must never overwrite."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from bqmanage.cli.signals import INTERRUPTED, collect_garbage, running
from bqmanage.errors import EXIT_INTERRUPTED
from bqmanage.terminal import log

if TYPE_CHECKING:
    from bqmanage.project import Project
    from bqmanage.settings import Settings

__all__ = ["FORMAT", "check_text_or_json", "funnel", "one_shot", "project_of", "protected", "settings_of"]
F = TypeVar("F", bound=Callable[..., Any])

# --format of validate, plan, apply, inspect and import: their report, or one line of JSON
# (report/json_docs.py; deployment/schemas/<command>.schema.json).
FORMAT = typer.Option("text", "--format", help="text, or json (one line: deployment/schemas/<command>.schema.json).")


def one_shot(func: F) -> F:
    """Mark a command that reads, builds and keeps until the process ends (signals.collect_garbage)."""
    func.one_shot = True  # type: ignore[attr-defined]
    return func


def funnel(func: F) -> F:
    """The one error funnel of every command: expected failures print one message and exit with
    their code; an interrupt says how to resume."""

    @functools.wraps(func)  # keeps one_shot, as it copies the function's attributes
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from bqmanage.errors import BqmanageError

        collect_garbage(getattr(func, "one_shot", False))
        try:
            with running():
                return func(*args, **kwargs)
        except BqmanageError as exc:
            log(exc.printed(), "ERROR")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            log(INTERRUPTED, "ERROR")
            raise typer.Exit(EXIT_INTERRUPTED) from None

    return wrapper  # type: ignore[return-value]


def check_text_or_json(fmt: str) -> None:
    """--format of validate, plan, apply, inspect, import and reset."""
    from bqmanage.errors import UsageError

    if fmt not in ("text", "json"):
        raise UsageError(f"--format: expected text or json, got {fmt!r}")


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


def settings_of(ctx: typer.Context) -> Settings:
    """The settings of the command ``ctx`` belongs to: the global flags the main callback kept in
    ``ctx.obj`` (a sub-command's context inherits it), then the environment and the config file."""
    from bqmanage.settings import resolve_settings

    return resolve_settings(**ctx.obj)


def project_of(ctx: typer.Context) -> Project:
    """The command's settings and its definitions, loaded and validated: bad definitions fail here,
    before any command opens the warehouse."""
    from bqmanage.cli import signals
    from bqmanage.project import Project

    project = Project.load(settings_of(ctx))
    project.on_done = signals.done  # a stop signal after its work completed no longer stops the command
    return project
