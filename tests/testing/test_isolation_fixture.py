"""The plugin's isolation fixture: passes on the declared row access, fails the test naming the
leak when a policy is widened by hand (the probe of ``check --isolation``, over the test's warehouse)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from bqmanage.testing.warehouses import LocalWarehouse

DAY = dt.date(2026, 11, 23)


def test_the_isolation_fixture_passes_on_the_declared_policies_and_names_a_planted_leak(
    bqmanage_warehouse: LocalWarehouse, bqmanage_isolated: Callable[..., None]
) -> None:
    for tenant in ("acme", "globex"):
        bqmanage_warehouse.add_tenant(tenant, on=DAY)
    bqmanage_isolated()
    bqmanage_isolated(["acme"])
    # Widened by hand: the isolation policy's filter admits every row.
    bqmanage_warehouse.query(
        "UPDATE `_bqmanage`.`row_access_policies` SET filter = 'TRUE' WHERE name = 'bqmanage_tenant_isolation'"
    )
    with pytest.raises(pytest.fail.Exception, match=r"acme-reader@example\.com, a member of tenant acme, can read rows"):
        bqmanage_isolated(["acme"])
