"""``import --as-template tenant_{tenant}``: one tenant's live dataset becomes the per-tenant
template, and every other tenant's dataset is compared with it, so that the first
``check --all-tenants`` is no surprise.

The other tenants are the live datasets the template could name (bqmanage/tenants/templates.py:
``tenant_{tenant}`` names ``tenant_globex``), compared by the same diff as check, with the
template standing for their definition.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bqmanage.errors import UsageError
from bqmanage.model.schema import Definitions

if TYPE_CHECKING:
    from bqmanage.engines import Engine
    from bqmanage.importer.emit import LiveDataset


def _checked(template: str) -> str:
    from bqmanage.tenants.templates import template_name_problem

    if (why := template_name_problem(template)) is not None:
        raise UsageError(f"--as-template: {why}")
    return template


def template_dir(template: str, dataset: str) -> str:
    """The directory the template is written as, once ``dataset`` is known to be one of its tenants'."""
    from bqmanage.tenants.templates import tenant_part

    if tenant_part(_checked(template), dataset) is None:
        raise UsageError(f"--as-template: dataset {dataset} does not match the template {template}")
    return template


def compare_tenants(engine: Engine, template: str, source: LiveDataset, read: Callable[[str], LiveDataset]) -> list[str]:
    """One line per other live dataset the template matches: the same as the template, or how it
    differs. ``read`` reads one live dataset as import does."""
    from bqmanage.check.findings import findings_from_changes
    from bqmanage.diff import compare
    from bqmanage.model.schema import Warehouse
    from bqmanage.tenants.templates import tenant_part

    others = [d for d in engine.list_datasets() if d != source.dataset.name and tenant_part(_checked(template), d) is not None]
    lines = []
    for name in others:
        other = read(name)
        desired = Definitions(
            datasets=(source.dataset.model_copy(update={"name": name}),),
            tables=tuple(t.model_copy(update={"dataset": name}) for t in source.tables),
            digest="",
        )
        actual = Warehouse(datasets={name: other.dataset}, tables={f"{name}.{t.name}": t for t in other.tables})
        changes = compare(desired, actual, engine.capabilities.unobservable | {"dataset_options"})
        problems = [f.message for f in findings_from_changes(changes, desired)]
        defined = {t.name for t in source.tables}
        problems += [f"{name}.{t.name}: a table the template does not have" for t in other.tables if t.name not in defined]
        if problems:
            lines.append(f"{name} differs from the template ({len(problems)} difference(s)):")
            lines += [f"  {p}" for p in problems]
        else:
            lines.append(f"{name} matches the template")
    if not others:
        lines.append(f"no other live dataset matches {template}")
    return lines
