"""Beyond the seed: nested STRUCT fields and clustering go through the API path, apply
paces itself under BigQuery's metadata rate limit, and what bqemulator cannot show is skipped."""

from __future__ import annotations

import re
from pathlib import Path

from bqmanage.apply import _Pacer
from bqmanage.engines.bigquery import BQEMULATOR
from bqmanage.model.rest import table_from_api
from bqmanage.plan import Step
from tests.helpers import engine_for, run_cli, target_args, write

EVENTS = """\
clustering: [id]
columns:
  - {name: id, type: STRING, mode: REQUIRED}
  - name: meta
    type: RECORD
    fields:
      - {name: source, type: STRING}
"""


def test_nested_field_and_clustering_are_applied_on_local(workdir: Path) -> None:
    write(Path("schemas/app/events.yaml"), EVENTS)
    assert run_cli("apply").exit_code == 0
    path = Path("schemas/app/events.yaml")
    path.write_text(
        EVENTS.replace("clustering: [id]", "clustering: [id, day]")
        + "      - {name: score, type: FLOAT64}\n  - {name: day, type: DATE}\n"
    )
    plan = run_cli("plan")
    assert "-- API tables.patch: add nested fields meta.score via tables.patch (DDL cannot)" in plan.stdout
    assert "set_clustering" in plan.stdout
    assert run_cli("apply").exit_code == 0, run_cli("plan").stdout
    resource = engine_for(None).get_table("app", "events")
    assert resource is not None
    table = table_from_api(resource)
    meta = table.column("meta")
    assert meta is not None and [f.name for f in meta.fields] == ["source", "score"]
    assert table.clustering == ("id", "day")
    assert run_cli("plan").exit_code == 0


def test_nested_field_goes_through_tables_patch_on_either_engine(project: str | None) -> None:
    """The bigquery engine edits the live schema resource and sends it with tables.patch (bqemulator
    keeps the new field in its catalog, which is what the engine reads for nested detail)."""
    write(Path("schemas/app/events.yaml"), EVENTS)
    assert run_cli(*target_args(project), "apply").exit_code == 0
    Path("schemas/app/events.yaml").write_text(EVENTS + "      - {name: score, type: FLOAT64}\n")
    assert run_cli(*target_args(project), "apply").exit_code == 0
    resource = engine_for(project).get_table("app", "events")
    meta = table_from_api(resource).column("meta") if resource else None
    assert meta is not None and [f.name for f in meta.fields] == ["source", "score"]
    assert run_cli(*target_args(project), "plan").exit_code == 0


def test_struct_fields_are_created_with_their_descriptions(project: str | None) -> None:
    """CREATE TABLE declares each STRUCT field with its OPTIONS (bqemulator accepts it, and drops
    descriptions, which it is declared not to show)."""
    write(
        Path("schemas/app/events.yaml"),
        EVENTS.replace("{name: source, type: STRING}", "{name: source, type: STRING, description: Where it came from.}"),
    )
    assert run_cli(*target_args(project), "apply").exit_code == 0
    resource = engine_for(project).get_table("app", "events")
    meta = table_from_api(resource).column("meta") if resource else None
    assert meta is not None and [f.name for f in meta.fields] == ["source"]
    if project is None:
        assert meta.fields[0].description == "Where it came from."


def test_apply_paces_metadata_updates_per_table() -> None:
    slept: list[float] = []
    pacer = _Pacer(5, sleep=slept.append)
    steps = [Step("set_default", "ds", "t", "x", sql="ALTER ...") for _ in range(7)]
    for step in steps:
        pacer.wait(step)
    assert len(slept) == 2 and all(0 < s <= 10.05 for s in slept)  # the 6th and 7th waited
    other = _Pacer(5, sleep=slept.append)
    for table in "abcdefg":
        other.wait(Step("set_default", "ds", table, "x", sql="ALTER ..."))
    assert len(slept) == 2  # different tables do not share the limit
    backfill = _Pacer(1, sleep=slept.append)
    for _ in range(3):
        backfill.wait(Step("backfill", "ds", "t", "x", sql="UPDATE ...", is_metadata=False))
    assert len(slept) == 2  # DML is not throttled


def test_what_bqemulator_cannot_show_is_the_documented_list() -> None:
    """The properties the bigquery engine ignores on bqemulator are exactly those docs/architecture.md lists."""
    readme = (Path(__file__).resolve().parents[2] / "docs" / "architecture.md").read_text()
    listed = readme.split("which the bigquery", 1)[1].split("(a test keeps", 1)[0]
    assert set(re.findall(r"`([a-z_]+)`", listed)) == set(BQEMULATOR.unobservable)
