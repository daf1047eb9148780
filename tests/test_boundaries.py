"""Architecture rules that a reader should not have to check by hand."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "bqmanage"
CLIENTS = ("google.cloud.bigquery", "duckdb", "google.cloud", "google.api_core")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_only_engines_import_database_clients() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.parent.name == "engines":
            continue
        for name in _imports(path):
            if any(name == c or name.startswith(c + ".") for c in CLIENTS):
                offenders.append(f"{path.relative_to(PACKAGE.parent)} imports {name}")
    assert offenders == []


def test_modules_stay_under_about_400_lines() -> None:
    long = {p.name: n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 420}
    assert long == {}
