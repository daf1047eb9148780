"""audit-code --fix: rewrite legacy references in place, and only when the file still parses.

Each edit replaces one identifier part (a dataset or a table name, inside any backticks), so
quoting and qualification stay as written. A file is written atomically (a temporary file in the
same directory, its mode copied, then renamed over the original), and only if it parses after
the fix: Python by ``ast``, YAML by ``yaml.safe_load_all``, JSON by ``json``; for SQL, no
statement that sqlglot parsed before may fail after (its coverage of BigQuery scripting is
partial, so a file with a procedural block is still fixed). A file that would not parse is left
untouched and reported, and its findings stay.
"""

from __future__ import annotations

import difflib
import json
import os
import stat
import tempfile
from dataclasses import dataclass

from bqmanage.codeaudit.refs import Edit


@dataclass
class FileFix:
    path: str  # as opened
    display: str
    before: str
    after: str
    count: int  # references rewritten
    refused: str | None = None  # why it was not written
    written: bool = False
    encoding: str = "utf-8"

    def diff(self) -> str:
        from bqmanage.terminal import printable

        # The headers name the file on their own line, whatever its name holds (a line break, an escape).
        shown = printable(self.display)
        lines = difflib.unified_diff(
            self.before.splitlines(keepends=True), self.after.splitlines(keepends=True), f"a/{shown}", f"b/{shown}"
        )
        return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def plan_fix(
    path: str, display: str, kind: str, text: str, edits: list[Edit], references: int, encoding: str = "utf-8"
) -> FileFix:
    """The file with every edit made (edits never overlap: each is one identifier part)."""
    after = text
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        after = after[: edit.start] + edit.text + after[edit.end :]
    fix = FileFix(path, display, text, after, references, encoding=encoding)
    fix.refused = _parse_problem(kind, text, after)
    return fix


def write(fix: FileFix) -> None:
    """Atomically replace the file with the fixed text, keeping its permissions."""
    target = os.path.realpath(fix.path)
    mode = stat.S_IMODE(os.stat(target).st_mode)
    fd, partial = tempfile.mkstemp(dir=os.path.dirname(target), prefix=f".{os.path.basename(target)}.", suffix=".bqmanage")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(fix.after.encode(fix.encoding, "surrogateescape"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(partial, mode)
        os.replace(partial, target)
    except BaseException:
        os.unlink(partial)
        raise
    fix.written = True


def _parse_problem(kind: str, before: str, after: str) -> str | None:
    if kind == "python":
        import ast

        try:
            ast.parse(after)
        except (SyntaxError, ValueError) as exc:
            return f"would not parse as Python after the fix ({exc.msg if isinstance(exc, SyntaxError) else exc})"
        return None
    if kind == "yaml":
        import yaml

        try:
            list(yaml.safe_load_all(after))
        except yaml.YAMLError as exc:
            return f"would not parse as YAML after the fix ({getattr(exc, 'problem', exc)})"
        return None
    if kind == "json":
        try:
            json.loads(after)
        except ValueError as exc:
            return f"would not parse as JSON after the fix ({exc})"
        return None
    if kind == "sql":
        broken = _sql_failures(after) - _sql_failures(before)
        return f"{len(broken)} statement(s) would no longer parse as SQL after the fix" if broken else None
    return None  # JS, shell, text: no parser here, and renaming inside a string cannot change syntax


def _sql_failures(text: str) -> set[str]:
    """The statements of a SQL file that sqlglot cannot parse, by their text with names blanked."""
    import re

    import sqlglot
    from sqlglot.errors import SqlglotError

    from bqmanage.codeaudit.lex import SQL_TOKENS, mask
    from bqmanage.codeaudit.sql import statements

    masked = mask(text, SQL_TOKENS)
    failures = set()
    for i, (a, b) in enumerate(statements(masked)):
        try:
            sqlglot.parse_one(masked[a:b], read="bigquery")
        except (SqlglotError, ValueError, RecursionError):
            failures.add(f"{i}:{re.sub(r'[A-Za-z0-9_]+', 'x', masked[a:b])}")
    return failures
