"""Work an interrupted apply still owes, read from the apply ledger as ``plan`` reads it.

A killed apply can leave every column in place, with its default, while existing rows still read
NULL: the live schema matches the definitions, so only the ledger knows the backfill is owed.
``plan`` resumes it from the ledger; ``check`` reports it from the same rows, so that the two
never disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bqmanage.check.findings import SEVERITY, Finding

if TYPE_CHECKING:
    from bqmanage.engines import Engine
    from bqmanage.model.schema import Definitions, Warehouse


def owed_backfills(engine: Engine, desired: Definitions, actual: Warehouse) -> list[Finding]:
    """A ``pending_backfill`` finding per table whose dataset's latest ledger entry is unfinished
    and names a backfill: the backfill ``plan`` would resume. Only datasets with a defaulted
    column can owe one, so only their ledgers are read (none: no query)."""
    from bqmanage.apply import latest_entries

    resumable = {t.dataset for t in desired.tables if any(c.default is not None for c in t.columns)}
    datasets = {name: d.location for name, d in actual.datasets.items() if name in resumable}
    out = []
    # Only unfinished entries owe anything: the engine need not read whole rows of the others.
    for entry in latest_entries(engine, datasets, unfinished_only=True) if datasets else []:
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
