"""``-o -`` is stdout, as in most tools: no file named ``-`` is written."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import run_cli, write


def test_check_and_audit_code_write_dash_to_stdout(workdir: Path) -> None:
    assert run_cli("apply").exit_code == 0
    result = run_cli("check", "--format", "json", "-o", "-")
    assert result.exit_code == 0, result.stderr
    assert '"clean": true' in result.stdout
    write(workdir / "src" / "q.sql", "SELECT 1\n")
    audited = run_cli("audit-code", "src", "--format", "json", "-o", "-")
    assert audited.exit_code == 0, audited.stderr
    assert '"clean": true' in audited.stdout
    assert not (workdir / "-").exists()
