"""Load stage: schemas/<dataset>/*.yaml -> Definitions (the desired state).

YAML is composed node by node so that every value keeps its line; validation problems are then
reported as ``file:line: key.path: message``, every one of them, never just the first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from bqmanage.errors import DefinitionError, Problem
from bqmanage.model import Definitions, digest_of

KeyPath = tuple[str | int, ...]
DATASET_FILE = "_dataset.yaml"


class LineMap:
    """Where each key path of one file sits: path -> 1-based line."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lines: dict[KeyPath, int] = {}

    def line(self, key_path: KeyPath) -> int | None:
        # Fall back to the nearest parent that has a line (e.g. for a missing key).
        for end in range(len(key_path), -1, -1):
            if key_path[:end] in self.lines:
                return self.lines[key_path[:end]]
        return None

    def problem(self, key_path: KeyPath, message: str) -> Problem:
        return Problem(self.path, self.line(key_path), format_key_path(key_path), message)


def format_key_path(key_path: KeyPath) -> str:
    out = ""
    for part in key_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def read_yaml(path: Path, display: str) -> tuple[Any, LineMap, list[Problem]]:
    """Parse one YAML file into plain data plus its line map and any syntax problems."""
    lines = LineMap(display)
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else None
        return None, lines, [Problem(display, line, "", f"invalid YAML: {exc.problem}")]
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return None, lines, [Problem(display, None, "", f"cannot read: {exc}")]
    if node is None:
        return None, lines, [Problem(display, 1, "", "the file is empty")]
    problems: list[Problem] = []
    data = _to_python(node, (), lines, problems)
    return data, lines, problems


_CONSTRUCTOR = SafeConstructor()


def _to_python(node: yaml.Node, key_path: KeyPath, lines: LineMap, problems: list[Problem]) -> Any:
    lines.lines[key_path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _CONSTRUCTOR.construct_object(key_node, deep=True)
            child = (*key_path, str(key))
            if key in out:
                lines.lines[child] = key_node.start_mark.line + 1
                problems.append(lines.problem(child, f"duplicate key {key!r}"))
            out[key] = _to_python(value_node, child, lines, problems)
            lines.lines[child] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*key_path, i), lines, problems) for i, item in enumerate(node.value)]
    return _CONSTRUCTOR.construct_object(node, deep=True)


def load_definitions(schemas_dir: Path) -> Definitions:
    """Read and validate every definition under ``schemas_dir``; raise DefinitionError on any problem."""
    from bqmanage.validate import validate_dataset, validate_table

    if not schemas_dir.is_dir():
        raise DefinitionError([Problem(str(schemas_dir), None, "", "schemas directory not found")])
    problems: list[Problem] = []
    texts: list[tuple[str, str]] = []
    datasets, tables = [], []
    dataset_dirs = sorted(p for p in schemas_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    for dataset_dir in dataset_dirs:
        files = sorted(dataset_dir.glob("*.yaml")) + sorted(dataset_dir.glob("*.yml"))
        dataset_data: Any = {}
        dataset_lines = LineMap(_display(dataset_dir / DATASET_FILE))
        for file in files:
            display = _display(file)
            texts.append((file.relative_to(schemas_dir).as_posix(), file.read_text(encoding="utf-8", errors="replace")))
            data, lines, syntax = read_yaml(file, display)
            problems.extend(syntax)
            if syntax:
                continue
            if file.name == DATASET_FILE:
                dataset_data, dataset_lines = data, lines
                continue
            table, table_problems = validate_table(data, lines, dataset_dir.name, file.stem)
            problems.extend(table_problems)
            if table is not None:
                tables.append(table)
        dataset, dataset_problems = validate_dataset(dataset_data, dataset_lines, dataset_dir.name)
        problems.extend(dataset_problems)
        if dataset is not None:
            datasets.append(dataset)
    if problems:
        raise DefinitionError(problems)
    if not tables:
        raise DefinitionError([Problem(str(schemas_dir), None, "", "no table definitions found (expected schemas/<dataset>/<table>.yaml)")])
    return Definitions(datasets=tuple(datasets), tables=tuple(tables), digest=digest_of(texts))


def _display(path: Path) -> str:
    """A path as the user typed it, relative to the working directory when possible."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()
