"""Warehouses for an application's tests, built from the same definitions as production.

A hand-copied test schema once hid a constraint that production relied on; here every table
comes from ``schemas/`` through ``apply``, on the embedded engine (DuckDB) or on bqemulator
through the official client. The pytest plugin (bqmanage/testing/pytest_plugin.py) hands these out as
fixtures; they work without pytest too.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bqmanage import api
from bqmanage.engines import Engine, open_engine
from bqmanage.model.schema import Definitions
from bqmanage.settings import Settings, resolve_settings

if TYPE_CHECKING:
    from bqmanage.check.findings import Finding
    from bqmanage.engines.bigquery import BigQueryEngine
    from bqmanage.engines.local import LocalEngine
    from bqmanage.tenants.commands import TenantReport
    from bqmanage.tenants.reset import ResetReport


class TestWarehouse:
    """A warehouse with every defined table, and the operations a test needs beside its own SQL."""

    __test__ = False  # not a test class, whatever pytest's name patterns say

    def __init__(self, settings: Settings, engine: Engine, desired: Definitions) -> None:
        self.settings = settings
        self.engine = engine
        self.desired = desired

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run GoogleSQL with ``@name`` parameters, as on BigQuery; return the rows as dicts."""
        return self.engine.query(sql, params, label="test")

    def add_tenant(
        self,
        tenant_id: str,
        name: str | None = None,
        daily_limit: int | None = None,
        monthly_limit: int | None = None,
        concurrent_limit: int | None = None,
        on: dt.date | None = None,
    ) -> TenantReport:
        """Onboard a tenant as ``bqmanage tenant add`` does, its quota row dated ``on`` (default today)."""
        limits = (daily_limit, monthly_limit, concurrent_limit)
        return seed_tenant(self.settings, self.engine, tenant_id, name, *limits, on=on, desired=self.desired)

    def reset(self, day: dt.date | str) -> ResetReport:
        """Run the daily quota reset for ``day``, as ``bqmanage reset --date`` does."""
        run_date = dt.date.fromisoformat(day) if isinstance(day, str) else day
        return api.reset(self.settings, self.engine, run_date=run_date, desired=self.desired, allow_future_date=True)

    def isolation_leaks(self, tenants: list[str] | None = None) -> list[Finding]:
        """What ``check --isolation`` finds: each member of a tenant (of ``tenants``, default a
        sample of all) that reads another tenant's rows of an isolated table, through the live
        row access policies."""
        from bqmanage.check.isolation import probe
        from bqmanage.definitions.row_access import placed
        from bqmanage.introspect import read_live

        desired = placed(self.settings, self.desired, self.engine)
        return probe(self.engine, desired, read_live(self.engine, desired).actual, tenants)

    def close(self) -> None:
        self.engine.close()


class LocalWarehouse(TestWarehouse):
    """On the embedded engine: ``connection`` is the DuckDB connection (dataset.table names)."""

    engine: LocalEngine

    @property
    def connection(self) -> Any:
        """The duckdb.DuckDBPyConnection holding the tables."""
        return self.engine.con


class BigQueryWarehouse(TestWarehouse):
    """On bqemulator: ``client`` is a google.cloud.bigquery.Client bound to it and its ``project``."""

    engine: BigQueryEngine

    @property
    def client(self) -> Any:
        return self.engine.client

    @property
    def project(self) -> str:
        return str(self.settings.project)


def seed_tenant(
    settings: Settings,
    engine: Engine,
    tenant_id: str,
    name: str | None = None,
    daily_limit: int | None = None,
    monthly_limit: int | None = None,
    concurrent_limit: int | None = None,
    on: dt.date | None = None,
    desired: Definitions | None = None,
) -> TenantReport:
    """Onboard a tenant exactly as ``bqmanage tenant add`` does (``Project.tenant_add``): its
    registry row, its templated datasets, and its quota row for ``on`` (default today). The one
    place the fixtures seed tenants."""
    from bqmanage.project import Project
    from bqmanage.tenants.scope import Limits

    project = Project(settings, desired, engine) if desired is not None else Project.load(settings, engine=engine)
    return project.tenant_add(tenant_id, name=name, limits=Limits(daily_limit, monthly_limit, concurrent_limit), run_date=on)


def _applied(settings: Settings, engine: Engine) -> Definitions:
    desired = api.validate(settings)
    api.apply(settings, engine, desired=desired)
    return desired


def local_warehouse(schemas: Path, path: Path, template: Path | None = None) -> LocalWarehouse:
    """A DuckDB file at ``path`` with every table of ``schemas``; ``template``, a file this made
    before and closed, is copied instead of applying again (a copy costs less than an apply)."""
    settings = resolve_settings(target="local", schemas=str(schemas)).model_copy(update={"local_path": path})
    if template is not None:
        shutil.copyfile(template, path)
        engine = open_engine(settings, "test")
        return LocalWarehouse(settings, engine, api.validate(settings))
    engine = open_engine(settings, "test")
    try:
        return LocalWarehouse(settings, engine, _applied(settings, engine))
    except BaseException:
        engine.close()
        raise


def bigquery_warehouse(schemas: Path, project: str) -> BigQueryWarehouse:
    """Every table of ``schemas`` in ``project`` of the BigQuery endpoint BIGQUERY_EMULATOR_HOST
    names (the plugin sets it), with short retries: an emulator bug answers 500."""
    settings = resolve_settings(target="bigquery", project=project, schemas=str(schemas))
    settings = settings.model_copy(update={"retry_deadline": 15.0})
    engine = open_engine(settings, "test")
    try:
        return BigQueryWarehouse(settings, engine, _applied(settings, engine))
    except BaseException:
        engine.close()
        raise
