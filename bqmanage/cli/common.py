"""What every command module of the CLI shares: the error funnel and the settings of a command."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from bqmanage.cli.direct import INTERRUPTED, error_text, running
from bqmanage.errors import EXIT_INTERRUPTED

if TYPE_CHECKING:
    from bqmanage.project import Project
    from bqmanage.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def funnel(func: F) -> F:
    """The one error funnel: expected failures print one message and exit with their code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from bqmanage.errors import BqmanageError

        try:
            with running():
                return func(*args, **kwargs)
        except BqmanageError as exc:
            typer.echo(error_text(exc), err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            typer.echo(INTERRUPTED, err=True)
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
