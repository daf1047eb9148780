"""The pytest plugin. The sample application's test (tests/sample_app) passes through it
on both fixtures; the very same test fails on both when the application queries a column the
definitions do not have; the plugin is declared for pytest11 and imports nothing heavy."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bqmanage.testing.emulator import venv_dir

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "tests" / "sample_app"
pytest_plugins = ["pytester"]
# Taken before pytester gives each run a HOME of its own, where there is no emulator environment.
EMULATOR_VENV = venv_dir()

# How an application's conftest gets the plugin when bqmanage is installed without its pytest11
# entry point (an editable install from before it existed); with it, nothing is needed.
_CONFTEST = """
import bqmanage.testing.pytest_plugin as plugin

def pytest_configure(config):
    if not config.pluginmanager.is_registered(plugin):
        config.pluginmanager.register(plugin, "bqmanage")
"""


def _application(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, app: str) -> None:
    """An application repository: its definitions, its app module and the sample app's test. It
    runs in a pytest process of its own, as an application's would (in-process, DuckDB's module
    would be imported a second time after pytester restores sys.modules, and abort)."""
    shutil.copytree(ROOT / "schemas", pytester.path / "schemas")
    monkeypatch.setenv("BQMANAGE_EMULATOR_VENV", str(EMULATOR_VENV))
    pytester.makeconftest(_CONFTEST)
    pytester.makeini("[pytest]\nbqmanage_schemas = schemas\nmarkers =\n    emulator: bqemulator\n")
    pytester.makepyfile(quota_app=app)
    test = (APP / "test_quota_app.py").read_text().replace("from tests.sample_app import quota_app", "import quota_app")
    pytester.makepyfile(test_quota_app=test)


def test_the_app_test_fails_on_both_fixtures_when_the_app_queries_an_undefined_column(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = (APP / "quota_app.py").read_text().replace("SELECT pipelines_run_today,", "SELECT pipelines_started_today,")
    assert broken != (APP / "quota_app.py").read_text()
    _application(pytester, monkeypatch, broken)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    text = result.stdout.str()
    assert "test_a_pipeline_run_counts_against_todays_quota[local]" in text
    assert "test_a_pipeline_run_counts_against_todays_quota[emulator]" in text
    # Each engine names the column it does not have: DuckDB through the local engine, bqemulator
    # through the official client. docs/pytest-plugin.md shows these lines.
    assert text.count("pipelines_started_today") >= 2
    result.stdout.fnmatch_lines(_shown_failure_lines())


def _shown_failure_lines() -> list[str]:
    """The pytest output docs/pytest-plugin.md shows (its "pytest-plugin" example), as patterns ('...' elides)."""
    from tests import docs_examples

    (block,) = [b for b in docs_examples.all_blocks() if b.setup == "pytest-plugin"]
    ((command, shown),) = block.steps()
    assert command == "pytest -q test_quota_app.py"
    patterns = []
    for line in shown:
        if line == "...":
            continue
        line = line.replace("[", "[[]").replace("...", "*")
        if line.startswith("E   "):
            line = "E *" + line[4:]
        elif line.startswith("FAILED "):
            # Under CI (the CI variable set) pytest prints the whole reason after the test id; on
            # a terminal it cuts it to the width, or leaves it out.
            line += "*"
        patterns.append(line)
    assert patterns
    return patterns


def test_bad_definitions_fail_the_test_with_one_located_message(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _application(pytester, monkeypatch, (APP / "quota_app.py").read_text())
    quotas = pytester.path / "schemas" / "tenants" / "tenant_usage_quotas.yaml"
    quotas.write_text(quotas.read_text().replace("type: BOOL, default: false, reset: daily}", "type: BOOLEAN_, reset: daily}", 1))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "local")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*bqmanage: schemas/tenants/tenant_usage_quotas.yaml:*unknown type 'BOOLEAN_'*"])
    assert "Traceback" not in result.stdout.str()


def test_each_test_gets_an_empty_warehouse(bqmanage_warehouse: object) -> None:
    from bqmanage.testing.warehouses import LocalWarehouse

    assert isinstance(bqmanage_warehouse, LocalWarehouse)
    assert bqmanage_warehouse.query("SELECT COUNT(*) AS n FROM `tenants`.`tenant_profiles`") == [{"n": 0}]
    bqmanage_warehouse.add_tenant("acme", name="Acme", on=dt.date(2026, 11, 23))  # tenant add: registry and quota row
    rows = bqmanage_warehouse.query("SELECT tenant_id, tenant_name, status, daily_limit FROM `tenants`.`tenant_profiles`")
    assert rows == [{"tenant_id": "acme", "tenant_name": "Acme", "status": "active", "daily_limit": 100}]
    quota = bqmanage_warehouse.query("SELECT tenant_id, usage_date FROM `tenants`.`tenant_usage_quotas`")
    assert quota == [{"tenant_id": "acme", "usage_date": dt.date(2026, 11, 23)}]
    assert bqmanage_warehouse.reset("2026-11-24").new_rows == 1
    assert {r[0] for r in bqmanage_warehouse.connection.execute("SELECT table_name FROM duckdb_tables()").fetchall()} >= {
        "tenant_profiles",
        "tenant_usage_quotas",
    }


def test_a_bad_tenant_id_is_refused(bqmanage_warehouse: object) -> None:
    from bqmanage.errors import UsageError
    from bqmanage.testing.warehouses import LocalWarehouse

    assert isinstance(bqmanage_warehouse, LocalWarehouse)
    with pytest.raises(UsageError, match="invalid tenant id 'Acme Corp'"):
        bqmanage_warehouse.add_tenant("Acme Corp")


def test_the_plugin_is_declared_for_pytest_and_imports_nothing_heavy() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["pytest11"] == {"bqmanage": "bqmanage.testing.pytest_plugin"}
    assert any(r.startswith("pytest") for r in project["optional-dependencies"]["pytest"])
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, bqmanage.testing.pytest_plugin; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'duckdb', 'google', 'pydantic', 'bqemulator', 'sqlglot'}))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert loaded.stdout.strip() == "[]"
