"""The ``bqmanage`` entry point: run the command line, starting no more of it than the command needs.

The typer app (bqmanage/cli/main.py) is the command line. Building it costs a start-up that the
commands CI and pre-commit hooks run on every push do not need to pay: importing typer, and a
pydantic adapter per parameter on every parse (0.2-0.3 s). So ``validate`` and ``audit-code``,
written in the plain forms their ``--help`` shows, run directly (bqmanage/cli/direct.py); every
other command line, ``--help`` and every malformed one go to the typer app, which also answers
the errors.
"""

from __future__ import annotations

from typing import Any


def run() -> None:
    """Console-script entry point."""
    import signal
    import sys

    from bqmanage.cli.direct import direct, terminate

    # Ctrl-C too: between commands (start-up, exit) it must not become a traceback either.
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    code = direct(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from bqmanage.cli.main import app

    app()


def __getattr__(name: str) -> Any:
    # ``from bqmanage.cli import app`` still names the typer app, imported only when asked for.
    if name == "app":
        from bqmanage.cli.main import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    run()
