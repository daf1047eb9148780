"""What a fresh-clone review as a new user and as an attacker found: each a traceback or a wrong
outcome before, now one located message with the documented exit code and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_cli, write


def _no_traceback(result) -> None:  # type: ignore[no-untyped-def]
    assert "Traceback" not in result.stdout + result.stderr


def test_a_lookback_beyond_ten_years_is_a_definition_error(workdir: Path) -> None:
    quotas = workdir / "schemas" / "tenants" / "tenant_usage_quotas.yaml"
    quotas.write_text(quotas.read_text().replace("lookback_days: 35", "lookback_days: 3000000"))
    result = run_cli("reset", "--date", "2026-11-21")
    assert result.exit_code == 2 and "tenant_usage_quotas.yaml:" in result.stderr
    assert "lookback_days must be between 1 and 3660" in result.stderr
    _no_traceback(result)
    assert not (workdir / ".bqmanage").exists()


@pytest.mark.parametrize("date", ["0001-01-01", "0001-02-01", "20261121", "2026-W47-6", "2026-11-21T00:00"])
def test_reset_dates_outside_the_promise_are_refused(date: str, workdir: Path) -> None:
    result = run_cli("reset", "--date", date, "--dry-run")
    assert result.exit_code == 2 and result.stderr.startswith(
        f"error: --date: {date}" if date.startswith("0001") else f"error: --date: {date!r}"
    )
    _no_traceback(result)
    assert not (workdir / ".bqmanage").exists()


def test_a_unicode_digit_in_a_count_variable_is_bad_input(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BQMANAGE_INFO_SCHEMA_BATCH", "\u00b2")
    result = run_cli("check")
    assert result.exit_code == 2 and "BQMANAGE_INFO_SCHEMA_BATCH" in result.stderr
    _no_traceback(result)


@pytest.mark.parametrize("layout", ["file_in_the_way", "missing_parent"])
def test_a_local_path_that_cannot_be_made_is_one_message(layout: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if layout == "file_in_the_way":
        Path(".bqmanage").write_text("not a directory")
    else:
        monkeypatch.setenv("BQMANAGE_LOCAL_PATH", "/proc/nope/x.duckdb")
    result = run_cli("apply")
    assert result.exit_code == 2 and "cannot create the local warehouse's directory" in result.stderr
    _no_traceback(result)


def test_a_config_cannot_turn_the_local_target_into_bigquery(workdir: Path) -> None:
    write(workdir / "bqmanage.yaml", "targets:\n  local: {engine: bigquery, project: my-proj-123}\n")
    result = run_cli("--target", "local", "check")
    assert result.exit_code == 2 and "bqmanage.yaml: targets.local: the built-in target 'local'" in result.stderr
    _no_traceback(result)


def test_validate_help_example_runs(workdir: Path) -> None:
    example = run_cli("validate", "--help").stdout.split("Example: ", 1)[1].split("\n", 1)[0].strip()
    assert example.startswith("bqmanage ")
    assert run_cli(*example.split()[1:]).exit_code == 0


@pytest.mark.parametrize(
    ("where", "fragment"),
    [
        ("schemas/tenants/extra.YAML", "end in .yaml or .yml (lower case)"),
        ("schemas/tenants/archive/old.yaml", "a directory of YAML files inside a dataset directory is not read"),
    ],
)
def test_definition_files_that_would_be_skipped_are_reported(where: str, fragment: str, workdir: Path) -> None:
    write(workdir / where, "columns:\n  - {name: id, type: STRING}\n")
    result = run_cli("validate")
    assert result.exit_code == 2 and fragment in result.stderr
    assert result.stderr.startswith(str(Path(where).parent if "archive" in where else where))


@pytest.mark.parametrize(
    ("config", "args", "fragment"),
    [
        (
            "targets:\n  prod: {engine: bigquery, project: 'Bad Project'}\n",
            ["--target", "prod", "check"],
            "bqmanage.yaml: targets.prod.project: ",
        ),
        ("default_target: nope\n", ["check"], "bqmanage.yaml: default_target: unknown target 'nope'"),
    ],
)
def test_config_problems_name_the_config_not_a_flag(config: str, args: list[str], fragment: str, workdir: Path) -> None:
    write(workdir / "bqmanage.yaml", config)
    result = run_cli(*args)
    assert result.exit_code == 2 and fragment in result.stderr, result.stderr


def test_a_schemas_path_that_is_a_file_is_said_to_be_no_directory(workdir: Path) -> None:
    write(Path("defs.txt"), "not a directory\n")
    result = run_cli("--schemas", "defs.txt", "validate")
    assert result.exit_code == 2
    assert "defs.txt: is not a directory" in result.stderr and "not found" not in result.stderr


def test_a_bad_log_format_variable_is_named_as_the_variable(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BQMANAGE_LOG_FORMAT", "xml")
    result = run_cli("plan")
    assert result.exit_code == 2
    assert "BQMANAGE_LOG_FORMAT" in result.stderr and "--log-format" not in result.stderr
    # One line, "error: ...", as every bad flag value: no usage block, no blank line before it.
    assert result.stderr == "error: BQMANAGE_LOG_FORMAT: expected text or json, got 'xml'\n"
    monkeypatch.delenv("BQMANAGE_LOG_FORMAT")
    flag = run_cli("--log-format", "xml", "plan")
    assert flag.exit_code == 2 and flag.stderr == "error: --log-format: expected text or json, got 'xml'\n"
