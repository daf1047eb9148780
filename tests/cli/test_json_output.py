"""``--format json`` of validate, plan, apply, inspect and import: one line of JSON on stdout that
its schema (deployment/schemas/<command>.schema.json) accepts, with the exit codes of the text
reports; and ``--log-format json``: every line on stderr one object with a severity and a message,
as Cloud Logging reads them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema

from tests.helpers import run_cli
from tests.tenants.test_templates import register

ROOT = Path(__file__).resolve().parents[2]
BQMANAGE = str(Path(sys.executable).parent / "bqmanage")  # the console script of this environment
SEVERITIES = {"INFO", "WARNING", "ERROR"}


def _document(stdout: str, command: str) -> dict[str, Any]:
    """stdout as one line of JSON, valid against ``command``'s schema."""
    assert stdout.endswith("\n") and stdout.count("\n") == 1, stdout
    document = json.loads(stdout)
    schema = json.loads((ROOT / "deployment" / "schemas" / f"{command}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(document)
    assert isinstance(document, dict)
    return document


def _log_lines(stderr: str) -> list[dict[str, Any]]:
    """Every line of stderr as a Cloud Logging entry: one JSON object with severity and message."""
    entries = [json.loads(line) for line in stderr.splitlines()]
    for entry in entries:
        assert isinstance(entry, dict) and entry["severity"] in SEVERITIES and isinstance(entry["message"], str)
    return entries


def test_validate_json_counts_the_definitions(workdir: Path) -> None:
    result = run_cli("validate", "--format", "json")
    assert result.exit_code == 0, result.stderr
    document = _document(result.stdout, "validate")
    assert document == {"valid": True, "tables": 3, "datasets": 1, "templates": 1, "template_tables": 1}
    # The installed console script, with the option's other spelling, prints the same document.
    done = subprocess.run([BQMANAGE, "validate", "--format=json"], capture_output=True, text=True, check=False)
    assert (done.returncode, json.loads(done.stdout)) == (0, document)


def test_plan_json_lists_pending_steps_with_their_sql_and_exits_1(workdir: Path) -> None:
    result = run_cli("plan", "--format", "json")
    assert result.exit_code == 1, result.stderr
    document = _document(result.stdout, "plan")
    assert document["target"] == "local" and document["tenants"] is None and document["refusals"] == []
    assert [s["kind"] for s in document["steps"]][:2] == ["create_dataset", "create_table"]
    assert all(s["sql"] for s in document["steps"])
    # The template note goes to stderr: stdout is the document alone.
    assert "left alone" in result.stderr


def test_apply_json_reports_the_steps_applied_then_up_to_date(workdir: Path) -> None:
    dry = run_cli("apply", "--dry-run", "--format", "json")
    assert dry.exit_code == 0, dry.stderr
    dry_doc = _document(dry.stdout, "apply")
    assert dry_doc["status"] == "dry_run" and dry_doc["applied"] == [] and dry_doc["steps"]
    applied = run_cli("apply", "--format", "json")
    assert applied.exit_code == 0, applied.stderr
    document = _document(applied.stdout, "apply")
    assert document["status"] == "applied" and not document["dry_run"]
    assert [s["sql"] for s in document["applied"]] == [s["sql"] for s in dry_doc["steps"]]
    assert document["ledgers"] == ["tenants"]
    again = run_cli("apply", "--format", "json")
    assert again.exit_code == 0
    assert _document(again.stdout, "apply")["status"] == "up_to_date"
    plan = run_cli("plan", "--format", "json")
    assert plan.exit_code == 0
    assert _document(plan.stdout, "plan")["steps"] == []
    assert _document(plan.stdout, "plan")["ledger"][0]["outcome"] == "succeeded"


def test_tenant_runs_carry_each_tenants_outcome(workdir: Path) -> None:
    planned = run_cli("plan", "--tenant", "acme", "--format", "json")
    assert planned.exit_code == 1, planned.stderr
    (outcome,) = _document(planned.stdout, "plan")["tenants"]["outcomes"]
    assert outcome["tenant"] == "acme" and outcome["status"] == "ok" and outcome["steps"]
    dry = run_cli("apply", "--tenant", "acme", "--dry-run", "--format", "json")
    assert dry.exit_code == 0, dry.stderr
    assert _document(dry.stdout, "apply")["tenants"]["outcomes"][0]["steps"]
    assert "[1/1] tenant acme: " in dry.stderr and "step(s) pending" in dry.stderr  # each tenant's line
    text = run_cli("apply", "--tenant", "acme", "--dry-run")
    assert text.exit_code == 0 and "[1/1] tenant acme: " in text.stderr, text.stderr
    assert run_cli("apply").exit_code == 0
    register(None, acme="active")  # --tenant names a registered tenant
    applied = run_cli("apply", "--tenant", "acme", "--format", "json")
    assert applied.exit_code == 0, applied.stderr
    (outcome,) = _document(applied.stdout, "apply")["tenants"]["outcomes"]
    assert outcome["status"] == "applied" and outcome["applied"]


def test_a_refused_change_is_in_the_plan_document_and_exits_2(workdir: Path) -> None:
    assert run_cli("apply").exit_code == 0
    profiles = workdir / "schemas" / "tenants" / "tenant_profiles.yaml"
    profiles.write_text(
        profiles.read_text().replace("{name: tenant_name, type: STRING,", "{name: tenant_name, type: STRING, mode: REQUIRED,")
    )
    result = run_cli("plan", "--format", "json")
    assert result.exit_code == 2
    (refusal,) = _document(result.stdout, "plan")["refusals"]
    assert refusal["target"] == "tenants.tenant_profiles" and "tenant_name" in refusal["reason"]
    refused = run_cli("apply", "--format", "json")
    assert refused.exit_code == 2 and refused.stdout == ""  # refused before anything ran, as today


def test_inspect_json_lists_live_tables_and_columns(workdir: Path) -> None:
    assert run_cli("apply").exit_code == 0
    result = run_cli("inspect", "--format", "json")
    assert result.exit_code == 0, result.stderr
    tables = {(t["dataset"], t["table"]): t for t in _document(result.stdout, "inspect")["tables"]}
    profiles = tables["tenants", "tenant_profiles"]
    assert profiles["clustering"] == ["tenant_id"]
    assert {"name": "daily_limit", "type": "INT64", "mode": "REQUIRED"}.items() <= profiles["columns"][3].items()


def test_import_json_lists_files_written_then_unchanged(workdir: Path) -> None:
    assert run_cli("apply").exit_code == 0
    first = run_cli("import", "--dataset", "tenants", "--out", "imported", "--format", "json")
    assert first.exit_code == 0, first.stderr
    document = _document(first.stdout, "import")
    assert "imported/tenants/tenant_profiles.yaml" in document["written"] and document["unchanged"] == []
    assert (workdir / "imported" / "tenants" / "tenant_profiles.yaml").exists()
    again = run_cli("import", "--dataset", "tenants", "--out", "imported", "--format", "json")
    assert again.exit_code == 0
    assert sorted(_document(again.stdout, "import")["unchanged"]) == sorted(document["written"])


def test_an_unknown_format_is_bad_input(workdir: Path) -> None:
    for command in ("validate", "plan", "apply", "inspect", "import"):
        result = run_cli(command, "--format", "yaml")
        assert result.exit_code == 2 and "--format" in result.stderr and result.stdout == "", command


def test_log_format_json_makes_every_stderr_line_one_entry(workdir: Path) -> None:
    assert run_cli("apply").exit_code == 0
    register(None, acme="active")  # --tenant names a registered tenant
    result = run_cli("--log-format", "json", "apply", "--tenant", "acme", "--format", "json")
    assert result.exit_code == 0, result.stderr
    entries = _log_lines(result.stderr)
    messages = [e["message"] for e in entries]
    assert any(m.startswith("[1/") for m in messages)  # apply's steps
    assert "[1/1] tenant acme: " in "\n".join(messages)  # the tenants' progress
    _document(result.stdout, "apply")


def test_log_format_json_errors_keep_their_exit_code(workdir: Path) -> None:
    result = run_cli("--log-format", "json", "--schemas", "nowhere", "plan")
    assert result.exit_code == 2
    (entry,) = _log_lines(result.stderr)
    assert entry["severity"] == "ERROR" and "nowhere" in entry["message"]
    # The console script, with the variable instead of the flag.
    env = {**os.environ, "BQMANAGE_LOG_FORMAT": "json"}
    done = subprocess.run([BQMANAGE, "--schemas", "nowhere", "validate"], capture_output=True, text=True, env=env, check=False)
    assert (done.returncode, done.stdout) == (2, "")
    (entry,) = _log_lines(done.stderr)
    assert entry["severity"] == "ERROR" and "nowhere" in entry["message"]


def test_log_format_json_through_the_installed_entry_point(workdir: Path) -> None:
    env = {**os.environ, "BQMANAGE_LOG_FORMAT": "json"}
    done = subprocess.run([BQMANAGE, "apply", "--all-tenants"], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert len(_log_lines(done.stderr)) >= 3  # each step, then the (empty) registry's tenants
    failed = subprocess.run(
        [BQMANAGE, "--log-format", "json", "plan", "--tenant", "Bad Id"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert failed.returncode == 2 and failed.stdout == ""
    assert [e["severity"] for e in _log_lines(failed.stderr)] == ["ERROR"]
    # click's own usage errors too, with their exit code.
    usage = subprocess.run([BQMANAGE, "plan", "--bogus"], capture_output=True, text=True, env=env, check=False)
    assert usage.returncode == 2
    ((entry),) = _log_lines(usage.stderr)
    assert entry["severity"] == "ERROR" and "--bogus" in entry["message"]


def test_an_unknown_log_format_is_bad_input(workdir: Path) -> None:
    result = run_cli("--log-format", "xml", "validate")
    assert result.exit_code == 2 and "--log-format" in result.stderr
