"""The legacy-name audit, warehouse side: datasets and tables still named the old way.

Matches a table's own ``legacy_names`` (customers.customer_usage_quotas), the config's dataset
map (customers -> tenants) and its prefix map (customer_ -> tenant_). Each finding names the
current replacement and carries the row count and last-modified time, so that a person can
decide whether the legacy object is still in use.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

from bqmanage.check.findings import SEVERITY, Finding
from bqmanage.model.names import is_own
from bqmanage.model.schema import Definitions

if TYPE_CHECKING:
    from bqmanage.engines import Engine
    from bqmanage.settings import LegacyConfig


def _renamed(name: str, prefixes: dict[str, str]) -> str | None:
    for old, new in prefixes.items():
        if name.startswith(old):
            return new + name[len(old) :]
    return None


def legacy_dataset_replacement(dataset: str, legacy: LegacyConfig) -> str | None:
    """The dataset that replaces a legacy one (the config's dataset map, then its prefix map), or None."""
    return legacy.datasets.get(dataset) or _renamed(dataset, legacy.prefixes)


def legacy_table_replacement(table: str, legacy: LegacyConfig) -> str | None:
    """The name that replaces a legacy table name by the prefix map, or None."""
    return _renamed(table, legacy.prefixes)


def audit_warehouse(
    engine: Engine,
    desired: Definitions,
    legacy: LegacyConfig,
    listed: Mapping[str, Collection[str]] | None = None,
    skip: Callable[[str], bool] | None = None,
) -> list[Finding]:
    """legacy_dataset and legacy_table findings for every live object with a legacy name, except in
    the datasets ``skip`` names (tenants' templated datasets, which check reads per tenant).

    :param listed: the table names of the datasets ``check`` has already read; only the other live
        datasets are listed here (one tables.list each).
    """
    by_legacy = {name: t for t in desired.tables for name in t.legacy_names}
    defined = {t.name: t for t in desired.tables}
    defined_datasets = {t.dataset for t in desired.tables}
    findings: list[Finding] = []
    for dataset in engine.list_datasets():
        if skip is not None and skip(dataset):
            continue
        if dataset in defined_datasets:
            new_dataset: str | None = None
        else:
            new_dataset = legacy_dataset_replacement(dataset, legacy)
        if new_dataset is not None:
            findings.append(
                Finding(
                    "legacy_dataset",
                    SEVERITY["legacy_dataset"],
                    f"{dataset}: legacy dataset; its replacement is {new_dataset}. Move readers and writers, then retire it",
                    dataset=dataset,
                    expected=new_dataset,
                    actual=dataset,
                    replacement=new_dataset,
                )
            )
        known = (listed or {}).get(dataset)
        for table in known if known is not None else engine.list_tables(dataset):
            if is_own(table):
                continue
            full = f"{dataset}.{table}"
            target = by_legacy.get(full)
            replacement = f"{target.dataset}.{target.name}" if target else None
            if replacement is None and (renamed := _renamed(table, legacy.prefixes)) is not None:
                match = defined.get(renamed)
                replacement = f"{match.dataset}.{match.name}" if match else f"{new_dataset or dataset}.{renamed}"
                target = match
            if replacement is None:
                continue
            rows, modified = _stats(engine.get_table(dataset, table))
            seen = f"{rows} rows" if rows is not None else "row count unknown"
            seen += f", last modified {modified}" if modified else ""
            findings.append(
                Finding(
                    "legacy_table",
                    SEVERITY["legacy_table"],
                    f"{full}: legacy table ({seen}); its replacement is {replacement}",
                    dataset=dataset,
                    table=table,
                    expected=replacement,
                    actual=full,
                    replacement=replacement,
                    row_count=rows,
                    last_modified=modified,
                    definition=target.source if target else None,
                    definition_line=target.line if target else None,
                )
            )
    return findings


def _stats(resource: dict[str, Any] | None) -> tuple[int | None, str | None]:
    if resource is None:
        return None, None
    rows = resource.get("numRows")
    modified = resource.get("lastModifiedTime")
    when = dt.datetime.fromtimestamp(int(modified) / 1000, dt.UTC).isoformat(timespec="seconds") if modified else None
    return (int(rows) if rows not in (None, "") else None), when


def extra_table_findings(
    desired: Definitions, listed: Mapping[str, Mapping[str, str]], legacy: LegacyConfig | None
) -> list[Finding]:
    """An ``extra_table`` finding for each live table of a defined dataset that no definition
    names. With ``legacy``, a table the legacy audit reports (a legacy name or prefix) is left to it.
    Views are not managed, so never extra; apply never drops a table."""
    legacy_names = {name for t in desired.tables for name in t.legacy_names}
    # Located at the dataset's own file (its _dataset.yaml), else at a table of the same dataset:
    # never at another dataset's definition.
    where = {t.dataset: (t.source, 1) for t in reversed(desired.tables)}
    where.update({d.name: (d.source, d.line or 1) for d in desired.datasets if d.source})
    findings = []
    for dataset, table in undefined_tables(desired, listed):
        full = f"{dataset}.{table}"
        if legacy is not None and (full in legacy_names or _renamed(table, legacy.prefixes) is not None):
            continue
        findings.append(
            Finding(
                "extra_table",
                SEVERITY["extra_table"],
                f"{full}: table is live but not defined; apply leaves it alone: define it, or drop it yourself "
                "once its data is not needed",
                dataset=dataset,
                table=table,
                actual=full,
                definition=where.get(dataset, (None, None))[0],
                definition_line=where.get(dataset, (None, None))[1],
            )
        )
    return findings


def undefined_tables(desired: Definitions, listing: Mapping[str, Mapping[str, str]]) -> list[tuple[str, str]]:
    """The live tables (not views) of defined datasets that no definition names, bqmanage's own
    ledger aside: ``extra_table`` findings, unless the legacy audit names them."""
    defined = {(t.dataset, t.name) for t in desired.tables}
    managed = {d.name for d in desired.all_datasets()}
    return [
        (dataset, table)
        for dataset, types in sorted(listing.items())
        if dataset in managed
        for table, kind in sorted(types.items())
        if kind == "TABLE" and (dataset, table) not in defined and not is_own(table)
    ]
