"""How fast `bqmanage --help` answers, and which heavy libraries each command imports.

Measured on this machine, as a ratio against the naive approach in the same run: a CLI module
that imports its heavy dependencies (duckdb, the BigQuery client, sqlglot, pydantic) at the top.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("duckdb", "google.cloud.bigquery", "sqlglot", "pydantic")
NAIVE = "import duckdb, google.cloud.bigquery, sqlglot, pydantic; import bqmanage.cli; bqmanage.cli.app(['--help'])"
LAZY = "import bqmanage.cli; bqmanage.cli.app(['--help'])"


def _wall(code: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=False, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _imported(args: list[str]) -> list[str]:
    code = (
        "import sys, bqmanage.cli\n"
        f"try:\n    bqmanage.cli.app({args!r})\nexcept SystemExit:\n    pass\n"
        f"print('IMPORTED:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("IMPORTED:"))
    return [m for m in line[len("IMPORTED:") :].split(",") if m]


def run(runs: int = 7) -> dict[str, object]:
    lazy, naive = _wall(LAZY, runs), _wall(NAIVE, runs)
    return {
        "help_seconds": lazy,
        "naive_help_seconds": naive,
        "ratio": naive / lazy,
        "imports": {" ".join(a) or "--help": _imported(a) for a in (["--help"], ["validate"], ["render"])},
        "runs": runs,
    }


if __name__ == "__main__":
    result = run()
    print(
        f"bqmanage --help: {result['help_seconds']:.3f} s median of {result['runs']} "
        f"(naive eager imports: {result['naive_help_seconds']:.3f} s, {result['ratio']:.1f}x slower)"
    )
    for command, mods in result["imports"].items():  # type: ignore[union-attr]
        print(f"  {command}: imports {', '.join(mods) or 'none of ' + ', '.join(HEAVY)}")
