"""The engine interface. Only modules in this package import a database client.

An engine reads the live catalog as REST-shaped resources (``introspect`` normalises them into
the model), executes rendered steps, and runs BigQuery SQL with query parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
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

    def get_dataset(self, dataset: str) -> dict[str, Any] | None:
        """The REST Dataset resource (description, labels, location), or None when absent."""

    def list_tables(self, dataset: str) -> list[str]:
        """Names of the tables of one dataset."""

    def get_table(self, dataset: str, table: str) -> dict[str, Any] | None:
        """The REST Table resource (schema, partitioning, clustering, options), or None."""

    def read_catalog(self, datasets: dict[str, str | None], on_progress: Any = None) -> dict[str, dict[str, Any]]:
        """REST Table resources of every table of ``datasets``, keyed "dataset.table", in bulk."""

    def execute(self, step: Step) -> None:
        """Run one rendered step: its SQL, or its API call."""

    def query(self, sql: str, params: dict[str, Any] | None = None, label: str = "query") -> list[dict[str, Any]]:
        """Run GoogleSQL with named query parameters; return the rows."""

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
    finally:
        engine.close()


def open_engine(settings: Settings, command: str = "bqmanage", read_only: bool = False) -> Engine:
    """The engine the settings' target names; imports its client only now (fast --help)."""
    if settings.engine == "local":
        from bqmanage.engines.local import LocalEngine

        return LocalEngine(settings.local_path, read_only, settings.lock_timeout)
    from bqmanage.engines.bigquery import BigQueryEngine

    return BigQueryEngine(settings, command)
