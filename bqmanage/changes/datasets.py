"""Change kinds of a dataset: create it, set its options."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from bqmanage.changes.base import Change, Drift, LocalTarget, Options, Refusal, option_diff, options_drifts
from bqmanage.model.locations import canonical_location
from bqmanage.model.schema import Dataset
from bqmanage.render import create_schema_sql, dataset_sql, set_options_sql


@dataclass(frozen=True, kw_only=True)
class CreateDataset(Change):
    """A defined dataset is not live."""

    kind: ClassVar[str] = "create_dataset"
    order: ClassVar[int] = 0
    desired: Dataset

    @classmethod
    def on_dataset(cls, desired: Dataset, actual: Dataset | None, unobservable: frozenset[str]) -> Iterator[Change]:
        if actual is None:
            yield CreateDataset(dataset=desired.name, table=None, desired=desired)

    def describe(self) -> str:
        return f"create dataset {self.dataset}"

    def render(self, project: str | None) -> str:
        return create_schema_sql(self.desired, project)

    def drifts(self) -> list[Drift]:
        return [Drift("missing_dataset", self.dataset, "dataset is missing", "creates it", expected=self.dataset)]

    def run_local(self, db: LocalTarget) -> None:
        db.create_dataset(self.desired)


@dataclass(frozen=True, kw_only=True)
class SetDatasetOptions(Change):
    """A live dataset's description or labels differ from its definition."""

    kind: ClassVar[str] = "set_dataset_options"
    order: ClassVar[int] = 10
    options: Options = ()

    @classmethod
    def on_dataset(cls, desired: Dataset, actual: Dataset | None, unobservable: frozenset[str]) -> Iterator[Change]:
        if actual is None or "dataset_options" in unobservable:
            return
        if options := option_diff(desired, actual, ("description", "labels")):
            yield SetDatasetOptions(dataset=desired.name, table=None, options=options)

    def describe(self) -> str:
        return f"set dataset options {', '.join(o[0] for o in self.options)} on {self.dataset}"

    def render(self, project: str | None) -> str:
        return f"ALTER SCHEMA {dataset_sql(self.dataset, project)} {set_options_sql((n, d) for n, d, _ in self.options)}"

    def drifts(self) -> list[Drift]:
        return options_drifts(self, self.options)

    def run_local(self, db: LocalTarget) -> None:
        db.update_dataset(self.dataset, {name: desired for name, desired, _ in self.options})


@dataclass(frozen=True, kw_only=True)
class LocationMismatch(Change):
    """A live dataset is in another location than its definition says. BigQuery fixes a dataset's
    location at creation (https://cloud.google.com/bigquery/docs/locations#specify_locations),
    so the change is refused; ``check`` reports it, since its tables' jobs then run elsewhere."""

    kind: ClassVar[str] = "location_mismatch"
    order: ClassVar[int] = 1
    expected: str
    actual: str

    @classmethod
    def on_dataset(cls, desired: Dataset, actual: Dataset | None, unobservable: frozenset[str]) -> Iterator[Change]:
        if actual is None or "location" in unobservable or not desired.location or not actual.location:
            return
        if (canonical_location(desired.location) or desired.location) != (canonical_location(actual.location) or actual.location):
            yield LocationMismatch(dataset=desired.name, table=None, expected=desired.location, actual=actual.location)

    def refusal(self) -> Refusal:
        return Refusal(
            "BQM106",
            f"dataset location {self.actual} -> {self.expected}; BigQuery fixes a dataset's location at creation",
            "create the dataset anew in the defined location and copy its tables there, or change the definition",
        )

    def describe(self) -> str:
        return f"move dataset {self.dataset} from {self.actual} to {self.expected}"

    def render(self, project: str | None) -> str:
        return f"-- refused: {self.describe()}"

    def drifts(self) -> list[Drift]:
        problem = f"dataset is in {self.actual}, its definition says {self.expected}"
        return [Drift("location_mismatch", self.dataset, problem, expected=self.expected, actual=self.actual)]

    def run_local(self, db: LocalTarget) -> None:
        return None  # the local engine has one location
