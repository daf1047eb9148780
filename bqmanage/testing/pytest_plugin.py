"""pytest plugin: an application's tests get a warehouse built from the same ``schemas/`` as production.

Installed with ``pip install 'bqmanage[pytest]'`` (entry point ``pytest11``, name ``bqmanage``):

- ``bqmanage_warehouse``: the embedded engine, a DuckDB file per test with every defined table
  (``.connection``, ``.query(sql, params)`` in GoogleSQL, ``.add_tenant(...)``, ``.reset(day)``);
- ``bqmanage_bigquery``: bqemulator, started once per session from an environment of its own,
  the definitions applied in a fresh project per test (``.client`` is a ``bigquery.Client``
  bound to it, and the same helpers); ``bqmanage_bigquery_client`` is that client alone;
- ``bqmanage_isolated``: a function that fails the test when a member of a tenant reads another
  tenant's rows of an isolated table of ``bqmanage_warehouse`` (``check --isolation``'s probe).

The definitions directory is the ``bqmanage_schemas`` ini option, else ``BQMANAGE_SCHEMAS`` or
bqmanage.yaml's ``schemas``, else ``schemas`` under the rootdir. This module imports nothing
heavy: it is loaded into every pytest run of an environment that has bqmanage, and bqemulator
starts only for a test that asks for it.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from bqmanage.testing.warehouses import BigQueryWarehouse, LocalWarehouse

_projects = itertools.count(1)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("bqmanage_schemas", "bqmanage fixtures: the definitions directory [default: schemas]", default=None)


@pytest.fixture(scope="session")
def bqmanage_schemas(pytestconfig: pytest.Config) -> Path:
    """The definitions directory the warehouse fixtures build from; override to use another."""
    configured = pytestconfig.getini("bqmanage_schemas")
    if configured:
        return Path(pytestconfig.rootpath) / str(configured)
    if os.environ.get("BQMANAGE_SCHEMAS"):
        return Path(os.environ["BQMANAGE_SCHEMAS"])
    from bqmanage.settings import resolve_settings

    with _failing_on_bad_input():  # a broken bqmanage.yaml
        return Path(pytestconfig.rootpath) / resolve_settings().schemas_dir


def _failing_on_bad_input() -> Any:
    """Bad definitions fail the test with bqmanage's one located message, not a traceback into it."""
    import contextlib

    from bqmanage.errors import BqmanageError

    @contextlib.contextmanager
    def guard() -> Iterator[None]:
        try:
            yield
        except BqmanageError as exc:
            pytest.fail(f"bqmanage: {exc}", pytrace=False)

    return guard()


@pytest.fixture(scope="session")
def _bqmanage_local_template(bqmanage_schemas: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The definitions applied once per session; each test gets a copy of this file."""
    from bqmanage.testing.warehouses import local_warehouse

    path = tmp_path_factory.mktemp("bqmanage") / "template.duckdb"
    with _failing_on_bad_input():
        local_warehouse(bqmanage_schemas, path).close()
    return path


@pytest.fixture
def bqmanage_warehouse(bqmanage_schemas: Path, _bqmanage_local_template: Path, tmp_path: Path) -> Iterator[LocalWarehouse]:
    """The embedded engine (DuckDB) with every defined table, empty, for one test."""
    from bqmanage.testing.warehouses import local_warehouse

    with _failing_on_bad_input():
        warehouse = local_warehouse(bqmanage_schemas, tmp_path / "bqmanage.duckdb", _bqmanage_local_template)
    try:
        yield warehouse
    finally:
        warehouse.close()


@pytest.fixture
def bqmanage_isolated(bqmanage_warehouse: LocalWarehouse) -> Callable[..., None]:
    """``bqmanage_isolated(tenants=None)``: fail the test, naming each leak, when a member of a
    tenant (of ``tenants``, default all: a sample of 20 when more) reads another tenant's rows
    through the live row access policies of ``bqmanage_warehouse``; pass otherwise."""

    def assert_isolated(tenants: list[str] | None = None) -> None:
        with _failing_on_bad_input():
            leaks = bqmanage_warehouse.isolation_leaks(tenants)
        if leaks:
            pytest.fail("bqmanage: isolation leak:\n" + "\n".join(f.message for f in leaks), pytrace=False)

    return assert_isolated


@pytest.fixture(scope="session")
def bqmanage_emulator_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """bqemulator's REST endpoint, started for the session from its own environment (created on
    first use in ~/.cache/bqmanage-tests: PyPI, a minute or two, about 600 MB)."""
    import subprocess

    from bqmanage.testing.emulator import ensure_env, running_emulator, venv_dir

    try:
        ensure_env()
    except (OSError, subprocess.CalledProcessError) as exc:
        where = venv_dir()
        pytest.fail(f"bqmanage: could not make bqemulator's environment in {where} (it needs PyPI once): {exc}", pytrace=False)
    with running_emulator(tmp_path_factory.mktemp("bqemulator-home")) as url:
        yield url


@pytest.fixture
def bqmanage_bigquery(
    bqmanage_schemas: Path, bqmanage_emulator_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[BigQueryWarehouse]:
    """bqemulator with every defined table, in a project of this test's own. BIGQUERY_EMULATOR_HOST
    and GOOGLE_CLOUD_PROJECT point at it while the test runs, so a client the application makes
    itself talks to it too."""
    from bqmanage.testing.warehouses import bigquery_warehouse

    project = f"bqmanage-test-{next(_projects):04d}"
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", bqmanage_emulator_url)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", project)
    with _failing_on_bad_input():
        warehouse = bigquery_warehouse(bqmanage_schemas, project)
    try:
        yield warehouse
    finally:
        warehouse.close()


@pytest.fixture
def bqmanage_bigquery_client(bqmanage_bigquery: BigQueryWarehouse) -> Any:
    """A google.cloud.bigquery.Client bound to ``bqmanage_bigquery``'s emulator and project."""
    return bqmanage_bigquery.client
