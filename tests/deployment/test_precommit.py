"""The shipped pre-commit hook (.pre-commit-hooks.yaml): pre-commit passes the changed files by
name, so the definitions and the config file must be skipped when named, as they are when a
directory is audited; and the hook, run for real by pre-commit, lets a definition change commit
and blocks code that names a legacy table."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
LEGACY_CODE = 'QUERY = "SELECT daily_limit FROM customers.customer_usage_quotas"\n'


def test_definitions_and_config_named_outright_are_not_audited(workdir: Path) -> None:
    # The config names a legacy table on purpose, as the definitions' legacy_names do.
    config = 'legacy:\n  datasets: {customers: tenants}\naudit_code:\n  exclude: ["customers.customer_usage_quotas"]\n'
    Path("bqmanage.yaml").write_text(config)
    Path("app.py").write_text(LEGACY_CODE)
    named = ["schemas/tenants/tenant_usage_quotas.yaml", "./schemas/tenants/../tenants/tenant_profiles.yaml", "bqmanage.yaml"]
    result = run_cli("audit-code", *named)
    assert result.exit_code == 0, result.stdout
    assert "legacy_reference" not in result.stdout
    # Named with code beside them: the code is still audited.
    mixed = run_cli("audit-code", *named, "app.py", "--format", "json")
    assert mixed.exit_code == 1
    assert {f["path"] for f in json.loads(mixed.stdout)["findings"]} == {"app.py"}
    # A directory inside the definitions, named outright, is skipped the same way.
    assert run_cli("audit-code", "schemas/tenants").exit_code == 0


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)


def _hook_repository(tmp_path: Path) -> tuple[Path, str]:
    """This repository's files as they are now (committed or not), as a git repository pre-commit
    can clone: pre-commit installs a hook from a commit."""
    repo = tmp_path / "hook-repo"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.decode()
    for name in filter(None, files.split("\0")):
        source = ROOT / name
        if source.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "snapshot"]):
        assert _git(repo, *args).returncode == 0
    return repo, _git(repo, "rev-parse", "HEAD").stdout.strip()


@pytest.mark.slow
def test_pre_commit_commits_a_definition_change_and_blocks_a_legacy_name(tmp_path: Path) -> None:
    """pre-commit installs bqmanage from this repository into its own environment (a minute or
    two) and runs the hook on each commit, as an application repository would."""
    hook_repo, rev = _hook_repository(tmp_path)
    app = tmp_path / "app"
    app.mkdir()
    shutil.copytree(ROOT / "schemas", app / "schemas")
    config = {"repos": [{"repo": str(hook_repo), "rev": rev, "hooks": [{"id": "bqmanage-audit-code"}]}]}
    (app / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    for var in ("BQMANAGE_SCHEMAS", "BQMANAGE_CONFIG", "BQMANAGE_TARGET", "VIRTUAL_ENV"):
        env.pop(var, None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), cwd=app, env=env, capture_output=True, text=True, check=False)

    assert run("git", "init", "-q").returncode == 0
    assert run(sys.executable, "-m", "pre_commit", "install").returncode == 0
    assert run("git", "add", "-A").returncode == 0
    first = run("git", "commit", "-qm", "definitions")  # every definition file, by name
    assert first.returncode == 0, first.stdout + first.stderr

    profiles = app / "schemas" / "tenants" / "tenant_profiles.yaml"
    profiles.write_text(profiles.read_text() + "  - {name: region, type: STRING}\n")
    run("git", "add", "-A")
    changed = run("git", "commit", "-qm", "a column")
    assert changed.returncode == 0, changed.stdout + changed.stderr
    assert "bqmanage audit-code" in changed.stdout + changed.stderr and "Passed" in changed.stdout + changed.stderr

    (app / "report.py").write_text(LEGACY_CODE)
    run("git", "add", "-A")
    blocked = run("git", "commit", "-qm", "legacy")
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0
    assert "report.py:1:" in output and "customers.customer_usage_quotas is a legacy name" in output
    assert run("git", "log", "--format=%s").stdout.splitlines() == ["a column", "definitions"]  # nothing committed


def test_audit_code_imports_no_warehouse_client(workdir: Path) -> None:
    """What a hook environment without duckdb, grpc or the BigQuery client needs: audit-code, SQL
    checks included, never imports them (measured: such an install is 65 MB against 196 MB)."""
    Path("app.py").write_text(LEGACY_CODE)
    Path("q.sql").write_text("SELECT nope FROM tenants.tenant_usage_quotas;\n")
    probe = (
        "import sys\nfrom bqmanage.cli import run\n"
        "sys.argv = ['bqmanage', 'audit-code', 'app.py', 'q.sql']\n"
        "try:\n    run()\nexcept SystemExit as exit:\n    code = exit.code\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'duckdb', 'grpc', 'google'})\n"
        "print(code, heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert result.stdout.splitlines()[-1] == "1 []", result.stdout + result.stderr
