"""Table-driven diff and planner cases, (desired, actual) -> changes or refusals. Pure."""

from __future__ import annotations

from typing import Any

import pytest

from bqmanage import diff
from bqmanage.changes import CHANGE_KINDS, Backfill, Change, TablePatch
from bqmanage.diff import compare, compare_table
from bqmanage.model.access import AccessEntry
from bqmanage.model.rest import table_from_api, table_to_api
from bqmanage.model.row_access import RowAccess, RowAccessPolicy
from bqmanage.model.schema import Column, Dataset, Definitions, Partitioning, Table, Warehouse
from bqmanage.plan import build_plan, fallback_steps


def col(name: str, type_: str = "INT64", mode: str = "NULLABLE", **kw: Any) -> Column:
    return Column(name=name, type=type_, mode=mode, **kw)  # type: ignore[arg-type]


def struct(name: str, *fields: Column, mode: str = "NULLABLE") -> Column:
    return Column(name=name, type="STRUCT", mode=mode, fields=fields)  # type: ignore[arg-type]


def table(*columns: Column, **kw: Any) -> Table:
    return Table(dataset="ds", name="t", columns=columns, **kw)


BASE = (col("id", "STRING", "REQUIRED"), col("n"))
DAY = Partitioning(column="day")
# A table isolated by its own tenant_id and member columns (the analyzer's catalog then holds the
# mapping table the filter reads), and its live policies as the declaration makes them.
TENANTED = (col("tenant_id", "STRING", "REQUIRED"), col("member", "STRING"))
ACCESS = RowAccess(
    tenant_column="tenant_id", members="ds.t", member="{tenant}@example.com", writer="serviceAccount:w@example.com"
)
WRITER = RowAccessPolicy(name="bqmanage_writer", filter="TRUE", grantees=("serviceAccount:w@example.com",))
ISOLATION = RowAccessPolicy(
    name="bqmanage_tenant_isolation",
    filter="`tenant_id` IN (SELECT `tenant_id` FROM `ds`.`t` WHERE `member` = SESSION_USER())",
    grantees=("allAuthenticatedUsers",),
)
TAG = "projects/p/locations/eu/taxonomies/1/policyTags/2"

# (id, desired, actual, expected change kinds, expected refusal codes); actual None: not live
CASES: list[tuple[str, Table, Table | None, list[str], list[str]]] = [
    (
        "isolated table is up to date",
        table(*TENANTED, row_access=ACCESS),
        table(*TENANTED, row_access_policies=(WRITER, ISOLATION)),
        [],
        [],
    ),
    (
        "row access policies missing",
        table(*TENANTED, row_access=ACCESS),
        table(*TENANTED, row_access_policies=()),
        ["set_row_access_policy", "set_row_access_policy"],
        [],
    ),
    (
        "row access policy widened by hand",
        table(*TENANTED, row_access=ACCESS),
        table(*TENANTED, row_access_policies=(WRITER, ISOLATION.model_copy(update={"filter": "TRUE"}))),
        ["set_row_access_policy"],
        [],
    ),
    (
        "isolation lifted in the definition refused",
        table(*TENANTED),
        table(*TENANTED, row_access_policies=(WRITER, ISOLATION)),
        ["remove_row_access"],
        ["BQM121"],
    ),
    (
        "isolation without a writer refused",
        table(*TENANTED, row_access=ACCESS.model_copy(update={"writer": None})),
        table(*TENANTED, row_access_policies=(ISOLATION,)),
        ["set_row_access_policy"],
        ["BQM120"],
    ),
    ("policy tag removed by hand", table(*BASE[:1], col("n", policy_tags=(TAG,))), table(*BASE), ["set_policy_tags"], []),
    ("policy tags left to their owner", table(*BASE), table(*BASE[:1], col("n", policy_tags=(TAG,))), [], []),
    (
        "policy tags cleared as declared",
        table(*BASE[:1], col("n", policy_tags=())),
        table(*BASE[:1], col("n", policy_tags=(TAG,))),
        ["set_policy_tags"],
        [],
    ),
    ("missing table", table(*BASE, partitioning=None, clustering=("id",)), None, ["create_table"], []),
    ("identical", table(*BASE), table(*BASE), [], []),
    ("column order is not drift", table(col("n"), col("id", "STRING", "REQUIRED")), table(*BASE), [], []),
    ("names are case-insensitive", table(col("ID", "STRING", "REQUIRED"), col("N")), table(*BASE), [], []),
    ("add nullable column", table(*BASE, col("x")), table(*BASE), ["add_column"], []),
    ("add repeated column", table(*BASE, col("tags", "STRING", "REPEATED")), table(*BASE), ["add_column"], []),
    ("add column with default", table(*BASE, col("c", default="0")), table(*BASE), ["add_column"], []),
    ("add struct column", table(*BASE, struct("meta", col("a"))), table(*BASE), ["add_column"], []),
    ("add required column refused", table(*BASE, col("r", mode="REQUIRED")), table(*BASE), ["add_column"], ["BQM101"]),
    ("set default", table(col("id", "STRING", "REQUIRED"), col("n", default="3")), table(*BASE), ["set_default"], []),
    (
        "change default",
        table(col("id", "STRING", "REQUIRED"), col("n", default="3")),
        table(col("id", "STRING", "REQUIRED"), col("n", default="2")),
        ["set_default"],
        [],
    ),
    ("drop default", table(*BASE), table(col("id", "STRING", "REQUIRED"), col("n", default="2")), ["drop_default"], []),
    ("relax required to nullable", table(col("id", "STRING"), col("n")), table(*BASE), ["relax_column"], []),
    (
        "tighten nullable to required refused",
        table(col("id", "STRING", "REQUIRED"), col("n", mode="REQUIRED")),
        table(*BASE),
        ["change_mode"],
        ["BQM103"],
    ),
    (
        "repeated to nullable refused",
        table(col("id", "STRING", "REQUIRED"), col("n")),
        table(col("id", "STRING", "REQUIRED"), col("n", mode="REPEATED")),
        ["change_mode"],
        ["BQM103"],
    ),
    ("widen int64 to numeric", table(col("id", "STRING", "REQUIRED"), col("n", "NUMERIC")), table(*BASE), ["widen_type"], []),
    ("widen int64 to float64", table(col("id", "STRING", "REQUIRED"), col("n", "FLOAT64")), table(*BASE), ["widen_type"], []),
    (
        "widen numeric to bignumeric",
        table(col("id", "STRING", "REQUIRED"), col("n", "BIGNUMERIC")),
        table(col("id", "STRING", "REQUIRED"), col("n", "NUMERIC")),
        ["widen_type"],
        [],
    ),
    (
        "widen numeric(10,2) to numeric(12,4)",
        table(col("id", "STRING", "REQUIRED"), col("n", "NUMERIC", precision=12, scale=4)),
        table(col("id", "STRING", "REQUIRED"), col("n", "NUMERIC", precision=10, scale=2)),
        ["widen_type"],
        [],
    ),
    (
        "widen string(5) to string(7)",
        table(col("id", "STRING", "REQUIRED", max_length=7), col("n")),
        table(col("id", "STRING", "REQUIRED", max_length=5), col("n")),
        ["widen_type"],
        [],
    ),
    (
        "narrow numeric to int64 refused",
        table(*BASE),
        table(col("id", "STRING", "REQUIRED"), col("n", "NUMERIC")),
        ["change_type"],
        ["BQM102"],
    ),
    (
        "narrow numeric scale refused",
        table(col("id", "STRING", "REQUIRED"), col("n", "NUMERIC", precision=10, scale=1)),
        table(col("id", "STRING", "REQUIRED"), col("n", "NUMERIC", precision=10, scale=2)),
        ["change_type"],
        ["BQM102"],
    ),
    ("string to int64 refused", table(col("id", "INT64", "REQUIRED"), col("n")), table(*BASE), ["change_type"], ["BQM102"]),
    (
        "string(10) to string(5) refused",
        table(col("id", "STRING", "REQUIRED", max_length=5), col("n")),
        table(col("id", "STRING", "REQUIRED", max_length=10), col("n")),
        ["change_type"],
        ["BQM102"],
    ),
    ("drop column refused", table(col("id", "STRING", "REQUIRED")), table(*BASE), ["drop_column"], ["BQM105"]),
    (
        "rename is a drop plus an add: refused",
        table(col("id", "STRING", "REQUIRED"), col("count")),
        table(*BASE),
        ["add_column", "drop_column"],
        ["BQM105"],
    ),
    (
        "add partitioning refused",
        table(*BASE, col("day", "DATE"), partitioning=DAY),
        table(*BASE, col("day", "DATE")),
        ["change_partitioning"],
        ["BQM104"],
    ),
    (
        "change partition granularity refused",
        table(*BASE, col("day", "DATE"), partitioning=Partitioning(column="day", granularity="MONTH")),
        table(*BASE, col("day", "DATE"), partitioning=DAY),
        ["change_partitioning"],
        ["BQM104"],
    ),
    (
        "remove partitioning refused",
        table(*BASE, col("day", "DATE")),
        table(*BASE, col("day", "DATE"), partitioning=DAY),
        ["change_partitioning"],
        ["BQM104"],
    ),
    ("set clustering via API", table(*BASE, clustering=("id",)), table(*BASE), ["set_clustering"], []),
    ("remove clustering via API", table(*BASE), table(*BASE, clustering=("id",)), ["set_clustering"], []),
    ("table description", table(*BASE, description="x"), table(*BASE), ["set_table_options"], []),
    ("labels", table(*BASE, labels={"team": "a"}), table(*BASE, labels={"team": "b"}), ["set_table_options"], []),
    (
        "require partition filter",
        table(*BASE, col("day", "DATE"), partitioning=DAY, require_partition_filter=True),
        table(*BASE, col("day", "DATE"), partitioning=DAY),
        ["set_table_options"],
        [],
    ),
    (
        "partition expiration",
        table(*BASE, col("day", "DATE"), partitioning=DAY, partition_expiration_days=30.0),
        table(*BASE, col("day", "DATE"), partitioning=DAY),
        ["set_table_options"],
        [],
    ),
    (
        "column description",
        table(col("id", "STRING", "REQUIRED", description="the id"), col("n")),
        table(*BASE),
        ["set_column_description"],
        [],
    ),
    (
        "nested struct field added",
        table(*BASE, struct("meta", col("a"), col("b", "STRING"))),
        table(*BASE, struct("meta", col("a"))),
        ["add_field"],
        [],
    ),
    (
        "deeply nested field added",
        table(*BASE, struct("m", struct("inner", col("a"), col("z")))),
        table(*BASE, struct("m", struct("inner", col("a")))),
        ["add_field"],
        [],
    ),
    (
        "nested required field refused",
        table(*BASE, struct("meta", col("a"), col("b", mode="REQUIRED"))),
        table(*BASE, struct("meta", col("a"))),
        ["add_field"],
        ["BQM101"],
    ),
    (
        "nested field dropped refused",
        table(*BASE, struct("meta", col("a"))),
        table(*BASE, struct("meta", col("a"), col("b"))),
        ["drop_column"],
        ["BQM105"],
    ),
    (
        "nested field type change refused",
        table(*BASE, struct("meta", col("a", "STRING"))),
        table(*BASE, struct("meta", col("a"))),
        ["change_type"],
        ["BQM102"],
    ),
    (
        "nested field description",
        table(*BASE, struct("m", struct("inner", col("a", description="the a")), col("b"))),
        table(*BASE, struct("m", struct("inner", col("a")), col("b", description="old"))),
        ["set_field_description"] * 2,
        [],
    ),
]


@pytest.mark.parametrize("case_id,desired,actual,kinds,codes", CASES, ids=[c[0] for c in CASES])
def test_planner_case(case_id: str, desired: Table, actual: Table | None, kinds: list[str], codes: list[str]) -> None:
    changes = compare_table(desired, actual)
    assert sorted(c.kind for c in changes) == sorted(kinds)
    plan = build_plan(changes)
    refused = [c.refusal() for c in plan.refused]
    assert sorted(r.code for r in refused if r) == sorted(codes)
    for refusal in refused:
        assert refusal and refusal.reason and refusal.suggestion
    if codes:
        assert plan.has_refused
    else:
        # One step per change, except that a new column's default is set, then backfilled.
        assert [s.kind for s in plan.steps] == STEPS.get(case_id, kinds)


# Cases whose steps are not simply their changes: defaults and descriptions are one tables.patch
# per table (patch_columns), and a new column's default is set, then backfilled.
STEPS = {
    "add column with default": ["add_column", "patch_columns", "backfill"],
    "nested field description": ["patch_columns"],
    "set default": ["patch_columns"],
    "change default": ["patch_columns"],
    "drop default": ["patch_columns"],
    "column description": ["patch_columns"],
    "policy tag removed by hand": ["patch_columns"],
    "policy tags cleared as declared": ["patch_columns"],
}


# (id, desired, actual, expected change kinds): the dataset-level cases, through compare().
READERS = AccessEntry(role="READER", member="group:readers@example.com")
EVE = AccessEntry(role="WRITER", member="user:eve@example.com")
DATASET_CASES: list[tuple[str, Dataset, Dataset | None, list[str]]] = [
    ("missing dataset", Dataset(name="ds", description="d", location="EU", labels={"a": "b"}), None, ["create_dataset"]),
    (
        "dataset options",
        Dataset(name="ds", description="new"),
        Dataset(name="ds", description="old", labels={"a": "b"}),
        ["set_dataset_options"],
    ),
    ("identical dataset", Dataset(name="ds", labels={"a": "b"}), Dataset(name="ds", labels={"a": "b"}), []),
    ("same location, other spelling", Dataset(name="ds", location="eu"), Dataset(name="ds", location="EU"), []),
    # Refused (BigQuery fixes a dataset's location at creation): no step, a refusal.
    ("location differs refused", Dataset(name="ds", location="EU"), Dataset(name="ds", location="US"), ["location_mismatch"]),
    # Access: declared entries granted; undeclared ones reported (never a step) unless exclusive.
    (
        "access granted, the other entry reported",
        Dataset(name="ds", access=(READERS,)),
        Dataset(name="ds", access=(EVE,)),
        ["set_dataset_access", "unmanaged_grants"],
    ),
    ("access granted with the dataset", Dataset(name="ds", access=(READERS,)), None, ["create_dataset", "set_dataset_access"]),
    ("undeclared access reported", Dataset(name="ds", access=()), Dataset(name="ds", access=(EVE,)), ["unmanaged_grants"]),
    (
        "exclusive access revokes",
        Dataset(name="ds", access=(READERS,), access_exclusive=True),
        Dataset(name="ds", access=(READERS, EVE)),
        ["set_dataset_access"],
    ),
    ("access not read is not compared", Dataset(name="ds", access=(READERS,)), Dataset(name="ds"), []),
    ("access not declared", Dataset(name="ds"), Dataset(name="ds", access=(EVE,)), []),
]


def compare_datasets(desired: Dataset, actual: Dataset | None) -> list[Change]:
    return compare(Definitions(datasets=(desired,), tables=(), digest=""), Warehouse(datasets={"ds": actual} if actual else {}))


@pytest.mark.parametrize("case_id,desired,actual,kinds", DATASET_CASES, ids=[c[0] for c in DATASET_CASES])
def test_dataset_case(case_id: str, desired: Dataset, actual: Dataset | None, kinds: list[str]) -> None:
    changes = compare_datasets(desired, actual)
    plan = build_plan(changes)
    reported = [c.kind for c in changes if c.report_only]  # check's findings, never a step
    assert [s.kind for s in plan.steps] + [c.kind for c in plan.refused] + reported == kinds
    assert plan.has_refused == case_id.endswith("refused")
    assert [c.refusal().code for c in plan.refused] == (["BQM106"] if plan.has_refused else [])  # type: ignore[union-attr]


def test_every_kind_diff_can_detect_has_a_case() -> None:
    """A new change kind needs a planner case (and so a GoogleSQL analysis of its statements)."""
    detected = {k.kind for k in CHANGE_KINDS if k is not Backfill}
    assert detected - {kind for case in [*CASES, *DATASET_CASES] for kind in case[3]} == set()


def test_a_kind_defined_after_a_comparison_is_asked_by_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    """diff asks only the kinds that detect something, looked up again when one is defined."""
    assert compare_table(table(*BASE), table(*BASE)) == []  # the detectors are looked up

    class Probe(Change):  # not registered: the list diff reads is replaced for this test alone
        @classmethod
        def on_column(cls, desired: Column | None, actual: Column | None, at: Any) -> Any:
            yield desired.name if desired else None

    monkeypatch.setattr(diff, "CHANGE_KINDS", [*CHANGE_KINDS, Probe])
    assert compare_table(table(*BASE), table(*BASE)) == ["id", "n"]  # type: ignore[comparison-overlap]


def test_tables_that_share_their_columns_are_compared_once_and_drift_is_still_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """Copies share their column objects: a pair of column lists in agreement is compared once,
    whatever the table; another live list (drift), or other unobservable properties, is compared."""
    asked: list[str] = []
    real = diff._compare_columns

    def counted(desired: Any, actual: Any, parent: Any) -> Any:
        if not parent.path:  # a table's columns, not a STRUCT's fields
            asked.append(f"{parent.dataset}.{parent.table}")
        return real(desired, actual, parent)

    monkeypatch.setattr(diff, "_compare_columns", counted)
    defined = (col("id", "STRING", "REQUIRED"), col("n", default="0"), struct("meta", col("a")))
    live = (col("id", "STRING", "REQUIRED"), col("n", default="0"), struct("meta", col("a")))
    drifted = (col("id", "STRING"), col("n", default="0"), struct("meta", col("a"), col("b")))
    copies = [Table(dataset=f"tenant_{i}", name="t", columns=defined) for i in range(3)]
    assert [compare_table(t, t.model_copy(update={"columns": live})) for t in copies] == [[], [], []]
    assert asked == ["tenant_0.t"]
    changes = compare_table(copies[2], copies[2].model_copy(update={"columns": drifted}))
    assert sorted((c.kind, c.dataset) for c in changes) == [("change_mode", "tenant_2"), ("drop_column", "tenant_2")]
    hidden = frozenset({"description"})
    assert compare_table(copies[1], copies[1].model_copy(update={"columns": live}), hidden) == []
    assert asked == ["tenant_0.t", "tenant_2.t", "tenant_1.t"]


def test_nested_additions_are_an_api_patch_not_ddl() -> None:
    changes = compare_table(table(*BASE, struct("meta", col("a"), col("b"))), table(*BASE, struct("meta", col("a"))))
    (step,) = build_plan(changes).steps
    assert step.sql is None and step.api == {"method": "tables.patch", "fields": ["meta.b"]}


def test_clustering_is_an_api_call() -> None:
    (step,) = build_plan(compare_table(table(*BASE, clustering=("id", "n")), table(*BASE))).steps
    assert step.sql is None and step.api == {"method": "tables.patch", "clustering": ["id", "n"]}


def test_one_alter_per_table_whatever_the_engine() -> None:
    """The plan is BigQuery's on every target: one multi-action ALTER per table."""
    (step,) = build_plan(compare_table(table(*BASE, col("a"), col("b"), col("c")), table(*BASE))).steps
    assert step.kind == "add_column" and len(step.changes) == 3 and (step.sql or "").count("ADD COLUMN IF NOT EXISTS") == 3


def test_unobservable_properties_are_not_compared() -> None:
    desired = table(
        col("id", "STRING", "REQUIRED", description="x"),
        col("n", default="1"),
        struct("m", col("a", description="y")),
        clustering=("id",),
    )
    actual = table(*BASE, struct("m", col("a")))
    assert compare_table(desired, actual, frozenset({"default", "description", "clustering"})) == []


def test_defaults_and_descriptions_of_a_table_are_one_patch_with_a_ddl_fallback() -> None:
    """Every default and description of a table: one tables.patch (one metadata update); each
    default also rendered as the DDL apply falls back to if BigQuery rejects it through the API."""
    desired = table(
        col("id", "STRING", "REQUIRED", description="the id"),
        col("n", default="3"),
        col("m"),
        struct("meta", col("a", description="deep")),
    )
    actual = table(col("id", "STRING", "REQUIRED"), col("n"), col("m", default="1"), struct("meta", col("a")))
    (step,) = build_plan(compare_table(desired, actual)).steps
    assert step.kind == "patch_columns" and step.sql is None and step.is_metadata
    assert step.api == {
        "method": "tables.patch",
        "defaults": {"n": "3", "m": None},
        "descriptions": {"id": "the id", "meta.a": "deep"},
    }
    assert step.fallback == (
        "ALTER TABLE `ds`.`t` ALTER COLUMN `n` SET DEFAULT 3",
        "ALTER TABLE `ds`.`t` ALTER COLUMN `m` DROP DEFAULT",
    )
    # What the bigquery engine sends: the live resource with each field changed in place.
    resource = table_to_api(actual)
    assert {c.patch(resource) for c in step.changes if isinstance(c, TablePatch)} == {"schema"}
    assert table_from_api(resource) == desired
    # The fallback: the patch without the defaults, then one ALTER per default.
    fallback = fallback_steps(step)
    assert [s.kind for s in fallback] == ["patch_columns", "set_default", "drop_default"]
    assert fallback[0].api == {"method": "tables.patch", "descriptions": {"id": "the id", "meta.a": "deep"}}
    assert [s.sql for s in fallback[1:]] == list(step.fallback)
