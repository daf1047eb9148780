"""The ``bigquery`` engine: the official google-cloud-bigquery client. This is the product.

Credentials come from google-auth (ADC, a service-account file, or impersonation). When
BIGQUERY_EMULATOR_HOST is set, the client talks to that endpoint with anonymous credentials,
as the official client itself does, and the engine declares what the emulator cannot do.
"""

from __future__ import annotations

import concurrent.futures
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import google.auth
import requests
from google.api_core import exceptions as gexc
from google.cloud import bigquery

from bqmanage.changes import CreateDataset, TablePatch
from bqmanage.changes.patch import strip_governance, tagged_paths, unapplied
from bqmanage.engines import bq_access, bq_catalog, bq_errors, bq_partitions, bq_rowsec
from bqmanage.engines.bq_catalog import each
from bqmanage.engines.bq_credentials import credentials, emulator_endpoint, redacted
from bqmanage.engines.bq_errors import NETWORK, api_message, error_class, is_retryable, missing, network_reason, one_line
from bqmanage.engines.bq_params import query_parameter, same_base_type
from bqmanage.engines.dml import DmlStats
from bqmanage.errors import ConfigError, DefaultsRejected, WarehouseError
from bqmanage.plan import Capabilities, Step

if TYPE_CHECKING:
    from bqmanage.changes.partitions import Partition
    from bqmanage.model.schema import Table
    from bqmanage.settings import Settings

# Real BigQuery: one multi-action ALTER per table, 5 metadata updates per 10 s per table.
BIGQUERY = Capabilities(metadata_updates_per_10s=5, scripts=True, requires_location=True, catalog_lags=True)
# bqemulator 1.4.0 (measured; docs/architecture.md lists the gaps): rejects multi-action ALTER,
# drops defaults, descriptions, labels, clustering, require_partition_filter, type parameters
# and CREATE SCHEMA options, and its catalog does not follow ALTER (read physical columns instead).
BQEMULATOR = Capabilities(
    multi_action_alter=False,
    catalog_follows_alter=False,
    scripts=True,
    catalog_lags=True,
    runs_as="bqemulator gets a multi-action ALTER as one script job of one-action ALTERs",
    # SCHEMATA_OPTIONS answers with SCHEMATA's rows and columns (measured).
    info_schema_missing=frozenset({"COLUMN_FIELD_PATHS", "COLUMNS.column_default", "TABLES.ddl", "SCHEMATA_OPTIONS"}),
    unobservable=frozenset(
        {"default", "description", "clustering", "labels", "require_partition_filter", "type_params", "dataset_options"}
        | {"friendly_name", "location"}
    ),
)
T = TypeVar("T")
# A tables.patch whose etag went stale (the table changed since it was read) is made again on a
# fresh read this many times in all, then fails.
_PATCH_ATTEMPTS = 5


class BigQueryEngine(bq_rowsec.BqRowSecurity):
    name = "bigquery"

    def __init__(self, settings: Settings, command: str = "bqmanage") -> None:
        # The endpoint decides the credentials and what the engine can rely on; nothing else
        # branches on it (the emulator's gaps are data: BQEMULATOR).
        emulator, shown = emulator_endpoint()
        if not settings.project:
            raise ConfigError("--project: the bigquery target needs a project (flag, BQMANAGE_PROJECT or GOOGLE_CLOUD_PROJECT)")
        self.capabilities = bq_rowsec.row_security(BQEMULATOR if emulator else BIGQUERY, bool(emulator))
        self.deadline = settings.retry_deadline
        # How long one query job may run before bqmanage cancels it (BigQuery's own limit is 6 h).
        self.job_timeout = settings.job_timeout
        creds, self._principal = credentials(settings, bool(emulator))
        self.client = bigquery.Client(project=settings.project, credentials=creds, location=settings.location)
        self.project = settings.project
        self.location = settings.location
        self.maximum_bytes_billed = settings.maximum_bytes_billed  # sent with every job when set (None goes as "None")
        self._locations: dict[str, str] = {}  # dataset -> location, as datasets.get reported it
        # Where every failure message starts: which warehouse, reached how.
        self.where = f"bigquery project {settings.project} at {shown or 'https://bigquery.googleapis.com'}"
        self.labels = {"bqmanage": command.replace("-", "_"), **settings.labels}
        # The client's own retries (network, 5xx) end at BQMANAGE_RETRY_DEADLINE too, not at its default 600 s.
        self.rpc_retry = bigquery.DEFAULT_RETRY.with_deadline(self.deadline)
        # Per HTTP request: without one, an endpoint that accepts and never answers hangs forever.
        self.rpc_timeout = min(self.deadline, 60.0)
        self.on_statement: Callable[[str], None] = lambda statement: None  # see Engine
        self.sleep = time.sleep
        self.jitter: Callable[[], float] = lambda: random.uniform(0.5, 1.0)  # the share of a backoff step waited
        # Datasets per UNION ALL query (bench/infoschema_batch.py measures the trade-off).
        self.info_schema_batch = settings.info_schema_batch
        self.region_qualified = settings.region_qualified_information_schema
        # Requests in flight at once when many resources are read (bq_catalog.each).
        self.concurrency = settings.concurrency
        if self.concurrency > 10:
            # The HTTP session keeps 10 connections per host; more threads would each open and
            # drop their own.
            adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=self.concurrency)
            for scheme in ("https://", "http://"):
                self.client._http.mount(scheme, adapter)

    # ---- catalog ----

    def list_datasets(self) -> list[str]:
        found = self._call(
            "datasets.list", lambda: list(self.client.list_datasets(retry=self.rpc_retry, timeout=self.rpc_timeout))
        )
        return sorted(d.dataset_id for d in found)

    def _get_dataset(self, dataset: str) -> dict[str, Any] | None:
        try:
            resource: dict[str, Any] = self._call(
                "datasets.get", lambda: self.client.get_dataset(dataset, retry=self.rpc_retry, timeout=self.rpc_timeout)
            ).to_api_repr()
            self._locations[dataset] = resource.get("location") or ""
            return resource
        except WarehouseError as exc:
            missing(exc, f"{self.where}: datasets.get")
            return None

    def list_tables(self, dataset: str) -> list[str]:
        found = self._call(
            "tables.list", lambda: list(self.client.list_tables(dataset, retry=self.rpc_retry, timeout=self.rpc_timeout))
        )
        return sorted(t.table_id for t in found)

    def latest_ledger_rows(
        self, datasets: dict[str, str | None], listed: frozenset[str] = frozenset(), unfinished_only: bool = False
    ) -> dict[str, dict[str, Any]]:
        return bq_catalog.latest_ledger_rows(self, datasets, listed, unfinished_only)

    def list_table_types(self, dataset: str) -> dict[str, str]:
        found = self._call(
            "tables.list", lambda: list(self.client.list_tables(dataset, retry=self.rpc_retry, timeout=self.rpc_timeout))
        )
        return {t.table_id: t.table_type or "TABLE" for t in sorted(found, key=lambda t: t.table_id)}

    def get_table(self, dataset: str, table: str) -> dict[str, Any] | None:
        try:
            resource = self._table(dataset, table).to_api_repr()
        except WarehouseError as exc:
            missing(exc, f"{self.where}: tables.get")
            return None
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
            if known is not None and same_base_type(known, api):
                api = known
            fields.append(api)
        return fields

    def read_datasets_exact(self, datasets: list[str]) -> dict[str, dict[str, Any] | None]:
        return dict(zip(datasets, each(self.concurrency, self._get_dataset, datasets), strict=True))

    def get_tables(self, tables: list[tuple[str, str]], counts: bool = True) -> dict[str, dict[str, Any] | None]:
        found = each(self.concurrency, lambda t: self.get_table(*t), tables)
        return {f"{dataset}.{table}": resource for (dataset, table), resource in zip(tables, found, strict=True)}

    def read_datasets_bulk(self, datasets: list[str]) -> dict[str, dict[str, Any] | None]:
        return bq_catalog.read_datasets_bulk(self, datasets)

    def read_catalog(self, datasets: dict[str, str | None], on_progress: Any = None) -> dict[str, dict[str, Any]]:
        return bq_catalog.read_catalog(self, datasets, on_progress)

    def partitions(self, table: Table) -> list[Partition]:
        return bq_partitions.partitions(self, table)

    # ---- execution ----

    def execute(self, step: Step) -> None:
        self.on_statement(step.sql if step.sql is not None else step.text())
        sql = step.sql
        if step.actions and not self.capabilities.multi_action_alter:
            # The multi-action ALTER as a script of one-action ALTERs: still one job, as the one
            # statement BigQuery gets is.
            sql = ";\n".join(step.actions)
        if sql is not None:
            self._run(sql, None, location=self._step_location(step))
        if step.api is not None:
            bq_access.patch_access(self, step) if step.api["method"] == bq_access.DATASETS_PATCH else self._patch(step)

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
        """tables.patch: the changes edit the live REST Table resource, sent with its etag (If-Match):
        a table changed in between (412) is read again and patched anew, never overwritten. A 400
        on a patch carrying defaults is BigQuery rejecting them: apply falls back to DDL."""
        for attempt in range(_PATCH_ATTEMPTS):
            # The table as the engine reads it (on bqemulator, with the columns ALTER added).
            resource = self.get_table(step.dataset, step.table or "")
            if resource is None:
                raise self._failure("tables.get", f"table {step.dataset}.{step.table} does not exist")
            fields = {change.patch(resource) for change in step.changes if isinstance(change, TablePatch)}
            strip_governance((resource.get("schema") or {}).get("fields") or [], tagged_paths(step.changes))
            try:
                self._update(bigquery.Table.from_api_repr(resource), sorted(fields))
                return self._verify(step)
            except WarehouseError as exc:
                if isinstance(exc.__cause__, gexc.PreconditionFailed) and attempt + 1 < _PATCH_ATTEMPTS:
                    continue
                if isinstance(exc.__cause__, gexc.BadRequest) and step.fallback:
                    raise DefaultsRejected(str(exc)) from exc.__cause__
                raise

    def _verify(self, step: Step) -> None:
        """Read the table back: a default it lacks goes to the DDL fallback, anything else fails."""
        missing = unapplied(step.changes, self.get_table(step.dataset, step.table or "") or {}, self.capabilities.unobservable)
        if missing and step.fallback and all(c.observed == "default" for c in missing):
            raise DefaultsRejected(f"tables.patch left {', '.join(c.path for c in missing)} without its default")
        if what := ", ".join(f"{c.verb} {c.path}" for c in missing):
            raise self._failure("tables.patch", f"answered OK, but the table read back does not show: {what}")

    def query(
        self, sql: str, params: dict[str, Any] | None = None, label: str = "query", location: str | None = None
    ) -> list[dict[str, Any]]:
        self.on_statement(sql)
        rows, _ = self._run(sql, params, label, location)
        return [dict(r.items()) for r in rows]

    def dml(self, sql: str, params: dict[str, Any] | None = None, label: str = "query") -> DmlStats:
        self.on_statement(sql)
        _, _, job = self._job(sql, params, label)
        stats = job.dml_stats  # None where the endpoint gives only the total (bqemulator)
        return DmlStats(
            affected=int(job.num_dml_affected_rows or 0),
            inserted=stats.inserted_row_count if stats else None,
            updated=stats.updated_row_count if stats else None,
            deleted=stats.deleted_row_count if stats else None,
        )

    def read_rows(self, dataset: str, table: str, fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
        schema, ref = [bigquery.SchemaField.from_api_repr(f) for f in fields], f"{self.project}.{dataset}.{table}"

        def listed() -> list[Any]:
            return list(self.client.list_rows(ref, selected_fields=schema, retry=self.rpc_retry, timeout=self.rpc_timeout))

        return [dict(r.items()) for r in self._call("tabledata.list", listed)]

    def _config(
        self, params: dict[str, Any] | None = None, label: str | None = None, dry_run: bool = False
    ) -> bigquery.QueryJobConfig:
        labels = dict(self.labels)
        if label:
            labels["bqmanage_step"] = label
        cap = {} if dry_run or self.maximum_bytes_billed is None else {"maximum_bytes_billed": self.maximum_bytes_billed}
        return bigquery.QueryJobConfig(
            labels=labels,
            dry_run=dry_run,
            use_query_cache=not dry_run,
            query_parameters=[query_parameter(k, v) for k, v in (params or {}).items()],
            **cap,
        )

    def _run(
        self, sql: str, params: dict[str, Any] | None, label: str | None = None, location: str | None = None
    ) -> tuple[list[Any], Any]:
        rows, schema, _ = self._job(sql, params, label, location)
        return rows, schema

    def _job(
        self, sql: str, params: dict[str, Any] | None, label: str | None = None, location: str | None = None
    ) -> tuple[list[Any], Any, bigquery.QueryJob]:
        """Run one query job to the end: its rows (all pages, fetched here, inside the error
        handling), their schema and the job. Retried whole on rate limits and concurrent-update
        conflicts. ``location`` overrides the target's job location."""

        def attempt() -> tuple[list[Any], Any, bigquery.QueryJob]:
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
            return (*self._wait(job), job)

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
        """Re-run on rate limits, full DML queues and concurrent-update conflicts, with exponential
        backoff within the retry deadline. Each wait is drawn at random from the upper half of its
        step ("equal jitter"): pipelines that failed together must not retry together, or they
        meet the same full queue again (https://cloud.google.com/bigquery/docs/error-messages:
        retry with truncated exponential backoff)."""
        start, delay = time.monotonic(), 1.0
        while True:
            try:
                return func()
            except WarehouseError as exc:
                cause = exc.__cause__
                wait = delay * self.jitter()
                if (
                    not isinstance(cause, gexc.GoogleAPICallError)
                    or not is_retryable(cause)
                    or time.monotonic() - start + wait > self.deadline
                ):
                    raise
                self.sleep(wait)
                delay = min(delay * 2, 32.0)

    def _call(self, operation: str, func: Callable[[], T]) -> T:
        """Every call of the client goes through here: whatever fails becomes one WarehouseError
        that starts with the project and endpoint, and names the REST operation."""
        try:
            return func()
        except WarehouseError:
            raise
        except gexc.GoogleAPICallError as exc:
            raise error_class(exc)(f"{self.where}: {operation} failed: {api_message(exc)}") from exc
        except (requests.exceptions.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:  # a 200 of another API
            raise self._failure(operation, bq_errors.not_the_api(exc)) from None
        except NETWORK as exc:
            cause = exc.cause if isinstance(exc, gexc.RetryError) else exc
            if isinstance(cause, gexc.GoogleAPICallError):
                raise self._failure(
                    operation, f"still failing after {self.deadline:g} s of retries: {api_message(cause)}"
                ) from cause
            reason = network_reason(cause, self.rpc_timeout)
            raise self._failure(
                operation,
                f"cannot reach the endpoint: {reason}"
                + (f" (gave up after {self.deadline:g} s of retries)" if exc is not cause else ""),
            ) from None
        except google.auth.exceptions.GoogleAuthError as exc:
            raise self._failure(operation, f"authentication failed: {exc}") from None

    def _failure(self, operation: str, message: str) -> WarehouseError:
        return WarehouseError(redacted(f"{self.where}: {operation} failed: {one_line(message)}"))  # URL's user:password

    def principal(self) -> str:
        return self._principal

    def close(self) -> None:
        self.client.close()
