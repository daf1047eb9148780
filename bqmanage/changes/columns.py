"""Change kinds of a top-level column (and the refused ones of any column or STRUCT field). Its
default and description are in ``patch``: one tables.patch per table sets them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar, Self

from bqmanage.changes.base import Change, ColumnAt, ColumnChange, Drift, LocalTarget, Refusal, Refused, Rendered, mismatch
from bqmanage.model.names import quote
from bqmanage.model.schema import Column
from bqmanage.model.types import DECIMAL_LIMITS
from bqmanage.render import column_sql

# Types BigQuery's ALTER COLUMN SET DATA TYPE widens each type to (conversion_rules#coercion).
_WIDER = {"INT64": ("NUMERIC", "BIGNUMERIC", "FLOAT64"), "NUMERIC": ("BIGNUMERIC", "FLOAT64")}


@dataclass(frozen=True, kw_only=True)
class AddColumn(ColumnChange):
    """A defined column is not in the live table. BigQuery adds only NULLABLE or REPEATED
    columns, and never with a DEFAULT: the default is set afterwards, then existing rows are
    backfilled (they would read NULL forever)."""

    kind: ClassVar[str] = "add_column"
    order: ClassVar[int] = 30
    per_table: ClassVar[bool] = True

    @classmethod
    def on_column(cls, desired: Column | None, actual: Column | None, at: ColumnAt) -> Iterator[Change]:
        if desired is not None and actual is None and not at.is_field:
            yield AddColumn(dataset=at.dataset, table=at.table, column=desired)

    def refusal(self) -> Refusal | None:
        if self.column.mode == "REQUIRED":
            return Refusal(
                "BQM101",
                f"column {self.column.name} is REQUIRED; BigQuery cannot add a REQUIRED column to an existing table",
                "declare it NULLABLE with a default (bqmanage backfills existing rows), "
                "or rebuild the table with CREATE TABLE ... AS SELECT",
            )
        return None

    def describe(self) -> str:
        return f"add column {self.column.name} {self.column.type_sql()} to {self.target}"

    def _action(self) -> str:
        return f"ADD COLUMN IF NOT EXISTS {column_sql(self.column.model_copy(update={'default': None}))}"

    def render(self, project: str | None) -> str:
        return f"ALTER TABLE {self.ref.sql(project)}\n  {self._action()}"

    @classmethod
    def render_group(cls, changes: Sequence[Self], project: str | None) -> Rendered:
        # One multi-action ALTER per table: one metadata update instead of one per column.
        names = ", ".join(c.column.name for c in changes)
        actions = ",\n  ".join(c._action() for c in changes)
        return Rendered(
            f"add {names} (NULLABLE, no DEFAULT: BigQuery rejects it on existing tables)",
            sql=f"ALTER TABLE {changes[0].ref.sql(project)}\n  {actions}",
            actions=tuple(c.render(project) for c in changes) if len(changes) > 1 else (),
        )

    def follow_ups(self) -> tuple[Change, ...]:
        from bqmanage.changes.patch import SetDefault  # the patch kinds build on this module

        if self.column.default is None:
            return ()
        return (SetDefault(dataset=self.dataset, table=self.table, column=self.column),)

    def backfills(self) -> tuple[Column, ...]:
        return (self.column,) if self.column.default is not None else ()

    def drifts(self) -> list[Drift]:
        then = f", sets its default {self.column.default} and backfills existing rows" if self.column.default is not None else ""
        return [
            self.drift(
                "missing_column",
                f"column is missing (expected {self.column.type_sql()})",
                f"adds it{then}",
                expected=self.column.type_sql(),
            )
        ]

    def run_local(self, db: LocalTarget) -> None:
        db.add_column(self.ref, self.column.name, self.column.model_copy(update={"default": None}))


@dataclass(frozen=True, kw_only=True)
class RelaxColumn(ColumnChange):
    """A live REQUIRED column is defined NULLABLE."""

    kind: ClassVar[str] = "relax_column"
    order: ClassVar[int] = 50

    @classmethod
    def on_column(cls, desired: Column | None, actual: Column | None, at: ColumnAt) -> Iterator[Change]:
        if desired is not None and actual is not None and not at.is_field and _relaxes(desired, actual):
            yield RelaxColumn(dataset=at.dataset, table=at.table, column=desired, actual=actual)

    def describe(self) -> str:
        return f"relax {self.target}.{self.path} from REQUIRED to NULLABLE"

    def render(self, project: str | None) -> str:
        return f"ALTER TABLE {self.ref.sql(project)} ALTER COLUMN {quote(self.column.name)} DROP NOT NULL"

    def drifts(self) -> list[Drift]:
        return [_mode_drift(self, "relaxes it")]

    def run_local(self, db: LocalTarget) -> None:
        db.drop_not_null(self.ref, self.column.name)


@dataclass(frozen=True, kw_only=True)
class ChangeMode(ColumnChange, Refused):
    """A column's or field's mode differs in a way BigQuery cannot change in place."""

    kind: ClassVar[str] = "change_mode"

    @classmethod
    def on_column(cls, desired: Column | None, actual: Column | None, at: ColumnAt) -> Iterator[Change]:
        if (
            desired is not None
            and actual is not None
            and desired.mode != actual.mode
            and (at.is_field or not _relaxes(desired, actual))
        ):
            yield ChangeMode(dataset=at.dataset, table=at.table, column=desired, actual=actual, path=at.dotted)

    def refusal(self) -> Refusal:
        return Refusal(
            "BQM103",
            f"{self.path}: mode {self.actual.mode if self.actual else '?'} -> {self.column.mode}; "
            "BigQuery only relaxes REQUIRED to NULLABLE",
            "keep the column NULLABLE and enforce the rule in writers, or rebuild the table",
        )

    def describe(self) -> str:
        return f"change mode of {self.target}.{self.path}"

    def drifts(self) -> list[Drift]:
        return [_mode_drift(self)]


@dataclass(frozen=True, kw_only=True)
class WidenType(ColumnChange):
    """A live column's type is narrower than its definition, and BigQuery can widen it."""

    kind: ClassVar[str] = "widen_type"
    order: ClassVar[int] = 60

    @classmethod
    def on_column(cls, desired: Column | None, actual: Column | None, at: ColumnAt) -> Iterator[Change]:
        if (
            desired is not None
            and actual is not None
            and not at.is_field
            and _retyped(desired, actual, at)
            and is_widening(actual, desired)
        ):
            yield WidenType(dataset=at.dataset, table=at.table, column=desired, actual=actual)

    def describe(self) -> str:
        was = self.actual.type_sql() if self.actual else "?"
        return f"widen {self.target}.{self.path} from {was} to {self.column.type_sql()}"

    def render(self, project: str | None) -> str:
        return (
            f"ALTER TABLE {self.ref.sql(project)} ALTER COLUMN {quote(self.column.name)} "
            f"SET DATA TYPE {self.column.element_type_sql()}"
        )

    def drifts(self) -> list[Drift]:
        return [_type_drift(self, "widens it")]

    def run_local(self, db: LocalTarget) -> None:
        db.set_type(self.ref, self.column)


@dataclass(frozen=True, kw_only=True)
class ChangeType(ColumnChange, Refused):
    """A column's or field's type differs in a way BigQuery cannot change in place. Widening a
    nested field would mean re-declaring its whole STRUCT, so that is refused too."""

    kind: ClassVar[str] = "change_type"

    @classmethod
    def on_column(cls, desired: Column | None, actual: Column | None, at: ColumnAt) -> Iterator[Change]:
        if (
            desired is not None
            and actual is not None
            and _retyped(desired, actual, at)
            and (at.is_field or not is_widening(actual, desired))
        ):
            yield ChangeType(dataset=at.dataset, table=at.table, column=desired, actual=actual, path=at.dotted)

    def refusal(self) -> Refusal:
        was = self.actual.type_sql() if self.actual else "?"
        return Refusal(
            "BQM102",
            f"{self.path}: {was} -> {self.column.type_sql()} is not a widening BigQuery allows in place",
            "add a new column of the new type and backfill it, or rebuild with CREATE TABLE ... AS SELECT CAST(...)",
        )

    def describe(self) -> str:
        return f"change type of {self.target}.{self.path}"

    def drifts(self) -> list[Drift]:
        return [_type_drift(self)]


@dataclass(frozen=True, kw_only=True)
class DropColumn(ColumnChange, Refused):
    """A live column or field is not defined. bqmanage never drops data."""

    kind: ClassVar[str] = "drop_column"

    @classmethod
    def on_column(cls, desired: Column | None, actual: Column | None, at: ColumnAt) -> Iterator[Change]:
        if desired is None and actual is not None:
            yield DropColumn(dataset=at.dataset, table=at.table, column=actual, actual=actual, path=at.dotted)

    def refusal(self) -> Refusal:
        return Refusal(
            "BQM105",
            f"column {self.path} is live but not in the definitions; bqmanage never drops data",
            f"add {self.path} to the definitions, or drop it yourself: ALTER TABLE ... DROP COLUMN {self.path} "
            "(restorable for the time-travel window); a rename is ALTER TABLE ... RENAME COLUMN",
        )

    def describe(self) -> str:
        return f"drop column {self.target}.{self.path}"

    def drifts(self) -> list[Drift]:
        return [
            self.drift("extra_column", f"column {self.column.type_sql()} is live but not defined", actual=self.column.type_sql())
        ]


def _relaxes(desired: Column, actual: Column) -> bool:
    return desired.mode == "NULLABLE" and actual.mode == "REQUIRED"


def _retyped(desired: Column, actual: Column, at: ColumnAt) -> bool:
    """The types differ as whole types (STRUCTs compared field by field are not)."""
    return not at.descends(desired, actual) and at.shape(desired) != at.shape(actual)


def _mode_drift(change: ColumnChange, fix: str = "") -> Drift:
    actual = change.actual.mode if change.actual else None
    return change.drift("mode_mismatch", mismatch("mode", change.column.mode, actual), fix, change.column.mode, actual)


def _type_drift(change: ColumnChange, fix: str = "") -> Drift:
    expected, actual = change.column.type_sql(), change.actual.type_sql() if change.actual else None
    return change.drift("type_mismatch", mismatch("type", expected, actual), fix, expected, actual)


def is_widening(actual: Column, desired: Column) -> bool:
    """True when ALTER COLUMN SET DATA TYPE can turn ``actual`` into ``desired`` (widening only)."""
    if actual.mode == "REPEATED" or desired.mode == "REPEATED":
        return False
    if desired.type in _WIDER.get(actual.type, ()):
        return desired.type == "FLOAT64" or desired.precision is None or _fits(actual, desired)
    if desired.type != actual.type:
        return False
    if desired.type in ("STRING", "BYTES"):
        if actual.max_length is None:
            return False
        return desired.max_length is None or desired.max_length > actual.max_length
    if desired.type in DECIMAL_LIMITS:
        return _fits(actual, desired)
    return False


def _digits(column: Column) -> tuple[int, int]:
    """(integer digits, scale) of a numeric column; INT64 needs 19 integer digits."""
    if column.type == "INT64":
        return 19, 0
    if column.precision is None:
        return DECIMAL_LIMITS[column.type]
    scale = column.scale or 0
    return column.precision - scale, scale


def _fits(actual: Column, desired: Column) -> bool:
    a_int, a_scale = _digits(actual)
    d_int, d_scale = _digits(desired)
    wider = d_int >= a_int and d_scale >= a_scale
    return wider and ((d_int, d_scale) != (a_int, a_scale) or desired.type != actual.type)
