"""The error tree. Every expected failure is a BqmanageError carrying its exit code.

The CLI has one funnel that prints ``str(error)`` and exits with ``error.exit_code``;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_FINDINGS = 1  # drift, legacy names, pending steps
EXIT_BAD_INPUT = 2  # definitions, flags, config, identifiers, a refused change
EXIT_WAREHOUSE = 3  # auth, API, network, after retries
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM, as shells report a SIGINT death (128 + 2): re-run to resume

# Text (messages and text output) names at most this many items of a list; JSON output always
# carries all of them.
LIST_LIMIT = 20


def capped(lines: list[str], limit: int = LIST_LIMIT) -> list[str]:
    """The first ``limit`` lines of a long listing, then one line saying how many were left out."""
    if len(lines) <= limit:
        return lines
    return [*lines[:limit], f"  ... and {len(lines) - limit} more"]


class BqmanageError(Exception):
    """Base of every expected failure."""

    exit_code: int = EXIT_BAD_INPUT
    # A message of several lines by design (each problem, each step on its own); any other is one
    # line, and a line break in it came from a quoted value, which the CLI then prints escaped.
    multiline: bool = False
    headline: int = 0  # of a message of several lines, the one that says what failed

    def printed(self) -> str:
        """How it is printed: one line, "error: " and where, or the lines of a message made of
        several (every definition problem), its headline with that prefix. Whatever it quotes is printed
        escaped (terminal.py), so that a quoted value can start no line of its own."""
        from bqmanage.terminal import printable, printable_lines

        message = str(self)
        if self.multiline and "\n" in message:
            # One prefix for every error, whatever its shape: the line that says what failed
            # carries it (the located problem lines of a DefinitionError stay "path:line: ...",
            # as editors and CI problem matchers read them).
            lines = printable_lines(message).split("\n")
            lines[self.headline] = f"error: {lines[self.headline]}"
            return "\n".join(lines)
        return f"error: {printable(message)}"


@dataclass(frozen=True)
class Problem:
    """One definition problem, located at ``path:line: key_path``."""

    path: str
    line: int | None
    key_path: str
    message: str

    def __str__(self) -> str:
        from bqmanage.terminal import printable

        # One line each, whatever a file name or a quoted value holds: DefinitionError joins them.
        where = f"{self.path}:{self.line}" if self.line else self.path
        key = f" {self.key_path}:" if self.key_path else ""
        return printable(f"{where}:{key} {self.message}")


class DefinitionError(BqmanageError):
    """The definitions under schemas/ are invalid; carries every problem found."""

    multiline = True
    headline = -1  # "N problems in the definitions.", after the problems

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        noun = "problem" if len(problems) == 1 else "problems"
        lines = [str(p) for p in problems]
        lines.append(f"{len(problems)} {noun} in the definitions.")
        super().__init__("\n".join(lines))


class ImportRefusedError(DefinitionError):
    """The definitions import generated (with those already in place) do not validate; nothing was written."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        noun = "problem" if len(problems) == 1 else "problems"
        lines = [*(str(p) for p in problems), f"{len(problems)} {noun} in the imported definitions; nothing was written."]
        self.args = ("\n".join(lines),)


class ConfigError(BqmanageError):
    """Bad settings, flags or config file."""


class UsageError(BqmanageError):
    """A bad argument value (identifier, date, tenant id...)."""


class NotAppliedError(BqmanageError):
    """The warehouse lacks a table the command needs; ``apply`` creates it. Nothing was run."""


class RefusedChangeError(BqmanageError):
    """The plan contains changes BigQuery cannot make in place; nothing was run."""

    multiline = True


class WarehouseError(BqmanageError):
    """The warehouse failed after retries (auth, API, network)."""

    exit_code = EXIT_WAREHOUSE


class ApplyError(WarehouseError):
    """A step of an apply failed; earlier steps ran, later ones did not (the message lists both)."""

    multiline = True


class DefaultsRejected(WarehouseError):
    """BigQuery rejected the column defaults of a tables.patch; apply sets them with DDL instead."""


class StreamingBufferError(WarehouseError):
    """DML would change rows still in a table's streaming buffer (legacy streaming inserts), which
    BigQuery refuses for up to 90 minutes. Not retried: it clears in minutes, not seconds."""
