"""Three sample tenants, so that `./dev demo` leaves something for `reset` and `tenant list` to show.

The quick tour (docs/getting-started.md) starts from here. It onboards them as `bqmanage tenant add`
does, through the public library API (the registry row, the tenant's dataset from the template, today's
quota row), and suspends one as `tenant suspend` does: a suspended tenant keeps its dataset and
rows, and `--all-tenants` leaves it out. Like those commands it is idempotent: run again, it
changes nothing.
"""

from __future__ import annotations

from bqmanage import Limits, Project
from bqmanage.engines import engine_session

# (id, name, daily limit, suspended); the other limits are the registry's defaults.
TENANTS = (
    ("acme", "Acme Corp", 100, False),
    ("globex", "Globex", 250, False),
    ("initech", "Initech", 100, True),
)
# Each tenant's reader group goes in its registry row; the tenant template grants it READER on the
# tenant's dataset (`apply --all-tenants` below, `tenant add` once the row has it).
READER_GROUP = "UPDATE `tenants`.`tenant_profiles` SET reader_group = @group WHERE tenant_id = @tenant AND reader_group IS NULL"


def seed_tenants() -> None:
    project = Project.load()  # each command below opens the warehouse for itself
    for tenant_id, name, daily_limit, suspended in TENANTS:
        project.tenant_add(tenant_id, name=name, limits=Limits(daily=daily_limit))
        with engine_session(project.settings, "demo") as engine:  # what an onboarding service writes
            engine.query(READER_GROUP, {"group": f"group:{tenant_id}-readers@example.com", "tenant": tenant_id}, label="demo")
        if suspended:
            project.tenant_suspend(tenant_id)


if __name__ == "__main__":
    seed_tenants()
    print(f"Sample tenants in tenants.tenant_profiles: {', '.join(t[0] for t in TENANTS)}.")
