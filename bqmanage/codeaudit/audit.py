"""audit-code: legacy names and unknown table/column references in source files.

The stages, one module each: walk the files (code_scan), cut each into the pieces where a name
can be a reference (code_lex), find legacy names (code_refs) and check SQL against the
definitions (code_sql), then suppress what the code or the config accepts, and fix (code_fix).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bqmanage.check.findings import SEVERITY, Finding
from bqmanage.codeaudit.config import AuditCodeConfig
from bqmanage.codeaudit.lex import Lines, Piece, pieces
from bqmanage.codeaudit.read import Prefilter
from bqmanage.codeaudit.refs import Edit, LegacyIndex
from bqmanage.codeaudit.scan import Scanner, ScanStats
from bqmanage.codeaudit.sql import (
    Analyzer,
    names_managed_dataset,
    statements,
    with_parameters,
)
from bqmanage.model.schema import Definitions
from bqmanage.settings import LegacyConfig

if TYPE_CHECKING:
    import pathspec

    from bqmanage.codeaudit.fix import FileFix

# `# bqmanage: ignore`, `-- bqmanage: ignore[legacy_reference]`, `// bqmanage: ignore[a, b]`
_IGNORE = re.compile(r"(?:#|--|//)\s*bqmanage:\s*ignore(?:\[([\w\s,]*)\])?")


@dataclass
class CodeAuditResult:
    findings: list[Finding]
    stats: ScanStats
    suppressed: int = 0
    sql_statements: int = 0  # statements on a managed dataset that were analyzed
    sql_unparsable: int = 0  # statements that did not parse: counted, never a finding
    unparsable_files: int = 0  # files of a known language that did not parse (read loosely instead)
    fixes: list[FileFix] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.findings

    @property
    def fixed(self) -> int:
        return sum(f.count for f in self.fixes if f.written)

    def summary(self) -> dict[str, int]:
        return {
            "files_read": self.stats.read,
            "files_parsed": self.stats.parsed,
            "skipped_binary": self.stats.skipped_binary,
            "skipped_large": self.stats.skipped_large,
            "unparsable_files": self.unparsable_files,
            "sql_statements": self.sql_statements,
            "sql_unparsable": self.sql_unparsable,
            "suppressed": self.suppressed,
            "fixed": self.fixed,
            "fix_refused": sum(1 for f in self.fixes if f.refused),
        }


@dataclass(frozen=True)
class _Found:
    finding: Finding
    edits: tuple[Edit, ...]  # what --fix writes (empty: not fixable in place)
    names: frozenset[str]  # what a config allowlist entry may name


def audit_code(
    paths: list[Path],
    desired: Definitions,
    legacy: LegacyConfig,
    config: AuditCodeConfig,
    *,
    skip: frozenset[Path] = frozenset(),
    analyzer: str | None = None,
    fix: bool = False,
    dry_run: bool = False,
    notice: Callable[[str], None] | None = None,
) -> CodeAuditResult:
    """Scan ``paths``; with ``fix``, rewrite legacy references (``dry_run``: only compute the diffs)."""
    index = LegacyIndex(desired, legacy.datasets, legacy.prefixes)
    analyzer = analyzer or config.analyzer
    scanner = Scanner(
        paths,
        Prefilter(index.candidates()),
        config.include,
        config.exclude,
        skip,
        config.max_file_bytes,
        meanwhile=_warm_sqlglot if analyzer == "sqlglot" else None,
    )
    allow_paths = _allow_paths(config)
    result = CodeAuditResult([], scanner.stats)
    sql: Analyzer | None = None
    for source in scanner.files():
        encoding = _encoding(source.kind, source.data)
        text = source.data.decode(encoding, "surrogateescape")
        found, parsed = pieces(source.kind, text)
        result.unparsable_files += not parsed
        lines = Lines(text)
        file_found: list[_Found] = []
        for piece in found:
            legacy_found, legacy_spans = _legacy_findings(index, piece, text, lines, source.display)
            file_found += legacy_found
            if piece.sql and names_managed_dataset(piece.text, index.managed):
                sql = sql or _analyzer(analyzer, index, desired, notice)
                file_found += _sql_findings(sql, index, piece, legacy_spans, lines, source.display, result)
        kept = _unsuppressed(result, file_found, lines, source.display, allow_paths, frozenset(config.allow.names))
        edits = [e for f in kept for e in f.edits]
        if fix and edits:
            from bqmanage.codeaudit.fix import plan_fix, write  # only --fix writes: its imports wait for it

            planned = plan_fix(source.path, source.display, source.kind, text, edits, sum(1 for f in kept if f.edits), encoding)
            result.fixes.append(planned)
            if planned.refused is None and not dry_run:
                write(planned)
                kept = [f for f in kept if not f.edits]  # every edit was made: those are fixed
        result.findings += [f.finding for f in kept]
    result.findings += _unaudited(scanner.stats)
    if notice is not None:
        from bqmanage.terminal import printable

        for path in scanner.stats.special:  # not source, so no finding; but never skipped unsaid
            notice(f"skipped {printable(path)}: not a regular file (a FIFO, socket or device); not audited")
    result.findings.sort(key=lambda f: (f.path or "", f.line or 0, f.col or 0, f.kind))
    result.fixes.sort(key=lambda f: f.display)
    return result


def _legacy_findings(
    index: LegacyIndex, piece: Piece, text: str, lines: Lines, display: str
) -> tuple[list[_Found], list[tuple[int, int]]]:
    """The piece's legacy references as findings, and their spans (in the piece)."""
    out, spans = [], []
    for ref in index.find(piece):
        spans.append((ref.start, ref.end))
        edits = tuple(
            Edit(piece.at(a), piece.at(b), new) for a, b, new in ref.edits if piece.at(b) - piece.at(a) == b - a
        )  # a part written with escapes is not fixed in place
        fixable = len(edits) == len(ref.edits)
        actual, replacement = (
            _as_written(text, piece.at(ref.start), piece.at(ref.end), edits) if fixable else (ref.actual, ref.replacement)
        )
        line, col = lines.position(piece.at(ref.start))
        dataset, _, table = ref.target.partition(".")
        finding = Finding(
            "legacy_reference",
            SEVERITY["legacy_reference"],
            f"{actual} is a legacy name; use {replacement}",
            dataset=dataset,
            table=table or None,
            actual=actual,
            expected=ref.target,
            replacement=replacement,
            path=display,
            line=line,
            col=col,
        )
        out.append(_Found(finding, edits if fixable else (), ref.names))
    return out, spans


def _unaudited(stats: ScanStats) -> list[Finding]:
    """What the walk could not audit, as findings: a run that skipped something is never clean."""
    out = [
        Finding(
            "unreadable_path",
            SEVERITY["unreadable_path"],
            f"cannot read {'directory' if path.endswith('/') else 'file'}: {why}; it was not audited",
            path=path,
        )
        for path, why in stats.unreadable
    ]
    out += [
        Finding(
            "skipped_link",
            SEVERITY["skipped_link"],
            "link to a path outside the audited directories (or to nothing); not followed, so not audited: "
            "audit its target directly, or exclude the link",
            path=path,
        )
        for path, _target in stats.links
    ]
    return out


def _encoding(kind: str, data: bytes) -> str:
    """UTF-8, except a Python file's own coding declaration (PEP 263), which --fix keeps."""
    if kind != "python":
        return "utf-8"
    import io
    import tokenize

    try:
        return tokenize.detect_encoding(io.BytesIO(data).readline)[0]
    except (SyntaxError, LookupError):
        return "utf-8"


def _warm_sqlglot() -> None:
    """Import sqlglot and its BigQuery dialect (a fifth of a second) while a second process reads."""
    import sqlglot

    sqlglot.parse_one("SELECT 1", read="bigquery")


def _as_written(text: str, start: int, end: int, edits: tuple[Edit, ...]) -> tuple[str, str]:
    """The reference as the file spells it ({PROJECT}, not the placeholder), and as fixed."""
    actual = text[start:end]
    replaced = actual
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        replaced = replaced[: edit.start - start] + edit.text + replaced[edit.end - start :]
    return actual, replaced


def _analyzer(name: str, index: LegacyIndex, desired: Definitions, notice: Callable[[str], None] | None) -> Analyzer:
    from bqmanage.codeaudit.sql import GoogleSqlAnalyzer, SqlglotAnalyzer

    if name == "googlesql":
        return GoogleSqlAnalyzer(index, desired.tables, notice)
    return SqlglotAnalyzer(index)


def _sql_findings(
    sql: Analyzer,
    index: LegacyIndex,
    piece: Piece,
    legacy_spans: list[tuple[int, int]],
    lines: Lines,
    display: str,
    result: CodeAuditResult,
) -> list[_Found]:
    """The table and column findings of each statement in the piece that names a managed dataset."""
    out = []
    for a, b in statements(piece.text):
        holes = tuple((h0 - a, h1 - a) for h0, h1 in piece.holes if a <= h0 and h1 <= b)
        statement = with_parameters(piece.text[a:b], holes)
        if not names_managed_dataset(statement, index.managed):
            continue
        issues = sql.check(statement)
        if issues is None:
            result.sql_unparsable += 1
            continue
        result.sql_statements += 1
        for issue in issues:
            at = a + issue.start
            if any(s <= at < e for s, e in legacy_spans):
                continue  # a legacy name: that finding already says what to write
            line, col = lines.position(piece.at(at))
            table = f"{issue.dataset}.{issue.table}" if issue.dataset and issue.table else None
            names = frozenset(n for n in (issue.actual, table, f"{table}.{issue.actual}" if table else None) if n)
            out.append(
                _Found(
                    Finding(
                        issue.kind,
                        SEVERITY[issue.kind],
                        issue.message,
                        dataset=issue.dataset,
                        table=issue.table,
                        actual=issue.actual,
                        expected=issue.expected,
                        replacement=issue.expected,
                        path=display,
                        line=line,
                        col=col,
                    ),
                    (),
                    names,
                )
            )
    return out


def _unsuppressed(
    result: CodeAuditResult,
    found: list[_Found],
    lines: Lines,
    display: str,
    allow_paths: pathspec.GitIgnoreSpec | None,
    allow_names: frozenset[str],
) -> list[_Found]:
    """The findings neither an inline comment nor the config's allowlist accepts; the rest are counted."""
    path_allowed = allow_paths is not None and allow_paths.match_file(display)
    kept = []
    # Each line's marker is read once: a minified line holds thousands of findings, and reading
    # the line again for each made audit-code quadratic in them.
    markers: dict[int, frozenset[str] | None] = {}
    for found_one in found:
        finding = found_one.finding
        line = finding.line or 1
        if line not in markers:
            markers[line] = _ignored_kinds(lines.line_text(line))
        kinds = markers[line]
        if (kinds is not None and (not kinds or finding.kind in kinds)) or path_allowed or found_one.names & allow_names:
            result.suppressed += 1
        else:
            kept.append(found_one)
    return kept


def _ignored_kinds(line: str) -> frozenset[str] | None:
    """The kinds a line's ``bqmanage: ignore`` marker names (empty: every kind), None without one."""
    marker = _IGNORE.search(line)
    if marker is None:
        return None
    return frozenset(k.strip() for k in (marker.group(1) or "").split(",") if k.strip())


def _allow_paths(config: AuditCodeConfig) -> pathspec.GitIgnoreSpec | None:
    from bqmanage.codeaudit.scan import compile_patterns

    return compile_patterns(config.allow.paths, "audit_code.allow.paths") if config.allow.paths else None
