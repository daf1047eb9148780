"""A read-only check loads what it needs: not sqlglot (its transpiler and DuckDB dialect cost 0.2 to
0.3 s of start-up), which only a statement the local engine runs needs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROBE = (
    "import sys\nfrom bqmanage.cli import run\ntry:\n    run()\nexcept SystemExit as exc:\n    code = exc.code\n"
    "print('EXIT', code, 'SQLGLOT', any(m == 'sqlglot' or m.startswith('sqlglot.') for m in sys.modules))"
)


def _run(workdir: Path, *args: str) -> str:
    env = {**os.environ, "BQMANAGE_LOCAL_PATH": str(workdir / "demo.duckdb")}
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=workdir, env=env, capture_output=True, text=True)
    return done.stdout.strip().splitlines()[-1]


def test_check_and_plan_on_the_demo_do_not_import_sqlglot(workdir: Path) -> None:
    assert _run(workdir, "apply") == "EXIT 0 SQLGLOT True"  # creating tables transpiles their defaults
    assert _run(workdir, "check") == "EXIT 0 SQLGLOT False"
    assert _run(workdir, "plan") == "EXIT 0 SQLGLOT False"
