"""The ``bigquery`` engine: the official google-cloud-bigquery client. This is the product.

Credentials come from google-auth (ADC, a service-account file, or impersonation). When
BIGQUERY_EMULATOR_HOST is set, the client talks to that endpoint with anonymous credentials,
as the official client itself does, and the engine declares what the emulator cannot do.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import decimal
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import google.auth
from google.api_core import exceptions as gexc
from google.cloud import bigquery

from bqmanage.changes import CreateDataset, TablePatch
from bqmanage.engines.bq_credentials import credentials
from bqmanage.engines.bq_errors import NETWORK, api_message, is_retryable, network_reason
from bqmanage.errors import ConfigError, WarehouseError
from bqmanage.plan import Capabilities, Step

if TYPE_CHECKING:
    from bqmanage.settings import Settings

# Real BigQuery: one multi-action ALTER per table, 5 metadata updates per 10 s per table.
BIGQUERY = Capabilities(multi_action_alter=True, metadata_updates_per_10s=5)
# bqemulator 1.4.0 (measured; README "Tests" lists the gaps): rejects multi-action ALTER,
# drops defaults, descriptions, labels, clustering, require_partition_filter, type parameters
# and CREATE SCHEMA options, and its catalog does not follow ALTER (read physical columns instead).
BQEMULATOR = Capabilities(
    multi_action_alter=False,
    catalog_follows_alter=False,
    runs_as="bqemulator gets each ADD COLUMN of a multi-action ALTER as an ALTER of its own",
    info_schema_missing=frozenset({"COLUMN_FIELD_PATHS", "COLUMNS.column_default", "TABLES.ddl"}),
    unobservable=frozenset(
        {
            "default",
            "description",
            "clustering",
            "labels",
            "require_partition_filter",
            "type_params",
            "dataset_options",
            "friendly_name",
        }
    ),
)
T = TypeVar("T")


class BigQueryEngine:
    name = "bigquery"

    def __init__(self, settings: Settings, command: str = "bqmanage") -> None:
        # The endpoint decides the credentials and what the engine can rely on; nothing else
        # branches on it (the emulator's gaps are data: BQEMULATOR).
        emulator = os.environ.get("BIGQUERY_EMULATOR_HOST")
        if not settings.project:
            raise ConfigError("--project: the bigquery target needs a project (flag, BQMANAGE_PROJECT or GOOGLE_CLOUD_PROJECT)")
        self.capabilities = BQEMULATOR if emulator else BIGQUERY
        self.deadline = settings.retry_deadline
        # How long one query job may run before bqmanage cancels it (BigQuery's own limit is 6 h).
        self.job_timeout = settings.job_timeout
        creds, self._principal = credentials(settings, bool(emulator))
        self.client = bigquery.Client(project=settings.project, credentials=creds, location=settings.location)
        self.project = settings.project
        self.location = settings.location
        self._locations: dict[str, str] = {}  # dataset -> location, as datasets.get reported it
        # Where every failure message starts: which warehouse, reached how.
        self.where = f"bigquery project {settings.project} at {emulator or 'https://bigquery.googleapis.com'}"
        self.labels = {"bqmanage": command.replace("-", "_"), **settings.labels}
        # Short RPC deadline: emulator bugs answer 500, which the default retry chases for 600 s.
        self.rpc_retry = bigquery.DEFAULT_RETRY.with_deadline(min(self.deadline, 30))
        # Per HTTP request: without one, an endpoint that accepts and never answers hangs forever.
        self.rpc_timeout = min(self.deadline, 60.0)
        self.on_statement: Callable[[str], None] = lambda statement: None  # see Engine
        self.sleep = time.sleep
        # Datasets per UNION ALL query (bench/infoschema_batch.py measures the trade-off).
        self.info_schema_batch = settings.info_schema_batch
        self.region_qualified = settings.region_qualified_information_schema

    # ---- catalog ----

    def list_datasets(self) -> list[str]:
        found = self._call(
            "datasets.list", lambda: list(self.client.list_datasets(retry=self.rpc_retry, timeout=self.rpc_timeout))
        )
        return sorted(d.dataset_id for d in found)

    def get_dataset(self, dataset: str) -> dict[str, Any] | None:
        try:
            resource: dict[str, Any] = self._call(
                "datasets.get", lambda: self.client.get_dataset(dataset, retry=self.rpc_retry, timeout=self.rpc_timeout)
            ).to_api_repr()
            self._locations[dataset] = resource.get("location") or ""
            return resource
        except WarehouseError as exc:
            if isinstance(exc.__cause__, gexc.NotFound):
                return None
            raise

    def list_tables(self, dataset: str) -> list[str]:
        found = self._call(
            "tables.list", lambda: list(self.client.list_tables(dataset, retry=self.rpc_retry, timeout=self.rpc_timeout))
        )
        return sorted(t.table_id for t in found)

    def get_table(self, dataset: str, table: str) -> dict[str, Any] | None:
        try:
            resource = self._table(dataset, table).to_api_repr()
        except WarehouseError as exc:
            if isinstance(exc.__cause__, gexc.NotFound):
                return None
            raise
        if not self.capabilities.catalog_follows_alter:
            resource["schema"] = {"fields": self._physical_fields(dataset, table, resource)}
        return resource

    def _physical_fields(self, dataset: str, table: str, resource: dict[str, Any]) -> list[dict[str, Any]]:
        """bqemulator's catalog does not follow ALTER: the physical columns come from a query's schema.

        Modes and nested detail still come from the catalog where it knows the column.
        """
        sql = f"SELECT * FROM `{self.project}`.`{dataset}`.`{table}` LIMIT 0"
        _, physical = self._run(sql, None)
        catalog = {f["name"].lower(): f for f in (resource.get("schema") or {}).get("fields") or []}
        fields = []
        for field in physical:
            api = field.to_api_repr()
            known = catalog.get(field.name.lower())
            if known is not None and _same_base(known, api):
                api = known
            fields.append(api)
        return fields

    def read_catalog(self, datasets: dict[str, str | None], on_progress: Any = None) -> dict[str, dict[str, Any]]:
        """Every table of ``datasets`` (name -> location) from INFORMATION_SCHEMA: one job per view
        per batch of datasets of one location, run in that location. A query job runs in one
        location and can read only datasets there, so mixing locations in a batch fails
        (https://cloud.google.com/bigquery/docs/information-schema-intro#syntax,
        https://cloud.google.com/bigquery/docs/locations#specify_locations)."""
        from bqmanage import infoschema

        missing = self.capabilities.info_schema_missing
        views = [v for v in infoschema.VIEWS if v not in missing]
        for name, location in datasets.items():
            self._locations.setdefault(name, location or "")
        groups = location_batches(datasets, self.location, self.info_schema_batch, self.region_qualified)
        out: dict[str, dict[str, Any]] = {}
        for i, (location, group) in enumerate(groups):
            rows: dict[str, list[dict[str, Any]]] = {}
            for view in views:
                region = (location or "US") if self.region_qualified else None
                sql = infoschema.view_sql(view, group, self.project, missing, region)
                self.on_statement(sql)
                result, _ = self._run(sql, {"datasets": group} if region else None, "check", location or None)
                rows[view] = [dict(r.items()) for r in result]
            out.update(infoschema.to_resources(self.project, rows))
            if on_progress:
                on_progress(i + 1, len(groups))
        return out

    # ---- execution ----

    def execute(self, step: Step) -> None:
        self.on_statement(step.sql if step.sql is not None else step.text())
        if step.actions and not self.capabilities.multi_action_alter:
            statements = step.actions  # the multi-action ALTER, one action at a time
        else:
            statements = (step.sql,) if step.sql is not None else ()
        for sql in statements:
            self._run(sql, None, location=self._step_location(step))
        if step.api is not None:
            self._patch(step)

    def _step_location(self, step: Step) -> str | None:
        """The location a step's job runs in: its dataset's. CREATE SCHEMA creates the dataset in
        the job's location unless they agree, and DDL on a dataset elsewhere than the job fails."""
        created = next((c.desired.location for c in step.changes if isinstance(c, CreateDataset)), None)
        return created or self._locations.get(step.dataset) or None

    def _table(self, dataset: str, table: str) -> bigquery.Table:
        return self._call(
            "tables.get",
            lambda: self.client.get_table(f"{self.project}.{dataset}.{table}", retry=self.rpc_retry, timeout=self.rpc_timeout),
        )

    def _update(self, table: bigquery.Table, fields: list[str]) -> None:
        self._retrying(
            lambda: self._call(
                "tables.patch", lambda: self.client.update_table(table, fields, retry=self.rpc_retry, timeout=self.rpc_timeout)
            )
        )

    def _patch(self, step: Step) -> None:
        """tables.patch: each change edits the live REST Table resource, then the fields they
        changed are sent, with the resource's etag (a concurrent change fails, and is retried)."""
        resource = self._table(step.dataset, step.table or "").to_api_repr()
        fields = {change.patch(resource) for change in step.changes if isinstance(change, TablePatch)}
        self._update(bigquery.Table.from_api_repr(resource), sorted(fields))

    def query(self, sql: str, params: dict[str, Any] | None = None, label: str = "query") -> list[dict[str, Any]]:
        self.on_statement(sql)
        rows, _ = self._run(sql, params, label)
        return [dict(r.items()) for r in rows]

    def _config(
        self, params: dict[str, Any] | None = None, label: str | None = None, dry_run: bool = False
    ) -> bigquery.QueryJobConfig:
        labels = dict(self.labels)
        if label:
            labels["bqmanage_step"] = label
        return bigquery.QueryJobConfig(
            labels=labels,
            dry_run=dry_run,
            use_query_cache=not dry_run,
            query_parameters=[_parameter(k, v) for k, v in (params or {}).items()],
        )

    def _run(
        self, sql: str, params: dict[str, Any] | None, label: str | None = None, location: str | None = None
    ) -> tuple[list[Any], Any]:
        """Run one query job to the end: its rows (all pages, fetched here, inside the error
        handling) and their schema. Retried whole on rate limits and concurrent-update conflicts.
        ``location`` overrides the target's job location."""

        def attempt() -> tuple[list[Any], Any]:
            job = self._call(
                "jobs.insert",
                lambda: self.client.query(
                    sql,
                    job_config=self._config(params, label),
                    retry=self.rpc_retry,
                    job_retry=None,
                    timeout=self.rpc_timeout,
                    location=location or self.location,
                ),
            )
            return self._wait(job)

        return self._retrying(attempt)

    def _wait(self, job: bigquery.QueryJob) -> tuple[list[Any], Any]:
        """The job's result within BQMANAGE_JOB_TIMEOUT; a job that outlives it is cancelled, not
        left running behind a failed command."""
        started = time.monotonic()

        def fetch() -> tuple[list[Any], Any]:
            try:
                result = job.result(timeout=self.job_timeout, retry=self.rpc_retry)
                return list(result), result.schema
            except KeyboardInterrupt:
                self._cancel(job)
                raise
            except (concurrent.futures.TimeoutError, *NETWORK) as exc:
                # The client says "too late" in several ways (its own TimeoutError, or a transport
                # timeout its retry gave up on); past the job timeout they all mean the same.
                if not isinstance(exc, concurrent.futures.TimeoutError) and time.monotonic() - started < self.job_timeout:
                    raise
                cancelled = self._cancel(job)
                raise WarehouseError(
                    f"{self.where}: jobs.getQueryResults failed: job {job.job_id} did not finish within "
                    f"{self.job_timeout:g} s (BQMANAGE_JOB_TIMEOUT); {cancelled}"
                ) from None

        return self._call("jobs.getQueryResults", fetch)

    def _cancel(self, job: bigquery.QueryJob) -> str:
        """Cancel a job bqmanage stopped waiting for; say what became of it."""
        try:
            # Briefly: the command is already failing, and the message will name the job anyway.
            self.client.cancel_job(
                job.job_id,
                project=job.project,
                location=job.location,
                retry=bigquery.DEFAULT_RETRY.with_deadline(10.0),
                timeout=min(self.rpc_timeout, 10.0),
            )
            return "cancelled it"
        except Exception as exc:
            reason = api_message(exc) if isinstance(exc, gexc.GoogleAPICallError) else network_reason(exc, self.rpc_timeout)
            return f"it may still be running ({reason}): stop it with `bq cancel {job.job_id}`"

    def estimate_bytes(self, sql: str, params: dict[str, Any] | None = None) -> int | None:
        job = self._call(
            "jobs.insert",
            lambda: self.client.query(
                sql, job_config=self._config(params, dry_run=True), retry=self.rpc_retry, job_retry=None, timeout=self.rpc_timeout
            ),
        )
        return int(job.total_bytes_processed or 0)

    def _retrying(self, func: Callable[[], T]) -> T:
        """Re-run on rate limits and concurrent-update conflicts with exponential backoff, bounded."""
        start, delay = time.monotonic(), 1.0
        while True:
            try:
                return func()
            except WarehouseError as exc:
                cause = exc.__cause__
                if (
                    not isinstance(cause, gexc.GoogleAPICallError)
                    or not is_retryable(cause)
                    or time.monotonic() - start + delay > self.deadline
                ):
                    raise
                self.sleep(delay)
                delay = min(delay * 2, 32.0)

    def _call(self, operation: str, func: Callable[[], T]) -> T:
        """Every call of the client goes through here: whatever fails becomes one WarehouseError
        that starts with the project and endpoint, and names the REST operation."""
        try:
            return func()
        except WarehouseError:
            raise
        except gexc.GoogleAPICallError as exc:
            raise self._failure(operation, api_message(exc)) from exc
        except NETWORK as exc:
            cause = exc.cause if isinstance(exc, gexc.RetryError) else exc
            if isinstance(cause, gexc.GoogleAPICallError):
                raise self._failure(
                    operation, f"still failing after {min(self.deadline, 30):g} s of retries: {api_message(cause)}"
                ) from cause
            reason = network_reason(cause, self.rpc_timeout)
            raise self._failure(
                operation,
                f"cannot reach the endpoint: {reason}"
                + (f" (gave up after {min(self.deadline, 30):g} s of retries)" if exc is not cause else ""),
            ) from None
        except google.auth.exceptions.GoogleAuthError as exc:
            raise self._failure(operation, f"authentication failed: {exc}") from None

    def _failure(self, operation: str, message: str) -> WarehouseError:
        return WarehouseError(f"{self.where}: {operation} failed: {message}")

    def principal(self) -> str:
        return self._principal

    def close(self) -> None:
        self.client.close()


def location_batches(
    datasets: dict[str, str | None], default: str | None, size: int, region_qualified: bool
) -> list[tuple[str, list[str]]]:
    """(location, datasets) per INFORMATION_SCHEMA job: datasets of one location only, in batches
    of ``size`` (or all at once for a region-qualified view). "" is the job's default location."""
    from bqmanage import infoschema
    from bqmanage.locations import canonical_location

    by_location: dict[str, list[str]] = {}
    for name, location in sorted(datasets.items()):
        where = location or default
        by_location.setdefault((canonical_location(where) or where) if where else "", []).append(name)
    return [
        (location, batch)
        for location, names in sorted(by_location.items())
        for batch in ([names] if region_qualified else infoschema.batches(names, size))
    ]


def _same_base(catalog: dict[str, Any], physical: dict[str, Any]) -> bool:
    from bqmanage.types import canonical_name

    return canonical_name(str(catalog.get("type"))) == canonical_name(str(physical.get("type")))


def _parameter(name: str, value: Any) -> Any:
    if isinstance(value, list):
        return bigquery.ArrayQueryParameter(name, "STRING", value)
    kinds = (
        (bool, "BOOL"),
        (int, "INT64"),
        (float, "FLOAT64"),
        (decimal.Decimal, "NUMERIC"),
        (dt.datetime, "TIMESTAMP"),
        (dt.date, "DATE"),
        (str, "STRING"),
    )
    kind = next((k for t, k in kinds if isinstance(value, t)), "STRING")
    return bigquery.ScalarQueryParameter(name, kind, value)
