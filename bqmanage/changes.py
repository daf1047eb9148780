"""Typed changes produced by diff. Each one knows whether BigQuery can make it in place.

One name per operation in every layer: ``AddColumn`` <-> ``render.add_columns_sql`` <-> ``"add_column"``.
Refusals carry a stable code, the reason and a manual path (cf. atlas DS103).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bqmanage.model import Column, Dataset, Table


@dataclass(frozen=True)
class Refusal:
    code: str
    reason: str
    suggestion: str


@dataclass(frozen=True, kw_only=True)
class Change:
    kind: ClassVar[str] = "change"
    dataset: str
    table: str | None

    @property
    def target(self) -> str:
        return f"{self.dataset}.{self.table}" if self.table else self.dataset

    def refusal(self) -> Refusal | None:
        """None when BigQuery can make the change in place."""
        return None

    @property
    def is_safe(self) -> bool:
        return self.refusal() is None

    def describe(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class CreateDataset(Change):
    kind: ClassVar[str] = "create_dataset"
    desired: Dataset

    def describe(self) -> str:
        return f"create dataset {self.dataset}"


@dataclass(frozen=True, kw_only=True)
class SetDatasetOptions(Change):
    kind: ClassVar[str] = "set_dataset_options"
    options: tuple[tuple[str, object, object], ...] = ()  # (name, desired, actual)

    def describe(self) -> str:
        return f"set dataset options {', '.join(o[0] for o in self.options)} on {self.dataset}"


@dataclass(frozen=True, kw_only=True)
class CreateTable(Change):
    kind: ClassVar[str] = "create_table"
    desired: Table

    def describe(self) -> str:
        return f"create table {self.target} ({len(self.desired.columns)} columns)"


@dataclass(frozen=True, kw_only=True)
class ColumnChange(Change):
    column: Column  # the desired column
    actual: Column | None = None


@dataclass(frozen=True, kw_only=True)
class AddColumn(ColumnChange):
    kind: ClassVar[str] = "add_column"

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


@dataclass(frozen=True, kw_only=True)
class AddField(ColumnChange):
    """A new field inside an existing STRUCT column; only tables.patch can add it."""

    kind: ClassVar[str] = "add_field"
    path: str = ""

    def refusal(self) -> Refusal | None:
        if self.column.mode == "REQUIRED":
            return Refusal("BQM101", f"field {self.path} is REQUIRED; BigQuery cannot add a REQUIRED field to an existing record",
                           "declare the field NULLABLE")
        return None

    def describe(self) -> str:
        return f"add field {self.path} {self.column.type_sql()} to {self.target}"


@dataclass(frozen=True, kw_only=True)
class SetDefault(ColumnChange):
    kind: ClassVar[str] = "set_default"

    def describe(self) -> str:
        was = (self.actual.default if self.actual else None) or "none"
        return f"set default of {self.target}.{self.column.name} to {self.column.default} (was {was})"


@dataclass(frozen=True, kw_only=True)
class DropDefault(ColumnChange):
    kind: ClassVar[str] = "drop_default"

    def describe(self) -> str:
        return f"drop default {self.actual.default if self.actual else ''} of {self.target}.{self.column.name}"


@dataclass(frozen=True, kw_only=True)
class RelaxColumn(ColumnChange):
    kind: ClassVar[str] = "relax_column"

    def describe(self) -> str:
        return f"relax {self.target}.{self.column.name} from REQUIRED to NULLABLE"


@dataclass(frozen=True, kw_only=True)
class WidenType(ColumnChange):
    kind: ClassVar[str] = "widen_type"

    def describe(self) -> str:
        was = self.actual.type_sql() if self.actual else "?"
        return f"widen {self.target}.{self.column.name} from {was} to {self.column.type_sql()}"


@dataclass(frozen=True, kw_only=True)
class SetColumnDescription(ColumnChange):
    kind: ClassVar[str] = "set_column_description"

    def describe(self) -> str:
        return f"set description of {self.target}.{self.column.name}"


@dataclass(frozen=True, kw_only=True)
class SetTableOptions(Change):
    kind: ClassVar[str] = "set_table_options"
    options: tuple[tuple[str, object, object], ...] = ()  # (name, desired, actual)

    def describe(self) -> str:
        return f"set table options {', '.join(o[0] for o in self.options)} on {self.target}"


@dataclass(frozen=True, kw_only=True)
class SetClustering(Change):
    kind: ClassVar[str] = "set_clustering"
    desired_fields: tuple[str, ...] = ()
    actual_fields: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"set clustering of {self.target} to ({', '.join(self.desired_fields) or 'none'})"


# ---- changes BigQuery cannot make in place: always refused ----


@dataclass(frozen=True, kw_only=True)
class ChangeType(ColumnChange):
    kind: ClassVar[str] = "change_type"
    path: str = ""

    def refusal(self) -> Refusal | None:
        was = self.actual.type_sql() if self.actual else "?"
        return Refusal(
            "BQM102",
            f"{self.path or self.column.name}: {was} -> {self.column.type_sql()} is not a widening BigQuery allows in place",
            "add a new column of the new type and backfill it, or rebuild with CREATE TABLE ... AS SELECT CAST(...)",
        )

    def describe(self) -> str:
        return f"change type of {self.target}.{self.path or self.column.name}"


@dataclass(frozen=True, kw_only=True)
class ChangeMode(ColumnChange):
    kind: ClassVar[str] = "change_mode"
    path: str = ""

    def refusal(self) -> Refusal | None:
        was = self.actual.mode if self.actual else "?"
        return Refusal(
            "BQM103",
            f"{self.path or self.column.name}: mode {was} -> {self.column.mode}; BigQuery only relaxes REQUIRED to NULLABLE",
            "keep the column NULLABLE and enforce the rule in writers, or rebuild the table",
        )

    def describe(self) -> str:
        return f"change mode of {self.target}.{self.path or self.column.name}"


@dataclass(frozen=True, kw_only=True)
class ChangePartitioning(Change):
    kind: ClassVar[str] = "change_partitioning"
    desired_spec: str = ""
    actual_spec: str = ""

    def refusal(self) -> Refusal | None:
        return Refusal(
            "BQM104",
            f"partitioning {self.actual_spec} -> {self.desired_spec}; BigQuery fixes partitioning at creation",
            "create a new table with the new partitioning, copy the rows with INSERT ... SELECT, then swap names",
        )

    def describe(self) -> str:
        return f"change partitioning of {self.target}"


@dataclass(frozen=True, kw_only=True)
class DropColumn(ColumnChange):
    kind: ClassVar[str] = "drop_column"
    path: str = ""

    def refusal(self) -> Refusal | None:
        name = self.path or self.column.name
        return Refusal(
            "BQM105",
            f"column {name} is live but not in the definitions; bqmanage never drops data",
            f"add {name} to the definitions, or drop it yourself: ALTER TABLE ... DROP COLUMN {name} "
            "(restorable for the time-travel window); a rename is ALTER TABLE ... RENAME COLUMN",
        )

    def describe(self) -> str:
        return f"drop column {self.target}.{self.path or self.column.name}"
