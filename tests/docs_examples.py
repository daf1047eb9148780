"""The documentation's examples, read from README.md and docs/*.md and run as a user would type them.

The convention, which tests/testing/test_docs.py enforces on every page:

- A ```console block shows commands (lines starting with ``$ ``) and what each prints. It is
  preceded by ``<!-- example: SETUP -->``, naming the sandbox it runs in (``SETUPS`` in
  tests/testing/test_docs.py: a fresh clone, the warehouse ``./dev demo`` leaves, ...). Every command is
  run there, in order, and its output (stdout and stderr as one stream, as a terminal shows them)
  must be the lines shown. A command that exits non-zero is followed by ``$ echo $?`` and its code.
- Two normalisations, and no others: a line ``...`` stands for any number of lines, and a line
  ending in ``...`` for any line that starts with the text before it.
- A ```sh block shows commands without output; its ``bqmanage`` commands are checked to name a
  real command and real options, without running them.
- ```text, ```yaml and ```python blocks show files or excerpts, never a ``$ `` command.
- docs/cli.md is generated from ``--help`` (python -m tests.cli_reference --write) and compared
  whole, so its blocks are not run one by one.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"<!--\s*example:\s*([\w-]+)\s*-->")
FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass(frozen=True)
class Block:
    page: str  # relative to the repository: README.md, docs/check.md
    line: int  # of the opening fence
    info: str  # console, sh, text, yaml, ...
    text: str
    setup: str | None  # from the marker just above the fence

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"

    def steps(self) -> list[tuple[str, list[str]]]:
        """(command, the lines shown after it) for each ``$ `` line of the block."""
        steps: list[tuple[str, list[str]]] = []
        for line in self.text.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:].strip(), []))
            elif steps:
                steps[-1][1].append(line)
            elif line.strip():
                raise AssertionError(f"{self.id}: output before the first command: {line!r}")
        return [(command, _trim(shown)) for command, shown in steps]


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(page: Path) -> list[Block]:
    """Every fenced block of one page, with the example marker that precedes it, if any."""
    lines = page.read_text().splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        before = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        marker = MARKER.fullmatch(before.strip())
        found.append(
            Block(
                page=str(page.relative_to(ROOT)),
                line=index + 1,
                info=opening.group(1),
                text="\n".join(lines[index + 1 : end]),
                setup=marker.group(1) if marker else None,
            )
        )
        index = end + 1
    return found


def all_blocks() -> list[Block]:
    return [block for page in pages() for block in blocks(page)]


def _trim(lines: list[str]) -> list[str]:
    lines = [line.rstrip() for line in lines]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def shown(actual: list[str], expected: list[str]) -> bool:
    """Whether ``actual`` is what ``expected`` shows: line for line, where ``...`` is any number of
    lines and a line ending in ``...`` any line that starts with what precedes it."""
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head == "...":
        return any(shown(actual[skip:], rest) for skip in range(len(actual) + 1))
    if not actual:
        return False
    line = actual[0]
    same = line.startswith(head[:-3]) if head.endswith("...") else line == head
    return same and shown(actual[1:], rest)


@dataclass
class Shell:
    """The few shell commands the examples use, run in-process in one sandbox directory."""

    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    # Values the sandbox cannot reproduce (the port a test's bqemulator got), as the docs show
    # them -> as they are here: replaced in each command, and back in its output.
    replace: dict[str, str] = field(default_factory=dict)
    status: int = 0

    def run(self, command: str) -> list[str]:
        for shown_as, real in self.replace.items():
            command = command.replace(shown_as, real)
        output = self._run(command)
        for shown_as, real in self.replace.items():
            output = [line.replace(real, shown_as) for line in output]
        return output

    def _run(self, command: str) -> list[str]:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        argv = list(lexer)  # operators outside quotes come out as tokens of their own
        if "`" in command or any(token and set(token) <= set("();<>|&") for token in argv):
            raise AssertionError(f"an example runs one plain command per line: {command!r}")
        if argv == ["echo", "$?"]:
            return [str(self.status)]
        if argv[0] == "cd" and len(argv) == 2:
            self.cwd = (self.cwd / argv[1]).resolve()
            self.status = 0
            return []
        if argv[0] == "export" and len(argv) == 2 and "=" in argv[1]:
            name, _, value = argv[1].partition("=")
            self.env[name] = value
            self.status = 0
            return []
        if argv[0] == "cat" and len(argv) == 2:
            self.status = 0
            return _trim((self.cwd / argv[1]).read_text().splitlines())
        if argv[0] == "bqmanage":
            self.status, output = bqmanage(argv[1:], self.cwd, self.env)
            return _trim(output.splitlines())
        raise AssertionError(f"an example runs a command the docs test does not know: {command!r}")


_OUTSIDE = ("BIGQUERY_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT", "GOOGLE_APPLICATION_CREDENTIALS", "CI")


@contextlib.contextmanager
def sandbox(cwd: Path, env: dict[str, str]) -> Iterator[None]:
    saved_env, saved_cwd = dict(os.environ), Path.cwd()
    saved_argv, saved_term = sys.argv, signal.getsignal(signal.SIGTERM)
    for name in [n for n in os.environ if n.startswith("BQMANAGE_") or n in _OUTSIDE]:
        if name != "BQMANAGE_EMULATOR_VENV":  # where the test tier keeps bqemulator, not a setting
            del os.environ[name]  # the example sees only what its sandbox sets
    os.environ.update(env)
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        sys.argv = saved_argv
        signal.signal(signal.SIGTERM, saved_term)


def bqmanage(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run ``bqmanage ARGS`` through the console script's own entry point, in-process (a process
    per command would cost a second of CPU each), stdout and stderr in one stream."""
    from bqmanage.cli import run

    stream = io.StringIO()
    with sandbox(cwd, env), contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
        sys.argv = ["bqmanage", *args]
        try:
            run()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return code, stream.getvalue()
