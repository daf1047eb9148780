"""A stop signal is answered in one line whenever it lands: during start-up (imports, parsing)
the process exits 130 without a traceback; after a command that writes has completed its work,
it still prints what it did and exits with its own code, with a note that the interrupt came too
late to stop it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from bqmanage.cli import signals
from bqmanage.engines.local import LocalEngine
from tests.helpers import run_cli
from tests.runtime import run, start


def test_sigterm_during_start_up_exits_without_a_traceback(workdir: Path) -> None:
    """Sent at growing delays, so that it lands before the handler, in the imports, in parsing
    and in the command: each ends as a stop, never a traceback or click's "Aborted!". (A SIGINT
    that lands while Python itself starts, before any of bqmanage runs, is Python's to report.)"""
    sig = signal.SIGTERM
    outcomes = set()
    for delay in (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.7):
        proc = start("check", cwd=workdir)
        time.sleep(delay)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        assert "Traceback" not in err and "Aborted" not in err, (delay, err)
        # 1: check had finished (findings); -15: before the handler; -2: Python's own exit "as by
        # SIGINT" after the interrupt message, which a shell reports as 130 too.
        assert proc.returncode in (1, 130, -sig, -signal.SIGINT), (delay, proc.returncode, err)
        assert len(err.splitlines()) <= 2, (delay, err)  # at most the template note and one line
        outcomes.add(proc.returncode)
    assert 130 in outcomes  # at least one landed after the handler was installed


# Each command that writes, with a word of its success line; the tenant commands after `tenant add acme`.
LATE = [
    (("apply",), "Applied 6 step(s) to target local"),
    (("tenant", "add", "globex", "--daily-limit", "7"), "globex"),
    (("tenant", "set-limits", "acme", "--daily-limit", "9"), "acme"),
    (("tenant", "suspend", "acme"), "acme"),
    (("tenant", "resume", "acme"), "acme"),
    (("reset", "--date", "2026-12-01"), "2026-12-01"),
]


@pytest.mark.parametrize("args, success", LATE, ids=[" ".join(a[:2]) for a, _ in LATE])
def test_an_interrupt_after_the_work_completed_prints_the_success_and_exits_with_its_code(
    args: tuple[str, ...], success: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real SIGINT, delivered as the warehouse is closed after the command's last write, with
    the command line's own handler installed as `bqmanage` installs it."""
    if args[0] != "apply":
        assert run_cli("apply").exit_code == 0
        assert run_cli("tenant", "add", "acme").exit_code == 0
    close = LocalEngine.close

    def close_then_interrupt(self: LocalEngine) -> None:
        close(self)
        signal.raise_signal(signal.SIGINT)

    previous = signal.signal(signal.SIGINT, signals.terminate)
    monkeypatch.setattr(LocalEngine, "close", close_then_interrupt)
    try:
        result = run_cli(*args)
    finally:
        signal.signal(signal.SIGINT, previous)
        monkeypatch.setattr(LocalEngine, "close", close)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert success in result.stdout
    assert result.stderr.splitlines()[-1] == signals.DONE_NOTE
    assert "Traceback" not in result.stderr and "re-run to resume" not in result.stderr
    if args[0] == "apply":
        assert "Nothing to do" in run_cli("apply").stdout


def test_sigint_at_any_moment_of_a_reset_exits_130_or_0_without_a_traceback(workdir: Path) -> None:
    """Sent at growing delays, so that it lands in start-up, in the imports, while the warehouse
    opens, in the reset's statements and while it closes."""
    assert run("apply", cwd=workdir).returncode == 0
    assert run("tenant", "add", "acme", cwd=workdir).returncode == 0
    outcomes = set()
    for i, delay in enumerate((0.0, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5)):
        proc = start("reset", "--date", f"2026-11-{i + 1:02d}", cwd=workdir)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        if "Fatal Python error: init_import_site" in err:  # Python's own start-up, before any of bqmanage
            continue
        if "Traceback" in err and not _frames_of_bqmanage(err):
            # The interpreter's own start-up (runpy finding the package): no code of bqmanage has
            # run yet, so nothing can answer the signal; any Python program prints this there.
            continue
        assert "Traceback" not in err and "Aborted" not in err and "Exception ignored" not in err, (delay, err)
        # -2: the signal landed while Python itself started, before any of bqmanage ran.
        assert proc.returncode in (0, 130, -signal.SIGINT), (delay, proc.returncode, err)
        assert len(err.splitlines()) <= 2, (delay, err)
        if proc.returncode == 0:
            assert out.strip(), (delay, err)  # a reset that completed says what it did
        outcomes.add(proc.returncode)
    assert 130 in outcomes


def _frames_of_bqmanage(err: str) -> list[str]:
    """The traceback lines that name a file of the bqmanage package."""
    return [line for line in err.splitlines() if line.lstrip().startswith("File ") and "bqmanage" + os.sep in line]


def test_an_interrupt_after_import_wrote_its_files_prints_what_it_wrote(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real SIGINT once the files are in place, as the summary is being written."""
    from bqmanage.cli import imports

    assert run_cli("apply").exit_code == 0
    summary = imports._summary

    def interrupt_then_summarise(*args: Any) -> str:
        signal.raise_signal(signal.SIGINT)
        return summary(*args)

    previous = signal.signal(signal.SIGINT, signals.terminate)
    monkeypatch.setattr(imports, "_summary", interrupt_then_summarise)
    try:
        result = run_cli("import", "--dataset", "tenants", "--out", "imported")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "wrote imported/tenants/tenant_profiles.yaml" in result.stdout and "Imported 3 table(s)" in result.stdout
    assert result.stderr.splitlines()[-1] == signals.DONE_NOTE
