"""Change kinds of row- and column-level security: a row access policy missing or altered by hand
(made by ``CREATE OR REPLACE ROW ACCESS POLICY``, idempotent), isolation removed from a definition
(refused: BigQuery keeps the policies until they are dropped by hand), and a column's policy tags
(set in the table's one ``tables.patch``).

Rules from reference/bigquery-facts.md §11: DML on a table with row access policies needs a
``TRUE``-filter policy for the principal that runs it, so the writer's policy is made before the
isolation policy; ``DROP ROW ACCESS POLICY`` cannot remove a table's last policy, so removing
isolation is ``DROP ALL ROW ACCESS POLICIES``, a manual step.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from bqmanage.changes.base import Change, ColumnAt, Drift, LocalTarget, Refusal, Refused
from bqmanage.changes.fields import schema_field
from bqmanage.changes.patch import ColumnPatch
from bqmanage.model.row_access import ISOLATION_POLICY, WRITER_POLICY, RowAccessPolicy, create_policy_sql, declared_policies
from bqmanage.model.schema import Column, Table

# What Capabilities.unobservable names: an engine that cannot list a table's row access policies,
# or that lists them without their grantees (INFORMATION_SCHEMA.ROW_ACCESS_POLICIES has none).
ROW_ACCESS = "row_access"
ROW_ACCESS_GRANTEES = "row_access_grantees"
POLICY_TAGS = "policy_tags"


@dataclass(frozen=True, kw_only=True)
class SetRowAccessPolicy(Change):
    """A row access policy an isolated table must have is missing, or differs (altered by hand)."""

    kind: ClassVar[str] = "set_row_access_policy"
    order: ClassVar[int] = 115  # after the table exists and its columns; before the backfill's DML
    is_metadata: ClassVar[bool] = False  # policies have limits of their own (facts §11), not the table's
    policy: RowAccessPolicy
    live: RowAccessPolicy | None = None
    writer_missing: bool = False

    @classmethod
    def on_table(cls, desired: Table, actual: Table | None, unobservable: frozenset[str]) -> Iterator[Change]:
        access = desired.row_access
        # An engine that cannot hold policies (bqemulator) gets none: its gap, documented.
        if access is None or ROW_ACCESS in unobservable or (actual is not None and actual.row_access_policies is None):
            return
        live = {p.name.lower(): p for p in ((actual.row_access_policies or ()) if actual is not None else ())}
        grantees = ROW_ACCESS_GRANTEES not in unobservable
        for policy in declared_policies(access):
            found = live.get(policy.name.lower())
            if found is None or found.key(grantees) != policy.key(grantees):
                yield SetRowAccessPolicy(dataset=desired.dataset, table=desired.name, policy=policy, live=found)
        if access.writer is None:
            # Without the writer's TRUE filter, every backfill and reset on the table sees no rows.
            yield SetRowAccessPolicy(
                dataset=desired.dataset,
                table=desired.name,
                policy=RowAccessPolicy(name=WRITER_POLICY, filter="TRUE"),
                live=live.get(WRITER_POLICY),
                writer_missing=True,
            )

    def refusal(self) -> Refusal | None:
        if not self.writer_missing:
            return None
        return Refusal(
            "BQM120",
            f"{self.target} isolates tenants by row access policy, and the target names no writer: DML on it "
            "(backfills, resets, tenant rows) needs a TRUE-filter policy for the principal bqmanage runs as",
            "set `writer: serviceAccount:NAME@PROJECT.iam.gserviceaccount.com` on the target in bqmanage.yaml "
            "(it defaults to `impersonate_service_account`, else to the account the credentials are)",
        )

    def describe(self) -> str:
        what = "create" if self.live is None else "replace (it differs)"
        return f"{what} row access policy {self.policy.name} on {self.target}"

    def render(self, project: str | None) -> str:
        return create_policy_sql(self.policy, self.ref.sql(project))

    def drifts(self) -> list[Drift]:
        if self.live is None:
            return [
                Drift(
                    "row_access_policy_missing",
                    self.target,
                    f"row access policy {self.policy.name} is missing",
                    "creates it",
                    expected=self.policy.filter,
                    column=self.policy.name,
                )
            ]
        expected = {"filter": self.policy.filter, "grantees": list(self.policy.grantees)}
        actual = {"filter": self.live.filter, "grantees": list(self.live.grantees)}
        return [
            Drift(
                "row_access_policy_differs",
                self.target,
                f"row access policy {self.policy.name} is {_shown(self.live)}, expected {_shown(self.policy)}",
                "replaces it",
                expected=expected,
                actual=actual,
                column=self.policy.name,
            )
        ]

    def run_local(self, db: LocalTarget) -> None:
        db.set_row_access_policy(self.ref, self.policy)


def _shown(policy: RowAccessPolicy) -> str:
    return f"FILTER USING ({policy.filter}) GRANT TO ({', '.join(policy.grantees)})"


@dataclass(frozen=True, kw_only=True)
class RemoveRowAccess(Refused):
    """A live table has bqmanage's isolation policy and its definition no longer declares
    ``row_access``: lifting isolation is not something to do as a side effect of an edit."""

    kind: ClassVar[str] = "remove_row_access"

    @classmethod
    def on_table(cls, desired: Table, actual: Table | None, unobservable: frozenset[str]) -> Iterator[Change]:
        live = (actual.row_access_policies or ()) if actual is not None else ()
        if desired.row_access is None and any(p.name.lower() == ISOLATION_POLICY for p in live):
            yield RemoveRowAccess(dataset=desired.dataset, table=desired.name)

    def refusal(self) -> Refusal:
        return Refusal(
            "BQM121",
            f"{self.target} has row access policy {ISOLATION_POLICY} and its definition declares no row_access",
            f"declare row_access again, or lift isolation by hand: DROP ALL ROW ACCESS POLICIES ON {self.target} "
            "(DROP ROW ACCESS POLICY cannot remove a table's last policy)",
        )

    def describe(self) -> str:
        return f"remove row access policies of {self.target}"

    def drifts(self) -> list[Drift]:
        return [
            Drift(
                "row_access_policy_differs",
                self.target,
                f"row access policy {ISOLATION_POLICY} is live, and the definition declares no row_access",
                actual=ISOLATION_POLICY,
                column=ISOLATION_POLICY,
            )
        ]


@dataclass(frozen=True, kw_only=True)
class SetPolicyTags(ColumnPatch):
    """A column's policy tags differ from its definition (a tag removed or changed by hand). Only
    columns whose definition names ``policy_tags`` are compared: others are left to their owner."""

    kind: ClassVar[str] = "set_policy_tags"
    verb: ClassVar[str] = "set the policy tags of"
    observed: ClassVar[str] = POLICY_TAGS

    @classmethod
    def on_column(cls, desired: Column | None, actual: Column | None, at: ColumnAt) -> Iterator[Change]:
        if desired is None or actual is None or desired.policy_tags is None or not at.sees(POLICY_TAGS):
            return
        if sorted(desired.policy_tags) != sorted(actual.policy_tags or ()):
            yield SetPolicyTags(dataset=at.dataset, table=at.table, column=desired, actual=actual, path=at.dotted)

    @property
    def names(self) -> list[str]:
        return list(self.column.policy_tags or ())

    def describe(self) -> str:
        return f"set policy tags of {self.target}.{self.path}"

    def render(self, project: str | None) -> dict[str, Any]:
        return {"method": "tables.patch", "policyTags": {self.path: self.names}}

    def edit(self, field: dict[str, Any]) -> None:
        # Exactly the declared tags; `"names": []` is how BigQuery clears them (facts §11).
        field["policyTags"] = {"names": self.names}

    def applied(self, table: dict[str, Any]) -> bool:
        # A field without tags is read back without the key, not with `"names": []`.
        field = schema_field(table, self.path)
        return field is not None and sorted((field.get("policyTags") or {}).get("names") or ()) == sorted(self.names)

    def detail(self) -> str:
        return f"{self.path}: policyTags = {self.names}"

    def drifts(self) -> list[Drift]:
        expected, actual = self.names, list(self.actual.policy_tags or ()) if self.actual else []
        return [
            self.drift(
                "policy_tags_differ",
                f"policy tags are {actual or 'none'}, expected {expected or 'none'}",
                "sets them",
                expected,
                actual,
            )
        ]

    def run_local(self, db: LocalTarget) -> None:
        db.set_policy_tags(self.ref, self.path, tuple(self.names))
