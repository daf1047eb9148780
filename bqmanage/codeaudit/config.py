"""The ``audit_code:`` section of bqmanage.yaml: which files ``audit-code`` reads and what it lets pass.

Kept apart from settings.py so that the code audit owns its own options; settings only carries
the parsed section through.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_FILE_BYTES = 1 << 20  # 1 MiB: bigger files are generated or vendored, not code a person keeps


class AllowList(BaseModel):
    """Findings that are known and accepted; they are counted as suppressed, never hidden."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # gitignore-style patterns, matched like --exclude: files whose findings are all accepted.
    paths: list[str] = Field(default_factory=list)
    # Names as written, without backticks: a legacy name (customers.customer_usage_quotas), a
    # table (dataset.table) or a column (dataset.table.column, or just the column name).
    names: list[str] = Field(default_factory=list)


class AuditCodeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # gitignore-style patterns; include replaces the default file types when it is not empty.
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    allow: AllowList = Field(default_factory=AllowList)
    analyzer: Literal["sqlglot", "googlesql"] = "sqlglot"
    max_file_bytes: int = Field(default=MAX_FILE_BYTES, gt=0)
