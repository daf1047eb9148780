"""Helpers for the runtime-failure tests: bqmanage as a real subprocess, and servers that fail
the way networks do (refuse, drop, hang)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cli_env(**extra: str | None) -> dict[str, str]:
    """The environment of a bqmanage subprocess: this checkout on PYTHONPATH, ``extra`` on top
    (None removes a variable)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BQMANAGE_")}
    env["PYTHONPATH"] = str(ROOT)
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _default_sigint() -> None:
    # A shell that starts jobs in the background ignores SIGINT in them, and Python keeps an
    # ignored SIGINT ignored: give the child Python's own handler, as a terminal would.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(*args: str, cwd: Path, **env: str | None) -> subprocess.Popen[str]:
    """``python -m bqmanage ARGS`` in ``cwd``, with pipes for both streams."""
    return subprocess.Popen(
        [sys.executable, "-m", "bqmanage", *args],
        cwd=cwd,
        env=cli_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Between fork and exec the child only resets one signal disposition:
        # nothing that the test's server threads could hold a lock on.
        preexec_fn=_default_sigint,
    )


def run(*args: str, cwd: Path, timeout: float = 120, **env: str | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bqmanage", *args],
        cwd=cwd,
        env=cli_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextmanager
def broken_endpoint(mode: str) -> Iterator[str]:
    """An HTTP endpoint on loopback that accepts connections and then drops them at once
    (``drop``) or never answers (``hang``). Yields its URL."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            if mode == "drop":
                conn.close()
            else:
                held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        server.close()
        for conn in held:
            conn.close()


# What an endpoint answers a request (method, path): status, content type (None: no header) and body.
Answer = Callable[[str, str], tuple[int, str | None, bytes]]


@contextmanager
def answering_endpoint(answer: Answer) -> Iterator[str]:
    """An HTTP server on loopback that answers every request as ``answer`` says: the endpoint that
    is not BigQuery's API (an HTML page, a bare 404) or a BigQuery whose errors quote hostile text.
    Yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            status, content_type, body = answer(self.command, self.path)
            self.send_response(status)
            if content_type:
                self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
