"""Every error bqmanage prints has one prefix, "error: ", whichever layer found it: click's usage
errors, a bad flag value, the config file, the definitions, a refused change, a warehouse that
cannot be read, both parsers (the direct one of validate and audit-code, and typer's), and JSON
log lines. Scripts grep for it; a second spelling ("Error:") would hide errors from them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import write
from tests.runtime import run

SCHEMAS_BROKEN = "table: t\ncolumns:\n  - {name: a, type: INT46}\n"


def _setup(case: str, workdir: Path) -> None:
    if case == "config":
        write(workdir / "bqmanage.yaml", "default_target: local\nunknown_setting: 1\n")
    elif case in ("definitions", "definitions-direct"):
        write(workdir / "schemas/tenants/broken.yaml", SCHEMAS_BROKEN)
    elif case == "local-path":  # a warehouse path that holds no DuckDB file: a warehouse failure
        write(workdir / ".bqmanage/local.duckdb", "not a duckdb file, only bytes that say so\n" * 100)


CASES = {
    "usage-typer": (["check", "--no-such-option"], 2),
    "usage-group": (["no-such-command"], 2),
    "bad-value": (["check", "--format", "xml"], 2),
    "bad-value-direct": (["audit-code", "--format", "xml", "."], 2),
    "missing-path-direct": (["audit-code", "does-not-exist"], 2),
    "config": (["check"], 2),
    "definitions": (["plan"], 2),
    "definitions-direct": (["validate"], 2),
    "not-applied": (["reset", "--date", "2026-12-01"], 2),
    "bad-tenant-id": (["tenant", "add", "Bad Id"], 2),
    "local-path": (["check"], 3),
    "warehouse": (["--target", "bigquery", "--project", "demo-project", "check"], 3),
}
# The warehouse case: an endpoint that refuses every connection, given up on at once.
UNREACHABLE = {"BIGQUERY_EMULATOR_HOST": "http://127.0.0.1:9", "BQMANAGE_RETRY_DEADLINE": "1"}


@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize("case", list(CASES))
def test_every_error_line_has_the_one_prefix(case: str, log_format: str, workdir: Path) -> None:
    args, code = CASES[case]
    _setup(case, workdir)
    done = run("--log-format", log_format, *args, cwd=workdir, **(UNREACHABLE if case == "warehouse" else {}))
    assert done.returncode == code, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    if log_format == "json":
        messages = [json.loads(line)["message"] for line in done.stderr.splitlines()]
        lines = [line for message in messages for line in message.split("\n")]
    else:
        lines = done.stderr.splitlines()
    errors = [line for line in lines if line.lower().startswith("error")]
    assert len(errors) == 1 and errors[0].startswith("error: "), done.stderr
