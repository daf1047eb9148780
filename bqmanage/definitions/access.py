"""The ``access:`` list of a ``_dataset.yaml``: validated entry by entry, every problem located.

An entry names a role and one member (``member: group:acme-readers@example.com``); in a dataset
template the member may hold ``{tenant}`` or come from a column of the tenant registry
(``members_from: tenant_profiles.reader_group``), which is checked against the registry's
definition once every file is read (``members_from_problems``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bqmanage.definitions.specs import Spec, structure
from bqmanage.definitions.yaml_source import KeyPath, LineMap
from bqmanage.errors import Problem, UsageError
from bqmanage.model.access import (
    AUTHORIZED_KINDS,
    MAX_AUTHORIZED,
    PRINCIPAL_KINDS,
    SPECIAL_GROUPS,
    AccessEntry,
    canonical_role,
    member_problem,
    role_problem,
)
from bqmanage.model.schema import Dataset, Definitions, Table
from bqmanage.tenants.ids import MAX_LENGTH

MARK = "{tenant}"
# Whether some valid tenant id makes a pattern a valid member: a member's rules (model/access.py)
# allow a lowercase letter wherever they allow an id's other characters (a digit, '-', '_'), so when
# an id of some length fits, the id of as many 'a's fits too; one of each length is enough.
_PROBES = tuple("a" * n for n in range(1, MAX_LENGTH + 1))


class AccessSpec(Spec):
    role: str | None = None
    member: str | None = None
    members_from: str | None = None
    kinds: list[str] | None = None


def access_entries(
    data: list[Any] | None, template: bool, lines: LineMap, problems: list[Problem]
) -> tuple[AccessEntry, ...] | None:
    """The declared entries (None when the file has no ``access:``); problems go to ``problems``."""
    if data is None:
        return None
    entries: list[AccessEntry] = []
    for i, item in enumerate(data):
        at: KeyPath = ("access", i)
        spec = structure(AccessSpec, item, at, lines, problems)
        if spec is None:
            continue
        entry = _entry(spec, template, at, lines, problems)
        if entry is not None:
            entries.append(entry)
    authorized = sum(1 for e in entries if e.kind in AUTHORIZED_KINDS)
    if authorized > MAX_AUTHORIZED:
        problems.append(
            lines.problem(
                ("access",),
                f"{authorized} authorized views and datasets; BigQuery allows at most {MAX_AUTHORIZED:,} on one dataset",
            )
        )
    seen: dict[tuple[str | None, str], int] = {}
    for i, entry in enumerate(entries):
        if entry.member is not None and (first := seen.setdefault(entry.key, i)) != i:
            problems.append(lines.problem(("access", i), f"{entry.text()} is declared twice (also access[{first}])"))
    return tuple(entries)


def _entry(spec: AccessSpec, template: bool, at: KeyPath, lines: LineMap, problems: list[Problem]) -> AccessEntry | None:
    if (spec.member is None) == (spec.members_from is None):
        problems.append(lines.problem(at, "an access entry names exactly one of member or members_from"))
        return None
    line = lines.line(at)
    if spec.kinds is not None and spec.members_from is None:
        problems.append(lines.problem((*at, "kinds"), "kinds is for a members_from entry (the kinds its registry values may be)"))
        return None
    if spec.members_from is not None:
        if not template:
            problems.append(lines.problem((*at, "members_from"), "members_from is for dataset templates (a {tenant} dataset)"))
            return None
        why = role_problem(spec.role, "group:x") if spec.role is not None else "members_from needs a role"
        if why is not None or spec.role is None:
            problems.append(lines.problem((*at, "role"), why or ""))
            return None
        unknown = [k for k in spec.kinds or () if k not in PRINCIPAL_KINDS]
        if unknown or spec.kinds == []:
            given = ", ".join(map(repr, unknown)) or "none given"
            why = f"kinds: {given}; a registry value may be one of {', '.join(PRINCIPAL_KINDS)}"
            problems.append(lines.problem((*at, "kinds"), why))
            return None
        kinds = tuple(dict.fromkeys(spec.kinds or ()))
        return AccessEntry(role=canonical_role(spec.role), members_from=spec.members_from, kinds=kinds, line=line)
    member = spec.member or ""
    why = _pattern_problem(member) if template and MARK in member else None
    if MARK in member and not template:
        why = f"member {member!r}: {MARK} is for dataset templates (a {MARK} dataset)"
    why = why or (None if MARK in member else member_problem(member))
    if why is not None:
        problems.append(lines.problem((*at, "member"), why))
        return None
    if (why := role_problem(spec.role, member)) is not None:
        problems.append(lines.problem((*at, "role"), why))
        return None
    return AccessEntry(role=canonical_role(spec.role) if spec.role else None, member=member, line=line)


def _pattern_problem(member: str) -> str | None:
    """Why no valid tenant id makes a ``{tenant}`` pattern a valid member, or None. A pattern that
    some ids fit and others do not (a service account's name is 6 to 30 characters) is valid:
    each tenant's id is checked when a command acts for it (``tenant_member_problems``)."""
    if member.replace(MARK, "").count("{") or member.replace(MARK, "").count("}"):
        return f"member {member!r}: the only placeholder is {MARK}"
    kind, colon, _ = member.partition(":")
    if not colon or MARK in kind:
        return f"member {member!r}: {MARK} goes after the kind (<kind>:<id>)"
    if kind == "specialGroup":
        return f"member {member!r}: a special group is one of {', '.join(SPECIAL_GROUPS)}, for every tenant alike"
    whys = [member_problem(member.replace(MARK, tenant)) for tenant in _PROBES]
    if all(whys):
        return f"member {member!r} is valid for no tenant id: with tenant id 'a', {whys[0]}"
    return None


def tenant_member_problems(desired: Definitions, tenant: str) -> list[Problem]:
    """The ``{tenant}`` patterns of the dataset templates that ``tenant`` (a valid id) does not
    make a valid member, each located at its entry: a command acting for the tenant refuses it
    before it writes anything."""
    problems = []
    for dataset in desired.templates:
        for i, entry in enumerate(dataset.access or ()):
            pattern = entry.member or ""
            if MARK in pattern and (why := member_problem(pattern.replace(MARK, tenant))) is not None:
                where = f"access[{i}].member"
                message = f"member {pattern!r} is not valid for tenant id {tenant!r}: {why}"
                problems.append(Problem(dataset.source or dataset.name, entry.line, where, message))
    return problems


class TenantMemberError(UsageError):
    """A tenant id the dataset templates' member patterns cannot serve (exit 2); nothing was written."""

    multiline = True

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def refuse_tenant_members(desired: Definitions, tenants: Iterable[str]) -> None:
    """TenantMemberError for the first of ``tenants`` that a member pattern does not fit."""
    for tenant in tenants:
        if problems := tenant_member_problems(desired, tenant):
            raise TenantMemberError(problems)


def expand(entries: tuple[AccessEntry, ...] | None, tenant: str) -> tuple[AccessEntry, ...] | None:
    """A template's entries for one tenant: patterns filled in; a members_from entry keeps the
    tenant until the registry value is read (tenants/access.py)."""
    if entries is None:
        return None
    return tuple(
        e.model_copy(update={"tenant": tenant})
        if e.members_from
        else e.model_copy(update={"member": (e.member or "").replace(MARK, tenant)})
        for e in entries
    )


def members_from_problems(templates: list[Dataset], tables: list[Table]) -> list[Problem]:
    """A ``members_from`` must name a STRING column of the tenant registry (the quota table's
    ``quota.registry``): ``<table>.<column>`` of a table in the registry's dataset."""
    registries = {q.registry for t in tables if (q := t.quota) is not None and q.registry}
    if not registries:  # no tenants to expand a template for: --all-tenants says so on its own
        return []
    problems = []
    for dataset in templates:
        for i, entry in enumerate(dataset.access or ()):
            if entry.members_from is None:
                continue
            table_name, _, column_name = entry.members_from.partition(".")
            registry = next((r for r in registries if r.partition(".")[2] == table_name), None)
            table = next((t for t in tables if f"{t.dataset}.{t.name}" == registry), None)
            column = table.column(column_name) if table is not None and column_name else None
            why = None
            if table is None:
                found = ", ".join(sorted(r.partition(".")[2] for r in registries))
                why = f"members_from {entry.members_from!r}: {table_name!r} is not the tenant registry ({found})"
            elif column is None:
                why = f"members_from {entry.members_from!r}: the registry {registry} has no column {column_name!r}"
            elif column.type != "STRING" or column.mode == "REPEATED":
                why = f"members_from {entry.members_from!r}: the column is {column.type_sql()}; a member is a STRING"
            if why is not None:
                problems.append(Problem(dataset.source or dataset.name, entry.line, f"access[{i}].members_from", why))
    return problems
