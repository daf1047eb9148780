"""Row- and column-level security in the model: a table's tenant isolation (one lookup-table row
access policy plus the TRUE-filter policy of bqmanage's own principal) and policy tag names.

One subquery policy over a mapping table (tenant_id, member) replaces one policy per tenant and
BigQuery's 400 policies per table (reference/bigquery-facts.md §11, landscape.md §6): granting a
tenant access is a row of the mapping table, not a policy. DML on a table with row access policies
is filtered like a query, so bqmanage's principal (the target's ``writer``) gets a ``TRUE`` filter,
or backfills and resets would see no rows (facts §11, "the TRUE filter").
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from bqmanage.model.names import quote, string_literal

# The names of the two policies bqmanage keeps on an isolated table.
ISOLATION_POLICY = "bqmanage_tenant_isolation"
WRITER_POLICY = "bqmanage_writer"
# Who the isolation policy is granted to when the definition names nobody: every signed-in
# principal, since the filter (the mapping table) is what admits a row; a principal in no
# policy's grantee list sees no rows at all (facts §11).
DEFAULT_GRANTEES = ("allAuthenticatedUsers",)
# The local engine's writer when its target names none: `.invalid` is reserved, no real account.
LOCAL_WRITER = "serviceAccount:bqmanage@local.invalid"
# The mapping table's columns.
MEMBER_COLUMN = "member"
TENANT_COLUMN = "tenant_id"

# https://cloud.google.com/bigquery/docs/reference/rest/v2/tables#policytaglist
POLICY_TAG = re.compile(r"projects/[^/\s]+/locations/[^/\s]+/taxonomies/[^/\s]+/policyTags/[^/\s]+\Z")
# A grantee of a row access policy, as GRANT TO spells it
# (https://cloud.google.com/bigquery/docs/reference/standard-sql/data-definition-language#create_row_access_policy_statement).
_GRANTEE = re.compile(r"((user|group|serviceAccount|domain):[^\s\"'\\]+|allAuthenticatedUsers|allUsers)\Z")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RowAccess(_Frozen):
    """A table's declared isolation: rows whose ``tenant_column`` is a tenant the session user is a
    member of in ``members`` (a "dataset.table" with columns tenant_id, member)."""

    tenant_column: str
    members: str
    # The member a tenant's rows are granted to, written to the mapping table by `tenant add`.
    member: str
    grant_to: tuple[str, ...] = DEFAULT_GRANTEES
    # bqmanage's own principal (the target's ``writer`` setting), filled in from the settings
    # before the plan; None when the target names none (then the plan refuses).
    writer: str | None = None
    # The project that qualifies the mapping table in the filter (the target's), filled in with
    # ``writer``: a filter names its lookup table as BigQuery must resolve it.
    project: str | None = None
    line: int | None = Field(default=None, repr=False)  # of ``members`` in the definition

    def member_of(self, tenant: str) -> str:
        return self.member.replace("{tenant}", tenant)


class RowAccessPolicy(_Frozen):
    """One row access policy: its name, filter (GoogleSQL) and grantees, as declared or live."""

    name: str
    filter: str
    grantees: tuple[str, ...] = ()

    def key(self, with_grantees: bool = True) -> tuple[object, ...]:
        return (normalize_filter(self.filter), tuple(sorted(self.grantees)) if with_grantees else ())


def normalize_filter(text: str) -> str:
    """Whitespace and case of keywords do not make two filters differ; a literal's case would, so
    only whitespace outside quotes is folded."""
    return " ".join(text.split())


def isolation_filter(access: RowAccess) -> str:
    """``tenant_id IN (SELECT tenant_id FROM members WHERE member = SESSION_USER())``."""
    dataset, table = access.members.split(".", 1)
    members = ".".join(quote(p) for p in ([access.project] if access.project else []) + [dataset, table])
    return (
        f"{quote(access.tenant_column)} IN (SELECT {quote(TENANT_COLUMN)} FROM {members} "
        f"WHERE {quote(MEMBER_COLUMN)} = SESSION_USER())"
    )


def declared_policies(access: RowAccess) -> tuple[RowAccessPolicy, ...]:
    """The policies an isolated table must have: the writer's TRUE filter first (so that DML never
    meets a table it cannot see), then the isolation filter."""
    out = []
    if access.writer is not None:
        out.append(RowAccessPolicy(name=WRITER_POLICY, filter="TRUE", grantees=(access.writer,)))
    out.append(RowAccessPolicy(name=ISOLATION_POLICY, filter=isolation_filter(access), grantees=access.grant_to))
    return tuple(out)


def create_policy_sql(policy: RowAccessPolicy, table_sql: str) -> str:
    """CREATE OR REPLACE ROW ACCESS POLICY: idempotent, and it replaces a policy altered by hand."""
    grantees = ", ".join(string_literal(g) for g in policy.grantees)
    return (
        f"CREATE OR REPLACE ROW ACCESS POLICY {quote(policy.name)}\n"
        f"  ON {table_sql}\n  GRANT TO ({grantees})\n  FILTER USING ({policy.filter})"
    )


_EMAIL = re.compile(r"[^\s@:\"'\\]+@[^\s@:\"'\\]+\Z")


def member_problem(member: str) -> str | None:
    """A mapping table's member is compared with SESSION_USER(), which is an email address
    (no ``user:`` prefix; a group never equals it)."""
    if _EMAIL.match(member):
        return None
    return f"member {member!r} must be an email address, as SESSION_USER() returns it (no user: or group: prefix)"


def grantee_problem(grantee: str) -> str | None:
    if _GRANTEE.match(grantee):
        return None
    return (
        f"grantee {grantee!r} must be user:EMAIL, group:EMAIL, serviceAccount:EMAIL, domain:DOMAIN, "
        "allAuthenticatedUsers or allUsers"
    )


def policy_tag_problem(name: str) -> str | None:
    if POLICY_TAG.match(name):
        return None
    return f"policy tag {name!r} must be projects/P/locations/L/taxonomies/T/policyTags/ID"
