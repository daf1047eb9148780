"""Dataset directories that are copies of one another: each distinct file is parsed and validated
once per load (definitions/load.py), and the outcome is the one reading every file afresh gives:
each table in its own dataset with its own source and lines, each problem at its own file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bqmanage.definitions import load
from bqmanage.definitions.load import load_definitions
from bqmanage.errors import DefinitionError
from tests.helpers import write

EVENTS = """description: Events.
legacy_names: [old.events]
columns:
  - {name: id, type: STRING, mode: REQUIRED}
  - {name: n, type: INT64, default: 0}
"""
DATASET = "description: A team's tables.\nlabels: {tier: bench}\n"


class _Forgetful(dict[Any, Any]):
    """A cache that keeps nothing: every file is read afresh, as before the cache."""

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


def _outcome(schemas: Path) -> str:
    try:
        definitions = load_definitions(schemas)
    except DefinitionError as exc:
        return f"problems:\n{exc}"
    # Sources and lines are not in the JSON of the models' repr, but they are in their dump.
    return repr([(t.dataset, t.name, t.source, t.line, [c.line for c in t.columns]) for t in definitions.tables]) + (
        definitions.model_dump_json()
    )


def _both(schemas: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str, int]:
    """The outcome with the cache, the outcome without it, and how many files were parsed with it."""
    parsed = 0
    real = load.parse_yaml

    def counted(*args: Any) -> Any:
        nonlocal parsed
        parsed += 1
        return real(*args)

    monkeypatch.setenv("BQMANAGE_LOAD_PROCESSES", "1")  # one process: every parse is counted here
    monkeypatch.setattr(load, "parse_yaml", counted)
    cached = _outcome(schemas)
    counted_parses = parsed
    monkeypatch.setattr(load, "_PARSED", _Forgetful())
    monkeypatch.setattr(load, "_TABLES", _Forgetful())
    return cached, _outcome(schemas), counted_parses


def test_copies_are_read_once_and_each_table_is_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    schemas = tmp_path / "schemas"
    for name in ("team_a", "team_b", "team_c"):
        write(schemas / name / "_dataset.yaml", DATASET)
        write(schemas / name / "events.yaml", EVENTS)
    write(schemas / "team_c" / "clicks.yaml", EVENTS)  # the same text under another name: another table
    write(schemas / "team_c" / "views.yaml", "\n" + EVENTS)  # another text: its own lines
    cached, fresh, parsed = _both(schemas, monkeypatch)
    assert cached == fresh
    assert "('team_b', 'events', " in cached and "team_b/events.yaml', 1, [4, 5])" in cached
    assert "('team_c', 'clicks', " in cached and "team_c/views.yaml', 2, [5, 6])" in cached
    # One dataset file, events.yaml, clicks.yaml (its name is validated) and views.yaml.
    assert parsed == 4


def test_a_copy_with_a_problem_is_reported_at_each_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    schemas = tmp_path / "schemas"
    broken = EVENTS.replace("INT64", "INT46")
    for name in ("team_a", "team_b"):
        write(schemas / name / "events.yaml", broken)
        write(schemas / name / "duplicate.yaml", "columns: []\ncolumns: []\n")  # a problem of the parser's
    write(schemas / "team_c" / "events.yaml", EVENTS)
    write(schemas / "team_{tenant}" / "events.yaml", EVENTS)  # valid in a fixed dataset, not in a template
    cached, fresh, _ = _both(schemas, monkeypatch)
    assert cached == fresh
    for name in ("team_a", "team_b"):
        assert f"{name}/events.yaml" in cached and f"{name}/duplicate.yaml" in cached
    assert "team_{tenant}/events.yaml" in cached and "legacy names are not supported in a dataset template" in cached
