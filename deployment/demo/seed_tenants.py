"""Three sample tenants, so that `./dev demo` leaves something for `reset` and `tenant list` to show.

The quick tour (docs/getting-started.md) starts from here. It onboards them as `bqmanage tenant add`
does, through the library API (the registry row, the tenant's dataset from the template, today's
quota row), and suspends one as `tenant suspend` does: a suspended tenant keeps its dataset and
rows, and `--all-tenants` leaves it out. Like those commands it is idempotent: run again, it
changes nothing.
"""

from __future__ import annotations

from bqmanage import api
from bqmanage.engines import engine_session
from bqmanage.settings import resolve_settings

# (id, name, daily limit, suspended); the other limits are the registry's defaults.
TENANTS = (
    ("acme", "Acme Corp", 100, False),
    ("globex", "Globex", 250, False),
    ("initech", "Initech", 100, True),
)


def seed_tenants() -> None:
    settings = resolve_settings()
    desired = api.validate(settings)
    with engine_session(settings, "demo") as engine:
        for tenant_id, name, daily_limit, suspended in TENANTS:
            api.tenant_add(settings, engine, tenant_id, name, daily_limit, desired=desired)
            if suspended:
                api.tenant_suspend(settings, engine, tenant_id, desired=desired)


if __name__ == "__main__":
    seed_tenants()
    print(f"Sample tenants in tenants.tenant_profiles: {', '.join(t[0] for t in TENANTS)}.")
