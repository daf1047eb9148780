"""A live dataset's access list as ``access:`` entries of its ``_dataset.yaml``.

Every entry a definition can declare is written, so that ``check`` finds the imported dataset
clean and a later ``apply`` revokes nothing (the list is not made exclusive: a team adopting
bqmanage decides that). BigQuery's own project groups are left out, as ``check`` leaves them
alone; entries of kinds a definition cannot declare (an ``iamMember``, an authorized routine) are
named in the import's notes and stay as they are live.
"""

from __future__ import annotations

from collections.abc import Callable

from bqmanage.model.access import PROJECT_GROUPS, AccessEntry, member_problem, role_problem
from bqmanage.model.schema import Dataset


def declarable(entry: AccessEntry) -> bool:
    member = entry.member or ""
    return member_problem(member) is None and role_problem(entry.role, member) is None


def written(dataset: Dataset) -> list[AccessEntry]:
    """The entries import writes: all but BigQuery's project groups and undeclarable kinds."""
    return [e for e in dataset.access or () if e.member not in PROJECT_GROUPS and declarable(e)]


def access_lines(dataset: Dataset, scalar: Callable[[object], str]) -> list[str]:
    """The ``access:`` block (empty when there is nothing to declare). ``scalar`` is emit's quoting."""
    entries = written(dataset)
    if not entries:
        return []
    lines = ["access:"]
    for entry in entries:
        role = f"role: {scalar(entry.role)}, " if entry.role else ""
        lines.append(f"  - {{{role}member: {scalar(entry.member)}}}")
    return lines


def access_notes(dataset: Dataset) -> list[str]:
    """What the import could not declare of a dataset's access, one line each."""
    return [
        f"{dataset.name}: access entry {e.text()} is not a kind a definition can declare; it stays as it is live"
        for e in dataset.access or ()
        if e.member not in PROJECT_GROUPS and not declarable(e)
    ]


def template_access_note(dataset: Dataset) -> str:
    """Why a template imported from one tenant's dataset has no ``access:``."""
    return (
        f"{dataset.name}: its {len(written(dataset))} access entries are not written into the template: they name "
        "this tenant's members; declare them with {tenant} or members_from (docs/isolation.md)"
    )
