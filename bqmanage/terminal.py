"""Text from outside (a warehouse, a definition, a flag) as it may be printed on a terminal or in a CI log.

A value printed raw can start a line of its own (a GitHub workflow command such as
``::error file=x::forged`` is any line that starts with ``::``), move the cursor back over what was
printed (``\\r``), or send the terminal a control sequence (ESC, OSC, C1 controls). So every such
value is printed through ``printable``, which writes each of those characters as a visible escape,
and messages made of several lines through ``printable_lines``. JSON and SARIF need none of this:
their encoder escapes control characters itself, and they carry the value exactly.
"""

from __future__ import annotations

import re

# C0 controls (newline and tab included), DEL and the C1 controls; the Unicode line and paragraph
# separators, which some viewers break lines at; and the bidirectional overrides, which reorder
# what is shown (https://trojansource.codes), and the BOM.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def printable(value: object) -> str:
    """``value`` as text that stays on its line and sends no control sequence."""
    text = str(value)
    return _UNSAFE.sub(_escape, text) if _UNSAFE.search(text) else text


def printable_lines(text: str) -> str:
    """A message of several lines, each made printable: only its own line breaks stay."""
    return "\n".join(printable(line) for line in text.split("\n"))


# How lines on stderr are written: "text" as they read, or "json", one object per line with the
# ``severity`` and ``message`` fields Cloud Logging reads from a container's output
# (https://cloud.google.com/logging/docs/structured-logging), so that a collector that splits
# stderr by line (GKE's) keeps each message whole and at its severity. Set once per process by the
# command line's --log-format (or BQMANAGE_LOG_FORMAT).
LOG_FORMATS = ("text", "json")
_LOG = {"format": "text"}


def set_log_format(value: str) -> None:
    if value not in LOG_FORMATS:
        raise ValueError(value)
    _LOG["format"] = value


def json_logs() -> bool:
    return _LOG["format"] == "json"


def log_text(message: str, severity: str = "INFO") -> str:
    """``message`` as the line(s) ``log`` writes."""
    if _LOG["format"] == "json":
        import json

        return json.dumps({"severity": severity, "message": message})
    return message


def log(message: str, severity: str = "INFO") -> None:
    """The one way bqmanage writes a line to stderr: progress (INFO), notes (WARNING) and errors
    (ERROR). The stream is looked up when called, as tests swap it."""
    import sys

    stream = sys.stderr
    if stream is None:  # started with stderr closed (`2>&-`): there is nowhere to say it
        return
    stream.write(log_text(message, severity) + "\n")
    stream.flush()


def is_terminal(stream: object) -> bool:
    """Whether ``stream`` (sys.stderr or sys.stdout, looked up by the caller) is a terminal. A
    stream the process was started without (`2>&-`: Python then has None) is not one."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())
