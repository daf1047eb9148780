"""STRUCT field descriptions: compared by diff, changed through tables.patch on BigQuery and in the
local engine's side table, reported by check as description_mismatch (change kind
SetFieldDescription, the one change kind added after every kind stated itself in one place)."""

from __future__ import annotations

import json
from pathlib import Path

from bqmanage.changes.patch import SetFieldDescription
from bqmanage.diff import compare_table
from bqmanage.model.rest import table_from_api, table_to_api
from bqmanage.model.schema import Column, Table
from bqmanage.plan import build_plan
from tests.helpers import engine_for, run_cli, write

EVENTS = """\
columns:
  - {name: id, type: STRING}
  - name: meta
    type: RECORD
    fields:
      - {name: source, type: STRING, description: Where it came from.}
      - name: inner
        type: RECORD
        fields:
          - {name: a, type: INT64}
"""


def _events(*fields: Column) -> Table:
    return Table(
        dataset="app",
        name="events",
        columns=(Column(name="id", type="STRING"), Column(name="meta", type="STRUCT", fields=fields)),
    )


def test_one_tables_patch_sets_every_field_description_of_a_table() -> None:
    desired = _events(
        Column(name="source", type="STRING", description="new"),
        Column(name="inner", type="STRUCT", fields=(Column(name="a", type="INT64", description="deep"),)),
    )
    actual = _events(
        Column(name="source", type="STRING", description="old"),
        Column(name="inner", type="STRUCT", fields=(Column(name="a", type="INT64"),)),
    )
    (step,) = build_plan(compare_table(desired, actual)).steps
    assert step.kind == "patch_columns" and step.sql is None
    assert step.api == {"method": "tables.patch", "descriptions": {"meta.source": "new", "meta.inner.a": "deep"}}
    # What the bigquery engine sends: the live resource with each description changed in place.
    resource = table_to_api(actual)
    assert {c.patch(resource) for c in step.changes if isinstance(c, SetFieldDescription)} == {"schema"}
    assert table_from_api(resource) == desired


def test_a_description_is_removed_by_leaving_it_out_of_the_patched_schema() -> None:
    desired = _events(Column(name="source", type="STRING"))
    actual = _events(Column(name="source", type="STRING", description="old"))
    (change,) = compare_table(desired, actual)
    resource = table_to_api(actual)
    assert isinstance(change, SetFieldDescription) and change.patch(resource) == "schema"
    assert "description" not in resource["schema"]["fields"][1]["fields"][0]


def test_check_reports_apply_sets_and_check_is_clean_after(workdir: Path) -> None:
    write(Path("schemas/app/events.yaml"), EVENTS)
    assert run_cli("apply").exit_code == 0
    changed = EVENTS.replace("Where it came from.", "The upstream system.")
    Path("schemas/app/events.yaml").write_text(changed.replace("type: INT64}", "type: INT64, description: A.}"))
    report = json.loads(run_cli("check", "--format", "json").stdout)
    drift = sorted((f["kind"], f["column"], f["expected"], f["actual"]) for f in report["findings"] if f["table"] == "events")
    assert drift == [
        ("description_mismatch", "meta.inner.a", "A.", None),
        ("description_mismatch", "meta.source", "The upstream system.", "Where it came from."),
    ]
    plan = run_cli("plan")
    assert "patch_columns: set the description of nested fields meta.source, meta.inner.a in one tables.patch" in plan.stdout
    assert run_cli("apply").exit_code == 0
    assert run_cli("check").exit_code == 0
    resource = engine_for(None).get_table("app", "events")
    meta = table_from_api(resource).column("meta") if resource else None
    assert meta is not None and meta.fields[0].description == "The upstream system."
    assert meta.fields[1].fields[0].description == "A."
    # ... and removed again.
    Path("schemas/app/events.yaml").write_text(EVENTS.replace(", description: Where it came from.", ""))
    assert run_cli("apply").exit_code == 0
    assert run_cli("plan").exit_code == 0, run_cli("plan").stdout
