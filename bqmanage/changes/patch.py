"""Change kinds that one ``tables.patch`` per table makes: column defaults, column descriptions and
STRUCT field descriptions.

BigQuery allows 5 metadata updates per table per 10 s. DDL takes one ``ALTER COLUMN`` per default
(the seed migration's 7 defaults were 7 updates, and a pacer sleep); the schema editor of the
Console sets a default through the API (``defaultValueExpression`` on the field), so one
``tables.patch`` sets every default and description of a table: one update. The patch edits the
live Table resource read just before, and is sent with its etag, so that a concurrent change of
the table is detected (the patch is made again on the fresh resource), never overwritten.

The docs show defaults only as DDL, so each default also renders its ``ALTER COLUMN`` form: if
BigQuery rejects the defaults in the patch, apply sends the patch without them and sets each one
with that DDL instead, and says so (``apply.py``).
https://cloud.google.com/bigquery/docs/default-values,
https://cloud.google.com/bigquery/docs/reference/rest/v2/tables/patch
"""

from __future__ import annotations

import copy
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from bqmanage.changes.base import Change, ColumnAt, ColumnChange, Drift, LocalTarget, Rendered, TablePatch, mismatch
from bqmanage.changes.fields import schema_field
from bqmanage.errors import WarehouseError
from bqmanage.model.defaults import default_expression
from bqmanage.model.names import quote
from bqmanage.model.schema import Column
from bqmanage.render import literal_sql

PATCH_COLUMNS = "patch_columns"


@dataclass(frozen=True, kw_only=True)
class ColumnPatch(ColumnChange, TablePatch):
    """A change of one field's properties, made as part of its table's one ``patch_columns`` step."""

    order: ClassVar[int] = 70
    step_kind: ClassVar[str | None] = PATCH_COLUMNS
    # How the step's one-line reason groups it: "set the default of", "set the description of"...
    verb: ClassVar[str]
    # The property it sets, as Capabilities.unobservable names it (read back after the patch).
    observed: ClassVar[str] = "description"

    @abstractmethod
    def edit(self, field: dict[str, Any]) -> None:
        """Make the change in the field's REST TableFieldSchema."""

    @abstractmethod
    def detail(self) -> str:
        """What the patch sets, as ``plan`` prints it under the API call."""

    def fallback(self, project: str | None) -> str | None:
        """The DDL that makes the change if BigQuery rejects it through the API (defaults only)."""
        return None

    @property
    def is_default(self) -> bool:
        return self.fallback(None) is not None

    def patch(self, table: dict[str, Any]) -> str:
        field = schema_field(table, self.path)
        if field is None:
            raise WarehouseError(f"{self.target}: tables.get shows no column {self.path} to patch; re-run `bqmanage apply`")
        self.edit(field)
        return "schema"

    @classmethod
    def render_group(cls, changes: Sequence[Self], project: str | None) -> Rendered:
        return patch_columns_step(changes, project)

    def applied(self, table: dict[str, Any]) -> bool:
        """Whether the table read back after the patch has this change: editing it again would
        change nothing."""
        field = schema_field(table, self.path)
        if field is None:
            return False
        again = copy.deepcopy(field)
        self.edit(again)
        return again == field


# Column-level security that a schema read with tables.get carries. Echoed back in a patch, even
# unchanged, it needs Data Catalog permissions (a Data Editor gets a 403); left out, the column
# keeps its tags, as only `"names": []` clears them.
# https://cloud.google.com/bigquery/docs/column-level-security#clear_policy_tags ,
# apache/airflow#15367 (review by a Google maintainer); for dataPolicies, keeping them when left
# out is not documented: the read-back (unapplied) is what bqmanage relies on.
GOVERNANCE = ("policyTags", "dataPolicies")


def strip_governance(fields: list[dict[str, Any]], keep: frozenset[str] = frozenset(), prefix: str = "") -> None:
    """Remove ``GOVERNANCE`` keys from REST fields, nested ones too, in place; the policy tags of
    ``keep`` (dotted paths, lower case: the fields whose tags the patch sets) stay, exactly as set."""
    for field in fields:
        path = f"{prefix}{str(field.get('name', '')).lower()}"
        for key in GOVERNANCE:
            if not (key == "policyTags" and path in keep):
                field.pop(key, None)
        strip_governance(field.get("fields") or [], keep, f"{path}.")


def tagged_paths(changes: Sequence[Change]) -> frozenset[str]:
    """The fields whose policy tags a patch sets (``strip_governance`` keeps those)."""
    return frozenset(c.path.lower() for c in changes if isinstance(c, ColumnPatch) and c.observed == "policy_tags")


def unapplied(changes: Sequence[Change], table: dict[str, Any], unobservable: frozenset[str]) -> list[ColumnPatch]:
    """The column patches that ``table``, read back after a tables.patch, does not show (those
    whose property the engine can see). The docs do not say that tables.patch applies a default
    (reference/bigquery-facts.md §10), so a success answer alone proves nothing."""
    return [c for c in changes if isinstance(c, ColumnPatch) and c.observed not in unobservable and not c.applied(table)]


def patch_columns_step(changes: Sequence[ColumnPatch], project: str | None) -> Rendered:
    """One table's ``patch_columns`` step: every default and description in one tables.patch."""
    groups: dict[str, list[str]] = {}
    for change in changes:
        groups.setdefault(change.verb, []).append(change.path)
    what = "; ".join(f"{verb} {', '.join(paths)}" for verb, paths in groups.items())
    api: dict[str, Any] = {"method": "tables.patch"}
    defaults = {c.path: c.column.default for c in changes if c.is_default}
    descriptions = {c.path: c.column.description for c in changes if isinstance(c, _DescriptionPatch)}
    tags = {c.path: list(c.column.policy_tags or ()) for c in changes if c.observed == "policy_tags"}
    if defaults:
        api["defaults"] = defaults
    if descriptions:
        api["descriptions"] = descriptions
    if tags:
        api["policyTags"] = tags
    return Rendered(
        f"{what} in one tables.patch with the table's etag (one metadata update)",
        api=api,
        detail=tuple(c.detail() for c in changes),
        fallback=tuple(sql for c in changes if (sql := c.fallback(project)) is not None),
    )


def without_defaults(changes: Sequence[Change]) -> list[Change]:
    """The changes of a ``patch_columns`` step that are not defaults (what a patch still sends
    after BigQuery rejected its defaults)."""
    return [c for c in changes if not (isinstance(c, ColumnPatch) and c.is_default)]


@dataclass(frozen=True, kw_only=True)
class SetDefault(ColumnPatch):
    """A column's DEFAULT differs from its definition (or a new column needs its default)."""

    kind: ClassVar[str] = "set_default"
    verb: ClassVar[str] = "set the default of"
    observed: ClassVar[str] = "default"

    @classmethod
    def on_column(cls, desired: Column | None, actual: Column | None, at: ColumnAt) -> Iterator[Change]:
        if _default_differs(desired, actual, at) and desired is not None and desired.default is not None:
            yield SetDefault(dataset=at.dataset, table=at.table, column=desired, actual=actual)

    def describe(self) -> str:
        was = (self.actual.default if self.actual else None) or "none"
        return f"set default of {self.target}.{self.path} to {self.column.default} (was {was})"

    def _expression(self) -> str:
        return default_expression(self.column.type, self.column.default or "NULL")

    def render(self, project: str | None) -> str:
        """The DDL form, which apply falls back to."""
        return f"ALTER TABLE {self.ref.sql(project)} ALTER COLUMN {quote(self.column.name)} SET DEFAULT {self._expression()}"

    def fallback(self, project: str | None) -> str | None:
        return self.render(project)

    def edit(self, field: dict[str, Any]) -> None:
        field["defaultValueExpression"] = self._expression()

    def detail(self) -> str:
        return f"{self.path}: defaultValueExpression = {self._expression()}"

    def drifts(self) -> list[Drift]:
        return [_default_drift(self, "sets it for new rows; existing rows keep their values")]

    def run_local(self, db: LocalTarget) -> None:
        db.set_default(self.ref, self.column)


@dataclass(frozen=True, kw_only=True)
class DropDefault(ColumnPatch):
    """A live column has a DEFAULT its definition does not."""

    kind: ClassVar[str] = "drop_default"
    verb: ClassVar[str] = "drop the default of"
    observed: ClassVar[str] = "default"

    @classmethod
    def on_column(cls, desired: Column | None, actual: Column | None, at: ColumnAt) -> Iterator[Change]:
        if _default_differs(desired, actual, at) and desired is not None and desired.default is None:
            yield DropDefault(dataset=at.dataset, table=at.table, column=desired, actual=actual)

    def describe(self) -> str:
        return f"drop default {self.actual.default if self.actual else ''} of {self.target}.{self.path}"

    def render(self, project: str | None) -> str:
        """The DDL form, which apply falls back to."""
        return f"ALTER TABLE {self.ref.sql(project)} ALTER COLUMN {quote(self.column.name)} DROP DEFAULT"

    def fallback(self, project: str | None) -> str | None:
        return self.render(project)

    def edit(self, field: dict[str, Any]) -> None:
        # The patched schema replaces the live one whole: a field without one has no default.
        field.pop("defaultValueExpression", None)

    def detail(self) -> str:
        return f"{self.path}: defaultValueExpression removed"

    def drifts(self) -> list[Drift]:
        return [_default_drift(self, "drops it")]

    def run_local(self, db: LocalTarget) -> None:
        db.set_default(self.ref, self.column)


@dataclass(frozen=True, kw_only=True)
class _DescriptionPatch(ColumnPatch):
    verb: ClassVar[str] = "set the description of"

    def render(self, project: str | None) -> dict[str, Any]:
        return {"method": "tables.patch", "descriptions": {self.path: self.column.description}}

    def edit(self, field: dict[str, Any]) -> None:
        # The patched schema replaces the live one whole: a field without one has no description.
        field.pop("description", None)
        if self.column.description:
            field["description"] = self.column.description

    def detail(self) -> str:
        text = self.column.description
        return f"{self.path}: description = {literal_sql(text)}" if text else f"{self.path}: description removed"

    def drifts(self) -> list[Drift]:
        expected, actual = self.column.description, self.actual.description if self.actual else None
        # Quoted, as a table's description is: free text (a trailing space). Not escaped here: the
        # JSON message carries it exactly, the text report escapes what it prints.
        quoted = [f"'{text}'" if text is not None else None for text in (expected, actual)]
        return [self.drift("description_mismatch", mismatch("description", *quoted), "sets it", expected, actual)]

    def run_local(self, db: LocalTarget) -> None:
        db.set_description(self.ref, self.path, self.column.description)


@dataclass(frozen=True, kw_only=True)
class SetColumnDescription(_DescriptionPatch):
    """A top-level column's description differs from its definition."""

    kind: ClassVar[str] = "set_column_description"

    @classmethod
    def on_column(cls, desired: Column | None, actual: Column | None, at: ColumnAt) -> Iterator[Change]:
        if desired is not None and actual is not None and not at.is_field and _description_differs(desired, actual, at):
            yield SetColumnDescription(dataset=at.dataset, table=at.table, column=desired, actual=actual)

    def describe(self) -> str:
        return f"set description of {self.target}.{self.path}"


@dataclass(frozen=True, kw_only=True)
class SetFieldDescription(_DescriptionPatch):
    """A field's description inside a live STRUCT column differs from its definition. ALTER
    COLUMN SET OPTIONS reaches top-level columns only; tables.patch reaches any field."""

    kind: ClassVar[str] = "set_field_description"
    verb: ClassVar[str] = "set the description of nested fields"

    @classmethod
    def on_column(cls, desired: Column | None, actual: Column | None, at: ColumnAt) -> Iterator[Change]:
        if desired is not None and actual is not None and at.is_field and _description_differs(desired, actual, at):
            yield SetFieldDescription(dataset=at.dataset, table=at.table, column=desired, actual=actual, path=at.dotted)

    def describe(self) -> str:
        return f"set description of field {self.target}.{self.path}"


def _description_differs(desired: Column, actual: Column, at: ColumnAt) -> bool:
    return at.sees("description") and (desired.description or None) != (actual.description or None)


def _default_differs(desired: Column | None, actual: Column | None, at: ColumnAt) -> bool:
    # Defaults exist on top-level columns only.
    return (
        desired is not None
        and actual is not None
        and not at.is_field
        and at.sees("default")
        and desired.default != actual.default
    )


def _default_drift(change: ColumnChange, fix: str) -> Drift:
    actual = change.actual.default if change.actual else None
    expected = change.column.default
    return change.drift("default_mismatch", mismatch("default", expected, actual), fix, expected, actual)
