"""Dataset access entries: who may read or write a dataset, as the definitions and BigQuery say it.

A member is written ``kind:id`` as in IAM policies (``group:acme-readers@example.com``), plus two
forms for what BigQuery authorizes instead of a principal: ``view:project.dataset.table`` and
``dataset:project.dataset`` (an authorized view or dataset, which take no role). The REST form is
the Dataset resource's ``access`` list (https://cloud.google.com/bigquery/docs/reference/rest/v2/datasets#Dataset).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bqmanage.errors import WarehouseError
from bqmanage.terminal import printable

# The basic roles BigQuery stores for the predefined dataset roles: setting
# roles/bigquery.dataViewer reads back as READER (https://cloud.google.com/bigquery/docs/reference/rest/v2/datasets#Dataset,
# access[].role).
BASIC_ROLES = ("OWNER", "WRITER", "READER")
_ROLE_ALIASES = {
    "roles/bigquery.dataowner": "OWNER",
    "roles/bigquery.dataeditor": "WRITER",
    "roles/bigquery.dataviewer": "READER",
}
_IAM_ROLE = re.compile(r"(roles/[A-Za-z0-9_.]+|projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/roles/[A-Za-z0-9_.]+)")
# An email address and a domain name, as the standards define them: the local part is dot-atom
# text (RFC 5322 3.4.1: no leading, trailing or doubled dot) of at most 64 characters (RFC 5321
# 4.5.3.1.1); a domain is labels of 1 to 63 letters, digits and inner hyphens (RFC 1123 2.1),
# 253 characters at most, ending in a top-level domain of letters.
_LOCAL = re.compile(r"[A-Za-z0-9_%+'-]+(\.[A-Za-z0-9_%+'-]+)*")
_MAX_LOCAL = 64
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"({_LABEL}\.)+[A-Za-z]{{2,63}}")
_MAX_DOMAIN = 253
# A service account's name (the part before @) in its project, NAME@PROJECT.iam.gserviceaccount.com:
# "must be 6-30 characters long, and match the regular expression [a-z]([-a-z0-9]*[a-z0-9])"
# (https://cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts/create, accountId).
# Google's own accounts are named otherwise: service agents (service-NUMBER@gcp-sa-*.iam...,
# https://cloud.google.com/iam/docs/service-agents) and the default accounts of
# @developer/@appspot/@cloudservices.gserviceaccount.com, so the rule holds for the others only.
_SA_NAME = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_SA_LENGTH = (6, 30)
_SA_IN_PROJECT = ".iam.gserviceaccount.com"
_PROJECT = r"[a-z][a-z0-9-]{4,28}[a-z0-9]|[a-z0-9.-]+:[a-z][a-z0-9-]{4,28}[a-z0-9]"  # domain-scoped too
_NAME = r"[A-Za-z0-9_]{1,1024}"
_VIEW = re.compile(rf"(?P<p>{_PROJECT})\.(?P<d>{_NAME})\.(?P<t>[^.]{{1,1024}})")
_DATASET = re.compile(rf"(?P<p>{_PROJECT})\.(?P<d>{_NAME})")
# The special groups of the access list (https://cloud.google.com/bigquery/docs/reference/rest/v2/datasets#Dataset).
SPECIAL_GROUPS = ("projectOwners", "projectReaders", "projectWriters", "allAuthenticatedUsers")
# What BigQuery puts in a new dataset's list on its own: not a grant anybody made, so a dataset
# whose access is not exclusive does not report them.
PROJECT_GROUPS = ("specialGroup:projectOwners", "specialGroup:projectReaders", "specialGroup:projectWriters")
# Authorized resources per dataset access list: https://cloud.google.com/bigquery/docs/authorized-datasets
# ("up to 2,500 authorized resources"), bigquery-facts.md §11.
MAX_AUTHORIZED = 2500
EMAIL_KINDS = ("user", "group", "serviceAccount")
AUTHORIZED_KINDS = ("view", "dataset")
KINDS = (*EMAIL_KINDS, "domain", "specialGroup", *AUTHORIZED_KINDS)
# The kinds a ``members_from`` value may be (``kinds:`` of the entry): principals only. Without
# ``kinds:`` a registry value must name one account or group by its email address; a domain or a
# special group (everyone signed in) reaches far more than one tenant's readers, so only a
# definition that lists the kind lets a registry row grant it.
PRINCIPAL_KINDS = (*EMAIL_KINDS, "domain", "specialGroup")
DEFAULT_MEMBERS_FROM_KINDS = EMAIL_KINDS


class AccessEntry(BaseModel):
    """One entry of a dataset's access list. In a dataset template ``member`` may hold ``{tenant}``,
    or ``members_from`` name the registry column (``tenant_profiles.reader_group``) that holds each
    tenant's member; a tenant's copy carries its ``tenant`` until the registry value is read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: str | None = None
    member: str | None = None
    members_from: str | None = None
    # The member kinds a ``members_from`` value may be; () means DEFAULT_MEMBERS_FROM_KINDS.
    kinds: tuple[str, ...] = ()
    tenant: str | None = Field(default=None, repr=False)
    line: int | None = Field(default=None, repr=False)

    @property
    def kind(self) -> str:
        return (self.member or "").partition(":")[0]

    @property
    def key(self) -> tuple[str | None, str]:
        """What makes two entries the same grant: emails compare case-insensitively."""
        kind, _, ident = (self.member or "").partition(":")
        return (self.role, f"{kind}:{ident.lower()}" if kind in (*EMAIL_KINDS, "domain") else self.member or "")

    def text(self) -> str:
        """The entry on one line: a live entry's text is the warehouse's, escaped (``printable``)."""
        member = printable(self.member)
        return f"{printable(self.role)} {member}" if self.role else f"authorized {member}"


def canonical_role(role: str) -> str:
    """The role as BigQuery reads it back: the predefined dataset roles are its basic roles."""
    upper = role.upper()
    return upper if upper in BASIC_ROLES else _ROLE_ALIASES.get(role.lower(), role)


def role_problem(role: str | None, member: str) -> str | None:
    """Why ``role`` cannot go with ``member`` in an access entry, or None."""
    kind = member.partition(":")[0]
    if kind in AUTHORIZED_KINDS:
        return None if role is None else f"an authorized {kind} takes no role (got {role!r})"
    if role is None:
        return f"access entry for {member!r} needs a role: OWNER, WRITER, READER or an IAM role (roles/...)"
    if role.upper() in BASIC_ROLES or _IAM_ROLE.fullmatch(role):
        return None
    return f"unknown role {role!r}: use OWNER, WRITER, READER, roles/<name> or projects/<project>/roles/<name>"


def member_problem(member: str) -> str | None:
    """Why ``member`` cannot exist as an access entry's member, or None."""
    kind, colon, ident = member.partition(":")
    if not colon or kind not in KINDS:
        return f"member {member!r} must be <kind>:<id> with kind one of {', '.join(KINDS)}"
    if kind in EMAIL_KINDS and (why := _email_problem(ident)) is not None:
        return f"member {member!r}: {ident!r} is not an email address ({why})"
    if kind == "serviceAccount" and (why := _service_account_problem(ident)) is not None:
        return f"member {member!r}: {why}"
    if kind == "domain" and not _is_domain(ident):
        return f"member {member!r}: {ident!r} is not a domain name"
    if kind == "specialGroup" and ident not in SPECIAL_GROUPS:
        return f"member {member!r}: special groups are {', '.join(SPECIAL_GROUPS)}"
    if kind == "view" and not _VIEW.fullmatch(ident):
        return f"member {member!r}: an authorized view is named project.dataset.view"
    if kind == "dataset" and not _DATASET.fullmatch(ident):
        return f"member {member!r}: an authorized dataset is named project.dataset"
    return None


def _is_domain(text: str) -> bool:
    return len(text) <= _MAX_DOMAIN and _DOMAIN.fullmatch(text) is not None


def _email_problem(address: str) -> str | None:
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return "an address is name@domain"
    if len(local) > _MAX_LOCAL:
        return f"the part before @ is {len(local)} characters long, more than {_MAX_LOCAL}"
    if not _LOCAL.fullmatch(local):
        return "the part before @ holds a character an address may not, or a dot at its start, its end or twice in a row"
    if not _is_domain(domain):
        return f"{domain!r} is not a domain name"
    return None


def _service_account_problem(address: str) -> str | None:
    name, _, domain = address.rpartition("@")
    domain = domain.lower()
    if not domain.endswith(".gserviceaccount.com"):
        return "a service account's email ends in .gserviceaccount.com"
    if not domain.endswith(_SA_IN_PROJECT) or domain.startswith("gcp-sa-"):
        return None  # one of Google's own accounts, named by Google
    low, high = _SA_LENGTH
    if not low <= len(name) <= high:
        return f"a service account's name (before @) is {low} to {high} characters; {name!r} has {len(name)}"
    if not _SA_NAME.fullmatch(name):
        return (
            f"a service account's name (before @) is lowercase letters, digits and hyphens, starting with a letter "
            f"and not ending with a hyphen; {name!r} is not"
        )
    return None


def registry_member_problem(value: str, kinds: tuple[str, ...] = ()) -> str | None:
    """Why a ``members_from`` registry value cannot be granted, or None: it must be one member of
    one of ``kinds`` (default: an email principal, DEFAULT_MEMBERS_FROM_KINDS)."""
    if (why := member_problem(value)) is not None:
        return why
    allowed = kinds or DEFAULT_MEMBERS_FROM_KINDS
    if (kind := value.partition(":")[0]) not in allowed:
        return (
            f"a {kind}: member is not one of the kinds the template allows here ({', '.join(allowed)}); "
            "list it in the entry's kinds: to grant it"
        )
    return None


def entry_to_api(entry: AccessEntry) -> dict[str, Any]:
    """An entry as the REST access list holds it (service accounts are ``userByEmail`` there)."""
    kind, _, ident = (entry.member or "").partition(":")
    if kind == "view":
        m = _VIEW.fullmatch(ident)
        assert m is not None
        return {"view": {"projectId": m["p"], "datasetId": m["d"], "tableId": m["t"]}}
    if kind == "dataset":
        m = _DATASET.fullmatch(ident)
        assert m is not None
        return {"dataset": {"dataset": {"projectId": m["p"], "datasetId": m["d"]}, "targetTypes": ["VIEWS"]}}
    field = {"user": "userByEmail", "serviceAccount": "userByEmail", "group": "groupByEmail"}.get(kind, kind)
    return {"role": entry.role, field: ident}


def entry_from_api(item: dict[str, Any]) -> AccessEntry:
    """A REST access entry -> AccessEntry. Kinds bqmanage does not declare (iamMember, routine)
    keep their REST name, so that they are reported and imported, never lost."""
    role = canonical_role(item["role"]) if item.get("role") else None
    if view := item.get("view"):
        return AccessEntry(member=f"view:{view.get('projectId')}.{view.get('datasetId')}.{view.get('tableId')}")
    if (target := item.get("dataset")) and isinstance(target, dict):
        ref = target.get("dataset") or {}
        return AccessEntry(member=f"dataset:{ref.get('projectId')}.{ref.get('datasetId')}")
    if routine := item.get("routine"):
        return AccessEntry(member=f"routine:{routine.get('projectId')}.{routine.get('datasetId')}.{routine.get('routineId')}")
    if email := item.get("userByEmail"):
        kind = "serviceAccount" if str(email).lower().endswith(".gserviceaccount.com") else "user"
        return AccessEntry(role=role, member=f"{kind}:{email}")
    pairs = (("groupByEmail", "group"), ("domain", "domain"), ("specialGroup", "specialGroup"), ("iamMember", "iamMember"))
    for field, kind in pairs:
        if value := item.get(field):
            return AccessEntry(role=role, member=f"{kind}:{value}")
    return AccessEntry(role=role, member="unknown:" + ",".join(sorted(k for k in item if k != "role")))


def access_from_api(resource: dict[str, Any]) -> tuple[AccessEntry, ...] | None:
    """A Dataset resource's access list; None when the resource was read without it
    (datasets.list, INFORMATION_SCHEMA), which is not the same as an empty list. A whole resource
    (datasets.get: it has an etag) leaves ``access`` out when the list is empty (bqemulator does)."""
    items = resource.get("access")
    if items is None:
        return () if resource.get("etag") else None
    try:
        if not isinstance(items, list):
            raise TypeError(type(items).__name__)
        return tuple(entry_from_api(i) for i in items)
    except (KeyError, TypeError, AttributeError) as exc:  # a list of entries of other types
        raise WarehouseError(
            f"dataset {printable(resource.get('id'))}: its access list is malformed ({printable(exc)}): "
            "the endpoint does not answer as the BigQuery API"
        ) from None
