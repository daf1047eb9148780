"""The deployment recipes parse and say what the README says they do."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_github_workflow_runs_check_with_wif_and_uploads_sarif() -> None:
    workflow = yaml.safe_load((ROOT / "deployment" / "github" / "bqmanage-check.yml").read_text())
    assert workflow["permissions"]["id-token"] == "write"
    steps = workflow["jobs"]["check"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("google-github-actions/auth@") for u in uses)
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    run = "\n".join(s.get("run", "") for s in steps)
    assert "check --format sarif --output bqmanage.sarif" in run
    auth = next(s for s in steps if s.get("uses", "").startswith("google-github-actions/auth@"))
    assert "workload_identity_provider" in auth["with"] and "credentials_json" not in auth["with"]
