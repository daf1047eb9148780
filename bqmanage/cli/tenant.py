"""``bqmanage tenant``: onboard, list and manage tenants. A thin shell over Project.tenant_*,
which refuses a bad id, limit or definition before it opens the warehouse."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from bqmanage.cli.common import funnel

if TYPE_CHECKING:
    from bqmanage.project import Project
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


def _project(ctx: typer.Context, fmt: str) -> Project:
    """The project of the command, once the format has passed."""
    from bqmanage.cli.common import project_of
    from bqmanage.errors import UsageError

    if fmt not in ("text", "json"):
        raise UsageError(f"--format: expected text or json, got {fmt!r}")
    return project_of(ctx)


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
    from bqmanage.tenants.scope import Limits

    limits = Limits(daily_limit, monthly_limit, concurrent_limit)
    _show(_project(ctx, fmt).tenant_add(tenant_id, name=name, limits=limits), fmt)


@tenant_app.command("list")
@funnel
def list_(ctx: typer.Context, fmt: str = _FORMAT) -> None:
    """List the tenants: status, limits, and today's usage against the limits. Read-only.

    Example: bqmanage tenant list --format json
    """
    _show(_project(ctx, fmt).tenant_list(), fmt)


@tenant_app.command("suspend")
@funnel
def suspend(ctx: typer.Context, tenant_id: str = _ID, fmt: str = _FORMAT) -> None:
    """Suspend a tenant: resets give it no row from now on; its history is kept.

    Example: bqmanage tenant suspend acme
    """
    _show(_project(ctx, fmt).tenant_suspend(tenant_id), fmt)


@tenant_app.command("resume")
@funnel
def resume(ctx: typer.Context, tenant_id: str = _ID, fmt: str = _FORMAT) -> None:
    """Resume a tenant: today's row carries its latest values, however old.

    Values come from its latest row, even one older than the reset's lookback window; limits set
    while it was suspended (set-limits) replace the carried ones.

    Example: bqmanage tenant resume acme
    """
    _show(_project(ctx, fmt).tenant_resume(tenant_id), fmt)


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
    from bqmanage.tenants.scope import Limits

    limits = Limits(daily_limit, monthly_limit, concurrent_limit)
    _show(_project(ctx, fmt).tenant_set_limits(tenant_id, limits), fmt)
