"""Checks across files, which the loader (one file at a time) cannot make: the layout of
schemas/ (empty dataset directories, names that differ only in case) and what a quota table
needs from its registry table. Every problem is reported at once, and a bad file hides nothing
in another file.
"""

from __future__ import annotations

from pathlib import Path

from bqmanage.errors import DefinitionError, Problem
from bqmanage.loader import DATASET_FILE, LineMap, load_definitions, read_yaml
from bqmanage.loader import _display as display
from bqmanage.model import Definitions, Table
from bqmanage.validate import validate_table
from bqmanage.validate_quota import registry_name, registry_problems

# Paths in messages are spelled as the loader spells them (``display``), so that one problem
# reads the same whichever stage found it.


def load_checked(schemas_dir: Path) -> Definitions:
    """The definitions under ``schemas_dir``, after the per-file and the cross-file checks."""
    layout = _dataset_dirs(schemas_dir) if schemas_dir.is_dir() else []
    problems = [p for dataset_dir, files in layout for p in _layout_problems(dataset_dir, files, layout)]
    try:
        desired = load_definitions(schemas_dir)
    except DefinitionError as exc:
        # The files that did validate still get their cross-file checks.
        bad = {p.path for p in exc.problems}
        valid = [t for dataset_dir, files in layout for t in _valid_tables(dataset_dir, [f for f in files if display(f) not in bad])]
        raise DefinitionError(problems + exc.problems + _registry_problems(valid, layout)) from None
    problems += _registry_problems(list(desired.tables), layout)
    if problems:
        raise DefinitionError(problems)
    return desired


def _dataset_dirs(schemas_dir: Path) -> list[tuple[Path, list[Path]]]:
    """Each dataset directory and its table files, selected and ordered as the loader does."""
    dirs = sorted(p for p in schemas_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    return [(d, [f for f in sorted(d.glob("*.yaml")) + sorted(d.glob("*.yml")) if f.name != DATASET_FILE]) for d in dirs]


def _layout_problems(dataset_dir: Path, files: list[Path], layout: list[tuple[Path, list[Path]]]) -> list[Problem]:
    problems: list[Problem] = []
    # BigQuery names datasets and tables case-sensitively; the local engine's DuckDB does not,
    # so two names that differ only in case would be one schema or table there.
    first_dir = next(d for d, _ in layout if d.name.lower() == dataset_dir.name.lower())
    if first_dir != dataset_dir:
        problems.append(Problem(display(dataset_dir), None, "", f"dataset {dataset_dir.name!r} differs only in case from "
                                f"{first_dir.name!r} ({display(first_dir)}); BigQuery would keep two datasets, but the "
                                "local engine (DuckDB) folds case and would make them one; rename one"))
    if not files and not (dataset_dir / DATASET_FILE).exists():
        # A directory with a _dataset.yaml and no tables is an empty dataset on purpose.
        problems.append(Problem(display(dataset_dir), None, "", "no table definitions (<table>.yaml) in this dataset "
                                f"directory; add one, remove the directory, or add a {DATASET_FILE} to create an "
                                "empty dataset on purpose"))
    for file in files:
        first = next(f for f in files if f.stem.lower() == file.stem.lower())
        if first == file:
            continue
        if first.stem == file.stem:
            why = f"table {file.stem!r} is also defined in {display(first)}; keep one file per table"
        else:
            why = (f"table {file.stem!r} differs only in case from {first.stem!r} ({display(first)}); BigQuery would "
                   "keep two tables, but the local engine (DuckDB) folds case and would make them one; rename one")
        lines = read_yaml(file, display(file))[1]
        problems.append(lines.problem(("table",), why) if lines.lines else Problem(display(file), 1, "table", why))
    return problems


def _valid_tables(dataset_dir: Path, files: list[Path]) -> list[Table]:
    tables: list[Table] = []
    for file in files:
        data, lines, syntax = read_yaml(file, display(file))
        table = None if syntax else validate_table(data, lines, dataset_dir.name, file.stem)[0]
        tables += [table] if table is not None else []
    return tables


def _registry_problems(tables: list[Table], layout: list[tuple[Path, list[Path]]]) -> list[Problem]:
    by_ref = {f"{t.dataset}.{t.name}": t for t in tables}
    files = {f"{d.name}.{f.stem}" for d, fs in layout for f in fs}
    problems: list[Problem] = []
    for table in tables:
        if table.quota is None or table.source is None:
            continue
        name = registry_name(table, table.quota)
        if name not in by_ref and name in files:
            continue  # the registry's own file is invalid, and says so
        lines: LineMap = read_yaml(Path(table.source), table.source)[1]
        problems += registry_problems(table, table.quota, by_ref.get(name), lines)
    return problems
