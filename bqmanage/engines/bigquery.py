"""The ``bigquery`` engine: the official google-cloud-bigquery client. This is the product.

Credentials come from google-auth (ADC, a service-account file, or impersonation). When
BIGQUERY_EMULATOR_HOST is set, the client talks to that endpoint with anonymous credentials,
as the official client itself does, and the engine declares what the emulator cannot do.
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
import time
from typing import TYPE_CHECKING, Any

import google.auth
from google.api_core import exceptions as gexc
from google.auth.credentials import AnonymousCredentials, Credentials
from google.cloud import bigquery

from bqmanage.changes import AddColumn, AddField
from bqmanage.errors import ConfigError, WarehouseError
from bqmanage.plan import Capabilities, Step
from bqmanage.model import TableRef
from bqmanage.render import add_columns_sql, schema_json

if TYPE_CHECKING:
    from bqmanage.settings import Settings

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
# Real BigQuery: one multi-action ALTER per table, 5 metadata updates per 10 s per table.
BIGQUERY = Capabilities(multi_action_alter=True, metadata_updates_per_10s=5)
# bqemulator 1.4.0 (measured; README "Tests" lists the gaps): rejects multi-action ALTER,
# drops defaults, descriptions, labels, clustering, require_partition_filter, type parameters
# and CREATE SCHEMA options, and its catalog does not follow ALTER (read physical columns instead).
BQEMULATOR = Capabilities(
    multi_action_alter=False,
    runs_as="bqemulator gets each ADD COLUMN of a multi-action ALTER as an ALTER of its own",
    info_schema_missing=frozenset({"COLUMN_FIELD_PATHS", "COLUMNS.column_default", "TABLES.ddl"}),
    unobservable=frozenset({"default", "description", "clustering", "labels", "require_partition_filter",
                            "type_params", "dataset_options", "friendly_name"}),
)
# Failures worth a new attempt: short-term rate limits, backend errors, and DML that lost a
# concurrent-update race (reason invalidQuery, which the client does not retry by itself).
_RETRY_REASONS = {"rateLimitExceeded", "jobRateLimitExceeded", "backendError", "internalError",
                  "jobBackendError", "jobInternalError"}
_RETRY_TEXT = ("could not serialize access", "concurrent update", "exceeded rate limits")


def is_retryable(exc: Exception) -> bool:
    reasons = {e.get("reason") for e in getattr(exc, "errors", None) or [] if isinstance(e, dict)}
    text = str(exc).lower()
    return bool(reasons & _RETRY_REASONS) or any(t in text for t in _RETRY_TEXT) or isinstance(
        exc, (gexc.InternalServerError, gexc.ServiceUnavailable, gexc.BadGateway, gexc.TooManyRequests))


def _credentials(settings: Settings, emulator: bool) -> tuple[Credentials, str]:
    if emulator:
        return AnonymousCredentials(), "anonymous (emulator)"
    try:
        if settings.credentials_file:
            from google.oauth2 import service_account

            creds = service_account.Credentials.from_service_account_file(settings.credentials_file, scopes=SCOPES)
        else:
            creds, _ = google.auth.default(scopes=SCOPES)
        if settings.impersonate_service_account:
            from google.auth import impersonated_credentials

            creds = impersonated_credentials.Credentials(
                source_credentials=creds, target_principal=settings.impersonate_service_account, target_scopes=SCOPES)
            return creds, settings.impersonate_service_account
    except google.auth.exceptions.DefaultCredentialsError:
        raise WarehouseError(
            "bigquery: no Google credentials found; run `gcloud auth application-default login`, "
            "set GOOGLE_APPLICATION_CREDENTIALS, or set credentials_file in bqmanage.yaml") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{settings.credentials_file}: cannot read service-account credentials: {exc}") from None
    principal = getattr(creds, "service_account_email", None) or getattr(creds, "account", None) or "application-default credentials"
    return creds, str(principal)


class BigQueryEngine:
    name = "bigquery"

    def __init__(self, settings: Settings, command: str = "bqmanage") -> None:
        self.emulator = bool(os.environ.get("BIGQUERY_EMULATOR_HOST"))
        if not settings.project:
            raise ConfigError("--project: the bigquery target needs a project (flag, BQMANAGE_PROJECT or GOOGLE_CLOUD_PROJECT)")
        self.capabilities = BQEMULATOR if self.emulator else BIGQUERY
        creds, self._principal = _credentials(settings, self.emulator)
        self.client = bigquery.Client(project=settings.project, credentials=creds, location=settings.location)
        self.project = settings.project
        self.location = settings.location
        self.labels = {"bqmanage": command.replace("-", "_"), **settings.labels}
        self.deadline = float(os.environ.get("BQMANAGE_RETRY_DEADLINE", "120"))
        # Short RPC deadline: emulator bugs answer 500, which the default retry chases for 600 s.
        self.rpc_retry = bigquery.DEFAULT_RETRY.with_deadline(min(self.deadline, 30))
        self.statements: list[str] = []
        self.sleep = time.sleep
        # Datasets per UNION ALL query (bench/infoschema_batch.py measures the trade-off).
        self.info_schema_batch = int(os.environ.get("BQMANAGE_INFO_SCHEMA_BATCH", "50"))
        self.region_qualified = settings.region_qualified_information_schema

    # ---- catalog ----

    def list_datasets(self) -> list[str]:
        return sorted(d.dataset_id for d in self._call(lambda: list(self.client.list_datasets(retry=self.rpc_retry))))

    def get_dataset(self, dataset: str) -> dict[str, Any] | None:
        try:
            return self._call(lambda: self.client.get_dataset(dataset, retry=self.rpc_retry)).to_api_repr()
        except WarehouseError as exc:
            if isinstance(exc.__cause__, gexc.NotFound):
                return None
            raise

    def list_tables(self, dataset: str) -> list[str]:
        return sorted(t.table_id for t in self._call(lambda: list(self.client.list_tables(dataset, retry=self.rpc_retry))))

    def get_table(self, dataset: str, table: str) -> dict[str, Any] | None:
        try:
            resource = self._call(lambda: self.client.get_table(f"{self.project}.{dataset}.{table}", retry=self.rpc_retry)).to_api_repr()
        except WarehouseError as exc:
            if isinstance(exc.__cause__, gexc.NotFound):
                return None
            raise
        if self.emulator:
            resource["schema"] = {"fields": self._physical_fields(dataset, table, resource)}
        return resource

    def _physical_fields(self, dataset: str, table: str, resource: dict[str, Any]) -> list[dict[str, Any]]:
        """bqemulator's catalog does not follow ALTER: the physical columns come from a query's schema.

        Modes and nested detail still come from the catalog where it knows the column.
        """
        sql = f"SELECT * FROM `{self.project}`.`{dataset}`.`{table}` LIMIT 0"
        job = self._call(lambda: self.client.query(sql, job_config=self._config(), retry=self.rpc_retry, job_retry=None))
        physical = self._call(lambda: job.result(timeout=self.deadline)).schema
        catalog = {f["name"].lower(): f for f in (resource.get("schema") or {}).get("fields") or []}
        fields = []
        for field in physical:
            api = field.to_api_repr()
            known = catalog.get(field.name.lower())
            if known is not None and _same_base(known, api):
                api = known
            fields.append(api)
        return fields

    def read_catalog(self, datasets: list[str], on_progress: Any = None) -> dict[str, dict[str, Any]]:
        """Every table of ``datasets`` from INFORMATION_SCHEMA: one job per view per batch of datasets."""
        from bqmanage import infoschema

        missing = self.capabilities.info_schema_missing
        views = [v for v in infoschema.VIEWS if v not in missing]
        groups = [datasets] if self.region_qualified else infoschema.batches(datasets, self.info_schema_batch)
        out: dict[str, dict[str, Any]] = {}
        for i, group in enumerate(g for g in groups if g):
            rows: dict[str, list[dict[str, Any]]] = {}
            for view in views:
                region = (self.location or "US") if self.region_qualified else None
                sql = infoschema.view_sql(view, group, self.project, missing, region)
                rows[view] = self.query(sql, {"datasets": group} if region else None, label="check")
            out.update(infoschema.to_resources(self.project, rows))
            if on_progress:
                on_progress(i + 1, len(groups))
        return out

    # ---- execution ----

    def execute(self, step: Step) -> None:
        self.statements.append(step.sql or f"-- API {step.api}")
        if step.kind == "add_columns" and not self.capabilities.multi_action_alter:
            ref = TableRef(dataset=step.dataset, table=step.table or "")
            for change in step.changes:
                if isinstance(change, AddColumn):
                    self._run(add_columns_sql(ref, [change.column], self.project), None)
        elif step.sql is not None:
            self._run(step.sql, None)
        elif step.api is not None:
            self._patch(step)

    def _patch(self, step: Step) -> None:
        table = self._call(lambda: self.client.get_table(f"{self.project}.{step.dataset}.{step.table}", retry=self.rpc_retry))
        if "clustering" in (step.api or {}):
            table.clustering_fields = step.api["clustering"] or None  # type: ignore[index]
            self._with_retry(lambda: self.client.update_table(table, ["clustering_fields"], retry=self.rpc_retry))
            return
        schema = [f.to_api_repr() for f in table.schema]
        for change in step.changes:
            if isinstance(change, AddField):
                _append_field(schema, change.path.split(".")[:-1], schema_json([change.column])[0])
        # tables.patch must keep every existing field; new ones go at the end of their record.
        table.schema = [bigquery.SchemaField.from_api_repr(f) for f in schema]
        self._with_retry(lambda: self.client.update_table(table, ["schema"], retry=self.rpc_retry))

    def query(self, sql: str, params: dict[str, Any] | None = None, label: str = "query") -> list[dict[str, Any]]:
        self.statements.append(sql)
        rows = self._run(sql, params, label)
        return [dict(r.items()) for r in rows]

    def _config(self, params: dict[str, Any] | None = None, label: str | None = None, dry_run: bool = False) -> bigquery.QueryJobConfig:
        labels = dict(self.labels)
        if label:
            labels["bqmanage_step"] = label
        return bigquery.QueryJobConfig(
            labels=labels, dry_run=dry_run, use_query_cache=not dry_run,
            query_parameters=[_parameter(k, v) for k, v in (params or {}).items()])

    def _run(self, sql: str, params: dict[str, Any] | None, label: str | None = None) -> Any:
        def attempt() -> Any:
            job = self.client.query(sql, job_config=self._config(params, label), retry=self.rpc_retry, job_retry=None)
            return job.result(timeout=self.deadline)

        return self._with_retry(attempt)

    def estimate_bytes(self, sql: str, params: dict[str, Any] | None = None) -> int | None:
        job = self._call(lambda: self.client.query(sql, job_config=self._config(params, dry_run=True), retry=self.rpc_retry, job_retry=None))
        return int(job.total_bytes_processed or 0)

    def _with_retry(self, func: Any) -> Any:
        """Re-run on rate limits and concurrent-update conflicts with exponential backoff, bounded."""
        start, delay = time.monotonic(), 1.0
        while True:
            try:
                return func()
            except gexc.GoogleAPICallError as exc:
                if not is_retryable(exc) or time.monotonic() - start + delay > self.deadline:
                    raise _warehouse_error(exc) from exc
                self.sleep(delay)
                delay = min(delay * 2, 32.0)

    def _call(self, func: Any) -> Any:
        try:
            return func()
        except gexc.GoogleAPICallError as exc:
            raise _warehouse_error(exc) from exc
        except google.auth.exceptions.GoogleAuthError as exc:
            raise WarehouseError(f"bigquery: authentication failed: {exc}") from None

    def principal(self) -> str:
        return self._principal

    def close(self) -> None:
        self.client.close()


def _warehouse_error(exc: gexc.GoogleAPICallError) -> WarehouseError:
    message = getattr(exc, "message", None) or str(exc)
    if isinstance(exc, (gexc.Forbidden, gexc.Unauthorized)) and not is_retryable(exc):
        message += " (check the credentials' BigQuery roles: Data Editor and Job User for apply)"
    error = WarehouseError(f"bigquery: {exc.code if hasattr(exc, 'code') else ''} {message}".replace("  ", " "))
    error.__cause__ = exc
    return error


def _same_base(catalog: dict[str, Any], physical: dict[str, Any]) -> bool:
    from bqmanage.types import canonical_name

    return canonical_name(str(catalog.get("type"))) == canonical_name(str(physical.get("type")))


def _append_field(fields: list[dict[str, Any]], parent: list[str], new: dict[str, Any]) -> None:
    for field in fields:
        if field["name"].lower() == parent[0].lower():
            children = field.setdefault("fields", [])
            if len(parent) == 1:
                if all(c["name"].lower() != new["name"].lower() for c in children):
                    children.append(new)
            else:
                _append_field(children, parent[1:], new)
            return


def _parameter(name: str, value: Any) -> Any:
    if isinstance(value, list):
        return bigquery.ArrayQueryParameter(name, "STRING", value)
    kinds = ((bool, "BOOL"), (int, "INT64"), (float, "FLOAT64"), (decimal.Decimal, "NUMERIC"),
             (dt.datetime, "TIMESTAMP"), (dt.date, "DATE"), (str, "STRING"))
    kind = next((k for t, k in kinds if isinstance(value, t)), "STRING")
    return bigquery.ScalarQueryParameter(name, kind, value)
