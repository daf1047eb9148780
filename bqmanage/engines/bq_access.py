"""A dataset's access list on BigQuery: read, merged, and patched with the read's etag.

An update of a dataset's access replaces the whole list (googleapis/python-bigquery#569), so a
grant computed from an old read would drop whatever somebody granted since. Each attempt reads
the dataset (datasets.get), adds the step's grants and removes its revocations from the list it
just read, leaves every other entry as it found it, and sends the list with that read's etag
(``If-Match``, which the client sets from ``Dataset.etag``). A 412 means the dataset changed in
between: read again, merge again, retry after a random wait, so that two runs that met do not
meet again (https://cloud.google.com/bigquery/docs/reference/rest/v2/datasets/patch;
https://cloud.google.com/bigquery/docs/error-messages).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from google.api_core import exceptions as gexc
from google.api_core.retry import Retry
from google.cloud import bigquery

from bqmanage.changes.access import DATASETS_PATCH
from bqmanage.errors import WarehouseError
from bqmanage.model.access import entry_from_api
from bqmanage.plan import Step

R = TypeVar("R")


class BigQueryEngine(Protocol):
    """What this module uses of engines.bigquery.BigQueryEngine (a Protocol: no import cycle)."""

    client: bigquery.Client
    rpc_retry: Retry
    rpc_timeout: float

    @property
    def sleep(self) -> Callable[[float], None]: ...

    def _call(self, operation: str, func: Callable[[], R]) -> R: ...

    def _retrying(self, func: Callable[[], R]) -> R: ...


__all__ = ["DATASETS_PATCH", "merged", "patch_access"]

# Reads and patches of one dataset before a run of 412s is a failure (exit 3).
ATTEMPTS = 6


def merged(live: list[dict[str, Any]], grant: list[dict[str, Any]], revoke: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The live list without ``revoke`` and with ``grant``; every other entry exactly as read."""
    gone = {entry_from_api(e).key for e in revoke}
    kept = [e for e in live if entry_from_api(e).key not in gone]
    have = {entry_from_api(e).key for e in kept}
    return kept + [e for e in grant if entry_from_api(e).key not in have]


def patch_access(engine: BigQueryEngine, step: Step) -> None:
    """Make one set_dataset_access step: read, merge, patch with the etag, retried on a 412."""
    assert step.api is not None
    for attempt in range(ATTEMPTS):
        dataset = engine._call(
            "datasets.get", lambda: engine.client.get_dataset(step.dataset, retry=engine.rpc_retry, timeout=engine.rpc_timeout)
        )
        live = list(dataset._properties.get("access") or [])
        wanted = merged(live, step.api["grant"], step.api["revoke"])
        if wanted == live:
            return  # already so: a re-run after a kill sends nothing
        dataset._properties["access"] = wanted
        try:
            _send(engine, dataset)
            return
        except WarehouseError as exc:
            if not isinstance(exc.__cause__, gexc.PreconditionFailed) or attempt + 1 == ATTEMPTS:
                raise
            engine.sleep(random.uniform(0.1, 0.5) * (attempt + 1))


def _send(engine: BigQueryEngine, dataset: Any) -> None:
    """datasets.patch of the access list alone, with the dataset's etag; rate limits retried."""
    engine._retrying(
        lambda: engine._call(
            "datasets.patch",
            lambda: engine.client.update_dataset(dataset, ["access_entries"], retry=engine.rpc_retry, timeout=engine.rpc_timeout),
        )
    )
