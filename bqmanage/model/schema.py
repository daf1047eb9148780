"""The one in-memory model of datasets, tables and columns.

Definitions (desired) and the live warehouse (actual) are both read into these frozen models,
already normalised, so that diff compares like with like.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bqmanage.model.access import AccessEntry
from bqmanage.model.names import quote
from bqmanage.model.row_access import RowAccess, RowAccessPolicy
from bqmanage.model.types import TypeSpec, type_params

Mode = Literal["NULLABLE", "REQUIRED", "REPEATED"]
ResetPolicy = Literal["daily", "monthly", "carry", "now", "generated"]
Granularity = Literal["HOUR", "DAY", "MONTH", "YEAR"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Column(Frozen):
    """A column or a STRUCT field. ``type`` is canonical (INT64, STRUCT...); arrays are REPEATED."""

    name: str
    type: str
    mode: Mode = "NULLABLE"
    precision: int | None = None
    scale: int | None = None
    max_length: int | None = None
    range_element: str | None = None
    fields: tuple[Column, ...] = ()
    default: str | None = None
    description: str | None = None
    reset: ResetPolicy | None = None
    # Policy tag resource names (column-level security); None: not managed here, left as live.
    policy_tags: tuple[str, ...] | None = None
    line: int | None = Field(default=None, repr=False)

    @property
    def key(self) -> str:
        """Column names are case-insensitive in BigQuery."""
        return self.name.lower()

    def element_type_sql(self) -> str:
        """The type without the ARRAY wrapper, e.g. ``NUMERIC(10, 2)``."""
        if self.type == "STRUCT":
            inner = ", ".join(f"{quote(f.name)} {f.type_sql()}{_not_null(f)}" for f in self.fields)
            return f"STRUCT<{inner}>"
        if self.type == "RANGE":
            return f"RANGE<{self.range_element}>"
        if self.max_length is not None:
            return f"{self.type}({self.max_length})"
        if self.precision is not None:
            return f"{self.type}({self.precision}, {self.scale or 0})"
        return self.type

    def type_sql(self) -> str:
        """The full GoogleSQL type, ``ARRAY<...>`` for REPEATED columns."""
        element = self.element_type_sql()
        return f"ARRAY<{element}>" if self.mode == "REPEATED" else element

    def shape(self) -> tuple[object, ...]:
        """Everything that makes up the type, for comparisons (names case-folded)."""
        return (
            self.type,
            self.precision,
            self.scale if self.precision is not None else None,
            self.max_length,
            self.range_element,
            tuple((f.key, f.mode, f.shape()) for f in self.fields),
        )


def _not_null(column: Column) -> str:
    return " NOT NULL" if column.mode == "REQUIRED" else ""


def column_from_type(name: str, spec: TypeSpec, mode: Mode = "NULLABLE") -> Column:
    """The column an inline type string describes (``ARRAY<STRUCT<a NUMERIC(10, 2)>>``), as
    INFORMATION_SCHEMA spells live columns. No validation: definitions go through validate_columns."""
    if spec.base == "ARRAY" and spec.element is not None:
        return column_from_type(name, spec.element, "REPEATED")
    precision, scale, max_length = type_params(spec)
    return Column(
        name=name,
        type=spec.base,
        mode=mode,
        precision=precision,
        scale=scale,
        max_length=max_length,
        range_element=spec.range_element,
        fields=tuple(column_from_type(n, s) for n, s in spec.fields),
    )


class RangePartitioning(Frozen):
    start: int
    end: int
    interval: int


class Partitioning(Frozen):
    """Time-unit partitioning on a column, ingestion time (column None) or integer range."""

    column: str | None = None
    granularity: Granularity = "DAY"
    range: RangePartitioning | None = None

    def key(self) -> tuple[object, ...]:
        return (
            self.column.lower() if self.column else None,
            None if self.range else self.granularity,
            self.range,
        )


class QuotaSpec(Frozen):
    """How the daily reset treats a quota table (docs/reset.md)."""

    tenant_column: str
    date_column: str
    strategy: Literal["rollover", "in_place"] = "rollover"
    time_zone: str = "UTC"
    lookback_days: int = 35
    registry: str | None = None
    status_column: str = "status"
    active_status: str = "active"


class TableRef(Frozen):
    dataset: str
    table: str

    def sql(self, project: str | None = None) -> str:
        parts = ([project] if project else []) + [self.dataset, self.table]
        return ".".join(quote(p) for p in parts)

    def __str__(self) -> str:
        return f"{self.dataset}.{self.table}"


class Table(Frozen):
    dataset: str
    name: str
    description: str | None = None
    friendly_name: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    partitioning: Partitioning | None = None
    clustering: tuple[str, ...] = ()
    partition_expiration_days: float | None = None
    require_partition_filter: bool | None = None
    columns: tuple[Column, ...] = ()
    legacy_names: tuple[str, ...] = ()
    quota: QuotaSpec | None = None
    # Tenant isolation by row access policy (declared), and the live policies (None: not read).
    row_access: RowAccess | None = None
    row_access_policies: tuple[RowAccessPolicy, ...] | None = None
    source: str | None = Field(default=None, repr=False)
    line: int | None = Field(default=None, repr=False)

    @property
    def ref(self) -> TableRef:
        return TableRef(dataset=self.dataset, table=self.name)

    def column(self, name: str) -> Column | None:
        key = name.lower()
        return next((c for c in self.columns if c.key == key), None)


class Dataset(Frozen):
    name: str
    description: str | None = None
    location: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    # Declared: None when the definition says nothing of access; live: None when it was not read.
    access: tuple[AccessEntry, ...] | None = None
    # Entries bqmanage does not declare are revoked (True) or left alone and reported (False).
    access_exclusive: bool = False
    source: str | None = Field(default=None, repr=False)
    line: int | None = Field(default=None, repr=False)


class Definitions(Frozen):
    """Everything under schemas/: the desired state.

    Dataset templates (a directory name holding ``{tenant}``) are kept apart from ``datasets`` and
    ``tables``: they name no dataset until ``templates.for_tenants`` expands them for tenants, so
    everything that reads the concrete definitions (diff, render, reset, audit) never sees them.
    """

    datasets: tuple[Dataset, ...]
    tables: tuple[Table, ...]
    digest: str
    templates: tuple[Dataset, ...] = ()
    template_tables: tuple[Table, ...] = ()

    def table(self, dataset: str, name: str) -> Table | None:
        return next((t for t in self.tables if t.dataset == dataset and t.name == name), None)

    def all_datasets(self) -> list[Dataset]:
        """Datasets from dataset files plus any named only by a table, in name order."""
        named = {d.name: d for d in self.datasets}
        for table in self.tables:
            named.setdefault(table.dataset, Dataset(name=table.dataset))
        return [named[k] for k in sorted(named)]


class Warehouse(Frozen):
    """What is live: the actual state, for the datasets the definitions name."""

    datasets: dict[str, Dataset] = Field(default_factory=dict)
    tables: dict[str, Table] = Field(default_factory=dict)  # keyed by "dataset.table"

    def table(self, dataset: str, name: str) -> Table | None:
        return self.tables.get(f"{dataset}.{name}")


def digest_of(texts: list[tuple[str, str]]) -> str:
    """A stable hash of the definition files (path, text), recorded in the ledger."""
    sha = hashlib.sha256()
    for path, text in sorted(texts):
        sha.update(path.encode() + b"\0" + text.encode() + b"\0")
    return sha.hexdigest()[:16]
