"""The ``bqmanage`` entry point: every command line goes to the one typer app (bqmanage/cli/main.py),
whose error funnel (cli/common.py) answers every expected failure.

What typer costs on top of the command, measured (CPU, typer 0.29, Python 3.11): its import, 16-30
ms; building the click commands of every command, about 7 ms; parsing, with a pydantic
TypeAdapter per parameter of the invoked command, about 3 ms once pydantic's schema machinery is
loaded, which validate and audit-code load anyway for their own models. A --help imports no
pydantic at all. Plain click would save some 20-30 ms of that (a lighter import, no conversion of
the commands) for a rewrite of every command, so the one parser is typer; bench/RESULTS.md has the
start-up criteria it is held to.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: bqmanage/__init__.py says why

if TYPE_CHECKING:
    from typing import Any


def run() -> None:
    """Console-script entry point."""
    # A stop signal during the imports below would surface as a traceback from whichever module
    # was loading: answer it before importing anything. _signal is built into the interpreter;
    # the signal module is not (it imports enum, long enough for a Ctrl-C to land in it).
    import _signal  # type: ignore[import-not-found]  # typeshed has no stub for the built-in module

    _signal.signal(_signal.SIGTERM, _stop_during_start_up)
    _signal.signal(_signal.SIGINT, _stop_during_start_up)
    import os
    import signal
    import sys

    # pydantic looks for plugins in every installed package's entry points before it builds the
    # first model (0.07 s of CPU, an eighth of a `check`); the command line uses none. A value the
    # user set (plugins to leave out, or none) is theirs.
    if "PYDANTIC_DISABLE_PLUGINS" not in os.environ:
        os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"
        _no_plugin_loader()
    from bqmanage.cli.signals import start_up, terminate

    # Ctrl-C too: between commands (start-up, exit) it must not become a traceback either.
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    start_up()
    # click prints its own usage errors ("Error: No such option"), quoting the command line as
    # typed: they are printed here instead, as every other error line is ("error: ...", the value
    # escaped), and with --log-format json as one entry each.
    import typer

    from bqmanage.cli.main import app

    try:
        code = for_the_command(app, sys.argv[1:])(standalone_mode=False)
    except typer.Abort:
        _log_error("error: aborted; nothing was changed")
        sys.exit(1)
    except Exception as exc:
        # click's usage errors (ClickException: typer vendors click, so it is matched by what it
        # does, as its standalone mode prints it: show() and exit_code).
        if getattr(exc, "show", None) is None or not isinstance(getattr(exc, "exit_code", None), int):
            raise
        _log_error(_usage_error(exc))
        sys.exit(exc.exit_code)  # type: ignore[attr-defined]
    code = code if isinstance(code, int) else 0
    from bqmanage.cli.signals import finished

    finished(code)  # a command whose work completed ends here, before the interpreter's finalization
    sys.exit(code)


# The main callback's options that take a value (cli/main.py): the command is the first word
# after the global flags, as click reads it.
_VALUED = ("--target", "--project", "--location", "--schemas", "--config", "--log-format")


def invoked(argv: list[str]) -> str | None:
    """The command the command line names, or None where that is not plain (a flag of the group
    itself such as --help or --version, a flag typer does not know, no command)."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _VALUED:
            i += 2
        elif arg.startswith(tuple(f"{option}=" for option in _VALUED)):
            i += 1
        else:
            return None if arg.startswith("-") else arg
    return None


def for_the_command(app: Any, argv: list[str]) -> Any:
    """``app`` with the invoked command alone (or the invoked group, such as tenant), when the
    command line names one: typer builds a click command of every registered one before parsing,
    reading each function's signature and evaluating its annotations (5-8 ms of CPU for the
    fourteen). The command's help, its usage errors and what it does are its own, so they do not
    change; anything else (``--help``, an unknown command and its suggestion) gets the whole app."""
    import copy

    from typer.main import get_command_name

    name = invoked(argv)
    commands = [c for c in app.registered_commands if (c.name or get_command_name(c.callback.__name__)) == name]
    groups = [g for g in app.registered_groups if g.name == name]
    if not commands and not groups:
        return app
    only = copy.copy(app)  # the app itself stays whole: another caller of it sees every command
    only.registered_commands, only.registered_groups = commands, groups
    return only


def _no_plugin_loader() -> None:
    """pydantic's plugin loader, as it answers with every plugin disabled: no plugins.

    The real one (pydantic/plugin/_loader.py) imports importlib.metadata at its top, and with it
    email, zipfile, csv and tempfile (about 12 ms of CPU, 4% of a `check` on the demo), even when
    PYDANTIC_DISABLE_PLUGINS=__all__ means it never searches. pydantic asks it for one thing,
    get_plugins(), when it builds a validator; this module answers as the real one would, and is
    installed only when the console script disabled every plugin itself.
    tests/cli/test_startup_imports.py checks both halves: no search and no import of
    importlib.metadata by default, the real loader when the user names plugins to leave out.
    """
    import sys
    import types

    loader = types.ModuleType("pydantic.plugin._loader", "bqmanage: pydantic plugins disabled for this process")
    loader.get_plugins = tuple  # type: ignore[attr-defined]  # get_plugins() -> (): no plugins
    sys.modules.setdefault("pydantic.plugin._loader", loader)


def _usage_error(exc: Any) -> str:
    """What click's ``show()`` prints (the usage and a hint, then "Error: message"), with the one
    prefix every error line of bqmanage has, and the message escaped: it quotes the command line."""
    import io

    from bqmanage.terminal import printable

    shown = io.StringIO()
    exc.show(file=shown)
    text = shown.getvalue().rstrip("\n")
    message = exc.format_message()
    tail = f"Error: {message}"
    if not text.endswith(tail):
        return text  # no error line: the help that a group without its command shows
    return f"{text[: -len(tail)]}error: {printable(message)}"


def _stop_during_start_up(signum: int, frame: object) -> None:
    """signals.terminate's answer while nothing has started, with nothing but built-in modules
    (os is loaded before any user code)."""
    import os
    import sys

    message = "interrupted while no command was running; nothing was started or left half-done"
    if _json_logs(sys.argv[1:]):
        message = f'{{"severity": "ERROR", "message": "{message}"}}'
    os.write(2, message.encode() + b"\n")
    os._exit(130)


def _json_logs(argv: list[str]) -> bool:
    """Whether the command line asks for JSON log lines (the typer app's callback sets it only
    once the global flags are parsed; a usage error there is to be logged the same way)."""
    import os

    value = os.environ.get("BQMANAGE_LOG_FORMAT") or "text"
    for i, arg in enumerate(argv):
        if not arg.startswith("--"):
            break  # the command: the global flags are before it
        if arg.startswith("--log-format="):
            value = arg.partition("=")[2]
        elif arg == "--log-format" and i + 1 < len(argv):
            value = argv[i + 1]
    return value == "json"


def _log_error(message: str) -> None:
    import sys

    from bqmanage.terminal import log, set_log_format

    if _json_logs(sys.argv[1:]):  # a usage error can come before the callback that sets it
        set_log_format("json")
    log(message, "ERROR")


def __getattr__(name: str) -> Any:
    # ``from bqmanage.cli import app`` still names the typer app, imported only when asked for.
    if name == "app":
        from bqmanage.cli.main import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    run()
