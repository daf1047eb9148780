"""What every command module of the CLI shares: the error funnel and the settings of a command."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from bqmanage.cli.direct import INTERRUPTED, check_text_or_json, error_text, running
from bqmanage.errors import EXIT_INTERRUPTED
from bqmanage.terminal import log

if TYPE_CHECKING:
    from bqmanage.project import Project
    from bqmanage.settings import Settings

__all__ = ["FORMAT", "check_text_or_json", "funnel", "project_of", "settings_of"]
F = TypeVar("F", bound=Callable[..., Any])

# --format of validate, plan, apply, inspect and import: their report, or one line of JSON
# (report/json_docs.py; deployment/schemas/<command>.schema.json).
FORMAT = typer.Option("text", "--format", help="text, or json (one line: deployment/schemas/<command>.schema.json).")


def funnel(func: F) -> F:
    """The one error funnel: expected failures print one message and exit with their code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from bqmanage.errors import BqmanageError

        try:
            with running():
                return func(*args, **kwargs)
        except BqmanageError as exc:
            log(error_text(exc), "ERROR")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            log(INTERRUPTED, "ERROR")
            raise typer.Exit(EXIT_INTERRUPTED) from None

    return wrapper  # type: ignore[return-value]


def settings_of(ctx: typer.Context) -> Settings:
    """The settings of the command ``ctx`` belongs to: the global flags the main callback kept in
    ``ctx.obj`` (a sub-command's context inherits it), then the environment and the config file."""
    from bqmanage.settings import resolve_settings

    return resolve_settings(**ctx.obj)


def project_of(ctx: typer.Context) -> Project:
    """The command's settings and its definitions, loaded and validated: bad definitions fail here,
    before any command opens the warehouse."""
    from bqmanage.project import Project

    return Project.load(settings_of(ctx))
