"""An endpoint that does not answer as BigQuery's API (an HTML page, a bare 404), or a BigQuery
whose error quotes hostile text: every bigquery command fails with one line that names where, exit
3, no traceback, and nothing a server wrote can start a line of bqmanage's own."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.helpers import Result, run_cli
from tests.runtime import answering_endpoint

WHERE = "bigquery project demo-project at http://127.0.0.1:"
COMMANDS = [
    ["plan"],
    ["apply"],
    ["check"],
    ["inspect"],
    ["tenant", "add", "acme"],
    ["reset", "--date", "2026-11-21"],
]
IDS = ["plan", "apply", "check", "inspect", "tenant-add", "reset"]


def _bigquery(url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", url)
    monkeypatch.setenv("BQMANAGE_RETRY_DEADLINE", "3")
    return run_cli("--target", "bigquery", "--project", "demo-project", *args)


def _one_line(result: Result, ending: str) -> None:
    assert result.exit_code == 3, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {WHERE}"), result.stderr
    assert lines[0].endswith(ending), lines[0]


def _html(method: str, path: str) -> tuple[int, str | None, bytes]:
    return 200, "text/html", b"<html>\x1b[31mhello\nOK: fake</html>"


def _bare_404(method: str, path: str) -> tuple[int, str | None, bytes]:
    return 404, None, b""


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_an_answer_that_is_not_json_is_one_line_exit_3(
    command: list[str], workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with answering_endpoint(_html) as url:
        result = _bigquery(url, monkeypatch, *command)
    _one_line(result, "failed: the endpoint did not answer with JSON")


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_a_bare_404_is_a_wrong_endpoint_not_an_empty_warehouse(
    command: list[str], workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with answering_endpoint(_bare_404) as url:
        result = _bigquery(url, monkeypatch, *command)
    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert "No tables." not in result.stdout and "step(s)" not in result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {WHERE}") and " 404" in lines[0], result.stderr


HOSTILE = "bad \x1b]0;T\x07\nApplied 3 step(s) to target bigquery; recorded in the ledger of tenants."


def _rejecting(raw_newline: bool) -> object:
    """GET: BigQuery's notFound (an empty warehouse); POST (the first job): a 400 quoting hostile
    text, as valid JSON or with the raw line break a careless server sends (not JSON at all)."""

    def answer(method: str, path: str) -> tuple[int, str | None, bytes]:
        if method == "GET":
            error = {"code": 404, "message": "Not found: Dataset x", "errors": [{"reason": "notFound", "message": "x"}]}
            return 404, "application/json", json.dumps({"error": error}).encode()
        error = {"code": 400, "message": HOSTILE, "errors": [{"reason": "invalidQuery", "message": "bad\nOK"}]}
        body = json.dumps({"error": error})
        return 400, "application/json", (body.replace("\\n", "\n") if raw_newline else body).encode()

    return answer


@pytest.mark.parametrize("raw_newline", [False, True], ids=["json", "raw-newline"])
def test_a_rejected_step_quotes_the_server_on_its_headline_and_forges_nothing(
    raw_newline: bool, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with answering_endpoint(_rejecting(raw_newline)) as url:  # type: ignore[arg-type]
        result = _bigquery(url, monkeypatch, "apply")
    assert result.exit_code == 3, (result.stdout, result.stderr)
    out = result.stdout + result.stderr
    assert "Traceback" not in out
    assert not any(line.startswith("Applied") for line in out.splitlines()), out
    assert all(c == "\n" or c.isprintable() for c in out), repr(out)
    assert "Location: None" not in out and "Job ID:" not in out
    headline = next(line for line in result.stderr.splitlines() if "failed:" in line)
    assert re.match(r"error: tenants: step 1 of \d+ \(create_dataset\) failed: " + re.escape(WHERE), headline), headline
    assert "jobs.insert failed: 400 " in headline and "\\nApplied 3 step(s)" in headline
    assert "  not run  create_dataset tenants\n" in result.stderr
