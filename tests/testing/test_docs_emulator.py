"""docs/getting-started.md's bqemulator example, as a user runs it: `python -m bqmanage.testing.emulator
serve` in one terminal, the CLI with BIGQUERY_EMULATOR_HOST in another (the "emulator" examples)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import docs_examples
from tests.docs_examples import ROOT, Shell
from tests.testing.test_docs import _clone, run_block

SHOWN_URL = "http://127.0.0.1:9050"  # the port the docs show: serve's default


@pytest.fixture
def served() -> Iterator[str]:
    """The documented command, on a free port (9050 may be taken here); yields the URL it announces."""
    env = {k: v for k, v in os.environ.items() if k != "BIGQUERY_EMULATOR_HOST"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bqmanage.testing.emulator", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        announced = re.search(r"bqemulator is listening on (http://127\.0\.0\.1:\d+);", lines[1])
        assert announced, lines
        url = announced[1]
        assert lines[1] == f"bqemulator is listening on {url}; in another shell: export BIGQUERY_EMULATOR_HOST={url}\n"
        yield announced[1]
    finally:
        proc.send_signal(signal.SIGTERM)  # as Ctrl-C: the emulator it started stops with it
        assert proc.wait(timeout=30) == 0


@pytest.mark.emulator
def test_the_cli_against_a_served_emulator_prints_what_the_docs_show(served: str, tmp_path: Path) -> None:
    blocks = [b for b in docs_examples.all_blocks() if b.setup == "emulator"]
    assert blocks
    shown = (ROOT / "docs" / "getting-started.md").read_text()
    assert "python -m bqmanage.testing.emulator serve" in shown and f"listening on {SHOWN_URL}" in shown
    for block in blocks:
        sandbox = tmp_path / block.id.replace("/", "_")
        _clone(sandbox)
        run_block(block, Shell(cwd=sandbox, replace={SHOWN_URL: served}))


def test_serve_refuses_a_port_that_is_not_one_before_starting_anything(capsys: pytest.CaptureFixture[str]) -> None:
    from bqmanage.testing import emulator

    with pytest.raises(SystemExit) as exited:
        emulator.main(["serve", "--port", "70000"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--port 70000: not a port" in err and "Traceback" not in err
