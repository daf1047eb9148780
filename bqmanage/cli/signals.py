"""How the command line answers a stop signal (Ctrl-C's SIGINT, or the SIGTERM Kubernetes, systemd
and CI runners send), wherever it lands.

A command goes through three phases, and the signal means something different in each:

- ``idle`` (start-up: imports, parsing; and after the command ended): there is nothing to unwind,
  and a KeyboardInterrupt would surface as a traceback or click's "Aborted!" (exit 1). Exit 130
  at once with one line.
- ``running``: unwind the command (KeyboardInterrupt): apply records the stop in its ledger, the
  error funnel says how to resume, exit 130.
- ``done``: the command's work is complete and recorded (``Project`` says so through
  ``on_done``); what is left is closing the warehouse and printing what was done. Stopping now
  would hide a success behind "interrupted", so the command finishes, prints its result and exits
  with its own code, after a note that the interrupt came too late to stop anything.

Free of typer on purpose: run() installs the handler before it imports the command line, so a
signal during those imports is answered like one in the command.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from types import FrameType

from bqmanage.errors import EXIT_INTERRUPTED
from bqmanage.terminal import log, log_text

INTERRUPTED = "interrupted; re-run to resume (every step is idempotent)"
IDLE_NOTE = "interrupted while no command was running; nothing was started or left half-done"
DONE_NOTE = "interrupted after the command had completed its work; finishing (nothing was left undone)"

PHASE = {"now": "idle"}
# Whether the console script owns the process (run()), rather than a test or an application that
# calls the typer app in its own process.
RUNNING = {"console": False}


def terminate(signum: int, frame: FrameType | None) -> None:
    phase = PHASE["now"]
    if phase == "running":
        if _in_finalizer(frame):
            # Raised here it would be "ignored" and printed as a traceback, or become an import
            # error: send it again in a moment, once the finalizer or the import is over.
            import threading

            timer = threading.Timer(0.05, os.kill, (os.getpid(), signum))
            timer.daemon = True
            timer.start()
            return
        raise KeyboardInterrupt
    if phase == "done":
        PHASE["now"] = "done, noted"  # one note however many signals arrive
        try:
            log(DONE_NOTE, "WARNING")
        except RuntimeError:  # the signal landed inside a write to stderr, which refuses a reentrant call
            _write_stderr(log_text(DONE_NOTE, "WARNING"))
        return
    if phase != "idle":
        return  # stopping already: the funnel is saying so
    with contextlib.suppress(OSError, RuntimeError, ValueError):  # a write the signal cut, a closed pipe
        sys.stdout.flush()
    _write_stderr(log_text(IDLE_NOTE, "ERROR"))
    os._exit(EXIT_INTERRUPTED)


def _in_finalizer(frame: FrameType | None) -> bool:
    """Whether the signal landed where a KeyboardInterrupt would not unwind the command: code whose
    exceptions Python ignores (printing a traceback as it does: a ``__del__``, the weak-reference
    callback import runs as it drops a module's lock), or a module being imported (the command's
    lazy imports: a C extension's initialisation, duckdb's, turns it into an ImportError)."""
    while frame is not None:
        if frame.f_code.co_name == "__del__" or frame.f_globals.get("__name__") == "importlib._bootstrap":
            return True
        frame = frame.f_back
    return False


def _write_stderr(line: str) -> None:
    # os.write, not sys.stderr: the process ends with os._exit, which flushes nothing, or the
    # signal landed inside a write to sys.stderr.
    with contextlib.suppress(OSError):
        os.write(2, line.encode() + b"\n")


def done() -> None:
    """The command's work is complete: from now on a stop signal no longer stops it."""
    if PHASE["now"] == "running":
        PHASE["now"] = "done"


def finished(code: int) -> None:
    """End the console script's process now when its command completed its work (``done``): the
    interpreter's finalization restores the default handlers, and a stop signal arriving then
    (tenants, apply, reset: the engine's modules take a while to tear down) would kill the process
    with 130 and no line after a success it has printed. What is written is flushed; nothing else
    is left to do (the warehouse is closed)."""
    if not (RUNNING["console"] and PHASE["now"].startswith("done") and _own_process()):
        return
    for stream in (sys.stdout, sys.stderr):
        if stream is None:
            continue  # closed when the process started (`2>&-`): nothing to flush
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            stream.flush()
    os._exit(code)


def _own_process() -> bool:
    """Whether the process is bqmanage's own (its console script, or ``python -m bqmanage``), not
    one that calls run() among other work (the docs' examples run it inside pytest)."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return (
        getattr(spec, "name", None) == "bqmanage.__main__" or os.path.basename(getattr(main, "__file__", "") or "") == "bqmanage"
    )


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
    console script's (pytest, an application calling the app) keeps its collector untouched.

    What start-up built (modules, classes, pydantic's validators, the parsed command line) lives
    to the end, so it is frozen first: the collector's passes then leave it alone. Unfrozen, the
    first passes after the collector came back went over all of it, 10-15 ms of a `check` on the
    demo, to find nothing."""
    if RUNNING["console"] and not one_shot:
        import gc

        gc.freeze()
        gc.enable()


@contextlib.contextmanager
def running() -> Iterator[None]:
    """Mark the command as running: an interrupt now unwinds it (KeyboardInterrupt). Once it
    ends, a signal finds it idle again, unless its work had completed."""
    PHASE["now"] = "running"
    try:
        yield
    except KeyboardInterrupt:
        PHASE["now"] = "stopping"  # a second signal must not cut the line that says how to resume
        raise
    finally:
        if PHASE["now"] == "running":
            PHASE["now"] = "idle"
