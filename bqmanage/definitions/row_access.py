"""Validation of row- and column-level security in a table file: ``row_access:`` and each column's
``policy_tags``, located like every other problem; and the checks across files (the mapping table
a ``row_access`` names must be defined, with the columns the filter reads)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from bqmanage.definitions.specs import structure
from bqmanage.definitions.yaml_source import KeyPath, LineMap
from bqmanage.errors import Problem
from bqmanage.model.names import dataset_name_problem, table_name_problem
from bqmanage.model.row_access import (
    DEFAULT_GRANTEES,
    MEMBER_COLUMN,
    TENANT_COLUMN,
    RowAccess,
    grantee_problem,
    member_problem,
    policy_tag_problem,
)
from bqmanage.model.schema import Column, Definitions, Table

if TYPE_CHECKING:
    from bqmanage.engines import Engine
    from bqmanage.settings import Settings

# Types a tenant column may have: compared with IN against the mapping table's tenant_id.
_TENANT_TYPES = ("STRING", "INT64")
# "At most 1 policy tag is currently allowed" per field
# (https://cloud.google.com/bigquery/docs/reference/rest/v2/tables#policytaglist).
MAX_POLICY_TAGS = 1


class RowAccessSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant_column: str
    members: str
    member: str
    grant_to: list[str] = list(DEFAULT_GRANTEES)


def row_access_from_spec(data: Any, by_key: dict[str, Column], lines: LineMap, problems: list[Problem]) -> RowAccess | None:
    """The table's ``row_access:`` mapping, or None after adding its problems."""
    at: KeyPath = ("row_access",)
    spec = structure(RowAccessSpec, data, at, lines, problems)
    if spec is None:
        return None
    before = len(problems)
    column = by_key.get(spec.tenant_column.lower())
    if column is None:
        problems.append(
            lines.problem((*at, "tenant_column"), f"tenant column {spec.tenant_column!r} is not a column of the table")
        )
    elif column.mode == "REPEATED" or column.type not in _TENANT_TYPES:
        problems.append(
            lines.problem(
                (*at, "tenant_column"), f"tenant column {spec.tenant_column!r} is {column.type_sql()}; it must be STRING or INT64"
            )
        )
    parts = spec.members.split(".")
    if len(parts) != 2 or dataset_name_problem(parts[0]) or table_name_problem(parts[1]):
        problems.append(lines.problem((*at, "members"), f"members table {spec.members!r} must be dataset.table"))
    if "{tenant}" not in spec.member:
        problems.append(lines.problem((*at, "member"), f"member {spec.member!r} must name the tenant as {{tenant}}"))
    elif (why := member_problem(spec.member.replace("{tenant}", "t"))) is not None:
        problems.append(lines.problem((*at, "member"), why))
    if not spec.grant_to:
        problems.append(lines.problem((*at, "grant_to"), "grant_to needs at least one grantee"))
    for i, grantee in enumerate(spec.grant_to):
        if (why := grantee_problem(grantee)) is not None:
            problems.append(lines.problem((*at, "grant_to", i), why))
    if len(problems) > before:
        return None
    return RowAccess(
        tenant_column=column.name if column else spec.tenant_column,
        members=spec.members,
        member=spec.member,
        grant_to=tuple(spec.grant_to),
        line=lines.line((*at, "members")),
    )


def policy_tags_from_spec(snake: list[str] | None, pasted: Any, is_struct: bool, add: Any) -> tuple[str, ...] | None:
    """A column's ``policy_tags: [name]``, or ``policyTags: {names: [name]}`` as ``bq show --schema``
    prints it. ``add(key, message)`` reports a problem at the column's key."""
    if snake is not None and pasted is not None:
        add("policy_tags", "give policy_tags or policyTags, not both")
        return None
    key, names = "policy_tags", snake
    if pasted is not None:
        key = "policyTags"
        names = pasted.get("names") if isinstance(pasted, dict) else None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            add(key, "policyTags must be {names: [policy tag resource name]}")
            return None
    if names is None:
        return None
    bad = False
    if len(names) > MAX_POLICY_TAGS:
        add(key, f"{len(names)} policy tags; BigQuery allows at most {MAX_POLICY_TAGS} per column")
        bad = True
    if names and is_struct:
        add(key, "policy tags go on the leaf columns of a STRUCT, not on the STRUCT column itself")
        bad = True
    for name in names:
        if (why := policy_tag_problem(name)) is not None:
            add(key, why)
            bad = True
    return None if bad else tuple(names)


def mapping_problems(definitions: Definitions) -> list[Problem]:
    """Every ``row_access`` names a defined mapping table with tenant_id and member columns."""
    problems = []
    for table in definitions.tables:
        if table.row_access is None:
            continue
        dataset, name = table.row_access.members.split(".", 1)
        mapping = definitions.table(dataset, name)
        where = (table.source or "", table.row_access.line or table.line)
        if mapping is None:
            problems.append(
                Problem(where[0], where[1], "row_access.members", f"members table {table.row_access.members} is not defined")
            )
            continue
        for column in (TENANT_COLUMN, MEMBER_COLUMN):
            found = mapping.column(column)
            if found is None or found.type != "STRING" or found.mode == "REPEATED":
                problems.append(
                    Problem(
                        where[0],
                        where[1],
                        "row_access.members",
                        f"members table {mapping.ref} needs a STRING column {column!r}",
                    )
                )
    return problems


def placed(settings: Settings, desired: Definitions, engine: Engine | None = None) -> Definitions:
    """The definitions with what the target adds to them: the writer of isolated tables (the
    configured one, else who the engine's credentials are, when that is an account)."""
    return with_writer(desired, settings.writer_principal or grantee_of(engine), settings.warehouse_project)


def grantee_of(engine: Engine | None) -> str | None:
    """The bigquery engine's principal as GRANT TO names it, or None (ADC that names no account)."""
    who = engine.principal() if engine is not None and engine.name == "bigquery" else ""
    if "@" not in who:
        return None
    return f"{'serviceAccount' if who.endswith('.gserviceaccount.com') else 'user'}:{who}"


def with_writer(definitions: Definitions, writer: str | None, project: str | None) -> Definitions:
    """The definitions with each isolated table's row access given the target's writer principal
    and project (settings, not definitions: the same files serve every target)."""
    if not any(t.row_access for t in (*definitions.tables, *definitions.template_tables)):
        return definitions

    def with_it(table: Table) -> Table:
        if table.row_access is None:
            return table
        return table.model_copy(update={"row_access": table.row_access.model_copy(update={"writer": writer, "project": project})})

    return definitions.model_copy(
        update={
            "tables": tuple(with_it(t) for t in definitions.tables),
            "template_tables": tuple(with_it(t) for t in definitions.template_tables),
        }
    )
