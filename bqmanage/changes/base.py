"""What every change kind states, and the small values it states it with.

A kind is a frozen dataclass. Abstract methods are what each kind must answer (mypy refuses to
instantiate a kind that misses one, so a new kind is walked through them); class attributes
are its data. Concrete kinds register themselves in ``CHANGE_KINDS`` when defined.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self

from bqmanage.model.access import AccessEntry
from bqmanage.model.row_access import RowAccessPolicy
from bqmanage.model.schema import Column, Dataset, Table, TableRef

# Every concrete kind, in definition order. diff asks each what it detects, so adding a kind
# needs no edit elsewhere; the order is the order of findings within a column or table.
CHANGE_KINDS: list[type[Change]] = []


@dataclass(frozen=True)
class Refusal:
    """Why BigQuery cannot make a change in place: a stable code, the reason, a manual path."""

    code: str
    reason: str
    suggestion: str


@dataclass(frozen=True)
class Drift:
    """One finding ``check`` reports about a change. ``kind`` is a finding kind of
    deployment/findings.schema.json (``missing_column``...), the JSON contract scripts depend on;
    the change kind says the fix."""

    kind: str
    subject: str  # what the message is about: "tenants.t", "tenants.t.col", "tenants.t.meta.a"
    problem: str  # "column is missing (expected INT64)"
    fix: str = ""  # what apply does about it, in words ("adds it"); unused when the change is refused
    expected: Any = None
    actual: Any = None
    column: str | None = None  # the column, field path or option the finding names in JSON
    line: int | None = None  # the definition line of that column, when it has one


@dataclass(frozen=True)
class Rendered:
    """One step's statement: GoogleSQL, or the payload of a ``tables.patch`` call (what DDL
    cannot do), with the one-line reason ``plan`` prints."""

    reason: str
    sql: str | None = None
    api: dict[str, Any] | None = None
    # The statement again, one action per statement, for an engine that cannot run a
    # multi-action ALTER whole (bqemulator); empty when the statement has one action.
    actions: tuple[str, ...] = ()
    # What an API call changes, one line each ("concurrent_limit: defaultValueExpression = 3").
    detail: tuple[str, ...] = ()
    # The DDL apply runs instead of an API call's defaults if BigQuery rejects them there.
    fallback: tuple[str, ...] = ()


class LocalTarget(Protocol):
    """What the local engine offers the kinds: each primitive says what to change in BigQuery's
    terms, and the engine knows how DuckDB and its side table hold it (engines/local.py)."""

    def run_sql(self, sql: str) -> None:
        """Run BigQuery DML, transpiled to DuckDB."""

    def backfill(self, ref: TableRef, sql: str) -> None:
        """Run a backfill UPDATE of ``ref`` (BigQuery DML, idempotent), in memory that does not grow
        with the table."""

    def create_dataset(self, dataset: Dataset) -> None:
        """Create a dataset with its options."""

    def update_dataset(self, dataset: str, options: dict[str, Any]) -> None:
        """Set dataset options (``description``, ``labels``); an empty value removes one."""

    def create_table(self, table: Table) -> None:
        """Create a table with its columns, partitioning, clustering and options."""

    def update_table(self, ref: TableRef, options: dict[str, Any]) -> None:
        """Set table properties named as in the model (``description``, ``friendly_name``,
        ``labels``, ``partition_expiration_days``, ``require_partition_filter``, ``clustering``);
        an empty value removes one."""

    def add_column(self, ref: TableRef, path: str, column: Column) -> None:
        """Add a column, or a field at a dotted path inside a STRUCT column, without a default."""

    def set_default(self, ref: TableRef, column: Column) -> None:
        """Set a column's DEFAULT to ``column.default``, or drop it when that is None."""

    def drop_not_null(self, ref: TableRef, name: str) -> None:
        """Make a REQUIRED column NULLABLE."""

    def set_type(self, ref: TableRef, column: Column) -> None:
        """Change a column's type to ``column``'s (a widening)."""

    def set_description(self, ref: TableRef, path: str, text: str | None) -> None:
        """Describe a column, or a field at a dotted path; None removes the description."""

    def set_policy_tags(self, ref: TableRef, path: str, names: tuple[str, ...]) -> None:
        """Set a column's (or field's) policy tags to exactly ``names``."""

    def set_row_access_policy(self, ref: TableRef, policy: RowAccessPolicy) -> None:
        """Create or replace a row access policy on a table."""

    def set_access(self, dataset: str, grant: tuple[AccessEntry, ...], revoke: tuple[AccessEntry, ...]) -> None:
        """Add ``grant`` to a dataset's access list and remove ``revoke``; other entries stay."""


@dataclass(frozen=True)
class ColumnAt:
    """Where diff is comparing a column or a STRUCT field: the names of its table (to name the
    changes: nothing else of the table is a column's business), its path of names, and the
    properties the actual engine cannot observe (never compared). A column compares the same in
    every table, so diff compares the same columns once (diff.compare_table)."""

    dataset: str
    table: str
    path: tuple[str, ...]
    unobservable: frozenset[str] = frozenset()

    @property
    def is_field(self) -> bool:
        """A field inside a STRUCT column, which only tables.patch can change."""
        return len(self.path) > 1

    @property
    def dotted(self) -> str:
        return ".".join(self.path)

    def child(self, name: str) -> ColumnAt:
        return ColumnAt(self.dataset, self.table, (*self.path, name), self.unobservable)

    def sees(self, prop: str) -> bool:
        return prop not in self.unobservable

    def descends(self, desired: Column, actual: Column) -> bool:
        """Whether diff compares two STRUCTs field by field rather than as whole types. A
        top-level column whose mode changes is compared whole: its fields cannot be patched then."""
        return desired.type == actual.type == "STRUCT" and (self.is_field or desired.mode == actual.mode)

    def shape(self, column: Column) -> tuple[object, ...]:
        """The column's type for comparing, without the parameters an engine cannot observe."""
        shape = column.shape()
        return (shape[0], None, None, None, *shape[4:]) if "type_params" in self.unobservable else shape


@dataclass(frozen=True, kw_only=True)
class Change(ABC):
    """A difference between the definitions and the live warehouse, and all bqmanage does about it.

    Its ``kind`` is its one name in ``plan``/``apply`` output, the ledger and the step list;
    ``order`` places its step among a table's steps (datasets come first); ``is_metadata`` says
    whether the step counts toward BigQuery's per-table metadata update limit; ``per_table``
    gathers all changes of the kind in one table into one step; ``step_kind``, when set, is a
    step that several kinds share, one per table (their ``render_group`` renders the mix).
    """

    kind: ClassVar[str]
    order: ClassVar[int]
    is_metadata: ClassVar[bool] = True
    per_table: ClassVar[bool] = False
    step_kind: ClassVar[str | None] = None
    # Reported by check, never planned: what bqmanage leaves alone on purpose (undeclared grants).
    report_only: ClassVar[bool] = False

    dataset: str
    table: str | None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            CHANGE_KINDS.append(cls)

    @property
    def target(self) -> str:
        return f"{self.dataset}.{self.table}" if self.table else self.dataset

    @property
    def ref(self) -> TableRef:
        return TableRef(dataset=self.dataset, table=self.table or "")

    # ---- diff: what the kind detects (nothing, unless it says so). A detector names its class
    # rather than ``cls``: mypy checks that a named class implements every abstract method. ----

    @classmethod
    def on_dataset(cls, desired: Dataset, actual: Dataset | None, unobservable: frozenset[str]) -> Iterable[Change]:
        """Changes of this kind between a defined dataset and the live one (None when absent)."""
        return ()

    @classmethod
    def on_table(cls, desired: Table, actual: Table | None, unobservable: frozenset[str]) -> Iterable[Change]:
        """Changes of this kind between a defined table and the live one (None when absent)."""
        return ()

    @classmethod
    def on_column(cls, desired: Column | None, actual: Column | None, at: ColumnAt) -> Iterable[Change]:
        """Changes of this kind between a defined column or field and the live one; either may
        be None (missing, or live but not defined)."""
        return ()

    # ---- plan ----

    def refusal(self) -> Refusal | None:
        """None when BigQuery can make the change in place."""
        return None

    @abstractmethod
    def describe(self) -> str:
        """One line: what the step does, as ``plan`` prints it."""

    @abstractmethod
    def render(self, project: str | None) -> str | dict[str, Any]:
        """The GoogleSQL statement that makes the change, or the payload of its API call."""

    @classmethod
    def render_group(cls, changes: Sequence[Self], project: str | None) -> Rendered:
        """The step of a group of changes of this kind (one change unless ``per_table``)."""
        (change,) = changes
        statement = change.render(project)
        if isinstance(statement, str):
            return Rendered(change.describe(), sql=statement)
        return Rendered(change.describe(), api=statement)

    def follow_ups(self) -> tuple[Change, ...]:
        """Changes the plan adds after this one (a new column's default is set after the ADD)."""
        return ()

    def backfills(self) -> tuple[Column, ...]:
        """Columns whose existing rows need their default once this change has run."""
        return ()

    # ---- check ----

    @abstractmethod
    def drifts(self) -> list[Drift]:
        """What ``check`` reports about this change."""

    # ---- the local engine ----

    @abstractmethod
    def run_local(self, db: LocalTarget) -> None:
        """Make the change on the local engine, through its primitives."""


class Refused(Change):
    """A change BigQuery cannot make in place: always refused, so never rendered or run."""

    order: ClassVar[int] = -1

    @abstractmethod
    def refusal(self) -> Refusal:
        """The code, reason and manual path."""

    def render(self, project: str | None) -> str | dict[str, Any]:
        raise TypeError(f"{self.kind} is refused, never rendered")

    def run_local(self, db: LocalTarget) -> None:
        raise TypeError(f"{self.kind} is refused, never run")


class TablePatch(Change):
    """A change that only the ``tables.patch`` API can make (DDL cannot): it edits the live REST
    Table resource, and the bigquery engine sends the fields it changed."""

    @abstractmethod
    def patch(self, table: dict[str, Any]) -> str:
        """Make the change in the REST Table resource; return the top-level field it changed."""


@dataclass(frozen=True, kw_only=True)
class ColumnChange(Change):
    """A change to one column or STRUCT field: ``column`` as defined (as live for a drop),
    ``actual`` as live, ``path`` its dotted name (the column's name at the top level)."""

    column: Column
    actual: Column | None = None
    path: str = ""

    def __post_init__(self) -> None:
        if not self.path:
            object.__setattr__(self, "path", self.column.name)

    @property
    def subject(self) -> str:
        return f"{self.target}.{self.path}"

    def drift(self, kind: str, problem: str, fix: str = "", expected: Any = None, actual: Any = None) -> Drift:
        return Drift(kind, self.subject, problem, fix, expected, actual, column=self.path, line=self.column.line)


def mismatch(label: str, expected: object, actual: object) -> str:
    """``default is none, expected 3``: the problem text of a property that differs."""
    return f"{label} is {actual if actual is not None else 'none'}, expected {expected if expected is not None else 'none'}"


Options = tuple[tuple[str, object, object], ...]  # (name, desired, actual) of options that differ


def option_diff(desired: Table | Dataset, actual: Table | Dataset, names: Iterable[str]) -> Options:
    """(name, desired, actual) of each option that differs."""
    out = []
    for name in names:
        want, have = getattr(desired, name), getattr(actual, name)
        if (want or None) != (have or None):  # unset and false/empty are the same thing to BigQuery
            out.append((name, want, have))
    return tuple(out)


def options_drifts(change: Change, options: Options) -> list[Drift]:
    """One finding per option; a description has a finding kind of its own."""
    out = []
    for name, want, have in options:
        kind = "description_mismatch" if name == "description" else "option_mismatch"
        out.append(
            Drift(
                kind,
                change.target,
                f"{name} is {have!r}, expected {want!r}",
                "sets it",
                want,
                have,
                column=name if kind == "option_mismatch" else None,
            )
        )
    return out
