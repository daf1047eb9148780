"""The command lines of `validate` and `audit-code`, the two commands CI and pre-commit hooks run on
every push: every spelling their `--help` allows means the same, the console script prints what
the app prints, and a malformed command line is one usage error (exit 2, no traceback, nothing
written)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import run_cli, write

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = str(ROOT / "schemas")
APP = Path(__file__).parents[1] / "fixtures" / "app"


def console(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The command line as the console script runs it (bqmanage.cli:run), in a process of its own."""
    environ = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "bqmanage", *args], capture_output=True, text=True, cwd=cwd, env=environ)


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the sample application, bad definitions and a config file with a typo, as cwd."""
    shutil.copytree(APP, tmp_path / "app")
    write(tmp_path / "bad" / "ds" / "t.yaml", "columns:\n  - {name: id, type: INT46}\n  - {name: 2x, type: STRING}\n")
    write(tmp_path / "broken.yaml", "audit_code:\n  exclud: [x]\n")
    monkeypatch.chdir(tmp_path)
    for var in ("BQMANAGE_SCHEMAS", "BQMANAGE_CONFIG", "BQMANAGE_TARGET", "BQMANAGE_LOG_FORMAT"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.mark.parametrize(
    "args",
    [
        ["validate"],
        ["--schemas", "nowhere", "validate"],
        ["--schemas", "bad", "validate"],
        ["audit-code", "app", "--format", "json"],
        ["audit-code", "app/config", "app/src", "--fix", "--dry-run"],
        ["audit-code", "missing/"],
        ["audit-code", "app", "--format", "xml"],
        ["audit-code", "app", "--analyzer", "zeta"],
        ["--config", "broken.yaml", "audit-code", "app"],
        ["validate", "extra"],
        ["audit-code"],
    ],
)
def test_the_console_script_prints_what_the_app_prints(args: list[str], tree: Path) -> None:
    argv = args if args[0] == "--schemas" else ["--schemas", SCHEMAS, *args]
    done = console(*argv, cwd=tree)
    in_process = run_cli(*argv)
    # Usage lines name the program as it was started (python -m bqmanage, or the test runner's).
    same = [line for line in done.stderr.splitlines() if not line.startswith(("Usage:", "Try "))]
    # click's own usage errors: the console script (run()) prints them with bqmanage's one prefix,
    # the bare typer app as click does.
    app_lines = [
        line.replace("Error: ", "error: ", 1) if line.startswith("Error: ") else line for line in in_process.stderr.splitlines()
    ]
    assert same == [line for line in app_lines if not line.startswith(("Usage:", "Try "))]
    assert (done.returncode, done.stdout) == (in_process.exit_code, in_process.stdout)
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--schemas=" + SCHEMAS, "validate", "--format=json"],
        ["--schemas", SCHEMAS, "--target=local", "--log-format", "text", "validate", "--format", "json"],
        ["--project=", "--schemas", SCHEMAS, "validate", "--format", "json"],
    ],
)
def test_validate_takes_every_spelling_of_its_flags(args: list[str], tree: Path) -> None:
    done = console(*args, cwd=tree, env={"BQMANAGE_PROJECT": "", "BQMANAGE_LOCATION": "EU"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["valid"] is True


def test_validate_reads_the_global_flags_from_the_environment(tree: Path) -> None:
    done = console("validate", cwd=tree, env={"BQMANAGE_SCHEMAS": "bad"})
    assert done.returncode == 2 and done.stdout == ""
    assert "INT46" in done.stderr and "Traceback" not in done.stderr


def test_audit_code_options_repeat_and_take_both_spellings(tree: Path) -> None:
    every = console("--schemas", SCHEMAS, "audit-code", "app", "--format", "json", cwd=tree)
    assert every.returncode == 1, every.stderr
    files = {f["path"] for f in json.loads(every.stdout)["findings"]}
    assert any(p.endswith(".sql") for p in files) and any(p.endswith(".py") for p in files)
    argv = ["--schemas", SCHEMAS, "audit-code", "--include", "*.sql", "--include=*.yaml", "app", "--format=json", "-o", "r.json"]
    sql_only = console(*argv, cwd=tree)
    assert sql_only.returncode == 1 and sql_only.stdout == "", sql_only.stderr
    only = {f["path"] for f in json.loads((tree / "r.json").read_text())["findings"]}
    assert only and all(p.endswith((".sql", ".yaml")) for p in only)
    assert only == {p for p in files if p.endswith((".sql", ".yaml"))}
    excluded = console("--schemas", SCHEMAS, "audit-code", "app", "--exclude", "reports/", "--output=r2.json", cwd=tree)
    assert excluded.returncode == 1, excluded.stderr
    assert "daily_usage.sql" not in (tree / "r2.json").read_text()


@pytest.mark.parametrize(
    ("options", "report"),
    [
        (["-or.json"], "r.json"),  # a short option with its value attached
        (["--format", "json", "--format", "sarif", "-o", "r.sarif"], "r.sarif"),  # the last of a repeated option
        (["--output", "r.sarif", "--format=sarif"], "r.sarif"),
    ],
)
def test_audit_code_writes_its_report_where_each_spelling_says(options: list[str], report: str, tree: Path) -> None:
    done = console("--schemas", SCHEMAS, "audit-code", "app", *options, cwd=tree)
    assert (done.returncode, done.stdout) == (1, ""), done.stderr
    text = (tree / report).read_text()
    assert ('"version": "2.1.0"' in text) == report.endswith(".sarif")  # SARIF, else the text report
    assert "legacy" in text


def test_audit_code_takes_a_path_that_starts_with_a_dash_after_the_separator(tree: Path) -> None:
    write(tree / "-weird.sql", "SELECT * FROM customers.customer_usage_quotas\n")
    done = console("--schemas", SCHEMAS, "audit-code", "--", "-weird.sql", cwd=tree)
    assert done.returncode == 1, done.stderr
    assert "-weird.sql:1" in done.stdout


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["validate", "extra"], "extra"),
        (["validate", "--format", "yaml"], "--format"),
        (["validate", "--format", "json", "extra"], "extra"),
        (["--log-format", "xml", "validate"], "--log-format"),
        (["--unknown", "x", "validate"], "--unknown"),
        (["audit-code"], "PATH"),
        (["audit-code", "--fix=yes", "app"], "--fix"),
        (["audit-code", "app", "--format", "--fix", "-o", "r.json"], "--format"),
        (["audit-code", "app", "--dry-run", "-o", "r.json"], "--dry-run"),
        (["audit-code", "app", "--analyzer", "zeta", "-o", "r.json"], "--analyzer"),
        (["audit-code", "app", "--bogus"], "--bogus"),
        (["validate", "--format"], "--format"),
        (["audit-code", "app", "-o"], "-o"),
        (["audit-code", "app", "--include"], "--include"),
        (["audit-code", "app", "--format", "xml", "-o", "r.json"], "--format"),
        (["--target", "nowhere", "validate"], "--target"),
    ],
)
def test_a_malformed_command_line_is_one_usage_error(argv: list[str], named: str, tree: Path) -> None:
    before = sorted(p.relative_to(tree) for p in tree.rglob("*"))
    done = console("--schemas", SCHEMAS, *argv, cwd=tree)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert named in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""
    assert sorted(p.relative_to(tree) for p in tree.rglob("*")) == before  # no report, no fix
