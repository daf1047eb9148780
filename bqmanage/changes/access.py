"""Change kinds of a dataset's access list: grant and revoke what the definition declares, and
report what it does not.

BigQuery keeps a dataset's grants in one list that an update replaces whole
(googleapis/python-bigquery#569), so a step never sends a list computed here: it names the entries
to add and to remove, and the engine merges them into the list it has just read, sent back with
that read's etag (engines/bq_access.py). Entries the definition does not declare stay, unless the
dataset says ``access_exclusive: true``; BigQuery's own project groups are not reported then.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from bqmanage.changes.base import Change, Drift, LocalTarget, Rendered
from bqmanage.model.access import PROJECT_GROUPS, AccessEntry, entry_to_api
from bqmanage.model.schema import Dataset

DATASETS_PATCH = "datasets.patch"
_NAMED = 5  # the members a step's one-line description names


Entries = list[AccessEntry]


def access_delta(desired: Dataset, actual: tuple[AccessEntry, ...]) -> tuple[Entries, Entries, Entries]:
    """(to grant, to revoke, left alone) between a dataset's declared entries and its live list.
    A ``members_from`` entry whose registry value is not known (yet, or NULL) declares nothing."""
    declared = [e for e in desired.access or () if e.member]
    live = {e.key for e in actual}
    wanted = {e.key for e in declared}
    grant = [e for e in declared if e.key not in live]
    others = [e for e in actual if e.key not in wanted]
    if desired.access_exclusive:
        return grant, others, []
    return grant, [], [e for e in others if e.member not in PROJECT_GROUPS]


@dataclass(frozen=True, kw_only=True)
class SetDatasetAccess(Change):
    """A declared entry is not in the live list (granted), or a live one is not declared on a dataset
    whose access is exclusive (revoked)."""

    kind: ClassVar[str] = "set_dataset_access"
    order: ClassVar[int] = 20
    grant: tuple[AccessEntry, ...] = ()
    revoke: tuple[AccessEntry, ...] = ()
    created: bool = False  # the dataset is created in the same plan: check says missing_dataset alone

    @classmethod
    def on_dataset(cls, desired: Dataset, actual: Dataset | None, unobservable: frozenset[str]) -> Iterator[Change]:
        if desired.access is None or "access" in unobservable:
            return
        if actual is None:
            if declared := tuple(e for e in desired.access if e.member):
                yield SetDatasetAccess(dataset=desired.name, table=None, grant=declared, created=True)
            return
        if actual.access is None:  # read without its access list (a bulk read): re-read, not compared
            return
        grant, revoke, _ = access_delta(desired, actual.access)
        if grant or revoke:
            yield SetDatasetAccess(dataset=desired.name, table=None, grant=tuple(grant), revoke=tuple(revoke))

    def describe(self) -> str:
        parts = [f"grant {len(self.grant)}" if self.grant else "", f"revoke {len(self.revoke)}" if self.revoke else ""]
        noun = "entry" if len(self.grant) + len(self.revoke) == 1 else "entries"
        # Which members, escaped (e.text()): a grant's line says whom it opens the dataset to.
        named = [f"grant {e.text()}" for e in self.grant] + [f"revoke {e.text()}" for e in self.revoke]
        more = f" and {len(named) - _NAMED} more" if len(named) > _NAMED else ""
        return f"{' and '.join(p for p in parts if p)} access {noun} on {self.dataset} ({', '.join(named[:_NAMED])}{more})"

    def render(self, project: str | None) -> dict[str, Any]:
        return {
            "method": DATASETS_PATCH,
            "dataset": self.dataset,
            "grant": [entry_to_api(e) for e in self.grant],
            "revoke": [entry_to_api(e) for e in self.revoke],
        }

    @classmethod
    def render_group(cls, changes: Sequence[Self], project: str | None) -> Rendered:
        (change,) = changes
        detail = tuple(f"grant {e.text()}" for e in change.grant) + tuple(f"revoke {e.text()}" for e in change.revoke)
        return Rendered(change.describe(), api=change.render(project), detail=detail)

    def drifts(self) -> list[Drift]:
        if self.created:
            return []
        subject = f"{self.dataset} access"
        out = [
            Drift("missing_grant", subject, f"{e.text()} is not granted", "grants it", expected=e.text(), line=e.line)
            for e in self.grant
        ]
        out += [
            Drift("unexpected_grant", subject, f"{e.text()} is granted but not declared", "revokes it", actual=e.text())
            for e in self.revoke
        ]
        return out

    def run_local(self, db: LocalTarget) -> None:
        db.set_access(self.dataset, self.grant, self.revoke)


@dataclass(frozen=True, kw_only=True)
class UnmanagedGrants(Change):
    """Live entries a dataset does not declare, on a dataset whose access is not exclusive: left
    alone (another owner may manage them) and reported, never a step."""

    kind: ClassVar[str] = "unmanaged_grants"
    order: ClassVar[int] = 21
    report_only: ClassVar[bool] = True
    entries: tuple[AccessEntry, ...] = ()

    @classmethod
    def on_dataset(cls, desired: Dataset, actual: Dataset | None, unobservable: frozenset[str]) -> Iterator[Change]:
        if desired.access is None or actual is None or actual.access is None or "access" in unobservable:
            return
        if left := access_delta(desired, actual.access)[2]:
            yield UnmanagedGrants(dataset=desired.name, table=None, entries=tuple(left))

    def describe(self) -> str:
        return f"leave {len(self.entries)} undeclared access entries on {self.dataset}"

    def render(self, project: str | None) -> str:
        return f"-- {self.describe()}"

    def drifts(self) -> list[Drift]:
        return [
            Drift(
                "unexpected_grant",
                f"{self.dataset} access",
                f"{e.text()} is granted but not declared",
                "leaves it (the dataset's access is not exclusive: declare it, or set access_exclusive: true)",
                actual=e.text(),
            )
            for e in self.entries
        ]

    def run_local(self, db: LocalTarget) -> None:
        return None
