"""bqmanage.yaml targets: what BigQuery would refuse is refused when the config is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_cli, write


@pytest.mark.parametrize(("labels", "fragment"), [
    ("{Team: platform}", "invalid label key 'Team'"),
    ("{team: Platform Team}", "invalid label value 'Platform Team'"),
    ("{'1team': x}", "invalid label key '1team'"),
])
def test_job_labels_are_validated_like_table_labels(labels: str, fragment: str, workdir: Path) -> None:
    """https://cloud.google.com/bigquery/docs/labels-intro#requirements: a job with such a label
    is refused by BigQuery, so the config is refused before any job is sent."""
    write(workdir / "bqmanage.yaml", f"targets:\n  prod:\n    engine: bigquery\n    project: my-project-1\n    labels: {labels}\n")
    result = run_cli("--target", "prod", "plan")
    assert result.exit_code == 2
    assert "bqmanage.yaml" in result.stderr and fragment in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (workdir / ".bqmanage").exists()
