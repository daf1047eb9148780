"""``bqmanage import``: definitions of what is live, so that an existing warehouse comes under management.

It reads through the same path as plan and apply (tables.get per table, ``rest`` into the model),
writes each table the way a person would (``yaml_emit``), and stages the files in a temporary
directory beside the definitions, where the loader validates them together with whatever is
already there; only then are they moved into place (``import_files``). What it cannot import it
says, never guesses: views and other non-tables, bqmanage's ledger, legacy datasets not asked
for, properties the target does not report, and properties no definition can express.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bqmanage.errors import UsageError
from bqmanage.importer.access import access_notes, template_access_note, written
from bqmanage.importer.emit import LiveDataset, Unexpressible, dataset_yaml, default_value, table_yaml
from bqmanage.importer.row_access import kept_access, with_row_access
from bqmanage.model.names import dataset_name_problem, is_own, table_name_problem
from bqmanage.model.schema import Column, Table
from bqmanage.terminal import printable

if TYPE_CHECKING:
    from bqmanage.engines import Engine
    from bqmanage.importer.files import Staged
    from bqmanage.settings import Settings

# Why a table-like object is not imported, by its REST type.
NOT_A_TABLE = {
    "VIEW": "a view is not a table; bqmanage defines tables only",
    "MATERIALIZED_VIEW": "a materialized view is not a table; bqmanage defines tables only",
    "EXTERNAL": "an external table's schema and data live outside BigQuery; bqmanage defines native tables only",
    "SNAPSHOT": "a table snapshot is a read-only copy; bqmanage defines tables only",
}
# Properties the engine may declare unobservable (Capabilities.unobservable), as import words them.
GAPS = {
    "default": "column defaults",
    "description": "descriptions",
    "clustering": "clustering",
    "labels": "labels",
    "require_partition_filter": "require_partition_filter",
    "type_params": "type parameters (STRING(L), NUMERIC(P, S))",
    "dataset_options": "dataset description, labels and location",
    "friendly_name": "friendly names",
    "row_access": "row access policies",
    "row_access_grantees": "row access policy grantees",
    "policy_tags": "policy tags",
}
# REST properties a live table may have that no definition expresses: import leaves them as they are.
UNEXPRESSED = {
    "expirationTime": "table expiration",
    "tableConstraints": "primary and foreign keys",
    "defaultCollation": "default collation",
    "defaultRoundingMode": "default rounding mode",
    "encryptionConfiguration": "customer-managed encryption",
    "maxStaleness": "max staleness",
    "resourceTags": "tags",
}
# Policy tags are expressed (``policy_tags``); data policies are not yet.
_FIELD_UNEXPRESSED = {"dataPolicies": "data policies", "collation": "collation", "roundingMode": "rounding mode"}


@dataclass
class ImportResult:
    """What import would write (staged and validated), what it skipped and what it wants said."""

    target: str
    staged: Staged
    datasets: list[str]
    tables: int
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    template_report: list[str] = field(default_factory=list)


def choose_datasets(
    engine: Engine, settings: Settings, names: list[str], all_datasets: bool, out: Path
) -> tuple[list[str], list[str]]:
    """The datasets to import and the skipped ones with why: --all leaves legacy datasets out."""
    from bqmanage.check.legacy import legacy_dataset_replacement

    live = engine.list_datasets()
    if names:
        unknown = [n for n in names if n not in live]
        if unknown:
            shown = ", ".join(printable(n) for n in live) if live else "none"
            raise UsageError(
                f"--dataset: {printable(', '.join(unknown))} not found on target {settings.target} (live datasets: {shown})"
            )
        # A name becomes a directory: only what BigQuery allows (no '/', no '..') is written.
        if bad := next((why for n in names if (why := dataset_name_problem(n))), None):
            raise UsageError(f"--dataset: {printable(bad)}; no definition can name it")
        return list(dict.fromkeys(names)), []
    if not all_datasets:
        raise UsageError("name the datasets to import with --dataset NAME (repeatable), or import every one with --all")
    from bqmanage.tenants.templates import is_template, tenant_part

    chosen, skipped = [], []
    defined = {p.name for p in out.iterdir() if p.is_dir()} if out.is_dir() else set()
    templates = sorted(d for d in defined if is_template(d))
    for name in live:
        if is_own(name):
            continue
        if (why := dataset_name_problem(name)) is not None:  # a local warehouse takes any name
            skipped.append(f"dataset {printable(name)}: {printable(why)}; no definition can name it")
            continue
        new = legacy_dataset_replacement(name, settings.legacy) if name not in defined else None
        template = next((t for t in templates if tenant_part(t, name) is not None), None)
        if template is not None:
            skipped.append(f"dataset {name}: a tenant's dataset of the template {template}; check --all-tenants compares it")
        elif new is not None:
            skipped.append(
                f"dataset {name}: a legacy dataset (its replacement is {new}); "
                f"import it only if you mean to, with --dataset {name}"
            )
        else:
            chosen.append(name)
    return chosen, skipped


def read_live(engine: Engine, dataset: str, skipped: list[str], notes: list[str]) -> LiveDataset:
    """One live dataset and its tables, as the model, read as plan reads them (tables.get), with
    what cannot be imported said in ``skipped`` and ``notes``."""
    from bqmanage.introspect import read_live as read_warehouse

    selected: list[str] = []

    def importable(_: str, name: str, kind: str) -> bool:
        if (why := table_name_problem(name) or _file_name_problem(name)) is not None:
            # The name becomes a file name: only what BigQuery allows is written (no '/').
            skipped.append(f"{dataset}.{printable(name)}: {printable(why)}; no definition can name it")
        elif is_own(name):
            skipped.append(f"{dataset}.{name}: bqmanage's own ledger")
        elif kind != "TABLE":
            skipped.append(f"{dataset}.{name}: {NOT_A_TABLE.get(kind, f'a {kind.lower()} is not a table')}")
        else:
            selected.append(f"{dataset}.{name}")
            return True
        return False

    read = read_warehouse(engine, None, [dataset], undefined=importable)
    if dataset not in read.actual.datasets:
        raise UsageError(f"--dataset: {dataset} disappeared while import was reading it")
    live = LiveDataset(read.actual.datasets[dataset])
    notes += access_notes(live.dataset)
    for key in selected:
        if key in read.unreadable:
            skipped.append(f"{key}: {read.unreadable[key]}; no definition can say it")
        elif key not in read.actual.tables:
            skipped.append(f"{key}: disappeared while import was reading it")
        else:
            if unexpressed := _unexpressed(read.resources[key]):
                notes.append(f"{key}: not expressible in a definition, left as it is live: {', '.join(unexpressed)}")
            live.tables.append(_without_unexpressible_defaults(read.actual.tables[key], notes))
    live.tables = with_row_access(engine, live.tables, notes)
    return live


def _file_name_problem(name: str) -> str | None:
    # BigQuery allows 1,024 bytes; a file name on Linux and macOS 255.
    if len(table_file(name).encode()) > 255:
        return "the name is too long for a file name (255 bytes with its .yaml)"
    return None


def table_file(name: str) -> str:
    """The file a table's definition is written to: ``_dataset.yaml`` is the dataset's own file, so a
    table named ``_dataset`` (a valid BigQuery name) is written as ``_dataset.yml``, which the
    loader reads as that table."""
    return f"{name}.yml" if name == "_dataset" else f"{name}.yaml"


def _unexpressed(resource: dict[str, Any]) -> list[str]:
    found = [what for key, what in UNEXPRESSED.items() if resource.get(key)]

    def walk(fields: list[dict[str, Any]]) -> None:
        for f in fields:
            found.extend(f"{what} on {f['name']}" for key, what in _FIELD_UNEXPRESSED.items() if f.get(key))
            walk(f.get("fields") or [])

    walk((resource.get("schema") or {}).get("fields") or [])
    return found


def _without_unexpressible_defaults(table: Table, notes: list[str]) -> Table:
    columns: list[Column] = []
    for column in table.columns:
        if column.default is not None:
            try:
                default_value(column)
            except Unexpressible as exc:
                notes.append(f"{table.ref}.{column.name}: {exc}; left out (check will report it as drift)")
                column = column.model_copy(update={"default": None})
        columns.append(column)
    return table.model_copy(update={"columns": tuple(columns)})


def target_gaps(engine: Engine) -> list[str]:
    """What the target cannot report, worded for the user (bqemulator drops defaults, ...)."""
    unobservable = engine.capabilities.unobservable
    return [words for p, words in GAPS.items() if p in unobservable] + sorted(p for p in unobservable if p not in GAPS)


def files_of(live: LiveDataset, dir_name: str, header: list[str], existing: Path) -> dict[str, str]:
    """Relative path -> text of one dataset's definition files; ``existing`` is the directory
    where its files may already be, whose bqmanage-only keys are kept."""
    files: dict[str, str] = {}
    dataset_text = dataset_yaml(live.dataset, name_it=not live.tables)
    if dataset_text is not None:
        files[f"{dir_name}/_dataset.yaml"] = dataset_text
    for table in live.tables:
        kept, quota, comments = keep_own_keys(table, existing)
        files[f"{dir_name}/{table_file(table.name)}"] = table_yaml(kept, header, quota, comments)
    return files


def keep_own_keys(table: Table, directory: Path) -> tuple[Table, dict[str, Any] | None, list[str]]:
    """The live table with what only its definition can hold (``quota``, ``legacy_names``, each
    column's ``reset``) taken from the file already there, if it is a valid definition, and the
    comment lines that open it: an import over hand-written definitions must not drop them.
    Everything else comes from the warehouse."""
    from bqmanage.definitions.source_text import SourceError, read_text
    from bqmanage.definitions.validate import validate_table
    from bqmanage.definitions.yaml_source import parse_yaml

    names = (table_file(table.name),) if table.name == "_dataset" else (f"{table.name}.yaml", f"{table.name}.yml")
    path = next((directory / n for n in names if (directory / n).is_file()), None)
    if path is None:
        return table, None, []
    try:
        text = read_text(path, path.as_posix())
    except SourceError:
        return table, None, []
    data, lines, problems = parse_yaml(text, path.as_posix())
    old, problems = validate_table(data, lines, table.dataset, table.name) if not problems else (None, problems)
    if old is None:
        return table, None, []  # validation of the staged tree reports it, if it is still there
    comments = list(itertools.takewhile(lambda line: line.startswith("#"), text.splitlines()))
    comments = [c for c in comments if not c.startswith("# Imported from target ")]  # import's own, written anew
    resets = {c.key: c.reset for c in old.columns}
    columns = tuple(c.model_copy(update={"reset": resets.get(c.key)}) for c in table.columns)
    quota = data.get("quota") if isinstance(data.get("quota"), dict) else None
    kept = table.model_copy(
        update={"columns": columns, "legacy_names": old.legacy_names, "quota": old.quota, "row_access": kept_access(table, old)}
    )
    return kept, quota, comments


def legacy_suggestions(datasets: list[LiveDataset], settings: Settings, out: Path, written: set[str]) -> list[str]:
    """For each table of an imported legacy dataset: the legacy_names entry check needs to link it
    to its replacement, whose definition is looked for where import writes, then in the definitions."""
    from bqmanage.check.legacy import legacy_dataset_replacement, legacy_table_replacement

    notes = []
    for live in datasets:
        new_dataset = legacy_dataset_replacement(live.dataset.name, settings.legacy)
        if new_dataset is None:
            continue
        for table in live.tables:
            new_table = legacy_table_replacement(table.name, settings.legacy) or table.name
            rel = f"{new_dataset}/{new_table}.yaml"
            found = next((d / rel for d in (out, settings.schemas_dir) if (d / rel).is_file()), None)
            entry = f"`legacy_names: [{table.ref}]`"
            if found is not None and str(table.ref) in found.read_text(encoding="utf-8", errors="replace"):
                advice = f"{found.as_posix()} already lists it in legacy_names"
            elif found is not None or rel in written:
                advice = f"add {entry} to {(found or out / rel).as_posix()}, so that check reports it as legacy"
            else:
                advice = f"once {new_dataset}.{new_table} is defined, give it {entry}"
            notes.append(f"{table.ref} is the legacy name of {new_dataset}.{new_table}: {advice}")
    return notes


def import_live(
    settings: Settings,
    engine: Engine,
    names: list[str],
    all_datasets: bool = False,
    out: Path | None = None,
    template: str | None = None,
) -> ImportResult:
    """Read the chosen live datasets, render their definitions, stage and validate them (nothing
    is written to ``out`` until ``result.staged.commit()``); raises ImportRefusedError when the
    generated files do not validate."""
    from bqmanage.importer.files import stage

    out = out or settings.schemas_dir
    if template is not None and len(names) != 1:
        raise UsageError("--as-template: name the one tenant dataset to turn into the template, with --dataset")
    chosen, skipped = choose_datasets(engine, settings, names, all_datasets, out)
    notes: list[str] = [] if chosen else [f"target {settings.target} has no dataset to import"]
    gaps = target_gaps(engine)
    header = [f"Imported from target {settings.target}, which does not report {', '.join(gaps)}: add them here."] if gaps else []
    lives = [read_live(engine, name, skipped, notes) for name in chosen]
    files: dict[str, str] = {}
    renames: dict[str, str] = {}
    template_report: list[str] = []
    for live in lives:
        dir_name = live.dataset.name
        if template is not None:
            from bqmanage.importer.template import compare_tenants, template_dir

            dir_name = template_dir(template, live.dataset.name)
            renames[live.dataset.name] = dir_name
            template_report = compare_tenants(engine, template, live, lambda name: read_live(engine, name, [], []))
            if written(live.dataset):  # one tenant's members would be every tenant's: never copied
                notes.append(template_access_note(live.dataset))
                live.dataset = live.dataset.model_copy(update={"access": None})
        files.update(files_of(live, live.dataset.name, header, out / dir_name))
    notes += legacy_suggestions(lives, settings, out, set(files))
    if gaps:
        notes.append(f"target {settings.target} does not report {', '.join(gaps)}: the files have none; add them by hand")
    staged = stage(out, files, renames)
    return ImportResult(
        target=settings.target,
        staged=staged,
        datasets=chosen,
        tables=sum(len(live.tables) for live in lives),
        skipped=skipped,
        notes=notes,
        template_report=template_report,
    )
