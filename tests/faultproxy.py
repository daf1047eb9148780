"""A small HTTP proxy in front of bqemulator: counts requests by kind and injects BigQuery faults.

Used by the fault tests (a real rateLimitExceeded / concurrent-update answer, seen by the real
client and its retry path) and by bench/ (request counts). Loopback only; it stops with the test.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
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
class FaultProxy:
    upstream: str
    faults: list[Fault] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    injected: int = 0

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
                if b"LIMIT 0" in body:
                    proxy.counts["probe"] += 1  # bqemulator-only physical-schema query (engines/bigquery.py)
                fault = proxy._take(self.command, self.path, body)
                if fault is not None:
                    status, reason, message = fault.error
                    payload = json.dumps({"error": {"code": status, "message": message,
                                                    "errors": [{"reason": reason, "message": message}]}}).encode()
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
                data = response.read()
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
            if fault.times > 0 and fault.method == method and fault.path.search(path) and (
                    fault.body is None or fault.body.search(body.decode(errors="replace"))):
                fault.times -= 1
                self.injected += 1
                return fault
        return None

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
    rest = parts[i + 2:]
    resource = rest[-2] if len(rest) >= 2 and len(rest) % 2 == 0 else (rest[-1] if rest else "projects")
    if rest and len(rest) % 2 == 1:
        verb = {"GET": "list", "POST": "insert"}.get(method, method.lower())
    else:
        verb = {"GET": "get", "PATCH": "patch", "PUT": "update", "DELETE": "delete", "POST": "insert"}[method]
    return f"{resource}.{verb}"
