"""What start-up loads: a command imports what it needs and no more. `--help` imports no pydantic
and no database client; `validate` and `audit-code` (run on every push) none of the SQL parser,
the engines or the change kinds they do not use; a read-only check not sqlglot (its transpiler and
DuckDB dialect cost 0.2 to 0.3 s of start-up), which only a statement the local engine runs needs.
And the cyclic garbage collector: off for the console script's one-shot reading commands, on for
the others (with what start-up built frozen) and for a process that is not the console script's."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = str(ROOT / "schemas")
APP = Path(__file__).parents[1] / "fixtures" / "app"
HEAVY = {"pydantic", "sqlglot", "duckdb", "google.cloud.bigquery", "bqmanage.changes", "bqmanage.project"}
PROBE = (
    "import gc, sys\nfrom bqmanage.cli import run\ntry:\n    run()\nexcept SystemExit as exc:\n    code = exc.code\n"
    "print('EXIT', code, 'GC', gc.isenabled(), 'FROZEN', gc.get_freeze_count() > 0)\n"
    "print('MODULES', ','.join(sorted(sys.modules)))"
)


def _run(workdir: Path, *args: str) -> tuple[str, set[str]]:
    """The exit code and whether the collector was on, as one line, and the modules imported."""
    env = {**os.environ, "BQMANAGE_LOCAL_PATH": str(workdir / "demo.duckdb"), "PYTHONPATH": str(ROOT)}
    env.pop("PYDANTIC_DISABLE_PLUGINS", None)  # as a user runs it: the console script disables the plugins
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=workdir, env=env, capture_output=True, text=True)
    *_, outcome, modules = done.stdout.strip().splitlines()
    return outcome, set(modules.removeprefix("MODULES ").split(","))


def _has(modules: set[str], package: str) -> bool:
    # A submodule is imported only after its package, so the package's own name says it; the
    # console script's stand-in for pydantic's plugin loader (cli/__init__.py) is put in
    # sys.modules before pydantic is imported, and imports nothing.
    return package in modules


# What a plain read-only check or plan on the local engine does without (each costs start-up):
# sqlglot, which only a statement the local engine runs needs (0.2 to 0.3 s); duckdb's Python
# package, whose relational API the engine never calls (its C extension, _duckdb, is the client:
# engines/duck_client.py); importlib.metadata, which pydantic's plugin loader imports though
# plugins are disabled (cli/__init__.py); the tenant fleet's thread pool, for no tenants; pickle,
# which only reading the definitions in two processes needs (from 64 datasets).
NOT_FOR_A_READ = ("sqlglot", "duckdb", "importlib.metadata", "bqmanage.tenants.fleet", "concurrent.futures", "pickle")


def test_check_and_plan_on_the_demo_import_only_what_they_use(workdir: Path) -> None:
    outcome, modules = _run(workdir, "apply")
    assert outcome == "EXIT 0 GC True FROZEN True" and _has(modules, "sqlglot")  # creating tables transpiles their defaults
    for command in ("check", "plan"):
        outcome, modules = _run(workdir, command)
        assert outcome == "EXIT 0 GC True FROZEN True", command
        assert [m for m in NOT_FOR_A_READ if _has(modules, m)] == [], command
        assert "_duckdb" in modules and "pydantic" in modules  # it did read the warehouse and the definitions


def test_help_imports_no_pydantic_and_no_database_client(tmp_path: Path) -> None:
    outcome, modules = _run(tmp_path, "--help")
    assert outcome == "EXIT 0 GC False FROZEN False"  # ended before any command ran
    assert not {m for m in HEAVY if _has(modules, m)}


def test_validate_and_audit_code_import_only_what_they_use(tmp_path: Path) -> None:
    shutil.copytree(APP, tmp_path / "app")
    outcome, modules = _run(tmp_path, "--schemas", SCHEMAS, "validate")
    assert outcome == "EXIT 0 GC False FROZEN False"  # a one-shot reading command: the collector stays off
    assert not {m for m in HEAVY - {"pydantic", "bqmanage.project"} if _has(modules, m)}
    outcome, modules = _run(tmp_path, "--schemas", SCHEMAS, "audit-code", "app/config")  # YAML only: no SQL to parse
    assert outcome == "EXIT 1 GC False FROZEN False"
    assert not {m for m in HEAVY - {"pydantic", "bqmanage.project"} | {"bqmanage.codeaudit.fix"} if _has(modules, m)}


def test_the_app_in_another_process_keeps_its_garbage_collector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    assert run_cli("--schemas", SCHEMAS, "validate").exit_code == 0
    assert gc.isenabled() and gc.get_freeze_count() == frozen  # nothing of the caller's frozen either


# Notes each search of the installed packages' entry points (pydantic's plugin search is one).
SEARCH_PROBE = (
    "import importlib.metadata as m, sys\nsearched = []\nreal = m.entry_points\n"
    "def noted(**kw):\n    searched.append(kw.get('group'))\n    return real(**kw)\n"
    "m.entry_points = noted\nfrom bqmanage.cli import run\ntry:\n    run()\nexcept SystemExit as exc:\n    code = exc.code\n"
    "print('EXIT', code, 'SEARCHED', 'pydantic' in searched)"
)


def test_check_does_not_search_installed_packages_for_pydantic_plugins(workdir: Path) -> None:
    env = {**os.environ, "BQMANAGE_LOCAL_PATH": str(workdir / "demo.duckdb"), "PYTHONPATH": str(ROOT)}
    env.pop("PYDANTIC_DISABLE_PLUGINS", None)

    def probe(extra: dict[str, str]) -> str:
        command = [sys.executable, "-c", SEARCH_PROBE, "check"]
        done = subprocess.run(command, cwd=workdir, env={**env, **extra}, capture_output=True, text=True)
        return done.stdout.strip().splitlines()[-1]

    assert _run(workdir, "apply")[0].startswith("EXIT 0")
    assert probe({}) == "EXIT 0 SEARCHED False"
    assert probe({"PYDANTIC_DISABLE_PLUGINS": "__all__"}) == "EXIT 0 SEARCHED False"  # set by the user: the real loader
    # A choice of the user's stands: naming plugins to leave out still searches for the others.
    assert probe({"PYDANTIC_DISABLE_PLUGINS": "some_plugin"}) == "EXIT 0 SEARCHED True"
