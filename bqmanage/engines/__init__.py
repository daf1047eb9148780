"""The engine interface. Only modules in this package import a database client.

An engine reads the live catalog as REST-shaped resources (``introspect`` normalises them into
the model), executes rendered steps, and runs BigQuery SQL with query parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from bqmanage.changes.partitions import Partition
    from bqmanage.engines.dml import DmlStats
    from bqmanage.model.schema import Table
    from bqmanage.plan import Capabilities, Step
    from bqmanage.settings import Settings


class Engine(Protocol):
    name: str
    capabilities: Capabilities
    # Called with each statement or API call bqmanage sends (GoogleSQL, as plan prints it), for
    # whoever wants to watch (tests record them); by default nobody does.
    on_statement: Callable[[str], None]

    def list_datasets(self) -> list[str]:
        """Names of the live datasets."""

    def list_tables(self, dataset: str) -> list[str]:
        """Names of the tables of one dataset."""

    def list_table_types(self, dataset: str) -> dict[str, str]:
        """Every table-like object of one dataset and its REST type: TABLE, VIEW, EXTERNAL,
        MATERIALIZED_VIEW, SNAPSHOT (import writes definitions of tables only, and says why not
        of the others)."""

    def get_table(self, dataset: str, table: str) -> dict[str, Any] | None:
        """The REST Table resource (schema, partitioning, clustering, options), or None."""

    def read_datasets_exact(self, datasets: list[str]) -> dict[str, dict[str, Any] | None]:
        """The REST Dataset resource (description, labels, location) of each named dataset, None
        where absent, exactly as it is now: one datasets.get each on BigQuery, side by side. Plan,
        apply and import read through here, and check confirms what its bulk read shows drifting."""

    def get_tables(self, tables: list[tuple[str, str]], counts: bool = True) -> dict[str, dict[str, Any] | None]:
        """REST Table resources keyed "dataset.table" (None where absent), read the way the engine
        reads many at once. Without ``counts`` a resource need not have ``numRows``: an engine that
        counts rows by reading every table (the local one) leaves them out; tables.get has them free."""

    def latest_ledger_rows(
        self, datasets: dict[str, str | None], listed: frozenset[str] = frozenset(), unfinished_only: bool = False
    ) -> dict[str, dict[str, Any]]:
        """The newest row of the apply ledger of each of ``datasets`` (name -> location) that has
        one (the columns ``ledger.ENTRY_COLUMNS``), read the way the engine reads many at once.
        ``listed``: datasets a catalog read just showed holding a ledger (no need to look again);
        ``unfinished_only``: only the rows whose outcome is not "succeeded" (check's owed work),
        which an engine may read more cheaply."""

    def read_datasets_bulk(self, datasets: list[str]) -> dict[str, dict[str, Any] | None]:
        """Like read_datasets_exact, in the fewest requests the engine has however many datasets
        (check's bulk read: one datasets.list and one catalog query per location on BigQuery). It may
        lag behind recent changes, as INFORMATION_SCHEMA does: whatever drifts is confirmed with
        read_datasets_exact."""

    def read_catalog(self, datasets: dict[str, str | None], on_progress: Any = None) -> dict[str, dict[str, Any]]:
        """REST Table resources of every table of ``datasets``, keyed "dataset.table", in bulk."""

    def row_access_policies(self, tables: list[tuple[str, str]]) -> dict[str, list[dict[str, Any]]]:
        """The live row access policies of each table (``{"policyId", "filterPredicate"}``, and
        ``"grantees"`` where the engine can read them), keyed "dataset.table"."""

    def execute(self, step: Step) -> None:
        """Run one rendered step: its SQL, or its API call."""

    def query(
        self, sql: str, params: dict[str, Any] | None = None, label: str = "query", location: str | None = None
    ) -> list[dict[str, Any]]:
        """Run GoogleSQL with named query parameters; return the rows."""

    def dml(self, sql: str, params: dict[str, Any] | None = None, label: str = "query") -> DmlStats:
        """Run one GoogleSQL DML statement with named query parameters; return what it changed."""

    def read_rows(self, dataset: str, table: str, fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Every row of a table, only the given columns (REST TableFieldSchema), read without a
        query job where the engine can (BigQuery's tabledata.list is free)."""

    def partitions(self, table: Table) -> list[Partition]:
        """The partitions of a live partitioned table that hold rows: id, rows and logical bytes
        (BigQuery's INFORMATION_SCHEMA.PARTITIONS; the local engine models them)."""

    def estimate_bytes(self, sql: str, params: dict[str, Any] | None = None) -> int | None:
        """Bytes a query would process (a free dry run), or None when the engine cannot tell."""

    def principal(self) -> str:
        """Who the credentials are, for the ledger."""

    def close(self) -> None:
        """Release connections."""


@contextmanager
def engine_session(settings: Settings, command: str = "bqmanage", read_only: bool = False) -> Iterator[Engine]:
    """An open engine for the length of one command, closed however the command ends.

    ``read_only`` commands (check, plan, inspect, dry runs) never write: on the local engine they
    open the file read-only, beside other readers, and never create it.
    """
    engine = open_engine(settings, command, read_only)
    try:
        yield engine
    except Exception as exc:
        if settings.engine == "local":
            # What no caller turned into a message (a damaged block met while fetching rows): one line, exit 3.
            from bqmanage.engines.duck_client import duckdb
            from bqmanage.engines.duck_file import failure

            if isinstance(exc, duckdb.Error):
                raise failure(settings.local_path, exc) from None
        raise
    finally:
        engine.close()


def open_engine(settings: Settings, command: str = "bqmanage", read_only: bool = False) -> Engine:
    """The engine the settings' target names; imports its client only now (fast --help)."""
    if settings.engine == "local":
        from bqmanage.engines.local import LocalEngine

        return LocalEngine(settings.local_path, read_only, settings.lock_timeout)
    from bqmanage.engines.bigquery import BigQueryEngine

    return BigQueryEngine(settings, command)
