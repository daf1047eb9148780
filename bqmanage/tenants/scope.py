"""What a command is asked to act on, as values: which tenants (``TenantScope``) and which limits
(``Limits``). Each is checked where it is made, before any warehouse is opened."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bqmanage.errors import UsageError

if TYPE_CHECKING:
    from bqmanage.engines import Engine
    from bqmanage.model.schema import Definitions


@dataclass(frozen=True)
class TenantScope:
    """The tenants whose templated datasets a plan, apply or check also covers.

    ``TenantScope()`` leaves dataset templates alone; ``TenantScope.of(["acme"])`` covers the
    tenants named (valid ids, each once; registered, templates.refuse_unregistered; they need not be
    active); ``TenantScope.all()`` covers every active tenant of the registry, read when the
    command runs.
    """

    ids: tuple[str, ...] | None = None
    every_active: bool = False

    @classmethod
    def of(cls, ids: Iterable[str] | str) -> TenantScope:
        """``ids``: tenant ids; one id alone may be given as a str (``TenantScope.of("acme")``
        is ``TenantScope.of(["acme"])``, never the ids 'a', 'c', 'e', 'm')."""
        from bqmanage.arguments import Many, check
        from bqmanage.tenants.templates import check_tenant_list

        ids = [ids] if isinstance(ids, str) else list(ids) if isinstance(ids, Iterable) and not isinstance(ids, bytes) else ids
        check("TenantScope.of", "ids", ids, Many(str))
        return cls(ids=tuple(check_tenant_list(ids)))

    @classmethod
    def all(cls) -> TenantScope:
        return cls(every_active=True)

    @classmethod
    def from_flags(cls, ids: list[str] | None, all_tenants: bool) -> TenantScope:
        """The scope of the --tenant and --all-tenants flags (exit 2 when both are given)."""
        if ids and all_tenants:
            raise UsageError("--tenant and --all-tenants: give one or the other")
        return cls.all() if all_tenants else cls.of(ids) if ids else cls()

    def refused_unfit(self, desired: Definitions) -> Definitions:
        """``desired``, unless a tenant named here makes a ``{tenant}`` member pattern of the
        templates an invalid member: then TenantMemberError (exit 2), before anything is read or
        written. With ``all()``, such a tenant fails on its own (``fleet.resolve``)."""
        if self.ids and desired.templates:
            from bqmanage.definitions.access import refuse_tenant_members

            refuse_tenant_members(desired, self.ids)
        return desired

    def refuse_unregistered(self, engine: Engine, desired: Definitions) -> None:
        """UsageError (exit 2) for a tenant named here that the registry does not list
        (``templates.refuse_unregistered``), before apply writes anything."""
        if self.ids:
            from bqmanage.tenants.templates import refuse_unregistered

            refuse_unregistered(engine, desired, list(self.ids))

    @property
    def engaged(self) -> bool:
        """Whether the command covers tenants at all."""
        return self.ids is not None or self.every_active

    @property
    def tenant_list(self) -> list[str] | None:
        return list(self.ids) if self.ids is not None else None


NO_TENANTS = TenantScope()  # the default scope: dataset templates left alone

# The largest limit a registry's INT64 column holds.
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class Limits:
    """A tenant's pipeline limits; None leaves one as the registry's default (or as it is)."""

    daily: int | None = None
    monthly: int | None = None
    concurrent: int | None = None

    def __post_init__(self) -> None:
        for column, value in self.columns().items():
            if value is not None and not (isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= INT64_MAX):
                # A bool is an int to Python; True is no limit of 1. The value is shown only when a number.
                shown = value if isinstance(value, int | float) and not isinstance(value, bool) else type(value).__name__
                raise UsageError(f"--{column.replace('_', '-')}: {shown} is not a limit (0 to {INT64_MAX})")

    def columns(self) -> dict[str, int | None]:
        """The registry columns the limits go to, each with its value or None."""
        return {"daily_limit": self.daily, "monthly_limit": self.monthly, "concurrent_limit": self.concurrent}

    def given(self) -> dict[str, int]:
        return {column: value for column, value in self.columns().items() if value is not None}


NO_LIMITS = Limits()  # every limit the registry's default (or as it is)
