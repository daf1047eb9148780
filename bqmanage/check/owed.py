"""Work an interrupted apply still owes, read from the apply ledger as ``plan`` reads it.

A killed apply can leave every column in place, with its default, while existing rows still read
NULL: the live schema matches the definitions, so only the ledger knows the backfill is owed.
``plan`` resumes it from the ledger; ``check`` reports it from the same rows, so that the two
never disagree.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from bqmanage.check.findings import SEVERITY, Finding

if TYPE_CHECKING:
    from bqmanage.engines import Engine
    from bqmanage.ledger import LedgerEntry
    from bqmanage.model.schema import Definitions, Warehouse

# How long after an apply check reads the tables it changed with tables.get rather than trust
# INFORMATION_SCHEMA. BigQuery documents only that schema changes may not show there at once
# (https://cloud.google.com/bigquery/docs/managing-table-schemas; the delay is an open question in
# the facts file, section 9): 30 minutes is generous, and the cost is a free tables.get per table.
STALENESS_WINDOW = dt.timedelta(minutes=30)


def recently_applied(entries: list[LedgerEntry], now: dt.datetime | None = None) -> set[str]:
    """The datasets whose newest ledger entry (an apply that changed something) is within the
    staleness window: their tables may not show the change in INFORMATION_SCHEMA yet."""
    now = now or dt.datetime.now(dt.UTC)
    out = set()
    for entry in entries:
        when = entry.applied_at
        if isinstance(when, dt.datetime):
            when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
            if now - when < STALENESS_WINDOW:
                out.add(entry.dataset)
    return out


def read_ledgers(engine: Engine, desired: Definitions, actual: Warehouse, listed: dict[str, dict[str, str]]) -> list[LedgerEntry]:
    """The newest ledger entry of the live datasets that can owe a backfill (a column with a
    default: their ledgers are looked for with tables.get, which INFORMATION_SCHEMA may lag) and
    of those whose catalog listing shows a ledger (for ``recently_applied``; no further request)."""
    from bqmanage.apply import latest_entries
    from bqmanage.ledger import LEDGER

    resumable = {t.dataset for t in desired.tables if any(c.default is not None for c in t.columns)}
    known = frozenset(name for name, tables in listed.items() if LEDGER in tables and name in actual.datasets)
    if not engine.capabilities.catalog_lags:
        # Nothing to confirm where the catalog cannot lag: only unfinished entries owe anything,
        # and the engine need not read whole rows of the others.
        datasets = {name: d.location for name, d in actual.datasets.items() if name in resumable}
        return latest_entries(engine, datasets, known & datasets.keys(), unfinished_only=True) if datasets else []
    datasets = {name: d.location for name, d in actual.datasets.items() if name in resumable or name in known}
    return latest_entries(engine, datasets, known) if datasets else []


def owed_backfills(desired: Definitions, entries: list[LedgerEntry]) -> list[Finding]:
    """A ``pending_backfill`` finding per table whose dataset's latest ledger entry (``entries``,
    read once for check) is unfinished and names a backfill: the backfill ``plan`` would resume."""
    out = []
    for entry in entries:
        if entry.outcome == "succeeded":
            continue
        for table, columns in entry.backfill:
            defined = desired.table(entry.dataset, table)
            out.append(
                Finding(
                    "pending_backfill",
                    SEVERITY["pending_backfill"],
                    f"{entry.dataset}.{table}: an apply that stopped ({entry.outcome}) left the backfill of "
                    f"{', '.join(columns)} unfinished: existing rows may still read NULL; "
                    "apply finishes it (step: backfill)",
                    dataset=entry.dataset,
                    table=table,
                    expected=columns,
                    definition=defined.source if defined else None,
                    definition_line=(defined.line or 1) if defined else None,
                )
            )
    return out
