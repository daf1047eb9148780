"""The BigQuery endpoint and its retry settings: a malformed BIGQUERY_EMULATOR_HOST is bad input
named as such (not a traceback from deep in a request), a password in it is never printed, and
BQMANAGE_RETRY_DEADLINE is the deadline of every retry, network failures included."""

from __future__ import annotations

from pathlib import Path

import pytest

from bqmanage.engines.bigquery import BigQueryEngine
from bqmanage.settings import resolve_settings
from tests.helpers import run_cli

BIGQUERY = ["--target", "bigquery", "--project", "my-project"]


@pytest.mark.parametrize(
    "host",
    ["localhost:9050", "not a url", "http://[::1", "http://127.0.0.1:99999", "ftp://x", "http://127.0.0.1:9050\n", "http://h:0"],
)
def test_a_malformed_emulator_host_is_bad_input(host: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", host)
    monkeypatch.setenv("BQMANAGE_RETRY_DEADLINE", "1")
    result = run_cli(*BIGQUERY, "check")
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("error: BIGQUERY_EMULATOR_HOST="), result.stderr


@pytest.mark.parametrize("host", ["http://user:s3cret@127.0.0.1:1", "http://user:s3cret@127.0.0.1:1/path"])
def test_a_password_in_the_emulator_host_is_never_printed(host: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", host)
    monkeypatch.setenv("BQMANAGE_RETRY_DEADLINE", "1")
    result = run_cli(*BIGQUERY, "check")
    assert result.exit_code in (2, 3), result.stderr  # refused (a path), or the closed port
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    assert "s3cret" not in result.stderr + result.stdout and "user" not in result.stderr
    assert "://***@127.0.0.1:1" in result.stderr


def test_the_retry_deadline_covers_the_clients_own_retries(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The client retries network failures and 5xx answers itself: with the setting's deadline, not a shorter one."""
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "http://127.0.0.1:1")
    monkeypatch.setenv("BQMANAGE_RETRY_DEADLINE", "300")
    engine = BigQueryEngine(resolve_settings(target="bigquery", project="my-project"))
    try:
        assert engine.rpc_retry.deadline == 300
    finally:
        engine.close()


def test_network_failures_give_up_at_the_retry_deadline_and_say_so(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "http://127.0.0.1:1")
    monkeypatch.setenv("BQMANAGE_RETRY_DEADLINE", "2")
    result = run_cli(*BIGQUERY, "check")
    assert result.exit_code == 3
    assert "cannot reach the endpoint" in result.stderr and "gave up after 2 s of retries" in result.stderr
