"""The apply ledger: ``<dataset>._bqmanage_migrations``, its columns and its SQL, in one place.

Each apply that changes something records itself in the ledger of every dataset it touches; an
entry that never reached ``succeeded`` hands its unfinished backfill to the next plan. ``apply``
writes it, both engines read it in bulk (``Engine.latest_ledger_rows``) and ``plan`` and ``inspect``
show it: they all take its name, columns and statements from here.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from bqmanage.model.names import RESERVED_PREFIX, quote, string_literal
from bqmanage.model.schema import Column, Definitions, Table, Warehouse

LEDGER = f"{RESERVED_PREFIX}_migrations"

COLUMNS = (
    Column(name="run_id", type="STRING", mode="REQUIRED"),
    Column(name="applied_at", type="TIMESTAMP", mode="REQUIRED"),
    Column(name="principal", type="STRING"),
    Column(name="definitions_digest", type="STRING"),
    Column(name="bqmanage_version", type="STRING"),
    Column(name="outcome", type="STRING", mode="REQUIRED"),
    Column(name="applied_steps", type="INT64"),
    Column(name="total_steps", type="INT64"),
    Column(name="statements", type="STRING", description="JSON array of the statements of the run"),
    # A backfill cut by partitions adds the partitions done so far: [table, [columns], [ids]].
    Column(name="backfill", type="STRING", description="JSON array of [table, [columns]] to backfill"),
    Column(name="error", type="STRING"),
)

# The columns a reader of the newest entry selects, in this order (LedgerEntry's fields).
ENTRY_COLUMNS = ("applied_at", "principal", "definitions_digest", "outcome", "applied_steps", "total_steps", "backfill")

# Ledgers read per query: BigQuery reads at most 1,000 tables in one query
# (https://cloud.google.com/bigquery/quotas#query_jobs).
BATCH = 500


def ledger_table(dataset: str) -> Table:
    return Table(
        dataset=dataset,
        name=LEDGER,
        columns=COLUMNS,
        description="bqmanage apply history: one row per run start and end.",
    )


@dataclass
class LedgerEntry:
    dataset: str
    applied_at: Any
    principal: str | None
    definitions_digest: str | None
    outcome: str
    applied_steps: int | None
    total_steps: int | None
    backfill: list[tuple[str, list[str]]]
    # table -> the partitions of its backfill done so far (a backfill cut by partitions).
    done: dict[str, list[str]] = field(default_factory=dict)


def entry_from_row(dataset: str, row: dict[str, Any]) -> LedgerEntry:
    """A ledger row as an engine returns it (the ENTRY_COLUMNS) -> the entry plan and inspect read."""
    owed = json.loads(row["backfill"] or "[]")
    return LedgerEntry(
        dataset=dataset,
        applied_at=row["applied_at"],
        principal=row["principal"],
        definitions_digest=row["definitions_digest"],
        outcome=row["outcome"],
        applied_steps=row["applied_steps"],
        total_steps=row["total_steps"],
        backfill=[(entry[0], list(entry[1])) for entry in owed],
        done={entry[0]: [str(p) for p in entry[2]] for entry in owed if len(entry) > 2},
    )


def latest_entry_sql(dataset: str) -> str:
    return (
        f"SELECT {', '.join(ENTRY_COLUMNS)} "
        f"FROM {quote(dataset)}.{quote(LEDGER)} ORDER BY applied_at DESC, outcome = 'running' LIMIT 1"
    )


def latest_entries_sql(datasets: list[str]) -> str:
    """The newest ledger row of each of ``datasets`` in one query, named by its dataset."""
    return "\nUNION ALL\n".join(
        f"SELECT {string_literal(d)} AS dataset, latest.* FROM ({latest_entry_sql(d)}) AS latest" for d in datasets
    )


def ledger_insert_sql(dataset: str) -> str:
    """One ledger row; every value is a query parameter."""
    return (
        f"INSERT INTO {quote(dataset)}.{quote(LEDGER)} (run_id, applied_at, principal, definitions_digest, "
        "bqmanage_version, outcome, applied_steps, total_steps, statements, backfill, error) VALUES "
        "(@run_id, @applied_at, @principal, @digest, @version, @outcome, @applied, @total, @statements, @backfill, @error)"
    )


# ledger_insert_sql's parameters, by the column each one fills.
_PARAMS = {
    "run_id": "run_id",
    "applied_at": "applied_at",
    "principal": "principal",
    "definitions_digest": "digest",
    "bqmanage_version": "version",
    "outcome": "outcome",
    "applied_steps": "applied",
    "total_steps": "total",
    "statements": "statements",
    "backfill": "backfill",
    "error": "error",
}


def ledger_row_sql(dataset: str, params: dict[str, Any]) -> str:
    """``ledger_insert_sql`` with its parameters written as literals, for the last statement of a
    new tenant dataset's script (tenants/onboard.py). Why literals: BigQuery passes a job's query
    parameters to a script's statements, but bqemulator passes none ("Values were not provided
    for the following prepared statement parameters", measured), and the row must be in the
    script to keep a new tenant within its jobs. How: strings (ids, the principal, the JSON of the
    statements, an error) through ``string_literal``, which escapes every quote, backslash and
    control character; a timestamp as a TIMESTAMP literal of its UTC time in the canonical
    format; an integer through ``int``; NULL cast to its column's type. The values are typed by
    the ledger's columns, never spliced as SQL (tests/pipeline/test_googlesql.py analyzes one with
    hostile strings; tests/tenants/test_onboarding_scale.py reads one back)."""
    values = []
    for column in COLUMNS:
        value = params[_PARAMS[column.name]]
        if value is None:
            values.append(f"CAST(NULL AS {column.type})")
        elif column.type == "TIMESTAMP":
            utc = value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")
            values.append(f"TIMESTAMP {string_literal(utc)}")
        elif column.type == "INT64":
            values.append(str(int(value)))
        else:
            values.append(string_literal(str(value)))
    names = ", ".join(c.name for c in COLUMNS)
    return f"INSERT INTO {quote(dataset)}.{quote(LEDGER)} ({names}) VALUES ({', '.join(values)})"


def ledger_datasets(desired: Definitions, actual: Warehouse, history: bool) -> dict[str, str | None]:
    """The datasets whose newest ledger entry a plan reads (name -> location): every live one with
    ``history``, else those that can owe a backfill (a table with a column that has a default).
    Only live datasets can hold a ledger; introspection already knows which those are."""
    resumable = {t.dataset for t in desired.tables if any(c.default is not None for c in t.columns)}
    return {name: d.location for name, d in actual.datasets.items() if history or name in resumable}
