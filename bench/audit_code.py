"""How fast `bqmanage audit-code` reads a large tree, against `grep -rn` for the same names.

A generated tree of 20,000 source files (Python, SQL, YAML, JSON, JS/TS, shell; 1-6 KB each, as
application code is), of which 0.5% hold a legacy reference and 1% SQL on a managed table. Both
tools run in the same run on the same machine, page cache warm, as whole processes (audit-code's
start-up, imports and definitions included). grep gets the exact names audit-code pre-filters on
(legacy names and managed datasets) as fixed strings, and honours no .gitignore, so it reads a
little more; audit-code also parses and checks what it finds. Also measured: how fast Google's
analyzer starts once its compiled module is cached (``--analyzer googlesql``), and what the
second reading process buys (``BQMANAGE_AUDIT_PROCESSES=1`` reads in one).
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = 20_000
WORDS = [
    "def",
    "class",
    "return",
    "import",
    "from",
    "self",
    "value",
    "result",
    "data",
    "items",
    "config",
    "logger",
    "request",
    "response",
    "user",
    "session",
    "query",
    "table",
    "column",
    "index",
    "filter",
    "update",
    "create",
    "delete",
    "handler",
    "service",
    "client",
    "error",
    "status",
    "message",
    "count",
    "total",
    "limit",
    "offset",
    "page",
    "token",
    "retry",
    "backoff",
    "schema",
    "field",
    "record",
    "batch",
    "stream",
]
EXTS = [".py"] * 9 + [".sql"] * 2 + [".yaml"] * 2 + [".json", ".js", ".js", ".ts", ".sh"]
# One planted reference per kind of file (suppressed here, so that this repository audits clean).
LEGACY = {
    ".py": 'QUOTAS = f"SELECT * FROM `{PROJECT}.customers.customer_usage_quotas`"',  # bqmanage: ignore[legacy_reference]
    ".sql": "SELECT * FROM `acme-data-prod`.customers.customer_usage_quotas AS q;",  # bqmanage: ignore[legacy_reference]
    ".yaml": "quota_table: customers.customer_usage_quotas",  # bqmanage: ignore[legacy_reference]
    ".json": '"quota_table": "customers.customer_usage_quotas",',  # bqmanage: ignore[legacy_reference]
    ".js": 'const QUOTAS = "customers.customer_usage_quotas";',  # bqmanage: ignore[legacy_reference]
    ".ts": 'const QUOTAS: string = "customers.customer_usage_quotas";',  # bqmanage: ignore[legacy_reference]
    ".sh": "bq show acme-data-prod:customers.customer_usage_quotas",  # bqmanage: ignore[legacy_reference]
}
SQL = 'Q = "UPDATE tenants.tenant_usage_quotas SET pipelines_run_today = pipelines_run_today + 1 WHERE tenant_id = @t"'


def generate(root: Path, files: int = FILES, seed: int = 13) -> int:
    """Write the tree; returns how many legacy references were planted."""
    rng = random.Random(seed)
    planted = 0
    write(root / ".gitignore", "build/\n*.log\n")
    for i in range(files):
        ext = EXTS[i % len(EXTS)]
        lines = ["    " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 10))) for _ in range(rng.randint(25, 110))]
        if i % 200 == 7:
            lines.insert(rng.randint(0, len(lines)), LEGACY[ext])
            planted += 1
        if i % 100 == 3 and ext == ".py":
            lines.insert(rng.randint(0, len(lines)), SQL)
        # Filler that parses as what the file says it is: comments in Python, keys in YAML.
        if ext == ".py":
            lines = [line if line in (LEGACY[ext], SQL) else "# " + line.strip() for line in lines]
        elif ext == ".yaml":
            lines = [line if line == LEGACY[ext] else f"key_{n}: {line.strip()}" for n, line in enumerate(lines)]
        write(root / f"pkg{i % 40}" / f"mod{i % 400}" / f"f{i}{ext}", "\n".join(lines) + "\n")
    return planted


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def wall(argv: list[str], runs: int, env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess[str]]:
    times, last = [], None
    for _ in range(runs):
        start = time.perf_counter()
        last = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        times.append(time.perf_counter() - start)
    assert last is not None
    return statistics.median(times), last


def run(runs: int = 5, files: int = FILES) -> dict[str, object]:
    sys.path.insert(0, str(ROOT))
    from bqmanage.code_refs import LegacyIndex
    from bqmanage.loader import load_definitions
    from bqmanage.settings import LegacyConfig

    legacy = LegacyConfig()
    names = LegacyIndex(load_definitions(ROOT / "schemas"), legacy.datasets, legacy.prefixes).candidates()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        planted = generate(tree, files)
        grep = ["grep", "-rnF", *[a for n in names for a in ("-e", n)], str(tree)]
        audit = [
            sys.executable,
            "-m",
            "bqmanage",
            "--schemas",
            str(ROOT / "schemas"),
            "audit-code",
            str(tree),
            "--format",
            "json",
            "-o",
            str(Path(tmp) / "report.json"),
        ]
        wall(grep, 1)
        wall(audit, 1, env)  # warm the page cache for both
        grep_s, grep_out = wall(grep, runs)
        audit_s, audit_out = wall(audit, runs, env)
        one_process_s = wall(audit, runs, {**env, "BQMANAGE_AUDIT_PROCESSES": "1"})[0]
        import json

        report = json.loads((Path(tmp) / "report.json").read_text())
        size = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file())
        shutil.rmtree(tree)
    google = [sys.executable, "-c", "from bqmanage.googlesql import googlesql; googlesql()"]
    try:
        google_s = wall(google, runs, env)[0]
    except AssertionError:
        google_s = None
    return {
        "files": files,
        "megabytes": size / 1e6,
        "names": names,
        "planted": planted,
        "found": sum(1 for f in report["findings"] if f["kind"] == "legacy_reference"),
        "grep_lines": len(grep_out.stdout.splitlines()),
        "grep_seconds": grep_s,
        "audit_seconds": audit_s,
        "ratio": audit_s / grep_s,
        "one_process_seconds": one_process_s,
        "audit_exit": audit_out.returncode,
        "summary": report["summary"],
        "googlesql_start_seconds": google_s,
        "runs": runs,
    }


if __name__ == "__main__":
    r = run()
    print(f"tree: {r['files']:,} files, {r['megabytes']:.1f} MB; names: {', '.join(r['names'])}")  # type: ignore[arg-type]
    print(f"grep -rnF:          {r['grep_seconds']:.2f} s median of {r['runs']} ({r['grep_lines']} matching lines)")
    print(
        f"bqmanage audit-code: {r['audit_seconds']:.2f} s median of {r['runs']} "
        f"({r['found']} of {r['planted']} planted legacy references found, exit {r['audit_exit']})"
    )
    print(f"ratio audit-code / grep: {r['ratio']:.2f}x")
    print(
        f"audit-code reading in one process (BQMANAGE_AUDIT_PROCESSES=1): {r['one_process_seconds']:.2f} s "
        f"({r['one_process_seconds'] / r['grep_seconds']:.2f}x grep)"
    )  # type: ignore[operator]
    print(f"summary: {r['summary']}")
    if r["googlesql_start_seconds"] is not None:
        print(f"--analyzer googlesql start (cached module): {r['googlesql_start_seconds']:.2f} s median of {r['runs']}")
