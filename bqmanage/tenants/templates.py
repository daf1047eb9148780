"""Per-tenant dataset templates: a dataset directory whose name holds ``{tenant}``
(``schemas/tenant_{tenant}/pipeline_runs.yaml``) is one dataset per tenant of the registry.

A template is validated like any dataset, and its name must give a valid dataset name for every
valid tenant id (bqmanage/tenants/ids.py: the id's hyphens become underscores). ``for_tenants``
turns the templates into ordinary definitions for some tenants, so that diff, plan, apply and
check treat a tenant's datasets exactly like the fixed ones. The registry is the quota table's
``quota.registry``: its active tenants are the ones ``--all-tenants`` means, and a live dataset
that matches a template but belongs to no tenant of the registry is an ``orphan_dataset``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bqmanage.check.findings import SEVERITY, Finding
from bqmanage.definitions.access import expand
from bqmanage.definitions.yaml_source import LineMap
from bqmanage.errors import Problem, UsageError, WarehouseError
from bqmanage.model.schema import Definitions, Table
from bqmanage.tenants.ids import MAX_LENGTH, check_tenant_id, dataset_part, tenant_id_problem

if TYPE_CHECKING:
    from bqmanage.engines import Engine

MARK = "{tenant}"
_AROUND = re.compile(r"[A-Za-z0-9_]*")
# What a valid tenant id becomes in a dataset name (tenant_ids.dataset_part).
_PART = re.compile(r"[a-z0-9][a-z0-9_]*")
_MAX_DATASET = 1024


def is_template(name: str) -> bool:
    """A directory name with a brace was meant as a template (and is validated as one)."""
    return "{" in name or "}" in name


def template_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a dataset template, or None: it must hold ``{tenant}`` exactly once,
    and be a valid dataset name whichever valid tenant id takes its place."""
    prefix, _, suffix = name.partition(MARK)
    if MARK not in name or is_template(prefix + suffix):
        return f"invalid dataset template {name!r}: a template holds {MARK} exactly once, and no other braces"
    if not (_AROUND.fullmatch(prefix) and _AROUND.fullmatch(suffix)):
        return (
            f"invalid dataset template {name!r}: around {MARK} use letters, digits and underscores only, "
            "so that every tenant's dataset name is valid"
        )
    if len(prefix) + MAX_LENGTH + len(suffix) > _MAX_DATASET:
        return f"invalid dataset template {name!r}: with a {MAX_LENGTH}-character tenant id it is longer than {_MAX_DATASET}"
    return None


def dataset_name(template: str, tenant: str) -> str:
    """The dataset a template names for one (valid) tenant id."""
    return template.replace(MARK, dataset_part(tenant))


def tenant_part(template: str, dataset: str) -> str | None:
    """The tenant part of ``dataset`` when ``template`` could have named it, else None."""
    prefix, _, suffix = template.partition(MARK)
    if len(dataset) <= len(prefix) + len(suffix) or not (dataset.startswith(prefix) and dataset.endswith(suffix)):
        return None
    part = dataset[len(prefix) : len(dataset) - len(suffix)]
    return part if len(part) <= MAX_LENGTH and _PART.fullmatch(part) else None


def templated(desired: Definitions, dataset: str) -> bool:
    """Whether a template of ``desired`` could have named ``dataset``."""
    return any(tenant_part(t.name, dataset) is not None for t in desired.templates)


def template_table_problems(table: Table, lines: LineMap) -> list[Problem]:
    """What a table may not have in a template: the reset reads one quota table and its registry,
    and legacy names are audited per live name, which a template does not have."""
    problems = []
    if table.quota is not None:
        problems.append(lines.problem(("quota",), "a quota table cannot be in a dataset template; put it in a fixed dataset"))
    if table.legacy_names:
        problems.append(lines.problem(("legacy_names",), "legacy names are not supported in a dataset template"))
    return problems


def collision_problems(directories: Iterable[tuple[str, str]]) -> list[Problem]:
    """A fixed dataset that a template also names (for some tenant) would be managed twice. Case is
    folded: the local engine (DuckDB) folds it. ``directories`` are (name, display) pairs."""
    named = list(directories)
    templates = [(n, d) for n, d in named if is_template(n) and template_name_problem(n) is None]
    problems = []
    for name, display in named:
        for template, where in templates:
            part = None if is_template(name) else tenant_part(template.lower(), name.lower())
            if part is not None:
                problems.append(
                    Problem(
                        display,
                        None,
                        "",
                        f"dataset {name!r} is what the template {template!r} ({where}) names for tenant {part!r}; "
                        "rename the dataset or the template",
                    )
                )
    return problems


def for_tenants(desired: Definitions, tenants: Iterable[str]) -> Definitions:
    """The templates as ordinary definitions of the tenants' datasets (and nothing else). Tables keep
    their source file and lines, so that findings point at the template."""
    ids = list(tenants)
    datasets = tuple(
        d.model_copy(update={"name": dataset_name(d.name, t), "access": expand(d.access, t)})
        for t in ids
        for d in desired.templates
    )
    tables = tuple(tb.model_copy(update={"dataset": dataset_name(tb.dataset, t)}) for t in ids for tb in desired.template_tables)
    return Definitions(datasets=datasets, tables=tables, digest=desired.digest)


def with_tenants(desired: Definitions, tenants: Iterable[str]) -> Definitions:
    """The concrete definitions plus those tenants' templated datasets (``render --tenant``)."""
    part = for_tenants(desired, check_tenant_list(tenants))
    return desired.model_copy(update={"datasets": desired.datasets + part.datasets, "tables": desired.tables + part.tables})


def tenant_datasets(desired: Definitions, tenants: Iterable[str]) -> dict[str, str]:
    """dataset -> tenant id, for the tenants' templated datasets."""
    return {dataset_name(d.name, t): t for t in tenants for d in desired.templates}


def check_tenant_list(tenants: Iterable[str]) -> list[str]:
    """Valid ids, each once, sorted; two ids that share a dataset name cannot both be given."""
    ids = sorted(set(tenants))
    by_part: dict[str, str] = {}
    for tenant in ids:
        check_tenant_id(tenant)  # exit 2, naming the rule the id breaks
        if (other := by_part.setdefault(dataset_part(tenant), tenant)) != tenant:
            raise UsageError(f"--tenant: {other!r} and {tenant!r} would share the dataset name part {dataset_part(tenant)!r}")
    return ids


# ---- the registry ----


@dataclass
class Registry:
    """What the registry says about tenants, for templates."""

    table: str  # dataset.table
    active: list[str] = field(default_factory=list)  # valid ids with the active status, sorted
    known_parts: set[str] = field(default_factory=set)  # dataset parts of every listed tenant, any status
    known: set[str] = field(default_factory=set)  # every listed tenant, any status
    invalid: dict[str, str] = field(default_factory=dict)  # active id -> why it cannot name a dataset
    inactive: list[str] = field(default_factory=list)  # valid ids with no active row (suspended), sorted
    missing: bool = False  # the registry table does not exist yet (apply creates it)
    # Rows --all-tenants cannot take as written: (tenant id, its status, why), each a registry_row_invalid finding.
    bad_rows: list[tuple[Any, Any, str]] = field(default_factory=list)


def read_registry(engine: Engine, desired: Definitions) -> Registry:
    """The registry's tenants. An id that breaks the tenant id rule (written by hand, say) cannot
    name a dataset: it is listed in ``invalid``, never expanded."""
    from bqmanage.tenants.registry import bad_rows, read_status_rows, the_registry
    from bqmanage.tenants.sql import SUSPENDED

    table, quota = the_registry(desired, "--all-tenants")
    registry = Registry(table=f"{table.dataset}.{table.name}")
    try:
        raw = read_status_rows(engine, table, quota)
    except WarehouseError:
        if engine.get_table(table.dataset, table.name) is not None:
            raise
        registry.missing = True
        return registry
    registry.bad_rows = bad_rows(raw, quota.active_status, SUSPENDED)
    rows = [(str(tenant), status == quota.active_status) for tenant, status in raw if tenant is not None]
    owners: dict[str, str] = {}
    for tenant, active in sorted(rows, key=lambda r: (r[0], not r[1])):
        registry.known_parts.add(dataset_part(tenant))
        registry.known.add(tenant)
        if not active:
            if tenant not in registry.active and tenant not in registry.inactive and tenant_id_problem(tenant) is None:
                registry.inactive.append(tenant)  # rows sort active first: this id has no active row
            continue
        if tenant in registry.active or tenant in registry.invalid:
            continue
        problem = tenant_id_problem(tenant)
        if problem is None and (owner := owners.setdefault(dataset_part(tenant), tenant)) != tenant:
            problem = f"it shares the dataset name part {dataset_part(tenant)!r} with tenant {owner!r}"
        if problem is not None:
            registry.invalid[tenant] = f"{registry.table} lists tenant {tenant!r}, whose datasets cannot be named: {problem}"
        else:
            registry.active.append(tenant)
    return registry


def refuse_unregistered(engine: Engine, desired: Definitions, ids: list[str]) -> None:
    """Refuse (exit 2) ids the registry does not list, in any status: ``--tenant`` names tenants,
    and a typo must not get datasets of its own. While the registry does not exist (a warehouse
    apply has not run on), there is nothing to check against: plan shows the datasets all the same,
    and apply checks again once it has made the registry."""
    if not ids or not desired.templates or not any(t.quota is not None and t.quota.registry for t in desired.tables):
        return
    registry = read_registry(engine, desired)
    if registry.missing:
        return
    if unknown := [t for t in ids if t not in registry.known]:
        raise UsageError(
            "; ".join(f"tenant {t!r}: not registered in {registry.table}; run `bqmanage tenant add {t}`" for t in unknown)
        )


def active_tenants(engine: Engine, desired: Definitions) -> list[str]:
    """The active tenants of the registry whose ids can name datasets, sorted."""
    return read_registry(engine, desired).active


def orphan_findings(live: Iterable[str], desired: Definitions, registry: Registry) -> list[Finding]:
    """Live datasets a template could have named, for no tenant of the registry (any status)."""
    findings = []
    for name in sorted(live):
        for template in desired.templates:
            part = tenant_part(template.name, name)
            if part is None or part in registry.known_parts:
                continue
            source = next((t for t in desired.template_tables if t.dataset == template.name), None)
            findings.append(
                Finding(
                    "orphan_dataset",
                    SEVERITY["orphan_dataset"],
                    f"{name}: dataset matches the template {template.name} but no tenant of {registry.table} maps to "
                    f"{part!r}; apply never drops it: register the tenant, or drop the dataset once its data is not needed",
                    dataset=name,
                    actual=name,
                    expected=None,
                    definition=source.source if source else template.source,
                    definition_line=1,
                )
            )
            break
    return findings
