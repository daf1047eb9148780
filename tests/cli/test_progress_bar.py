"""--all-tenants on a terminal: the progress bar that rich draws on stderr.

Off a terminal, apply, plan and check --all-tenants print one line per tenant (the rest of the suite
checks those lines); on a terminal they draw a rich progress bar instead. This runs them with stderr
on a pseudo-terminal, so that the rich path runs too: ``./dev test-lowest`` runs it on the lowest
rich that bqmanage allows. The CLI runs as a subprocess, as a person's shell would start it.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import run_cli


def _on_a_terminal(*args: str) -> tuple[int, str, str]:
    """Run bqmanage with stderr on a pseudo-terminal; return its exit code, stdout and the terminal's text."""
    controller, terminal = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bqmanage", *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=terminal, env=env
    )
    os.close(terminal)
    seen = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # drain the terminal as it goes, or a full buffer would block the bar
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the process closed its end
            break
        if not chunk:
            break
        seen += chunk
    os.close(controller)
    out = process.stdout.read().decode() if process.stdout else ""
    return process.wait(timeout=30), out, seen.decode(errors="replace")


def test_all_tenants_draws_a_progress_bar_on_a_terminal(workdir: Path) -> None:
    assert run_cli("apply").exit_code == 0
    for tenant in ("acme", "globex"):
        assert run_cli("tenant", "add", tenant, "--name", tenant.title()).exit_code == 0
    for command, verb in (("apply", "applying"), ("plan", "planning"), ("check", "checking")):
        code, out, screen = _on_a_terminal(command, "--all-tenants")
        assert code == 0, (command, out, screen)
        assert "Traceback" not in screen and "Traceback" not in out
        assert f"{verb} tenants" in screen, (command, screen)  # the bar, not the one-line-per-tenant log
        assert "[1/2] tenant" not in screen
