"""A real SIGINT as a tenant command that completed its work is ending (its report printed, the
interpreter about to tear down, when Python has restored the default handler): the command exits
with its own code, never 130 with no line. The moment is a race: without the fix this fails only
when the signal lands in the interpreter's finalization."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from bqmanage.cli import signals
from tests.helpers import run_cli
from tests.runtime import start


@pytest.mark.parametrize("args", [("tenant", "add", "newco"), ("tenant", "suspend", "acme")])
def test_an_interrupt_as_the_output_appears_keeps_the_commands_exit_code(args: tuple[str, ...], workdir: Path) -> None:
    assert run_cli("apply").exit_code == 0
    for tenant in ("acme", "globex"):
        assert run_cli("tenant", "add", tenant).exit_code == 0
    process = start(*args, cwd=workdir)
    assert process.stdout is not None
    expected = run_cli(*args[:2], "other" if args[1] == "add" else "globex").stdout.count(
        "\n"
    )  # as many lines as the same command prints
    first = "".join(process.stdout.readline() for _ in range(expected))  # the whole report: the work is done
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, (first + out, err)
    assert err.strip() in ("", signals.DONE_NOTE), err
    assert "Traceback" not in err
