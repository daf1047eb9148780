"""`validate` and `audit-code` run without typer (bqmanage/cli/direct.py): the command lines it
takes mean what they mean to the typer app, everything else still goes to typer, and the
console script's start-up imports neither typer nor what the command does not need."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bqmanage.cli import direct as cli_direct
from tests.helpers import run_cli, write

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = str(ROOT / "schemas")
APP = Path(__file__).parents[1] / "fixtures" / "app"


def console(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command line as the console script runs it (bqmanage.cli:run), in a process of its own."""
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "bqmanage", *args], capture_output=True, text=True, cwd=cwd, env=environ)


def imported(args: list[str], cwd: Path) -> set[str]:
    code = (
        "import sys\nfrom bqmanage.cli import run\ntry:\n    run()\nexcept SystemExit:\n    pass\n"
        "print('MODULES:' + ','.join(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("MODULES:"))
    return set(line[len("MODULES:") :].split(","))


def test_validate_and_audit_code_start_without_typer(tmp_path: Path) -> None:
    shutil.copytree(APP, tmp_path / "app")
    validate = imported(["--schemas", SCHEMAS, "validate"], tmp_path)
    assert not {"typer", "sqlglot", "duckdb", "google.cloud.bigquery", "bqmanage.changes"} & validate
    audit = imported(["--schemas", SCHEMAS, "audit-code", "app/config"], tmp_path)  # YAML only: no SQL to parse
    assert not {"typer", "sqlglot", "duckdb", "google.cloud.bigquery", "bqmanage.changes", "bqmanage.codeaudit.fix"} & audit
    assert "typer" in imported(["--schemas", SCHEMAS, "validate", "--help"], tmp_path)  # typer answers help


@pytest.mark.parametrize(
    "argv",
    [
        ["validate"],
        ["--schemas", "s", "--target=local", "--config", "c.yaml", "validate"],
        ["--project=", "validate"],
        ["--log-format", "json", "validate", "--format", "json"],
        ["--log-format=text", "validate", "--format=text"],
        ["audit-code", "src"],
        ["--schemas=s", "audit-code", "a", "--fix", "b", "--dry-run", "--format", "json", "-o", "out.json"],
        ["audit-code", "--include", "*.py", "--include=*.sql", "--exclude", "vendor/", ".", "--analyzer=googlesql"],
        ["audit-code", "-", "--output=-"],
    ],
)
def test_what_runs_directly_means_what_it_means_to_typer(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BQMANAGE_LOCATION", "EU")
    monkeypatch.setenv("BQMANAGE_PROJECT", "")  # typer ignores an empty variable
    monkeypatch.delenv("BQMANAGE_SCHEMAS", raising=False)
    parsed = cli_direct.parse(argv)
    assert parsed is not None
    command, kwargs = parsed
    calls: list[tuple[str, dict[str, Any]]] = []

    def validate(obj: dict[str, Any], fmt: str = "text") -> int:
        calls.append(("validate", {"obj": obj, "fmt": fmt}))
        return 0

    def audit_code(obj: dict[str, Any], paths: list[str], *args: Any) -> int:
        names = ("fix", "dry_run", "fmt", "output", "include", "exclude", "analyzer")
        calls.append(("audit_code", {"obj": obj, "paths": paths, **dict(zip(names, args, strict=True))}))
        return 0

    monkeypatch.setattr(cli_direct, "validate", validate)
    monkeypatch.setattr(cli_direct, "audit_code", audit_code)
    assert run_cli(*argv).exit_code == 0
    ((name, typer_kwargs),) = calls
    assert command.__name__ == name
    if name == "audit_code":  # an absent list option: None from typer, not passed at all here; both mean none
        defaults = {"fix": False, "dry_run": False, "fmt": "text", "output": None, "include": None, "exclude": None}
        kwargs = {**defaults, "analyzer": None, **kwargs}
        typer_kwargs = {k: v or (None if k in ("include", "exclude") else v) for k, v in typer_kwargs.items()}
    else:
        kwargs = {"fmt": "text", **kwargs}
    assert kwargs == typer_kwargs


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--help"],
        ["validate", "--help"],
        ["validate", "extra"],
        ["validate", "--format", "yaml"],
        ["validate", "--format", "json", "extra"],
        ["--log-format", "xml", "validate"],
        ["--log-format", "json", "--log-format", "json", "validate"],
        ["--target", "a", "--target", "b", "validate"],
        ["--schemas", "--target", "validate"],
        ["--unknown", "x", "validate"],
        ["audit-code"],
        ["audit-code", "--fix=yes", "."],
        ["audit-code", ".", "--format", "json", "--format", "sarif"],
        ["audit-code", ".", "-ojson"],
        ["audit-code", ".", "--format", "--fix"],
        ["audit-code", "--", "-weird-name"],
        ["audit-code", ".", "--help"],
        ["plan"],
    ],
)
def test_anything_else_goes_to_typer(argv: list[str]) -> None:
    assert cli_direct.parse(argv) is None


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
    ],
)
def test_the_console_script_prints_what_the_typer_app_prints(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(APP, tmp_path / "app")
    write(tmp_path / "bad" / "ds" / "t.yaml", "columns:\n  - {name: id, type: INT46}\n  - {name: 2x, type: STRING}\n")
    write(tmp_path / "broken.yaml", "audit_code:\n  exclud: [x]\n")
    argv = args if args[0] in ("--schemas",) else ["--schemas", SCHEMAS, *args]
    monkeypatch.chdir(tmp_path)
    for var in ("BQMANAGE_SCHEMAS", "BQMANAGE_CONFIG", "BQMANAGE_TARGET"):
        monkeypatch.delenv(var, raising=False)
    assert cli_direct.parse(argv) is not None
    direct = console(*argv, cwd=tmp_path)
    typer_run = run_cli(*argv)
    assert (direct.returncode, direct.stdout, direct.stderr) == (typer_run.exit_code, typer_run.stdout, typer_run.stderr)
