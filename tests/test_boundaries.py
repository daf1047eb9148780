"""Architecture rules that a reader should not have to check by hand.

Every import counts, type-only (``if TYPE_CHECKING:``) and function-local ones included: an arrow
a type checker follows is an arrow a reader follows, and a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "bqmanage"
CLIENTS = ("google.cloud.bigquery", "duckdb", "_duckdb", "google.cloud", "google.api_core", "google.auth", "google.oauth2")

# The layers, top first. A module may import its own layer and the layers below it, never one above.
# Longest prefix wins, so a leaf of a wing that sits lower than its wing is named on its own line.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("bqmanage.__main__", "bqmanage.cli"),  # the command line: parses, calls the API, prints
    ("bqmanage.testing",),  # warehouses for applications' tests, built through the API
    ("bqmanage.report",),  # text, files, SARIF: formatting of what the API returns, nothing else
    ("bqmanage.project",),  # the library's front door: validates, then opens the warehouse
    ("bqmanage.api",),  # the engine-level API: one function per command over an open engine
    # The wings: the features built on the stages.
    ("bqmanage.importer", "bqmanage.tenants", "bqmanage.codeaudit", "bqmanage.definitions"),
    # The stages that touch the warehouse, and the warehouse check built on the same reads.
    ("bqmanage.introspect", "bqmanage.apply", "bqmanage.check"),
    ("bqmanage.engines",),  # the two engines run the plan's steps
    ("bqmanage.ledger", "bqmanage.settings"),  # the ledger table; the settings an engine opens from
    ("bqmanage.diff", "bqmanage.plan"),  # pure stages
    ("bqmanage.changes",),  # the change kinds, each rendering itself
    ("bqmanage.render",),  # GoogleSQL text of the model
    # The foundation: the model, errors, and the located YAML reading settings and definitions share.
    (
        "bqmanage",
        "bqmanage.model",
        "bqmanage.errors",
        "bqmanage.terminal",
        "bqmanage.environment",
        "bqmanage.definitions.yaml_source",
        "bqmanage.definitions.source_text",
        "bqmanage.codeaudit.config",
    ),
)


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


FILES = {_module(p): p for p in PACKAGE.rglob("*.py")}


def _imported_names(path: Path) -> set[str]:
    """Every name ``path`` imports anywhere in the file: top level, in functions, under TYPE_CHECKING."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: relative import"
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _dependencies(module: str) -> set[str]:
    """The bqmanage modules ``module`` imports. ``from package import submodule`` imports the
    submodule; ``from module import name`` imports the module."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(FILES[module].read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.update(f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in FILES else node.module for a in node.names)
    # The package's own lazy attributes (the public API, imported on first use) are not an arrow out
    # of every module that imports bqmanage.__version__: test_package_import_is_cheap checks them.
    return {m for m in out if m in FILES and m != module} if module != "bqmanage" else set()


GRAPH = {m: _dependencies(m) for m in FILES}


def _layer(module: str) -> int:
    best, rank = "", -1
    for index, layer in enumerate(LAYERS):
        for prefix in layer:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
                best, rank = prefix, index
    assert rank >= 0, f"{module} is in no layer"
    return rank


def test_only_engines_import_database_clients() -> None:
    offenders = [
        f"{module} imports {name}"
        for module, path in FILES.items()
        if not module.startswith("bqmanage.engines") and module != "bqmanage.testing.emulator"
        for name in _imported_names(path)
        if any(name == c or name.startswith(c + ".") for c in CLIENTS)
    ]
    assert offenders == []


def test_the_emulator_launcher_imports_duckdb_only_to_pin_its_version() -> None:
    # testing/emulator.py starts bqemulator beside the DuckDB bqmanage runs with, and reads
    # duckdb.__version__ for that; it sends nothing through it.
    source = (PACKAGE / "testing" / "emulator.py").read_text()
    assert {n for n in _imported_names(PACKAGE / "testing" / "emulator.py") if n.startswith("duckdb")} <= {"duckdb"}
    assert "duckdb.connect" not in source


def test_modules_stay_under_about_400_lines() -> None:
    long = {p.name: n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 420}
    assert long == {}


def test_no_import_cycle_among_modules() -> None:
    cycles = []

    def visit(module: str, trail: list[str], done: set[str]) -> None:
        for dep in sorted(GRAPH[module]):
            if dep in trail:
                cycles.append(" -> ".join([*trail[trail.index(dep) :], dep]))
            elif dep not in done:
                visit(dep, [*trail, dep], done)
        done.add(module)

    done: set[str] = set()
    for module in sorted(GRAPH):
        if module not in done:
            visit(module, [module], done)
    assert cycles == []


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = [f"{m} imports {d}" for m, deps in GRAPH.items() for d in sorted(deps) if _layer(d) < _layer(m)]
    assert upward == []


def test_nothing_imports_the_command_line() -> None:
    outside = [f"{m} imports {d}" for m, deps in GRAPH.items() for d in deps if d.startswith("bqmanage.cli")]
    assert [o for o in outside if not o.startswith(("bqmanage.cli", "bqmanage.__main__"))] == []


def test_nothing_below_report_imports_report() -> None:
    below = [
        f"{m} imports {d}"
        for m, deps in GRAPH.items()
        for d in deps
        if d.startswith("bqmanage.report") and not m.startswith(("bqmanage.report", "bqmanage.cli", "bqmanage.__main__"))
    ]
    assert below == []


def test_every_module_is_in_a_layer() -> None:
    assert sorted(m for m in FILES if not any(m == p or m.startswith(p + ".") for layer in LAYERS for p in layer)) == []


def test_package_import_is_cheap() -> None:
    # ``import bqmanage`` runs before every submodule, so bqmanage/__init__.py imports nothing at
    # module level: the public API arrives on first attribute access.
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    top = [ast.unparse(n) for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom) and n.module != "__future__"]
    typing_only = [t for t in top if t.startswith(("from typing", "import typing"))]
    assert [t for t in top if t not in typing_only] == []
