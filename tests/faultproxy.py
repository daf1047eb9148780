"""A small HTTP proxy in front of bqemulator: counts requests by kind and injects BigQuery faults.

Used by the fault tests (a real rateLimitExceeded / concurrent-update answer, seen by the real
client and its retry path; a query that runs longer than the client waits) and by bench/ (request
counts). Loopback only; it stops with the test.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

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


@dataclass
class FaultProxy:
    upstream: str
    faults: list[Fault] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    bodies: list[tuple[str, str, bytes]] = field(default_factory=list)  # every request, for assertions
    injected: int = 0
    slow: SlowJobs | None = None
    slowed: int = 0  # answers that said "still running"

    def __post_init__(self) -> None:
        proxy = self
        up = urlsplit(self.upstream)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                proxy.counts[kind(self.command, self.path)] += 1
                proxy.bodies.append((self.command, self.path, body))
                if b"LIMIT 0" in body:
                    proxy.counts["probe"] += 1  # bqemulator-only physical-schema query (engines/bigquery.py)
                running = proxy._running(self.command, self.path, body)
                if running is not None:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(running)))
                    self.end_headers()
                    self.wfile.write(running)
                    return
                fault = proxy._take(self.command, self.path, body)
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
                conn = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                response = conn.getresponse()
                data = proxy._as_running(self.command, self.path, body, response.read())
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

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


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
