"""A tenant's display name that holds an invisible format character (U+200B zero width space,
U+FEFF, a joiner) is refused as one holding U+FEFF always was: exit 2, one line, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_cli


@pytest.mark.parametrize("char", ["\u200b", "\ufeff", "\u200d", "\u2060"])
def test_an_invisible_character_in_a_name_is_refused(char: str, workdir: Path) -> None:
    assert run_cli("apply").exit_code == 0
    before = (workdir / ".bqmanage" / "local.duckdb").read_bytes()
    result = run_cli("tenant", "add", "acme", "--name", f"Acme{char}Corp")
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("error: --name:")
    assert char not in result.stderr and result.stdout == ""
    assert (workdir / ".bqmanage" / "local.duckdb").read_bytes() == before
    assert "acme" not in run_cli("tenant", "list").stdout


def test_a_visible_name_is_still_taken(workdir: Path) -> None:
    assert run_cli("apply").exit_code == 0
    assert run_cli("tenant", "add", "acme", "--name", "Acme Çorp 株式会社").exit_code == 0
