"""Thousands of tenants on the embedded (DuckDB) engine: `apply --all-tenants` creating every
tenant's datasets in one run, then a no-op `apply --all-tenants` and `check --all-tenants`, each a
whole CLI process, at 500 and 5,000 tenants (50 and 200 with --quick)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
import harness  # noqa: E402

SIZES = (500, 5000)
QUICK_SIZES = (50, 200)
WINDOW = 500  # tenants in the first and last window of the creating run


def _env(root: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "BQMANAGE_LOCAL_PATH": str(root / ".bqmanage" / "local.duckdb")}


def setup(root: Path, tenants: int) -> None:
    """The shipped definitions, the fixed datasets applied, and ``tenants`` active registry rows."""
    shutil.copytree(ROOT / "schemas", root / "schemas")
    subprocess.run([sys.executable, "-m", "bqmanage", "apply"], cwd=root, env=_env(root), check=True, capture_output=True)
    from bqmanage.engines.local import LocalEngine

    engine = LocalEngine(root / ".bqmanage" / "local.duckdb")
    try:
        engine.query(
            "INSERT INTO `tenants`.`tenant_profiles` (tenant_id, status, daily_limit, concurrent_limit, created_at) "
            "SELECT id, 'active', 100, 3, CURRENT_TIMESTAMP() FROM UNNEST(@ids) AS id",
            {"ids": [f"t{i:05d}" for i in range(tenants)]},
        )
    finally:
        engine.close()


def run(root: Path, *args: str) -> dict[str, Any]:
    """One CLI process: its wall time, the time at which each tenant finished (from the one line per
    tenant it prints when stderr is not a terminal), its exit code and its peak RSS."""
    command = [sys.executable, "-c", _PEAK, "-m", "bqmanage", *args]
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=root, env=_env(root), stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stderr is not None and process.stdout is not None
    marks: list[float] = []
    tail: list[str] = []
    for line in process.stderr:
        if line.startswith("[") and "] tenant " in line:
            marks.append(time.perf_counter() - start)
        elif line.startswith("peak_rss_kb="):
            peak = int(line.split("=", 1)[1])
        else:
            tail = (tail + [line])[-20:]
    out = process.stdout.read()
    code = process.wait()
    return {"seconds": time.perf_counter() - start, "marks": marks, "exit": code, "peak_mb": peak / 1024, "tail": "".join(tail), "out": out[-2000:]}


# Runs the CLI, then prints its own peak RSS on stderr (RUSAGE_SELF: this process, not the harness).
_PEAK = (
    "import sys, runpy, resource, atexit; sys.argv = ['bqmanage', *sys.argv[3:]]; "
    "atexit.register(lambda: print(f'peak_rss_kb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}', file=sys.stderr)); "
    "runpy.run_module('bqmanage', run_name='__main__')"
)


def per_tenant(marks: list[float], first: bool) -> float:
    """Seconds per tenant over the first (or last) WINDOW tenants (a tenth of them below 5,000)."""
    window = min(WINDOW, max(len(marks) // 10, 1))
    part = marks[:window] if first else marks[-window - 1 :]
    return (part[-1] - (0.0 if first else part[0])) / (len(part) if first else len(part) - 1)


def measure(tenants: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        setup(root, tenants)
        create = run(root, "apply", "--all-tenants")
        noop = run(root, "apply", "--all-tenants")
        check = run(root, "check", "--all-tenants")
    for name, done in (("create", create), ("no-op apply", noop)):
        if done["exit"] != 0:
            print(f"{name} at {tenants} tenants: exit {done['exit']}\n{done['tail']}", file=sys.stderr)
    return {"tenants": tenants, "create": create, "noop": noop, "check": check}


if __name__ == "__main__":
    for n in [int(a) for a in sys.argv[1:]] or [50]:
        r = measure(n)
        for k in ("create", "noop", "check"):
            d = r[k]
            first = per_tenant(d["marks"], True) if d["marks"] else 0
            last = per_tenant(d["marks"], False) if len(d["marks"]) > 1 else 0
            print(n, k, f"exit={d['exit']} {d['seconds']:.1f}s peak={d['peak_mb']:.0f}MB first={first*1000:.0f}ms last={last*1000:.0f}ms tenants={len(d['marks'])}")
            if d["exit"] not in (0,):
                print(d["tail"], d["out"])
