"""The library's front door: a ``Project`` is the settings and the definitions, loaded and validated
once. Each method checks its own arguments, and only then opens the warehouse, runs one command
through ``api`` and closes it again:

    from bqmanage import Limits, Project, TenantScope

    project = Project.load(target="bigquery", project="my-project")  # bad definitions raise here
    planned = project.plan(scope=TenantScope.all())
    project.tenant_add("acme", name="Acme Corp", limits=Limits(daily=200))

Every refusal (a definition, a tenant id, a limit, ``--table``, a date, the format) is raised as a
``BqmanageError`` before any engine is constructed: on the local engine opening one would create
the warehouse file, on BigQuery it would send requests. The CLI and the deployment script call
these same methods, so "refuse bad input before touching the warehouse" holds in one place.

``api`` below it is the engine-level layer: functions over an engine that is already open.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bqmanage.arguments import CALLABLE, Kind, Many, checked
from bqmanage.errors import UsageError
from bqmanage.tenants.scope import NO_LIMITS, NO_TENANTS, Limits, TenantScope

if TYPE_CHECKING:
    import datetime as dt

    from bqmanage.api import ApplyOutcome, CheckResult, PlanResult
    from bqmanage.check.findings import Finding
    from bqmanage.codeaudit.audit import CodeAuditResult
    from bqmanage.engines import Engine
    from bqmanage.model.schema import Definitions, Table
    from bqmanage.plan import Step
    from bqmanage.settings import Settings
    from bqmanage.tenants.commands import TenantJob, TenantListing, TenantReport
    from bqmanage.tenants.fleet import OnTenant
    from bqmanage.tenants.reset import ResetReport

T = TypeVar("T")


def _is_settings(value: Any) -> bool:
    from bqmanage.settings import Settings

    return isinstance(value, Settings)


# The specs of arguments several methods take (bqmanage.arguments).
TEXT = (str, None)
DATE = (_dt.date, None)
HOOK = (CALLABLE, None)


def _choice(flag: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise UsageError(f"{flag}: expected {' or '.join(allowed)}, got {value!r}")
    return value


class Project:
    """Settings and validated definitions; the warehouse opens per command, lazily.

    ``engine``: run every command through this already-open engine instead (the caller closes
    it): the pytest plugin and tests share one warehouse this way.
    """

    def __init__(self, settings: Settings, definitions: Definitions, engine: Engine | None = None) -> None:
        self.settings = settings
        self.definitions = definitions
        self._engine = engine
        # How the engine that ran the last command runs the plan's statements, when not verbatim
        # (Capabilities.runs_as): plan and apply print it.
        self.runs_as: str | None = None
        # The outcome of the last apply, kept as soon as it is known: an interrupt that lands while
        # the warehouse closes must not hide what was done.
        self.last_apply: ApplyOutcome | None = None
        # Called as soon as a command that writes has completed its work, before the warehouse is
        # closed and the result printed: the command line then lets a stop signal no longer stop
        # it (cli/signals.py), so that a late Ctrl-C cannot turn a success into "interrupted".
        self.on_done: Callable[[], None] | None = None

    @classmethod
    @checked(
        settings=(Kind(_is_settings, "a Settings"), None), target=TEXT, project=TEXT, location=TEXT, schemas=TEXT, config=TEXT
    )
    def load(
        cls,
        settings: Settings | None = None,
        *,
        target: str | None = None,
        project: str | None = None,
        location: str | None = None,
        schemas: str | None = None,
        config: str | None = None,
        engine: Engine | None = None,
    ) -> Project:
        """Resolve the settings (unless given) and load and validate the definitions: a
        ConfigError or DefinitionError (exit 2) here, and no warehouse was touched."""
        from bqmanage.definitions.load import load_definitions
        from bqmanage.settings import resolve_settings

        settings = settings or resolve_settings(target, project, location, schemas, config)
        return cls(settings, load_definitions(settings.schemas_dir), engine)

    @contextmanager
    def _session(self, command: str, read_only: bool) -> Iterator[Engine]:
        """The engine for one command: opened only now, closed however the command ends."""
        if self._engine is not None:
            self.runs_as = self._engine.capabilities.runs_as
            yield self._engine
            return
        from bqmanage.engines import engine_session

        with engine_session(self.settings, command, read_only) as engine:
            self.runs_as = engine.capabilities.runs_as
            yield engine

    def _done(self, result: T) -> T:
        """``result`` of a command whose work is complete and recorded."""
        if self.on_done is not None:
            self.on_done()
        return result

    # ---- no warehouse ----

    @checked(fmt=str, table=TEXT, tenants=Many(str))
    def render(self, fmt: str = "sql", table: str | None = None, tenants: Sequence[str] = ()) -> str:
        """The CREATE DDL (or ``bq``'s JSON schemas, or ODCS contracts) of every definition and ``tenants``' templates."""
        from bqmanage import api

        _choice("--format", fmt, ("sql", "json-schema", "odcs"))
        return api.render_ddl(self.settings, fmt, table, list(tenants) or None, self.definitions)

    @checked(
        paths=Many(Path),
        fix=bool,
        dry_run=bool,
        include=(Many(str), None),
        exclude=(Many(str), None),
        analyzer=TEXT,
        notice=HOOK,
        not_audited=Many(Path),
    )
    def audit_code(
        self,
        paths: Sequence[Path],
        *,
        fix: bool = False,
        dry_run: bool = False,
        include: list[str] | None = None,
        exclude: list[str] | None = None,
        analyzer: str | None = None,
        notice: Callable[[str], None] | None = None,
        not_audited: Sequence[Path] = (),
    ) -> CodeAuditResult:
        """Legacy names and unknown table/column references in source files; ``fix`` rewrites the
        legacy names (``dry_run``: computes the diffs, writes nothing). Flags add to the config's
        ``audit_code`` include and exclude patterns. Never audits the definitions or the config
        file, which name legacy tables on purpose, nor ``not_audited`` (the report file a run writes:
        audited, the next run would count its findings again)."""
        from bqmanage.codeaudit.audit import audit_code

        if analyzer is not None:
            _choice("--analyzer", analyzer, ("sqlglot", "googlesql"))
        if dry_run and not fix:
            raise UsageError("--dry-run: only with --fix (audit-code writes nothing without --fix)")
        settings = self.settings
        config = settings.audit_code.model_copy(
            update={
                "include": [*settings.audit_code.include, *(include or [])],
                "exclude": [*settings.audit_code.exclude, *(exclude or [])],
            }
        )
        skip = {settings.schemas_dir.resolve()} | ({settings.config_file.resolve()} if settings.config_file else set())
        skip |= {Path(p).resolve() for p in not_audited}
        return audit_code(
            list(paths),
            self.definitions,
            settings.legacy,
            config,
            skip=frozenset(skip),
            analyzer=analyzer,
            fix=fix,
            dry_run=dry_run,
            notice=notice,
        )

    @checked(table=TEXT)
    def reset_script(self, table: str | None = None) -> str:
        """The reset as a script for a BigQuery scheduled query, on the run date of the quota
        table's time zone (the scheduler's @run_date is UTC's)."""
        from bqmanage.tenants import schedule
        from bqmanage.tenants.reset_sql import find_quota_table, render_reset

        quota_table = find_quota_table(self.definitions, table)
        return schedule.scheduled_script(render_reset(self.definitions, quota_table, self.settings.project))

    @checked(table=TEXT)
    def reset_transfer_config(self, table: str | None = None) -> dict[str, Any]:
        """The reset as a BigQuery scheduled query: the transferConfigs.create request (``parent``
        with the project and location, ``transferConfig`` the body). Location: the target's, else
        the quota table's dataset's."""
        from bqmanage.tenants import schedule
        from bqmanage.tenants.reset_sql import find_quota_table, render_reset

        quota_table = find_quota_table(self.definitions, table)
        dataset = next((d for d in self.definitions.all_datasets() if d.name == quota_table.dataset), None)
        location = self.settings.location or (dataset.location if dataset else None)
        rendered = render_reset(self.definitions, quota_table, self.settings.project)
        return schedule.transfer_config(rendered, self.settings.project, location)

    # ---- the warehouse ----

    @checked(backfill=bool, scope=TenantScope, on_tenant=HOOK)
    def plan(
        self, *, backfill: bool = True, scope: TenantScope = NO_TENANTS, on_tenant: OnTenant[PlanResult] | None = None
    ) -> PlanResult:
        """What ``apply`` would do, without doing it. Read-only."""
        from bqmanage import api

        with self._session("plan", read_only=True) as engine:
            return api.make_plan(
                self.settings,
                engine,
                backfill,
                self.definitions,
                scope=scope,
                on_tenant=on_tenant,
            )

    @checked(dry_run=bool, backfill=bool, scope=TenantScope, keep_going=bool, on_step=HOOK, on_tenant=HOOK)
    def apply(
        self,
        *,
        dry_run: bool = False,
        backfill: bool = True,
        scope: TenantScope = NO_TENANTS,
        keep_going: bool = False,
        on_step: Callable[[int, int, Step], None] | None = None,
        on_tenant: OnTenant[ApplyOutcome] | None = None,
    ) -> ApplyOutcome:
        """Bring the warehouse to the definitions (``api.apply`` says how tenants go)."""
        from bqmanage import api

        self.last_apply = None
        scope.refused_unfit(self.definitions)  # before the warehouse is opened (created, on the local engine)
        with self._session("apply", read_only=dry_run) as engine:
            self.last_apply = api.apply(
                self.settings,
                engine,
                dry_run,
                backfill,
                on_step,
                self.definitions,
                scope=scope,
                keep_going=keep_going,
                on_tenant=on_tenant,
            )
            return self._done(self.last_apply) if not dry_run else self.last_apply

    @checked(all_datasets=bool)
    def inspect(self, all_datasets: bool = False) -> list[Table]:
        """The live tables of the defined datasets (or of every dataset), as the model. Read-only."""
        from bqmanage import api

        with self._session("inspect", read_only=True) as engine:
            return api.inspect(self.settings, engine, all_datasets, self.definitions)

    @checked(scope=TenantScope, code=Many(Path), on_progress=HOOK, on_tenant=HOOK, isolation=bool, not_audited=Many(Path))
    def check(
        self,
        *,
        scope: TenantScope = NO_TENANTS,
        code: Sequence[Path] = (),
        on_progress: Callable[[int, int], None] | None = None,
        on_tenant: OnTenant[list[Finding]] | None = None,
        isolation: bool = False,
        not_audited: Sequence[Path] = (),
    ) -> CheckResult:
        """Drift and legacy names in the warehouse, plus (``code``) what audit-code finds in those
        source paths but ``not_audited`` (the report file), and (``isolation``) the isolation
        probe's leaks. Read-only."""
        from bqmanage import api

        with self._session("check", read_only=True) as engine:
            result = api.check(
                self.settings,
                engine,
                self.definitions,
                on_progress,
                scope=scope,
                on_tenant=on_tenant,
                isolation=isolation,
            )
        if code:
            result.findings += self.audit_code(code, not_audited=not_audited).findings
        return result

    @checked(table=TEXT, run_date=DATE, dry_run=bool, allow_future_date=bool)
    def reset(
        self,
        *,
        table: str | None = None,
        run_date: dt.date | None = None,
        dry_run: bool = False,
        allow_future_date: bool = False,
    ) -> ResetReport:
        """The daily quota reset for ``run_date`` (``api.reset``). A bad ``table`` and a run date
        far in the future are refused first."""
        from bqmanage import api
        from bqmanage.tenants.reset_sql import find_quota_table, resolve_run_date

        quota_table = find_quota_table(self.definitions, table)
        assert quota_table.quota is not None
        resolve_run_date(quota_table.quota, run_date, allow_future_date)
        # No local warehouse yet: nothing to reset, and the refusal must not leave an empty file behind.
        absent = self.settings.engine == "local" and not self.settings.local_path.exists()
        with self._session("reset", read_only=dry_run or absent) as engine:
            report = api.reset(self.settings, engine, table, run_date, dry_run, self.definitions, allow_future_date)
            return report if dry_run else self._done(report)

    # ---- tenants ----

    def _job(
        self,
        operation: str,
        tenant_id: str,
        run_date: dt.date | None = None,
        limits: Limits | None = None,
        name: str | None = None,
    ) -> TenantJob:
        """Everything a tenant command checks before its first read (the id, the limits, the
        registry's columns, the date), checked once."""
        from bqmanage.tenants.commands import job

        return job(self.settings, operation, tenant_id, self.definitions, run_date, limits, name)

    @checked(tenant_id=str, name=TEXT, limits=Limits, run_date=DATE)
    def tenant_add(
        self, tenant_id: str, *, name: str | None = None, limits: Limits = NO_LIMITS, run_date: dt.date | None = None
    ) -> TenantReport:
        """Onboard a tenant: registry row, templated datasets, today's quota row (idempotent)."""
        from bqmanage import api

        job = self._job("tenant_add", tenant_id, run_date, limits, name)
        with self._session("tenant", read_only=False) as engine:
            return self._done(api.tenant_add(self.settings, engine, tenant_id, name, limits, job=job))

    @checked(run_date=DATE)
    def tenant_list(self, *, run_date: dt.date | None = None) -> TenantListing:
        """Every tenant of the registry: status, limits and usage on ``run_date``. Read-only."""
        from bqmanage import api
        from bqmanage.tenants.sql import tenant_tables

        tenant_tables(self.definitions, self.settings.project)  # no registry defined: refused here
        with self._session("tenant", read_only=True) as engine:
            return api.tenant_list(self.settings, engine, run_date=run_date, desired=self.definitions)

    @checked(tenant_id=str)
    def tenant_suspend(self, tenant_id: str) -> TenantReport:
        """Suspend a tenant: resets give it no row from now on; its rows so far are kept."""
        from bqmanage import api

        job = self._job("tenant_suspend", tenant_id)
        with self._session("tenant", read_only=False) as engine:
            return self._done(api.tenant_suspend(self.settings, engine, tenant_id, job=job))

    @checked(tenant_id=str, run_date=DATE)
    def tenant_resume(self, tenant_id: str, *, run_date: dt.date | None = None) -> TenantReport:
        """Make a suspended tenant active again, with today's row carried from its latest."""
        from bqmanage import api

        job = self._job("tenant_resume", tenant_id, run_date)
        with self._session("tenant", read_only=False) as engine:
            return self._done(api.tenant_resume(self.settings, engine, tenant_id, run_date=run_date, job=job))

    @checked(tenant_id=str, limits=Limits, run_date=DATE)
    def tenant_set_limits(self, tenant_id: str, limits: Limits, *, run_date: dt.date | None = None) -> TenantReport:
        """Change a tenant's limits in the registry and in today's row."""
        from bqmanage import api

        job = self._job("tenant_set_limits", tenant_id, run_date, limits)
        with self._session("tenant", read_only=False) as engine:
            return self._done(api.tenant_set_limits(self.settings, engine, tenant_id, limits, run_date=run_date, job=job))
