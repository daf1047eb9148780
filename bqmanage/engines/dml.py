"""What a DML statement changed, as every engine reports it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DmlStats:
    """What a DML statement changed: ``affected`` rows in all, and the split where the engine
    reports one (BigQuery's dmlStats; None where only the total is known)."""

    affected: int
    inserted: int | None = None
    updated: int | None = None
    deleted: int | None = None
