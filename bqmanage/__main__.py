"""``python -m bqmanage``: the console script's entry point.

A stop signal is answered from the first line: _signal is built into the interpreter (the signal
module is not: it imports enum), and the handler below needs no import, so a Ctrl-C that lands
while the command line's modules load exits 130 with one line, as cli.run's own handler does once
it is installed, never with a traceback from an import.
"""

import _signal  # type: ignore[import-not-found]  # typeshed has no stub for the built-in module
import os
import sys


def _stop_before_run(signum: int, frame: object) -> None:
    message = "interrupted while no command was running; nothing was started or left half-done"
    args = sys.argv[1:]
    json_logs = os.environ.get("BQMANAGE_LOG_FORMAT") == "json" or "--log-format=json" in args
    json_logs = json_logs or ("--log-format" in args and args[args.index("--log-format") + 1 :][:1] == ["json"])
    line = f'{{"severity": "ERROR", "message": "{message}"}}' if json_logs else f"error: {message}"
    os.write(2, line.encode() + b"\n")
    os._exit(130)


_signal.signal(_signal.SIGINT, _stop_before_run)
_signal.signal(_signal.SIGTERM, _stop_before_run)

from bqmanage.cli import run  # noqa: E402  (after the handler, on purpose)

run()
