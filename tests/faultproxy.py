"""A small HTTP proxy in front of bqemulator: counts requests by kind, injects BigQuery faults, and
can make each request take as long as it would on BigQuery.

Used by the fault tests (a real rateLimitExceeded / concurrent-update answer, seen by the real
client and its retry path; a query that runs longer than the client waits), by the request-count
tests, and by bench/ (counts, and "modelled BigQuery seconds" under ``LATENCY``). Loopback only; it
stops with the test.

Requests only bqmanage's bqemulator workaround sends (the ``SELECT * ... LIMIT 0`` probe of a
table's physical columns, engines/bigquery.py, and that job's result polls) are counted apart, in
``emulator_only``, and get no latency: real BigQuery needs none of them.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

from tests.bqservice import Billing, DmlRules, MetadataRateLimit, job_sql

# The latency model: seconds one request takes on BigQuery, seen from the client, by kind. These are
# assumptions (BigQuery publishes no latencies), sized from reports of real projects: a metadata
# call takes 0.2-0.6 s (about 0.5 s per tables.get in dbt-labs/dbt-bigquery#938, 0.36 s per table
# in prowler-cloud/prowler#12502), a small query 3-4 s end to end for 0.4 s of execution
# (googleapis/nodejs-bigquery#1383). A query job is jobs.insert, a first getQueryResults that waits
# for the job (``JOB_RUN``, plus ``PER_VIEW`` for each INFORMATION_SCHEMA view the query reads), and
# one getQueryResults per page of rows. bench/bigquery_check.py prints this table in RESULTS.md.
LATENCY = {
    "jobs.insert": 0.5,
    "queries.get": 0.2,  # a further page of rows
    "jobs.get": 0.2,
    "cancel.insert": 0.2,
    "datasets.get": 0.25,
    "datasets.list": 0.3,
    "datasets.insert": 0.5,
    "tables.get": 0.25,
    "tables.list": 0.3,
    "tables.insert": 0.5,
    "tables.patch": 0.5,
    "tables.delete": 0.3,
}
JOB_RUN = 1.0
PER_VIEW = 0.02
DEFAULT_LATENCY = 0.25

RATE_LIMIT = (403, "rateLimitExceeded", "Exceeded rate limits: too many table update operations for this table")
CONCURRENT = (400, "invalidQuery", "Could not serialize access to table tenants.t due to concurrent update")


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    times: int
    error: tuple[int, str, str]
    body: re.Pattern[str] | None = None


@dataclass
class SlowJobs:
    """Query jobs whose jobs.insert body matches ``body`` run for ``seconds``: until then every
    jobs.getQueryResults answers ``jobComplete: false`` and every jobs.get ``state: RUNNING``, as
    BigQuery does for a long query (bqemulator finishes every job at once)."""

    body: re.Pattern[str]
    seconds: float
    started: dict[str, tuple[float, dict[str, object]]] = field(default_factory=dict)


_JOB_PATH = re.compile(r"/projects/([^/]+)/(jobs|queries)/([^/?]+)(?:\?|$)")


class ModelledClock:
    """Modelled BigQuery seconds: how long the client would have taken against a BigQuery whose
    every request takes exactly its modelled latency.

    It runs at 1/``scale`` of wall speed while some request waits out its latency (so a run at
    scale 0.05 takes a twentieth of the modelled time), at wall speed while no request does (the
    client's own work, which BigQuery would not speed up), and stands still while the upstream
    works: bqemulator's own speed, fast or slow, never shows. Upstream calls go one at a time
    (bqemulator serialises its work anyway).
    """

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self._lock = threading.Lock()
        self._gate = threading.Lock()
        self._busy = 0
        self._waiting = 0
        self._modelled = 0.0
        self._wall = time.monotonic()

    def _advance(self) -> None:  # under self._lock
        wall = time.monotonic()
        rate = 0.0 if self._busy else (1 / self.scale if self._waiting else 1.0)
        self._modelled += (wall - self._wall) * rate
        self._wall = wall

    def now(self) -> float:
        with self._lock:
            self._advance()
            return self._modelled

    def sleep_until(self, deadline: float) -> None:
        with self._lock:
            self._advance()
            self._waiting += 1
        try:
            while True:
                with self._lock:
                    self._advance()
                    left = deadline - self._modelled
                if left <= 0:
                    return
                time.sleep(left * self.scale)
        finally:
            with self._lock:
                self._advance()
                self._waiting -= 1

    @contextlib.contextmanager
    def upstream(self) -> Iterator[None]:
        with self._gate:
            with self._lock:
                self._advance()
                self._busy += 1
            try:
                yield
            finally:
                with self._lock:
                    self._advance()
                    self._busy -= 1


@dataclass
class FaultProxy:
    upstream: str
    faults: list[Fault] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    bodies: list[tuple[str, str, bytes]] = field(default_factory=list)  # every request, for assertions
    injected: int = 0
    slow: SlowJobs | None = None
    slowed: int = 0  # answers that said "still running"
    rate_limit: MetadataRateLimit | None = None  # when set, enforced (see MetadataRateLimit)
    dml: DmlRules | None = None  # when set, BigQuery's per-table DML queues are enforced (bqservice)
    billing: Billing = field(default_factory=Billing)  # bytes every job would bill on demand
    # What BigQuery does that bqemulator does not: edit a request before it goes upstream (a change
    # the service ignores), or an answer before the client sees it (a column with policyTags).
    edit_request: Callable[[str, str, bytes], bytes] | None = None
    edit_answer: Callable[[str, str, bytes], bytes] | None = None
    headers: list[dict[str, str]] = field(default_factory=list)  # every request's headers, as bodies
    # With a scale, every request takes its modelled latency (LATENCY), measured on ``clock``, which
    # runs that much faster than the wall; None leaves the emulator's own timing alone.
    scale: float | None = None
    clock: ModelledClock = field(init=False)
    emulator_only: Counter[str] = field(default_factory=Counter)
    # How long one upstream answer may take. bqemulator runs one query at a time on its event loop,
    # so a request queued behind a few slow ones (the INFORMATION_SCHEMA batches of a large fleet)
    # can wait minutes; past this the proxy drops the connection and the client retries.
    upstream_timeout: float = 60.0
    in_flight: int = 0
    max_in_flight: int = 0  # the most requests the client had open at once
    _probes: set[str] = field(default_factory=set)
    _waits: dict[str, float] = field(default_factory=dict)  # job id -> its run time, paid by its first poll
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _upstream: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        proxy = self
        self.clock = ModelledClock(self.scale or 1.0)
        up = urlsplit(self.upstream)

        class Handler(BaseHTTPRequestHandler):
            until: float | None = None  # on proxy.clock: when the answer may leave
            open = False  # counted in proxy.in_flight

            def log_message(self, *args: object) -> None:  # quiet
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy._lock:
                    proxy.in_flight += 1
                    proxy.max_in_flight = max(proxy.max_in_flight, proxy.in_flight)
                self.open = True
                try:
                    arrived = proxy.clock.now()
                    latency = proxy._account(self.command, self.path, body)
                    self.until = arrived + latency if proxy.scale is not None and latency else None
                    self._answer(body)
                finally:
                    self._close()

            def _close(self) -> None:
                # Once the answer starts, the client may send its next request before this thread
                # is done writing: that one is not concurrent with this one.
                if self.open:
                    self.open = False
                    with proxy._lock:
                        proxy.in_flight -= 1

            def send_response(self, code: int, message: str | None = None) -> None:
                if self.until is not None:  # the answer leaves when BigQuery's would
                    proxy.clock.sleep_until(self.until)
                self._close()
                super().send_response(code, message)

            def _answer(self, body: bytes) -> None:
                running = proxy._running(self.command, self.path, body)
                if running is not None:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(running)))
                    self.end_headers()
                    self.wfile.write(running)
                    return
                proxy.headers.append(dict(self.headers.items()))
                fault = proxy._take(self.command, self.path, body)
                if fault is None and proxy.rate_limit is not None and not proxy.rate_limit.admit(self.command, self.path, body):
                    proxy.injected += 1
                    fault = Fault(self.command, re.compile(""), 0, RATE_LIMIT)
                place = None
                if fault is None and self.command == "POST" and urlsplit(self.path).path.endswith("/jobs"):
                    error, place = proxy.dml.admit(job_sql(body)[0], _project(self.path)) if proxy.dml else (None, None)
                    fault = Fault(self.command, re.compile(""), 0, error) if error else None
                    if fault is None and b"LIMIT 0" not in body:  # the emulator-only probe bills nothing
                        proxy.billing.bill(body)
                if fault is not None:
                    status, reason, message = fault.error
                    payload = json.dumps(
                        {"error": {"code": status, "message": message, "errors": [{"reason": reason, "message": message}]}}
                    ).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                path, page = _page_request(self.command, self.path)
                conn = http.client.HTTPConnection(up.hostname, up.port, timeout=proxy.upstream_timeout)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                if proxy.edit_request is not None:
                    body = proxy.edit_request(self.command, self.path, body)
                    headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}  # http.client sets it
                # Under the DML model many clients call at once: bqemulator gets them one at a time
                # (it serialises its work anyway), so none waits out its socket timeout inside it.
                gate = proxy._upstream if proxy.dml is not None else contextlib.nullcontext()
                try:
                    with gate, proxy.clock.upstream() if proxy.scale is not None else contextlib.nullcontext():
                        conn.request(self.command, path, body=body or None, headers=headers)
                        response = conn.getresponse()
                        payload = response.read()
                finally:
                    if place is not None and proxy.dml is not None:
                        proxy.dml.release(place)  # the statement ran: its place in the queue is free
                data = proxy._as_running(self.command, self.path, body, payload)
                if page is not None and response.status == 200:
                    data = _paginate(data, *page)
                if proxy.billing.dry_runs:
                    data = proxy._dry_run_bytes(body, data)
                if proxy.edit_answer is not None:
                    data = proxy.edit_answer(self.command, self.path, data)
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _account(self, method: str, path: str, body: bytes) -> float:
        """Count the request, and return its modelled latency (0 for an emulator-only request)."""
        what = kind(method, path)
        with self._lock:
            self.bodies.append((method, path, body))
            job = _JOB_PATH.search(path) if method == "GET" else None
            if what == "jobs.insert" and b"LIMIT 0" in body:
                self._probes.add(_job_id(body))
            if (what == "jobs.insert" and b"LIMIT 0" in body) or (job is not None and job.group(3) in self._probes):
                self.emulator_only[what] += 1
                return 0.0
            self.counts[what] += 1
            if what == "jobs.insert":
                self._waits[_job_id(body)] = JOB_RUN + PER_VIEW * body.count(b"INFORMATION_SCHEMA")
            if job is not None and (run := self._waits.pop(job.group(3), None)) is not None:
                return run  # the poll that waits for the job to finish
            return LATENCY.get(what, DEFAULT_LATENCY)

    def jobs(self) -> int:
        """Query jobs bqmanage ran (probes left out)."""
        return self.counts["jobs.insert"]

    def requests(self) -> int:
        return sum(self.counts.values())

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()
            self.emulator_only.clear()
            self.bodies.clear()
            self.max_in_flight = 0

    def _take(self, method: str, path: str, body: bytes) -> Fault | None:
        for fault in self.faults:
            if (
                fault.times > 0
                and fault.method == method
                and fault.path.search(path)
                and (fault.body is None or fault.body.search(body.decode(errors="replace")))
            ):
                fault.times -= 1
                self.injected += 1
                return fault
        return None

    def _running(self, method: str, path: str, body: bytes) -> bytes | None:
        """A "still running" answer for a slow job's status poll, or None to forward the request."""
        slow = self.slow
        if slow is None:
            return None
        if self._is_slow_insert(method, path, body):
            job = json.loads(body)  # the client names its jobs in the insert body
            slow.started[job["jobReference"]["jobId"]] = (time.monotonic(), job.get("configuration") or {})
            return None
        match = _JOB_PATH.search(path) if method == "GET" else None
        if match is None or match.group(3) not in slow.started:
            return None
        since, configuration = slow.started[match.group(3)]
        if time.monotonic() - since >= slow.seconds:
            return None
        self.slowed += 1
        time.sleep(0.1)  # BigQuery holds a status poll open for a while; don't let the client spin
        reference = {"projectId": match.group(1), "jobId": match.group(3), "location": "US"}
        if match.group(2) == "queries":
            return json.dumps(
                {"kind": "bigquery#getQueryResultsResponse", "jobReference": reference, "jobComplete": False}
            ).encode()
        return json.dumps(
            {"kind": "bigquery#job", "jobReference": reference, "configuration": configuration, "status": {"state": "RUNNING"}}
        ).encode()

    def _is_slow_insert(self, method: str, path: str, body: bytes) -> bool:
        return (
            self.slow is not None
            and method == "POST"
            and path.split("?")[0].endswith("/jobs")
            and bool(self.slow.body.search(body.decode(errors="replace")))
        )

    def _as_running(self, method: str, path: str, body: bytes, data: bytes) -> bytes:
        """bqemulator answers jobs.insert with the finished job; a slow job has only started."""
        if not self._is_slow_insert(method, path, body):
            return data
        job = json.loads(data)
        job["status"] = {"state": "RUNNING"}
        job.get("statistics", {}).pop("endTime", None)
        return json.dumps(job).encode()

    def _dry_run_bytes(self, body: bytes, data: bytes) -> bytes:
        """A dry run answered with the bytes the billing model says its job would bill."""
        sql, dry_run = job_sql(body)
        if not dry_run or not sql:
            return data
        job = json.loads(data)
        billed = str(self.billing.bytes_of(sql))
        statistics = job.setdefault("statistics", {})
        statistics["totalBytesProcessed"] = billed
        statistics.setdefault("query", {})["totalBytesProcessed"] = billed
        return json.dumps(job).encode()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# bqemulator's datasets.list returns the first ``maxResults`` datasets (1,000 when unset) and never a
# nextPageToken, so past 1,000 datasets a project seems to lose some. BigQuery pages them
# (https://cloud.google.com/bigquery/docs/reference/rest/v2/datasets/list: maxResults, pageToken,
# nextPageToken): the proxy asks bqemulator for all of them and hands the client one page at a time,
# ``maxResults`` long (all the rest when the client sets none), the token being the next offset.
_ALL = 1_000_000


def _page_request(method: str, path: str) -> tuple[str, tuple[int, int | None] | None]:
    """The path to send upstream, and (offset, page size) when the proxy pages the answer itself."""
    if method != "GET" or kind(method, path) != "datasets.list":
        return path, None
    parts = urlsplit(path)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("maxResults", "pageToken")]
    asked = dict(parse_qsl(parts.query))
    size = int(asked["maxResults"]) if asked.get("maxResults", "").isdigit() else None
    offset = int(asked["pageToken"]) if asked.get("pageToken", "").isdigit() else 0
    return parts._replace(query=urlencode([*query, ("maxResults", str(_ALL))])).geturl(), (offset, size)


def _paginate(data: bytes, offset: int, size: int | None) -> bytes:
    answer = json.loads(data)
    items = answer.get("datasets") or []
    end = len(items) if size is None else offset + size
    answer.pop("nextPageToken", None)
    if end < len(items):
        answer["nextPageToken"] = str(end)
    if "datasets" in answer:
        answer["datasets"] = items[offset:end]
    return json.dumps(answer).encode()


def _project(path: str) -> str:
    parts = urlsplit(path).path.split("/")
    return parts[parts.index("projects") + 1] if "projects" in parts else ""


def _job_id(body: bytes) -> str:
    try:
        return str(json.loads(body)["jobReference"]["jobId"])
    except (ValueError, KeyError, TypeError):
        return ""


def kind(method: str, path: str) -> str:
    """A request's kind: jobs.insert, tables.get, datasets.list..."""
    parts = urlsplit(path).path.split("/")
    try:
        i = parts.index("projects")
    except ValueError:
        return f"{method} {path}"
    rest = parts[i + 2 :]
    resource = rest[-2] if len(rest) >= 2 and len(rest) % 2 == 0 else (rest[-1] if rest else "projects")
    if rest and len(rest) % 2 == 1:
        verb = {"GET": "list", "POST": "insert"}.get(method, method.lower())
    else:
        verb = {"GET": "get", "PATCH": "patch", "PUT": "update", "DELETE": "delete", "POST": "insert"}[method]
    return f"{resource}.{verb}"
