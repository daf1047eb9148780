"""Load stage: schemas/<dataset>/*.yaml -> Definitions (the desired state).

Each file is read once (bqmanage/definitions/yaml_source.py: bounded, UTF-8, every value with its line) and
validated; problems are reported as ``file:line: key.path: message``, every one of them, never
just the first. Whatever is on disk (broken links, directories or FIFOs named like definitions),
the outcome is Definitions or a DefinitionError, never another exception.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bqmanage.definitions.access import members_from_problems
from bqmanage.definitions.forked import map_in_two, may_fork
from bqmanage.definitions.row_access import mapping_problems
from bqmanage.definitions.source_text import SourceError, leaves, os_reason, read_text
from bqmanage.definitions.tree import DatasetDir, TableFile, cross_file_problems, forget_resolved
from bqmanage.definitions.tree import display_of as _display
from bqmanage.definitions.validate import validate_dataset, validate_table
from bqmanage.definitions.yaml_source import KeyPath, LineMap, parse_yaml
from bqmanage.errors import DefinitionError, Problem
from bqmanage.model.schema import Dataset, Definitions, Table, digest_of
from bqmanage.tenants.templates import is_template, template_table_problems

DATASET_FILE = "_dataset.yaml"
YAML_SUFFIXES = (".yaml", ".yml")


def load_definitions(schemas_dir: Path) -> Definitions:
    """Read and validate every definition under ``schemas_dir``; raise DefinitionError on any problem."""
    try:
        found = schemas_dir.is_dir()
    except OSError as exc:  # is_dir lets a permission error through
        raise DefinitionError([Problem(str(schemas_dir), None, "", f"cannot read: {os_reason(exc, schemas_dir)}")]) from None
    if not found:
        why = "is not a directory; give the schemas directory" if schemas_dir.exists() else "schemas directory not found"
        raise DefinitionError([Problem(str(schemas_dir), None, "", why)])
    forget_resolved()
    problems: list[Problem] = []
    dirs = _dataset_dirs(schemas_dir, problems)
    _forget_read()
    try:
        # Each dataset directory is read on its own; with many, a second process reads part of them.
        if len(dirs) >= PARALLEL_FROM and may_fork("BQMANAGE_LOAD_PROCESSES"):
            read = map_in_two(_read_dataset, dirs)
        else:
            read = [_read_dataset(d) for d in dirs]
    finally:
        _forget_read()
    texts = [(f.relative_to(schemas_dir).as_posix(), text) for r in read for f, text in r.texts]
    layout = [r.directory for r in read]
    problems += [p for r in read for p in r.problems]
    datasets = [r.dataset for r in read if r.dataset is not None]
    # The cross-file checks also run on the files that are valid when others are not.
    layout_problems, registry_problems = cross_file_problems(layout, DATASET_FILE)
    problems = layout_problems + problems + registry_problems
    tables = [f.table for d in layout for f in d.files if f.table is not None]
    if not problems:  # against the registry's definition: only once it is valid, or this repeats its problem
        problems += members_from_problems([d for d in datasets if is_template(d.name)], tables)
    if problems:
        raise DefinitionError(problems)
    if not tables and not datasets:
        raise DefinitionError(
            [Problem(str(schemas_dir), None, "", "no table definitions found (expected schemas/<dataset>/<table>.yaml)")]
        )
    definitions = Definitions(
        datasets=tuple(d for d in datasets if not is_template(d.name)),
        tables=tuple(t for t in tables if not is_template(t.dataset)),
        digest=digest_of(texts),
        templates=tuple(d for d in datasets if is_template(d.name)),
        template_tables=tuple(t for t in tables if is_template(t.dataset)),
    )
    if mapping := mapping_problems(definitions):
        raise DefinitionError(mapping)
    return definitions


PARALLEL_FROM = 64  # dataset directories; below that a second process costs more than it saves


@dataclass
class _DatasetRead:
    """One dataset directory as read and validated: what load_definitions gathers from each."""

    directory: DatasetDir
    dataset: Dataset | None
    problems: list[Problem]
    texts: list[tuple[Path, str]]  # each file read, for the digest


def _read_dataset(dataset_dir: Path) -> _DatasetRead:
    problems: list[Problem] = []
    texts: list[tuple[Path, str]] = []
    dataset_data: Any = {}
    dataset_lines = LineMap(_display(dataset_dir / DATASET_FILE))
    directory = DatasetDir(dataset_dir.name, _display(dataset_dir), has_dataset_file=False)
    root = os.path.realpath(dataset_dir.parent)
    for file in _definition_files(dataset_dir, problems):
        display = _display(file)
        if file.is_symlink() and leaves(file, root):
            problems.append(Problem(display, None, "", LINK_OUT))  # not read: its content is no definition's
            continue
        table_file = TableFile(display, file.stem)
        if file.name == DATASET_FILE:
            directory.has_dataset_file = True
        else:
            directory.files.append(table_file)
        try:
            text = read_text(file, display)
        except SourceError as exc:
            problems.append(exc.problem)
            continue
        texts.append((file, _universal_newlines(text)))
        if file.name == DATASET_FILE:
            data, lines, syntax = _parsed(text, display)
            problems.extend(syntax)
            if not syntax:
                dataset_data, dataset_lines = data, lines
            continue
        table_file.table, table_file.lines, table_problems = _table(text, display, dataset_dir.name, file.stem)
        problems.extend(table_problems)
    dataset, dataset_problems = validate_dataset(dataset_data, dataset_lines, dataset_dir.name)
    problems.extend(dataset_problems)
    return _DatasetRead(directory, dataset, problems, texts)


# Tenants' dataset directories are often copies of one another: a file whose text was read earlier
# in the same load is not parsed again, nor a table file validated again (parsing and validating
# were nine tenths of loading 500 copied datasets). Only what had no problem is kept, since a
# problem names its file; a table's result depends on its text, its file name and whether its
# dataset is a template, and on nothing else but the dataset's name and the file's path, which are
# set on the copy. What is kept is only read, never changed (the models are frozen). Each load
# starts and ends empty: the files may have changed since.
_PARSED: dict[str, tuple[Any, dict[KeyPath, int]]] = {}
_TABLES: dict[tuple[str, str, bool], tuple[Table, dict[KeyPath, int]]] = {}


def _forget_read() -> None:
    _PARSED.clear()
    _TABLES.clear()


def _parsed(text: str, display: str) -> tuple[Any, LineMap, list[Problem]]:
    """parse_yaml, or what it gave for the same text earlier in this load."""
    if (known := _PARSED.get(text)) is not None:
        return known[0], _lines(display, known[1]), []
    data, lines, syntax = parse_yaml(text, display)
    if not syntax:
        _PARSED[text] = (data, lines.lines)
    return data, lines, syntax


def _table(text: str, display: str, dataset: str, stem: str) -> tuple[Table | None, LineMap | None, list[Problem]]:
    """One table file: its table (None: invalid), its lines (None: it did not parse), its problems."""
    key = (text, stem, is_template(dataset))
    if (known := _TABLES.get(key)) is not None:
        return known[0].model_copy(update={"dataset": dataset, "source": display}), _lines(display, known[1]), []
    data, lines, syntax = parse_yaml(text, display)
    if syntax:
        return None, None, syntax
    table, problems = validate_table(data, lines, dataset, stem)
    if table is not None and is_template(dataset):
        problems += template_table_problems(table, lines)
    if table is not None and not problems:
        _TABLES[key] = (table, lines.lines)
    return table, lines, problems


def _lines(display: str, known: dict[KeyPath, int]) -> LineMap:
    lines = LineMap(display)
    lines.lines = known
    return lines


def _dataset_dirs(schemas_dir: Path, problems: list[Problem]) -> list[Path]:
    """The dataset directories; a broken link or a YAML file where a dataset should be is a problem."""
    dirs = []
    for entry in _entries(schemas_dir, problems):
        if entry.name.endswith(YAML_SUFFIXES):
            what = "is a directory named like a YAML file" if _is_dir(entry) else "is not in a dataset directory"
            problems.append(
                Problem(_display(entry), None, "", f"{what}; a table definition goes in schemas/<dataset>/<table>.yaml")
            )
        elif _is_dir(entry, problems):
            if entry.is_symlink() and leaves(entry, os.path.realpath(schemas_dir)):
                problems.append(Problem(_display(entry), None, "", LINK_OUT))
                continue
            dirs.append(entry)
        elif entry.is_symlink() and not (problems and problems[-1].path == _display(entry)):  # said once
            try:
                os.stat(entry)  # fine when it links to a file; a loop or a dangling link was meant as a dataset
            except OSError as exc:
                problems.append(Problem(_display(entry), None, "", f"cannot read: {os_reason(exc, entry)}"))
    return dirs


# A link may rename or share a definition inside the tree; one that leaves it would have bqmanage
# read (and quote, in its problems) whatever file it points at: a token file, a config elsewhere.
LINK_OUT = "is a symbolic link to outside the definitions directory; not read (copy the file in instead)"


def _definition_files(dataset_dir: Path, problems: list[Problem]) -> list[Path]:
    # Whatever the entry is (a link, a directory, a FIFO), read_text reports it: it is named as a definition.
    entries = _entries(dataset_dir, problems)
    for entry in entries:
        # What looks meant as a definition but would be skipped silently is said instead.
        if entry.suffix.lower() in YAML_SUFFIXES and entry.suffix not in YAML_SUFFIXES:
            problems.append(
                Problem(
                    _display(entry),
                    None,
                    "",
                    f"definition files end in .yaml or .yml (lower case); rename it to {entry.stem}{entry.suffix.lower()}",
                )
            )
        elif not entry.suffix and _is_dir(entry) and any(p.suffix.lower() in YAML_SUFFIXES for p in _safe_iterdir(entry)):
            problems.append(
                Problem(
                    _display(entry),
                    None,
                    "",
                    "a directory of YAML files inside a dataset directory is "
                    "not read; a table definition goes in schemas/<dataset>/<table>.yaml",
                )
            )
    return [entry for suffix in YAML_SUFFIXES for entry in entries if entry.suffix == suffix]


def _is_dir(entry: Path, problems: list[Problem] | None = None) -> bool:
    """Path.is_dir, but a permission error (a /proc entry) is a problem, or not a directory, never a traceback."""
    try:
        return entry.is_dir()
    except OSError as exc:
        if problems is not None:
            problems.append(Problem(_display(entry), None, "", f"cannot read: {os_reason(exc, entry)}"))
        return False


def _safe_iterdir(directory: Path) -> list[Path]:
    try:
        return list(directory.iterdir())
    except OSError:
        return []


def _entries(directory: Path, problems: list[Problem]) -> list[Path]:
    """The non-hidden entries of a directory, sorted; an unlistable directory is a problem."""
    try:
        return sorted(p for p in directory.iterdir() if not p.name.startswith("."))
    except OSError as exc:
        problems.append(Problem(_display(directory), None, "", f"cannot list: {os_reason(exc, directory)}"))
        return []


def _universal_newlines(text: str) -> str:
    # The digest was taken over text-mode reads, which translate CRLF and CR; keep it stable.
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text
