"""Three sample tenants in the registry, so that `./dev demo` leaves something for `reset` to do.

The README's quick tour starts from here. It goes through the library API (values as query
parameters) and is idempotent: a tenant already in the registry is left as it is.
"""

from __future__ import annotations

from bqmanage.engines import engine_session
from bqmanage.settings import resolve_settings

TENANTS = (
    {"tenant_id": "acme", "tenant_name": "Acme Corp", "status": "active", "daily_limit": 100},
    {"tenant_id": "globex", "tenant_name": "Globex", "status": "active", "daily_limit": 250},
    {"tenant_id": "initech", "tenant_name": "Initech", "status": "suspended", "daily_limit": 100},
)

_MERGE = """
MERGE `tenants`.`tenant_profiles` AS t
USING (SELECT @tenant_id AS tenant_id, @tenant_name AS tenant_name, @status AS status,
              @daily_limit AS daily_limit) AS s
ON t.tenant_id = s.tenant_id
WHEN NOT MATCHED THEN INSERT (tenant_id, tenant_name, status, daily_limit)
  VALUES (s.tenant_id, s.tenant_name, s.status, s.daily_limit)
"""


def seed_tenants() -> None:
    with engine_session(resolve_settings(), "demo") as engine:
        for tenant in TENANTS:
            engine.query(_MERGE, tenant, label="demo")


if __name__ == "__main__":
    seed_tenants()
    print(f"Sample tenants in tenants.tenant_profiles: {', '.join(t['tenant_id'] for t in TENANTS)}.")
