"""The live row access policies of the isolated tables, read beside their Table resources: a
resource of their own in BigQuery (rowAccessPolicies.list), so read for the tables whose
definitions declare ``row_access`` only, where the engine does not hand them over already."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bqmanage.changes.row_access import ROW_ACCESS
from bqmanage.model.rest import policies_from_api
from bqmanage.model.schema import Definitions, Table

if TYPE_CHECKING:
    from bqmanage.engines import Engine


def attach_policies(engine: Engine, desired: Definitions, tables: dict[str, Table]) -> dict[str, Table]:
    """``tables`` with the live policies of each isolated one (those not read yet)."""
    if ROW_ACCESS in engine.capabilities.unobservable:
        return tables
    wanted = [
        (t.dataset, t.name)
        for t in desired.tables
        if t.row_access is not None
        and (live := tables.get(f"{t.dataset}.{t.name}")) is not None
        and live.row_access_policies is None
    ]
    if not wanted:
        return tables
    read = engine.row_access_policies(wanted)
    return {
        key: table.model_copy(update={"row_access_policies": policies_from_api(read[key])}) if key in read else table
        for key, table in tables.items()
    }
