"""audit-code output: text (one ``path:line:column:`` line per finding, as compilers print, so
editors can jump to it), JSON and SARIF through the shared report and sarif modules, and the
unified diff of --fix. Formatting only, no logic."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bqmanage.report.text import code_finding_line

if TYPE_CHECKING:
    from bqmanage.codeaudit.audit import CodeAuditResult


def findings_text(result: CodeAuditResult) -> str:
    out = [code_finding_line(f) for f in result.findings]
    if out:
        files = len({f.path for f in result.findings})
        errors = sum(1 for f in result.findings if f.severity == "error")
        out.append("")
        out.append(
            f"{len(result.findings)} finding(s) in {files} file(s): {errors} error(s), "
            f"{len(result.findings) - errors} warning(s)."
        )
    else:
        out.append("Clean: no legacy names and no unknown table or column references.")
    out.append(summary_text(result))
    return "\n".join(out) + "\n"


def summary_text(result: CodeAuditResult) -> str:
    s = result.summary()
    parts = [f"Read {s['files_read']} file(s), parsed {s['files_parsed']} that name a candidate table or dataset"]
    if s["skipped_binary"] or s["skipped_large"]:
        parts.append(f"skipped {s['skipped_binary']} binary and {s['skipped_large']} over the size limit")
    if result.stats.special:
        parts.append(f"skipped {len(result.stats.special)} that are not regular files (FIFO, socket or device)")
    if s["suppressed"]:
        parts.append(f"{s['suppressed']} finding(s) suppressed")
    if s["sql_statements"] or s["sql_unparsable"]:
        parts.append(f"{s['sql_statements']} SQL statement(s) checked, {s['sql_unparsable']} did not parse (skipped)")
    if s["unparsable_files"]:
        parts.append(f"{s['unparsable_files']} file(s) did not parse and were read loosely")
    return "; ".join(parts) + "."


def fix_text(result: CodeAuditResult, dry_run: bool) -> str:
    """The unified diff of every fixed file, then what was (or would be) written and what was not."""
    from bqmanage.terminal import printable, printable_lines

    # A diff's lines are the source's own; each starts with its marker, and sends no control sequence.
    out = [printable_lines(fix.diff()) for fix in result.fixes if fix.refused is None]
    for fix in result.fixes:
        if fix.refused is not None:
            out.append(printable(f"{fix.display}: not fixed: {fix.refused}; the file is untouched") + "\n")
    fixed = [f for f in result.fixes if f.refused is None]
    count = sum(f.count for f in fixed)
    verb = "Would fix" if dry_run else "Fixed"
    out.append(
        f"{verb} {count} legacy reference(s) in {len(fixed)} file(s)"
        + (" (dry run: nothing written)." if dry_run else ".")
        + "\n"
    )
    return "".join(out)
