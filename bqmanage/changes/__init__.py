"""Change kinds: each difference between the definitions and the live warehouse, and everything
bqmanage does about it, stated once, on its class.

A kind says how diff detects it (``on_dataset``/``on_table``/``on_column``), whether BigQuery can
make it in place (``refusal``: a stable code, the reason and a manual path, cf. atlas DS103), its
step (``kind``, ``order``, ``render``: GoogleSQL or a ``tables.patch`` payload), what ``check``
reports (``drifts``) and how the local engine makes it (``run_local``). The stages are thin over
the kinds: diff walks the model and asks every kind, plan orders and groups their steps,
findings words their drifts, and the engines run their statements; none lists the kinds.

One name per operation in every layer: ``AddColumn`` is the step, ledger and ``plan`` output
kind ``"add_column"``. Findings keep the documented JSON vocabulary (deployment/findings.schema.json), which
classifies what differs rather than the fix: ``AddColumn`` and ``AddField`` are both a
``missing_column``, ``WidenType`` and the refused ``ChangeType`` both a ``type_mismatch``.

Adding a kind is one class in one of these modules (plus its tests): its abstract methods are
what mypy will ask for.
"""

from bqmanage.changes.access import SetDatasetAccess, UnmanagedGrants
from bqmanage.changes.base import (
    CHANGE_KINDS,
    Change,
    ColumnAt,
    ColumnChange,
    Drift,
    LocalTarget,
    Refusal,
    Refused,
    Rendered,
    TablePatch,
)
from bqmanage.changes.columns import AddColumn, ChangeMode, ChangeType, DropColumn, RelaxColumn, WidenType, is_widening
from bqmanage.changes.datasets import CreateDataset, LocationMismatch, SetDatasetOptions
from bqmanage.changes.fields import AddField
from bqmanage.changes.patch import (
    PATCH_COLUMNS,
    ColumnPatch,
    DropDefault,
    SetColumnDescription,
    SetDefault,
    SetFieldDescription,
    without_defaults,
)
from bqmanage.changes.row_access import RemoveRowAccess, SetPolicyTags, SetRowAccessPolicy
from bqmanage.changes.tables import Backfill, ChangePartitioning, CreateTable, SetClustering, SetTableOptions

__all__ = [
    "CHANGE_KINDS",
    "PATCH_COLUMNS",
    "AddColumn",
    "AddField",
    "Backfill",
    "Change",
    "ChangeMode",
    "ChangePartitioning",
    "ChangeType",
    "ColumnAt",
    "ColumnChange",
    "ColumnPatch",
    "CreateDataset",
    "CreateTable",
    "Drift",
    "DropColumn",
    "DropDefault",
    "LocalTarget",
    "LocationMismatch",
    "Refusal",
    "Refused",
    "RelaxColumn",
    "RemoveRowAccess",
    "Rendered",
    "SetClustering",
    "SetColumnDescription",
    "SetDatasetAccess",
    "SetDatasetOptions",
    "SetDefault",
    "SetFieldDescription",
    "SetPolicyTags",
    "SetRowAccessPolicy",
    "SetTableOptions",
    "TablePatch",
    "UnmanagedGrants",
    "WidenType",
    "is_widening",
    "without_defaults",
]
