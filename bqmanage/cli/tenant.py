"""``bqmanage tenant``: onboard, list and manage tenants. A thin shell over api.tenant_*.

Everything that can be refused (the id, the limits, the definitions) is checked before the
warehouse is opened: on the local engine, opening it would create its file, and a refused id
must leave nothing behind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from bqmanage.cli.common import funnel, settings_of

if TYPE_CHECKING:
    from bqmanage.model.schema import Definitions
    from bqmanage.settings import Settings
    from bqmanage.tenants.commands import TenantListing, TenantReport

tenant_app = typer.Typer(
    name="tenant",
    help=(
        "Onboard, list and manage tenants.\n\n"
        "A tenant is a registry row, its templated datasets and its quota rows.\n\n"
        "A tenant id is 1 to 63 characters: lowercase ASCII letters, digits, '_' and '-', starting with a "
        "letter or a digit ('-' reads as '_' in a dataset name). Exit 2 for a bad id or an unknown tenant, "
        "having changed nothing.\n\n"
        "Example: bqmanage tenant add acme --name 'Acme Corp' --daily-limit 200"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)

_ID = typer.Argument(..., metavar="ID", help="The tenant id.")
_FORMAT = typer.Option("text", "--format", help="text or json.")
_DAILY = typer.Option(None, "--daily-limit", metavar="N", help="Pipelines a day.")
_MONTHLY = typer.Option(None, "--monthly-limit", metavar="N", help="Pipelines a month.")
_CONCURRENT = typer.Option(None, "--concurrent-limit", metavar="N", help="Pipelines running at once.")


def _prepared(
    ctx: typer.Context,
    fmt: str,
    operation: str,
    tenant_id: str | None = None,
    limits: dict[str, int | None] | None = None,
    name: str | None = None,
) -> tuple[Settings, Definitions]:
    """The settings and definitions, once the format, the id and the limits have passed."""
    from bqmanage import api
    from bqmanage.errors import UsageError
    from bqmanage.tenants.commands import job

    if fmt not in ("text", "json"):
        raise UsageError(f"--format: expected text or json, got {fmt!r}")
    settings = settings_of(ctx)
    desired = api.validate(settings)
    if tenant_id is not None:
        job(settings, operation, tenant_id, desired, None, limits, name)
    return settings, desired


def _show(result: TenantReport | TenantListing, fmt: str) -> None:
    import json

    from bqmanage.report import text as report
    from bqmanage.tenants.commands import TenantReport

    if fmt == "json":
        typer.echo(json.dumps(result.to_json(), indent=2, default=str))
    elif isinstance(result, TenantReport):
        typer.echo(report.tenant_text(result))
    else:
        typer.echo(report.tenants_text(result))


@tenant_app.command("add")
@funnel
def add(
    ctx: typer.Context,
    tenant_id: str = _ID,
    name: str | None = typer.Option(None, "--name", help="Display name."),
    daily_limit: int | None = _DAILY,
    monthly_limit: int | None = _MONTHLY,
    concurrent_limit: int | None = _CONCURRENT,
    fmt: str = _FORMAT,
) -> None:
    """Register a tenant, create its templated datasets and its quota row for today.

    Limits not given come from the registry's defaults in the definitions. Again with the same
    arguments it changes nothing and says so; with other limits it updates the registry and
    today's row. Concurrent runs for one id leave one registry row and one quota row.

    Example: bqmanage tenant add acme --name 'Acme Corp' --daily-limit 200
    """
    from bqmanage import api
    from bqmanage.engines import engine_session

    limits = {"daily_limit": daily_limit, "monthly_limit": monthly_limit, "concurrent_limit": concurrent_limit}
    settings, desired = _prepared(ctx, fmt, "tenant_add", tenant_id, limits, name)
    with engine_session(settings, "tenant") as engine:
        result = api.tenant_add(settings, engine, tenant_id, name, daily_limit, monthly_limit, concurrent_limit, desired=desired)
    _show(result, fmt)


@tenant_app.command("list")
@funnel
def list_(ctx: typer.Context, fmt: str = _FORMAT) -> None:
    """List the tenants: status, limits, and today's usage against the limits. Read-only.

    Example: bqmanage tenant list --format json
    """
    from bqmanage import api
    from bqmanage.engines import engine_session

    settings, desired = _prepared(ctx, fmt, "tenant_list")
    with engine_session(settings, "tenant", read_only=True) as engine:
        result = api.tenant_list(settings, engine, desired=desired)
    _show(result, fmt)


@tenant_app.command("suspend")
@funnel
def suspend(ctx: typer.Context, tenant_id: str = _ID, fmt: str = _FORMAT) -> None:
    """Suspend a tenant: resets give it no row from now on; its history is kept.

    Example: bqmanage tenant suspend acme
    """
    from bqmanage import api
    from bqmanage.engines import engine_session

    settings, desired = _prepared(ctx, fmt, "tenant_suspend", tenant_id)
    with engine_session(settings, "tenant") as engine:
        result = api.tenant_suspend(settings, engine, tenant_id, desired=desired)
    _show(result, fmt)


@tenant_app.command("resume")
@funnel
def resume(ctx: typer.Context, tenant_id: str = _ID, fmt: str = _FORMAT) -> None:
    """Resume a tenant: today's row carries its latest values, however old.

    Values come from its latest row, even one older than the reset's lookback window; limits set
    while it was suspended (set-limits) replace the carried ones.

    Example: bqmanage tenant resume acme
    """
    from bqmanage import api
    from bqmanage.engines import engine_session

    settings, desired = _prepared(ctx, fmt, "tenant_resume", tenant_id)
    with engine_session(settings, "tenant") as engine:
        result = api.tenant_resume(settings, engine, tenant_id, desired=desired)
    _show(result, fmt)


@tenant_app.command("set-limits")
@funnel
def set_limits(
    ctx: typer.Context,
    tenant_id: str = _ID,
    daily_limit: int | None = _DAILY,
    monthly_limit: int | None = _MONTHLY,
    concurrent_limit: int | None = _CONCURRENT,
    fmt: str = _FORMAT,
) -> None:
    """Change a tenant's limits, in the registry and in today's row.

    An active tenant the reset has not reached yet today gets its row first; later resets carry
    the limits from it.

    Example: bqmanage tenant set-limits acme --daily-limit 500
    """
    from bqmanage import api
    from bqmanage.engines import engine_session

    limits = {"daily_limit": daily_limit, "monthly_limit": monthly_limit, "concurrent_limit": concurrent_limit}
    settings, desired = _prepared(ctx, fmt, "tenant_set_limits", tenant_id, limits)
    with engine_session(settings, "tenant") as engine:
        result = api.tenant_set_limits(settings, engine, tenant_id, daily_limit, monthly_limit, concurrent_limit, desired=desired)
    _show(result, fmt)
