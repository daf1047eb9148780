"""Stopping on Ctrl-C or SIGTERM without a traceback, wherever the signal lands.

Free of typer on purpose: run() installs the handler before it imports the command line, so a
signal during those imports is answered like one in the command.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

from bqmanage.errors import EXIT_INTERRUPTED
from bqmanage.terminal import log_text

INTERRUPTED = "interrupted; re-run to resume (every step is idempotent)"

# Whether a command is running (inside the error funnel), where an interrupt must unwind it; and
# whether the console script owns the process (run()), rather than a test or an application that
# calls the typer app in its own process.
RUNNING = {"command": False, "console": False}


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


def start_up() -> None:
    """The console script's start (run()): this process is the command's alone, so the cyclic
    garbage collector stays off through the imports and the parsing, which allocate what lives to
    the end and no cycles worth collecting (its passes over them cost 10-20 ms of CPU)."""
    import gc

    RUNNING["console"] = True
    gc.disable()


def collect_garbage(one_shot: bool) -> None:
    """As a command starts: a command that builds and keeps (validate, audit-code: ``one_shot``)
    leaves the collector off, about 5% of its run on 500 datasets or a large tree; every other
    command (apply on thousands of tenants, a long reset) gets it back. A process that is not the
    console script's (pytest, an application calling the app) keeps its collector untouched."""
    if RUNNING["console"] and not one_shot:
        import gc

        gc.enable()


@contextlib.contextmanager
def running() -> Iterator[None]:
    """Mark the command as running: an interrupt now unwinds it (KeyboardInterrupt)."""
    RUNNING["command"] = True
    try:
        yield
    finally:
        RUNNING["command"] = False
