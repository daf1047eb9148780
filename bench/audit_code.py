"""How fast `bqmanage audit-code` reads a large tree, against `grep -rn` for the same names,
from 2,500 to 20,000 files (issue 13: within 3x of grep at 20,000).

A generated tree of source files (Python, SQL, YAML, JSON, JS/TS, shell; 1-6 KB each, as
application code is), of which 0.5% hold a legacy reference and 1% SQL on a managed table. Both
tools run in the same run on the same machine, page cache warm, as whole processes (audit-code's
start-up, imports and definitions included). grep gets the exact names audit-code pre-filters on
(legacy names and managed datasets) as fixed strings, and honours no .gitignore, so it reads a
little more; audit-code also parses and checks what it finds. Also measured: what the second
reading process buys (``BQMANAGE_AUDIT_PROCESSES=1`` reads in one), and how fast Google's analyzer
starts once its compiled module is cached (``--analyzer googlesql``; skipped when it is not).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import harness  # noqa: E402

SIZES = (2_500, 5_000, 10_000, 20_000)
RUNS = 3
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


def generate(root: Path, files: int, seed: int = 13) -> int:
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


def candidate_names() -> list[str]:
    """The names audit-code pre-filters on for this repository's definitions: grep gets the same."""
    sys.path.insert(0, str(ROOT))
    from bqmanage.codeaudit.refs import LegacyIndex
    from bqmanage.definitions.load import load_definitions
    from bqmanage.settings import LegacyConfig

    legacy = LegacyConfig()
    return sorted(LegacyIndex(load_definitions(ROOT / "schemas"), legacy.datasets, legacy.prefixes).candidates())


def measure(files: int, names: list[str], runs: int = RUNS, one_process: bool = True) -> dict[str, Any]:
    """grep and audit-code on one generated tree of ``files`` files, median of ``runs`` each."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        planted = generate(tree, files)
        report_path = Path(tmp) / "report.json"
        grep = ["grep", "-rnF", *[a for n in names for a in ("-e", n)], str(tree)]
        audit = [sys.executable, "-m", "bqmanage", "--schemas", str(ROOT / "schemas"), "audit-code", str(tree)]
        audit += ["--format", "json", "-o", str(report_path)]
        wall(grep, 1)
        wall(audit, 1, env)  # warm the page cache for both
        load = os.getloadavg()[0]
        grep_s, grep_out = wall(grep, runs)
        audit_s, audit_out = wall(audit, runs, env)
        one_s = wall(audit, runs, {**env, "BQMANAGE_AUDIT_PROCESSES": "1"})[0] if one_process else None
        report = json.loads(report_path.read_text())
        size = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file())
        load = max(load, os.getloadavg()[0])
        shutil.rmtree(tree)
    return {
        "files": files,
        "megabytes": size / 1e6,
        "planted": planted,
        "found": sum(1 for f in report["findings"] if f["kind"] == "legacy_reference"),
        "grep_lines": len(grep_out.stdout.splitlines()),
        "grep_seconds": grep_s,
        "audit_seconds": audit_s,
        "one_process_seconds": one_s,
        "audit_exit": audit_out.returncode,
        "summary": report["summary"],
        "load": load,
    }


def googlesql_start(runs: int = RUNS) -> float | None:
    """Seconds to start Google's analyzer from its cached module; None when it is not cached or not installed."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "bqmanage"
    if not any(cache.glob("zetasql-*.cwasm")):
        return None  # the first run compiles it for about a minute: not what this measures
    code = "from bqmanage.codeaudit.googlesql import googlesql; googlesql()"
    seconds, out = wall([sys.executable, "-c", code], runs, {**os.environ, "PYTHONPATH": str(ROOT)})
    return seconds if out.returncode == 0 else None


METHOD = """
A generated tree of source files (Python, SQL, YAML, JSON, JS/TS, shell, 1-6 KB each, as
application code is), 0.5% of them with a planted legacy reference and 1% with SQL on a managed
table. grep and audit-code run as whole processes in the same run, page cache warm, median of
{runs} each: audit-code with its start-up, imports and definitions, and it parses and checks what it
finds; grep gets the same names ({names}) as fixed strings (`grep -rnF -e ...`) and honours no
`.gitignore`. "One process" is audit-code with `BQMANAGE_AUDIT_PROCESSES=1`. The machine is shared
by several engineers, so each row gives the highest one-minute load average seen while it ran; the
ratio, measured in the same run, is what counts.
"""

NOTES = """
audit-code's cost is a fixed start-up plus about grep's per-file cost, so the ratio falls as the
tree grows. Every size found all its planted references (exit 1).

What makes it fast:

- **A start-up that loads only what audit-code needs.** One parser, typer, for every command:
  what it adds to audit-code is its import, building the click commands and a pydantic adapter
  per parameter (0.1 ms each, as audit-code loads pydantic's schema machinery for its own models
  anyway), about 30-50 ms of CPU in all. The cyclic garbage collector is off in the console
  script through start-up and this one-shot command. Modules that only `check` or `--fix` need
  (the change types, the diff and temp-file machinery) are imported when those run.
- **Pre-filter on raw bytes, before any decoding or parsing.** Only files that contain a
  candidate name are parsed (189 of 20,000). The test is `bytearray.find` of the few literals
  that cover every name (`customer`, the prefix shared by three names, and `tenants`): Python's
  `re` scans an alternation of the names at about 80 MB/s, a substring search at memory speed,
  so the one compiled regex runs only on the hits.
- **One reused read buffer.** `os.readv` into a 64 KiB `bytearray` and `find` on it, against a
  fresh `bytes` per file (`os.read`) or `open().read()`; bytes are copied out only for hits.
- **`.gitignore` only where it matters.** Ignored directories are pruned on the way down, but a
  file's own ignore check (pathspec) runs only once it has passed the pre-filter.
- **libyaml** for YAML values (`CSafeLoader`): the pure-Python composer took 0.3 s for 11 files.
- **A second process, and the parser import behind it.** On a tree with 6 or more directories a
  forked child walks and reads about two thirds of it while the parent imports sqlglot (0.15-0.2 s),
  then reads the rest; only the files that may hold a name come back through a pipe.
  `BQMANAGE_AUDIT_PROCESSES=1` reads in one process: compare the two columns (on a loaded machine
  the second process helps less, or not at all).

bqmanage calls Google's analyzer (`--analyzer googlesql`) directly: the `zetasql` package's own
client imports 1.9 s of generated models and copies every request one byte per Python call, which
made each analysis cost 50-70 ms; through a registered catalog and `ctypes.memmove` a statement
takes 5-10 ms. The first run compiles the module (about a minute) into `~/.cache/bqmanage/`.
"""


def bench(quick: bool = False) -> harness.Result:
    names = candidate_names()
    sizes = SIZES[:1] if quick else SIZES
    rows = [measure(n, names, one_process=not quick) for n in sizes]
    google = None if quick else googlesql_start()
    last = rows[-1]
    ratio = last["audit_seconds"] / last["grep_seconds"]
    table = [
        [
            r["files"],
            round(r["megabytes"], 1),
            r["grep_seconds"],
            r["audit_seconds"],
            f"{r['audit_seconds'] / r['grep_seconds']:.2f}x",
            "-" if r["one_process_seconds"] is None else r["one_process_seconds"],
            "-" if r["one_process_seconds"] is None else f"{r['one_process_seconds'] / r['grep_seconds']:.2f}x",
            f"{r['found']}/{r['planted']}",
            f"{r['load']:.1f}",
        ]
        for r in rows
    ]
    notes = NOTES
    if google is not None:
        notes += f"\n`--analyzer googlesql` started in {google:.2f} s (median of {RUNS}) from its cached module.\n"
    files = [float(r["files"]) for r in rows]
    return harness.Result(
        name="audit_code",
        title="`bqmanage audit-code` against `grep -rn`",
        method=METHOD.format(runs=RUNS, names=", ".join(f"`{n}`" for n in names)),
        headers=["files", "MB", "grep -rnF s", "audit-code s", "ratio", "one process s", "ratio", "found", "load"],
        rows=table,
        notes=notes,
        plot=harness.Plot(
            title="audit-code against grep -rnF (wall seconds, median of 3)",
            xlabel="source files in the tree",
            ylabel="seconds",
            series=[
                harness.Series("grep -rnF (same names)", files, [r["grep_seconds"] for r in rows]),
                harness.Series("bqmanage audit-code", files, [r["audit_seconds"] for r in rows], "s-"),
                harness.Series("3x grep (the bound)", files, [3 * r["grep_seconds"] for r in rows], ":"),
            ],
        ),
        criteria=[
            harness.Criterion(
                f"audit-code within 3x of grep -rn at {last['files']:,} files",
                ratio <= 3.0 and last["found"] == last["planted"],
                f"{ratio:.2f}x ({last['audit_seconds']:.2f} s against {last['grep_seconds']:.2f} s; "
                f"{last['found']}/{last['planted']} planted found; load {last['load']:.1f})",
            )
        ],
    )


if __name__ == "__main__":
    harness.main(bench)
