"""Property-based: whatever a definition file holds, loading it ends in Definitions or a
DefinitionError whose every problem is located (file path, and line), in bounded time and memory.

The generators: YAML documents dumped from random data, definition-shaped documents, raw text
made of YAML punctuation, raw bytes, alias chains of any depth and width, and mutations of the
shipped definitions (lines deleted, duplicated, swapped, re-indented, a token replaced).
Derandomized and database-less, so every run (and CI) tries the same examples.
"""

from __future__ import annotations

import re
import shutil
import tracemalloc
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bqmanage.definitions.load import load_definitions
from bqmanage.errors import DefinitionError
from tests.conftest import SCHEMAS
from tests.helpers import run_cli

# Small examples run in milliseconds; the deadline is far above that so a loaded CI machine does
# not flake, and far below what an unbounded expansion or a hang would take.
FUZZ = settings(
    max_examples=300,
    deadline=timedelta(seconds=3),
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PEAK_BYTES = 32 << 20  # per example; the examples are at most a few KB of YAML

KEYS = [
    "table",
    "description",
    "labels",
    "legacy_names",
    "partitioning",
    "clustering",
    "columns",
    "quota",
    "name",
    "type",
    "mode",
    "default",
    "reset",
    "fields",
    "column",
    "granularity",
    "range",
    "<<",
]
TYPES = [
    "STRING",
    "INT64",
    "NUMERIC(10, 2)",
    "STRING(0)",
    "STRUCT<a INT64>",
    "ARRAY<STRING>",
    "RECORD",
    "DATE",
    "TIMESTAMP",
    "INT46",
    "ARRAY<ARRAY<INT64>>",
    "RANGE<DATE>",
    "BIGNUMERIC(77, 38)",
]
PUNCTUATION = [
    "[",
    "]",
    "{",
    "}",
    ":",
    ": ",
    "- ",
    ", ",
    "\n",
    "\n  ",
    "  ",
    "\t",
    "? ",
    "|",
    ">",
    "'",
    '"',
    "#",
    "---\n",
    "...\n",
    "&a ",
    "&b ",
    "*a",
    "*b",
    "<<: ",
    "!",
    "!!int ",
    "!!str ",
    "!!binary ",
    "!vault ",
    "%YAML 1.1\n",
    "%TAG ! tag:x,2000:\n",
    "\\",
    "~",
    "null",
    "2026-02-30",
    "1e999",
    "0x1F",
    "é",
    "\ufeff",
    "\x85",
    "\x07",
    "\u2028",
    "name",
    "type",
    "columns",
    "INT64",
]

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12) | st.dates() | st.sampled_from(TYPES)
plain_data = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=4),
    max_leaves=25,
)
definition_like = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=5),
    max_leaves=30,
)


@st.composite
def dumped(draw: st.DrawFn, data: st.SearchStrategy[object]) -> bytes:
    text: str = yaml.safe_dump(
        draw(data),
        default_flow_style=draw(st.sampled_from([None, True, False])),
        allow_unicode=draw(st.booleans()),
        sort_keys=False,
    )
    return text.encode()


fragments = st.lists(st.sampled_from(PUNCTUATION) | st.text(max_size=4), max_size=60).map(lambda parts: "".join(parts).encode())


@st.composite
def alias_chains(draw: st.DrawFn) -> bytes:
    """Anchors that each repeat the one before: from harmless to a billion laughs."""
    levels, width = draw(st.integers(1, 16)), draw(st.integers(1, 12))
    long = "x" * draw(st.sampled_from([1, 1000, 100_000]))
    lines = [f"a0: &a0 [{', '.join([long] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return ("\n".join(lines) + "\ncolumns:\n  - {name: id, type: STRING}\n").encode()


documents = dumped(plain_data) | dumped(definition_like) | fragments | st.binary(max_size=200) | alias_chains()

SHIPPED = {path.name: path.read_text() for path in sorted((SCHEMAS / "tenants").glob("*.yaml"))}


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    """One shipped definition with a few line-level edits."""
    name = draw(st.sampled_from(sorted(SHIPPED)))
    lines = SHIPPED[name].splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(["delete", "duplicate", "swap", "token", "indent"]))
        if edit == "delete":
            del lines[i]
        elif edit == "duplicate":
            lines.insert(j, lines[i])
        elif edit == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif edit == "token":
            tokens = re.split(r"(\W)", lines[i])
            k = draw(st.integers(0, len(tokens) - 1))
            tokens[k] = draw(st.sampled_from(PUNCTUATION) | st.text(max_size=8))
            lines[i] = "".join(tokens)
        else:
            indent = draw(st.sampled_from(["", " ", "   ", "\t", "      "]))
            lines[i] = indent + lines[i].lstrip(" ")
    return name, "".join(lines).encode()


def _load_is_located(schemas: Path, written: Path) -> None:
    """The property: Definitions, or every problem starting with a definition file's path and a line."""
    tracemalloc.start()
    try:
        load_definitions(schemas)
    except DefinitionError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert Path(problem.path).parent == written.parent, str(problem)
            assert str(problem).startswith(f"{problem.path}:"), str(problem)
            if problem.path == written.as_posix():
                assert problem.line is not None, str(problem)  # the content is the problem, so it has a line
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < PEAK_BYTES, f"peak {peak / 1e6:.0f} MB"


@FUZZ
@given(content=documents)
@example(content=b"{'[': null}\n")  # a key that looks like pydantic's name for a union member
@example(content=b"str: 1\ncolumns: []\n")
def test_any_document_loads_or_is_located(content: bytes, tmp_path: Path) -> None:
    written = tmp_path / "schemas" / "ds" / "t.yaml"
    written.parent.mkdir(parents=True, exist_ok=True)
    written.write_bytes(content)
    _load_is_located(tmp_path / "schemas", written)


@FUZZ
@given(edit=mutated())
def test_mutated_shipped_definitions_load_or_are_located(edit: tuple[str, bytes], tmp_path: Path) -> None:
    shutil.copytree(SCHEMAS, tmp_path / "schemas", dirs_exist_ok=True)  # restores the other files
    written = tmp_path / "schemas" / "tenants" / edit[0]
    written.write_bytes(edit[1])
    _load_is_located(tmp_path / "schemas", written)


@settings(FUZZ, max_examples=12)
@given(edit=documents.map(lambda content: ("ds/t.yaml", content)) | mutated().map(lambda edit: (f"tenants/{edit[0]}", edit[1])))
def test_cli_never_shows_a_traceback(edit: tuple[str, bytes], workdir: Path) -> None:
    shutil.rmtree("schemas")  # what an earlier example wrote
    shutil.copytree(SCHEMAS, "schemas")
    written = f"schemas/{edit[0]}"
    Path(written).parent.mkdir(exist_ok=True)
    Path(written).write_bytes(edit[1])
    result = run_cli("validate")
    assert result.exit_code in (0, 2), result.stderr
    assert "Traceback" not in result.stderr
    if result.exit_code == 2:
        problems = result.stderr.splitlines()[:-1]  # the last line counts them
        assert problems and all(p.startswith(f"{written}:") for p in problems), result.stderr
    assert not Path(".bqmanage").exists()


@pytest.mark.parametrize("levels", [12, 16])
def test_alias_bomb_stays_small(levels: int, tmp_path: Path) -> None:
    written = tmp_path / "schemas" / "ds" / "t.yaml"
    written.parent.mkdir(parents=True)
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"] + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    written.write_text("\n".join(lines) + "\n")
    _load_is_located(tmp_path / "schemas", written)
