"""BigQuery's per-table rules (DML queues and rates, metadata updates) and its on-demand billing,
modelled for the proxy (tests/faultproxy.py). The metadata update limit is ``MetadataRateLimit``
at the end. bqemulator runs every job at once and bills nothing, so neither shows what breaks a
multi-tenant platform on the real service. The proxy asks ``DmlRules`` before it forwards a job:

- the mutating DML queue of each table: at most 2 UPDATE/DELETE/MERGE statements run at once and
  at most 20 wait as PENDING; one more fails at once with BigQuery's error body
  (https://cloud.google.com/bigquery/docs/data-manipulation-language#update_delete_merge_dml_concurrency ,
  https://cloud.google.com/bigquery/docs/troubleshoot-queries#too_many_dml_statements; HTTP 400,
  reason ``resourcesExceeded``, as seen in m-lab/etl-gardener#293);
- the INSERT queue: the first 1,500 INSERTs of a table in 24 h run at once; after that 10 run
  and 100 wait (data-manipulation-language#insert_dml_concurrency). Past it, and past the rate of
  25 DML statements per table per 10 s (https://cloud.google.com/bigquery/quotas#data-manipulation-language-statements),
  the answer is the 403 ``quotaExceeded`` that troubleshoot-queries#error_403_quota_exceeded lists
  for too many DML jobs writing one table. The quotas page gives no error text for the rate
  itself: that it answers with this 403 is this model's assumption.
- A statement keeps its place while it is outstanding: from its jobs.insert until bqemulator has
  answered, plus ``run_seconds`` (BigQuery takes about a second for a small DML statement). The
  model does not hold a PENDING statement back (bqemulator runs jobs one at a time anyway, as the
  queue would); it counts running and pending together against the limit, which is what fails.

Billing (https://cloud.google.com/bigquery/pricing#on_demand_pricing): a query bills the bytes it
processes, at least 10 MB per table referenced and per query; DDL and dry runs bill nothing. An
INFORMATION_SCHEMA query bills at least 10 MB (information-schema-intro#pricing), here per view
referenced (a third party's observation, Canner/wren-engine#51, kept as the pessimistic case). A
DML statement bills the whole partitions it touches: bqemulator reports no bytes, so the model
bills ``table_bytes`` of each table a DML statement writes when the test sets it, or, for a table
given ``partition_bytes`` (day -> bytes), the days its WHERE keeps to with a constant range on the
partitioning column (``col >= DATE 'a' AND col < DATE 'b'``; anything else touches them all:
pruning needs constant filters, querying-partitioned-tables#best_practices_for_partition_pruning).
With ``dry_runs``, the proxy answers dry runs with these bytes, as BigQuery's estimate.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MB = 1024 * 1024
TOO_MANY_DML = (
    400,
    "resourcesExceeded",
    "Resources exceeded during query execution: Too many DML statements outstanding against table {table}, limit is 20",
)
DML_JOBS_QUOTA = (
    403,
    "quotaExceeded",
    "Quota exceeded: Your table exceeded quota for total number of DML jobs writing to a table, pending + running",
)
_NAME = r"((?:`[^`]+`|[\w-]+)(?:\.(?:`[^`]+`|[\w-]+)){1,2})"
_DML = re.compile(rf"^\s*(?:(MERGE)\s+(?:INTO\s+)?|(UPDATE)\s+|(DELETE)\s+(?:FROM\s+)?|(INSERT)\s+(?:INTO\s+)?){_NAME}", re.I)
_TABLES = re.compile(rf"\b(?:FROM|JOIN|INTO|MERGE|UPDATE)\s+{_NAME}", re.I)


def job_sql(body: bytes) -> tuple[str, bool]:
    """The query text of a jobs.insert body, and whether it is a dry run."""
    try:
        request = json.loads(body)
    except ValueError:
        return "", False
    configuration = request.get("configuration") or {}
    query = (configuration.get("query") or {}).get("query") or request.get("query") or ""
    return str(query), bool(configuration.get("dryRun") or request.get("dryRun"))


def dml_target(sql: str) -> tuple[str, str] | None:
    """("mutating" or "insert", dataset.table) for a DML statement, else None."""
    match = _DML.match(sql)
    if match is None:
        return None
    kind = "insert" if match.group(4) else "mutating"
    return kind, ".".join(match.group(5).replace("`", "").split(".")[-2:])


@dataclass
class DmlRules:
    running: int = 2  # mutating statements that run at once, per table
    pending: int = 20  # mutating statements that may wait, per table
    insert_free: int = 1500  # INSERTs per table per 24 h that run at once
    insert_running: int = 10
    insert_pending: int = 100
    per_window: int = 25  # DML statements per table per window
    window: float = 10.0  # seconds; a test may scale it down together with the client's sleeps
    run_seconds: float = 0.0  # wall seconds a statement runs after bqemulator answered
    # The clock of the rate windows: the proxy's modelled clock (FaultProxy.clock, with a scale)
    # keeps bqemulator's own slowness out, so that statements arrive as fast as on BigQuery.
    clock: Callable[[], float] = time.monotonic
    outstanding: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, table): running + pending
    inserts: Counter[str] = field(default_factory=Counter)  # INSERTs run per table
    recent: dict[str, list[float]] = field(default_factory=dict)
    rejected: Counter[str] = field(default_factory=Counter)  # by reason
    most_outstanding: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, sql: str, project: str) -> tuple[tuple[int, str, str] | None, tuple[str, str] | None]:
        """(an error to answer with, None) or (None, the place the statement took: release it)."""
        target = dml_target(sql)
        if target is None:
            return None, None
        kind, table = target
        with self._lock:
            now = self.clock()
            recent = [t for t in self.recent.get(table, []) if now - t < self.window]
            self.recent[table] = recent
            if kind == "mutating":
                limit = self.running + self.pending
            else:
                limit = self.insert_free if self.inserts[table] < self.insert_free else self.insert_running + self.insert_pending
            if self.outstanding[target] >= limit:
                error = TOO_MANY_DML if kind == "mutating" else DML_JOBS_QUOTA
                self.rejected[error[1]] += 1
                name = f"{project}:{table}"
                return (error[0], error[1], error[2].format(table=name)), None
            if len(recent) >= self.per_window:
                self.rejected["rate"] += 1
                return DML_JOBS_QUOTA, None
            recent.append(now)
            self.outstanding[target] += 1
            self.most_outstanding = max(self.most_outstanding, self.outstanding[target])
            if kind == "insert":
                self.inserts[table] += 1
            return None, target

    def release(self, place: tuple[str, str]) -> None:
        if self.run_seconds:
            time.sleep(self.run_seconds)
        with self._lock:
            self.outstanding[place] -= 1


@dataclass
class Billing:
    """Bytes billed, as on-demand pricing would bill the jobs the proxy saw."""

    table_bytes: dict[str, int] = field(default_factory=dict)  # dataset.table -> bytes, for DML
    billed: int = 0
    jobs: int = 0
    capped: list[int | None] = field(default_factory=list)  # each job's maximumBytesBilled (None: none)
    # dataset.table -> {"YYYY-MM-DD": bytes}: a day-partitioned table, billed by the days touched.
    partition_bytes: dict[str, dict[str, int]] = field(default_factory=dict)
    dry_runs: bool = False  # answer dry runs with bytes_of (bqemulator estimates 0)
    per_job: list[tuple[str, int]] = field(default_factory=list)  # (sql, bytes) of each job billed
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bill(self, body: bytes) -> None:
        sql, dry_run = job_sql(body)
        if not sql:
            return
        try:
            cap = ((json.loads(body).get("configuration") or {}).get("query") or {}).get("maximumBytesBilled")
        except ValueError:
            cap = None
        with self.lock:
            self.capped.append(int(cap) if isinstance(cap, str) and cap.isdigit() else None)
            if dry_run:
                return
            self.jobs += 1
            billed = self.bytes_of(sql)
            self.billed += billed
            self.per_job.append((sql, billed))

    def bytes_of(self, sql: str) -> int:
        head = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        if head in ("CREATE", "ALTER", "DROP"):
            return 0  # DDL bills nothing on demand
        views = len(re.findall(r"INFORMATION_SCHEMA\.\w+", sql, re.I))
        tables = {m.replace("`", "").split(".")[-2:][-1] for m in _TABLES.findall(sql)} or {""}
        billed = max(10 * MB * len(tables), 10 * MB * max(views, 1))
        target = dml_target(sql)
        if target is not None and target[0] == "mutating":
            billed = max(billed, self.table_bytes.get(target[1], 0))
            if (days := self.partition_bytes.get(target[1])) is not None:
                billed = max(10 * MB, sum(size for day, size in days.items() if _in_range(sql, day)))
        return billed


_RANGE = re.compile(r"`?(\w+)`?\s*>=\s*DATE\s*'([\d-]+)'\s+AND\s+`?\1`?\s*<\s*DATE\s*'([\d-]+)'", re.I)


def _in_range(sql: str, day: str) -> bool:
    """Whether a statement's WHERE may touch ``day``: inside its constant DATE range, if it has one."""
    match = _RANGE.search(sql)
    return match is None or match.group(2) <= day < match.group(3)


_TABLE_PATH = re.compile(r"/datasets/([^/]+)/tables/([^/?]+)(?:\?|$)")
_ALTER = re.compile(r"^\s*ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(\S+)", re.IGNORECASE)


@dataclass
class MetadataRateLimit:
    """BigQuery's table metadata update limit, enforced: at most ``per`` updates of one table in
    any ``window`` seconds (https://cloud.google.com/bigquery/quotas#standard_tables: 5 per 10 s);
    one more is answered 403 rateLimitExceeded, as BigQuery does, and is not an update.

    An update is an ``ALTER TABLE`` query job (one job, whatever it holds: a multi-action ALTER
    is one statement on BigQuery, which bqemulator gets as a script of one-action ALTERs) or a
    ``tables.patch``/``tables.update`` of the table."""

    per: int = 5
    window: float = 10.0
    updates: Counter[str] = field(default_factory=Counter)  # accepted, by dataset.table
    rejected: Counter[str] = field(default_factory=Counter)  # answered rateLimitExceeded
    recent: dict[str, list[float]] = field(default_factory=dict)
    log: list[tuple[float, str, bool]] = field(default_factory=list)  # (monotonic time, table, accepted)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, method: str, path: str, body: bytes) -> bool:
        """False when the request is a metadata update over the limit (it gets the 403)."""
        table = _updated_table(method, path, body)
        if table is None:
            return True
        with self.lock:
            now = time.monotonic()
            recent = [t for t in self.recent.get(table, []) if now - t < self.window]
            accepted = len(recent) < self.per
            self.recent[table] = [*recent, now] if accepted else recent
            (self.updates if accepted else self.rejected)[table] += 1
            self.log.append((now, table, accepted))
            return accepted


def _updated_table(method: str, path: str, body: bytes) -> str | None:
    """dataset.table that a request updates the metadata of, or None."""
    route = urlsplit(path).path
    if method in ("PATCH", "PUT") and (match := _TABLE_PATH.search(route)):
        return f"{match.group(1)}.{match.group(2)}"
    if method != "POST" or not route.endswith(("/jobs", "/queries")) or not body:
        return None
    try:
        request = json.loads(body)
    except ValueError:
        return None
    sql = ((request.get("configuration") or {}).get("query") or {}).get("query") or request.get("query") or ""
    match = _ALTER.match(sql)
    if match is None:
        return None
    parts = match.group(1).replace("`", "").split(".")
    return ".".join(parts[-2:])
