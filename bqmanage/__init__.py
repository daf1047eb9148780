"""bqmanage: keep a multi-tenant BigQuery warehouse exactly as its YAML definitions say.

The public API is ``Project`` (settings and validated definitions; each method opens the warehouse
only once its arguments have passed), the values it takes (``TenantScope``, ``Limits``), the text
of what it returns (``tenant_text``, ``tenants_text``), and the errors it raises (``BqmanageError``
and its ``exit_code``). Importing ``bqmanage`` imports none of them: each arrives on first use, so
that ``bqmanage --help`` starts fast.
"""

from __future__ import annotations

# Not typing's: importing typing (10 ms) widens the window at start-up in which a Ctrl-C
# surfaces as a traceback, before the command line has installed its answer (cli/__init__.py);
# mypy reads any name TYPE_CHECKING as true.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any

    from bqmanage.errors import (
        EXIT_BAD_INPUT,
        EXIT_FINDINGS,
        EXIT_INTERRUPTED,
        EXIT_OK,
        EXIT_WAREHOUSE,
        BqmanageError,
        ConfigError,
        DefinitionError,
        UsageError,
        WarehouseError,
    )
    from bqmanage.project import Project
    from bqmanage.report.text import tenant_text, tenants_text
    from bqmanage.settings import Settings
    from bqmanage.tenants.scope import Limits, TenantScope

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS = {
    "Project": "bqmanage.project",
    "TenantScope": "bqmanage.tenants.scope",
    "Limits": "bqmanage.tenants.scope",
    "Settings": "bqmanage.settings",
    "tenant_text": "bqmanage.report.text",
    "tenants_text": "bqmanage.report.text",
    "BqmanageError": "bqmanage.errors",
    "ConfigError": "bqmanage.errors",
    "DefinitionError": "bqmanage.errors",
    "UsageError": "bqmanage.errors",
    "WarehouseError": "bqmanage.errors",
    "EXIT_OK": "bqmanage.errors",
    "EXIT_FINDINGS": "bqmanage.errors",
    "EXIT_BAD_INPUT": "bqmanage.errors",
    "EXIT_WAREHOUSE": "bqmanage.errors",
    "EXIT_INTERRUPTED": "bqmanage.errors",
}

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FINDINGS",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_WAREHOUSE",
    "BqmanageError",
    "ConfigError",
    "DefinitionError",
    "Limits",
    "Project",
    "Settings",
    "TenantScope",
    "UsageError",
    "WarehouseError",
    "__version__",
    "tenant_text",
    "tenants_text",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
