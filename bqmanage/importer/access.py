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


def access_lines(dataset: Dataset, scalar: Callable[[object], str]) -> list[str]:
    """The ``access:`` block (empty when there is nothing to declare). ``scalar`` is emit's quoting."""
    entries = [e for e in dataset.access or () if e.member not in PROJECT_GROUPS and declarable(e)]
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
