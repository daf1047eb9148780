"""A project (--project, BQMANAGE_PROJECT) belongs to the bigquery engine (design §4): on the
local target every command ignores it alike, as check and apply always did, rather than some
commands qualifying their SQL with a catalog the local warehouse does not have."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_cli


@pytest.mark.parametrize("how", ["flag", "env"])
def test_every_local_command_ignores_a_project(how: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flags: list[str] = []
    if how == "flag":
        flags = ["--project", "some-other-project"]
    else:
        monkeypatch.setenv("BQMANAGE_PROJECT", "some-other-project")
    commands = [
        ["apply"],
        ["tenant", "add", "acme", "--name", "Acme"],
        ["tenant", "set-limits", "acme", "--daily-limit", "7"],
        ["tenant", "list"],
        ["reset", "--dry-run"],
        ["reset"],
        ["check"],
    ]
    for command in commands:
        result = run_cli(*flags, *command)
        assert result.exit_code == 0, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr and "Catalog Error" not in result.stderr
    listed = run_cli(*flags, "tenant", "list")
    assert "acme" in listed.stdout and "/7 " in listed.stdout  # written to, and read from, the local warehouse
    # What is printed for BigQuery still names the project: render is BigQuery's DDL.
    assert "`some-other-project`.`tenants`" in run_cli(*flags, "render").stdout
