"""The one rule for tenant ids, safe wherever an id is used.

An id goes into query parameters as a value, and into dataset names where a dataset template
holds ``{tenant}`` (``tenant_{tenant}``). Dataset names allow letters, digits and underscores
only, so the rule is the strictest of the two, plus the hyphen that tenant slugs commonly have:

- 1 to 63 characters;
- lowercase ASCII letters, digits, ``_`` and ``-`` only (no look-alike letters from other scripts,
  no spaces, quotes, dots, slashes or control characters);
- starting with a letter or a digit.

In a dataset name a hyphen becomes an underscore (``acme-eu`` -> ``tenant_acme_eu``). Two ids that
would share a dataset name (``acme-eu`` and ``acme_eu``) cannot both be tenants: the second is
refused.
"""

from __future__ import annotations

import re

from bqmanage.errors import UsageError

MAX_LENGTH = 63
RULE = (
    f"a tenant id is 1 to {MAX_LENGTH} characters: lowercase ASCII letters, digits, '_' and '-', "
    "starting with a letter or a digit"
)
_ID = re.compile(r"[a-z0-9][a-z0-9_-]*")
# The same rule as one regular expression for SQL (RE2, on BigQuery and DuckDB alike: ``$`` is the
# end of the text, never before a final line break), where a statement reads ids from a registry.
SQL_PATTERN = f"^[a-z0-9][a-z0-9_-]{{0,{MAX_LENGTH - 1}}}$"


def tenant_id_problem(value: str) -> str | None:
    """Which part of the rule ``value`` breaks, or None when it is a valid tenant id."""
    if not value:
        return "the tenant id is empty"
    if len(value) > MAX_LENGTH:
        return f"the tenant id is {len(value)} characters long, more than {MAX_LENGTH}"
    bad = sorted({c for c in value if not (c.isascii() and (c.islower() or c.isdigit() or c in "_-"))})
    if bad:
        # Code points too, so that a look-alike from another script is visible as one.
        shown = ", ".join(repr(c) if c.isascii() and c.isprintable() else f"U+{ord(c):04X}" for c in bad)
        return f"the tenant id holds {shown}, which the rule does not allow"
    if not _ID.fullmatch(value):
        return "the tenant id must start with a lowercase letter or a digit"
    return None


def check_tenant_id(value: str) -> str:
    """``value`` when it is a valid tenant id; else a UsageError (exit 2) naming the broken rule."""
    problem = tenant_id_problem(value)
    if problem is not None:
        raise UsageError(f"invalid tenant id {value!r}: {problem}; {RULE}")
    return value


def dataset_part(tenant_id: str) -> str:
    """The id as it appears in a templated dataset name."""
    return tenant_id.replace("-", "_")
