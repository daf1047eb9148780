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


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(path: Path, modules: set[str]) -> set[str]:
    """bqmanage modules that ``path`` imports at run time, lazily or not (TYPE_CHECKING excluded)."""
    tree = ast.parse(path.read_text())
    type_only = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
    }
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bqmanage"):
            out.update(f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("bqmanage"))
    return out & modules


def test_no_import_cycle_among_modules() -> None:
    files = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph = {m: _runtime_imports(p, set(files)) - {m} for m, p in files.items()}
    cycles = []

    def visit(module: str, trail: list[str], done: set[str]) -> None:
        for dep in sorted(graph[module]):
            if dep in trail:
                cycles.append(" -> ".join([*trail[trail.index(dep) :], dep]))
            elif dep not in done:
                visit(dep, [*trail, dep], done)
        done.add(module)

    done: set[str] = set()
    for module in sorted(graph):
        if module not in done:
            visit(module, [module], done)
    assert cycles == []
