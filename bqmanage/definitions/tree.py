"""Checks across files, which validating one file at a time cannot make: the layout of schemas/
(empty dataset directories, names that differ only in case) and what a quota table needs from
its registry table. They run on what the loader already read, once, and also when other files
are invalid: a bad file hides nothing in another file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from bqmanage.definitions.quota import registry_problems
from bqmanage.definitions.yaml_source import LineMap
from bqmanage.errors import Problem
from bqmanage.model.schema import Table
from bqmanage.tenants.registry import registry_name
from bqmanage.tenants.templates import collision_problems


@dataclass
class TableFile:
    """One ``<table>.yaml`` as the loader read it: its lines when it parsed, its table when valid."""

    display: str
    stem: str
    lines: LineMap | None = None
    table: Table | None = None


@dataclass
class DatasetDir:
    name: str
    display: str
    has_dataset_file: bool
    files: list[TableFile] = field(default_factory=list)


def cross_file_problems(layout: list[DatasetDir], dataset_file: str) -> tuple[list[Problem], list[Problem]]:
    """The problems of the layout itself, then those between valid tables (quota registries)."""
    first_dirs: dict[str, DatasetDir] = {}
    for directory in layout:
        first_dirs.setdefault(directory.name.lower(), directory)
    problems = [p for directory in layout for p in _layout_problems(directory, first_dirs, dataset_file)]
    problems += collision_problems((d.name, d.display) for d in layout)
    return problems, _registry_problems(layout) + _legacy_problems(layout)


def _layout_problems(directory: DatasetDir, first_dirs: dict[str, DatasetDir], dataset_file: str) -> list[Problem]:
    problems: list[Problem] = []
    # BigQuery names datasets and tables case-sensitively; the local engine's DuckDB does not,
    # so two names that differ only in case would be one schema or table there.
    first_dir = first_dirs[directory.name.lower()]
    if first_dir is not directory:
        problems.append(
            Problem(
                directory.display,
                None,
                "",
                f"dataset {directory.name!r} differs only in case from "
                f"{first_dir.name!r} ({first_dir.display}); BigQuery would keep two datasets, but the "
                "local engine (DuckDB) folds case and would make them one; rename one",
            )
        )
    if not directory.files and not directory.has_dataset_file:
        # A directory with a _dataset.yaml and no tables is an empty dataset on purpose.
        problems.append(
            Problem(
                directory.display,
                None,
                "",
                "no table definitions (<table>.yaml) in this dataset "
                f"directory; add one, remove the directory, or add a {dataset_file} to create an "
                "empty dataset on purpose",
            )
        )
    for file in directory.files:
        first = next(f for f in directory.files if f.stem.lower() == file.stem.lower())
        if first is file:
            continue
        if first.stem == file.stem:
            why = f"table {file.stem!r} is also defined in {first.display}; keep one file per table"
        else:
            why = (
                f"table {file.stem!r} differs only in case from {first.stem!r} ({first.display}); BigQuery would "
                "keep two tables, but the local engine (DuckDB) folds case and would make them one; rename one"
            )
        problems.append(
            file.lines.problem(("table",), why) if file.lines and file.lines.lines else Problem(file.display, 1, "table", why)
        )
    return problems


def _registry_problems(layout: list[DatasetDir]) -> list[Problem]:
    files = [f for d in layout for f in d.files]
    by_ref = {f"{f.table.dataset}.{f.table.name}": f.table for f in files if f.table is not None}
    defined = {f"{d.name}.{f.stem}" for d in layout for f in d.files}
    problems: list[Problem] = []
    for file in files:
        table = file.table
        if table is None or table.quota is None or file.lines is None:
            continue
        name = registry_name(table, table.quota)
        if name not in by_ref and name in defined:
            continue  # the registry's own file is invalid, and says so
        problems += registry_problems(table, table.quota, by_ref.get(name), file.lines)
    return problems


def _legacy_problems(layout: list[DatasetDir]) -> list[Problem]:
    """A legacy name is what a table used to be called: naming a defined table there would have
    check call that live table legacy and ask to retire it."""
    defined = {f"{d.name}.{f.stem}" for d in layout for f in d.files}
    problems: list[Problem] = []
    for file in (f for d in layout for f in d.files):
        if file.table is None or file.lines is None:
            continue
        for i, legacy in enumerate(file.table.legacy_names):
            if legacy in defined:
                problems.append(
                    file.lines.problem(
                        ("legacy_names", i),
                        f"legacy name {legacy!r} is a defined table; a legacy name is one no definition uses any more",
                    )
                )
    return problems


def display_of(path: Path) -> str:
    """A path as the user typed it, relative to the working directory when possible.

    Only the parent, a directory just listed, is resolved: the entry itself may be a symlink loop,
    on which resolve() raises. Resolving costs a system call per path component, so each parent is
    resolved once per load (``forget_resolved`` starts a load): at 500 datasets this was a tenth of
    validate.
    """
    cwd = os.getcwd()
    parent = os.path.join(cwd, path.parent)  # absolute: the cache must not depend on the working directory
    known = _PREFIXES.get((cwd, parent))
    if known is None:
        resolved, base = Path(parent).resolve(), Path(cwd).resolve()
        try:
            relative = resolved.relative_to(base).as_posix()
            known = _PREFIXES[cwd, parent] = ("" if relative == "." else relative + "/", resolved == base.parent)
        except ValueError:
            known = _PREFIXES[cwd, parent] = (None, resolved == base.parent)
    prefix, above_cwd = known
    if prefix is not None and path.name not in ("", ".", ".."):
        return prefix + path.name
    if above_cwd or path.name in ("", ".", ".."):  # the working directory itself, named from above
        try:
            return (Path(parent).resolve() / path.name).relative_to(Path(cwd).resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix()


# (working directory, absolute parent) -> how a path in that parent is displayed: the parent's
# part ("" or "dir/", or None when it is not under the working directory), and whether the parent
# is the working directory's own parent (then one of its entries is the working directory).
_PREFIXES: dict[tuple[str, str], tuple[str | None, bool]] = {}


def forget_resolved() -> None:
    """Links may have changed since the last load: resolve every parent afresh."""
    _PREFIXES.clear()
