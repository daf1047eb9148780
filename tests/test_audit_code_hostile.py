"""audit-code on hostile trees: work linear in the references however they are laid out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bqmanage.codeaudit import lex
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = str(ROOT / "schemas")
REF = '"customers.customer_usage_quotas", '


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for var in ("BQMANAGE_SCHEMAS", "BQMANAGE_CONFIG", "BQMANAGE_TARGET"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def _characters_read(monkeypatch: pytest.MonkeyPatch, path: Path) -> tuple[int, int]:
    """(findings, characters of line text read) for one audit-code run on ``path``."""
    read = [0]
    line_text = lex.Lines.line_text

    def counting(self: lex.Lines, line: int) -> str:
        text = line_text(self, line)
        read[0] += len(text)
        return text

    monkeypatch.setattr(lex.Lines, "line_text", counting)
    result = run_cli("--schemas", SCHEMAS, "audit-code", "--format", "json", str(path))
    monkeypatch.undo()
    assert result.exit_code == 1, result.stderr
    assert "Traceback" not in result.stderr
    return len(json.loads(result.stdout)["findings"]), read[0]


@pytest.mark.parametrize(("suffix", "head", "tail"), [(".py", "X = [", "]\n"), (".json", "[", '"x"]\n')])
def test_references_on_one_line_are_read_in_linear_work(
    suffix: str, head: str, tail: str, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A minified file: every reference on one line. Each line is read a bounded number of times
    (once for its ignore marker, once for its byte columns), not once per reference, so doubling
    the references doubles the characters read, and never more than a few times the file."""
    sizes = {}
    for count in (500, 1000):
        path = tree / f"refs{count}{suffix}"
        path.write_text(head + REF * count + tail)
        found, read = _characters_read(monkeypatch, path)
        assert found == count
        assert read <= 3 * path.stat().st_size, f"{read} characters read for a file of {path.stat().st_size}"
        sizes[count] = read
    assert sizes[1000] <= 2.2 * sizes[500]


def test_an_ignore_marker_on_a_long_line_still_suppresses_every_reference(tree: Path) -> None:
    path = tree / "long.py"
    path.write_text("X = [" + REF * 300 + "]  # bqmanage: ignore[legacy_reference]\n")
    result = run_cli("--schemas", SCHEMAS, "audit-code", "--format", "json", str(path))
    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout)["summary"]["suppressed"] == 300


def test_columns_after_wide_characters_are_located_in_characters(tree: Path) -> None:
    """ast gives UTF-8 byte columns; a finding's column counts characters, after any non-ASCII text."""
    path = tree / "wide.py"
    path.write_text('X = ["é€😀", "customers.customer_usage_quotas", "ü", "customers"]\n')
    result = run_cli("--schemas", SCHEMAS, "audit-code", "--format", "json", str(path))
    columns = [(f["line"], f["column"]) for f in json.loads(result.stdout)["findings"]]
    text = path.read_text()
    assert columns == [(1, text.index('"customers.') + 2), (1, text.index('"customers"') + 2)]
