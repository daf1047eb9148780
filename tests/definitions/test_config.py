"""bqmanage.yaml targets: what BigQuery would refuse is refused when the config is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_cli, write


@pytest.mark.parametrize(
    ("labels", "fragment"),
    [
        ("{Team: platform}", "invalid label key 'Team'"),
        ("{team: Platform Team}", "invalid label value 'Platform Team'"),
        ("{'1team': x}", "invalid label key '1team'"),
    ],
)
def test_job_labels_are_validated_like_table_labels(labels: str, fragment: str, workdir: Path) -> None:
    """https://cloud.google.com/bigquery/docs/labels-intro#requirements: a job with such a label
    is refused by BigQuery, so the config is refused before any job is sent."""
    write(
        workdir / "bqmanage.yaml", f"targets:\n  prod:\n    engine: bigquery\n    project: my-project-1\n    labels: {labels}\n"
    )
    result = run_cli("--target", "prod", "plan")
    assert result.exit_code == 2
    assert "bqmanage.yaml" in result.stderr and fragment in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (workdir / ".bqmanage").exists()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BQMANAGE_LOCK_TIMEOUT", "soon"),
        ("BQMANAGE_RETRY_DEADLINE", "-1"),
        ("BQMANAGE_JOB_TIMEOUT", "nan"),
        ("BQMANAGE_JOB_TIMEOUT", "inf"),
        ("BQMANAGE_JOB_TIMEOUT", "1e400"),
        ("BQMANAGE_RETRY_DEADLINE", "0"),
        ("BQMANAGE_INFO_SCHEMA_BATCH", "0"),
        ("BQMANAGE_INFO_SCHEMA_BATCH", "ten"),
        ("BQMANAGE_CONCURRENCY", "0"),
        ("BQMANAGE_CONCURRENCY", "99999999999999999999"),
        ("BQMANAGE_CONCURRENCY", "101"),
        ("BQMANAGE_TENANT_WORKERS", "99999999999999999999"),
        ("BQMANAGE_INFO_SCHEMA_BATCH", "1001"),
        ("BQMANAGE_AUDIT_PROCESSES", "inf"),
        ("BQMANAGE_AUDIT_PROCESSES", "abc"),
        ("BQMANAGE_LOAD_PROCESSES", "-1"),
        ("BQMANAGE_LOAD_PROCESSES", "3"),
    ],
)
def test_a_bad_tuning_variable_is_bad_input(name: str, value: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, value)
    result = run_cli("check")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {name}={value}: expected")
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert not (workdir / ".bqmanage").exists()


def test_help_lists_the_tuning_variables() -> None:
    from bqmanage.environment import ENVIRONMENT

    text = run_cli("--help").stdout
    assert all(name in text for name in ENVIRONMENT)


def test_a_config_linked_out_of_its_directory_is_refused_unread(workdir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    secret = tmp_path_factory.mktemp("elsewhere") / "secret"
    secret.write_text("root:$6$hash-that-must-not-leak:19000:0:99999:7:::\n")
    before = secret.read_bytes()
    Path("bqmanage.yaml").symlink_to(secret)
    result = run_cli("validate")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: bqmanage.yaml:"), result.stderr
    assert "symbolic link" in lines[0]
    assert "hash-that-must-not-leak" not in result.stdout + result.stderr and "root" not in result.stderr
    assert secret.read_bytes() == before


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BQMANAGE_CONCURRENCY", "100"),
        ("BQMANAGE_TENANT_WORKERS", "100"),
        ("BQMANAGE_INFO_SCHEMA_BATCH", "1000"),
        ("BQMANAGE_AUDIT_PROCESSES", "1"),
        ("BQMANAGE_LOAD_PROCESSES", "2"),
    ],
)
def test_a_tuning_variable_at_its_bound_is_taken(name: str, value: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, value)
    assert run_cli("validate").exit_code == 0
